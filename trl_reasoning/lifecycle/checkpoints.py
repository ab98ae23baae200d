"""Checkpoints that are whole or absent, carry every active plugin's state, and know what run wrote them.

A checkpoint is a directory ``<output_dir>/checkpoint-<step>`` as TRL writes it (model, optimizer, scheduler,
RNG states, ``trainer_state.json``) plus two files of ours:

* ``plugin_state.pt``: ``{plugin_name: state}`` from every active plugin's ``plugin_state`` hook;
* ``trl_reasoning_checkpoint.json``: the step, the dataset fingerprint, the resolved recipe, the world size, the
  generation-block position and a digest of the plugin state.

Atomicity: the trainer writes the whole checkpoint under ``<output_dir>/.incomplete-checkpoints/checkpoint-<step>``
and renames it to ``<output_dir>/checkpoint-<step>`` only once every file (ours last) is written. A rename within
one file system is atomic, so a process killed during a save leaves the previous checkpoint as the newest
``checkpoint-*``; the half-written one stays under ``.incomplete-checkpoints/`` until the next save clears it.
``latest_checkpoint`` also requires our metadata file, so a ``checkpoint-*`` directory written by something else
(plain TRL, an older version) is never picked by ``--resume`` without a path.

::

    from trl_reasoning.lifecycle.checkpoints import latest_checkpoint, read_meta
    path = latest_checkpoint("runs/qs")          # "runs/qs/checkpoint-20" or None
    read_meta(path)["data_fingerprint"]
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

from trl_reasoning.versions import versions_of
from trl_reasoning.config.redact import redact
from trl_reasoning.config.schema import ConfigError
from trl_reasoning.console import console

STAGING_DIR = ".incomplete-checkpoints"
META_FILE = "trl_reasoning_checkpoint.json"
PLUGIN_STATE_FILE = "plugin_state.pt"
META_FORMAT = 1
ALLOW_MISMATCH_ENV = "TRL_REASONING_ALLOW_RESUME_MISMATCH"
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")

# Recipe keys that may change between a run and its resume without changing what is trained: how long, how often
# to save or log, where results go and what is evaluated. Every other difference stops the resume.
RESUME_FREE_KEYS = (
    "output_dir", "source", "description", "hub", "eval", "test_model",
    "trainer.max_steps", "trainer.num_train_epochs", "trainer.save_steps", "trainer.save_strategy",
    "trainer.save_total_limit", "trainer.save_only_model", "trainer.logging_steps", "trainer.logging_first_step",
    "trainer.report_to", "trainer.run_name", "trainer.logging_dir", "trainer.push_to_hub", "trainer.hub_model_id",
    "trainer.disable_tqdm", "trainer.log_completions", "trainer.dataloader_num_workers",
)


class ResumeMismatch(ConfigError):
    """The checkpoint was written by a run with other data, another recipe or another world size."""


# -- where checkpoints are ------------------------------------------------------------------------------------------


def staging_root(run_dir: str | os.PathLike) -> str:
    """Where checkpoints are written before they are complete."""
    return os.path.join(str(run_dir), STAGING_DIR)


def checkpoint_step(path: str | os.PathLike) -> int | None:
    match = _CHECKPOINT_RE.match(Path(path).name)
    return int(match.group(1)) if match else None


def is_complete(path: str | os.PathLike) -> bool:
    """A checkpoint directory that trl-reasoning finished writing (its metadata file is the last thing written)."""
    return os.path.isfile(os.path.join(str(path), META_FILE))


def list_checkpoints(run_dir: str | os.PathLike, complete_only: bool = True) -> list[str]:
    """``checkpoint-<step>`` directories of a run, oldest first."""
    run_dir = str(run_dir)
    if not os.path.isdir(run_dir):
        return []
    found = []
    for name in os.listdir(run_dir):
        step = checkpoint_step(name)
        path = os.path.join(run_dir, name)
        if step is not None and os.path.isdir(path) and (is_complete(path) or not complete_only):
            found.append((step, path))
    return [path for _, path in sorted(found)]


def latest_checkpoint(run_dir: str | os.PathLike) -> str | None:
    """The newest complete checkpoint of a run, or ``None``."""
    complete = list_checkpoints(run_dir)
    return complete[-1] if complete else None


def incomplete_checkpoints(run_dir: str | os.PathLike) -> list[str]:
    """Checkpoints whose save was interrupted (left in the staging directory)."""
    root = staging_root(run_dir)
    if not os.path.isdir(root):
        return []
    return sorted(os.path.join(root, n) for n in os.listdir(root) if checkpoint_step(n) is not None)


def clear_staging(run_dir: str | os.PathLike) -> None:
    """Remove what interrupted saves left behind (main process, before a save)."""
    shutil.rmtree(staging_root(run_dir), ignore_errors=True)


def commit(staged: str, final: str) -> None:
    """Move a finished checkpoint from the staging directory to its final name.

    When ``final`` already exists (a run resumed from an earlier checkpoint saves the same step again), it is moved
    aside first, so at every moment ``final`` is either the old whole checkpoint, absent, or the new whole one.
    """
    _fsync_dir(staged)
    if os.path.exists(final):
        aside = staged + ".replaced"
        shutil.rmtree(aside, ignore_errors=True)
        os.replace(final, aside)
        os.replace(staged, final)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(staged, final)
    _fsync_dir(os.path.dirname(final))
    root = os.path.dirname(staged)
    try:
        os.rmdir(root)  # only when empty
    except OSError:
        pass


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- what a checkpoint knows ------------------------------------------------------------------------------------------


def state_digest(states: Any) -> str:
    """SHA-256 of plugin state, independent of the device tensors live on (equal states give equal digests on
    every rank)."""
    import torch

    def canonical(value):
        if isinstance(value, torch.Tensor):
            return ("tensor", str(value.dtype), tuple(value.shape), value.detach().cpu().contiguous().numpy().tobytes())
        if isinstance(value, dict):
            return ("dict", tuple(sorted(((repr(k), canonical(v)) for k, v in value.items()), key=lambda kv: kv[0])))
        if isinstance(value, (list, tuple)):
            return (type(value).__name__, tuple(canonical(v) for v in value))
        if isinstance(value, float):
            return ("float", value.hex())
        return (type(value).__name__, repr(value))

    return hashlib.sha256(repr(canonical(states)).encode()).hexdigest()


def write_plugin_state(folder: str, states: dict) -> None:
    import torch

    buffer = io.BytesIO()
    torch.save(states, buffer)
    _write_atomic(os.path.join(folder, PLUGIN_STATE_FILE), buffer.getvalue())


def read_plugin_state(folder: str) -> dict | None:
    import torch

    path = os.path.join(folder, PLUGIN_STATE_FILE)
    if not os.path.exists(path):
        return None
    # Plugin state is arbitrary picklable data that this run's own plugins wrote: load only checkpoints you trust.
    return torch.load(path, weights_only=False, map_location="cpu")


def build_meta(*, global_step: int, data_fingerprint: str | None, recipe: dict | None, world_size: int,
               gradient_accumulation_steps: int, steps_per_generation: int, num_iterations: int,
               plugin_names: list[str], plugin_state_sha256: str) -> dict:
    versions = versions_of(("trl-reasoning", "trl", "transformers", "torch", "accelerate"))
    block = steps_per_generation * num_iterations
    micro_steps = global_step * gradient_accumulation_steps
    return {
        "format": META_FORMAT,
        "global_step": global_step,
        "data_fingerprint": data_fingerprint,
        "recipe": recipe,
        "world_size": world_size,
        "gradient_accumulation_steps": gradient_accumulation_steps,
        "steps_per_generation": steps_per_generation,
        "num_iterations": num_iterations,
        # micro-steps since the last generation: 0 means the checkpoint sits on a generation boundary
        "generation_block_offset": micro_steps % block,
        "plugins": sorted(plugin_names),
        "plugin_state_sha256": plugin_state_sha256,
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": versions,
    }


def write_meta(folder: str, meta: dict) -> None:
    """Written last: its presence marks the checkpoint complete."""
    _write_atomic(os.path.join(folder, META_FILE), (redact(json.dumps(meta, indent=2, default=str)) + "\n").encode())


def read_meta(folder: str | os.PathLike) -> dict | None:
    path = os.path.join(str(folder), META_FILE)
    if not os.path.exists(path):
        return None
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _write_atomic(path: str, data: bytes) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# -- one run per output directory ---------------------------------------------------------------------------------------

LOCK_FILE = ".trl-reasoning.lock"
_HELD: dict[str, "RunLock"] = {}  # realpath of the output dir -> this process's lock on it


class OutputDirBusy(ConfigError):
    """Another run writes into the same output directory."""


class RunLock:
    """An exclusive ``flock`` on ``<output_dir>/.trl-reasoning.lock`` for the life of a run.

    The operating system drops the lock when the process ends, however it ends (a killed run never leaves its
    output directory locked); the file keeps the holder's pid, command and start time, for the message a second
    run gets. ``release`` unlocks early (the end of ``run_recipe``).
    """

    def __init__(self, output_dir: str | os.PathLike):
        self.output_dir = str(output_dir)
        self.path = os.path.join(self.output_dir, LOCK_FILE)
        self._file = None

    def acquire(self) -> "RunLock":
        import fcntl
        import sys

        key = os.path.realpath(self.output_dir)
        stale = _HELD.pop(key, None)
        if stale is not None:  # this process's earlier run into the same directory ended without releasing it
            stale.release()
        os.makedirs(self.output_dir, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            raise OutputDirBusy("output_dir", f"{self.output_dir} is in use by another run ({_describe_holder(holder)}"
                                "): two runs in one directory overwrite each other's checkpoints. Wait for it to "
                                "finish, stop it, or pass another --output-dir") from None
        handle.seek(0)
        handle.truncate()
        handle.write(redact(json.dumps({"pid": os.getpid(), "command": sys.argv,
                                        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})) + "\n")
        handle.flush()
        self._file = handle
        _HELD[key] = self
        return self

    def release(self) -> None:
        if self._file is not None:
            import fcntl

            try:
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            finally:
                self._file.close()
                self._file = None
        key = os.path.realpath(self.output_dir)
        if _HELD.get(key) is self:
            del _HELD[key]


def _describe_holder(text: str) -> str:
    try:
        holder = json.loads(text)
        command = " ".join(map(str, holder.get("command") or [])) or "?"
        return f"pid {holder.get('pid')}, started {holder.get('started')}: {command}"
    except (ValueError, AttributeError):
        return "a process that is still starting"


def lock_output_dir(output_dir: str | os.PathLike) -> RunLock | None:
    """Lock a run's output directory on the main process (rank 0 of a launch; ``None`` on other ranks)."""
    if int(os.environ.get("RANK", "0") or 0) != 0:
        return None
    return RunLock(output_dir).acquire()


