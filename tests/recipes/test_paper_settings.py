"""Each paper recipe builds the configuration its paper's settings table describes, or says where it does not.

``recipes/<method>/paper-settings.yaml`` holds the authors' settings as data: for each setting, the value in words
(``paper``), where it comes from (``source``), and the same value in this project's terms (``expect``: config key
-> value), or, for a fact no config key holds, ``impl`` (what we do instead). This test builds every paper recipe
as ``trl-reason run`` would on the paper's hardware (``prepare`` + ``build_config``, the TRL config at the paper's
number of processes, each stage's config for a staged recipe, the plugins' validated configs) and compares it with
every ``expect`` entry. Every difference, and every ``impl`` entry, must be listed in the recipe's opening comment
under ``Deviations``, one item per key, in the form::

    # Deviations from the paper (checked against paper-settings.yaml by tests/recipes/test_paper_settings.py):
    #   - trainer.loss_type: dapo (paper: grpo) — why, and the expected effect
    #     (a reason may continue on lines indented under the item)
    #   - impl.kl_clamp: none (paper: [-10, 10]) — ...

``ours`` (before the parenthesis) must be the built value and ``paper`` the expected one (``absent`` when our
config has no such key). A listed key whose values no longer differ fails as stale.

Keys of ``expect``: ``trainer.<field>`` (the built TRL config; ``trainer.algorithm`` the recipe's), ``model.*``,
``data.*``, ``eval.*`` (the recipe's sections; ``eval.benchmarks`` is the list of benchmark names and
``eval.<benchmark>.<setting>`` the settled protocol of one: n, k_list, temperature, top_p, max_new_tokens,
template, ...), ``rewards.<i>.<field>``, ``plugins.<name>.<field>`` (the plugin's
validated config), ``run.*`` (derived, below) and ``stage.<n>.<key>`` (a staged recipe's n-th stage: its entry of
the plugin's stage table, or ``stage.<n>.trainer.*`` / ``stage.<n>.run.*`` of the trainer that runs it).
``run.processes`` is the paper's process count; ``run.completions_per_step`` = per-device batch x gradient
accumulation x processes (sequences for SFT/distillation: ``run.sequences_per_step``); ``run.prompts_per_step`` =
completions / generations; ``run.optimizer_steps_per_generation`` = TRL's steps_per_generation / accumulation.
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from trl_reasoning.plugins.manager import PluginManager
from trl_reasoning.config.recipe import MODEL_KEYS_ENV, load_recipe
from trl_reasoning.evaluation.recipe_eval import plan_eval
from trl_reasoning import run as run_module
from trl_reasoning.run import build_config, prepare

from paper_recipes import PAPER_RECIPES, SETTINGS_FILE  # tests/recipes/paper_recipes.py

ROOT = Path(__file__).resolve().parents[2]
# The settings every paper recipe's table must state (a setting that does not apply says so in `paper`).
REQUIRED = ("model", "data", "learning_rate", "global_batch", "generations", "lengths", "temperature", "kl",
            "entropy", "loss_aggregation", "steps", "stages", "eval")




def rel(path: Path) -> str:
    return str(path.relative_to(ROOT / "recipes"))


# -- the settings tables --------------------------------------------------------------------------------------------

def settings_of(recipe_path: Path) -> tuple[dict, dict[str, dict]]:
    """``(recipe entry, {setting name: setting})``: the method's shared settings, replaced one by one by the
    recipe's own."""
    table = yaml.safe_load((recipe_path.parent / SETTINGS_FILE).read_text(encoding="utf-8"))
    entry = (table.get("recipes") or {}).get(recipe_path.name)
    if entry is None:
        raise AssertionError(f"{recipe_path.parent.name}/{SETTINGS_FILE} has no entry for {recipe_path.name}")
    merged = {**(table.get("shared") or {}), **(entry.get("settings") or {})}
    return entry, {name: s for name, s in merged.items() if s is not None}


# -- the built configuration ------------------------------------------------------------------------------------------

ABSENT = object()  # our config has no such key


def at_processes(config_class: type, processes: int) -> type:
    """``config_class`` as it is on ``processes`` processes: TRL derives the generation batch from the training
    arguments' ``world_size`` (the accelerate state of the launch), which is all that changes with the launch."""
    return type(config_class.__name__, (config_class,), {"world_size": property(lambda self: processes)})


