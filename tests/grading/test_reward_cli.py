"""CorrectnessReward (TRL reward-function contract) and the `grade` command."""

from __future__ import annotations

import json

import pytest

from trl_reasoning.grading import grade_response
from trl_reasoning.grading.cli import main
from trl_reasoning.grading.reward import CorrectnessReward


def test_reward_scores_strings_and_conversations_and_logs_rates():
    reward = CorrectnessReward(correct_value=2.0, wrong_value=-1.0)
    logged = {}
    completions = [
        r"so \boxed{\frac12}",
        [{"role": "assistant", "content": r"\boxed{0.5}"}],
        "no box at all: 1/2",
        r"\boxed{7}",
    ]
    values = reward(
        prompts=["p"] * 4,
        completions=completions,
        completion_ids=None,
        answer=[r"\frac{1}{2}", r"\frac{1}{2}", r"\frac{1}{2}", ""],
        log_metric=lambda name, value: logged.__setitem__(name, value),
        trainer_state=None,
    )
    assert values == [2.0, 2.0, -1.0, -1.0]
    assert reward.is_correct(values) == [True, True, False, False]
    assert reward.__name__ == "correctness"
    assert logged == {"correctness/extract_fail_rate": 0.25, "correctness/ref_parse_fail_rate": 0.25}
    assert reward.extract_failures == 1 and reward.reference_failures == 1


def test_reward_caches_repeated_pairs():
    reward = CorrectnessReward(cache_size=2)
    reward(prompts=["p"] * 3, completions=[r"\boxed{x+1}"] * 3, answer=["1+x"] * 3)
    assert reward.cache_hits == 0
    assert reward(prompts=["p"], completions=[r"\boxed{x+1}"], answer=["1+x"]) == [1.0]
    assert reward.cache_hits == 1


def test_reward_fallbacks_and_missing_answer_column():
    assert CorrectnessReward(fallbacks=True)(prompts=["p"], completions=["The answer is 3."], answer=["3"]) == [1.0]
    with pytest.raises(ValueError, match="answer"):
        CorrectnessReward()(prompts=["p"], completions=["x"])


def test_grade_response_bare_answer():
    assert grade_response("3", "x = 3").equal
    assert grade_response("3", r"long working ... \boxed{3}").equal


def test_cli_single(capsys):
    assert main(["grade", "--reference", r"\frac{1}{2}", "--answer", r"so \boxed{0.5}"]) == 0
    assert capsys.readouterr().out.strip() == "equal (numeric)"


def test_cli_batch_keeps_input_order(tmp_path, capsys):
    rows = [("1, 3", "3, 1"), ("(1,2)", "(2,1)"), ("5", r"thus \boxed{5}"), ("", "1")]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps({"reference": r, "answer": a}) + "\n" for r, a in rows), encoding="utf-8")
    assert main(["grade", "--batch", str(path), "--processes", "2"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["equal"] for line in lines] == [True, False, True, False]
    assert lines[3]["reason"] == "unparseable-reference"
    assert set(lines[0]) == {"equal", "reason"}


def test_cli_reports_bad_batch_lines(tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"reference": "1"}\n', encoding="utf-8")
    assert main(["grade", "--batch", str(path)]) == 2
    assert "bad.jsonl:1" in capsys.readouterr().err
