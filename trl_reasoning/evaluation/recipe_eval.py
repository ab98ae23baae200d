"""A recipe's ``eval`` section, planned once and used by training and by ``trl-reason eval --recipe`` alike.

::

    eval:
      every_steps: 20                      # during training; also before: / after:
      max_new_tokens: 3072                 # section defaults: every benchmark unless it says otherwise
      template: qwen25-math-cot
      benchmarks:
        - math500                          # the registry protocol (greedy, n = 1)
        - {name: aime24, n: 8, temperature: 0.6, k: [1, 8]}
        - tests/my_problems.jsonl          # any file with problem and answer columns
      options: {inra_c: 0.5}               # plugins' eval options, as `trl-reason eval --inra-c 0.5`

``plan_eval(recipe, pm)`` checks the section without loading a model or any rows (``prepare`` calls it): unknown
benchmarks, k above n, impossible values and keys that would change nothing are ``ConfigError``\\ s with the key
path. ``RecipeEvaluation`` loads the rows and evaluates a model through ``runner.evaluate``: the live model during
training (``every_steps``, ``before``, ``after``), a checkpoint from ``trl-reason eval --recipe``; the same runs,
the same prompts, the same seeds, so both give the same numbers for the same weights.

Each setting comes from the benchmark's own entry, else the section, else the benchmark's registry protocol. An
empty ``benchmarks`` list evaluates the data's held-out split (``data.test``, or embedded data's ``test`` split)
under the name ``heldout``: greedy, 64 new tokens, the first 50 rows, the recipe's own prompt (``template: data``).
Its numbers are logged as ``heldout/<metric>`` with the in-training names (``accuracy`` is a boxed answer graded
right, ``lenient_accuracy``, ``boxed_rate``, ``mean_length``); a named benchmark's as ``heldout/<name>/<metric>``
with the runner's names (``accuracy``, ``pass@k``, ``maj@k``, ``avg@n``, ...), and ``heldout/average/<metric>``
over two or more benchmarks.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trl_reasoning.config.schema import ConfigError, unknown_key_error
from trl_reasoning.data.errors import DataError
from trl_reasoning.data.prompts import TEMPLATES, PromptFormat
from trl_reasoning.data.training import load_test_rows

from trl_reasoning.evaluation.benchmarks import (BenchmarkDataNotFound, BenchmarkError, LoadedBenchmark, Protocol,
                                                 _looks_like_path, _normalize_rows, load_benchmark, resolve,
                                                 split_name)
from trl_reasoning.evaluation.metrics import check_k_list
from trl_reasoning.evaluation.runner import evaluate, plan_run

HELDOUT = "heldout"  # the name of the data's held-out split among the benchmarks
HELDOUT_PROTOCOL = Protocol(n=1, temperature=0.0, top_p=1.0, k_list=(1,), max_new_tokens=64, template="data",
                            source="the data's held-out split: greedy, n=1, 64 tokens, the recipe's own prompt")
HELDOUT_LIMIT = 50
DATA_TEMPLATE = "data"  # template value meaning: the recipe's data prompt
OVERRIDE_KEYS = ("n", "k", "temperature", "top_p", "max_new_tokens", "template", "system_prompt", "user_template",
                 "few_shot", "limit")
# The held-out split's numbers under the names the in-training evaluator has always logged.
HELDOUT_METRICS = {"accuracy": "boxed_accuracy", "lenient_accuracy": "lenient_accuracy", "boxed_rate": "answer_rate",
                   "mean_length": "mean_response_tokens", "num_problems": "num_problems"}
# Runner metrics logged per benchmark (pass@k, maj@k and avg@n are added as they come).
BENCHMARK_METRICS = ("accuracy", "boxed_accuracy", "lenient_accuracy", "mean_response_tokens", "truncated_rate",
                     "answer_rate", "num_problems")


@dataclass
class PlannedBenchmark:
    """One benchmark of a recipe's evaluation, its settings settled (rows not loaded yet)."""

    label: str  # its name in metrics and results: the registry name, a file's stem, or "heldout"
    name: str  # what to load: the registry name or file path ("heldout" for the data's split)
    path: str  # its key path in the recipe, for errors
    protocol: Protocol
    settings: dict[str, Any]  # n, k_list, temperature, top_p, max_new_tokens, template, system_prompt, ...
    limit: int | None = None
    spec: Any = None  # its recipe entry (a BenchmarkSpec); None for the held-out split

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, **{k: v for k, v in self.settings.items() if k != "few_shot"},
                "few_shot": len(self.settings.get("few_shot") or ()), "limit": self.limit,
                "protocol_source": self.protocol.source}