def run_numbers(config, processes: int) -> dict[str, Any]:
    per_step = config.per_device_train_batch_size * config.gradient_accumulation_steps * processes
    numbers: dict[str, Any] = {"processes": processes}
    generations = getattr(config, "num_generations", None)
    if generations:
        numbers["completions_per_step"] = per_step
        numbers["prompts_per_step"] = per_step / generations
        numbers["optimizer_steps_per_generation"] = config.steps_per_generation / config.gradient_accumulation_steps
    else:
        numbers["sequences_per_step"] = per_step
    return numbers


@dataclasses.dataclass
class Built:
    recipe: Any
    config: Any
    plugins: dict[str, Any]
    run: dict[str, Any]
    stages: list[dict[str, Any]]  # per stage: {"table": Stage, "trainer": config, "run": numbers}
    evaluation: dict[str, dict]  # benchmark label -> its settled protocol (plan_eval: n, temperature, tokens, ...)


def build(recipe_path: Path, processes: int, tmp_path: Path, monkeypatch, overrides: list[str] = ()) -> Built:
    recipe = load_recipe(recipe_path, list(overrides))
    monkeypatch.setenv("WORLD_SIZE", str(processes))  # what the launcher tells prepare's batch checks
    prepared = prepare(recipe, PluginManager())
    monkeypatch.delenv("WORLD_SIZE")  # the configs below get the process count from at_processes, not a launch
    prepared.config_class = at_processes(prepared.config_class, processes)
    output_dir = str(tmp_path / "run")
    config = build_config(prepared, output_dir)
    stages = []
    plan, _ = run_module.stage_plan(prepared, output_dir, None)
    if prepared.pm.hook.run_stages.get_hookimpls():  # run_recipe's trainers, one per segment of stages
        segments = [build_config(prepared, output_dir, run_module.stage_overrides(plan, index, None))
                    for index in range(len(plan))]
        owner = next(p for p in prepared.pm.active.values() if hasattr(p, "table"))
        end = 0
        for stage in owner.table:
            end += stage.steps
            segment = next(s for s in segments if s.max_steps >= end)
            stages.append({"table": stage, "trainer": segment, "run": run_numbers(segment, processes)})
    plugins = {name: getattr(plugin, "config", None) for name, plugin in prepared.pm.active.items()}
    evaluation = {planned.label: planned.settings for planned in plan_eval(recipe, prepared.pm).benchmarks}
    return Built(recipe, config, plugins, run_numbers(config, processes), stages, evaluation)


def step_into(value: Any, part: str) -> Any:
    if value is ABSENT or value is None:
        return ABSENT
    if isinstance(value, dict):
        return value.get(part, ABSENT)
    if isinstance(value, (list, tuple)):
        return value[int(part)] if part.isdigit() and int(part) < len(value) else ABSENT
    return getattr(value, part, ABSENT)


def lookup(built: Built, key: str) -> Any:
    """The built value at a settings key (see the module docstring), or ``ABSENT``."""
    head, *rest = key.split(".")
    if head == "trainer":
        if rest == ["algorithm"]:
            return built.recipe.algorithm
        value: Any = built.config
    elif head == "run":
        value = built.run
    elif head == "plugins":
        value = built.plugins
    elif head == "stage":
        if not rest or not rest[0].isdigit() or not 1 <= int(rest[0]) <= len(built.stages):
            return ABSENT
        stage = built.stages[int(rest[0]) - 1]
        rest = rest[1:]
        value = stage[rest.pop(0)] if rest and rest[0] in ("trainer", "run") else stage["table"]
    elif head == "eval" and rest == ["benchmarks"]:
        return list(built.evaluation)
    elif head == "eval" and rest and rest[0] in built.evaluation:
        value = built.evaluation[rest.pop(0)]
    elif head in ("model", "data", "eval", "rewards"):
        value = getattr(built.recipe, head)
    else:
        raise AssertionError(f"unknown settings key {key!r} (keys start with trainer, run, plugins, stage, model, "
                             "data, eval or rewards)")
    for part in rest:
        value = step_into(value, part)
    return value


def plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if hasattr(value, "value") and type(value).__module__.startswith(("transformers", "trl")):
        return value.value  # an enum of the training arguments (lr_scheduler_type, save_strategy, ...)
    return value


def same(ours: Any, paper: Any) -> bool:
    if ours is ABSENT or paper is ABSENT:
        return ours is paper
    ours, paper = plain(ours), plain(paper)
    if isinstance(ours, bool) or isinstance(paper, bool):
        return ours is paper
    if isinstance(ours, (int, float)) and isinstance(paper, (int, float)):
        return math.isclose(ours, paper, rel_tol=1e-9, abs_tol=0.0)
    if isinstance(ours, list) and isinstance(paper, list):
        return len(ours) == len(paper) and all(same(a, b) for a, b in zip(ours, paper))
    if isinstance(ours, dict) and isinstance(paper, dict):
        return ours.keys() == paper.keys() and all(same(ours[k], paper[k]) for k in ours)
    return ours == paper


