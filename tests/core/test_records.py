"""The core's per-prompt record (``trl_reasoning/records.py``): pure python, no model."""

from __future__ import annotations

import dataclasses

import pytest

from trl_reasoning.records import PromptRecord, PromptRecords, RecordsPlugin, round_summary
from trl_reasoning.testing import make_rollout_batch


@pytest.mark.parametrize("flags, lengths, expected", [
    ([True, False, True, False], [5, 3, 7, 1], (2, 12, 5, 0.5)),
    ([False, False], [4, 2], (0, 0, None, 0.0)),
    ([True], [9], (1, 9, 9, 1.0)),
])
def test_round_summary(flags, lengths, expected):
    summary = round_summary(flags, lengths)
    assert (summary.correct, summary.correct_length_total, summary.shortest, summary.pass_rate) == expected


def batch(step, prompt_ids, correct, lengths, variants=None):
    made = make_rollout_batch(rewards=[[float(c) for c in row] for row in correct], correct=correct,
                              prompt_ids=prompt_ids, completion_lengths=lengths, step=step)
    return dataclasses.replace(made, variants=variants or [])


# (rounds: [(step, prompt_ids, correct table, lengths table, variants per completion or None)],
#  query (prompt_id, variant), expected record)
CASES = [
    ("one round, one group", [(0, [7], [[1, 0, 1, 0]], [[5, 3, 7, 1]], None)], (7, ""),
     PromptRecord(attempts=4, correct=2, pass_rates=[(0, 0.5)], shortest_correct=5, last_step=0,
                  correct_length_total=12)),
    ("two steps: history oldest first, shortest kept", [
        (0, [7], [[1, 0, 0, 0]], [[6, 3, 7, 1]], None),
        (1, [7], [[0, 1, 1, 1]], [[2, 8, 4, 9]], None)], (7, ""),
     PromptRecord(attempts=8, correct=4, pass_rates=[(0, 0.25), (1, 0.75)], shortest_correct=4, last_step=1,
                  correct_length_total=27)),
    ("groups of one prompt in a round pool into one entry (1-shot)",
     [(3, [5, 5], [[1, 0], [1, 1]], [[4, 4], [2, 6]], None)], (5, ""),
     PromptRecord(attempts=4, correct=3, pass_rates=[(3, 0.75)], shortest_correct=2, last_step=3,
                  correct_length_total=12)),
    ("variants are kept apart", [(0, [1, 1], [[1, 1], [0, 0]], [[3, 3], [2, 2]],
                                  ["hint=0.50", "hint=0.50", "", ""])], (1, "hint=0.50"),
     PromptRecord(attempts=2, correct=2, pass_rates=[(0, 1.0)], shortest_correct=3, last_step=0,
                  correct_length_total=6)),
    ("the plain variant of the same round", [(0, [1, 1], [[1, 1], [0, 0]], [[3, 3], [2, 2]],
                                              ["hint=0.50", "hint=0.50", "", ""])], (1, ""),
     PromptRecord(attempts=2, correct=0, pass_rates=[(0, 0.0)], shortest_correct=None, last_step=0,
                  correct_length_total=0)),
    ("a refill round at the same step adds a second entry", [
        (2, [4], [[0, 0]], [[3, 3]], None), (2, [4], [[0, 1]], [[3, 5]], None)], (4, ""),
     PromptRecord(attempts=4, correct=1, pass_rates=[(2, 0.0), (2, 0.5)], shortest_correct=5, last_step=2,
                  correct_length_total=5)),
]


@pytest.mark.parametrize("name, rounds, query, expected", CASES, ids=[c[0] for c in CASES])
def test_update(name, rounds, query, expected):
    records = PromptRecords()
    for step, prompt_ids, correct, lengths, variants in rounds:
        records.update(batch(step, prompt_ids, correct, lengths, variants))
    assert records.get(*query) == expected
    restored = PromptRecords()
    restored.load_state_dict(records.state_dict())
    assert restored.get(*query) == expected and len(restored) == len(records)


def test_without_correct_flag_only_the_step_counts():
    records = PromptRecords()
    records.update(dataclasses.replace(batch(4, [2], [[1, 0]], [[3, 3]]), correct=None))
    assert records.get(2) == PromptRecord(attempts=0, last_step=4)
    assert records.get(2).pass_rate is None


def test_lookups():
    records = PromptRecords()
    records.update(batch(0, [1, 1, 2], [[1, 0], [0, 0], [1, 1]], [[1, 1], [1, 1], [1, 1]],
                         ["hint=0.50"] * 2 + ["hint=0.25"] * 2 + [""] * 2))
    assert records.variants(1) == ["hint=0.25", "hint=0.50"]
    assert records.get(1) is None and records.get(3) is None
    assert records.get(2).pass_rate == 1.0


def test_plugin_state_round_trip_and_version_check():
    plugin = RecordsPlugin()
    plugin.on_rewards(batch(0, [3], [[1, 0]], [[2, 4]]))
    plugin.generation = 5
    state = plugin.plugin_state()
    again = RecordsPlugin()
    again.load_plugin_state(state)
    assert again.generation == 5 and again.records.get(3) == plugin.records.get(3)
    with pytest.raises(ValueError, match="version"):
        again.records.load_state_dict({**state["records"], "version": 99})
