"""HAPO's history: for every training problem, the length of its correct answers so far.

``mode="min"`` (the authors' default) keeps the shortest correct length; ``mode="mean"`` the running mean over
every correct answer (count-weighted). A problem has no history until one of its answers is correct; wrong
answers never change it. The caller reads the history for a batch *before* updating it from that batch::

    history = ShortestCorrectHistory(num_problems=2000)
    h = history.lookup(prompt_ids)                  # (B,) NaN where empty
    ...reward from h...
    history.update(prompt_ids, lengths, correct)    # then fold this batch in
    history.sync_min()                              # several processes: element-wise min across ranks

Indexing is by the dataset's stable ``prompt_id`` (``trl_reasoning.data``); the tensors grow when a larger id
shows up.
"""

from __future__ import annotations

import torch

MODES = ("min", "mean")


class ShortestCorrectHistory:
    def __init__(self, num_problems: int = 0, mode: str = "min"):
        if mode not in MODES:
            raise ValueError(f"unknown HAPO history mode {mode!r}; use one of {', '.join(MODES)}")
        self.mode = mode
        self.shortest = torch.full((num_problems,), float("inf"), dtype=torch.float64)  # (N,) inf: empty
        self.total = torch.zeros(num_problems, dtype=torch.float64)  # (N,) sum of correct lengths
        self.count = torch.zeros(num_problems, dtype=torch.int64)  # (N,) number of correct answers

    @property
    def size(self) -> int:
        return self.shortest.numel()

    def grow(self, size: int) -> None:
        """Make room for problems 0 .. size-1 (new ones start empty)."""
        extra = size - self.size
        if extra <= 0:
            return
        self.shortest = torch.cat([self.shortest, torch.full((extra,), float("inf"), dtype=torch.float64)])  # (N',)
        self.total = torch.cat([self.total, torch.zeros(extra, dtype=torch.float64)])  # (N',)
        self.count = torch.cat([self.count, torch.zeros(extra, dtype=torch.int64)])  # (N',)

    @property
    def values(self) -> torch.Tensor:
        """(N,) float64: the history of every problem, NaN where it is empty."""
        if self.mode == "min":
            values = self.shortest.clone()  # (N,)
        else:
            values = self.total / self.count.clamp(min=1).double()  # (N,)
        values[self.count == 0] = float("nan")
        return values

    def lookup(self, prompt_ids) -> torch.Tensor:
        """(B,) float64 history of each row's problem (NaN: none yet)."""
        ids = torch.as_tensor(list(prompt_ids), dtype=torch.long)  # (B,)
        if (ids < 0).any():
            raise ValueError("HAPO needs the dataset's `prompt_id` column on every row (got a negative id)")
        self.grow(int(ids.max().item()) + 1 if ids.numel() else 0)
        return self.values[ids]  # (B,)

    def update(self, prompt_ids, lengths: torch.Tensor, correct: torch.Tensor) -> None:
        """Fold one batch's correct answers in; rows with ``correct`` False are ignored."""
        ids = torch.as_tensor(list(prompt_ids), dtype=torch.long)  # (B,)
        if ids.numel() == 0:
            return
        self.grow(int(ids.max().item()) + 1)
        keep = correct.bool()  # (B,)
        ids, lengths = ids[keep], lengths[keep].double()  # (K,), (K,)
        if ids.numel() == 0:
            return
        self.shortest.scatter_reduce_(0, ids, lengths, reduce="amin")  # (N,)
        self.total.index_add_(0, ids, lengths)  # (N,)
        self.count.index_add_(0, ids, torch.ones_like(ids))  # (N,)

    def sync_min(self) -> None:
        """Element-wise minimum across processes (the authors all-gather and take the min).

        Every rank of trl-reasoning updates from the same global batch, so the tensors already agree and this is a
        guard; it is called unconditionally on every rank, as collectives must be.
        """
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return
        device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
        size = torch.tensor([self.size], dtype=torch.int64, device=device)  # (1,)
        dist.all_reduce(size, op=dist.ReduceOp.MAX)
        self.grow(int(size.item()))
        for name in ("shortest", "total", "count"):
            tensor = getattr(self, name).to(device)  # (N,)
            dist.all_reduce(tensor, op=dist.ReduceOp.MIN)
            setattr(self, name, tensor.cpu())

    # -- statistics and checkpoints --------------------------------------------------------------------------------

    def stats(self, num_problems: int | None = None) -> dict[str, float]:
        """Share of problems with a history (out of ``num_problems``, default the tensor size) and their mean h."""
        known = self.count > 0  # (N,)
        denominator = max(num_problems or self.size, 1)
        values = self.values[known]  # (K,)
        return {"share_with_history": known.sum().item() / denominator,
                "mean_history": values.mean().item() if values.numel() else float("nan")}

    def state_dict(self) -> dict:
        return {"mode": self.mode, "shortest": self.shortest.clone(), "total": self.total.clone(),
                "count": self.count.clone()}

    def load_state_dict(self, state: dict) -> None:
        if state.get("mode", self.mode) != self.mode:
            raise ValueError(f"checkpoint holds a HAPO history in mode {state['mode']!r}, this run uses "
                             f"{self.mode!r}; keep `plugins.hapo.mode` the same when resuming")
        self.shortest = state["shortest"].clone().double()  # (N,)
        self.total = state["total"].clone().double()  # (N,)
        self.count = state["count"].clone().long()  # (N,)