# -- resume checks ----------------------------------------------------------------------------------------------------


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out or {prefix: {}}
    return {prefix: value}


def _is_free(key: str) -> bool:
    return any(key == free or key.startswith(free + ".") for free in RESUME_FREE_KEYS)


def recipe_differences(saved: dict | None, current: dict | None) -> list[str]:
    """``["trainer.learning_rate: 0.001 -> 0.0005", ...]`` for the keys that matter to what is trained."""
    if saved is None or current is None:
        return []
    old, new = _flatten(json.loads(json.dumps(saved, default=str))), _flatten(json.loads(json.dumps(current,
                                                                                                    default=str)))
    keys = set(old) | set(new)
    # an empty mapping is a leaf only where the other side has nothing below it
    keys = {k for k in keys if not any(other.startswith(k + ".") for other in keys)}
    diffs = []
    for key in sorted(keys):
        if _is_free(key):
            continue
        if old.get(key, "<unset>") != new.get(key, "<unset>"):
            diffs.append(f"{key}: {old.get(key, '<unset>')!r} -> {new.get(key, '<unset>')!r}")
    return diffs


def resume_problems(meta: dict | None, *, data_fingerprint: str | None, recipe: dict | None,
                    world_size: int) -> list[str]:
    """What differs between the checkpoint's run and this one (empty when the resume is faithful)."""
    if meta is None:
        return []
    problems = []
    saved_fp = meta.get("data_fingerprint")
    if saved_fp and data_fingerprint and saved_fp != data_fingerprint:
        problems.append(f"training data fingerprint {saved_fp} -> {data_fingerprint} (other rows, answers or order "
                        "of the source)")
    if meta.get("world_size") and meta["world_size"] != world_size:
        problems.append(f"number of processes {meta['world_size']} -> {world_size} (the global batch and the "
                        "data order change)")
    problems += [f"recipe {d}" for d in recipe_differences(meta.get("recipe"), recipe)]
    return problems


