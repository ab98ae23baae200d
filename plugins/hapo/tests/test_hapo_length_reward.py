"""HAPO's length reward against the values in docs/papers/hapo.md, Length reward (h = 1000)."""

import math

import pytest
import torch

from trl_reason_hapo.length_reward import cosine_length_reward, length_rewards, linear_length_reward

H = 1000.0

# (L, correct reward, incorrect reward): the table of docs/papers/hapo.md, plus the points between.
COSINE_TABLE = [
    (0, 1.0, 0.0),
    (250, 0.924, 0.0),
    (500, 0.707, 0.0),
    (1000, 0.0, 0.0),
    (1200, -0.309, -0.309),
    (1490, -0.696, -0.696),    # the clip acts from L = 1.4937 h on
    (1495, -0.7, -0.702),
    (1500, -0.7, -0.707),
    (2000, -0.7, -1.0),
    (3000, -0.7, -1.0),        # min(L/h, 2): flat beyond 2h
]

LINEAR_TABLE = [  # tolerance 0.1
    (0, 1.0, 0.0),
    (500, 0.5, 0.0),
    (1000, 0.0, 0.0),
    (1050, 0.0, 0.0),
    (1100, 0.0, 0.0),
    (1600, -0.5, -0.5),
    (2000, -0.7, -0.9),
    (2500, -0.7, -1.0),
]


@pytest.mark.parametrize("length,correct_value,wrong_value", COSINE_TABLE)
def test_cosine_table(length, correct_value, wrong_value):
    assert cosine_length_reward(length, H, True) == pytest.approx(correct_value, abs=1e-3)
    assert cosine_length_reward(length, H, False) == pytest.approx(wrong_value, abs=1e-3)


@pytest.mark.parametrize("length,correct_value,wrong_value", LINEAR_TABLE)
def test_linear_table(length, correct_value, wrong_value):
    assert linear_length_reward(length, H, True) == pytest.approx(correct_value, abs=1e-9)
    assert linear_length_reward(length, H, False) == pytest.approx(wrong_value, abs=1e-9)


@pytest.mark.parametrize("function", [cosine_length_reward, linear_length_reward])
def test_no_history_gives_zero(function):
    for length in (0, 10, 10_000):
        assert function(length, None, True) == 0.0
        assert function(length, None, False) == 0.0


@pytest.mark.parametrize("kind,scalar", [("cosine", cosine_length_reward), ("linear", linear_length_reward)])
def test_batch_version_equals_scalar(kind, scalar):
    lengths = list(range(0, 2600, 50))
    rows = [(L, h, c) for L in lengths for h in (None, 1.0, 300.0, H) for c in (True, False)]
    got = length_rewards(torch.tensor([r[0] for r in rows]),  # (B,)
                         torch.tensor([math.nan if r[1] is None else r[1] for r in rows]),  # (B,)
                         torch.tensor([r[2] for r in rows]), kind=kind)  # (B,)
    want = torch.tensor([scalar(*row) for row in rows])  # (B,)
    torch.testing.assert_close(got, want.float(), atol=1e-6, rtol=0)


@pytest.mark.parametrize("weight", [0.0, 0.1, 0.5, 1.0])
def test_correct_always_outscores_wrong(weight):
    """With w in [0, 1] and the 0.7 clip, correct totals lie in [1 - 0.7w, 1 + w] and wrong ones in [-w, 0]."""
    grid = range(0, 3001, 25)
    worst_correct = min(1 + weight * cosine_length_reward(L, H, True) for L in grid)
    best_wrong = max(weight * cosine_length_reward(L, H, False) for L in grid)
    assert worst_correct == pytest.approx(1 - 0.7 * weight)
    assert best_wrong == 0.0
    assert worst_correct > best_wrong


def test_unknown_kind():
    with pytest.raises(ValueError, match="cosine"):
        length_rewards(torch.zeros(1), torch.zeros(1), torch.ones(1, dtype=torch.bool), kind="cos")
