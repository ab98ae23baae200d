"""Every trainer resumes exactly: GRPO, PPO, SFT (the InRa CPU recipe) and distill (the TrRa CPU recipe), each
SIGKILLed at three points and resumed with `--resume` from its last whole checkpoint, write the same weights
(max abs difference 0.0) and end with the same plugin state as an uninterrupted run.

One run per trainer is killed three times, each time resumed (a resume of a resumed run):
1. mid-step 2: ``generation`` for the rollout trainers (completions scored, no loss yet), ``optimizer`` for SFT
   and distill (gradients computed, the optimizer step not taken);
2. mid-save of checkpoint 2 (TRL's files written into the staging directory, ours not yet);
3. between steps 2 and 3 (checkpoint 2 committed, step 3 not begun).
After each resume the weights it writes next (the staged step-2 model, checkpoint-2, the final model) are compared
with the uninterrupted run's. Each killed run is a fork of the test process that SIGKILLs itself where the probe
plugin's ``LIFECYCLE_PROBE_KILL`` says (``lifecycle_probe.py``), so the imports are paid once. Three steps of two
rows, a checkpoint every step, no plots.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import traceback
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from trl_reasoning.cli.main import main
from trl_reasoning.lifecycle import checkpoints

from lifecycle_helpers import lifecycle_recipe, write_recipe

ROOT = Path(__file__).resolve().parents[2]
STEPS = 3
MID_STEP = {"grpo": "generation", "ppo": "generation", "sft": "optimizer", "distill": "optimizer"}


def _cpu_recipe(path: str, tiny: str, output_dir: Path) -> dict:
    """A CPU recipe file on the tiny model, cut to STEPS steps of two rows with a checkpoint each step."""
    data = yaml.safe_load((ROOT / path).read_text())
    data["test_model"] = tiny  # TRL_REASONING_TEST_MODEL: every model (TrRa's aligned one too) is the tiny one
    data["data"]["options"] = {"n_train": 16, "n_test": 4}
    data["trainer"].update(max_steps=STEPS, per_device_train_batch_size=2, max_length=64, learning_rate=1e-3,
                           save_strategy="steps", save_steps=1)
    data["eval"] = {"before": False, "after": False}
    data["plugins"]["lifecycle_step_probe"] = {}  # the probe without its rollout hook
    data["output_dir"] = str(output_dir)
    return data


def recipe_for(trainer: str, tiny: str, output_dir: Path) -> dict:
    if trainer == "sft":
        return _cpu_recipe("recipes/inra/cpu.yaml", tiny, output_dir)
    if trainer == "distill":
        return _cpu_recipe("recipes/trra/cpu.yaml", tiny, output_dir)
    extra = {"algorithm": "ppo", "critic_warmup_steps": 0} if trainer == "ppo" else {}
    return lifecycle_recipe(tiny, output_dir, max_steps=STEPS, save_steps=1, **extra)


def plugin_manager():
    """The core, the probe and the method plugins these recipes use (nothing else that is installed)."""
    import lifecycle_probe
    import lifecycle_step_probe
    import trl_reason_inra.plugin as inra
    import trl_reason_ppo.plugin as ppo
    import trl_reason_trra.plugin as trra

    from trl_reasoning.plugins.manager import PluginManager

    return PluginManager(extra_modules=[("lifecycle_probe", lifecycle_probe), ("lifecycle_step_probe",
                                         lifecycle_step_probe), ("inra", inra), ("ppo", ppo), ("trra", trra)],
                         discover=False)


def run(recipe: dict, logs: Path, resume=None) -> dict:
    from trl_reasoning.config.recipe import recipe_from_dict
    from trl_reasoning.run import run_recipe

    logs.mkdir(parents=True, exist_ok=True)
    previous = os.environ.get("LIFECYCLE_PROBE_LOG_DIR")
    os.environ["LIFECYCLE_PROBE_LOG_DIR"] = str(logs)
    try:
        return run_recipe(recipe_from_dict(recipe), pm=plugin_manager(), resume=resume, plots=False)
    finally:
        if previous is None:
            os.environ.pop("LIFECYCLE_PROBE_LOG_DIR", None)
        else:
            os.environ["LIFECYCLE_PROBE_LOG_DIR"] = previous


def run_until_killed(recipe: dict, logs: Path, kill: str, resume=None) -> None:
    """Run ``recipe`` in a forked child that SIGKILLs itself at ``kill`` (``POINT:STEP``); the child never
    returns into pytest."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child
        code = 3
        try:
            torch.set_num_threads(1)
            os.environ["LIFECYCLE_PROBE_KILL"] = kill
            run(recipe, logs, resume=resume)
            code = 4  # finished: the kill point was never reached
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, \
        f"the run was to die of SIGKILL at {kill}; wait status {status} (exit code 4: it finished; 3: it raised)"


def tensors(*folders: Path) -> dict[str, torch.Tensor]:
    """Every tensor of the ``*.safetensors`` files under ``folders`` (PPO's ``critic/`` included), keyed by folder
    index, relative path and tensor name."""
    found = {}
    for index, folder in enumerate(folders):
        for path in sorted(Path(folder).rglob("*.safetensors")):
            for name, tensor in load_file(path).items():
                found[f"{index}:{path.relative_to(folder).as_posix()}:{name}"] = tensor
    return found


