"""Benchmarks: each declared dataset of ``data.registry`` marked ``benchmark`` gets a default protocol here, and
MATH-Beyond its subsets. Rows are found and read by ``data.sources`` (the same rules as training data):

1. an explicit data directory (``--data-dir`` or the recipe's ``eval.data_dir``),
2. the directory in the environment variable ``TRL_REASONING_DATA_DIR``,
3. the Hugging Face Hub (``datasets.load_dataset``), at the declared revision; the commit actually used is
   recorded with the results.

Any JSONL, JSON, parquet or CSV file with ``problem`` and ``answer`` columns is a benchmark too: pass its path.
MATH-Beyond takes a subset after a colon: ``math_beyond`` (all 181 rows), ``math_beyond:unsolved_by_all``
(unsolved at pass@1024 by every base model) or ``math_beyond:unsolved_by:qwen2.5-math-1.5b``.

Bump a benchmark's ``version`` whenever its rows, its answer normalization or its protocol change, so that
results and resumed runs never mix two definitions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trl_reasoning.data.errors import DataError, DataNotFound
from trl_reasoning.data.registry import DATASETS, MATH_BEYOND_HUB, HubSource  # noqa: F401  (re-exported)
from trl_reasoning.data.sources import DATA_DIR_ENV, FILE_SUFFIXES, looks_like_path, read_hub_rows, read_rows
from trl_reasoning.data.sources import hub_not_found
from trl_reasoning.data.sources import resolve as resolve_source

_FILE_SUFFIXES = FILE_SUFFIXES


@dataclass(frozen=True)
class Protocol:
    """How a benchmark is sampled and scored by default; every field can be overridden per run."""

    n: int = 1
    temperature: float = 0.0  # 0 means greedy decoding
    top_p: float = 1.0
    k_list: tuple[int, ...] = (1,)
    max_new_tokens: int = 3072
    template: str = "qwen25-math-cot"
    source: str = ""  # where the setting comes from


# One-Shot-RLVR (Wang et al. 2025, App. B.5) evaluates with the Qwen2.5-Math harness: "max_tokens_per_call 3072,
# seed 0, top_p 1"; greedy for MATH500, Minerva and OlympiadBench; AIME24/25 and AMC23 repeated 8x at temperature
# 0.6 and scored as avg@8 (docs/papers/one_shot.md, Evaluation protocol).
_GREEDY = Protocol(source="One-Shot-RLVR / Qwen2.5-Math harness: greedy, n=1, 3072 tokens")
_AVG8 = Protocol(
    n=8, temperature=0.6, top_p=1.0, k_list=(1, 8),
    source="One-Shot-RLVR / Qwen2.5-Math harness: avg@8 at temperature 0.6, top_p 1, 3072 tokens",
)
# MATH-Beyond reports pass@1024 (the card: "k from 64 to 1024"); its sampling settings are not published, so
# temperature 0.6 / top_p 1 follow the RLVR papers above. Sampling 1024 per problem is expensive: lower n and k.
_MATH_BEYOND = Protocol(
    n=1024, temperature=0.6, top_p=1.0, k_list=(1, 64, 1024),
    source="MATH-Beyond card: pass@k, k from 64 to 1024 (sampling settings unpublished; ours)",
)


@dataclass(frozen=True)
class Benchmark:
    name: str
    version: str
    file: str  # file name inside a data directory
    protocol: Protocol
    hub: HubSource | None = None
    description: str = ""


# The protocol of each declared benchmark (its rows: data.registry.DATASETS).
_PROTOCOLS = {
    "math500": _GREEDY, "aime24": _AVG8, "aime25": _AVG8, "amc23": _AVG8, "minerva_math": _GREEDY,
    "olympiadbench": _GREEDY,
    "gsm8k": dataclasses.replace(_GREEDY, max_new_tokens=1024, source="greedy, n=1, 1024 tokens (ours)"),
    "math_beyond": _MATH_BEYOND,
}
BENCHMARKS: dict[str, Benchmark] = {
    d.name: Benchmark(d.name, d.version, d.file, _PROTOCOLS[d.name], d.hub, d.description)
    for d in DATASETS.values() if d.benchmark
}

# The 11 base models of MATH-Beyond's intersection subset MATH-B-I (docs/papers/math_beyond.md); the other 10
# model columns on the Hub are post-trained models.
MATH_BEYOND_BASE_MODELS = (
    "qwen2.5-1.5b", "qwen2.5-7b", "qwen2.5-math-1.5b", "qwen2.5-math-7b", "qwen3-4b-base", "qwen3_8b_base",
    "r1-1.5b", "r1-7b", "olmo_7b", "olmo_2_1124_7b", "llama3.1_8b",
)
MATH_BEYOND_SUBSETS = ("union", "unsolved_by_all", "unsolved_by:<model>")


class BenchmarkError(ValueError):
    """A benchmark name, subset or file that cannot be used; the message says what would work."""


BenchmarkDataNotFound = DataNotFound  # no data source held the benchmark; the message lists every place tried


@dataclass
class LoadedBenchmark:
    """A benchmark's rows ready to evaluate, with everything needed to reproduce where they came from."""

    name: str  # as asked for, subset included ("math_beyond:unsolved_by_all")
    version: str
    protocol: Protocol
    rows: list[dict[str, Any]]  # each has "id", "problem", "answer" (strings) and the source's other columns
    source: str  # a file path or "hub:<repo>"
    revision: str | None = None  # Hub commit, or the file's sha256
    subset: str | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name, "version": self.version, "source": self.source, "revision": self.revision,
            "subset": self.subset, "num_problems": len(self.rows), "protocol": dataclasses.asdict(self.protocol),
        }


