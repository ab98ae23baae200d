"""The plain progress line of one optimizer step (training's output when it is not a terminal): pure functions."""

from __future__ import annotations

import pytest

from trl_reasoning.console import format_duration, remaining_seconds, step_line


@pytest.mark.parametrize("seconds, text", [
    (None, "-"), (float("nan"), "-"), (-1.0, "-"), (0.0, "0s"), (0.4, "0s"), (59.4, "59s"), (59.6, "1m00s"),
    (61.0, "1m01s"), (3599.0, "59m59s"), (3600.0, "1h00m00s"), (3725.0, "1h02m05s"), (90061.0, "25h01m01s"),
])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("done, seconds, left, expected", [
    (0, 0.0, 10, None),          # nothing measured yet
    (1, 20.0, 29, 580.0),
    (4, 10.0, 6, 15.0),          # 2.5 s a step
    (3, 9.0, 0, 0.0),            # finished
    (3, 9.0, -1, 0.0),           # past max_steps never goes negative
])
def test_remaining_seconds(done, seconds, left, expected):
    assert remaining_seconds(done, seconds, left) == expected


@pytest.mark.parametrize("args, line", [
    ((3, 30, 0.4123, 0.25, 24.06, 72.0, 651.0),
     "step 3/30  reward 0.412  correct 0.25  step 24.1s  elapsed 1m12s  remaining 10m51s"),
    ((1, 2, None, None, 0.5, 0.5, None),
     "step 1/2  reward -  correct -  step 0.5s  elapsed 0s  remaining -"),
    ((2, 2, -1.0, 1.0, 3.0, 6.0, 0.0),
     "step 2/2  reward -1.000  correct 1.00  step 3.0s  elapsed 6s  remaining 0s"),
])
def test_step_line(args, line):
    assert step_line(*args) == line
