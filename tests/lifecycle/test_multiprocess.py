"""Two CPU processes (`trl-reason run --num-processes 2` -> torchrun, gloo): plugin state is equal on both ranks and
the checkpoint holds both ranks' RNG states."""

from __future__ import annotations

import json
import sys

from trl_reasoning.lifecycle import checkpoints
from trl_reasoning.run.launch import launch_command

from lifecycle_helpers import lifecycle_recipe, probe_env, run_cli, trl_reason, write_recipe


def test_two_cpu_processes_keep_plugin_state_equal(tmp_path, probe_site, tiny_model_path):
    output, logs = tmp_path / "run", tmp_path / "logs"
    logs.mkdir()
    recipe = write_recipe(lifecycle_recipe(tiny_model_path, output, max_steps=2, save_steps=2), tmp_path / "r.yaml")
    result = run_cli(trl_reason("run", str(recipe), "--num-processes", "2"),
                     probe_env(probe_site, LIFECYCLE_PROBE_LOG_DIR=logs), tmp_path)
    assert "torch.distributed.run --standalone --nproc_per_node 2" in result.stderr
    states = [json.loads((logs / f"state-rank{rank}.json").read_text()) for rank in (0, 1)]
    assert states[0] == states[1]
    assert states[0]["rounds"] == 2
    assert all(len(ids) == 2 for ids in states[0]["prompt_ids"].values())  # 2 groups: one per rank's 4 rows
    rounds = [[json.loads(line) for line in (logs / f"rounds-rank{rank}.jsonl").read_text().splitlines()]
              for rank in (0, 1)]
    assert [(r["step"], r["prompt_ids"], r["completions"]) for r in rounds[0]] == \
        [(r["step"], r["prompt_ids"], r["completions"]) for r in rounds[1]]  # the gathered batch is global
    assert rounds[0][0]["pid"] != rounds[1][0]["pid"]
    checkpoint = output / "checkpoint-2"
    assert checkpoints.is_complete(checkpoint)
    assert (checkpoint / "rng_state_0.pth").exists() and (checkpoint / "rng_state_1.pth").exists()
    assert checkpoints.read_meta(checkpoint)["world_size"] == 2
    assert json.loads((output / "provenance.json").read_text())["world_size"] == 2
    assert "differs between ranks" not in result.stderr


def test_launch_command_picks_the_launcher():
    argv = ["run", "r.yaml", "--set", "trainer.max_steps=2"]
    cpu = launch_command(argv, 2, None, use_gpu=False)
    assert cpu[:6] == [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    assert cpu[6:] == ["-m", "trl_reasoning.cli.main", *argv]
    gpu = launch_command(argv, 4, None, use_gpu=True)
    assert gpu[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert gpu[3:6] == ["--num_processes", "4", "--multi_gpu"]
    zero3 = launch_command(argv, None, "zero3.yaml", use_gpu=True)
    assert zero3[3:5] == ["--config_file", "zero3.yaml"] and "--multi_gpu" not in zero3
    assert zero3[-len(argv) - 2:] == ["-m", "trl_reasoning.cli.main", *argv]


def test_no_relaunch_inside_a_launched_process(monkeypatch):
    import argparse

    from trl_reasoning.run.launch import maybe_relaunch, run_arguments

    args = argparse.Namespace(recipe="r.yaml", set=["a=1"], output_dir="out", resume=True,
                              allow_resume_mismatch=True, num_processes=2, accelerate_config=None)
    assert run_arguments(args) == ["run", "r.yaml", "--set", "a=1", "--output-dir", "out", "--resume",
                                   "--allow-resume-mismatch"]
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert maybe_relaunch(args) is None
    monkeypatch.delenv("WORLD_SIZE")
    monkeypatch.delenv("LOCAL_RANK")
    args.num_processes = 1
    assert maybe_relaunch(args) is None