def known_benchmarks() -> list[str]:
    return sorted(BENCHMARKS)


def _looks_like_path(name: str) -> bool:
    return looks_like_path(name) or os.sep in name


def split_name(name: str) -> tuple[str, str | None]:
    """``"math_beyond:unsolved_by:r1-7b"`` -> ``("math_beyond", "unsolved_by:r1-7b")``."""
    if _looks_like_path(name):
        return name, None
    base, _, subset = name.partition(":")
    return base, (subset or None)


def resolve(name: str) -> Benchmark:
    """The declared benchmark for ``name`` (subset suffix allowed), or one built for a file path."""
    base, subset = split_name(name)
    if _looks_like_path(base):
        path = Path(base)
        if not path.is_file():
            raise BenchmarkDataNotFound(f"benchmark file {str(path)!r} does not exist")
        digest = _sha256(path)
        return Benchmark(path.stem, f"file-{digest[:12]}", str(path), Protocol(source="file benchmark: greedy"))
    if base not in BENCHMARKS:
        raise BenchmarkError(
            f"unknown benchmark {name!r}; known benchmarks: {', '.join(known_benchmarks())} "
            f"(or a path to a .jsonl/.json/.parquet file with 'problem' and 'answer' columns)"
        )
    if subset is not None and base != "math_beyond":
        raise BenchmarkError(f"benchmark {base!r} has no subsets (only math_beyond does), got {name!r}")
    if subset is not None:
        _check_subset_syntax(subset)
    return BENCHMARKS[base]


def _check_subset_syntax(subset: str) -> None:
    if subset in ("union", "unsolved_by_all") or (subset.startswith("unsolved_by:") and subset[12:]):
        return
    raise BenchmarkError(
        f"unknown MATH-Beyond subset {subset!r}; use one of: {', '.join(MATH_BEYOND_SUBSETS)}"
    )


def load_benchmark(
    name: str,
    *,
    data_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    revision: str | None = None,
) -> LoadedBenchmark:
    """Load a benchmark's rows (after its subset, then the first ``limit`` rows) from the first source that has it."""
    benchmark = resolve(name)
    base, subset = split_name(name)
    place = Path(benchmark.file) if _looks_like_path(base) else resolve_source(base, data_dir, what="benchmark")
    if isinstance(place, Path):
        try:
            rows = read_rows(place)
        except DataNotFound:
            raise
        except DataError as error:  # a file that cannot be read: the same message, as a benchmark error
            raise BenchmarkError(str(error)) from None
        source, rev = str(place), f"sha256:{_sha256(place)}"
    else:
        rows, source, rev = _load_from_hub(benchmark, place, data_dir, revision)
    rows = _normalize_rows(rows, benchmark.name, source)
    if benchmark.name == "math_beyond":
        rows = math_beyond_subset(rows, subset or "union")
    if limit is not None:
        rows = rows[:limit]
    return LoadedBenchmark(name, benchmark.version, benchmark.protocol, rows, source, rev, subset)


