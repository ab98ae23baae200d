r"""QuestA's hint construction, fraction schedule and pool rule: exact strings, table-driven."""

import pytest

from trl_reason_questa.hints import (answer_in_solution, char_prefix, correct_histogram, fraction_at, hinted_problem,
                                     keep_for_pool, solution_block, token_prefix, with_hint)

SOLUTION = "12 + 34 = 46. 46 - 5 = 41. The answer is \\boxed{41}."  # 52 characters


@pytest.mark.parametrize("fraction, expected", [
    # int(52 * 0.5) = 26 characters
    (0.5, "What is 12 + 34 - 5?\n\n## Hint.12 + 34 = 46. 46 - 5 = 41."),
    # int(52 * 0.25) = 13 characters
    (0.25, "What is 12 + 34 - 5?\n\n## Hint.12 + 34 = 46."),
    # int(52 * 0.2) = 10 characters: exactly the minimum, so a hint
    (0.2, "What is 12 + 34 - 5?\n\n## Hint.12 + 34 = "),
    # int(52 * 0.1) = 5 characters < 10: no hint, but the separator stays (add_prefix.py: problem + "\n\n")
    (0.1, "What is 12 + 34 - 5?\n\n"),
    (0.0, "What is 12 + 34 - 5?\n\n"),
    (1.0, "What is 12 + 34 - 5?\n\n## Hint." + SOLUTION),
])
def test_hinted_problem_exact_strings(fraction, expected):
    assert len(SOLUTION) == 52
    assert hinted_problem("What is 12 + 34 - 5?", SOLUTION, fraction) == expected


def test_hint_is_cut_from_the_text_after_think():
    generation = "<think>\nlet me add 12 and 34 ...\n</think>\n\n**Step 1.** 12 + 34 = 46.\n**Answer** 41"
    block = solution_block(generation)
    assert block == "\n\n**Step 1.** 12 + 34 = 46.\n**Answer** 41"
    assert hinted_problem("P", generation, 0.5) == "P\n\n## Hint." + block[: int(len(block) * 0.5)]
    assert "think" not in hinted_problem("P", generation, 1.0)
    assert solution_block(generation, after_think=False) == generation
    assert solution_block("no reasoning here") == "no reasoning here"


@pytest.mark.parametrize("generation, after_think, block", [
    ('"<think>\nr\n</think>\n\n12 + 34 = 46."', True, "\n\n12 + 34 = 46."),   # stored quoted: both quotes go
    ("<think>\nr\n</think>\n\n12 + 34 = 46.", True, "\n\n12 + 34 = 46."),
    ('"Quoted solution."', False, '"Quoted solution."'),                    # a plain solution column is kept
])
def test_a_quoted_generation_loses_its_quotes_as_add_prefix_does(generation, after_think, block):
    assert solution_block(generation, after_think) == block
    # the cut counts the characters of the unquoted block
    assert hinted_problem("P", generation, 0.7, after_think=after_think, min_prefix_chars=1) == (
        "P\n\n## Hint." + block[: int(len(block) * 0.7)])


@pytest.mark.parametrize("prefix, expected", [
    ("0123456789", "P\n\n## Hint.0123456789"),
    ("012345678", "P\n\n"),
    ("", "P\n\n"),
])
def test_with_hint_minimum_prefix(prefix, expected):
    assert with_hint("P", prefix) == expected


def test_custom_marker_and_separator():
    assert with_hint("P", "0123456789", marker="Hint: ", separator="\n") == "P\nHint: 0123456789"


def test_token_prefix():
    words = "alpha beta gamma delta epsilon zeta eta theta"  # 8 "tokens"

    def encode(text):
        return list(range(len(text.split())))

    def decode(ids):
        return " ".join(words.split()[i] for i in ids)

    assert token_prefix(words, 0.5, encode, decode) == "alpha beta gamma delta"
    assert token_prefix(words, 0.3, encode, decode) == "alpha beta"  # int(8 * 0.3) = 2
    assert hinted_problem("P", words, 0.5, encode=encode, decode=decode) == "P\n\n## Hint.alpha beta gamma delta"


@pytest.mark.parametrize("fraction", [-0.1, 1.5])
def test_fraction_range(fraction):
    with pytest.raises(ValueError, match="fraction"):
        char_prefix("abc", fraction)


@pytest.mark.parametrize("answer, solution, expected", [
    ("41", SOLUTION, True), ("42", SOLUTION, False), ("41", "<think>41</think> no answer", False)])
def test_answer_in_solution(answer, solution, expected):
    assert answer_in_solution(answer, solution) is expected


@pytest.mark.parametrize("step, fraction", [(0, 0.5), (99, 0.5), (100, 0.25), (5000, 0.25)])
def test_fraction_schedule_paper(step, fraction):
    assert fraction_at([(0, 0.5), (100, 0.25)], step) == fraction


def test_fraction_schedule_unsorted_and_invalid():
    assert fraction_at([(10, 0.0), (0, 0.5), (5, 0.25)], 7) == 0.25
    with pytest.raises(ValueError, match="start_step 0"):
        fraction_at([(3, 0.5)], 0)
    with pytest.raises(ValueError, match="empty"):
        fraction_at([], 0)


