"""What finding ``m`` prompts of intermediate difficulty costs: rollout filtering against PCL's value model.

Pure Python (no torch): cost laws fitted by least squares to measured timings, then evaluated at any operating point
(``benchmarks/pcl_cost_model.py`` measures the coefficients; ``plugins/pcl/tests/test_cost_model.py`` tables them).

* A decode step of ``B`` sequences at context ``c`` (KV-cache length) costs ``d0 + d1 B + d2 B c`` seconds: a fixed
  per-step part, a per-sequence part (weights and LM head applied to each new token) and attention over the cache.
* A forward of ``P`` prompts padded to ``L`` tokens (the value model's prediction, a generation's prefill) costs
  ``f0 + f1 P L + f2 P L^2``; a value-model update on ``P`` prompts (forward, backward, AdamW) ``g0 + g1 P L``.
* Rollout filtering generates ``n`` responses of ``R`` tokens for each of the ``k m`` candidates, ``B`` sequences
  at a time; PCL runs one forward over the ``k m`` candidates and one update on the ``m`` picks.

::

    decode = least_squares([decode_step_features(B, c) for B, c in grid], seconds)
    ratio = selection_speedup(decode, forward, update, pool=2048, selected=512, samples=16,
                              prompt_tokens=128, response_tokens=1024, decode_batch=64)
"""

from __future__ import annotations

import math
from typing import Sequence


def least_squares(rows: Sequence[Sequence[float]], targets: Sequence[float]) -> list[float]:
    """Coefficients ``x`` minimising ``sum_i (rows[i] . x - targets[i])^2`` (normal equations, partial pivoting).

    Needs at least as many rows as coefficients and linearly independent columns."""
    width = len(rows[0])
    if len(rows) < width:
        raise ValueError(f"{len(rows)} measurements cannot determine {width} coefficients")
    # Columns are rescaled to unit max first: B*c^2-type features span ten orders of magnitude.
    scale = [max(abs(r[j]) for r in rows) or 1.0 for j in range(width)]
    scaled = [[r[j] / scale[j] for j in range(width)] for r in rows]
    normal = [[sum(r[i] * r[j] for r in scaled) for j in range(width)]
              + [sum(r[i] * t for r, t in zip(scaled, targets))] for i in range(width)]  # [A^T A | A^T y]
    for col in range(width):
        pivot = max(range(col, width), key=lambda i: abs(normal[i][col]))
        if abs(normal[pivot][col]) < 1e-12:
            raise ValueError(f"column {col} of the measurements is (nearly) a combination of the others")
        normal[col], normal[pivot] = normal[pivot], normal[col]
        for i in range(width):
            if i != col:
                factor = normal[i][col] / normal[col][col]
                normal[i] = [a - factor * b for a, b in zip(normal[i], normal[col])]
    return [normal[i][width] / normal[i][i] / scale[i] for i in range(width)]


def nonnegative_fit(rows: Sequence[Sequence[float]], targets: Sequence[float]) -> list[float]:
    """``least_squares`` with every coefficient >= 0: a cost term cannot be negative, and a negative fit (timing
    noise on a term too small to resolve) would extrapolate to negative seconds. Drops the most negative term and
    refits until none is negative (an active-set heuristic; exact for these 2-3 term laws in practice)."""
    active = list(range(len(rows[0])))
    while True:
        coef = least_squares([[r[j] for j in active] for r in rows], targets)
        worst = min(range(len(active)), key=lambda i: coef[i])
        if coef[worst] >= 0:
            full = [0.0] * len(rows[0])
            for j, c in zip(active, coef):
                full[j] = c
            return full
        active.pop(worst)
        if not active:
            return [0.0] * len(rows[0])


def evaluate(coef: Sequence[float], features: Sequence[float]) -> float:
    """``coef . features``: a fitted law at one point."""
    return sum(c * f for c, f in zip(coef, features))


def decode_step_features(batch: int, context: float) -> list[float]:
    """``[1, B, B c]``: the decode-step law's terms."""
    return [1.0, float(batch), float(batch) * context]