def _load_from_hub(benchmark: Benchmark, hub: HubSource, data_dir, revision) -> tuple[list[dict], str, str | None]:
    revision = revision or hub.revision
    try:
        rows = read_hub_rows(hub, revision)
    except Exception as error:  # network, auth, missing repo: reported with the other places looked in
        raise hub_not_found("benchmark", benchmark.name, hub, error, data_dir) from None
    return rows, f"hub:{hub.repo}", _hub_commit(hub.repo, revision)


def _hub_commit(repo: str, revision: str | None) -> str | None:
    """The commit a Hub revision resolves to, so that results name exactly which data they used."""
    if revision is not None and len(revision) == 40:
        return revision
    try:
        from huggingface_hub import HfApi  # heavy (requests, ...): only when a Hub benchmark is loaded

        return HfApi().dataset_info(repo, revision=revision).sha
    except Exception:  # offline: the requested revision is the best record there is
        return revision or "unresolved (default branch)"


def _normalize_rows(rows: list[dict], name: str, source: str) -> list[dict[str, Any]]:
    if not rows:
        raise BenchmarkError(f"benchmark {name!r} from {source} has no rows")
    missing = [column for column in ("problem", "answer") if column not in rows[0]]
    if missing:
        raise BenchmarkError(
            f"benchmark {name!r} from {source} lacks the column(s) {missing}; its columns are {sorted(rows[0])}"
        )
    normalized, seen = [], set()
    for index, row in enumerate(rows):
        row = dict(row)
        row["id"] = str(row["id"]) if row.get("id") not in (None, "") else f"{name}-{index}"
        if row["id"] in seen:
            raise BenchmarkError(f"benchmark {name!r} from {source}: duplicate id {row['id']!r} at row {index}")
        seen.add(row["id"])
        row["problem"] = str(row["problem"])
        row["answer"] = str(row["answer"])
        normalized.append(row)
    return normalized


# --- MATH-Beyond subsets ---------------------------------------------------------------------------------------


def math_beyond_models(rows: list[dict]) -> list[str]:
    """Model names that have a ``<model>_unsolved`` or ``<model>_pass@1024`` column, in column order."""
    models: list[str] = []
    for column in rows[0]:
        for suffix in ("_unsolved", "_pass@1024"):
            if column.endswith(suffix) and column[: -len(suffix)] not in models:
                models.append(column[: -len(suffix)])
    return models


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no", ""):
            return False
        raise BenchmarkError(f"cannot read {value!r} as a boolean unsolved flag")
    return bool(value)


def unsolved_by(row: dict, model: str) -> bool:
    """Whether ``model`` left the problem unsolved at pass@1024 (its ``_unsolved`` flag, else pass@1024 == 0)."""
    if f"{model}_unsolved" in row:
        return _as_bool(row[f"{model}_unsolved"])
    return float(row[f"{model}_pass@1024"]) == 0.0


def math_beyond_subset(rows: list[dict], subset: str) -> list[dict]:
    """Rows of MATH-Beyond's ``union``, ``unsolved_by_all`` (every base model) or ``unsolved_by:<model>`` subset."""
    _check_subset_syntax(subset)
    if subset == "union":
        return rows
    models = math_beyond_models(rows)
    if subset == "unsolved_by_all":
        missing = [model for model in MATH_BEYOND_BASE_MODELS if model not in models]
        if missing:
            raise BenchmarkError(
                f"MATH-Beyond subset 'unsolved_by_all' needs the base-model columns {missing}, which this copy "
                f"lacks; its model columns are {models}"
            )
        return [row for row in rows if all(unsolved_by(row, model) for model in MATH_BEYOND_BASE_MODELS)]
    model = subset[len("unsolved_by:"):]
    if model not in models:
        raise BenchmarkError(
            f"MATH-Beyond has no columns for model {model!r} (looked for {model}_unsolved and {model}_pass@1024); "
            f"models in this copy: {', '.join(models)}"
        )
    return [row for row in rows if unsolved_by(row, model)]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