@dataclass
class EvalPlan:
    benchmarks: list[PlannedBenchmark] = field(default_factory=list)
    options: argparse.Namespace = field(default_factory=argparse.Namespace)  # what inference_model receives
    option_owners: dict[str, list[str]] = field(default_factory=dict)  # plugin -> its option names set here
    seed: int = 0
    batch_size: int = 16
    data_dir: str | None = None

    def describe(self) -> dict[str, Any]:
        return {"benchmarks": {b.label: b.describe() for b in self.benchmarks},
                "options": {k: v for k, v in vars(self.options).items() if k != "plugin_option_owners"},
                "seed": self.seed, "batch_size": self.batch_size}


# --- planning (no rows, no model) --------------------------------------------------------------------------------


def has_heldout_split(data) -> bool:
    """Whether the data section has a held-out split: ``data.test``, or embedded data (its ``test`` split)."""
    if data.test:
        return True
    return str(data.train).startswith("embedded:") and (data.options or {}).get("n_test", 1) != 0


def plan_eval(recipe, pm=None) -> EvalPlan:
    """Check ``recipe.eval`` and settle every benchmark's settings; loads nothing heavy. ``pm`` (the run's plugin
    manager, the recipe's plugins active) is needed to check ``eval.options``."""
    section = recipe.eval
    if section.every_steps < 0:
        raise ConfigError("eval.every_steps", f"must be >= 0 (0: never), got {section.every_steps}")
    if section.batch_size < 1:
        raise ConfigError("eval.batch_size", f"must be at least 1, got {section.batch_size}")
    entries: list[tuple[str, str, Any]] = []  # (name, path, spec or None for the held-out split)
    heldout_exists = has_heldout_split(recipe.data)
    wants_heldout = section.heldout if section.heldout is not None else not section.benchmarks
    if section.heldout and not heldout_exists:
        raise ConfigError("eval.heldout", "the data has no held-out split: set data.test (a file or dataset)")
    if wants_heldout and heldout_exists:
        entries.append((HELDOUT, "data.test", None))
    for index, spec in enumerate(section.benchmarks):
        entries.append((spec.name, f"eval.benchmarks[{index}]", spec))
    plan = EvalPlan(seed=section.seed, batch_size=section.batch_size,
                    data_dir=section.data_dir or recipe.data.data_dir)
    if not entries:
        _refuse_dead_section(section)
        plan.options, plan.option_owners = plugin_eval_options(recipe, pm)
        return plan
    labels: dict[str, str] = {}
    for name, path, spec in entries:
        planned = _plan_benchmark(recipe, name, path, spec)
        if planned.label in labels or planned.label == "average":
            where = labels.get(planned.label, "the benchmark average")
            raise ConfigError(path, f"a second benchmark named {planned.label!r} (also {where}); each name once")
        labels[planned.label] = path
        plan.benchmarks.append(planned)
    _refuse_unused_section_keys(section, plan)
    plan.options, plan.option_owners = plugin_eval_options(recipe, pm)
    return plan


def _refuse_dead_section(section) -> None:
    """Nothing to evaluate: every key that asks for an evaluation or shapes one would do nothing."""
    why = ("nothing to evaluate: eval.benchmarks is empty and the data has no held-out split; add eval.benchmarks "
           "(e.g. [math500]) or data.test")
    for key in ("every_steps", "before", "after"):
        if getattr(section, key):
            raise ConfigError(f"eval.{key}", why)
    defaults = type(section)()
    for key in (*OVERRIDE_KEYS, "seed", "batch_size", "data_dir", "options"):
        if getattr(section, key) != getattr(defaults, key):
            raise ConfigError(f"eval.{key}", why)


