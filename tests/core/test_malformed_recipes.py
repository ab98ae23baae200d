"""Malformed recipes, written by hand as a careless (or hostile) user would (issue #21): every row exits 2 through
``trl_reasoning.cli.main.main`` with a message naming its key path, prints no traceback, and never touches the model.

"Never touches the model": each recipe names the real tiny test model, and a Python audit hook records every
``open``/``listdir`` under that directory during the call. A row whose mistake slips past validation reaches
``from_pretrained``, which opens the directory's ``config.json``, and the row fails.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
import yaml

from trl_reasoning.cli.main import main
from trl_reasoning.testing import TINY_TRAINER

WARM_LIMIT_S = 3.0  # per row once imports are warm (issue #21, "what must be shown")

_watched: list[str] = []
_touched: list[str] = []


def _audit(event: str, args: tuple) -> None:
    if not _watched or event not in ("open", "os.listdir", "os.scandir"):
        return
    target = args[0] if args else None
    if isinstance(target, (str, bytes, os.PathLike)):
        text = os.fsdecode(target)
        if any(text.startswith(root) for root in _watched):
            _touched.append(f"{event} {text}")


sys.addaudithook(_audit)  # cannot be removed; it does nothing while `_watched` is empty


def base_recipe(model_dir: str) -> dict:
    return {
        "model": {"name_or_path": model_dir},
        "data": {"train": "embedded:arithmetic", "options": {"n_train": 16, "n_test": 4}},
        "trainer": {**TINY_TRAINER, "max_steps": 1},
        "rewards": [{"name": "boxed_integer"}],
    }


def _set(*keys_and_value):
    """A row's edit of the base recipe: ``_set("trainer", "learning_rate", -1e-5)``."""
    *keys, value = keys_and_value

    def edit(recipe: dict) -> dict:
        node = recipe
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
        return recipe

    return edit


def _rewards(*entries):
    return _set("rewards", list(entries))


