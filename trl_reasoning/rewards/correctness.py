r"""`CorrectnessReward`: 1.0 when a completion's final answer equals the row's reference, else 0.0.

    from trl import GRPOTrainer
    from trl_reasoning.rewards.correctness import CorrectnessReward

    correctness = CorrectnessReward()            # dataset needs an `answer` column
    trainer = GRPOTrainer(model=..., reward_funcs=[correctness], train_dataset=dataset)
    ...
    rewards = correctness(prompts, completions, answer=answers)   # [1.0, 0.0, ...]
    correctness.last_correct                     # [True, False, ...]: the grader's verdicts of that call

It follows TRL's reward-function signature, `__call__(prompts, completions, completion_ids=None,
answer=None, **kwargs) -> list[float]`; completions may be strings or conversations (lists of
`{"role", "content"}` dicts, whose last assistant message is graded).

* The answer is read as `grade_response` reads it (`extract.response_answer`): the last `\boxed{}`,
  or the trailing group of boxes when the reference is a list. A completion with no box is wrong
  and counted as an extraction failure, unless `fallbacks=True`, which reads the answer it states
  by `extract.unboxed_answer`'s precise rules ("the answer is 42.", `**42**`, `#### 42`).
* Rows whose reference cannot be read get `wrong_value` and are counted as reference failures
  (fix the data; they are never scored correct).
* Repeated `(reference, answer)` pairs, common in GRPO groups, come from an LRU cache of
  `cache_size` verdicts.
* Pairs not in the cache are graded together with `grade_many` on `processes` workers, each with
  a hard `timeout`.
* When TRL passes `log_metric` (TRL 1.16 does, to every reward function), the batch rates
  `correctness/extract_fail_rate` and `correctness/ref_parse_fail_rate` and the count
  `correctness/timeouts` (comparisons that ran past `timeout` in this batch) are logged; TRL
  averages them over each logging window. Running totals are kept in `extract_failures`,
  `reference_failures`, `timeouts`, `graded` and `last_verdicts` (the verdicts of the latest call).
* Correctness is reported beside the value (`reports_correctness = True`): `last_correct` holds
  `verdict.equal` for each completion of the latest call, which the GRPO trainer gathers into
  `RolloutBatch.correct`. `is_correct(values)` (value == correct_value) stays for older callers.
"""

from __future__ import annotations

from collections import OrderedDict

from trl_reasoning.data.answers import completion_text
from trl_reasoning.grading.extract import response_answer
from trl_reasoning.grading.grader import DEFAULT_REL_TOL, DEFAULT_TIMEOUT, grade_many, reference_is_list
from trl_reasoning.grading.verdict import Verdict

__all__ = ["CorrectnessReward", "completion_text"]


class CorrectnessReward:
    """A TRL reward function that scores final-answer correctness (see the module docstring)."""

    reports_correctness = True  # sets last_correct on every call

    def __init__(
        self,
        correct_value: float = 1.0,
        wrong_value: float = 0.0,
        fallbacks: bool = False,
        cache_size: int = 65536,
        *,
        rel_tol: float = DEFAULT_REL_TOL,
        timeout: float = DEFAULT_TIMEOUT,
        processes: int | None = None,
    ):
        self.__name__ = "correctness"
        self.correct_value = float(correct_value)
        self.wrong_value = float(wrong_value)
        self.fallbacks = fallbacks
        self.cache_size = cache_size
        self.rel_tol = rel_tol
        self.timeout = timeout
        self.processes = processes
        self._cache: OrderedDict[tuple[str, str], Verdict] = OrderedDict()
        self.graded = 0
        self.extract_failures = 0
        self.reference_failures = 0
        self.timeouts = 0
        self.cache_hits = 0
        self._list_references: dict[str, bool] = {}
        self.last_verdicts: list[Verdict] = []
        self.last_correct: list[bool] = []  # the verdict of each completion of the last call (interface: rewards)

    def _cached(self, key: tuple[str, str]) -> Verdict | None:
        verdict = self._cache.get(key)
        if verdict is not None:
            self._cache.move_to_end(key)
            self.cache_hits += 1
        return verdict

    def _store(self, key: tuple[str, str], verdict: Verdict) -> None:
        if self.cache_size <= 0:
            return
        self._cache[key] = verdict
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def __call__(self, prompts, completions, completion_ids=None, answer=None, **kwargs) -> list[float]:
        if answer is None:
            raise ValueError(
                "CorrectnessReward needs the reference answers: the training dataset must have an "
                "`answer` column (TRL passes every dataset column to reward functions by name)."
            )
        if isinstance(answer, str):
            answer = [answer] * len(completions)
        if len(answer) != len(completions):
            raise ValueError(f"got {len(completions)} completions but {len(answer)} answers; they must match")
        extracted = [
            response_answer(completion_text(completion), self._is_list(reference), unboxed=self.fallbacks)
            for completion, reference in zip(completions, answer)
        ]
        verdicts: list[Verdict | None] = [None] * len(completions)
        missing: dict[tuple[str, str], list[int]] = {}
        for index, (reference, found) in enumerate(zip(answer, extracted)):
            if found is None:
                verdicts[index] = Verdict(False, "no-answer", True)
                continue
            key = (str(reference), found)
            verdict = self._cached(key)
            if verdict is None:
                missing.setdefault(key, []).append(index)
            else:
                verdicts[index] = verdict
        if missing:
            keys = list(missing)
            for key, verdict in zip(keys, grade_many(keys, self.processes, rel_tol=self.rel_tol, timeout=self.timeout)):
                self._store(key, verdict)
                for index in missing[key]:
                    verdicts[index] = verdict
        # a missing answer says nothing about the reference, so check references of those rows too
        for index, found in enumerate(extracted):
            if found is None and not str(answer[index]).strip():
                verdicts[index] = Verdict(False, "unparseable-reference", False)
        extract_failures = sum(found is None for found in extracted)
        reference_failures = sum(not verdict.reference_ok for verdict in verdicts)
        timeouts = sum(verdict.reason == "timeout" for verdict in verdicts)
        self.graded += len(verdicts)
        self.extract_failures += extract_failures
        self.reference_failures += reference_failures
        self.timeouts += timeouts
        self.last_verdicts = list(verdicts)
        self.last_correct = [bool(verdict.equal) for verdict in verdicts]
        log_metric = kwargs.get("log_metric")
        if callable(log_metric) and verdicts:
            log_metric("correctness/extract_fail_rate", extract_failures / len(verdicts))
            log_metric("correctness/ref_parse_fail_rate", reference_failures / len(verdicts))
            log_metric("correctness/timeouts", float(timeouts))
        return [self.correct_value if verdict.equal else self.wrong_value for verdict in verdicts]

    def _is_list(self, reference) -> bool:
        key = str(reference)
        known = self._list_references.get(key)
        if known is None:
            if len(self._list_references) >= self.cache_size:
                self._list_references.clear()
            known = self._list_references[key] = reference_is_list(key)
        return known

    def is_correct(self, values) -> list[bool]:
        """Which rewards mean "correct" (`value == correct_value`); ``last_correct`` is the grader's verdict."""
        return [float(value) == self.correct_value for value in values]