def _refuse_unused_section_keys(section, plan: EvalPlan) -> None:
    for key in OVERRIDE_KEYS:
        if getattr(section, key) is not None and all(
                b.spec is not None and getattr(b.spec, key) is not None for b in plan.benchmarks):
            raise ConfigError(f"eval.{key}", f"every benchmark sets its own {key}, so this one applies to none; "
                                             "remove it")
    sampled = [b for b in plan.benchmarks if b.settings["temperature"] > 0]
    if section.top_p is not None and not sampled:
        raise ConfigError("eval.top_p", "every benchmark here decodes greedily, where top_p changes nothing; "
                                        "remove it or set a temperature")
    if section.data_dir is not None and all(b.name == HELDOUT or _is_file(b.name) for b in plan.benchmarks):
        raise ConfigError("eval.data_dir", "no registry benchmark here reads a data directory; remove it")


def _is_file(name: str) -> bool:
    return _looks_like_path(split_name(name)[0])


def _pick(spec, section, key: str, path: str):
    """``(value, where)``: the benchmark's own value, else the section's, else ``(None, None)``."""
    if spec is not None and getattr(spec, key) is not None:
        return getattr(spec, key), f"{path}.{key}"
    if getattr(section, key) is not None:
        return getattr(section, key), f"eval.{key}"
    return None, None


def _plan_benchmark(recipe, name: str, path: str, spec) -> PlannedBenchmark:
    section, data = recipe.eval, recipe.data
    if spec is None:
        protocol, label = HELDOUT_PROTOCOL, HELDOUT
    else:
        if name == HELDOUT:
            raise ConfigError(f"{path}.name", f"{HELDOUT!r} names the data's held-out split; set eval.heldout: true")
        overridden = any(getattr(spec, key) is not None for key in OVERRIDE_KEYS)
        name_path = f"{path}.name" if overridden else path
        try:
            benchmark = resolve(name)
        except (BenchmarkError, BenchmarkDataNotFound) as error:
            raise ConfigError(name_path, str(error)) from None
        protocol = benchmark.protocol
        label = Path(split_name(name)[0]).stem if _is_file(name) else name
    picked = {key: _pick(spec, section, key, path) for key in OVERRIDE_KEYS}
    value = {key: v for key, (v, _) in picked.items()}
    where = {key: w for key, (_, w) in picked.items()}
    n = value["n"] if value["n"] is not None else protocol.n
    temperature = value["temperature"] if value["temperature"] is not None else protocol.temperature
    top_p = value["top_p"] if value["top_p"] is not None else protocol.top_p
    max_new_tokens = value["max_new_tokens"] if value["max_new_tokens"] is not None else protocol.max_new_tokens
    if n < 1:
        raise ConfigError(where["n"], f"samples per problem must be at least 1, got {n}")
    if temperature < 0:
        raise ConfigError(where["temperature"], f"must be >= 0 (0 is greedy), got {temperature}")
    if not 0 < top_p <= 1:
        raise ConfigError(where["top_p"], f"must lie in (0, 1], got {top_p}")
    if max_new_tokens < 1:
        raise ConfigError(where["max_new_tokens"], f"must be at least 1, got {max_new_tokens}")
    if temperature == 0 and n > 1:
        raise ConfigError(where["n"] or where["temperature"] or path,
                          f"{label}: greedy decoding with n={n} gives {n} identical samples (pass@k = pass@1); "
                          "set a temperature (e.g. 0.6) or n: 1")
    if temperature == 0 and where["top_p"] is not None and where["top_p"].startswith(path) and top_p != 1.0:
        raise ConfigError(where["top_p"], f"{label} decodes greedily, where top_p changes nothing; remove it")
    if value["k"] is None:
        k_list = sorted({k for k in protocol.k_list if k <= n} | {1, n})
    else:
        try:
            k_list = check_k_list(list(value["k"]), n)
        except ValueError as error:
            raise ConfigError(where["k"], f"{label}: {error} (n is {n}{_origin(where['n'])})") from None
    limit = value["limit"] if value["limit"] is not None else (HELDOUT_LIMIT if spec is None else None)
    if limit is not None and limit < 1:
        raise ConfigError(where["limit"], f"must be at least 1, got {limit}")
    settings = {"n": n, "k_list": k_list, "temperature": temperature, "top_p": top_p,
                "max_new_tokens": max_new_tokens, **_prompt(value, where, protocol, data, label)}
    return PlannedBenchmark(label, name, path, protocol, settings, limit, spec)


