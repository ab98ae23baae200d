"""Rich tables for evaluation results (one row per benchmark plus the average) and checkpoint sweeps."""

from __future__ import annotations

from typing import Any

_SHOWN_LAST = ("accuracy", "mean_response_tokens", "truncated_rate", "answer_rate")
_HEADERS = {"mean_response_tokens": "tokens", "truncated_rate": "truncated", "answer_rate": "answered"}


def _metric_columns(results: dict[str, Any]) -> list[str]:
    keys: list[str] = []
    for bench in results["benchmarks"].values():
        for key in bench["metrics"]:
            if key.startswith(("pass@", "maj@")) and key not in keys:  # avg@n is "accuracy"
                keys.append(key)
    order = {"pass": 0, "maj": 1}
    keys.sort(key=lambda k: (order[k.split("@")[0]], int(k.split("@")[1])))
    return keys + [k for k in _SHOWN_LAST if any(k in b["metrics"] for b in results["benchmarks"].values())]


def _cell(key: str, value) -> str:
    if value is None:
        return "-"
    if key == "mean_response_tokens":
        return f"{value:.1f}"
    return f"{100 * value:.1f}"


def results_table(results: dict[str, Any]):
    """A ``rich.table.Table``: rates in percent, lengths in tokens."""
    from rich.table import Table

    columns = _metric_columns(results)
    table = Table(title=f"{results['model']} ({results['backend']})", title_justify="left")
    table.add_column("benchmark", style="bold")
    table.add_column("problems", justify="right")
    table.add_column("n@temp", justify="right")
    for key in columns:
        table.add_column(_HEADERS.get(key, key), justify="right")
    for name, bench in results["benchmarks"].items():
        metrics, settings = bench["metrics"], bench["settings"]
        table.add_row(
            f"{name} v{bench['version']}", str(metrics["num_problems"]), f"{settings['n']}@{settings['temperature']:g}",
            *(_cell(key, metrics.get(key)) for key in columns),
        )
    if len(results["benchmarks"]) > 1:
        average = results["average"]
        table.add_row("average", "", "", *(_cell(key, average.get(key)) for key in columns), style="italic")
    table.caption = "rates in %, tokens = mean completion length; accuracy = avg@n (mean pass@1 over samples)"
    return table


def screen_console(console=None):
    from rich.console import Console

    if console is not None:
        return console
    console = Console()
    return console if console.is_terminal else Console(width=140)  # files and pipes: do not squeeze columns


def print_results(results: dict[str, Any], console=None) -> None:
    screen_console(console).print(results_table(results))


def checkpoints_table(rows: list[dict[str, Any]], best: str | None):
    """One row per checkpoint: step, average accuracy and each benchmark's accuracy; the best one starred."""
    from rich.table import Table

    names = list(rows[0]["accuracy"]) if rows else []
    table = Table(title="checkpoints (accuracy = mean pass@1 over samples, %)", title_justify="left")
    table.add_column("checkpoint", style="bold")
    table.add_column("average", justify="right")
    for name in names:
        table.add_column(name, justify="right")
    for row in rows:
        mark = " *" if row["checkpoint"] == best else ""
        table.add_row(row["checkpoint"] + mark, _cell("accuracy", row["average"]),
                      *(_cell("accuracy", row["accuracy"][name]) for name in names))
    return table
