"""Checkpoints and resume: a run SIGKILLed mid-save resumes from the previous whole checkpoint and ends exactly
like an uninterrupted run (global step, plugin state, data order, even the sampled completions)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
import torch

from trl_reasoning.lifecycle import checkpoints
from trl_reasoning.cli.main import main
from trl_reasoning.config.schema import ConfigError

from lifecycle_helpers import (lifecycle_recipe, probe_env, probe_manager, resume_recipe, trl_reason, wait_for,
                               write_recipe)


def _rounds(log_dir: Path, rank: int = 0) -> list[dict]:
    path = log_dir / f"rounds-rank{rank}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _run_in_process(recipe_dict: dict, log_dir: Path, monkeypatch, resume=None) -> dict:
    from trl_reasoning.config.recipe import recipe_from_dict
    from trl_reasoning.run import run_recipe

    log_dir.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("LIFECYCLE_PROBE_LOG_DIR", str(log_dir))
    return run_recipe(recipe_from_dict(recipe_dict), pm=probe_manager(), resume=resume)


def test_killed_during_a_save_resumes_like_an_uninterrupted_run(tmp_path, probe_site, tiny_model_path,
                                                                 finished_run, monkeypatch):
    killed_dir, logs = tmp_path / "killed", tmp_path / "killed-logs"
    logs.mkdir()
    recipe = write_recipe(resume_recipe(tiny_model_path, killed_dir), tmp_path / "recipe.yaml")
    # 1. `trl-reason run` until the save of step 4 is under way (model and optimizer written, plugin state not yet),
    #    then SIGKILL it
    log = tmp_path / "killed.log"
    with log.open("w") as out:
        process = subprocess.Popen(trl_reason("run", str(recipe)), cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
                                   env=probe_env(probe_site, LIFECYCLE_PROBE_LOG_DIR=logs,
                                                 LIFECYCLE_PROBE_HANG_IN_SAVE_AT_STEP=4))
        wait_for(logs / "hanging-in-save-4", process, log)
        staged = Path(checkpoints.staging_root(killed_dir)) / "checkpoint-4"
        assert (staged / "model.safetensors").exists() and (staged / "optimizer.pt").exists()
        assert not (killed_dir / "checkpoint-4").exists()
        assert checkpoints.is_complete(killed_dir / "checkpoint-2")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert checkpoints.latest_checkpoint(killed_dir) == str(killed_dir / "checkpoint-2")
    assert checkpoints.incomplete_checkpoints(killed_dir) == [str(staged)]

    # 2. `trl-reason run RECIPE --resume` (in this process, the probe found through its entry point) picks
    #    checkpoint-2, the last whole one, and finishes the run
    monkeypatch.syspath_prepend(str(probe_site))
    monkeypatch.setenv("TRL_REASONING_LOAD_PLUGINS", "lifecycle_probe")
    monkeypatch.setenv("LIFECYCLE_PROBE_LOG_DIR", str(logs))
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(recipe), "--resume"]) == 0
    provenance = json.loads((killed_dir / "provenance.json").read_text())
    assert provenance["resumed_from"] == str(killed_dir / "checkpoint-2")
    assert json.loads((killed_dir / "results.json").read_text())["train"]["global_step"] == 4
    assert checkpoints.is_complete(killed_dir / "checkpoint-4")
    assert not os.path.exists(checkpoints.staging_root(killed_dir))  # the next save cleared the leftovers

    # 3. against the same recipe run uninterrupted (the `finished_run` fixture)
    reference_logs = finished_run.parent / "probe-logs"
    assert json.loads((finished_run / "results.json").read_text())["train"]["global_step"] == 4
    killed_rounds = _rounds(logs)
    first_pid = killed_rounds[0]["pid"]
    before_kill = [r for r in killed_rounds if r["pid"] == first_pid and r["step"] < 2]
    after_resume = [r for r in killed_rounds if r["pid"] != first_pid]
    interrupted = [(r["step"], r["prompt_ids"], r["completions"]) for r in before_kill + after_resume]
    uninterrupted = [(r["step"], r["prompt_ids"], r["completions"]) for r in _rounds(reference_logs)]
    assert [r[0] for r in uninterrupted] == [0, 1, 2, 3]
    assert [r[:2] for r in interrupted] == [r[:2] for r in uninterrupted]  # data order: prompt ids per step
    assert interrupted == uninterrupted  # and the sampled completions (model, optimizer and RNG restored)

    # plugin state (rounds, prompt ids per step, the plugin's own generator) is the same at the end
    assert json.loads((logs / "state-rank0.json").read_text()) == \
        json.loads((reference_logs / "state-rank0.json").read_text())
    resumed_meta = checkpoints.read_meta(killed_dir / "checkpoint-4")
    reference_meta = checkpoints.read_meta(finished_run / "checkpoint-4")
    assert resumed_meta["plugin_state_sha256"] == reference_meta["plugin_state_sha256"]
    assert resumed_meta["data_fingerprint"] == reference_meta["data_fingerprint"]
    assert resumed_meta["generation_block_offset"] == 0

    # 4. resuming with other data is refused before the first step
    changed = resume_recipe(tiny_model_path, killed_dir)
    changed["data"]["options"]["n_train"] = 32
    with pytest.raises(checkpoints.ResumeMismatch, match="fingerprint"):
        _run_in_process(changed, tmp_path / "mismatch-logs", monkeypatch, resume=str(killed_dir / "checkpoint-2"))


def test_latest_checkpoint_takes_only_complete_ones(tmp_path):
    for step in (1, 2, 3):
        (tmp_path / f"checkpoint-{step}").mkdir()
    checkpoints.write_meta(str(tmp_path / "checkpoint-1"), {"global_step": 1})
    checkpoints.write_meta(str(tmp_path / "checkpoint-2"), {"global_step": 2})
    staged = Path(checkpoints.staging_root(tmp_path)) / "checkpoint-4"
    staged.mkdir(parents=True)
    checkpoints.write_meta(str(staged), {"global_step": 4})  # whole but never renamed: not a checkpoint
    assert checkpoints.latest_checkpoint(tmp_path) == str(tmp_path / "checkpoint-2")
    assert checkpoints.list_checkpoints(tmp_path, complete_only=False)[-1] == str(tmp_path / "checkpoint-3")

    assert checkpoints.resolve_resume(True, str(tmp_path)) == str(tmp_path / "checkpoint-2")
    with pytest.raises(ConfigError, match="half-written checkpoint"):
        checkpoints.resolve_resume(str(staged), str(tmp_path))
    with pytest.raises(ConfigError, match="no complete checkpoint"):
        checkpoints.resolve_resume(True, str(tmp_path / "nothing-here"))


def test_resume_path_must_be_whole(tmp_path, monkeypatch):
    """`--resume PATH`: a checkpoint without trainer_state.json, or without our metadata (unless mismatches are
    allowed), is refused at `--resume` with what is missing and the checkpoint to use instead."""
    whole, partial = tmp_path / "checkpoint-1", tmp_path / "checkpoint-2"
    for folder in (whole, partial):
        folder.mkdir()
        (folder / checkpoints.TRAINER_STATE_FILE).write_text("{}")
    checkpoints.write_meta(str(whole), {"global_step": 1})
    assert checkpoints.resolve_resume(str(whole), str(tmp_path)) == str(whole)
    with pytest.raises(ConfigError, match=f"no {checkpoints.META_FILE}.*--resume {whole}"):
        checkpoints.resolve_resume(str(partial), str(tmp_path))
    monkeypatch.setenv(checkpoints.ALLOW_MISMATCH_ENV, "1")
    assert checkpoints.resolve_resume(str(partial), str(tmp_path)) == str(partial)
    (whole / checkpoints.TRAINER_STATE_FILE).unlink()
    with pytest.raises(ConfigError, match="half-written: it has no trainer_state.json") as error:
        checkpoints.resolve_resume(str(whole), str(tmp_path))
    assert error.value.path == "--resume"
    with pytest.raises(ConfigError, match="not found"):
        checkpoints.resolve_resume(str(tmp_path / "checkpoint-9"), str(tmp_path))


def test_commit_replaces_an_existing_checkpoint_whole(tmp_path):
    final = tmp_path / "checkpoint-2"
    final.mkdir()
    (final / "old").write_text("old")
    staged = Path(checkpoints.staging_root(tmp_path)) / "checkpoint-2"
    staged.mkdir(parents=True)
    (staged / "new").write_text("new")
    checkpoints.commit(str(staged), str(final))
    assert sorted(p.name for p in final.iterdir()) == ["new"]
    assert not Path(checkpoints.staging_root(tmp_path)).exists()


@pytest.mark.parametrize("saved, current, expected", [
    ({"trainer": {"learning_rate": 1e-3, "max_steps": 4}}, {"trainer": {"learning_rate": 1e-3, "max_steps": 8}}, []),
    ({"trainer": {"learning_rate": 1e-3}}, {"trainer": {"learning_rate": 5e-4}},
     ["trainer.learning_rate: 0.001 -> 0.0005"]),
    ({"plugins": {"hapo": {"w": 1}}}, {"plugins": {}}, ["plugins.hapo.w: 1 -> '<unset>'"]),
    ({"output_dir": "a", "hub": {"push": "end"}, "eval": {"limit": 5}},
     {"output_dir": "b", "hub": {"push": "never"}, "eval": {"limit": 9}}, []),
])
def test_recipe_differences(saved, current, expected):
    assert checkpoints.recipe_differences(saved, current) == expected


def test_resume_problems_name_data_and_world_size():
    meta = {"data_fingerprint": "aaa", "world_size": 2, "recipe": None}
    problems = checkpoints.resume_problems(meta, data_fingerprint="bbb", recipe=None, world_size=1)
    assert [p.split(" ")[0] for p in problems] == ["training", "number"]


def test_state_digest_ignores_device_and_container_identity():
    a = {"x": torch.arange(3), "y": [1.5, {"z": "q"}]}
    b = {"y": [1.5, {"z": "q"}], "x": torch.arange(3).clone()}
    assert checkpoints.state_digest(a) == checkpoints.state_digest(b)
    assert checkpoints.state_digest(a) != checkpoints.state_digest({**a, "x": torch.arange(1, 4)})


@pytest.mark.slow
def test_resume_inside_a_generation_block_keeps_the_data_order(tmp_path, tiny_model_path, monkeypatch):
    """steps_per_generation=2: one generation feeds two optimizer steps; checkpoint-1 sits inside the block."""
    settings = dict(max_steps=4, save_steps=1, steps_per_generation=2)
    reference_logs, resumed_logs = tmp_path / "ref-logs", tmp_path / "resumed-logs"
    _run_in_process(lifecycle_recipe(tiny_model_path, tmp_path / "ref", **settings), reference_logs, monkeypatch)
    assert checkpoints.read_meta(tmp_path / "ref" / "checkpoint-1")["generation_block_offset"] == 1
    resumed = _run_in_process(lifecycle_recipe(tiny_model_path, tmp_path / "ref", **settings), resumed_logs,
                              monkeypatch, resume=str(tmp_path / "ref" / "checkpoint-1"))
    assert resumed["train"]["global_step"] == 4
    reference = [(r["step"], r["prompt_ids"]) for r in _rounds(reference_logs)]
    again = [(r["step"], r["prompt_ids"]) for r in _rounds(resumed_logs)]
    # the interrupted block is regenerated (same prompts, new completions) at step 1; later blocks line up
    assert reference == [(0, reference[0][1]), (2, reference[1][1])]
    assert again == [(1, reference[0][1]), (2, reference[1][1])]


@pytest.mark.slow
def test_resume_at_and_after_an_epoch_boundary_keeps_the_data_order(tmp_path, tiny_model_path, monkeypatch):
    """4 training rows, one prompt a step: an epoch is 4 steps. Resuming at the boundary (checkpoint-4) and inside
    the second epoch (checkpoint-6) replays the uninterrupted run's second-epoch order (TRL's own sampler restarts
    its generator in a new process and would replay the first epoch's)."""
    import shutil

    def recipe(output_dir):
        data = lifecycle_recipe(tiny_model_path, output_dir, max_steps=8, save_steps=2)
        data["data"]["options"]["n_train"] = 4
        return data

    reference_logs = tmp_path / "ref-logs"
    _run_in_process(recipe(tmp_path / "ref"), reference_logs, monkeypatch)
    reference = {r["step"]: r["prompt_ids"] for r in _rounds(reference_logs)}
    assert sorted(reference) == list(range(8))
    first, second = [reference[s] for s in range(4)], [reference[s] for s in range(4, 8)]
    assert sorted(map(tuple, first)) == sorted(map(tuple, second)) and first != second  # a reshuffled epoch
    for step in (4, 6):
        run_dir = tmp_path / f"resumed-{step}"
        shutil.copytree(tmp_path / "ref", run_dir)
        logs = tmp_path / f"resumed-{step}-logs"
        result = _run_in_process(recipe(run_dir), logs, monkeypatch, resume=str(run_dir / f"checkpoint-{step}"))
        assert result["train"]["global_step"] == 8
        again = {r["step"]: r["prompt_ids"] for r in _rounds(logs)}
        assert again == {s: reference[s] for s in range(step, 8)}, step
