"""Held-out accuracy during training: strict (boxed and right), lenient (last number right), format and length.

A recipe's run evaluates through ``recipe_eval.RecipeEvaluation`` (its ``eval`` section: the data's held-out split
and named benchmarks); ``HeldOutEvaluator`` is the same evaluation (``runner.evaluate``) of a list of rows, for
scripts that hold a model and rows. The trainer evaluates before training, every N steps, and after training::

    evaluator = HeldOutEvaluator(test_rows, template="qwen25-math-cot", max_new_tokens=64, batch_size=32)
    evaluator(model, tokenizer)
    # {"accuracy": 0.0, "lenient_accuracy": 0.61, "boxed_rate": 0.02, "mean_length": 23.4, "num_problems": 100}
    trainer.add_callback(EvalCallback(evaluator, every_steps=10, on_result=lambda step, result: ...))

Strict accuracy asks the grader whether the last ``\\boxed{}`` equals the reference; a response without a box is
wrong. Lenient accuracy also counts a response whose last number equals the reference: a weak model often learns
the arithmetic long before the box (docs/architecture.md), and this is how that shows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import inspect
from typing import Any

from transformers import TrainerCallback

from trl_reasoning.data.prompts import PromptFormat
from trl_reasoning.data.answers import last_number, lenient_correct  # noqa: F401  (re-exported)
from trl_reasoning.evaluation.benchmarks import LoadedBenchmark, _normalize_rows
from trl_reasoning.evaluation.generation import TransformersBackend
from trl_reasoning.evaluation.recipe_eval import HELDOUT, HELDOUT_PROTOCOL, flat_metrics
from trl_reasoning.evaluation.runner import evaluate, plan_run


class HeldOutEvaluator:
    """Greedy (by default) generation on held-out rows and four numbers about the answers.

    ``rows`` are dicts with ``problem`` and ``answer``. ``lenient_accuracy`` counts a response that is strictly
    right or whose last number is right, so it is never below ``accuracy``. Runs on whatever device the model is
    on; call it on every rank or on the main one only, as the caller's logging needs. ``template`` may be a
    ``PromptFormat`` (``PromptFormat.from_section(recipe.data)``: the recipe's own prompt), which sets
    ``system_prompt``, ``user_template`` and ``few_shot`` too.
    """

    def __init__(self, rows: Sequence[dict], template: str | dict | PromptFormat = "qwen25-math-cot",
                 max_new_tokens: int | None = 256,
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
        self.batch_size = batch_size
        self.grading_processes = grading_processes
        loaded = LoadedBenchmark(HELDOUT, "rows", HELDOUT_PROTOCOL, _normalize_rows(self.rows, HELDOUT, "rows"),
                                 "rows")
        tokens = HELDOUT_PROTOCOL.max_new_tokens if max_new_tokens is None else max_new_tokens
        self.run = plan_run(loaded, n=1, temperature=0.0 if greedy else temperature, seed=seed, max_new_tokens=tokens,
                            template=template, system_prompt=system_prompt, user_template=user_template,
                            few_shot=few_shot)
        self.settings = self.run.sampling
        self.last_responses: list[str] = []

    def __call__(self, model, tokenizer) -> dict[str, Any]:
        if not hasattr(model, "generate") and hasattr(model, "module"):  # DistributedDataParallel and friends
            model = model.module
        backend = TransformersBackend(model, tokenizer, batch_size=self.batch_size)
        records: list[dict] = []
        results = evaluate(model, [self.run], tokenizer=tokenizer, backend=backend, batch_size=self.batch_size,
                           grading_processes=self.grading_processes, progress=False, model_name="held-out",
                           records_out=records)
        self.last_responses = [record["samples"][0]["text"] for record in records]
        metrics = flat_metrics(results)
        metrics["num_problems"] = len(self.rows)
        return metrics


class EvalCallback(TrainerCallback):
    """Runs an evaluator before training, every ``every_steps`` steps, and after training.

    The evaluator is ``evaluator(model, tokenizer)`` (a ``HeldOutEvaluator``), or ``evaluator(model, tokenizer,
    step=N)`` when it takes a ``step`` (a ``RecipeEvaluation``, which files each evaluation under its step).

    ``on_result(step, result)`` receives each result (log it, write it to metrics.jsonl); results are also kept
    in ``history`` as ``(step, result)``. ``every_steps=0`` evaluates only before and after.
    """

    def __init__(self, evaluator: Callable, every_steps: int = 0,
                 on_result: Callable[[int, dict], None] | None = None, *, at_start: bool = True, at_end: bool = True):
        if every_steps < 0:
            raise ValueError(f"every_steps must be >= 0, got {every_steps}")
        self.evaluator = evaluator
        try:
            self._takes_step = "step" in inspect.signature(evaluator).parameters
        except (TypeError, ValueError):
            self._takes_step = False
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
        result = self.evaluator(model, tokenizer, step=step) if self._takes_step else self.evaluator(model, tokenizer)
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