def check_resume(checkpoint: str, *, data_fingerprint: str | None, recipe: dict | None, world_size: int,
                 allow_mismatch: bool | None = None) -> list[str]:
    """Raise ``ResumeMismatch`` when ``checkpoint`` came from a different run; return the problems when allowed.

    ``allow_mismatch`` defaults to ``$TRL_REASONING_ALLOW_RESUME_MISMATCH`` (``trl-reason run --resume
    --allow-resume-mismatch`` sets it): stage switches that resume on purpose with new data use it.
    """
    problems = resume_problems(read_meta(checkpoint), data_fingerprint=data_fingerprint, recipe=recipe,
                               world_size=world_size)
    if allow_mismatch is None:
        allow_mismatch = os.environ.get(ALLOW_MISMATCH_ENV, "") not in ("", "0", "false")
    if problems and not allow_mismatch:
        listing = "\n  ".join(problems)
        raise ResumeMismatch("--resume", f"checkpoint {checkpoint} was written by a different run:\n  {listing}\n"
                             "Resume with the same recipe and data, or pass --allow-resume-mismatch to continue "
                             "anyway (e.g. a deliberate stage switch).")
    return problems


# -- which checkpoint a resume starts from ------------------------------------------------------------------------------

TRAINER_STATE_FILE = "trainer_state.json"  # transformers' TRAINER_STATE_NAME, written by every Trainer save