def show(value: Any) -> str:
    """A value as the Deviations block writes it (YAML flow style; ``absent`` for a key our config lacks)."""
    if value is ABSENT:
        return "absent"
    value = plain(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e6:
        return str(int(value)) if not isinstance(value, bool) else str(value).lower()
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def parse(text: str) -> Any:
    text = text.strip()
    if text == "absent":
        return ABSENT
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        try:
            return float(value)  # 1e-6: YAML 1.1 wants a dot in floats
        except ValueError:
            return value
    return value


# -- the recipe's Deviations block ----------------------------------------------------------------------------------

ITEM = re.compile(r"^#   - (?P<key>[A-Za-z0-9_.\-]+): (?P<rest>.*)$")


@dataclasses.dataclass
class Listed:
    key: str
    ours: str
    paper: str
    why: str


def header_of(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            break
        lines.append(line)
    return lines


def listed_deviations(recipe_path: Path) -> dict[str, Listed]:
    """The items of the Deviations block in the recipe's opening comment, by key. An item may wrap: its
    continuation lines are indented under it (``#     ...``)."""
    lines = header_of(recipe_path.read_text(encoding="utf-8"))
    starts = [i for i, line in enumerate(lines) if line.startswith("# Deviations")]
    assert len(starts) <= 1, f"{rel(recipe_path)} has {len(starts)} Deviations blocks; merge them into one"
    raw: list[tuple[str, str]] = []  # (key, the item's text after "key: ", continuations joined)
    for line in lines[starts[0] + 1:] if starts else []:
        match = ITEM.match(line)
        if match:
            raw.append((match["key"], match["rest"].strip()))
        elif raw and line.startswith("#     ") and line[6:].strip():
            raw[-1] = (raw[-1][0], raw[-1][1] + " " + line[6:].strip())
        else:
            break
    items: dict[str, Listed] = {}
    for key, text in raw:
        head, sep, why = text.partition(" — ")
        assert sep and why.strip(), f"{rel(recipe_path)}: {key} needs ' — ' and a reason after its values"
        at = head.rfind(" (paper: ")
        assert at > 0 and head.endswith(")"), (
            f"{rel(recipe_path)}: {key} must read `- {key}: ours (paper: theirs) — reason`, got {text!r}")
        assert key not in items, f"{rel(recipe_path)} lists {key} twice"
        items[key] = Listed(key, head[:at], head[at + len(" (paper: "):-1], why.strip())
    return items


# -- the comparison ---------------------------------------------------------------------------------------------------

def differences(built: Built, settings: dict[str, dict]) -> dict[str, tuple[Any, Any]]:
    """``{key: (ours, paper)}`` for every expect entry that differs, and every impl entry (``impl.<setting>``)."""
    found: dict[str, tuple[Any, Any]] = {}
    for name, setting in settings.items():
        for key, paper in (setting.get("expect") or {}).items():
            ours = lookup(built, key)
            if not same(ours, paper):
                found[key] = (ours, paper)
        if "impl" in setting:
            found[f"impl.{name}"] = (setting["impl"], setting["paper"])
    return found


def suggestion(key: str, ours: Any, paper: Any) -> str:
    if key.startswith("impl."):
        return f"#   - {key}: {ours} (paper: {paper}) — <reason; expected effect>"
    return f"#   - {key}: {show(ours)} (paper: {show(paper)}) — <reason; expected effect>"


@pytest.mark.parametrize("path", PAPER_RECIPES, ids=rel)
def test_paper_settings_table_states_every_setting_with_its_source(path):
    entry, settings = settings_of(path)
    assert isinstance(entry.get("processes"), int) and entry["processes"] >= 1, (
        f"{path.name}: state the paper's number of processes (`processes:`) in {SETTINGS_FILE}")
    missing = [name for name in REQUIRED if name not in settings]
    assert not missing, f"{path.parent.name}/{SETTINGS_FILE} states nothing for {path.name} about {missing}"
    for name, setting in settings.items():
        assert isinstance(setting, dict) and str(setting.get("paper", "")).strip(), f"{name}: needs `paper:`"
        assert str(setting.get("source", "")).strip(), f"{path.name} {name}: say where `paper` comes from (`source:`)"
        assert not ("expect" in setting and "impl" in setting), f"{name}: `expect` or `impl`, not both"
        assert set(setting) <= {"paper", "source", "expect", "impl", "note"}, f"{name}: unknown fields {set(setting)}"


@pytest.mark.parametrize("path", PAPER_RECIPES, ids=rel)
def test_paper_recipe_differs_from_its_paper_only_where_its_header_says(path, tmp_path, monkeypatch):
    monkeypatch.delenv(MODEL_KEYS_ENV, raising=False)  # the recipe's own models, not CI's tiny one
    entry, settings = settings_of(path)
    built = build(path, entry["processes"], tmp_path, monkeypatch)
    found = differences(built, settings)
    listed = listed_deviations(path)
    problems = []
    for key, (ours, paper) in sorted(found.items()):
        if key not in listed:
            problems.append(f"not listed: {suggestion(key, ours, paper)}")
            continue
        item = listed[key]
        if not key.startswith("impl.") and not (same(parse(item.ours), ours) and same(parse(item.paper), paper)):
            problems.append(f"wrong values: {key} is {show(ours)} (paper: {show(paper)}); the header says "
                            f"{item.ours} (paper: {item.paper})")
    for key in sorted(set(listed) - set(found)):
        problems.append(f"stale: {key} is listed, but the built config now matches the paper (or the settings "
                        f"table no longer has it): remove it from the Deviations block")
    assert not problems, f"{rel(path)}:\n  " + "\n  ".join(problems)


def test_every_paper_recipe_directory_has_a_settings_table():
    for directory in sorted({p.parent for p in PAPER_RECIPES}):
        table = yaml.safe_load((directory / SETTINGS_FILE).read_text(encoding="utf-8"))
        named = set(table.get("recipes") or {})
        present = {p.name for p in PAPER_RECIPES if p.parent == directory}
        assert named == present, f"{directory.name}/{SETTINGS_FILE}: entries {sorted(named ^ present)} do not match"
        assert str(table.get("paper", "")).strip(), f"{directory.name}/{SETTINGS_FILE} names no paper"


def test_deviations_block_parser_reads_items_and_their_continuations(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("# A recipe.\n#\n# Deviations from the paper (checked by a test):\n"
                      "#   - trainer.loss_type: dapo (paper: grpo) — TRL's default;\n"
                      "#     long completions weigh more\n"
                      "#   - impl.kl_clamp: none (no clamp) (paper: [-10, 10]) — TRL's k3\n"
                      "#   - impl.long: a value that wraps (paper: another\n#     that wraps too) — a reason\n"
                      "#\n# Command: ...\nmodel: {}\n", encoding="utf-8")
    items = listed_deviations(recipe)
    assert list(items) == ["trainer.loss_type", "impl.kl_clamp", "impl.long"]
    assert (items["impl.long"].ours, items["impl.long"].paper) == ("a value that wraps", "another that wraps too")
    assert (items["trainer.loss_type"].ours, items["trainer.loss_type"].paper) == ("dapo", "grpo")
    assert items["trainer.loss_type"].why == "TRL's default; long completions weigh more"
    assert items["impl.kl_clamp"].ours == "none (no clamp)" and items["impl.kl_clamp"].paper == "[-10, 10]"
    assert same(parse("1e-6"), 1.0e-6) and same(parse("absent"), ABSENT) and not same(parse("1e-5"), 1.0e-6)
    assert show(1.0e-6) == "1.0e-06" and parse(show(1.0e-6)) == 1.0e-6 and show(ABSENT) == "absent"


def test_a_changed_setting_is_found_with_both_values(tmp_path, monkeypatch):
    monkeypatch.delenv(MODEL_KEYS_ENV, raising=False)
    path = ROOT / "recipes" / "one-shot-rlvr" / "qwen2.5-math-1.5b-pi1.yaml"
    entry, settings = settings_of(path)
    built = build(path, entry["processes"], tmp_path, monkeypatch,
                  ["trainer.loss_type=dapo", "trainer.gradient_accumulation_steps=4", "eval.every_steps=10"])
    found = differences(built, settings)
    assert found["trainer.loss_type"] == ("dapo", "bnpo")
    assert found["run.completions_per_step"] == (512, 1024) and found["run.prompts_per_step"] == (64, 128)
    assert found["eval.every_steps"] == (10, 20)
    unchanged = differences(build(path, entry["processes"], tmp_path, monkeypatch), settings)
    assert not {"trainer.loss_type", "run.completions_per_step", "eval.every_steps"} & set(unchanged)