def forward_features(prompts: int, length: float) -> list[float]:
    """``[1, P L, P L^2]``: the forward (prefill) law's terms."""
    return [1.0, float(prompts) * length, float(prompts) * length * length]


def update_features(prompts: int, length: float) -> list[float]:
    """``[1, P L]``: the value-update law's terms (a large fixed part: AdamW over every weight)."""
    return [1.0, float(prompts) * length]


def decode_seconds(decode_coef: Sequence[float], batch: int, prompt_tokens: float, response_tokens: int) -> float:
    """Seconds to decode ``response_tokens`` for ``batch`` sequences after a prompt of ``prompt_tokens``: the sum of
    the step law over contexts ``prompt_tokens, ..., prompt_tokens + response_tokens - 1`` (in closed form)."""
    d0, d1, d2 = decode_coef
    steps = response_tokens
    context_sum = steps * prompt_tokens + steps * (steps - 1) / 2.0
    return steps * (d0 + d1 * batch) + d2 * batch * context_sum


def generation_seconds(decode_coef: Sequence[float], forward_coef: Sequence[float], sequences: int, batch: int,
                       prompt_tokens: float, response_tokens: int) -> float:
    """Seconds to generate ``sequences`` responses of ``response_tokens``, ``batch`` at a time: each batch's prefill
    (every sequence reads its prompt, as ``generate(num_return_sequences=n)`` does) plus its decode steps."""
    full, rest = divmod(sequences, batch)
    total = 0.0
    for size, count in ((batch, full), (rest, 1 if rest else 0)):
        if count:
            one = (evaluate(forward_coef, forward_features(size, prompt_tokens))
                   + decode_seconds(decode_coef, size, prompt_tokens, response_tokens))
            total += count * one
    return total


def value_seconds(forward_coef: Sequence[float], update_coef: Sequence[float] | None, pool: int, selected: int,
                  prompt_tokens: float, forward_batch: int | None = None) -> float:
    """Seconds of PCL's side of a step: forwards over the ``pool`` (``forward_batch`` prompts each, None: one
    forward) plus one value update on the ``selected`` prompts (``update_coef`` None: a head on cached features,
    whose update is negligible)."""
    batch = forward_batch or pool
    full, rest = divmod(pool, batch)
    total = full * evaluate(forward_coef, forward_features(batch, prompt_tokens))
    if rest:
        total += evaluate(forward_coef, forward_features(rest, prompt_tokens))
    if update_coef is not None:
        total += evaluate(update_coef, update_features(selected, prompt_tokens))
    return total


def selection_speedup(decode_coef, forward_coef, update_coef, *, pool: int, selected: int, samples: int,
                      prompt_tokens: float, response_tokens: int, decode_batch: int,
                      forward_batch: int | None = None) -> float:
    """Rollout filtering's time over PCL's: ``samples`` responses for each of the ``pool`` candidates, against one
    forward over the pool and one update on the ``selected`` (the paper's k m, m, n)."""
    rollouts = generation_seconds(decode_coef, forward_coef, pool * samples, decode_batch, prompt_tokens,
                                  response_tokens)
    pcl = value_seconds(forward_coef, update_coef, pool, selected, prompt_tokens, forward_batch)
    return rollouts / pcl if pcl > 0 else math.inf


def break_even_response_tokens(target: float, decode_coef, forward_coef, update_coef, *, limit: int = 1 << 20,
                               **point) -> int | None:
    """The shortest response length at which ``selection_speedup`` reaches ``target`` (it grows with the length),
    or None if it does not by ``limit`` tokens. ``point``: the other keywords of ``selection_speedup``."""
    def speedup(tokens: int) -> float:
        return selection_speedup(decode_coef, forward_coef, update_coef, response_tokens=tokens, **point)

    if speedup(limit) < target:
        return None
    if speedup(1) >= target:
        return 1
    low, high = 1, limit  # speedup(low) < target <= speedup(high)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if speedup(mid) < target else (low, mid)
    return high


def relative_error(predicted: float, measured: float) -> float:
    """``(predicted - measured) / measured``: signed, so an under-prediction is negative."""
    if measured == 0:
        return math.inf if predicted else 0.0
    return (predicted - measured) / measured
