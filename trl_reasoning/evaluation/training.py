"""Held-out accuracy during training: strict (boxed and right), lenient (last number right), format and length.

The trainer evaluates before training, every N steps, and after training::

    evaluator = HeldOutEvaluator(test_rows, template="qwen25-math-cot", max_new_tokens=64, batch_size=32)
    evaluator(model, tokenizer)
    # {"accuracy": 0.0, "lenient_accuracy": 0.61, "boxed_rate": 0.02, "mean_length": 23.4, "num_problems": 100}
    trainer.add_callback(EvalCallback(evaluator, every_steps=10, on_result=lambda step, result: ...))

Strict accuracy asks the grader whether the last ``\\boxed{}`` equals the reference; a response without a box is
wrong. Lenient accuracy also counts a response whose last number equals the reference: a weak model often learns
the arithmetic long before the box (DESIGN.md §5), and this is how that shows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from transformers import TrainerCallback

from ..answers import last_number, lenient_correct  # noqa: F401  (re-exported)
from .generation import SamplingSettings, TransformersBackend, render_prompts

class HeldOutEvaluator:
    """Greedy (by default) generation on held-out rows and four numbers about the answers.

    ``rows`` are dicts with ``problem`` and ``answer``. ``lenient_accuracy`` counts a response that is strictly
    right or whose last number is right, so it is never below ``accuracy``. Runs on whatever device the model is
    on; call it on every rank or on the main one only, as the caller's logging needs.
    """

    def __init__(self, rows: Sequence[dict], template: str | dict = "qwen25-math-cot", max_new_tokens: int = 256,
                 batch_size: int = 16, greedy: bool = True, *, temperature: float = 1.0,
                 system_prompt: str | None = None, seed: int = 0, grading_processes: int = 1,
                 user_template: str = "{problem}", few_shot: list[dict] | None = None):
        if not rows:
            raise ValueError("HeldOutEvaluator needs at least one held-out row")
        missing = [i for i, row in enumerate(rows) if "problem" not in row or "answer" not in row]
        if missing:
            raise ValueError(
                f"held-out rows need 'problem' and 'answer'; row {missing[0]} has {sorted(rows[missing[0]])}"
            )
        self.rows = list(rows)
        self.template = template
        self.system_prompt = system_prompt
        self.user_template = user_template
        self.few_shot = few_shot
        self.batch_size = batch_size
        self.grading_processes = grading_processes
        self.settings = SamplingSettings(n=1, temperature=0.0 if greedy else temperature,
                                         max_new_tokens=max_new_tokens, seed=seed)
        self.last_responses: list[str] = []

    def __call__(self, model, tokenizer) -> dict[str, Any]:
        from trl_reasoning.grading import extract_answer, grade_many

        if not hasattr(model, "generate") and hasattr(model, "module"):  # DistributedDataParallel and friends
            model = model.module
        prompts = render_prompts(tokenizer, [row["problem"] for row in self.rows], self.template, self.system_prompt,
                                 self.user_template, self.few_shot)
        backend = TransformersBackend(model, tokenizer, batch_size=self.batch_size)
        completions = [samples[0] for samples in backend.generate(prompts, self.settings)]
        boxed = [extract_answer(c.text) for c in completions]
        pairs = [(row["answer"], answer) for row, answer in zip(self.rows, boxed)]
        verdicts = grade_many(pairs, processes=self.grading_processes)
        strict = [answer is not None and verdict.equal for answer, verdict in zip(boxed, verdicts)]
        lenient = [ok or lenient_correct(c.text, row["answer"]) for ok, c, row in zip(strict, completions, self.rows)]
        self.last_responses = [c.text for c in completions]
        count = len(self.rows)
        return {
            "accuracy": sum(strict) / count,
            "lenient_accuracy": sum(lenient) / count,
            "boxed_rate": sum(answer is not None for answer in boxed) / count,
            "mean_length": sum(c.num_tokens for c in completions) / count,
            "num_problems": count,
        }


class EvalCallback(TrainerCallback):
    """Runs a ``HeldOutEvaluator`` before training, every ``every_steps`` steps, and after training.

    ``on_result(step, result)`` receives each result (log it, write it to metrics.jsonl); results are also kept
    in ``history`` as ``(step, result)``. ``every_steps=0`` evaluates only before and after.
    """

    def __init__(self, evaluator: Callable, every_steps: int = 0,
                 on_result: Callable[[int, dict], None] | None = None, *, at_start: bool = True, at_end: bool = True):
        if every_steps < 0:
            raise ValueError(f"every_steps must be >= 0, got {every_steps}")
        self.evaluator = evaluator
        self.every_steps = every_steps
        self.on_result = on_result
        self.at_start = at_start
        self.at_end = at_end
        self.history: list[tuple[int, dict]] = []

    def _run(self, step: int, model, tokenizer) -> None:
        if model is None or tokenizer is None:
            raise ValueError("EvalCallback needs the trainer's model and processing_class (the tokenizer)")
        if self.history and self.history[-1][0] == step:
            return  # already evaluated at this step (e.g. the last periodic step is also the end)
        result = self.evaluator(model, tokenizer)
        self.history.append((step, result))
        if self.on_result is not None:
            self.on_result(step, result)

    def on_train_begin(self, args, state, control, model=None, processing_class=None, **kwargs):
        if self.at_start:
            self._run(state.global_step, model, processing_class)

    def on_step_end(self, args, state, control, model=None, processing_class=None, **kwargs):
        if self.every_steps and state.global_step % self.every_steps == 0:
            self._run(state.global_step, model, processing_class)

    def on_train_end(self, args, state, control, model=None, processing_class=None, **kwargs):
        if self.at_end:
            self._run(state.global_step, model, processing_class)