# (id, edit of the base recipe (or raw file bytes), extra CLI args, text the message must contain)
ROWS = [
    ("plugins-list", _set("plugins", ["hapo"]), [], "plugins: expected a mapping"),
    ("plugins-string", _set("plugins", "hapo"), [], "plugins: expected a mapping"),
    ("plugin-config-scalar", _set("plugins", {"hapo": 3}), [], "plugins.hapo: expected a mapping"),
    ("plugin-config-list", _set("plugins", {"hapo": [1, 2]}), [], "plugins.hapo: expected a mapping"),
    ("num-generations-0", _set("trainer", "num_generations", 0), [], "trainer.num_generations"),
    ("num-generations-1", _set("trainer", "num_generations", 1), [], "trainer.num_generations: GRPO"),
    ("batch-not-divisible", _set("trainer", "per_device_train_batch_size", 3), [],
     "trainer.num_generations: each generation batch holds whole groups"),
    ("learning-rate-negative", _set("trainer", "learning_rate", -1e-5), [], "trainer.learning_rate: must be > 0"),
    ("temperature-negative", _set("trainer", "temperature", -1), [], "trainer.temperature: must be > 0"),
    ("max-completion-length-0", _set("trainer", "max_completion_length", 0), [],
     "trainer.max_completion_length: must be >= 1"),
    ("gradient-accumulation-0", _set("trainer", "gradient_accumulation_steps", 0), [],
     "trainer.gradient_accumulation_steps: must be >= 1"),
    ("lora-r-0", _set("model", "lora", {"r": 0}), [], "model.lora.r: must be >= 1"),
    ("group-filter-reversed", _set("trainer", "group_filter", [0.9, 0.1]), [],
     "trainer.group_filter: expected [lo, hi] with 0 <= lo <= hi <= 1"),
    ("group-filter-above-1", _set("trainer", "group_filter", [0.1, 1.5]), [], "trainer.group_filter"),
    ("data-option-string-for-number", _set("data", "options", "max_operand", "nine"), [],
     "data.options.max_operand: expected an integer"),
    ("data-operands-min-above-max", _set("data", "options", {"min_operand": 9, "max_operand": 1}), [],
     "data.options.max_operand: must be >= min_operand"),
    ("data-option-misspelled", _set("data", "options", {"max_opernad": 5}), [], "data.options.max_opernad"),
    ("reward-config-misspelled", _rewards({"name": "boxed_integer", "config": {"lenient_valu": 0.5}}), [],
     "rewards[0].config.lenient_valu: unknown key; did you mean 'lenient_value'"),
    ("reward-config-wrong-type", _rewards({"name": "boxed_integer", "config": {"lenient_value": "half"}}), [],
     "rewards[0].config.lenient_value: expected a number"),
    ("dotted-reward-refused", _rewards({"name": "os.system"}), [], "rewards[0].name: 'os.system' is an import path"),
    ("dotted-reward-not-a-reward", _rewards({"name": "os.system"}), ["--allow-imports"],
     "rewards[0].name: 'os.system' is not a reward"),
    ("dotted-reward-outside-allowed-prefix", _rewards({"name": "os.system"}), ["--allow-imports", "my_rewards"],
     "rewards[0].name: 'os.system' is an import path"),
    ("integer-key", _set(1, "x"), [], "1: keys are names"),
    ("integer-key-in-section", _set("trainer", 7, "x"), [], "trainer.7: keys are names"),
    ("scalar-recipe", b"just a string\n", [], "a recipe must be a YAML mapping"),
    ("list-recipe", b"- model\n- data\n", [], "a recipe must be a YAML mapping"),
    ("invalid-utf8", b"description: caf\xe9\n", [], "is not UTF-8 text"),
    ("max-steps-minus-1", _set("trainer", "max_steps", -1), [], "trainer.max_steps: -1 is TRL's"),
    ("max-steps-0", _set("trainer", "max_steps", 0), [], "trainer.max_steps: must be > 0"),
    ("save-steps-0", _set("trainer", "save_steps", 0), [], "trainer.save_steps: must be > 0"),
    ("eval-limit-negative", _set("eval", "limit", -1), [], "eval.limit: must be >= 1"),
    ("eval-every-steps-negative", _set("eval", "every_steps", -2), [], "eval.every_steps: must be >= 0"),
    ("seed-negative", _set("seed", -1), [], "seed: must be >= 0"),
    ("hub-token-in-recipe", _set("trainer", "hub_token", "hf_" + "x" * 34), [], "trainer.hub_token: holds a credential"),
    ("token-shaped-value", _set("description", "pushed with hf_" + "Q" * 30), [],
     "description: this value looks like an access token"),
    ("hub-token-by-set", lambda recipe: recipe, ["--set", "trainer.hub_token=hf_" + "y" * 30],
     "trainer.hub_token: holds a credential"),
    ("trust-remote-code-from-recipe", _set("model", "trust_remote_code", True), [],
     "model.trust_remote_code: runs the Python code of the model repository"),
    ("trust-remote-code-through-trl", _set("trainer", "model_init_kwargs", {"trust_remote_code": True}), [],
     "trainer.model_init_kwargs.trust_remote_code: runs the Python code"),
    ("empty-override-key", lambda recipe: recipe, ["--set", "=3"], "an override must look like key.path=value"),
]


@pytest.fixture(scope="module")
def warm_imports(tiny_model_path, tmp_path_factory):
    """Run one row first so that every later row is timed with trl, transformers and the plugins imported."""
    path = tmp_path_factory.mktemp("warm") / "recipe.yaml"
    path.write_text(yaml.safe_dump(_set("trainer", "learning_rate", -1.0)(base_recipe(tiny_model_path))))
    assert main(["run", str(path), "--output-dir", str(path.parent / "out")]) == 2
    return tiny_model_path


@pytest.mark.parametrize("row_id, edit, extra, expected", ROWS, ids=[row[0] for row in ROWS])
def test_malformed_recipe_exits_2_naming_its_key_before_any_model_loads(row_id, edit, extra, expected,
                                                                       warm_imports, tmp_path, capsys):
    model_dir = warm_imports
    path = tmp_path / "recipe.yaml"
    if isinstance(edit, bytes):
        path.write_bytes(edit)
    else:
        path.write_text(yaml.safe_dump(edit(base_recipe(model_dir)), sort_keys=False, allow_unicode=True))
    _touched.clear()
    _watched.append(str(Path(model_dir).resolve()))
    _watched.append(str(model_dir))
    started = time.perf_counter()
    try:
        status = main(["run", str(path), "--output-dir", str(tmp_path / "out"), *extra])
    finally:
        elapsed = time.perf_counter() - started
        _watched.clear()
    out, err = capsys.readouterr()
    message = " ".join((out + err).split())  # rich wraps long lines
    assert status == 2, message
    assert expected in message, message
    assert "Traceback" not in out + err
    assert not _touched, f"the model directory was read: {_touched[:3]}"
    assert elapsed < WARM_LIMIT_S, f"{elapsed:.2f} s"
    assert not (tmp_path / "out").exists(), "the run wrote into its output directory"
