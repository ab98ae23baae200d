"""Helpers of the lifecycle tests: a tiny recipe, the probe plugin's environment, running `trl-reason`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent


def lifecycle_recipe(model_path: str, output_dir: Path, max_steps: int, save_steps: int | None = None,
                     **trainer) -> dict:
    settings = {"algorithm": "grpo", "max_steps": max_steps, "num_generations": 4, "per_device_train_batch_size": 4,
                "max_completion_length": 8, "learning_rate": 1.0e-3, "temperature": 1.0, **trainer}
    if save_steps:
        settings.update(save_strategy="steps", save_steps=save_steps)
    return {"model": {"name_or_path": model_path},
            "data": {"train": "embedded:arithmetic", "options": {"n_train": 64, "n_test": 8}},
            "trainer": settings,
            "rewards": [{"name": "boxed_integer", "config": {"lenient_value": 0.5}}],
            "plugins": {"lifecycle_probe": {}},
            "output_dir": str(output_dir), "seed": 7}


def resume_recipe(model_path: str, output_dir: Path) -> dict:
    """The run the resume test kills and resumes, and that the shared `finished_run` fixture runs uninterrupted:
    4 steps, checkpoints at 2 and 4, KL on (beta > 0, so the report has a KL curve)."""
    return lifecycle_recipe(model_path, output_dir, max_steps=4, save_steps=2, beta=0.05)


def write_recipe(data: dict, path: Path) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def probe_env(site: Path, **extra) -> dict:
    env = os.environ.copy()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    env["TRL_REASONING_LOAD_PLUGINS"] = "lifecycle_probe"  # other installed plugins stay out of these runs
    env.pop("TRL_REASONING_TEST_MODEL", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def trl_reason(*args: str) -> list[str]:
    return [sys.executable, "-m", "trl_reasoning.cli.main", *args]


def run_cli(args: list[str], env: dict, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {result.returncode}\n{result.stdout[-3000:]}\n"
                             f"{result.stderr[-6000:]}")
    return result


def wait_for(path: Path, process: subprocess.Popen, log: Path, timeout: float = 400) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"the run exited ({process.returncode}) before {path.name}:\n"
                                 f"{log.read_text()[-6000:]}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"{path.name} did not appear within {timeout} s:\n{log.read_text()[-6000:]}")
        time.sleep(0.2)


def probe_manager():
    """In-process: the core and the probe only (no other installed plugin)."""
    import lifecycle_probe

    from trl_reasoning.plugins.manager import PluginManager

    return PluginManager(extra_modules=[("lifecycle_probe", lifecycle_probe)], discover=False)
