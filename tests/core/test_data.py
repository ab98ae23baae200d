"""The embedded arithmetic task, prompt rendering and data-file lookup."""

from __future__ import annotations

import json

import pytest

from trl_reasoning.data import DataError, arithmetic_rows, load_rows, render_prompt
from trl_reasoning.rewards.boxed_integer import BoxedIntegerReward, last_number, strict_correct


def test_arithmetic_is_seeded_disjoint_and_exact():
    first = arithmetic_rows({"max_operand": 20, "n_train": 300, "n_test": 50})
    again = arithmetic_rows({"max_operand": 20, "n_train": 300, "n_test": 50})
    assert first == again
    train = {r["problem"] for r in first["train"]}
    test = {r["problem"] for r in first["test"]}
    assert not train & test and len(first["test"]) == 50
    for row in first["train"][:50]:
        a, b = row["problem"].removeprefix("What is ").rstrip("?").split(" + ")
        assert int(row["answer"]) == int(a) + int(b)
        assert row["solution"].endswith(f"\\boxed{{{row['answer']}}}.")


@pytest.mark.parametrize("options, problem_re", [
    ({"terms": 3, "operations": ["*"], "max_operand": 5}, r"What is \d \* \d \* \d\?"),
    ({"operations": ["-"], "min_operand": 10, "max_operand": 99}, r"What is \d\d - \d\d\?"),
])
def test_difficulty_knobs(options, problem_re):
    import re

    rows = arithmetic_rows({**options, "n_train": 20, "n_test": 5})["train"]
    for row in rows:
        assert re.fullmatch(problem_re, row["problem"])
        assert int(row["answer"]) == eval(row["problem"][8:-1])


def test_unknown_option_names_the_nearest():
    with pytest.raises(Exception, match="data.options.max_operandd.*'max_operand'"):
        arithmetic_rows({"max_operandd": 3})


def test_render_prompt_templates_and_few_shot():
    shots = [{"problem": "What is 1 + 1?", "solution": "\\boxed{2}"}]
    messages = render_prompt("What is 2 + 2?", "chat", system_prompt="Be brief.", few_shot=shots)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == "\\boxed{2}" and messages[-1]["content"] == "What is 2 + 2?"
    cot = render_prompt("x?", "qwen25-math-cot")
    assert cot[0]["content"] == "Please reason step by step, and put your final answer within \\boxed{}."
    assert render_prompt("x?", "plain", user_template="Q: {problem}\nA:") == "Q: x?\nA:"
    with pytest.raises(DataError, match="unknown template"):
        render_prompt("x", "fancy")


def test_local_names_resolve_through_the_data_dir(tmp_path, monkeypatch):
    (tmp_path / "pi1.jsonl").write_text(json.dumps({"problem": "p", "answer": "12.8"}) + "\n")
    monkeypatch.setenv("TRL_REASONING_DATA_DIR", str(tmp_path))
    assert load_rows("pi1") == [{"problem": "p", "answer": "12.8"}]
    with pytest.raises(DataError) as info:
        load_rows("nosuch")
    assert "data.data_dir" in str(info.value) and str(tmp_path / "nosuch.jsonl") in str(info.value)


@pytest.mark.parametrize("text, answer, expected", [
    ("3 + 5 = 8. The answer is \\boxed{8}.", "8", 1.0),
    ("The answer is \\boxed{ 8 }", "8", 1.0),
    ("3 + 5 = 8", "8", 0.5),            # lenient credit only
    ("\\boxed{9}", "8", 0.0),
    ("\\boxed{8} or \\boxed{9}", "8", 0.0),  # only the last box counts
    ("", "8", 0.0),
])
def test_boxed_integer_reward_table(text, answer, expected):
    reward = BoxedIntegerReward(lenient_value=0.5)
    assert reward(prompts=[None], completions=[text], answer=[answer]) == [expected]
    assert reward.is_correct([expected]) == [expected == 1.0]


def test_strict_and_lenient_helpers():
    assert strict_correct("\\boxed{1,000}", "1000")
    assert last_number("it is 1,234 or 12") == "12"
