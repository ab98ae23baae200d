"""The pure pieces under recipe validation and redaction, table-driven: ranges, token shapes, YAML expansion."""

from __future__ import annotations

import pytest

from trl_reasoning.config.schema import ConfigError, bounds, check_bounds, ordered_unit_interval, range_text
from trl_reasoning.config.recipe import check_yaml_events
from trl_reasoning.config.redact import redact, secret_problems


@pytest.mark.parametrize("spec, value, problem", [
    (bounds(ge=1), 1, None),
    (bounds(ge=1), 0, "must be >= 1, got 0"),
    (bounds(gt=0), 1e-9, None),
    (bounds(gt=0), 0.0, "must be > 0, got 0.0"),
    (bounds(ge=0, le=1), 1.0, None),
    (bounds(ge=0, le=1), 1.5, "must be >= 0 and <= 1, got 1.5"),
    (bounds(ge=0, lt=1), 1, "must be >= 0 and < 1, got 1"),
    (bounds(gt=0, also=(-1,)), -1, None),
    (bounds(gt=0, also=(-1,)), -2, "must be > 0 (or -1), got -2"),
    (bounds(ge=1), None, None),  # unset optional field
    (bounds(ge=0), [0.1, -0.2], "[1]: must be >= 0, got -0.2"),
    (bounds(check=ordered_unit_interval), [0.05, 0.95], None),
    (bounds(check=ordered_unit_interval), [0.9, 0.1], "expected [lo, hi] with 0 <= lo <= hi <= 1"),
    (bounds(check=ordered_unit_interval), [0.5], "expected [lo, hi], two numbers"),
])
def test_check_bounds(spec, value, problem):
    if problem is None:
        check_bounds(value, spec, "x")
        return
    with pytest.raises(ConfigError) as info:
        check_bounds(value, spec, "x")
    assert problem in str(info.value)


def test_range_text_writes_integers_as_integers():
    assert range_text(bounds(ge=0, lt=2**32)["bounds"]) == ">= 0 and < 4294967296"


TOKEN = "hf_" + "abcDEF123" * 3


@pytest.mark.parametrize("text, expected", [
    (f"token={TOKEN}", "token=hf_***REDACTED***"),
    (f"{TOKEN} and {TOKEN}", "hf_***REDACTED*** and hf_***REDACTED***"),
    ("hf_short", "hf_short"),  # not token-shaped: under 20 characters after the prefix
    ("github_pat_" + "A1" * 20, "github_pat_***REDACTED***"),
    ("sk-" + "z" * 24, "sk-***REDACTED***"),
    ("no secret here", "no secret here"),
])
def test_redact(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("data, found", [
    ({"trainer": {"hub_token": "anything"}}, [("trainer.hub_token", "holds a credential")]),
    ({"trainer": {"hub_token": None}}, []),
    ({"data": {"few_shot": [{"problem": TOKEN}]}}, [("data.few_shot[0].problem", "looks like an access token")]),
    ({"plugins": {"x": {TOKEN: 1}}}, [(f"plugins.x.{TOKEN}", "this key looks like an access token")]),
    ({"description": "a plain recipe"}, []),
])
def test_secret_problems(data, found):
    problems = list(secret_problems(data))
    assert [path for path, _ in problems] == [path for path, _ in found]
    for (_, why), (_, expected) in zip(problems, found):
        assert expected in why


@pytest.mark.parametrize("text, problem", [
    ("a: 1\nb: [1, 2, {c: 3}]\n", None),
    ("base: &b {x: 1}\nrun: {<<: *b, y: 2}\n", None),  # a merge key is an ordinary alias
    ("a: &a [" + ", ".join(["x"] * 100) + "]\n" + "".join(f"k{i}: *a\n" for i in range(60)), None),
    ("a: &a [" + ", ".join(["x"] * 400) + "]\n" + "".join(f"k{i}: *a\n" for i in range(60)), "expands to more than"),
    ("a: &a 1\n" + "".join(f"k{i}: *a\n" for i in range(65)), "more than 64 aliases"),
    ("a: &a [*a]\n", "recursive alias"),
    ("v: " + "[" * 70 + "]" * 70 + "\n", "nests deeper than 64"),
])
def test_check_yaml_events(text, problem):
    if problem is None:
        check_yaml_events(text)
        return
    with pytest.raises(ConfigError, match=problem):
        check_yaml_events(text)
