"""One per-prompt record for the whole run, kept by the core: ``trainer.records``.

Keyed by ``(prompt_id, prompt_variant)``: the variant is what a plugin changed in the prompt before generation
(QuestA's hint fraction, ``"hint=0.50"``; ``""`` for the plain prompt), so statistics of a hinted prompt never mix
with those of the plain one. Plugins read it instead of keeping their own histories::

    record = trainer.records.get(prompt_id, variant="hint=0.25")
    if record is not None and record.shortest_correct is not None:
        budget = record.shortest_correct

The core updates it once per generation round, after every plugin's ``on_rewards`` (so a plugin sees the record as
it stood before this round), identically on every rank, from the ``correct`` flag only (never a shaped reward). It
is checkpointed once, as the state of the reserved core plugin ``core:records`` (``RecordsPlugin``), together with
the run's generation-round counter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trl_reasoning.hookspecs import hookimpl

if TYPE_CHECKING:  # the record reads a batch but needs no torch itself
    from trl_reasoning.rollouts import RolloutBatch

RECORDS_PLUGIN = "core:records"
STATE_VERSION = 1


@dataclass
class PromptRecord:
    attempts: int = 0  # completions graded
    correct: int = 0  # of them correct (the `correct` flag, never a shaped reward)
    pass_rates: list[tuple[int, float]] = field(default_factory=list)  # (step, group pass rate), oldest first
    shortest_correct: int | None = None  # token length of the shortest correct completion so far (EOS included)
    last_step: int = -1
    correct_length_total: int = 0  # sum of the token lengths of the correct completions (their mean: / correct)

    @property
    def pass_rate(self) -> float | None:
        """Share of all graded completions that were correct, or ``None`` before any was graded."""
        return self.correct / self.attempts if self.attempts else None


@dataclass(frozen=True)
class RoundSummary:
    correct: int  # correct completions
    correct_length_total: int  # sum of their token lengths
    shortest: int | None  # shortest correct token length; None when none is correct
    pass_rate: float  # correct / completions


def round_summary(flags: list[bool], lengths: list[int]) -> RoundSummary:
    """What one round adds to one prompt's record, from its completions' ``correct`` flags and token lengths."""
    correct_lengths = [int(n) for ok, n in zip(flags, lengths) if ok]
    return RoundSummary(len(correct_lengths), sum(correct_lengths), min(correct_lengths, default=None),
                        len(correct_lengths) / len(flags))


class PromptRecords:
    """Per ``(prompt_id, variant)`` attempts, correct count, pass-rate history, shortest correct length, last step."""

    def __init__(self):
        self._records: dict[tuple[int, str], PromptRecord] = {}

    def __len__(self) -> int:
        return len(self._records)

    def get(self, prompt_id: int, variant: str = "") -> PromptRecord | None:
        return self._records.get((int(prompt_id), variant))

    def keys(self) -> list[tuple[int, str]]:
        """Every ``(prompt_id, variant)`` recorded, sorted."""
        return sorted(self._records)

    def variants(self, prompt_id: int) -> list[str]:
        """The variants of ``prompt_id`` seen so far, sorted."""
        return sorted(v for pid, v in self._records if pid == int(prompt_id))

    def update(self, batch: RolloutBatch) -> None:
        """Add one generation round (every rank calls it with the same global batch). Groups of one prompt and
        variant in the round (1-shot repeats one prompt) count together: one ``pass_rates`` entry per round."""
        lengths = batch.completion_lengths.tolist()  # (B,)
        flags = batch.correct.tolist() if batch.correct is not None else None  # (B,)
        rounds: dict[tuple[int, str], list[int]] = {}  # key -> completion indices, in batch order
        for index in range(batch.size):
            rounds.setdefault((int(batch.prompt_ids[index]), batch.variant(index)), []).append(index)
        for key, indices in rounds.items():
            record = self._records.setdefault(key, PromptRecord())
            record.last_step = batch.step
            if flags is None:  # no reward decides correctness: nothing graded
                continue
            record.attempts += len(indices)
            summary = round_summary([flags[i] for i in indices], [lengths[i] for i in indices])
            record.correct += summary.correct
            record.correct_length_total += summary.correct_length_total
            record.pass_rates.append((batch.step, summary.pass_rate))
            if summary.shortest is not None and (record.shortest_correct is None
                                                 or summary.shortest < record.shortest_correct):
                record.shortest_correct = summary.shortest

    def state_dict(self) -> dict:
        return {"version": STATE_VERSION, "records": [
            [pid, variant, r.attempts, r.correct, [list(p) for p in r.pass_rates], r.shortest_correct, r.last_step,
             r.correct_length_total]
            for (pid, variant), r in sorted(self._records.items())]}

    def load_state_dict(self, state: dict) -> None:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"prompt records: checkpoint state version {state.get('version')!r}, this trl-reasoning "
                             f"reads version {STATE_VERSION}")
        self._records = {
            (int(pid), str(variant)): PromptRecord(attempts=int(attempts), correct=int(correct),
                                                   pass_rates=[(int(s), float(p)) for s, p in rates],
                                                   shortest_correct=None if shortest is None else int(shortest),
                                                   last_step=int(last_step), correct_length_total=int(total))
            for pid, variant, attempts, correct, rates, shortest, last_step, total in state["records"]}


class RecordsPlugin:
    """The core plugin ``core:records``: updates ``records`` after every other plugin's ``on_rewards`` and stores it,
    with the run's generation-round counter (``generation``), in every checkpoint."""

    def __init__(self):
        self.records = PromptRecords()
        self.generation = 0  # generation rounds produced so far in this run

    @hookimpl(trylast=True)
    def on_rewards(self, batch):
        self.records.update(batch)

    @hookimpl
    def plugin_state(self):
        return {"records": self.records.state_dict(), "generation": self.generation}

    @hookimpl
    def load_plugin_state(self, state):
        self.records.load_state_dict(state["records"])
        self.generation = int(state["generation"])
