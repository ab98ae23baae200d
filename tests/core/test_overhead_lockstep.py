"""The overhead benchmark's lockstep baton (``benchmarks/overhead.py``): threads take turns in order, one finishing
leaves the rest going, and each keeps its own random stream. Real threads, no model."""

from __future__ import annotations

import random
import sys
import threading
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from overhead import Baton  # noqa: E402


def run_turns(steps: dict[str, int], order: list[str]) -> tuple[list[str], dict[str, list[float]]]:
    """Each arm takes ``steps[arm]`` turns, drawing one torch and one Python random number per turn."""
    baton, log, draws = Baton(order), [], {arm: [] for arm in order}

    def work(arm: str) -> None:
        baton.acquire(arm)
        for turn in range(steps[arm]):
            if turn:
                baton.release(arm)
                baton.acquire(arm)
            log.append(arm)
            draws[arm].append((torch.rand(1).item(), random.random()))
        baton.release(arm, finished=True)

    threads = [threading.Thread(target=work, args=(arm,)) for arm in order]
    for thread in threads[::-1]:  # started in reverse: the order comes from the baton, not from start-up
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a thread never got the baton"
    return log, draws


def test_turns_alternate_in_order_and_survive_an_arm_finishing():
    log, _ = run_turns({"trl": 3, "core": 1, "noop": 3}, ["trl", "core", "noop"])
    assert log == ["trl", "core", "noop", "trl", "noop", "trl", "noop"]


def test_each_arm_draws_what_it_would_draw_alone():
    _, together = run_turns({"a": 3, "b": 3}, ["a", "b"])
    _, alone = run_turns({"a": 3}, ["a"])
    assert together["a"] == together["b"] == alone["a"]
    assert len(set(together["a"])) == 3  # the stream advances within an arm
