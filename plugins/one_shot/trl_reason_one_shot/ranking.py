"""The historical variance score of 1-shot RLVR and the pi list it defines (docs/papers/one_shot.md).

v_i = var(s_i,1..E) over example i's per-epoch training accuracies [PAPER Eq. 1]; the authors' code sorts by
``np.std`` (population std, the same order), descending, with Python's stable ``sorted`` (ties keep the key order
of their ``acc_step_500.json``) [CODE ``data/data_selection.py``]. pi_j is the example at rank j::

    rows = load_hist_acc_rows("dsr_sub.jsonl")           # rows with a `hist_acc` list
    rank_examples(rows, index_column="dsr_sub_index", tie_column="pi_rank")[:3]     # [124, 267, 531]

Scores are rounded to 12 decimals before sorting, so that examples whose accuracies are the same multiset in a
different order (equal std, different float rounding) count as ties and keep the source order; ``np.std`` on the raw
values would order 2 of DSR-sub's 1,209 examples by float noise.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HIST_ACC_FILE = "one_shot_hist_acc.jsonl"
DECIMALS = 12


def historical_std(values) -> float:
    """Population std of an example's per-epoch accuracies (``np.std``, as the authors); 0 for no values."""
    return float(np.std(np.asarray(values, dtype=np.float64))) if len(values) else 0.0


def rank_examples(rows: list[dict], index_column: str = "index", tie_column: str | None = None) -> list:
    """Indices (``row[index_column]``) sorted by historical std, highest first: the pi list.

    Ties keep ``tie_column``'s ascending order when given (DSR-sub's ``pi_rank`` holds the authors' key order),
    else the order of ``rows``.
    """
    missing = [i for i, row in enumerate(rows) if "hist_acc" not in row or index_column not in row]
    if missing:
        raise ValueError(f"row {missing[0]} has no `hist_acc` or `{index_column}` column "
                         f"(columns: {sorted(rows[missing[0]])})")

    def key(position: int):
        row = rows[position]
        score = round(historical_std(row["hist_acc"]), DECIMALS)
        return (-score, row[tie_column] if tie_column else position, position)

    return [rows[p][index_column] for p in sorted(range(len(rows)), key=key)]


def load_hist_acc_rows(source: str | Path) -> list[dict]:
    """Rows with ``hist_acc`` from a file or a run.

    * a ``.jsonl`` / ``.json`` / ``.parquet`` file whose rows have a ``hist_acc`` list (DSR-sub, or the record a run
      writes);
    * a JSON object ``{index: [acc, ...]}`` (the authors' ``acc_step_500.json``): rows ``{"index", "hist_acc"}`` in
      key order;
    * a run's output directory (its ``one_shot_hist_acc.jsonl``, else the newest ``checkpoint-*/plugin_state.pt``),
      a checkpoint directory, or a ``plugin_state.pt`` file.
    """
    path = Path(source).expanduser()
    if path.is_dir():
        if (path / HIST_ACC_FILE).exists():
            return load_hist_acc_rows(path / HIST_ACC_FILE)
        if (path / "plugin_state.pt").exists():
            return load_hist_acc_rows(path / "plugin_state.pt")
        checkpoints = sorted(path.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1])
                             if p.name.split("-")[-1].isdigit() else -1)
        for checkpoint in reversed(checkpoints):
            if (checkpoint / "plugin_state.pt").exists():
                return load_hist_acc_rows(checkpoint / "plugin_state.pt")
        raise FileNotFoundError(f"{path}: no {HIST_ACC_FILE} and no checkpoint-*/plugin_state.pt with a one_shot "
                                f"record (was the run's recipe naming `plugins: {{one_shot: ...}}`?)")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or run directory")
    if path.suffix == ".pt":
        import torch

        from .record import AccuracyRecord

        states = torch.load(path, weights_only=False)
        if "one_shot" not in states:
            raise ValueError(f"{path} holds no one_shot state (plugins: {sorted(states)})")
        state = states["one_shot"]
        if "record" in state:  # a checkpoint written before the core's per-prompt record
            record = AccuracyRecord()
            record.load_state_dict(state["record"])
        else:  # the rollouts are in `core:records`, the epoch of each step in the plugin's state
            from trl_reasoning import PromptRecords

            records = PromptRecords()
            records.load_state_dict(states["core:records"]["records"])
            record = AccuracyRecord.from_records(records, state["epoch_of_step"], state["index_of"])
        return record.rows(state.get("index_of"), state.get("index_column", "index"))
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
            return [{"index": int(k) if str(k).lstrip("-").isdigit() else k, "hist_acc": v} for k, v in data.items()]
    from trl_reasoning import read_rows

    return read_rows(path)
