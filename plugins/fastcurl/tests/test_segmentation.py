"""FastCuRL's length segmentation and stage table: pure functions, table-driven."""

import pytest

from trl_reason_fastcurl.segmentation import (bucket_of, buckets, level_indices, level_number, mean_threshold,
                                              prompt_chars, quantile, quantile_thresholds, split_thresholds)
from trl_reason_fastcurl.stages import (Stage, draw, fit_to_max_steps, level_cursor, resolved, stage_at,
                                        stage_bounds, trainer_segments)

# Lengths with a known mean: (80 + 317 + 318 + 5224 + 200 + 100 + 317 + 318 + 100 + 198) / 10 = 717.2
FASTCURL_LIKE = [80, 317, 318, 5224, 200, 100, 317, 318, 100, 198]


@pytest.mark.parametrize("lengths, mean", [
    ([10, 20, 30, 40, 50], 30.0),
    ([1, 2], 1.5),
    ([7], 7.0),
    (FASTCURL_LIKE, 717.2),
])
def test_mean_threshold(lengths, mean):
    assert mean_threshold(lengths) == [pytest.approx(mean)]


@pytest.mark.parametrize("lengths, thresholds, expected", [
    ([10, 20, 30, 40, 50], [30.0], [[0, 1, 2], [3, 4]]),  # equal to the mean is short (L1 is length <= mean)
    ([317, 318, 317.24], [317.24], [[0, 2], [1]]),  # the released split: max L1 = 317, min L3 = 318
    ([5, 15, 25, 35], [10, 30], [[0], [1, 2], [3]]),  # three buckets
    ([5, 5, 5], [5], [[0, 1, 2], []]),  # all equal: everything is short
])
def test_buckets(lengths, thresholds, expected):
    assert buckets(lengths, thresholds) == expected


def test_released_fastcurl_split_rule():
    """Short <= mean < long, and the middle level is the whole set (L1 + L3 = L2, no overlap)."""
    thresholds = mean_threshold(FASTCURL_LIKE)
    short = level_indices(FASTCURL_LIKE, thresholds, "short")
    long_ = level_indices(FASTCURL_LIKE, thresholds, "long")
    everything = level_indices(FASTCURL_LIKE, thresholds, "all")
    assert short == [0, 1, 2, 4, 5, 6, 7, 8, 9] and long_ == [3]
    assert sorted(short + long_) == everything == list(range(10))


@pytest.mark.parametrize("values, q, expected", [
    ([1, 2, 3, 4, 5], 0.5, 3.0),
    ([1, 2, 3, 4], 0.5, 2.5),
    ([0, 10], 0.25, 2.5),
    ([3], 0.9, 3.0),
])
def test_quantile_interpolates_like_numpy(values, q, expected):
    assert quantile(values, q) == pytest.approx(expected)


def test_quantile_and_explicit_thresholds():
    lengths = [10, 20, 30, 40, 50, 60]
    assert quantile_thresholds(lengths, [0.5]) == [35.0]
    assert split_thresholds(lengths, "quantile", quantiles=[1 / 3, 2 / 3]) == [pytest.approx(26.6667, abs=1e-3),
                                                                               pytest.approx(43.3333, abs=1e-3)]
    assert split_thresholds(lengths, "thresholds", thresholds=[25]) == [25.0]
    assert split_thresholds(lengths, "mean") == [35.0]
    with pytest.raises(ValueError, match="increasing"):
        split_thresholds(lengths, "thresholds", thresholds=[30, 20])
    with pytest.raises(ValueError, match="unknown split"):
        split_thresholds(lengths, "median")


@pytest.mark.parametrize("length, thresholds, bucket", [(30, [30], 1), (30.01, [30], 2), (0, [10, 20], 1),
                                                         (15, [10, 20], 2), (99, [10, 20], 3)])
def test_bucket_of(length, thresholds, bucket):
    assert bucket_of(length, thresholds) == bucket


@pytest.mark.parametrize("level, buckets_, number", [("all", 2, 0), ("short", 2, 1), ("long", 2, 2), ("long", 3, 3),
                                                     (2, 3, 2), ("2", 3, 2), ("ALL", 2, 0)])
def test_level_number(level, buckets_, number):
    assert level_number(level, buckets_) == number


