"""Each training example's accuracy per epoch, as 1-shot RLVR records it during a run (``hist_acc``).

The authors' verl fork logs, for every example and epoch, the mean accuracy of its rollouts in that epoch
(``ray_trainer._log_scores_to_wandb``; docs/papers/one_shot.md). Here the key is the dataset's stable
``prompt_id``; an example seen several times in one epoch (its copies in a replicated set, or several groups)
contributes all its rollouts to that epoch's mean::

    record = AccuracyRecord()
    record.add(epoch=0, prompt_ids=[3, 3, 5, 5], correct=[True, False, False, False])
    record.hist_acc(3)        # [0.5]
"""

from __future__ import annotations

from collections.abc import Iterable


class AccuracyRecord:
    def __init__(self):
        self.counts: dict[int, dict[int, list[int]]] = {}  # prompt_id -> epoch -> [correct, rollouts]

    def add(self, epoch: int, prompt_ids: Iterable[int], correct: Iterable[bool]) -> None:
        for prompt_id, ok in zip(prompt_ids, correct):
            cell = self.counts.setdefault(int(prompt_id), {}).setdefault(int(epoch), [0, 0])
            cell[0] += int(bool(ok))
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
