"""``--resume``: which checkpoint a run resumes from (the rules live with the checkpoints), and how many steps a
checkpoint holds."""

from __future__ import annotations

import json
from pathlib import Path

from trl_reasoning.lifecycle import checkpoints


def trained_steps(checkpoint: str) -> int | None:
    """The global step a checkpoint holds (TRL's ``trainer_state.json``), or ``None`` without that file."""
    from transformers.trainer import TRAINER_STATE_NAME  # heavy

    state = Path(checkpoint) / TRAINER_STATE_NAME
    return json.loads(state.read_text(encoding="utf-8"))["global_step"] if state.exists() else None


def resolve_resume(resume, output_dir: str) -> str | None:
    """``--resume``: the newest complete checkpoint of the output dir, or the given one once it is known to be
    whole (``lifecycle.checkpoints.resolve_resume``; ``ConfigError`` at ``--resume`` otherwise)."""
    return checkpoints.resolve_resume(resume, output_dir)
