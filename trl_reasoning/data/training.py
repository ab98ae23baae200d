"""A recipe's training and held-out rows: loaded (``data.sources``), shuffled and cut, rendered
(``data.prompts``), with the stable ``prompt_id`` plugins key their per-problem state by::

    dataset = load_train_dataset(recipe.data)    # datasets.Dataset: prompt, problem, answer, prompt_id, ...
    held_out = load_test_rows(recipe.data)       # plain dicts ([] when there are none)
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

from trl_reasoning.data.errors import DataError
from trl_reasoning.data.prompts import PromptFormat
from trl_reasoning.data.sources import load_rows


def prompt_rows(rows: list[dict], section) -> list[dict]:
    """Training rows with ``prompt``, ``problem``, ``answer`` and a stable ``prompt_id`` (the row's index in the
    source after ``limit``: the same across runs, resumes and processes)."""
    fmt = PromptFormat.from_section(section)
    out = []
    for i, row in enumerate(rows):
        if section.problem_column not in row:
            raise DataError(f"row {i} has no {section.problem_column!r} column (columns: {sorted(row)}); "
                            f"set data.problem_column")
        if section.answer_column not in row:
            raise DataError(f"row {i} has no {section.answer_column!r} column (columns: {sorted(row)}); "
                            f"set data.answer_column")
        new = {k: v for k, v in row.items() if _arrow_friendly(v)}
        new["problem"] = str(row[section.problem_column])
        new["answer"] = str(row[section.answer_column])
        new["prompt"] = fmt.render(new["problem"])
        new["prompt_id"] = i
        out.append(new)
    return out


def _arrow_friendly(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool)) or (
        isinstance(value, list) and all(isinstance(v, (int, float)) for v in value))


def select_rows(rows: list[dict], section) -> list[dict]:
    """``rows`` shuffled once by ``section.shuffle_seed`` (if set), then cut to ``section.limit`` (if set)."""
    rows = list(rows)
    if section.shuffle_seed is not None:
        random.Random(section.shuffle_seed).shuffle(rows)
    return rows[: section.limit] if section.limit else rows


def load_train_rows(section) -> list[dict]:
    """The training rows of a recipe's ``data`` section: loaded, shuffled by ``shuffle_seed``, cut to ``limit``."""
    rows = select_rows(load_rows(section.train, split=section.split, data_dir=section.data_dir,
                                 options=section.options), section)
    if not rows:
        raise DataError(f"dataset {section.train!r} has no rows")
    return rows


def load_train_dataset(section):
    """The training ``datasets.Dataset`` for a recipe's ``data`` section."""
    import datasets  # heavy (pyarrow, fsspec): only when a dataset is built

    rows = prompt_rows(load_train_rows(section), section)
    # Columns must have one type: drop those that vary (e.g. a column that is sometimes a list).
    return datasets.Dataset.from_list(_uniform(rows))


def load_test_rows(section) -> list[dict]:
    """Held-out rows for in-run evaluation (``data.test``, or the ``test`` split of embedded data)."""
    if section.test:
        return load_rows(section.test, split="test", data_dir=section.data_dir, options=section.options)
    if section.train.startswith("embedded:"):
        return load_rows(section.train, split="test", options=section.options)
    return []


def _uniform(rows: list[dict]) -> list[dict]:
    types: dict[str, set] = {}
    for row in rows:
        for k, v in row.items():
            if v is not None:
                types.setdefault(k, set()).add(type(v).__name__)
    keep = {k for k, t in types.items() if len(t) == 1 or t <= {"int", "float"}} | {"prompt"}
    return [{k: row.get(k) for k in keep} for row in rows]


def fingerprint(dataset) -> str:
    """A short hash of the training rows (problem, answer, prompt_id), recorded with every run and checkpoint."""
    h = hashlib.sha256()
    for row in dataset:
        h.update(json.dumps([row.get("prompt_id"), row.get("problem"), row.get("answer")]).encode())
    return h.hexdigest()[:16]
