"""Every call returns within the documented limit, from a worker thread, whatever the input.

The limit (docs/grading.md, "Time limits"): at most `timeout` waiting for a free worker (several
timeouts in a row can leave replacements still starting) plus `timeout` for the comparison, plus the
inline steps, which only ever see a bounded length (`MAX_RAW_CHARS` characters of answer, the last 2,000
characters of an unboxed response), so they take milliseconds. `SLACK` covers those steps and the
pipe round trip on a busy shared machine; it is far below what the unbounded inputs used to take
(a boxed 100,000-digit integer: more than 45 s).
"""

from __future__ import annotations

import threading
import time

import pytest

from trl_reasoning.grading import grade, grade_many, grade_response
from trl_reasoning.grading.timeout import get_pool

LIMIT = 2.0
SLACK = 1.5

DIGITS_100K = "7" * 100_000
HOSTILE = [
    # (name, function, reference, input)
    ("boxed-100k-digit-integer", grade_response, "7", r"so \boxed{" + DIGITS_100K + "}"),
    ("boxed-100k-digit-integer-equal-reference", grade_response, DIGITS_100K, r"\boxed{" + DIGITS_100K + "}"),
    ("bare-100k-digit-integer", grade, "7", DIGITS_100K),
    ("unboxed-40k-digit-response", grade_response, "7", "1" * 40_000),
    ("unboxed-40k-digits-then-answer", grade_response, "7", "1" * 40_000 + " so the answer is 7."),
    ("answer-is-40k-digits", grade_response, "7", "The answer is " + "1" * 40_000 + "."),
    ("boxed-40k-digit-decimal-scientific", grade_response, "1", r"\boxed{1." + "1" * 40_000 + r" \times 10^{5}}"),
    ("power-tower", grade_response, "5", r"\boxed{2^{2^{2^{100}}}}"),
    ("power-tower-both-sides", grade, r"10^{10^{10^{10}}}", r"10^{10^{10^{10}}}+1"),
    ("power-tower-nine", grade, "1", r"9^{9^{9^{9}}}"),
    ("nested-braces-10k-boxed", grade_response, "1", r"\boxed{" + "{" * 10_000 + "1" + "}" * 10_000 + "}"),
    ("nested-braces-10k-bare", grade, "1", "{" * 10_000 + "1" + "}" * 10_000),
    ("nested-braces-1k", grade, "1", "{" * 1_000 + "1" + "}" * 1_000),
    ("nested-fractions", grade, "1", r"\frac{1}{" * 600 + "2" + "}" * 600),
    ("unclosed-boxes", grade_response, "1", r"\boxed{\boxed{" * 10_000),
    ("many-boxes-list", grade_response, "1, 2", r"\boxed{1}, " * 20_000),
]


@pytest.fixture(scope="module", autouse=True)
def warm_pool():
    get_pool().warm()  # start-up is not part of the limit


def test_hostile_inputs_return_in_time_from_a_worker_thread():
    results: dict[str, tuple[float, object]] = {}

    def run():
        for name, function, reference, given in HOSTILE:
            start = time.monotonic()
            verdict = function(reference, given, timeout=LIMIT)
            results[name] = (time.monotonic() - start, verdict)

    thread = threading.Thread(target=run, name="trainer-like-thread")
    thread.start()
    thread.join(len(HOSTILE) * (2 * LIMIT + SLACK) + 30)
    assert not thread.is_alive(), f"hung after {sorted(results)}"
    slow = {name: round(elapsed, 2) for name, (elapsed, _) in results.items() if elapsed > 2 * LIMIT + SLACK}
    assert not slow, slow
    equal = {name for name, (_, verdict) in results.items() if verdict.equal}
    assert equal == {"unboxed-40k-digits-then-answer"}, equal  # it states its answer at the end
    assert not results["boxed-100k-digit-integer-equal-reference"][1].reference_ok  # no reference is that long
    assert results["power-tower"][1].reason == "timeout"
    print("\n" + "\n".join(f"{name:45s} {elapsed:6.2f} s  {verdict.reason}" for name, (elapsed, verdict) in results.items()))


def _symbolic_pairs(offset: int) -> list[tuple[str, str]]:
    """Ordinary pairs that only a worker decides (a tuple of sympy expressions), all different."""
    return [(f"({i}, x+{i + 1})", f"({i}, {i + 1}+x)") for i in range(offset, offset + 100)]


def test_pool_keeps_its_capacity_after_a_timeout():
    pool = get_pool(2)
    pool.warm()
    start = time.monotonic()
    before = grade_many(_symbolic_pairs(10), processes=2, timeout=10)
    before_seconds = time.monotonic() - start
    restarts = pool.restarts
    assert grade("5", r"2^{2^{2^{100}}}", timeout=1.0).reason == "timeout"
    assert pool.restarts == restarts + 1
    assert pool.ready() >= pool.processes  # the spare took the killed worker's place at once
    start = time.monotonic()
    after = grade_many(_symbolic_pairs(1000), processes=2, timeout=10)
    after_seconds = time.monotonic() - start
    assert all(verdict.equal and verdict.reason == "tuple" for verdict in before + after)  # decided in a worker
    print(f"\n100 pairs before a timeout: {before_seconds:.2f} s; right after it: {after_seconds:.2f} s")
    # full speed: not the half capacity of waiting for a fresh interpreter (about 1-3 s to import sympy)
    assert after_seconds <= 2.0 * before_seconds + 1.0, (before_seconds, after_seconds)
