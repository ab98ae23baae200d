"""Where rows come from: one reader of data files and one resolver of dataset names, shared by training sets
(``data.train`` / ``data.test``) and benchmarks (``trl-reason eval``, a recipe's ``eval`` section).

::

    rows = read_rows(Path("mine.jsonl"))             # .jsonl / .json / .parquet / .csv -> list of dicts
    place = resolve("math500", data_dir)             # a Path, or the declared HubSource
    rows = load_rows("math500", data_dir=data_dir)   # embedded data, a URL, a file, a name or a Hub id

``resolve`` looks in this order, the same for every name:

1. a path (``.jsonl``/``.json``/``.parquet``/``.csv``, or starting with ``.``, ``/`` or ``~``): that file;
2. the data directory passed in (``data.data_dir``, ``eval.data_dir``, ``--data-dir``), then
   ``$TRL_REASONING_DATA_DIR``: the name's declared file (``data.registry``; else ``<name>.jsonl``), or the same stem
   with another known suffix;
3. the Hub: the declared Hub source of a known name; a name with a ``/`` is taken as a Hub dataset id.

Nothing found: ``DataNotFound`` lists every place that was tried and how to fix it.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from trl_reasoning.data.arithmetic import arithmetic_rows
from trl_reasoning.data.errors import DataError, DataNotFound
from trl_reasoning.data.registry import HubSource, declared

DATA_DIR_ENV = "TRL_REASONING_DATA_DIR"
FILE_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")
DATA_DIR_LABEL = "data dir argument (data.data_dir, eval.data_dir or --data-dir)"


def looks_like_path(name: str) -> bool:
    return Path(name).suffix.lower() in FILE_SUFFIXES or name.startswith((".", "/", "~"))


# -- reading one file ---------------------------------------------------------------------------------------------


def read_rows(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of one ``.jsonl`` / ``.json`` / ``.parquet`` / ``.csv`` file. A ``.json`` file holds a list of rows,
    or a mapping with one list of rows (``{"data": [...]}``, ``{"test": [...]}``)."""
    path = Path(path)
    if not path.is_file():
        raise DataNotFound(f"data file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows = []
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise DataError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
        return rows
    if suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
        if isinstance(data, dict) and not isinstance(data.get("data"), list):
            lists = [value for value in data.values() if isinstance(value, list)]
            if len(lists) != 1:
                raise DataError(f"{path}: expected a list of rows, or a mapping holding one list of rows "
                                f"(keys: {sorted(data)})")
            data = lists[0]
        elif isinstance(data, dict):
            data = data["data"]
        if not isinstance(data, list):
            raise DataError(f"{path}: expected a list of rows, got {type(data).__name__}")
        return list(data)
    if suffix == ".parquet":
        import pyarrow.parquet

        return pyarrow.parquet.read_table(path).to_pylist()
    if suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))
    raise DataError(f"{path}: unsupported file type {suffix!r} (use {', '.join(FILE_SUFFIXES)})")


def read_remote_rows(url: str) -> list[dict]:
    """Rows of one remote ``.jsonl`` / ``.json`` / ``.parquet`` file, read with ``datasets``' file builders: e.g.
    ``hf://datasets/foreverlasting1202/QuestA/OpenR1-50-0-4.jsonl``, one pool of a Hub dataset that holds several
    (loading the dataset id would concatenate them)."""
    builder = {".jsonl": "json", ".json": "json", ".parquet": "parquet"}.get(Path(url.split("?")[0]).suffix.lower())
    if builder is None:
        raise DataError(f"{url}: a URL must name a .jsonl, .json or .parquet file")
    import datasets

    try:
        return datasets.load_dataset(builder, data_files=url, split="train").to_list()
    except Exception as exc:  # network, missing file, bad JSON: name the URL and the cause
        raise DataError(f"dataset file {url!r} could not be read ({type(exc).__name__}: {exc})") from None


def read_hub_rows(hub: HubSource, revision: str | None = None) -> list[dict[str, Any]]:
    """A Hub dataset's rows, its columns renamed onto ``problem``/``answer`` as declared."""
    import datasets

    dataset = datasets.load_dataset(hub.repo, hub.config, split=hub.split, revision=revision or hub.revision)
    rows = []
    for row in dataset:
        row = {hub.columns.get(key, key): value for key, value in row.items()}
        if hub.answer_after is not None:
            row["answer"] = str(row["answer"]).split(hub.answer_after)[-1].strip().replace(",", "")
        rows.append(row)
    return rows


