"""Sample-based metrics for math benchmarks: unbiased pass@k, avg@n, maj@k and MATH-Beyond's expansion rate.

Pure Python, no third-party imports, so the math can be tested on its own::

    >>> pass_at_k(n=4, c=1, k=2)        # one right answer among four samples, two drawn
    0.5
    >>> avg_at_n([True, False, False, True])
    0.5
    >>> maj_at_k(["4", "5", "4"], [True, False, True], k=3)
    1.0
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples of which ``c`` are correct (Chen et al. 2021, arXiv 2107.03374).

    The probability that a uniformly drawn k-subset of the n samples holds at least one correct sample:
    ``1 - C(n-c, k) / C(n, k)``. The ratio of binomials is computed as the product
    ``prod_{i=n-c+1}^{n} (1 - k / i)``, which never forms a large binomial, so it stays finite and exact at the
    edges (n = k = 1024 gives 1.0 when c >= 1 and 0.0 when c = 0).
    """
    if not (isinstance(n, int) and isinstance(c, int) and isinstance(k, int)):
        raise TypeError(f"pass_at_k takes integers, got n={n!r}, c={c!r}, k={k!r}")
    if n < 1:
        raise ValueError(f"pass@k needs at least one sample per problem, got n={n}")
    if not 0 <= c <= n:
        raise ValueError(f"the number of correct samples c={c} must lie between 0 and n={n}")
    if not 1 <= k <= n:
        raise ValueError(
            f"pass@{k} needs at least k={k} samples per problem, but n={n}: "
            f"sample more (n >= {k}) or ask for k <= {n}"
        )
    if n - c < k:  # every k-subset holds a correct sample
        return 1.0
    all_wrong = 1.0
    for i in range(n - c + 1, n + 1):
        all_wrong *= 1.0 - k / i
    return 1.0 - all_wrong


def check_k_list(k_list: Sequence[int], n: int) -> list[int]:
    """Return ``k_list`` sorted without duplicates, or raise ``ValueError`` naming every k that exceeds ``n``."""
    ks = sorted(set(k_list))
    if not ks:
        raise ValueError("the list of k values is empty: give at least one k, e.g. 1")
    bad_type = [k for k in ks if not isinstance(k, int) or k < 1]
    if bad_type:
        raise ValueError(f"every k must be a positive integer, got {bad_type}")
    too_big = [k for k in ks if k > n]
    if too_big:
        raise ValueError(
            f"k={','.join(map(str, too_big))} exceeds the {n} sample(s) per problem: pass@k and maj@k need "
            f"n >= k; raise n to {max(too_big)} or drop those k"
        )
    return ks


def avg_at_n(correct: Sequence[bool]) -> float:
    """avg@n: the fraction of the n samples of one problem that are correct (the mean of pass@1 over samples)."""
    if len(correct) == 0:
        raise ValueError("avg@n needs at least one sample")
    return sum(1 for flag in correct if flag) / len(correct)


def majority_answer(
    answers: Sequence[Any],
    *,
    key: Callable[[Any], Hashable] | None = None,
    equal: Callable[[Any, Any], bool] | None = None,
) -> int | None:
    """Index of the first sample of the largest class of equivalent answers, or ``None`` if no sample has one.

    ``None`` answers (nothing extracted) never vote. Answers fall into one class when ``key`` maps them to the same
    value, or, without ``key``, when ``equal`` says so (compared with each class's first member), or, without
    either, when they are ``==``. Ties go to the class whose first member came first.
    """
    if key is not None and equal is not None:
        raise ValueError("give either key or equal, not both")
    if key is None and equal is None:
        key = lambda answer: answer  # noqa: E731
    classes: list[list[int]] = []  # each: indices into answers, first member first
    by_key: dict[Hashable, int] = {}
    for index, answer in enumerate(answers):
        if answer is None:
            continue
        if key is not None:
            class_key = key(answer)
            if class_key in by_key:
                classes[by_key[class_key]].append(index)
            else:
                by_key[class_key] = len(classes)
                classes.append([index])
            continue
        for members in classes:
            if equal(answers[members[0]], answer):
                members.append(index)
                break
        else:
            classes.append([index])
    if not classes:
        return None
    best = max(classes, key=len)  # max keeps the first of equal-sized classes
    return best[0]


def maj_at_k(
    answers: Sequence[Any],
    correct: Sequence[bool],
    k: int,
    *,
    key: Callable[[Any], Hashable] | None = None,
    equal: Callable[[Any, Any], bool] | None = None,
) -> float:
    """maj@k for one problem: 1.0 if the majority answer among the first ``k`` samples is correct, else 0.0.

    ``answers[i]`` is the answer extracted from sample i (``None`` if none) and ``correct[i]`` its verdict; a
    class is judged by the verdict of its first member. Samples without an answer do not vote; if none has one,
    the score is 0.0.
    """
    if len(answers) != len(correct):
        raise ValueError(f"got {len(answers)} answers but {len(correct)} verdicts")
    if not 1 <= k <= len(answers):
        raise ValueError(f"maj@{k} needs at least k={k} samples, got {len(answers)}")
    winner = majority_answer(answers[:k], key=key, equal=equal)
    return 0.0 if winner is None else float(bool(correct[winner]))


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean; ``ValueError`` on an empty sequence (a metric over no problems is undefined, not 0)."""
    if len(values) == 0:
        raise ValueError("cannot average an empty list of scores")
    return sum(values) / len(values)


def expansion_rate(pass_at_k_on_base_unsolved: Sequence[float]) -> float:
    """MATH-Beyond's expansion rate: the share of the base model's unsolved problems that the new model solves.

    Pass the post-trained model's per-problem pass@k on the problems its base model leaves unsolved (e.g. the
    ``unsolved_by:<base>`` subset). The base scores zero there by construction, so the rate equals the mean
    pass@k; with n = k samples it is exactly |solved| / |D| (Mayilvahanan et al. 2025, arXiv 2510.11653).
    """
    return mean(pass_at_k_on_base_unsolved)