def _origin(where: str | None) -> str:
    return f", from {where}" if where else ", from the benchmark's protocol"


def _prompt(value: dict, where: dict, protocol: Protocol, data, label: str) -> dict[str, Any]:
    """The template, system prompt, user template and examples; ``template: data`` takes the recipe's prompt."""
    template = value["template"] if value["template"] is not None else protocol.template
    if isinstance(template, dict):
        unknown = set(template) - {"system", "user"}
        if unknown or "{problem}" not in str(template.get("user", "")):
            raise ConfigError(where["template"], "a template mapping takes `system` and a `user` string containing "
                                                 f"{{problem}}, got {template!r}")
    elif template != DATA_TEMPLATE and template not in TEMPLATES:
        raise ConfigError(where["template"] or "eval.template",
                          f"unknown template {template!r}; use one of {', '.join((DATA_TEMPLATE, *TEMPLATES))}")
    if template == DATA_TEMPLATE:
        fmt = PromptFormat.from_section(data)
        fmt = _prompt_format(where, lambda: fmt.replace(
            system_prompt=value["system_prompt"] if value["system_prompt"] is not None else fmt.system_prompt,
            user_template=value["user_template"] or fmt.user_template,
            few_shot=tuple(value["few_shot"] if value["few_shot"] is not None else fmt.few_shot)))
    else:
        for key, example in enumerate(value["few_shot"] or []):
            if not isinstance(example, dict) or not {"problem", "solution"} <= set(example):
                raise ConfigError(f"{where['few_shot']}[{key}]", "each example needs `problem` and `solution`")
        if value["user_template"] is not None and "{problem}" not in value["user_template"]:
            raise ConfigError(where["user_template"], "must contain {problem}")
        fmt = _prompt_format(where, lambda: PromptFormat(
            "custom" if isinstance(template, dict) else template, value["system_prompt"],
            value["user_template"] or "{problem}", tuple(value["few_shot"] or ())))
        if isinstance(template, dict):  # the run identity keeps the mapping as written
            return {"template": template, "system_prompt": fmt.system_prompt, "user_template": fmt.user_template,
                    "few_shot": list(fmt.few_shot)}
    return {"template": fmt.template, "system_prompt": fmt.system_prompt, "user_template": fmt.user_template,
            "few_shot": list(fmt.few_shot)}


def _prompt_format(where: dict, build) -> PromptFormat:
    """``build()``, a ``DataError`` (few_shot with a literal format) turned into a ``ConfigError`` at its key."""
    try:
        return build()
    except DataError as error:
        raise ConfigError(where["few_shot"] or where["template"] or "eval.template", str(error)) from None


# --- plugins' eval options ---------------------------------------------------------------------------------------


def plugin_option_parser(pm) -> tuple[argparse.ArgumentParser, dict[str, list[str]]]:
    """A parser holding only the installed plugins' ``register_eval_options`` options, and their owners."""
    parser = argparse.ArgumentParser(add_help=False)
    owners = pm.register_eval_options(parser) if pm is not None else {}
    return parser, owners


