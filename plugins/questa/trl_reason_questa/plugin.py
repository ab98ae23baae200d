"""QuestA (Li et al., arXiv 2507.13266): train on problems whose prompt carries the first part of a solution.

Name it in a recipe (the training rows need a worked solution column; the embedded arithmetic rows have one)::

    plugins:
      questa:
        schedule: [{start_step: 0, fraction: 0.5}, {start_step: 100, fraction: 0.25}]
    trainer:
      group_filter: [0.05, 0.95]     # the authors' success-rate filter, a core option ...
      group_filter_max_rounds: 4     # ... that only changes the gradient with refill: rejected groups are replaced

How each part acts (docs/plugins/questa.md has the whole story):

* ``schedule``: the hint fraction p for the step that begins (logged as ``schedule/hint_fraction``).
* ``transform_prompt``: once per unique prompt, before it is repeated for its group, the prompt is rebuilt from
  ``problem + "\\n\\n## Hint." + first p of the solution`` with the recipe's template (training only: evaluation
  prompts never carry a hint). Every transformed row carries ``prompt_variant`` (``"hint=0.50"``, ``""`` without a
  hint), which keys the core's per-prompt record (``trainer.records``; HAPO's history). No side effect: a selector
  (PCL) runs the chain on candidates it does not keep; the ``questa/*`` metrics are counted in ``on_rewards``.
* ``trl-reason questa select``: the hard-problem pool (problems the model solves 0-4 times of 8 with the hint).

Refill rounds (``trainer.group_filter_max_rounds``) draw replacement rows through the same ``transform_prompt``, so
replacement prompts carry hints cut at the step's fraction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

from trl_reasoning import hookimpl

from .hints import HINT_MARKER, MIN_PREFIX_CHARS, SEPARATOR, answer_in_solution, fraction_at, hinted_problem

logger = logging.getLogger("trl_reasoning.questa")


@dataclass
class HintPhase:
    start_step: int = field(default=0, metadata={"help": "First optimizer step (0-based) of this phase."})
    fraction: float = field(default=0.5, metadata={"help": "Share p of the solution shown as the hint, in [0, 1]."})

    def __post_init__(self):
        if self.start_step < 0:
            raise ValueError(f"start_step must be >= 0, got {self.start_step}")
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"fraction must lie in [0, 1], got {self.fraction}")


def prompt_variant(fraction: float) -> str:
    """The ``prompt_variant`` of a row generated with a hint of ``fraction`` (``"hint=0.50"``); rows without a hint
    carry ``""``, the variant of every unhinted prompt. ``trainer.records`` keys its per-prompt record by it, so HAPO's
    shortest correct length at p = 0.5 is never the target at p = 0.25."""
    return f"hint={fraction:.2f}"


def paper_schedule() -> list[HintPhase]:
    """Partial-50, then Partial-25 (`partial_50_grpo.yaml`, `partial_50_25_grpo.yaml`; the switch after about 100
    steps, when entropy starts to fall at p = 0.5)."""
    return [HintPhase(start_step=0, fraction=0.5), HintPhase(start_step=100, fraction=0.25)]


@hookimpl
def register_commands(subparsers):
    from .select import add_questa_parser

    add_questa_parser(subparsers)


class Plugin:
    """QuestA's hints and their schedule (see the module docstring)."""

    @dataclass
    class Config:
        schedule: list[HintPhase] = field(default_factory=paper_schedule, metadata={
            "help": "Hint fraction by step: [{start_step, fraction}, ...]. Default: the released curriculum, p = 0.5 "
                    "(`partial_50_grpo.yaml`) then p = 0.25 from step 100 (`partial_50_25_grpo.yaml`, started from "
                    "the Partial-50 checkpoint after about 100 steps)."})
        unit: Literal["chars", "tokens"] = field(default="chars", metadata={
            "help": "Cut the solution by characters (`add_prefix.py`: `solution[: int(len(solution) * p)]`) or by "
                    "tokens of the policy's tokenizer (the paper's wording, \"token percentage\")."})
        min_prefix_chars: int = field(default=MIN_PREFIX_CHARS, metadata={
            "help": "No hint when the prefix is shorter than this (`add_prefix.py`: `if len(prefix) < 10`); the "
                    "prompt is then `problem + \"\\n\\n\"`."})
        marker: str = field(default=HINT_MARKER, metadata={
            "help": "Text before the prefix (`add_prefix.py`: `\"## Hint.\"`, nothing between it and the prefix)."})
        separator: str = field(default=SEPARATOR, metadata={
            "help": "Text between the problem and the marker (`add_prefix.py`: `\"\\n\\n\"`)."})
        solution_column: str = field(default="solution", metadata={
            "help": "Training-data column with the worked solution (the authors: a DeepSeek-R1 generation of "
                    "OpenR1-Math-220k, the `generation` column of their released pool files)."})
        after_think: bool = field(default=True, metadata={
            "help": "Cut from the text after the last `</think>` (`gen.split('</think>')[-1]`): the solution, not "
                    "the reasoning; a generation stored in double quotes loses them first, as in add_prefix.py."})
        require_answer_in_solution: bool = field(default=True, metadata={
            "help": "Give no hint when the reference answer does not appear in the solution block (`add_prefix.py` "
                    "drops such records; at train time the row keeps its plain prompt)."})

    def __init__(self, config: "Plugin.Config"):
        self.config = config
        if not config.schedule:
            raise ValueError("questa needs at least one phase in `schedule`")
        self.phases = sorted((phase.start_step, phase.fraction) for phase in config.schedule)
        if self.phases[0][0] != 0:
            raise ValueError(f"the questa schedule must start at step 0 (first phase starts at {self.phases[0][0]})")
        self.fraction = self.phases[0][1]
        self.tokenizer = None
        self.prompt_format = None  # the recipe's prompt renderer (trainer.prompt_format), None without a recipe
        self._hinted: list[int] = []  # hint characters of each generated prompt since the last log line (0: none)

    def fraction_at(self, step: int) -> float:
        return fraction_at(self.phases, step)

    # -- hooks -----------------------------------------------------------------------------------------------------

    @hookimpl
    def trainer_ready(self, trainer):
        self.tokenizer = trainer.processing_class
        self.prompt_format = getattr(trainer, "prompt_format", None)
        columns = getattr(trainer.train_dataset, "column_names", None) or []
        if columns and self.config.solution_column not in columns:
            raise ValueError(f"questa needs a {self.config.solution_column!r} column with worked solutions in the "
                             f"training data (columns: {sorted(columns)}); set plugins.questa.solution_column")

    @hookimpl
    def schedule(self, trainer, step):
        self.fraction = self.fraction_at(step)
        return {"hint_fraction": self.fraction}

    def hint_for(self, row: dict) -> str | None:
        """The hinted problem text of a training row, or ``None`` when it gets no hint."""
        solution = row.get(self.config.solution_column)
        if not solution:
            return None
        if self.config.require_answer_in_solution and not answer_in_solution(
                str(row.get("answer", "")), solution, self.config.after_think):
            return None
        encode = decode = None
        if self.config.unit == "tokens":
            tokenizer = getattr(self.tokenizer, "tokenizer", self.tokenizer)  # processors wrap a tokenizer

            def encode(text):
                return tokenizer(text, add_special_tokens=False)["input_ids"]

            def decode(ids):
                return tokenizer.decode(ids, skip_special_tokens=True)

        return hinted_problem(str(row["problem"]), solution, self.fraction, after_think=self.config.after_think,
                              min_prefix_chars=self.config.min_prefix_chars, marker=self.config.marker,
                              separator=self.config.separator, encode=encode, decode=decode)

    def hint_chars(self, row: dict, hinted: str | None) -> int:
        """Characters of solution shown in ``hinted`` (0: no hint, including the ``< min_prefix_chars`` rule)."""
        if hinted is None:
            return 0
        bare = str(row["problem"]) + self.config.separator
        return 0 if hinted == bare else len(hinted) - len(bare) - len(self.config.marker)

    @hookimpl
    def transform_prompt(self, trainer, row):
        # No side effect: a selector may run the transform chain on candidates it does not keep (PCL predicts on
        # the prompt that will be generated). The metrics are counted in on_rewards from what was generated.
        hinted = self.hint_for(row)
        variant = prompt_variant(self.fraction) if self.hint_chars(row, hinted) > 0 else ""
        if hinted is None:
            return {**row, "prompt_variant": variant}
        return {**row, "prompt": self.render(row, hinted), "prompt_variant": variant}

    def render(self, row: dict, hinted: str):
        """The prompt for ``hinted`` in the recipe's template (system prompt and user template included)."""
        if self.prompt_format is not None:  # the same renderer as the training rows: only the problem differs
            return self.prompt_format.render(hinted)
        prompt = row["prompt"]  # a trainer built without a recipe: put the hint where the problem is
        if isinstance(prompt, str):
            return prompt.replace(str(row["problem"]), hinted, 1)
        messages = [dict(m) for m in prompt]
        for message in reversed(messages):
            if message.get("role") == "user":
                message["content"] = str(message["content"]).replace(str(row["problem"]), hinted, 1)
                break
        return messages

    @hookimpl
    def on_rewards(self, trainer, batch):
        G = batch.num_generations
        for group in range(batch.num_groups):  # one entry per generated prompt (refill rounds included)
            row = batch.rows[group * G] if batch.rows else {}
            if "problem" in row:
                self._hinted.append(self.hint_chars(row, self.hint_for(row)) if row.get("prompt_variant") else 0)

    @hookimpl
    def metrics(self, trainer, mode):
        if mode != "train" or not self._hinted:
            return None
        hinted = self._hinted
        self._hinted = []
        with_hint = [n for n in hinted if n > 0]
        return {"questa/hinted_fraction": len(with_hint) / len(hinted),
                "questa/hint_chars_mean": sum(with_hint) / len(with_hint) if with_hint else 0.0}


__all__ = ["HintPhase", "Plugin", "paper_schedule", "prompt_variant", "register_commands"]
