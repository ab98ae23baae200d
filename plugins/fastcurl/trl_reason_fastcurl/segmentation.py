"""Length-aware data segmentation (FastCuRL): split a pool of prompts into length levels.

The rule the authors' released files follow (docs/papers/fastcurl.md, checked on ``train_L1/L3.parquet``): measure each
prompt as the number of characters of its user message (instruction suffix included), take the **mean** over the
pool (317.24 on DeepScaleR's 40,315 prompts) and split there: short ``<= mean`` (L1), long ``> mean`` (L3). The
middle level L2 is the whole pool. Quantile and explicit thresholds are options::

    >>> thresholds = mean_threshold([10, 20, 30, 40, 50])
    >>> thresholds
    [30.0]
    >>> buckets([10, 20, 30, 40, 50], thresholds)
    [[0, 1, 2], [3, 4]]

Buckets are numbered 1..k by length (bucket 1 the shortest); a level is ``"all"``, ``"short"`` (bucket 1),
``"long"`` (bucket k) or a bucket number. Everything here is pure Python with no dependency.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

ALL = "all"


def prompt_chars(prompt: Any) -> int:
    """Characters of the prompt the authors measured: the user message content (the last user message of a
    conversation), or the whole string for a plain prompt."""
    if isinstance(prompt, str):
        return len(prompt)
    if isinstance(prompt, (list, tuple)):
        for message in reversed(prompt):
            if isinstance(message, dict) and message.get("role") == "user":
                content = message.get("content", "")
                if isinstance(content, list):  # multimodal content parts
                    return sum(len(part.get("text", "")) for part in content if isinstance(part, dict))
                return len(str(content))
    raise ValueError(f"cannot measure a prompt of type {type(prompt).__name__}: expected a string or chat messages")


def mean_threshold(lengths: Sequence[float]) -> list[float]:
    """The authors' split: one threshold at the mean length (short <= mean, long > mean)."""
    if not lengths:
        raise ValueError("cannot split an empty pool")
    return [sum(lengths) / len(lengths)]


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default) of already sorted values."""
    if not sorted_values:
        raise ValueError("quantile of an empty list")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"a quantile must lie in [0, 1], got {q}")
    position = q * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def quantile_thresholds(lengths: Sequence[float], quantiles: Sequence[float]) -> list[float]:
    """Thresholds at the given quantiles of the lengths, e.g. ``[0.5]`` (median) or ``[1/3, 2/3]`` (3 levels)."""
    if not quantiles:
        raise ValueError("give at least one quantile")
    ordered = sorted(lengths)
    return check_thresholds([quantile(ordered, q) for q in quantiles])


def check_thresholds(thresholds: Sequence[float]) -> list[float]:
    values = [float(t) for t in thresholds]
    if not values:
        raise ValueError("give at least one threshold")
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError(f"thresholds must be strictly increasing, got {values}")
    return values


def bucket_of(length: float, thresholds: Sequence[float]) -> int:
    """Bucket number (1..k, k = len(thresholds) + 1) of one length; a length equal to a threshold goes below it."""
    return 1 + sum(1 for t in thresholds if length > t)


def buckets(lengths: Sequence[float], thresholds: Sequence[float]) -> list[list[int]]:
    """Indices of the lengths in each bucket, bucket 1 (shortest) first."""
    out: list[list[int]] = [[] for _ in range(len(thresholds) + 1)]
    for index, length in enumerate(lengths):
        out[bucket_of(length, thresholds) - 1].append(index)
    return out


def level_number(level: str | int, num_buckets: int) -> int:
    """A level as a number: 0 for ``all``, 1 for ``short``, ``num_buckets`` for ``long``, or the bucket given."""
    if isinstance(level, str):
        name = level.strip().lower()
        if name == ALL:
            return 0
        if name == "short":
            return 1
        if name == "long":
            return num_buckets
        if name.isdigit():
            level = int(name)
        else:
            raise ValueError(f"unknown level {level!r}: use all, short, long or a bucket number 1..{num_buckets}")
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= num_buckets:
        raise ValueError(f"level {level!r} out of range: use all (0) or a bucket number 1..{num_buckets}")
    return level


def level_indices(lengths: Sequence[float], thresholds: Sequence[float], level: str | int) -> list[int]:
    """Indices eligible at ``level``: every index for ``all``, else those of that bucket."""
    number = level_number(level, len(thresholds) + 1)
    if number == 0:
        return list(range(len(lengths)))
    return buckets(lengths, thresholds)[number - 1]


def split_thresholds(lengths: Sequence[float], split: str, quantiles: Sequence[float] = (),
                     thresholds: Sequence[float] = ()) -> list[float]:
    """Thresholds by rule: ``mean`` (the authors'), ``quantile`` (``quantiles``) or ``thresholds`` (given)."""
    if split == "mean":
        return mean_threshold(lengths)
    if split == "quantile":
        return quantile_thresholds(lengths, quantiles)
    if split == "thresholds":
        return check_thresholds(thresholds)
    raise ValueError(f"unknown split {split!r}: use mean, quantile or thresholds")