def plugin_eval_options(recipe, pm) -> tuple[argparse.Namespace, dict[str, list[str]]]:
    """``eval.options`` as the ``argparse.Namespace`` that ``trl-reason eval`` gives ``inference_model``: every
    plugin option at its default, those the recipe sets converted by the option's own type."""
    options = dict(recipe.eval.options or {})
    if pm is None:
        if options:
            raise ConfigError("eval.options", "plugin eval options need the plugin manager (call prepare)")
        return argparse.Namespace(), {}
    parser, owners = plugin_option_parser(pm)
    namespace = parser.parse_args([])
    actions = {action.dest: action for action in parser._actions}
    owner_of = {dest: plugin for plugin, dests in owners.items() for dest in dests}
    used: dict[str, list[str]] = {}
    for key, raw in options.items():
        path = f"eval.options.{key}"
        if key not in owner_of:
            known = sorted(owner_of)
            error = unknown_key_error("eval.options", str(key), known)
            raise ConfigError(path, f"not an eval option of any installed plugin ({error.message}); the keys are "
                                    "the dest names of `trl-reason eval`'s plugin options, e.g. inra_c for --inra-c")
        plugin = owner_of[key]
        if plugin not in recipe.plugins:
            raise ConfigError(path, f"is an option of plugin {plugin!r}, which this recipe does not activate; add "
                                    f"`plugins: {{{plugin}: {{}}}}` or remove the option")
        setattr(namespace, key, _convert_option(actions[key], raw, path))
        used.setdefault(plugin, []).append(key)
    namespace.plugin_option_owners = owners
    return namespace, used


def _convert_option(action: argparse.Action, raw: Any, path: str) -> Any:
    if raw is None:
        return None
    if action.nargs == 0:  # store_true / store_false flags
        if not isinstance(raw, bool):
            raise ConfigError(path, f"is a flag: true or false, got {raw!r}")
        return action.const if raw else action.default
    value = raw
    if callable(action.type):
        try:
            value = action.type(raw if not isinstance(raw, bool) else str(raw))
        except (TypeError, ValueError, argparse.ArgumentTypeError) as error:
            raise ConfigError(path, f"cannot read {raw!r}: {error}") from None
    if action.choices is not None and value not in action.choices:
        raise ConfigError(path, f"expected one of {', '.join(map(repr, action.choices))}, got {value!r}")
    return value


# --- rows and runs -----------------------------------------------------------------------------------------------


def heldout_benchmark(recipe) -> LoadedBenchmark:
    """The data's held-out split as a benchmark (rows with ``problem`` and ``answer``)."""
    try:
        rows = load_test_rows(recipe.data)
    except DataError as error:
        raise ConfigError("data.test", str(error)) from None
    problem, answer = recipe.data.problem_column, recipe.data.answer_column
    rows = [{**row, "problem": row[problem], "answer": row[answer]} if problem in row and answer in row else row
            for row in rows]
    try:
        rows = _normalize_rows(rows, HELDOUT, str(recipe.data.test or recipe.data.train))
    except BenchmarkError as error:
        raise ConfigError("data.test", str(error)) from None
    digest = hashlib.sha256(json.dumps([[r["id"], r["problem"], r["answer"]] for r in rows]).encode()).hexdigest()
    return LoadedBenchmark(HELDOUT, f"rows-{digest[:12]}", HELDOUT_PROTOCOL, rows,
                           str(recipe.data.test or f"{recipe.data.train} (test split)"), f"sha256:{digest}")


def load_runs(plan: EvalPlan, recipe, data_dir: str | None = None) -> list:
    """Load each planned benchmark's rows and make its ``BenchmarkRun`` (``ConfigError`` when data is missing)."""
    runs = []
    for planned in plan.benchmarks:
        if planned.name == HELDOUT:
            loaded = heldout_benchmark(recipe)
        else:
            try:
                loaded = load_benchmark(planned.name, data_dir=data_dir or plan.data_dir)
            except (BenchmarkError, BenchmarkDataNotFound) as error:
                raise ConfigError(planned.path, str(error)) from None
            loaded = dataclasses.replace(loaded, name=planned.label)
        if planned.limit is not None:
            loaded = dataclasses.replace(loaded, rows=loaded.rows[: planned.limit])
        settings = dict(planned.settings)
        runs.append(plan_run(loaded, n=settings["n"], k_list=settings["k_list"],
                             temperature=settings["temperature"], top_p=settings["top_p"],
                             max_new_tokens=settings["max_new_tokens"], seed=plan.seed,
                             template=settings["template"], system_prompt=settings["system_prompt"],
                             user_template=settings["user_template"], few_shot=settings["few_shot"]))
    return runs


