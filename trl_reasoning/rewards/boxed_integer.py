"""The core's reward for the embedded arithmetic task, and the shared pieces of every reward.

``boxed_integer``: the last ``\\boxed{}`` of the completion holds exactly the reference integer. Optional partial
credit makes learning visible on a weak model (docs/architecture.md): ``lenient_value`` when the last number in the
response is right (``3 + 5 = 8``), ``format_value`` for any boxed answer (a format bonus alone is a reward hack:
the embedded model collapses onto boxed-but-wrong answers). The full LaTeX grader is the ``correctness`` reward.

A reward is any TRL reward function ``f(prompts, completions, completion_ids, **columns) -> list[float]``. One
that decides correctness reports it beside the value: it has ``reports_correctness = True`` and sets
``self.last_correct`` (one bool per completion of its last call), which fills ``RolloutBatch.correct``. The
grader's verdict is never read back from the float (a reward whose partial credit equals its full credit would
be misread). ``is_correct(values)`` stays for rewards written before ``last_correct``.
"""

from __future__ import annotations

import re

from trl_reasoning.data.answers import completion_text, last_number, lenient_correct, same_number  # noqa: F401  (shared)
from trl_reasoning.grading.extract import extract_answer


def boxed_integer_value(text: str) -> str | None:
    """The last boxed answer of ``text`` if it is a plain integer (spaces and a trailing period allowed)."""
    boxed = extract_answer(text)
    if boxed is None:
        return None
    boxed = boxed.strip().rstrip(".").replace(",", "").replace(" ", "")
    return boxed if re.fullmatch(r"-?\d+", boxed) else None


def strict_correct(text: str, answer: str) -> bool:
    """The boxed answer equals the reference integer exactly (held-out accuracy of the embedded task)."""
    value = boxed_integer_value(text)
    return value is not None and same_number(value, answer)


class BoxedIntegerReward:
    """Exact boxed-integer reward with optional partial credit (see the module docstring)."""

    reports_correctness = True  # sets last_correct on every call

    def __init__(self, correct_value: float = 1.0, wrong_value: float = 0.0, lenient_value: float = 0.0,
                 format_value: float = 0.0):
        self.correct_value = correct_value
        self.wrong_value = wrong_value
        self.lenient_value = lenient_value
        self.format_value = format_value
        self.__name__ = "boxed_integer"
        self.last_correct: list[bool] = []

    def score(self, text: str, answer: str, correct: bool | None = None) -> float:
        """The reward of one completion (``correct``: its ``strict_correct`` verdict, when already known)."""
        if correct if correct is not None else strict_correct(text, answer):
            return self.correct_value
        if self.lenient_value and lenient_correct(text, answer):
            return self.lenient_value
        if self.format_value and extract_answer(text) is not None:
            return self.format_value
        return self.wrong_value

    def __call__(self, prompts, completions, completion_ids=None, answer=None, **kwargs) -> list[float]:
        if answer is None:
            raise ValueError("boxed_integer needs an `answer` column in the training data")
        texts = [completion_text(c) for c in completions]
        self.last_correct = [strict_correct(text, str(a)) for text, a in zip(texts, answer)]
        return [self.score(text, str(a), correct) for text, a, correct in zip(texts, answer, self.last_correct)]

    def is_correct(self, values) -> list[bool]:
        """Which values mean "correct" (``value == correct_value``); ``last_correct`` is the verdict itself."""
        return [v == self.correct_value for v in values]
