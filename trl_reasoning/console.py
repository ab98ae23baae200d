"""The consoles trl-reasoning prints through.

* ``console`` (stderr): progress, warnings and errors, so that stdout stays machine-readable.
* ``stdout_console`` (stdout): what a command reports (``trl-reason plugins``, ``trl-reason recipes``), so that
  ``trl-reason plugins | grep hapo`` works; ``--json`` gives the same as JSON for scripts.

Both look up ``sys.stderr``/``sys.stdout`` when they print (pytest's capture and redirections see them).
``print_table(title, columns, rows)`` prints a command's table to stdout: a rich table on a terminal, plain
aligned lines (one row a line, never wrapped) in a pipe or a file.
``live_progress()`` says whether a live progress bar fits: only when both streams are terminals; otherwise (a pipe,
a log file, CI) training prints one plain line per optimizer step (``trainers.callbacks.RichProgressCallback``).
"""

import sys

from rich.console import Console

console = Console(stderr=True)
stdout_console = Console(soft_wrap=True)


def live_progress() -> bool:
    """True when a live (redrawn) progress bar is readable: stderr (the console) and stdout are terminals."""
    stdout = sys.stdout
    return bool(console.is_terminal and stdout is not None and hasattr(stdout, "isatty") and stdout.isatty())


def print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    """A command's report on stdout: a rich table on a terminal; elsewhere a header and one unwrapped line per row."""
    if stdout_console.is_terminal:
        from rich.table import Table

        table = Table(title=title)
        for index, column in enumerate(columns):
            table.add_column(column, no_wrap=index == 0)
        for row in rows:
            table.add_row(*row)
        stdout_console.print(table)
        return
    widths = [max([len(column)] + [len(row[i]) for row in rows]) for i, column in enumerate(columns[:-1])]

    def line(cells):
        return "  ".join([cell.ljust(width) for cell, width in zip(cells, widths)] + [cells[-1]]).rstrip()

    print(f"# {title}")
    print(line(columns))
    for row in rows:
        print(line(row))


def format_duration(seconds: float | None) -> str:
    """``59.4 -> "59s"``, ``61 -> "1m01s"``, ``3725 -> "1h02m05s"``; ``None`` (not known yet) -> ``"-"``."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "-"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def remaining_seconds(steps_done_here: int, seconds_here: float, steps_left: int) -> float | None:
    """Time left at this run's mean step time so far (steps of this process only, so a resume starts afresh)."""
    if steps_done_here <= 0:
        return None
    return seconds_here / steps_done_here * max(steps_left, 0)


def step_line(step: int, max_steps: int, reward: float | None, correct_rate: float | None, step_seconds: float,
              elapsed_seconds: float, remaining: float | None) -> str:
    """One optimizer step as one plain line (training's progress when the output is not a terminal)::

        step 3/30  reward 0.412  correct 0.25  step 24.1s  elapsed 1m12s  remaining 10m51s
    """
    reward_text = "-" if reward is None else f"{reward:.3f}"
    correct_text = "-" if correct_rate is None else f"{correct_rate:.2f}"
    return (f"step {step}/{max_steps}  reward {reward_text}  correct {correct_text}  step {step_seconds:.1f}s  "
            f"elapsed {format_duration(elapsed_seconds)}  remaining {format_duration(remaining)}")