def _allow_mismatch() -> bool:
    return os.environ.get(ALLOW_MISMATCH_ENV, "") not in ("", "0", "false")


def resumable_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot be resumed from (a half-written or foreign checkpoint), or ``None`` when it can."""
    path = str(path)
    if not os.path.isdir(path):
        return f"checkpoint not found: {path}"
    if STAGING_DIR in Path(path).parts:
        return (f"{path} is a half-written checkpoint (a save that was interrupted, left under {STAGING_DIR}/); "
                f"resume from the newest complete one: --resume without a path, or {_newest_hint(path)}")
    if checkpoint_step(Path(os.path.normpath(path)).name) is None:
        return f"{path} is not a checkpoint-<step> directory"
    if not os.path.isfile(os.path.join(path, TRAINER_STATE_FILE)):
        return (f"{path} is half-written: it has no {TRAINER_STATE_FILE} (the save stopped before the trainer state "
                f"was written); resume from another checkpoint: {_newest_hint(path)}")
    if not is_complete(path) and not _allow_mismatch():
        return (f"{path} has no {META_FILE}: it is half-written, or was not written by trl-reasoning (plain TRL, an "
                "older version), so the data and recipe cannot be checked and no plugin state would be restored. "
                f"Resume from a complete checkpoint ({_newest_hint(path)}), or pass --allow-resume-mismatch to "
                "resume from it anyway")
    return None


def _newest_hint(path: str) -> str:
    parts = Path(path).parts
    run_dir = Path(*parts[:parts.index(STAGING_DIR)]) if STAGING_DIR in parts else Path(path).parent
    newest = latest_checkpoint(run_dir)
    return f"--resume {newest}" if newest else f"{run_dir} has no complete checkpoint"


def resolve_resume(resume: str | bool | None, output_dir: str | os.PathLike) -> str | None:
    """What ``--resume`` names: ``None`` (start afresh), the newest complete checkpoint of ``output_dir``
    (``True`` or ``"latest"``), or the given checkpoint once it is known to be whole. Raises ``ConfigError`` at
    ``--resume`` (exit 2, before any model loads) otherwise."""
    if not resume:
        return None
    output_dir = str(output_dir)
    if resume is True or resume == "latest":
        last = latest_checkpoint(output_dir)
        if last is None:
            partial = incomplete_checkpoints(output_dir)
            foreign = list_checkpoints(output_dir, complete_only=False)
            hint = (f" ({len(partial)} interrupted save(s) under {STAGING_DIR}/ are never resumed)" if partial else "")
            if foreign:
                hint += f"; {', '.join(foreign)} lack {META_FILE}: pass one with --resume PATH --allow-resume-mismatch"
            raise ConfigError("--resume", f"no complete checkpoint-* directory in {output_dir} to resume from{hint}")
        return last
    problem = resumable_problem(resume)
    if problem is not None:
        raise ConfigError("--resume", problem)
    if not is_complete(resume):
        console.print(f"[yellow]warning:[/] {resume} has no {META_FILE} (not written by trl-reasoning): resuming "
                      "without the data and recipe checks and without plugin state (--allow-resume-mismatch)")
    return str(resume)
