"""Hostile inputs: each returns a verdict within the time limit and never raises."""

from __future__ import annotations

import threading
import time

import pytest

from trl_reasoning.grading import extract_answer, grade, grade_response
from trl_reasoning.grading.timeout import GradingTimeout, WorkerPool, get_pool

LIMIT = 2.0
# the limit bounds the comparison; a worker killed by the previous case may still be restarting
# (a fresh interpreter importing sympy: about 1-3 s on a busy 2-core machine)
SLACK = 6.0

HOSTILE = [
    ("tower", "5", r"\boxed{2^{2^{2^{100}}}}"),
    ("tower-reference", r"2^{2^{2^{100}}}", r"\boxed{2^{2^{2^{100}}}+1}"),
    ("long-response", "7", "Let us think. " * 7000 + r"\boxed{7}"),
    ("long-no-box", "7", "x+" * 50_000),
    ("nested-braces", "1", r"\boxed{" + "{" * 5000 + "1" + "}" * 5000 + "}"),
    ("nested-parens", "1", r"\boxed{" + "(" * 5000 + "1" + ")" * 5000 + "}"),
    ("unclosed-boxes", "1", r"\boxed{\boxed{" * 10_000),
    ("empty-box", "1", r"\boxed{}"),
    ("surrogateescape", "1", b"\\boxed{1\xff\xfe}".decode("utf-8", errors="surrogateescape")),
    ("lone-surrogate", "\ud800", "\\boxed{\udcff}"),
    ("box-every-choice", r"\text{(E)}", r"(A) \boxed{A} (B) \boxed{B} (C) \boxed{C} (D) \boxed{D} (E) \boxed{E}"),
    ("many-letters-in-one-box", r"\text{(C)}", r"\boxed{A, B, C, D, E}"),
    ("factorial-bomb", "1", r"\boxed{(10^{10})!}"),
    ("not-a-string", "1", None),
]


@pytest.fixture(scope="module", autouse=True)
def warm_pool():
    """Start the shared workers before any timing starts: start-up is not part of the limit."""
    get_pool().warm()


@pytest.mark.parametrize("name,reference,response", HOSTILE, ids=[case[0] for case in HOSTILE])
def test_hostile_input_is_graded_in_time(name, reference, response):
    start = time.monotonic()
    verdict = grade_response(reference, response, timeout=LIMIT)
    elapsed = time.monotonic() - start
    assert elapsed < LIMIT + SLACK, f"{name} took {elapsed:.1f} s"
    assert verdict.reason
    if name in {"box-every-choice", "many-letters-in-one-box", "tower", "empty-box"}:
        assert not verdict.equal


def test_box_every_choice_rule():
    response = r"\boxed{A} or \boxed{(B)} or \boxed{\text{(C)}}"
    assert extract_answer(response) == "A,B,C"
    assert not grade_response(r"\text{(C)}", response).equal
    # one letter boxed twice is still one answer
    assert grade_response(r"\text{(C)}", r"\boxed{C} ... so \boxed{C}").equal
    # several different non-letter boxes: the last one counts
    assert extract_answer(r"first \boxed{3}, finally \boxed{5}") == "5"


def test_timeout_from_a_worker_thread():
    results = []

    def run():
        results.append(grade("5", r"2^{2^{2^{100}}}", timeout=1.0))
        results.append(grade(r"\frac{1}{2}", r"\frac{2}{4}", timeout=5.0))

    thread = threading.Thread(target=run)
    start = time.monotonic()
    thread.start()
    thread.join(30)
    assert not thread.is_alive()
    assert results[0].reason == "timeout" and not results[0].equal
    assert results[1].equal  # the pool replaced the killed worker and still works
    assert time.monotonic() - start < 1.0 + SLACK + 5.0


def test_pool_kills_and_replaces_a_hung_worker():
    pool = get_pool()
    pool.warm()  # earlier cases may have left replacements starting; waiting for them is timed too
    restarts = pool.restarts
    with pytest.raises(GradingTimeout):
        pool.call(time.sleep, (30,), timeout=0.5)
    assert pool.call(pow, (3, 4), timeout=30) == 81
    assert pool.restarts == restarts + 1


def test_closed_pool_refuses_work():
    pool = WorkerPool(processes=1)
    pool.close()
    with pytest.raises(Exception, match="closed"):
        pool.call(pow, (2, 2), timeout=5)


def test_many_threads_share_the_pool():
    verdicts = [None] * 8

    def run(index):
        verdicts[index] = grade(f"{index}+x", f"x+{index}", timeout=10)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(verdict.equal for verdict in verdicts)
