"""PCL's selection cost model (``trl_reason_pcl.cost_model``): pure functions, table-driven."""

import math

import pytest
from trl_reason_pcl import cost_model as cm


@pytest.mark.parametrize("rows, targets, expected", [
    ([[1, 0], [1, 1], [1, 2]], [1, 3, 5], [1, 2]),                                   # exact line
    ([[1, 0], [1, 1], [1, 2], [1, 3]], [0, 2, 2, 4], [0.2, 1.2]),                   # least squares, not exact
    ([[1, 2, 4], [1, 4, 16], [1, 8, 64], [1, 16, 256]], [7, 21, 73, 273], [1, 1, 1]),  # 1 + x + x^2
    ([[1, 1e6], [1, 2e6], [1, 3e6]], [1 + 2e-6, 1 + 4e-6, 1 + 6e-6], [1, 2e-12]),    # columns of very different scale
])
def test_least_squares(rows, targets, expected):
    assert cm.least_squares(rows, targets) == pytest.approx(expected, rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("rows", [[[1, 2]], [[1, 2], [2, 4], [3, 6]]])
def test_least_squares_refuses_what_the_data_cannot_determine(rows):
    with pytest.raises(ValueError):
        cm.least_squares(rows, [1.0] * len(rows))


@pytest.mark.parametrize("coef, batch, prompt, steps, expected", [
    ([1.0, 0.0, 0.0], 8, 100, 10, 10.0),                    # fixed step cost: 10 steps
    ([0.0, 0.5, 0.0], 4, 100, 3, 6.0),                      # per sequence: 3 steps x 4 x 0.5
    ([0.0, 0.0, 1.0], 2, 10, 3, 2 * (10 + 11 + 12)),        # attention over contexts 10, 11, 12
    ([1.0, 1.0, 1.0], 1, 0, 1, 2.0),
])
def test_decode_seconds_sums_the_step_law(coef, batch, prompt, steps, expected):
    assert cm.decode_seconds(coef, batch, prompt, steps) == pytest.approx(expected)
    by_step = sum(cm.evaluate(coef, cm.decode_step_features(batch, prompt + t)) for t in range(steps))
    assert cm.decode_seconds(coef, batch, prompt, steps) == pytest.approx(by_step)


@pytest.mark.parametrize("sequences, batch, expected", [
    (8, 4, 2 * (1 + 4 * 2 + 3 * (1 + 0.1 * 4))),    # two full batches: prefill f0 + f1 P L, 3 steps of d0 + d1 B
    (10, 4, 2 * (1 + 4 * 2 + 3 * (1 + 0.1 * 4)) + (1 + 2 * 2 + 3 * (1 + 0.1 * 2))),   # and a batch of 2
    (3, 8, 1 + 3 * 2 + 3 * (1 + 0.1 * 3)),          # one partial batch
])
def test_generation_seconds_charges_each_batch_its_prefill_and_steps(sequences, batch, expected):
    decode, forward = [1.0, 0.1, 0.0], [1.0, 1.0, 0.0]
    assert cm.generation_seconds(decode, forward, sequences, batch, prompt_tokens=2,
                                 response_tokens=3) == pytest.approx(expected)


@pytest.mark.parametrize("update, forward_batch, expected", [
    (None, None, 1 + 8 * 4),                        # one forward over the pool, a cached-feature head fit
    ([5.0, 0.5], None, 1 + 8 * 4 + 5 + 0.5 * 2 * 4),
    (None, 3, 2 * (1 + 3 * 4) + (1 + 2 * 4)),       # chunks of 3: every forward pays its fixed part
])
def test_value_seconds(update, forward_batch, expected):
    assert cm.value_seconds([1.0, 1.0, 0.0], update, pool=8, selected=2, prompt_tokens=4,
                            forward_batch=forward_batch) == pytest.approx(expected)


POINT = {"pool": 8, "selected": 2, "samples": 4, "prompt_tokens": 4, "decode_batch": 8}
LAWS = ([0.0, 1.0, 0.0], [0.0, 1.0, 0.0], None)  # a decode token and a prompt token cost the same


@pytest.mark.parametrize("response_tokens, expected", [
    (0, 4.0), (4, 8.0), (12, 16.0),   # (n (L + R) per sequence) / L over one forward: 4 (4 + R) / 4
])
def test_selection_speedup(response_tokens, expected):
    assert cm.selection_speedup(*LAWS, response_tokens=response_tokens, **POINT) == pytest.approx(expected)


@pytest.mark.parametrize("target, expected", [(8.0, 4), (8.5, 5), (4.0, 1), (1e9, None)])
def test_break_even_response_tokens(target, expected):
    assert cm.break_even_response_tokens(target, *LAWS, limit=1 << 16, **POINT) == expected


@pytest.mark.parametrize("predicted, measured, expected", [(1.1, 1.0, 0.1), (0.5, 1.0, -0.5), (0.0, 0.0, 0.0),
                                                           (1.0, 0.0, math.inf)])
def test_relative_error(predicted, measured, expected):
    assert cm.relative_error(predicted, measured) == pytest.approx(expected)


@pytest.mark.parametrize("rows, targets, expected", [
    ([[1, 0], [1, 1], [1, 2]], [1, 3, 5], [1, 2]),                  # already non-negative: least squares
    ([[1, 1], [1, 2], [1, 3]], [0.9, 2.1, 3.0], [0.0, 1.0071429]),  # intercept fits -0.1: dropped, slope refitted
    ([[1, 1], [1, 2]], [-1.0, -2.0], [0.0, 0.0]),                   # nothing non-negative fits
])
def test_nonnegative_fit_drops_negative_terms(rows, targets, expected):
    assert cm.nonnegative_fit(rows, targets) == pytest.approx(expected, abs=1e-6)
