"""CorrectnessReward (TRL reward-function contract) and the `grade` command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trl_reasoning.grading import grade_response
from trl_reasoning.cli.grade import main
from trl_reasoning.rewards.correctness import CorrectnessReward


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
    assert reward.reports_correctness and reward.last_correct == [True, True, False, False]
    assert reward.__name__ == "correctness"
    assert logged == {
        "correctness/extract_fail_rate": 0.25,
        "correctness/ref_parse_fail_rate": 0.25,
        "correctness/timeouts": 0.0,
    }
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


def test_reward_counts_timeouts_and_logs_them():
    reward = CorrectnessReward(timeout=3.0)
    logged = {}
    values = reward(
        prompts=["p"] * 2,
        completions=[r"\boxed{2^{2^{2^{100}}}}", r"\boxed{x+1}"],
        answer=["5", "1+x"],
        log_metric=lambda name, value: logged.__setitem__(name, value),
    )
    assert values == [0.0, 1.0]
    assert logged["correctness/timeouts"] == 1.0
    assert reward.timeouts == 1 and reward.last_verdicts[0].reason == "timeout"


def test_reward_reads_several_boxes_as_a_list_only_for_list_references():
    reward = CorrectnessReward()
    completions = [r"so $\boxed{2}$ and $\boxed{5}$.", r"so $\boxed{2}$ and $\boxed{5}$."]
    assert reward(prompts=["p"] * 2, completions=completions, answer=["2, 5", "5"]) == [1.0, 1.0]
    # a single-answer reference reads the last box only; a list reference never reads one box of it
    assert reward(prompts=["p"], completions=[r"\boxed{2}"], answer=["2, 5"]) == [0.0]


# the installed console script, as a user runs it (defect: the subcommand once registered `func=`
# where the CLI dispatches on `handler`, so `trl-reason grade` printed the top-level help)
CONSOLE_SCRIPT = Path(sys.executable).with_name("trl-reason")


def _console(*args: str) -> subprocess.CompletedProcess:
    if not CONSOLE_SCRIPT.exists():
        pytest.skip(f"the trl-reason console script is not installed next to {sys.executable}")
    return subprocess.run([str(CONSOLE_SCRIPT), *args], capture_output=True, text=True, timeout=180)


def test_console_script_grades_one_answer_and_a_batch(tmp_path):
    # two real runs of the installed entry point (each starts the plugin manager: slow on a busy machine)
    done = _console("grade", "--reference", r"\frac12", "--answer", r"so \boxed{0.5}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "equal (numeric)"
    rows = [(r"\frac12", r"so \boxed{0.5}"), ("1, 3", r"\boxed{3} and \boxed{1}"), ("10\\%", "The answer is 0.1."), ("5", "x")]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps({"reference": r, "answer": a}) + "\n" for r, a in rows), encoding="utf-8")
    done = _console("grade", "--batch", str(path), "--processes", "1")
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["equal"] for line in done.stdout.splitlines()] == [True, True, True, False]


def test_top_level_cli_dispatches_grade(capsys):
    from trl_reasoning.cli.main import main as trl_reason

    assert trl_reason(["grade", "--reference", "7", "--answer", r"so \boxed{8}"]) == 0
    assert capsys.readouterr().out.strip() == "not equal (not-equal)"
    assert trl_reason(["grade", "--reference", "1"]) == 2
    assert "--answer" in capsys.readouterr().err
