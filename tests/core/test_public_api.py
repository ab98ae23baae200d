"""The public API for plugin authors is ``trl_reasoning`` itself (``trl_reasoning/__init__.py``, ``docs/api.md``).

Built-in plugins are written the way a stranger's plugin is: their package code imports from ``trl_reasoning`` and
from their own package only, never from a core submodule (their tests may use ``trl_reasoning.testing`` too).
``KNOWN`` lists the imports still to switch, each with its owner; it may only shrink (an entry that no longer
occurs is reported as a warning, to be deleted).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import trl_reasoning

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "trl", "datasets", "peft", "accelerate", "sympy")

# (file relative to the repository, imported module) -> owner.
KNOWN: dict[tuple[str, str], str] = {
}
# Names of the API whose defining module is still being written: name -> owner.
PENDING: dict[str, str] = {
}


def plugin_sources() -> list[Path]:
    return sorted(p for p in (ROOT / "plugins").glob("*/trl_reason_*/**/*.py") if "egg-info" not in str(p))


def core_imports(path: Path) -> list[tuple[str, int, list[str]]]:
    """``(module, line, names)`` for each import of a ``trl_reasoning`` module in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module and (
                node.module.split(".")[0] == "trl_reasoning"):
            found.append((node.module, node.lineno, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno, []) for alias in node.names
                         if alias.name.split(".")[0] == "trl_reasoning")
    return found


def offending_imports() -> dict[tuple[str, str], str]:
    found = {}
    for path in plugin_sources():
        rel = str(path.relative_to(ROOT))
        for module, line, names in core_imports(path):
            if module == "trl_reasoning":
                unknown = [n for n in names if n not in trl_reasoning.__all__]
                if unknown:
                    found[(rel, f"trl_reasoning.{unknown[0]}")] = (
                        f"{rel}:{line} imports {unknown} from trl_reasoning, which does not export them")
                continue
            found[(rel, module)] = (f"{rel}:{line} imports from the core module {module}; import "
                                    f"{', '.join(names) or 'it'} from trl_reasoning instead (docs/api.md)")
    return found


def test_built_in_plugins_import_only_the_public_api():
    found = offending_imports()
    new = [text for key, text in sorted(found.items()) if key not in KNOWN]
    for key, owner in KNOWN.items():
        if key not in found:
            warnings.warn(f"KNOWN entry {key} (owner {owner}) no longer occurs: delete it")
    assert not new, "\n".join(new)


def test_every_public_name_resolves():
    missing = []
    for name in trl_reasoning.__all__:
        try:
            getattr(trl_reasoning, name)
        except AttributeError as exc:
            if name not in PENDING:
                missing.append(f"{name}: {exc}")
    assert not missing, missing
    for name in PENDING:
        if hasattr(trl_reasoning, name):
            warnings.warn(f"trl_reasoning.{name} resolves now: delete it from PENDING")


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        trl_reasoning.nope


def test_importing_the_api_is_cheap_and_names_load_on_first_use():
    code = ("import json, sys, trl_reasoning as t; before = sorted(m for m in %r if m in sys.modules); "
            "loaded = 'trl_reasoning.config.schema' in sys.modules; t.ConfigError; "
            "print(json.dumps([before, loaded, 'trl_reasoning.config.schema' in sys.modules, "
            "sorted(m for m in %r if m in sys.modules)]))" % (HEAVY, HEAVY))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == [[], False, True, []]
    assert "RolloutBatch" in trl_reasoning.__all__ and trl_reasoning._EXPORTS["RolloutBatch"] == "trl_reasoning.rollouts"


def test_docs_api_lists_every_public_name():
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    missing = [name for name in trl_reasoning.__all__ if f"`{name}`" not in text]
    assert not missing, f"docs/api.md does not describe {missing}"


# -- the plugin-author kit: trl_reasoning.testing -------------------------------------------------------------------


def test_trainer_stub_has_what_hooks_read():
    from trl_reasoning.testing import make_trainer_stub, registered_plugin

    rows = [{"prompt_id": i, "problem": f"{i} + 1"} for i in range(6)]
    trainer = make_trainer_stub(dataset=rows, step=3, world_size=2, process_index=1, num_generations=8)
    assert trainer.state.global_step == 3 and trainer.train_dataset[5]["prompt_id"] == 5
    assert (trainer.accelerator.num_processes, trainer.accelerator.is_main_process) == (2, False)
    assert (trainer.args.world_size, trainer.args.num_generations, trainer.num_generations) == (2, 8, 8)
    assert trainer.eligible_rows() == list(range(6)) and len(trainer.records) == 0
    trainer.log_metric("my/value", 2)
    assert trainer.logged == [("my/value", 2.0)]

    class EvenOnly:
        @trl_reasoning.hookimpl
        def candidate_rows(self, indices):
            return [i for i in indices if i % 2 == 0]

    with registered_plugin("even_only", EvenOnly()) as pm:
        assert make_trainer_stub(dataset=rows, pm=pm).eligible_rows() == [0, 2, 4]  # the real candidate_rows chain


def test_run_cli_returns_the_outcome_of_the_real_entry_point(tmp_path):
    from trl_reasoning.testing import run_cli

    listed = run_cli("plugins", "--json").assert_success()
    assert any(plugin["name"] == "hapo" for plugin in json.loads(listed.out))
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("model: {name_or_path: x}\ntrainer: {max_stpes: 2}\n")
    refused = run_cli("validate", recipe).assert_exit(2)
    assert "max_stpes" in refused.err and "Traceback" not in refused.err
    with pytest.raises(AssertionError, match="expected exit status 0, got 2"):
        refused.assert_success()


def test_run_cli_in_a_subprocess():
    from trl_reasoning.testing import run_cli

    outcome = run_cli("--help", subprocess=True).assert_success()
    assert "trl-reason" in outcome.out and outcome.argv == ["--help"]


def test_fixtures_are_opt_in():
    """No ``pytest11`` entry point: only a project whose root conftest names ``trl_reasoning.testing`` gets them."""
    import tomllib

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "pytest11" not in pyproject["project"].get("entry-points", {})
    assert 'pytest_plugins = [] if _registered_by_an_entry_point() else ["trl_reasoning.testing"]' in (
        ROOT / "conftest.py").read_text(encoding="utf-8")


def test_the_fixtures_module_is_cheap_to_load():
    """Every pytest session of a plugin project loads ``trl_reasoning.testing``: it imports no torch until a fixture
    or helper needs it."""
    code = "import json, sys, trl_reasoning.testing; print(json.dumps(sorted(m for m in %r if m in sys.modules)))" % (
        HEAVY,)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []
