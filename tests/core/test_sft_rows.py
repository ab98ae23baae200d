"""The `sft` trainer's data: recipe rows rendered as prompt/completion pairs (pure, no model)."""

from __future__ import annotations

import pytest

from trl_reasoning.data import DataError
from trl_reasoning.config.recipe import DataSection
from trl_reasoning.trainers.sft import sft_rows


@pytest.mark.parametrize("template, row, column, prompt, completion", [
    ("chat", {"problem": "What is 1 + 2?", "solution": "1 + 2 = 3."}, "solution",
     [{"role": "user", "content": "What is 1 + 2?"}], [{"role": "assistant", "content": "1 + 2 = 3."}]),
    ("plain", {"problem": "What is 1 + 2?", "solution": "3"}, "solution", "What is 1 + 2?", "3"),
    # ShareGPT pairwise rows (TrRa's calibration set): last turn of `conversations`, the `chosen` message
    ("chat", {"problem": [{"from": "human", "value": "Q?"}], "chosen": {"from": "gpt", "value": "A."}}, "chosen",
     [{"role": "user", "content": "Q?"}], [{"role": "assistant", "content": "A."}]),
])
def test_sft_rows(template, row, column, prompt, completion):
    [out] = sft_rows([row], DataSection(train="x", template=template), column)
    assert out == {"prompt": prompt, "completion": completion}


def test_missing_completion_names_the_column():
    with pytest.raises(DataError, match="completion_column"):
        sft_rows([{"problem": "Q"}], DataSection(train="x"), "solution")


@pytest.mark.parametrize("template, expected", [
    ("\\boxed{{{answer}}}", "\\boxed{3}"),
    ("{problem} -> {answer}", "What is 1 + 2? -> 3"),
])
def test_completion_template_builds_the_target_from_the_row(template, expected):
    row = {"problem": "What is 1 + 2?", "answer": "3", "solution": "1 + 2 = 3. The answer is \\boxed{3}."}
    [out] = sft_rows([row], DataSection(train="x", template="plain"), "solution", template)
    assert out["completion"] == expected


def test_completion_template_naming_a_missing_column_says_so():
    with pytest.raises(DataError, match=r"completion_template .*KeyError.*'answr'"):
        sft_rows([{"problem": "Q", "answer": "1"}], DataSection(train="x"), "solution", "\\boxed{{{answr}}}")
