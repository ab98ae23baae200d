"""`trl-reason report` on a finished run writes PNGs that open and are not blank, and a summary table; report_to
passes through to TRL while metrics.jsonl is always written."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from trl_reasoning.cli.main import main


def test_report_writes_plots_and_a_summary(finished_run, capsys):
    for old in (finished_run / "plots").glob("*.png"):
        old.unlink()
    assert main(["report", str(finished_run)]) == 0
    plots = finished_run / "plots"
    wanted = {"reward": "reward.png", "accuracy": "correct_rate.png",
              "completion length": "completions_mean_length.png",
              "entropy": "entropy.png", "KL": "kl.png", "plugin metric": "lifecycle_probe_rounds.png",
              "overview": "overview.png"}
    for what, name in wanted.items():
        path = plots / name
        assert path.exists(), f"no {what} plot ({name})"
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("L"), dtype=np.float64)
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100
        assert pixels.var() > 100.0, f"{name} looks blank (pixel variance {pixels.var():.1f})"
        assert (pixels < 128).mean() > 0.005, f"{name} has almost no ink"
    summary = (finished_run / "summary.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in summary.splitlines() if line.startswith("| ")}
    for metric in ("reward", "correct/rate", "completions/mean_length", "entropy", "kl", "lifecycle_probe/rounds"):
        assert metric in rows
    assert rows["lifecycle_probe/rounds"].split("|")[2:4] == [" 1 ", " 4 "]  # first, last
    assert "kl" in capsys.readouterr().err  # the table on the console


def test_metrics_jsonl_always_written_and_report_to_passes_through(finished_run, make_recipe):
    lines = [json.loads(line) for line in (finished_run / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in lines if "reward" in row] == [1, 2, 3, 4]
    assert all("lifecycle_probe/rounds" in row for row in lines if "reward" in row)

    from trl_reasoning.run import build_config, prepare

    quiet = build_config(prepare(make_recipe()), "/tmp/unused")
    assert quiet.report_to in ([], ["none"], "none")  # nothing external unless the recipe asks
    loud = build_config(prepare(make_recipe(trainer={"report_to": ["tensorboard", "wandb"]})), "/tmp/unused")
    assert loud.report_to == ["tensorboard", "wandb"]
