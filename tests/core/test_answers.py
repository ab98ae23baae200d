"""The shared answer readers (``trl_reasoning.data.answers``): table-driven."""

from __future__ import annotations

import pytest

from trl_reasoning.data.answers import completion_text, last_number, lenient_correct, same_number


@pytest.mark.parametrize(("completion", "text"), [
    ("plain", "plain"),
    ([{"role": "assistant", "content": "8"}], "8"),
    ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}, {"role": "user", "content": "u"}], "a"),
    ([{"role": "assistant", "content": [{"type": "text", "text": "x"}, {"type": "text", "text": "y"}]}], "xy"),
    ({"content": "d"}, "d"),
    ([], ""),
    (None, ""),
])
def test_completion_text(completion, text):
    assert completion_text(completion) == text


@pytest.mark.parametrize(("a", "b", "equal"), [
    ("8", "8.0", True), ("1,250", "1250", True), ("3/4", "0.75", True), ("8", "9", False), (None, "8", False),
    ("(1, 2)", "(1, 2)", True), ("x", "y", False),
])
def test_same_number(a, b, equal):
    assert same_number(a, b) is equal


@pytest.mark.parametrize(("response", "number", "lenient"), [
    ("2 + 3 = 5. The answer is \\boxed{5}.", "5", True),
    ("it is 1,234 or 12", "12", False),
    ("x8 is a name, 7", "7", False),
])
def test_last_number_and_lenient_against_reference_8_or_5(response, number, lenient):
    assert last_number(response) == number
    assert lenient_correct(response, "5" if "boxed" in response else "8") is lenient
