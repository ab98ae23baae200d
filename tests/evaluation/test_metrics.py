"""Table-driven tests for the pure metric functions."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest

from trl_reasoning.evaluation.metrics import (
    avg_at_n,
    check_k_list,
    expansion_rate,
    maj_at_k,
    majority_answer,
    pass_at_k,
)


def brute_force_pass_at_k(n: int, c: int, k: int) -> Fraction:
    """Share of all k-subsets of n samples (the first c correct) that contain a correct sample."""
    subsets = list(itertools.combinations(range(n), k))
    hits = sum(1 for subset in subsets if any(i < c for i in subset))
    return Fraction(hits, len(subsets))


@pytest.mark.parametrize(
    ("n", "c", "k"),
    [(n, c, k) for n in range(1, 9) for c in range(0, n + 1) for k in range(1, n + 1)],
)
def test_pass_at_k_matches_enumeration(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(float(brute_force_pass_at_k(n, c, k)), abs=1e-12)


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (1, 0, 1, 0.0),
        (1, 1, 1, 1.0),
        (4, 1, 1, 0.25),
        (4, 1, 2, 0.5),
        (4, 1, 4, 1.0),
        (10, 3, 1, 0.3),
        (1024, 0, 1024, 0.0),
        (1024, 1, 1024, 1.0),
        (1024, 1024, 1024, 1.0),
        (1024, 1, 1, 1 / 1024),
    ],
)
def test_pass_at_k_table(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("n", "k"), [(1024, 1024), (1024, 64), (1024, 1), (200, 100)])
def test_pass_at_k_is_finite_and_exact_at_large_n(n, k):
    for c in (0, 1, 2, 7, 100, n // 2, n - 1, n):
        value = pass_at_k(n, c, k)
        exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
        assert math.isfinite(value)
        assert value == pytest.approx(float(exact), abs=1e-12)
        assert 0.0 <= value <= 1.0


def test_pass_at_k_refuses_k_above_n_with_a_clear_message():
    with pytest.raises(ValueError, match=r"pass@8 needs at least k=8 samples per problem, but n=4"):
        pass_at_k(4, 1, 8)


@pytest.mark.parametrize(("n", "c", "k"), [(0, 0, 1), (4, 5, 1), (4, -1, 1), (4, 1, 0)])
def test_pass_at_k_refuses_bad_counts(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_check_k_list():
    assert check_k_list([4, 1, 4], n=4) == [1, 4]
    with pytest.raises(ValueError, match=r"k=8,16 exceeds the 4 sample\(s\) per problem"):
        check_k_list([1, 8, 16], n=4)
    with pytest.raises(ValueError, match="empty"):
        check_k_list([], n=4)


@pytest.mark.parametrize(
    ("correct", "expected"),
    [([True], 1.0), ([False], 0.0), ([True, False, False, True], 0.5), ([False] * 7 + [True], 0.125)],
)
def test_avg_at_n(correct, expected):
    assert avg_at_n(correct) == expected


def test_avg_at_n_refuses_no_samples():
    with pytest.raises(ValueError):
        avg_at_n([])


@pytest.mark.parametrize(
    ("answers", "correct", "k", "expected"),
    [
        (["4", "5", "4"], [True, False, True], 3, 1.0),
        (["4", "5", "5"], [True, False, False], 3, 0.0),
        (["4", "5", "5"], [True, False, False], 1, 1.0),  # only the first sample votes
        (["5", "4"], [False, True], 2, 0.0),  # tie: the class seen first wins
        ([None, None, "4"], [False, False, True], 3, 1.0),  # no answer, no vote
        ([None, None], [False, False], 2, 0.0),
        (["4", "5", "5", "4", "4"], [True, False, False, True, True], 4, 1.0),
    ],
)
def test_maj_at_k_table(answers, correct, k, expected):
    assert maj_at_k(answers, correct, k) == expected


def test_majority_uses_key_equivalence_classes():
    answers = ["1/2", "0.5", "\\frac{1}{2}", "3"]
    canonical = {"1/2": "half", "0.5": "half", "\\frac{1}{2}": "half", "3": "three"}
    assert majority_answer(answers, key=canonical.__getitem__) == 0
    assert maj_at_k(["3", "0.5", "1/2"], [False, True, True], 3, key=canonical.__getitem__) == 1.0
    assert maj_at_k(["3", "0.5", "1/2"], [False, True, True], 3) == 0.0  # without the key: three classes


def test_majority_uses_pairwise_equality():
    def same_number(a, b):
        return float(a) == float(b)

    assert majority_answer(["2", "3", "3.0", "2.00", "2"], equal=same_number) == 0
    assert maj_at_k(["2", "3", "3.0"], [False, True, True], 3, equal=same_number) == 1.0
    with pytest.raises(ValueError, match="either key or equal"):
        majority_answer(["1"], key=str, equal=same_number)


def test_maj_at_k_refuses_k_above_n():
    with pytest.raises(ValueError, match="maj@3 needs at least k=3 samples"):
        maj_at_k(["1", "2"], [True, False], 3)


def test_expansion_rate():
    assert expansion_rate([1.0, 0.0, 0.0, 1.0]) == 0.5
    assert expansion_rate([pass_at_k(4, 1, 4), pass_at_k(4, 0, 4)]) == 0.5
    with pytest.raises(ValueError, match="empty"):
        expansion_rate([])