@pytest.mark.parametrize("correct, keep", [(0, True), (4, True), (5, False), (8, False)])
def test_pool_rule_paper(correct, keep):
    assert keep_for_pool(correct, lo=0, hi=4) is keep


def test_pool_rule_band_and_histogram():
    assert [keep_for_pool(k, lo=1, hi=6) for k in (0, 1, 6, 7)] == [False, True, True, False]
    assert correct_histogram([0, 0, 3, 8, 4], 8) == [2, 0, 0, 1, 1, 0, 0, 0, 1]
    with pytest.raises(ValueError):
        correct_histogram([9], 8)


# -- the plugin's hook methods without a trainer ------------------------------------------------------------------

from trl_reasoning import PromptFormat  # noqa: E402

from trl_reason_questa.plugin import HintPhase, Plugin, prompt_variant  # noqa: E402
from trl_reasoning.testing import make_rollout_batch  # noqa: E402

ROW = {"problem": "What is 12 + 34 - 5?", "answer": "41", "solution": SOLUTION, "prompt_id": 7,
       "prompt": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q: What is 12 + 34 - 5?"}]}


def test_transform_prompt_rebuilds_the_prompt_with_the_recipe_template():
    plugin = Plugin(Plugin.Config())
    plugin.prompt_format = PromptFormat(template="chat", system_prompt="S", user_template="Q: {problem}")
    plugin.schedule(trainer=None, step=0)
    row = plugin.transform_prompt(trainer=None, row=dict(ROW))
    assert row["prompt"] == [{"role": "system", "content": "S"},
                             {"role": "user", "content": "Q: What is 12 + 34 - 5?\n\n## Hint.12 + 34 = 46. 46 - 5 = 41."}]
    assert row["prompt_id"] == 7 and row["problem"] == ROW["problem"] and row["prompt_variant"] == "hint=0.50"
    first = row
    assert plugin.schedule(trainer=None, step=100) == {"hint_fraction": 0.25}
    plugin.prompt_format = None  # a trainer built without a recipe: the hint replaces the problem inside the prompt
    row = plugin.transform_prompt(trainer=None, row=dict(ROW))
    assert row["prompt"][-1]["content"] == "Q: What is 12 + 34 - 5?\n\n## Hint.12 + 34 = 46."
    assert row["prompt_variant"] == "hint=0.25"
    assert plugin.metrics(trainer=None, mode="train") is None  # transforming is side-effect free (PCL's pool)
    plain = plugin.transform_prompt(trainer=None, row={**ROW, "answer": "42"})  # no hint: the unhinted variant
    batch = make_rollout_batch([[1, 0], [0, 0], [1, 1]])
    batch.rows = [r for r in (first, row, plain) for _ in range(2)]
    plugin.on_rewards(trainer=None, batch=batch)  # counted from what was generated, at this step's fraction
    assert plugin.metrics(trainer=None, mode="train") == {"questa/hinted_fraction": 2 / 3,
                                                          "questa/hint_chars_mean": 13.0}


def test_no_hint_when_the_answer_is_not_in_the_solution():
    plugin = Plugin(Plugin.Config())
    row = plugin.transform_prompt(trainer=None, row={**ROW, "answer": "42"})
    assert row["prompt"] == ROW["prompt"] and row["prompt_variant"] == ""  # every row carries its variant
    plugin = Plugin(Plugin.Config(require_answer_in_solution=False))
    assert plugin.hint_for({**ROW, "answer": "42"}).endswith("## Hint.12 + 34 = 46. 46 - 5 = 41.")


def test_token_unit_with_a_real_tokenizer(tiny_model_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    plugin = Plugin(Plugin.Config(unit="tokens"))
    plugin.tokenizer = tokenizer
    ids = tokenizer(SOLUTION, add_special_tokens=False)["input_ids"]
    expected = tokenizer.decode(ids[: len(ids) // 2], skip_special_tokens=True)
    assert plugin.hint_for(ROW) == "What is 12 + 34 - 5?\n\n## Hint." + expected


def test_schedule_must_start_at_step_zero():
    with pytest.raises(ValueError, match="start at step 0"):
        Plugin(Plugin.Config(schedule=[HintPhase(start_step=3, fraction=0.5)]))
    with pytest.raises(ValueError, match="fraction"):
        HintPhase(start_step=0, fraction=1.5)


@pytest.mark.parametrize("fraction, variant", [(0.5, "hint=0.50"), (0.25, "hint=0.25"), (0.125, "hint=0.12"),
                                               (1.0, "hint=1.00")])
def test_prompt_variant_names_the_hint_fraction(fraction, variant):
    assert prompt_variant(fraction) == variant


def test_the_short_prefix_rule_gives_the_unhinted_variant():
    plugin = Plugin(Plugin.Config(schedule=[HintPhase(start_step=0, fraction=0.1)]))
    row = plugin.transform_prompt(trainer=None, row=dict(ROW))  # 10% of the solution is < 10 characters
    assert row["prompt"][-1]["content"] == "Q: What is 12 + 34 - 5?\n\n" and row["prompt_variant"] == ""
