"""Secrets are never written, one run per output directory, and a Hub that cannot be reached is one line
(issue #21). Real runs of the tiny model; the busy-directory check starts a real `trl-reason run` and kills it."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

from trl_reasoning import hookimpl
from trl_reasoning.lifecycle.checkpoints import LOCK_FILE, RunLock
from trl_reasoning.cli.main import main
from trl_reasoning.testing import TINY_TRAINER, registered_plugin

TOKEN_SHAPE = re.compile(rb"hf_[A-Za-z0-9]{20,}")
RECIPE_TOKEN = "hf_" + "RecipeToken" * 3
PLUGIN_TOKEN = "hf_" + "PluginEcho" * 3
ENV_TOKEN = "hf_" + "EnvironmentToken" * 2


class LeakyPlugin:
    """A plugin that echoes a token into a metric and into its model-card section (a careless plugin)."""

    @hookimpl
    def metrics(self, trainer, mode):
        return {"note/endpoint": f"https://example.invalid/?token={PLUGIN_TOKEN}"}

    @hookimpl
    def model_card_sections(self, recipe, results):
        return [f"## Leaky\n\nTrained with token {PLUGIN_TOKEN}."]


def test_no_written_file_of_a_run_holds_a_token(make_recipe, run_recipe_steps, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", ENV_TOKEN)
    monkeypatch.setattr(sys, "argv", ["trl-reason", "run", "recipe.yaml", "--note", RECIPE_TOKEN])
    with registered_plugin("leaky", LeakyPlugin, activate=False) as pm:
        recipe = make_recipe(plugins={"leaky": {}}, trainer={"save_strategy": "steps", "save_steps": 1})
        results = run_recipe_steps(recipe, steps=2, pm=pm)
    output_dir = Path(results["output_dir"])
    written = [p for p in output_dir.rglob("*") if p.is_file()]
    names = {p.relative_to(output_dir).as_posix() for p in written}
    for expected in ("recipe.resolved.yaml", "provenance.json", "results.json", "metrics.jsonl", "README.md",
                     "checkpoint-2/trl_reasoning_checkpoint.json", "checkpoint-2/trainer_state.json"):
        assert expected in names, sorted(names)
    leaks = {p.relative_to(output_dir).as_posix(): TOKEN_SHAPE.findall(p.read_bytes())[:2] for p in written}
    assert not {k: v for k, v in leaks.items() if v}, "token-shaped strings were written"
    # the tokens did reach the writers (so the search above could have found them) and were redacted there
    assert "hf_***REDACTED***" in (output_dir / "metrics.jsonl").read_text()
    assert "hf_***REDACTED***" in (output_dir / "README.md").read_text()
    assert "hf_***REDACTED***" in (output_dir / "provenance.json").read_text()


def test_a_token_in_a_recipe_or_override_is_refused_with_the_reason(tmp_path, tiny_model_path, capsys):
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({"model": {"name_or_path": tiny_model_path}, "trainer": dict(TINY_TRAINER),
                                    "rewards": [{"name": "boxed_integer"}]}))
    for extra, key in ((["--set", f"trainer.hub_token={RECIPE_TOKEN}"], "trainer.hub_token"),
                       (["--set", "trainer.hub_token=secret"], "trainer.hub_token"),
                       (["--set", f"data.system_prompt=use {RECIPE_TOKEN}"], "data.system_prompt")):
        assert main(["run", str(path), "--output-dir", str(tmp_path / "out"), *extra]) == 2
        message = " ".join(capsys.readouterr().err.split())
        assert key in message and "HF_TOKEN" in message and "huggingface-cli login" in message, message
        assert RECIPE_TOKEN not in message
    assert not (tmp_path / "out").exists()


def _long_recipe(tmp_path: Path, model_dir: str) -> Path:
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump({
        "model": {"name_or_path": model_dir},
        "data": {"train": "embedded:arithmetic", "options": {"n_train": 64, "n_test": 4}},
        "trainer": {**TINY_TRAINER, "max_steps": 10_000},
        "rewards": [{"name": "boxed_integer"}],
    }))
    return path


def test_a_second_run_into_a_busy_output_directory_exits_2_naming_the_first(tmp_path, tiny_model_path, capsys):
    recipe = _long_recipe(tmp_path, tiny_model_path)
    output_dir = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen([sys.executable, "-m", "trl_reasoning.cli.main", "run", str(recipe), "--output-dir",
                              str(output_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        lock_file = output_dir / LOCK_FILE
        deadline = time.time() + 240
        holder = None
        while time.time() < deadline and first.poll() is None:
            try:
                holder = json.loads(lock_file.read_text())
                break
            except (OSError, ValueError):
                time.sleep(0.5)
        assert first.poll() is None, first.stderr.read().decode()[-2000:]
        assert holder and holder["pid"] == first.pid
        started = time.perf_counter()
        status = main(["run", str(recipe), "--output-dir", str(output_dir)])
        elapsed = time.perf_counter() - started
        message = " ".join(capsys.readouterr().err.split())
        assert status == 2
        assert f"{output_dir} is in use by another run (pid {first.pid}, started {holder['started']}" in message
        assert str(recipe) in message  # the first run's command
        assert "Traceback" not in message
        assert elapsed < 30, "the second run loaded something before refusing"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    # the operating system released the killed run's lock: a new run may take the directory
    lock = RunLock(output_dir).acquire()
    assert json.loads((output_dir / LOCK_FILE).read_text())["pid"] == os.getpid()
    lock.release()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_push_to_an_unreachable_hub_is_one_line(tmp_path, tiny_model_path, make_recipe):
    run = tmp_path / "run"
    shutil.copytree(tiny_model_path, run / "final")
    (run / "recipe.resolved.yaml").write_text(make_recipe().to_yaml())
    port = _closed_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_HUB_OFFLINE")}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{port}", HF_TOKEN=ENV_TOKEN, COLUMNS="400")
    proc = subprocess.run([sys.executable, "-m", "trl_reasoning.cli.main", "push", str(run), "--repo-id", "me/tiny"],
                          capture_output=True, text=True, env=env, timeout=180)
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert len(lines) == 1, lines
    assert f"cannot reach the Hub at http://127.0.0.1:{port}" in lines[0] and "HF_ENDPOINT" in lines[0], lines
    assert ENV_TOKEN not in lines[0] and "Traceback" not in lines[0]
