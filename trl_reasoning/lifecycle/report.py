"""Reports of a run: PNG plots of every logged curve and the results table.

``trl-reason report OUTPUT_DIR`` (also run at the end of every run) reads ``metrics.jsonl`` and writes
``plots/<metric>.png`` for reward, accuracy, completion length, entropy, KL, held-out accuracy and every metric a
plugin logs, plus ``plots/overview.png`` with the main curves side by side, and ``summary.md``: one row per metric
(first, last, min, max, number of points). A main curve the run did not log is named in the summary (KL, for
instance, is logged only when ``trainer.beta`` > 0).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from trl_reasoning.console import console

MAIN_CURVES = ("reward", "correct/rate", "completions/mean_length", "entropy", "kl", "heldout/accuracy",
               "heldout/lenient_accuracy")
SKIP = {"step", "time", "epoch", "total_flos", "train_runtime", "train_samples_per_second",
        "train_steps_per_second", "train_loss"}


def read_metrics(output_dir: str | Path) -> list[dict]:
    path = Path(output_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by a kill
    return rows


def curves(rows: list[dict]) -> dict[str, tuple[list[float], list[float]]]:
    """``{metric: (steps, values)}`` by step. A step logged twice (a run killed after logging steps past its last
    checkpoint, then resumed) keeps its last value: the resumed run's."""
    by_step: dict[str, dict] = {}
    for row in rows:
        step = row.get("step")
        for key, value in row.items():
            if key in SKIP or not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            if not math.isfinite(value):
                continue
            by_step.setdefault(key, {})[step] = value
    series: dict[str, tuple[list[float], list[float]]] = {}
    for key, points in by_step.items():
        steps = sorted(points, key=lambda s: (s is None, s if s is not None else 0))
        series[key] = (steps, [points[s] for s in steps])
    return series


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")


def write_plots(output_dir: str | Path) -> list[Path]:
    """Write one PNG per logged metric and an overview; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = curves(read_metrics(output_dir))
    if not series:
        return []
    plot_dir = Path(output_dir) / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (xs, ys) in sorted(series.items()):
        fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
        ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, linewidth=1.5, color="#1f77b4")
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = plot_dir / f"{_slug(name)}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    main = [name for name in MAIN_CURVES if name in series]
    if main:
        cols = min(3, len(main))
        rows = math.ceil(len(main) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.2 * rows), dpi=100, squeeze=False)
        for ax, name in zip(axes.flat, main):
            xs, ys = series[name]
            ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, linewidth=1.5)
            ax.set_title(name)
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[len(main):]:
            ax.axis("off")
        fig.tight_layout()
        path = plot_dir / "overview.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    write_summary(output_dir, series)
    return written


def summary_markdown(series: dict[str, tuple[list[float], list[float]]]) -> str:
    """The summary table: one row per logged metric, main curves first."""
    names = [n for n in MAIN_CURVES if n in series] + sorted(n for n in series if n not in MAIN_CURVES)
    lines = ["| metric | first | last | min | max | points |", "|---|---:|---:|---:|---:|---:|"]
    for name in names:
        ys = series[name][1]
        lines.append(f"| {name} | {ys[0]:.4g} | {ys[-1]:.4g} | {min(ys):.4g} | {max(ys):.4g} | {len(ys)} |")
    missing = [n for n in MAIN_CURVES if n not in series]
    if missing:
        lines += ["", "Not logged by this run: " + ", ".join(missing) + "."]
    return "\n".join(lines) + "\n"


def write_summary(output_dir: str | Path, series=None) -> Path:
    series = series if series is not None else curves(read_metrics(output_dir))
    path = Path(output_dir) / "summary.md"
    path.write_text(summary_markdown(series), encoding="utf-8")
    return path


def summary(rows: list[dict]) -> dict[str, tuple[float, float]]:
    """First and last value of each main curve."""
    series = curves(rows)
    return {name: (series[name][1][0], series[name][1][-1]) for name in MAIN_CURVES if name in series}


def print_results(results: dict, trainer=None) -> None:
    from rich.table import Table


    table = Table(title=f"results: {results.get('output_dir', '')}")
    table.add_column("metric")
    table.add_column("before", justify="right")
    table.add_column("after", justify="right")
    before, after = results.get("before") or {}, results.get("after") or {}
    for key in sorted(set(before) | set(after)):
        fmt = (lambda v: f"{v:.3f}" if isinstance(v, float) else str(v))
        table.add_row(f"held-out {key}", fmt(before.get(key, "-")), fmt(after.get(key, "-")))
    for name, (first, last) in summary(read_metrics(results.get("output_dir", "."))).items():
        if not name.startswith("heldout/"):
            table.add_row(f"train {name} (first/last step)", f"{first:.3f}", f"{last:.3f}")
    train = results.get("train") or {}
    table.add_row("steps", "", str(train.get("global_step", "")))
    table.add_row("elapsed (s)", "", str(results.get("elapsed_s", "")))
    console.print(table)


def report(output_dir: str | Path) -> list[Path]:
    """``trl-reason report``: plots and a summary table of a finished (or running) run."""
    from rich.table import Table


    rows = read_metrics(output_dir)
    if not rows:
        raise FileNotFoundError(f"no metrics.jsonl with data in {output_dir}")
    written = write_plots(output_dir)
    table = Table(title=f"run {output_dir}")
    table.add_column("metric")
    table.add_column("first", justify="right")
    table.add_column("last", justify="right")
    table.add_column("points", justify="right")
    for name, (xs, ys) in sorted(curves(rows).items()):
        table.add_row(name, f"{ys[0]:.4g}", f"{ys[-1]:.4g}", str(len(ys)))
    console.print(table)
    missing = [n for n in MAIN_CURVES if n not in curves(rows)]
    if missing:
        console.print(f"not logged by this run: {', '.join(missing)}")
    console.print(f"wrote {len(written)} plots to {Path(output_dir) / 'plots'} and {Path(output_dir) / 'summary.md'}")
    return written