def max_abs_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a and sorted(a) == sorted(b)
    return max((x.float() - b[k].float()).abs().max().item() for k, x in a.items())


def same_plugin_state(a: Path, b: Path) -> bool:
    return checkpoints.read_meta(a)["plugin_state_sha256"] == checkpoints.read_meta(b)["plugin_state_sha256"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, tiny_model_path):
    """The uninterrupted run of each trainer's recipe, run once on first use."""
    done: dict[str, Path] = {}

    def get(trainer: str) -> Path:
        if trainer not in done:
            root = tmp_path_factory.mktemp(f"uninterrupted-{trainer}")
            run(recipe_for(trainer, tiny_model_path, root / "run"), root / "logs")
            done[trainer] = root / "run"
        return done[trainer]

    return get


@pytest.mark.parametrize("trainer", ["grpo", "ppo", "sft", "distill"])
def test_killed_at_three_points_resumes_exactly(trainer, tmp_path, tiny_model_path, uninterrupted):
    reference = uninterrupted(trainer)
    killed, logs = tmp_path / "run", tmp_path / "logs"
    recipe = recipe_for(trainer, tiny_model_path, killed)
    staging = Path(checkpoints.staging_root(killed))
    measured = {}

    # 1. mid-step 2
    kill = f"{MID_STEP[trainer]}:1"
    run_until_killed(recipe, logs, kill)
    assert checkpoints.latest_checkpoint(killed) == str(killed / "checkpoint-1")

    # 2. resumed from checkpoint-1, killed while saving checkpoint-2 (TRL's files written, ours not)
    run_until_killed(recipe, logs, "save:2", resume=True)
    assert checkpoints.latest_checkpoint(killed) == str(killed / "checkpoint-1")
    assert checkpoints.incomplete_checkpoints(killed) == [str(staging / "checkpoint-2")]
    assert not (killed / "checkpoint-2").exists()
    # the step-2 weights this resumed run computed (left in the staging directory) are the uninterrupted ones
    measured[kill] = max_abs_difference(tensors(staging / "checkpoint-2"), tensors(reference / "checkpoint-2"))

    # 3. resumed from checkpoint-1 again, killed once checkpoint-2 is committed, before step 3
    run_until_killed(recipe, logs, "between:2", resume=True)
    assert checkpoints.latest_checkpoint(killed) == str(killed / "checkpoint-2")
    assert not staging.exists()  # the next save cleared the leftovers
    measured["save:2"] = max_abs_difference(tensors(killed / "checkpoint-2"), tensors(reference / "checkpoint-2"))
    assert same_plugin_state(killed / "checkpoint-2", reference / "checkpoint-2")

    # 4. resumed from checkpoint-2 to the end
    result = run(recipe, logs, resume=True)
    assert result["train"]["global_step"] == STEPS
    last, reference_last = killed / f"checkpoint-{STEPS}", reference / f"checkpoint-{STEPS}"
    measured["between:2"] = max_abs_difference(tensors(killed / "final", last),
                                               tensors(reference / "final", reference_last))
    print(f"max abs weight difference after resuming {trainer} killed at {measured}")
    assert measured == {kill: 0.0, "save:2": 0.0, "between:2": 0.0}
    assert same_plugin_state(last, reference_last)
    state = checkpoints.read_plugin_state(last)
    assert sorted(state) == sorted(checkpoints.read_plugin_state(reference_last))
    probe = "lifecycle_step_probe" if trainer in ("sft", "distill") else "lifecycle_probe"
    assert state[probe]["steps"] == STEPS
    assert checkpoints.read_meta(last)["data_fingerprint"] == checkpoints.read_meta(reference_last)["data_fingerprint"]


@pytest.mark.parametrize("damage", ["staging", "no-trainer-state", "no-metadata"])
def test_resume_path_refuses_a_half_written_checkpoint(damage, tmp_path, tiny_model_path, uninterrupted, capsys,
                                                       monkeypatch, probe_site):
    """`trl-reason run --resume PATH` on a half-written checkpoint exits 2 naming what is missing, before any model
    loads."""
    run_dir = tmp_path / "run"
    shutil.copytree(uninterrupted("sft"), run_dir)
    target = run_dir / "checkpoint-2"
    if damage == "staging":
        staged = Path(checkpoints.staging_root(run_dir)) / "checkpoint-3"
        shutil.copytree(target, staged)
        target = staged
    elif damage == "no-trainer-state":
        (target / checkpoints.TRAINER_STATE_FILE).unlink()
    else:
        (target / checkpoints.META_FILE).unlink()
    recipe = write_recipe(recipe_for("sft", tiny_model_path, run_dir), tmp_path / "recipe.yaml")

    import trl_reasoning.models

    def no_load(*args, **kwargs):
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(trl_reasoning.models, "_pretrained", no_load)
    monkeypatch.syspath_prepend(str(probe_site))
    monkeypatch.setenv("TRL_REASONING_LOAD_PLUGINS", "lifecycle_step_probe,inra")
    assert main(["run", str(recipe), "--resume", str(target)]) == 2
    err = capsys.readouterr().err
    expected = {"staging": "half-written checkpoint", "no-trainer-state": "no trainer_state.json",
                "no-metadata": f"no {checkpoints.META_FILE}"}[damage]
    assert "--resume" in err and expected in " ".join(err.split()), err
    assert "Traceback" not in err