def inference_model_hook(pm, options: argparse.Namespace):
    """``prepare_model`` for ``evaluate``: the active plugins' ``inference_model`` with these options."""
    if pm is None:
        return None

    def prepare(model):
        return pm.hook.inference_model(model=model, options=options)

    return prepare


# --- metrics -----------------------------------------------------------------------------------------------------


def flat_metrics(results: dict) -> dict[str, Any]:
    """One evaluation's numbers as flat keys: the held-out split's ``accuracy``, ``lenient_accuracy``, ...;
    ``<benchmark>/<metric>`` for each named benchmark; ``average/<metric>`` (the runner's unweighted mean over the
    benchmarks, the held-out split included) when there are two or more."""
    flat: dict[str, Any] = {}
    for label, info in results["benchmarks"].items():
        metrics = info["metrics"]
        if label == HELDOUT:
            flat.update({key: metrics.get(source) for key, source in HELDOUT_METRICS.items()})
            continue
        for key, value in metrics.items():
            if key in BENCHMARK_METRICS or key.startswith(("pass@", "maj@", "avg@")):
                flat[f"{label}/{key}"] = value
    if len(results["benchmarks"]) > 1:  # the runner's average, which `--checkpoints` ranks checkpoints by
        flat.update({f"average/{key}": value for key, value in results["average"].items()})
    return flat


# --- evaluating a model ------------------------------------------------------------------------------------------


class RecipeEvaluation:
    """Evaluate models under a recipe's ``eval`` plan: ``evaluation(model, tokenizer, step=N)`` during training
    returns the flat metrics and writes ``samples.jsonl``/``results.json`` to ``<output_dir>/eval/step-<N>/``;
    ``evaluation.evaluate(spec, output_dir)`` evaluates a checkpoint (``trl-reason eval --recipe``)."""

    def __init__(self, recipe, plan: EvalPlan, pm=None, *, output_dir: str | None = None,
                 data_dir: str | None = None, grading_processes: int = 1, write: bool = True):
        self.recipe = recipe
        self.plan = plan
        self.pm = pm
        self.runs = load_runs(plan, recipe, data_dir)
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self.grading_processes = grading_processes
        self.write = write  # False on the non-main processes of a multi-process run
        self.history: dict[int, dict] = {}  # step -> {"metrics": flat, "benchmarks": ..., "results": path}

    def evaluate(self, model, *, output_dir=None, backend="transformers", dtype="float32", model_name=None,
                 progress: bool = True, console=None, options: argparse.Namespace | None = None) -> dict:
        """``runner.evaluate`` with this plan's runs, batch size and the plugins' ``inference_model``."""
        return evaluate(model, self.runs, output_dir=output_dir, backend=backend, dtype=dtype,
                        batch_size=self.plan.batch_size, grading_processes=self.grading_processes,
                        progress=progress, console=console, model_name=model_name,
                        prepare_model=inference_model_hook(self.pm, options or self.plan.options))

    def __call__(self, model, tokenizer, step: int = 0) -> dict[str, Any]:
        if step in self.history:  # the same weights (e.g. the last periodic evaluation is also `after`)
            return self.history[step]["metrics"]
        if not hasattr(model, "generate") and hasattr(model, "module"):  # DistributedDataParallel and friends
            model = model.module
        out = None
        if self.output_dir is not None and self.write:
            out = self.output_dir / "eval" / f"step-{step}"
            if out.exists():  # an earlier run into this output dir: its weights at this step were others
                shutil.rmtree(out)
        results = self.evaluate((model, tokenizer), output_dir=out, progress=False,
                                model_name=f"{self.recipe.model.name_or_path} (training step {step})")
        metrics = flat_metrics(results)
        self.history[step] = {
            "metrics": metrics, "average": results["average"],
            "benchmarks": {label: info["metrics"] for label, info in results["benchmarks"].items()},
            "results": str(out / "results.json") if out is not None else None,
        }
        return metrics

    def summary(self) -> dict[str, Any]:
        """What ``results.json`` records: the plan and each evaluated step's numbers."""
        steps = {str(step): entry for step, entry in sorted(self.history.items())}
        return {"plan": self.plan.describe(), "steps": steps}
