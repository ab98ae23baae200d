"""Suite-wide test setup: at the end of a run, say how many tests were skipped and why, grouped by reason.

A bare clone runs without the full benchmark files (``TRL_REASONING_DATA_DIR`` unset); the tests that need them
skip with a reason starting "needs the full benchmark files", and this summary makes that visible without ``-rs``.
"""

from __future__ import annotations

from collections import Counter


def skip_reason(report) -> str:
    """The reason a skipped test report gives (pytest stores ``(path, line, "Skipped: reason")`` for skips)."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
    else:
        reason = str(longrepr)
    return reason.removeprefix("Skipped: ")


def skipped_by_reason(reports) -> Counter:
    """How many skipped reports give each reason (xfail reports, which pytest also files as skipped, are left out)."""
    return Counter(skip_reason(report) for report in reports if not hasattr(report, "wasxfail"))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    counts = skipped_by_reason(terminalreporter.stats.get("skipped", []))
    if not counts:
        return
    total = sum(counts.values())
    terminalreporter.write_line(f"{total} test(s) skipped, by reason:")
    for reason, count in counts.most_common():
        terminalreporter.write_line(f"  {count:4d}  {reason}")
