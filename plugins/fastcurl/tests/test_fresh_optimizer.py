"""FastCuRL's fresh optimizer per stage (the authors' stages are separate verl jobs, each with a new AdamW): at a
stage boundary the next trainer starts with empty AdamW moments, step count 0 and a new LR schedule; a resume
inside a stage restores them; a resume from the boundary checkpoint starts fresh, as the uninterrupted run did.
With ``fresh_optimizer: false`` the state carries over (the contrast)."""

import sys

import pytest
import torch
from transformers import TrainerCallback

import trl_reason_fastcurl.plugin as fastcurl_module
from trl_reasoning import hookimpl
from trl_reasoning.plugins.manager import PluginManager
from trl_reasoning.run import run_recipe
from trl_reasoning.testing import ParityCorrect

# Steps 0-1: short prompts, 2 prompts x 2 completions; steps 2-3: all prompts, 1 prompt x 4 (a second trainer).
STAGES = [
    {"level": "short", "steps": 2, "max_completion_length": 8, "prompts_per_step": 2, "num_generations": 2},
    {"level": "all", "steps": 2, "max_completion_length": 8, "prompts_per_step": 1, "num_generations": 4},
]


def _adam(optimizer) -> dict:
    """AdamW's per-parameter state: the step counts (a set) and the largest |exp_avg| over all parameters."""
    state = getattr(optimizer, "optimizer", optimizer).state  # through accelerate's wrapper
    steps = {int(s["step"]) for s in state.values() if "step" in s}
    moment = max((float(s["exp_avg"].abs().max()) for s in state.values() if "exp_avg" in s), default=0.0)
    return {"steps": steps, "exp_avg_max": moment}


class Probe(TrainerCallback):
    """Records, for each trainer of the run, the optimizer and scheduler as training begins (after any resume)."""

    def __init__(self, log):
        self.log = log

    def on_train_begin(self, args, state, control, optimizer=None, lr_scheduler=None, **kwargs):
        self.log.append({"global_step": state.global_step, "scheduler_epoch": lr_scheduler.last_epoch,
                         **_adam(optimizer)})


@hookimpl
def register_rewards(register):
    register("parity_correct", ParityCorrect)


class ProbePlugin:
    def __init__(self):
        self.begins = []

    @hookimpl
    def trainer_ready(self, trainer):
        trainer.add_callback(Probe(self.begins))


def _run(tiny_model_path, output_dir, fresh, resume=None):
    from trl_reasoning.config.recipe import recipe_from_dict
    from trl_reasoning.testing import TINY_TRAINER

    recipe = recipe_from_dict({
        "model": {"name_or_path": tiny_model_path},
        "data": {"train": "embedded:arithmetic", "options": {"n_train": 64, "n_test": 8, "max_operand": 99}},
        "trainer": {**TINY_TRAINER, "per_device_train_batch_size": 4, "save_strategy": "steps", "save_steps": 1,
                    "max_steps": 4},
        "rewards": [{"name": "parity_correct"}],  # mixed groups, so the gradients are not zero
        "plugins": {"fastcurl": {"stages": STAGES, "fresh_optimizer": fresh}},
        "output_dir": str(output_dir)})
    pm = PluginManager(extra_modules=[("fastcurl", fastcurl_module), ("fresh_test_rewards", sys.modules[__name__])],
                       discover=False)
    probe = ProbePlugin()
    pm.register_active("probe", probe)
    results = run_recipe(recipe, output_dir=str(output_dir), resume=resume, pm=pm)
    return results, probe.begins


@pytest.fixture(scope="module")
def fresh_run(tmp_path_factory, tiny_model_path):
    root = tmp_path_factory.mktemp("fastcurl-fresh")
    results, begins = _run(tiny_model_path, root / "run", fresh=True)
    return root, results, begins


def test_stage_boundary_starts_a_fresh_optimizer_and_scheduler(fresh_run):
    _, results, begins = fresh_run
    assert results["train"]["global_step"] == 4
    first, second = begins
    assert first == {"global_step": 0, "scheduler_epoch": 0, "steps": set(), "exp_avg_max": 0.0}
    # the second trainer resumed from checkpoint-2 (weights, step, plugin state) but not its optimizer
    assert second == {"global_step": 2, "scheduler_epoch": 0, "steps": set(), "exp_avg_max": 0.0}
    # and after its two steps AdamW has counted two, not four
    final = _adam(results["trainer"].optimizer)
    assert final["steps"] == {2} and final["exp_avg_max"] > 0
    assert results["trainer"].lr_scheduler.last_epoch == 2


def test_without_fresh_optimizer_the_state_carries_over(tmp_path, tiny_model_path):
    results, begins = _run(tiny_model_path, tmp_path / "run", fresh=False)
    second = begins[1]
    assert second["global_step"] == 2 and second["steps"] == {2} and second["exp_avg_max"] > 0
    assert second["scheduler_epoch"] == 2
    assert _adam(results["trainer"].optimizer)["steps"] == {4}


def test_resume_inside_a_stage_restores_the_optimizer(fresh_run, tiny_model_path):
    root, _, _ = fresh_run
    saved = torch.load(root / "run" / "checkpoint-3" / "optimizer.pt", weights_only=True)
    assert {int(s["step"]) for s in saved["state"].values()} == {1}  # one step into stage 2
    results, begins = _run(tiny_model_path, root / "resume-inside", fresh=True,
                           resume=str(root / "run" / "checkpoint-3"))
    assert begins[0]["global_step"] == 3 and begins[0]["steps"] == {1} and begins[0]["exp_avg_max"] > 0
    assert begins[0]["scheduler_epoch"] == 1
    assert _adam(results["trainer"].optimizer)["steps"] == {2}


def test_resume_from_the_boundary_starts_fresh(fresh_run, tiny_model_path):
    root, _, _ = fresh_run
    results, begins = _run(tiny_model_path, root / "resume-boundary", fresh=True,
                           resume=str(root / "run" / "checkpoint-2"))
    assert begins[0] == {"global_step": 2, "scheduler_epoch": 0, "steps": set(), "exp_avg_max": 0.0}
    assert _adam(results["trainer"].optimizer)["steps"] == {2}
