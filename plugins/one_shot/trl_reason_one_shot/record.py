"""Each training example's accuracy per epoch, as 1-shot RLVR records it during a run (``hist_acc``).

The authors' verl fork logs, for every example and epoch, the mean accuracy of its rollouts in that epoch
(``ray_trainer._log_scores_to_wandb``; docs/papers/one_shot.md). Here the key is the dataset's stable
``prompt_id``. During a run the rollouts are counted once, by the core's per-prompt record (``trainer.records``:
one pass rate per prompt, variant and generation round); the plugin keeps only the epoch of every step, and
``from_records`` folds the rounds of each epoch into the example's accuracy (every variant of the prompt, e.g.
QuestA's hint fractions, together)::

    record = AccuracyRecord()
    record.add(epoch=0, prompt_ids=[3, 3, 5, 5], correct=[True, False, False, False])
    record.hist_acc(3)        # [0.5]
    record = AccuracyRecord.from_records(trainer.records, epoch_of_step={0: 0, 1: 0, 2: 1}, prompt_ids=[3, 5])

Each round of an epoch weighs the same: the epoch's accuracy is the mean of its rounds' pass rates. That is the
mean over the epoch's rollouts whenever the example has as many rollouts in every round, as with 1-shot's fixed
replication (the authors' pi1 x 128 at 128 prompts a step: one round per epoch) or a dataset seen once per epoch.
"""

from __future__ import annotations

from collections.abc import Iterable


class AccuracyRecord:
    def __init__(self):
        self.counts: dict[int, dict[int, list]] = {}  # prompt_id -> epoch -> [correct (or sum of rates), weight]

    def add(self, epoch: int, prompt_ids: Iterable[int], correct: Iterable[bool]) -> None:
        for prompt_id, ok in zip(prompt_ids, correct):
            cell = self.counts.setdefault(int(prompt_id), {}).setdefault(int(epoch), [0, 0])
            cell[0] += int(bool(ok))
            cell[1] += 1

    @classmethod
    def from_records(cls, records, epoch_of_step: dict[int, int], prompt_ids: Iterable[int]) -> "AccuracyRecord":
        """The accuracy record of ``prompt_ids`` from the core's per-prompt record (``trl_reasoning.PromptRecords``):
        each ``(step, pass rate)`` round of every variant goes to the epoch of its step; rounds of steps missing
        from ``epoch_of_step`` (not recorded) are skipped."""
        record, wanted = cls(), {int(p) for p in prompt_ids}
        for prompt_id, variant in records.keys():  # one pass over the record, every variant of a prompt together
            if prompt_id not in wanted:
                continue
            for step, rate in records.get(prompt_id, variant).pass_rates:
                if int(step) in epoch_of_step:
                    record.add_rate(epoch_of_step[int(step)], prompt_id, rate)
        return record

    def add_rate(self, epoch: int, prompt_id: int, rate: float) -> None:
        """One round's pass rate of an example, weighing as one rollout."""
        cell = self.counts.setdefault(int(prompt_id), {}).setdefault(int(epoch), [0, 0])
        cell[0] += rate
        cell[1] += 1

    def hist_acc(self, prompt_id: int) -> list[float]:
        """Accuracy of each epoch in which the example was trained, in epoch order."""
        epochs = self.counts.get(int(prompt_id), {})
        return [epochs[e][0] / epochs[e][1] for e in sorted(epochs)]

    def prompt_ids(self) -> list[int]:
        return sorted(self.counts)

    def rows(self, index_of: dict[int, object] | None = None, index_column: str = "index") -> list[dict]:
        """One row per example: ``prompt_id``, its index (``index_of[prompt_id]``, default the prompt_id) and
        ``hist_acc``, in prompt_id order (the ranking's tie order)."""
        index_of = index_of or {}
        return [{"prompt_id": pid, index_column: index_of.get(pid, pid), "hist_acc": self.hist_acc(pid)}
                for pid in self.prompt_ids()]

    def state_dict(self) -> dict:
        return {"counts": {pid: {e: list(c) for e, c in epochs.items()} for pid, epochs in self.counts.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.counts = {int(pid): {int(e): list(c) for e, c in epochs.items()}
                       for pid, epochs in state["counts"].items()}
