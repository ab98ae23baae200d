"""The output directory of an evaluation: ``samples.jsonl`` (append-only), ``config.json`` and ``results.json``.

``samples.jsonl`` holds one scored problem per line and is what resumption reads; ``config.json`` holds, per
benchmark, every setting that decides its samples, so that a later run with other settings is refused instead of
mixed in.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

SAMPLES_FILE = "samples.jsonl"
CONFIG_FILE = "config.json"
RESULTS_FILE = "results.json"
RESULTS_SCHEMA = 1


class ConfigMismatchError(ValueError):
    """The output directory holds samples made with other settings; resuming would mix two evaluations."""


def check_and_record_config(out: Path, identities: dict[str, dict]) -> None:
    """Refuse settings that differ from the recorded ones for a benchmark; record new benchmarks' settings."""
    path = out / CONFIG_FILE
    recorded = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    previous = recorded.get("benchmarks", {})
    for name, identity in identities.items():
        if name not in previous or previous[name] == identity:
            continue
        old = previous[name]
        changes = [f"{key}: {old.get(key)!r} -> {identity.get(key)!r}"
                   for key in sorted(set(old) | set(identity)) if old.get(key) != identity.get(key)]
        raise ConfigMismatchError(
            f"{out} already holds {name} samples made with other settings ({'; '.join(changes)}). "
            f"Resuming would mix two evaluations: use another --output-dir, or delete {out / SAMPLES_FILE} and "
            f"{path} to start over."
        )
    write_json(path, {"schema": RESULTS_SCHEMA, "benchmarks": {**previous, **identities}})


def read_samples(path: Path) -> dict[tuple[str, str], dict]:
    """Scored problems already in ``samples.jsonl``; a torn last line (killed mid-write) is cut off."""
    if not path.exists():
        return {}
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
        with path.open("r+b") as f:
            f.truncate(len(data))
    done = {}
    for line in data.decode("utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            done[(record["benchmark"], record["id"])] = record
    return done


def append_samples(path: Path, records: list[dict]) -> None:
    with path.open("a", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