@pytest.mark.parametrize("level", ["medium", 4, -1, True])
def test_level_number_rejects(level):
    with pytest.raises(ValueError):
        level_number(level, 3)


@pytest.mark.parametrize("prompt, chars", [
    ("What is 2 + 3?", 14),
    ([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2 + 3?"}], 14),
    ([{"role": "user", "content": [{"type": "text", "text": "abc"}, {"type": "text", "text": "de"}]}], 5),
])
def test_prompt_chars_measures_the_user_message(prompt, chars):
    assert prompt_chars(prompt) == chars


# -- the stage table --------------------------------------------------------------------------------------------

TABLE = [Stage(level="short", steps=2, max_completion_length=8, prompts_per_step=4, num_generations=2),
         Stage(level="long", steps=1, max_completion_length=12),
         Stage(level="all", steps=2, prompts_per_step=2, num_generations=4)]


def test_resolved_fills_nulls_from_the_stage_before():
    table = resolved(TABLE, base_prompts=9, base_generations=9, base_length=99, base_beta=0.0)
    assert [(s.prompts_per_step, s.num_generations, s.max_completion_length, s.beta) for s in table] == [
        (4, 2, 8, 0.0), (4, 2, 12, 0.0), (2, 4, 12, 0.0)]


@pytest.mark.parametrize("step, stage", [(0, 0), (1, 0), (2, 1), (3, 2), (4, 2), (50, 2)])
def test_stage_at(step, stage):
    assert stage_at(TABLE, step) == stage


def test_trainer_segments_split_on_batch_shape_only():
    table = resolved(TABLE, 4, 2, 16, 0.0)
    assert stage_bounds(table) == [(0, 2), (2, 3), (3, 5)]
    assert trainer_segments(table) == [(0, 1, 3), (2, 2, 5)]
    paper = resolved([Stage(level="short", steps=160, prompts_per_step=128, num_generations=8),
                      Stage(level="all", steps=590, prompts_per_step=64, num_generations=8),
                      Stage(level="long", steps=230, prompts_per_step=64, num_generations=8),
                      Stage(level="all", steps=580, prompts_per_step=64, num_generations=16)])
    assert trainer_segments(paper) == [(0, 0, 160), (1, 2, 980), (3, 3, 1560)]


@pytest.mark.parametrize("max_steps, steps", [(None, [2, 1, 2]), (0, [2, 1, 2]), (2, [2]), (3, [2, 1]),
                                              (4, [2, 1, 1]), (8, [2, 1, 5])])
def test_fit_to_max_steps(max_steps, steps):
    assert [s.steps for s in fit_to_max_steps(TABLE, max_steps)] == steps


def test_level_cursor_counts_prompts_drawn_before_a_step():
    table = resolved([Stage(level="short", steps=2, prompts_per_step=4, num_generations=2),
                      Stage(level="all", steps=1, prompts_per_step=4, num_generations=2),
                      Stage(level="short", steps=2, prompts_per_step=2, num_generations=4)])
    assert [level_cursor(table, step, "1", 2) for step in range(7)] == [0, 4, 8, 8, 10, 12, 14]
    assert [level_cursor(table, step, "all", 2) for step in range(7)] == [0, 0, 0, 4, 4, 4, 4]


def test_draw_is_a_seeded_stream_without_repeats_within_an_epoch():
    candidates = [3, 5, 7, 9, 11]
    first = draw(candidates, 0, 5, seed=1, key="1")
    assert sorted(first) == candidates  # one epoch = each row once
    assert draw(candidates, 2, 3, seed=1, key="1") == first[2:5]  # a resume mid-epoch continues the same stream
    assert draw(candidates, 0, 7, seed=1, key="1")[5:] == draw(candidates, 5, 2, seed=1, key="1")
    assert draw(candidates, 0, 5, seed=2, key="1") != first or draw(candidates, 0, 5, seed=3, key="1") != first
    with pytest.raises(ValueError, match="no rows"):
        draw([], 0, 1, seed=1, key="1")


def test_stage_validation():
    with pytest.raises(ValueError, match="at least 1 step"):
        Stage(steps=0)
    with pytest.raises(ValueError, match="num_generations"):
        Stage(steps=1, num_generations=1)
    with pytest.raises(ValueError, match="beta"):
        Stage(steps=1, beta=-0.1)
