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
    assert reward.reports_correctness and reward.last_correct == [expected == 1.0]


def test_boxed_integer_reports_the_verdict_not_the_value():
    reward = BoxedIntegerReward(lenient_value=1.0)  # partial credit as large as full credit
    values = reward(prompts=[None, None], completions=["\\boxed{8}", "3 + 5 = 8"], answer=["8", "8"])
    assert values == [1.0, 1.0] and reward.last_correct == [True, False]


def test_strict_and_lenient_helpers():
    assert strict_correct("\\boxed{1,000}", "1000")
    assert last_number("it is 1,234 or 12") == "12"


# --- the arithmetic task's evaluator (no eval) ---------------------------------------------------------------------


@pytest.mark.parametrize("numbers, ops, expected", [
    ([7, 5], ["+"], 12), ([7, 5], ["-"], 2), ([7, 5], ["*"], 35),
    ([2, 3, 4], ["+", "*"], 14), ([2, 3, 4], ["*", "-"], 2), ([9, 2, 3, 2], ["-", "*", "*"], -3),
    ([1, 2, 3, 4], ["-", "-", "-"], -8), ([5], [], 5),
])
def test_arithmetic_evaluate_follows_precedence(numbers, ops, expected):
    from trl_reasoning.data.arithmetic import evaluate

    assert evaluate(numbers, ops) == expected


def test_mixed_operations_answers_match_the_expression():
    rows = arithmetic_rows({"operations": ["+", "-", "*"], "terms": 3, "n_train": 60, "n_test": 10})["train"]
    for row in rows:
        assert int(row["answer"]) == eval(row["problem"][8:-1])  # the test may use eval: our own generated text


# --- PromptFormat: the one renderer --------------------------------------------------------------------------------


SHOT = {"problem": "1 + 1?", "solution": "\\boxed{2}"}


@pytest.mark.parametrize("fmt, expected", [
    (dict(template="chat"), [{"role": "user", "content": "x?"}]),
    (dict(template="chat", system_prompt="S", user_template="Q: {problem}"),
     [{"role": "system", "content": "S"}, {"role": "user", "content": "Q: x?"}]),
    (dict(template="qwen25-math-cot", system_prompt=""), [{"role": "user", "content": "x?"}]),
    (dict(template="custom", user_template="<{problem}>"), [{"role": "user", "content": "<x?>"}]),
    (dict(template="plain", few_shot=[SHOT]), "1 + 1?\n\\boxed{2}\n\nx?"),
    (dict(template="deepseek", system_prompt="S"), "S\n\nUser: x?\n\nAssistant:"),
    (dict(template="deepseek3"), "<\uff5cUser\uff5c>x?<\uff5cAssistant\uff5c>"),
])
def test_prompt_format_table(fmt, expected):
    from trl_reasoning.data.prompts import PromptFormat

    prompt = PromptFormat(**fmt)
    assert prompt.render("x?") == expected
    assert prompt.conversational is isinstance(expected, list)
    assert render_prompt("x?", **fmt) == expected  # the older spelling renders the same


def test_prompt_format_from_section_and_template():
    from trl_reasoning.config.recipe import DataSection
    from trl_reasoning.data.prompts import PromptFormat

    section = DataSection(template="qwen25-math-cot", system_prompt="S", user_template="Q: {problem}", few_shot=[SHOT])
    fmt = PromptFormat.from_section(section)
    assert (fmt.template, fmt.system_prompt, fmt.user_template, fmt.few_shot) == \
        ("qwen25-math-cot", "S", "Q: {problem}", (SHOT,))
    custom = PromptFormat.from_template({"system": "T", "user": "[{problem}]"})
    assert custom.render("x") == [{"role": "system", "content": "T"}, {"role": "user", "content": "[x]"}]
    with pytest.raises(DataError, match="few_shot needs a chat template"):
        PromptFormat("deepseek", few_shot=(SHOT,))
    with pytest.raises(ValueError, match="keys 'system' and 'user'"):
        PromptFormat.from_template({"sys": "T"})