# -- resolving a name ---------------------------------------------------------------------------------------------


def data_dirs(data_dir: str | os.PathLike | None = None) -> list[tuple[str, str | None]]:
    """``(label, directory or None)`` in look-up order: the argument, then ``$TRL_REASONING_DATA_DIR``."""
    return [(DATA_DIR_LABEL, str(data_dir) if data_dir else None),
            (f"${DATA_DIR_ENV}", os.environ.get(DATA_DIR_ENV) or None)]


def default_data_dirs(data_dir: str | None = None) -> list[Path]:
    """The data directories that are set, in look-up order."""
    return [Path(d).expanduser() for _, d in data_dirs(data_dir) if d]


def resolve(name_or_path: str, data_dir: str | os.PathLike | None = None, *, split: str = "train",
            what: str = "dataset") -> Path | HubSource:
    """Where ``name_or_path`` lives: a file (``Path``) or a Hub source (``HubSource``); see the module docstring.
    ``split`` is the split of an undeclared Hub id; ``what`` names the thing in the error ("benchmark")."""
    if looks_like_path(name_or_path):
        path = Path(name_or_path).expanduser()
        if path.is_file():
            return path
        raise DataNotFound(f"{what} file not found: {path}")
    entry = declared(name_or_path)
    filename = entry.file if entry is not None else f"{name_or_path}.jsonl"
    stem = Path(filename).stem
    looked = []
    for label, directory in data_dirs(data_dir):
        if not directory:
            looked.append(f"{label}: not set")
            continue
        candidates = [Path(directory).expanduser() / filename]
        candidates += [candidates[0].with_name(stem + s) for s in FILE_SUFFIXES if s != Path(filename).suffix]
        for path in candidates:
            if path.is_file():
                return path
        looked.append(f"{label}: no {candidates[0]} (nor {', '.join(p.suffix for p in candidates[1:])})")
    if entry is not None and entry.hub is not None:
        return entry.hub
    if entry is None and "/" in name_or_path:
        return HubSource(repo=name_or_path, split=split)
    looked.append("the Hub: no Hub source is declared for this name" if entry is not None
                  else "the Hub: not tried (a Hub dataset id contains '/')")
    raise not_found(what, name_or_path, filename, looked)


def not_found(what: str, name: str, filename: str, looked: list[str]) -> DataNotFound:
    return DataNotFound(f"could not find the data of {what} {name!r}. Looked in:\n  - " + "\n  - ".join(looked)
                        + f"\nPut {filename} in a directory and set data.data_dir (trl-reason eval: --data-dir), "
                        f"or set ${DATA_DIR_ENV}.")


def hub_not_found(what: str, name: str, hub: HubSource, error: Exception, data_dir=None) -> DataNotFound:
    """The error for a name whose data directories had nothing and whose Hub source failed."""
    entry = declared(name)
    filename = entry.file if entry is not None else f"{name}.jsonl"
    looked = [f"{label}: {'not set' if not d else f'no {Path(d).expanduser() / filename}'}"
              for label, d in data_dirs(data_dir)]
    looked.append(f"the Hub: {hub.repo} (split {hub.split}) failed: {type(error).__name__}: {error}")
    return not_found(what, name, filename, looked)


def load_rows(source: str, *, split: str = "train", data_dir: str | None = None, options: dict | None = None
              ) -> list[dict]:
    """Rows of a dataset source as plain dicts: ``embedded:arithmetic`` (``options``, ``split`` train/test), one file
    by URL, or anything ``resolve`` finds (a Hub dataset's rows with its declared column mapping)."""
    if source == "embedded:arithmetic":
        parts = arithmetic_rows(options)
        if split not in parts:
            raise DataError(f"embedded:arithmetic has splits train and test, not {split!r}")
        return parts[split]
    if source.startswith("embedded:"):
        raise DataError(f"unknown embedded dataset {source!r}; known: embedded:arithmetic")
    if "://" in source:  # one file of a Hub dataset (hf://datasets/<owner>/<name>/<file>) or another fsspec URL
        return read_remote_rows(source)
    place = resolve(source, data_dir, split=split)
    if isinstance(place, Path):
        return read_rows(place)
    try:
        return read_hub_rows(place)
    except Exception as exc:  # network, auth, missing repo or split: name it with the other places
        raise hub_not_found("dataset", source, place, exc, data_dir) from None
