"""A staged FastCuRL run on the tiny model: the level and the context change at exactly the configured step, a new
trainer starts where the batch shape changes, and resumes (inside a stage, at a boundary) draw the same rows."""

import json
from pathlib import Path

import pytest
import torch

import trl_reason_fastcurl.plugin as fastcurl_module
from trl_reasoning import hookimpl
from trl_reasoning.plugins.manager import PluginManager
from trl_reasoning.run import run_recipe

# Steps 0-1: short prompts, 8 tokens, 2 prompts x 2; step 2: long prompts, 12 tokens (same trainer);
# step 3: all prompts, 8 tokens, 1 prompt x 4 (a new batch shape, so a new trainer from checkpoint-3).
STAGES = [
    {"level": "short", "steps": 2, "max_completion_length": 8, "prompts_per_step": 2, "num_generations": 2},
    {"level": "long", "steps": 1, "max_completion_length": 12},
    {"level": "all", "steps": 1, "max_completion_length": 8, "prompts_per_step": 1, "num_generations": 4},
]


class Observer:
    """Records which prompts each generation round used and how long the completions were."""

    def __init__(self):
        self.rounds = {}

    @hookimpl
    def on_rewards(self, trainer, batch):
        self.rounds[batch.step] = {"prompt_ids": list(batch.prompt_ids),
                                   "max_length": int(batch.completion_lengths.max()),
                                   "generations": batch.num_generations}


def _run(make_recipe, output_dir, resume=None):
    recipe = make_recipe(
        data={"train": "embedded:arithmetic", "options": {"n_train": 64, "n_test": 8, "max_operand": 99}},
        trainer={"per_device_train_batch_size": 4, "save_strategy": "steps", "save_steps": 2, "max_steps": 4},
        plugins={"fastcurl": {"stages": STAGES, "fresh_optimizer": False}}, output_dir=str(output_dir))
    pm = PluginManager(extra_modules=[("fastcurl", fastcurl_module)], discover=False)
    observer = Observer()
    pm.register_active("observer", observer)
    results = run_recipe(recipe, output_dir=str(output_dir), resume=resume, pm=pm)
    return results, observer


def _metrics(output_dir):
    rows = [json.loads(line) for line in (Path(output_dir) / "metrics.jsonl").read_text().splitlines()]
    return {row["step"]: row for row in rows if "schedule/stage" in row}


@pytest.fixture(scope="module")
def staged_run(tmp_path_factory, tiny_model_path):
    from trl_reasoning.config.recipe import recipe_from_dict
    from trl_reasoning.testing import TINY_TRAINER

    root = tmp_path_factory.mktemp("fastcurl")

    def make_recipe(**sections):
        data = {"model": {"name_or_path": tiny_model_path}, "trainer": dict(TINY_TRAINER),
                "rewards": [{"name": "boxed_integer", "config": {"lenient_value": 0.5}}]}
        for key, value in sections.items():
            data[key] = {**data[key], **value} if isinstance(data.get(key), dict) else value
        return recipe_from_dict(data)

    results, observer = _run(make_recipe, root / "run")
    return make_recipe, root, results, observer


def test_level_and_context_change_at_the_configured_step(staged_run):
    _, root, results, observer = staged_run
    assert results["train"]["global_step"] == 4
    metrics = _metrics(root / "run")
    # metrics.jsonl logs a step under its number after it ran: step 0 is logged as 1
    assert [metrics[s]["schedule/stage"] for s in (1, 2, 3, 4)] == [1, 1, 2, 3]
    assert [metrics[s]["schedule/level"] for s in (1, 2, 3, 4)] == [1, 1, 2, 0]  # short, short, long, all
    assert [metrics[s]["schedule/max_completion_length"] for s in (1, 2, 3, 4)] == [8, 8, 12, 8]
    assert all(metrics[s]["completions/max_length"] <= limit for s, limit in ((1, 8), (2, 8), (3, 12), (4, 8)))

    plugin = results["trainer"].pm.active["fastcurl"]
    short, long_ = set(plugin.levels["1"]), set(plugin.levels["2"])
    assert short and long_ and not short & long_
    assert all(i in short for step in (0, 1) for i in observer.rounds[step]["prompt_ids"])
    assert all(i in long_ for i in observer.rounds[2]["prompt_ids"])
    assert observer.rounds[2]["max_length"] > 8  # the new context is used on the stage's first step
    assert metrics[3]["fastcurl/prompt_chars_min"] > plugin.thresholds[0] >= metrics[2]["fastcurl/prompt_chars_max"]
    # the batch shape changed at step 3: a second trainer with 4 generations, started from the boundary checkpoint
    assert [observer.rounds[s]["generations"] for s in range(4)] == [2, 2, 2, 4]
    assert len(set(observer.rounds[3]["prompt_ids"])) == 1
    assert (root / "run" / "checkpoint-3" / "plugin_state.pt").exists()
    state = torch.load(root / "run" / "checkpoint-3" / "plugin_state.pt", weights_only=False)["fastcurl"]
    assert state["step"] == 3 and state["stage"] == 3 and state["cursors"] == {"1": 4, "2": 2, "all": 0}


@pytest.mark.parametrize("checkpoint, steps", [("checkpoint-2", (2, 3)), ("checkpoint-3", (3,))])
def test_resume_continues_in_the_right_stage_with_the_same_rows(staged_run, checkpoint, steps):
    """checkpoint-2: inside the first trainer, at the schedule switch to `long`; checkpoint-3: the trainer boundary."""
    make_recipe, root, _, first = staged_run
    out = root / f"resume-{checkpoint}"
    results, observer = _run(make_recipe, out, resume=str(root / "run" / checkpoint))
    assert results["train"]["global_step"] == 4
    assert sorted(observer.rounds) == list(steps)  # no step is repeated or skipped
    for step in steps:
        assert observer.rounds[step]["prompt_ids"] == first.rounds[step]["prompt_ids"]
        assert observer.rounds[step]["generations"] == first.rounds[step]["generations"]
    metrics = _metrics(out)
    expected = {3: (2, 2, 12), 4: (3, 0, 8)}
    for step in steps:
        row = metrics[step + 1]
        assert (row["schedule/stage"], row["schedule/level"], row["schedule/max_completion_length"]) == \
            expected[step + 1]
    plugin = results["trainer"].pm.active["fastcurl"]
    assert plugin.resumed_state is not None and plugin.resumed_state["stage"] == 3