# --- one reader, one resolver ----------------------------------------------------------------------------------------


ROWS = [{"problem": "p1", "answer": "1"}, {"problem": "p2", "answer": "2"}]


def _write(path, kind):
    if kind == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    elif kind == "json":
        path.write_text(json.dumps(ROWS))
    elif kind == "json-data":
        path.write_text(json.dumps({"data": ROWS, "meta": {"n": 2}}))
    elif kind == "json-one-list":
        path.write_text(json.dumps({"test": ROWS}))
    elif kind == "csv":
        path.write_text("problem,answer\np1,1\np2,2\n")
    elif kind == "parquet":
        import pyarrow
        import pyarrow.parquet

        pyarrow.parquet.write_table(pyarrow.Table.from_pylist(ROWS), path)


@pytest.mark.parametrize("kind, suffix", [("jsonl", ".jsonl"), ("json", ".json"), ("json-data", ".json"),
                                          ("json-one-list", ".json"), ("csv", ".csv"), ("parquet", ".parquet")])
def test_read_rows_every_format(tmp_path, kind, suffix):
    from trl_reasoning.data.sources import read_rows

    path = tmp_path / f"rows{suffix}"
    _write(path, kind)
    assert read_rows(path) == ROWS
    assert load_rows(str(path)) == ROWS  # a training set reads the same file the same way


@pytest.mark.parametrize("name, text, words", [
    ("bad.jsonl", '{"problem": "p"}\n{oops\n', r"bad\.jsonl:2: not valid JSON"),
    ("bad.json", '{"a": [], "b": []}', "a mapping holding one list of rows"),
    ("bad.json", '"text"', "expected a list of rows, got str"),
    ("bad.txt", "x", r"unsupported file type '\.txt'"),
])
def test_read_rows_errors_name_the_file(tmp_path, name, text, words):
    from trl_reasoning.data.sources import read_rows

    (tmp_path / name).write_text(text)
    with pytest.raises(DataError, match=words):
        read_rows(tmp_path / name)


def test_resolve_order_data_dir_then_env_then_hub(tmp_path, monkeypatch):
    from trl_reasoning.data import sources
    from trl_reasoning.data.registry import DATASETS, HubSource

    arg, env = tmp_path / "arg", tmp_path / "env"
    arg.mkdir()
    env.mkdir()
    monkeypatch.setenv(sources.DATA_DIR_ENV, str(env))
    (env / "math500.jsonl").write_text("")
    (arg / "math500.parquet").write_text("")  # the same stem with another suffix counts
    assert sources.resolve("math500", arg) == arg / "math500.parquet"
    assert sources.resolve("math500", None) == env / "math500.jsonl"
    monkeypatch.delenv(sources.DATA_DIR_ENV)
    assert sources.resolve("math500") == DATASETS["math500"].hub          # a declared name: its Hub source
    assert sources.resolve("org/set", split="dev") == HubSource("org/set", "dev")   # a Hub id
    with pytest.raises(sources.DataNotFound, match="(?s)pi1.*not set.*no Hub source is declared"):
        sources.resolve("pi1")


def test_training_names_fall_back_to_the_declared_hub(monkeypatch):
    """A training set named like a benchmark reads the declared Hub source, with its column mapping."""
    from trl_reasoning.data import sources

    monkeypatch.delenv(sources.DATA_DIR_ENV, raising=False)
    asked = []

    def fake_hub(hub, revision=None):
        asked.append((hub.repo, hub.split, hub.config))
        return [{"problem": "q", "answer": "4"}]

    monkeypatch.setattr(sources, "read_hub_rows", fake_hub)
    assert load_rows("gsm8k") == [{"problem": "q", "answer": "4"}]
    assert asked == [("openai/gsm8k", "test", "main")]

    def offline(hub, revision=None):
        raise ConnectionError("no network")

    monkeypatch.setattr(sources, "read_hub_rows", offline)
    with pytest.raises(sources.DataNotFound, match="(?s)math500.*not set.*HuggingFaceH4/MATH-500.*no network"):
        load_rows("math500")
