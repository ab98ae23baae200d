"""The benchmark registry: names, data-dir resolution, file benchmarks and MATH-Beyond subsets."""

from __future__ import annotations

import csv
import json

import pytest

from trl_reasoning.evaluation import benchmarks as bm
from trl_reasoning.evaluation.benchmarks import (
    BenchmarkDataNotFound,
    BenchmarkError,
    load_benchmark,
    math_beyond_models,
    math_beyond_subset,
)


@pytest.fixture(autouse=True)
def no_env_data_dir(monkeypatch):
    monkeypatch.delenv(bm.DATA_DIR_ENV, raising=False)


def test_every_declared_benchmark_has_a_version_and_protocol():
    assert set(bm.known_benchmarks()) == {
        "math500", "aime24", "aime25", "amc23", "minerva_math", "olympiadbench", "gsm8k", "math_beyond"}
    for benchmark in bm.BENCHMARKS.values():
        assert benchmark.version and benchmark.file and benchmark.protocol.source
        assert all(k <= benchmark.protocol.n for k in benchmark.protocol.k_list)
    assert bm.BENCHMARKS["math500"].protocol.temperature == 0.0 and bm.BENCHMARKS["math500"].protocol.n == 1
    aime = bm.BENCHMARKS["aime24"].protocol
    assert (aime.n, aime.temperature, aime.k_list) == (8, 0.6, (1, 8))
    assert bm.BENCHMARKS["gsm8k"].file == "gsm8k_test.jsonl"


def test_unknown_benchmark_lists_the_known_ones():
    with pytest.raises(BenchmarkError, match=r"unknown benchmark 'math5000'.*aime24, aime25, amc23, gsm8k, math500"):
        bm.resolve("math5000")
    with pytest.raises(BenchmarkError, match="has no subsets"):
        bm.resolve("gsm8k:hard")
    with pytest.raises(BenchmarkError, match="unknown MATH-Beyond subset 'hardest'"):
        bm.resolve("math_beyond:hardest")


def test_local_data_dir_then_env(data_dir, monkeypatch):
    loaded = load_benchmark("gsm8k", data_dir=data_dir, limit=2)
    assert [row["id"] for row in loaded.rows] == ["gsm8k-test-0", "gsm8k-test-1"]
    assert loaded.rows[0]["answer"] == "18"
    assert loaded.source.endswith("gsm8k_test.jsonl") and loaded.revision.startswith("sha256:")
    monkeypatch.setenv(bm.DATA_DIR_ENV, str(data_dir))
    assert load_benchmark("aime24", limit=1).rows[0]["id"] == "aime24-I-1"


def test_missing_data_names_every_place_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv(bm.DATA_DIR_ENV, str(tmp_path / "env"))
    with pytest.raises(BenchmarkDataNotFound) as error:
        load_benchmark("aime25", data_dir=tmp_path)
    message = str(error.value)
    assert f"data dir argument (data.data_dir, eval.data_dir or --data-dir): no {tmp_path / 'aime25.jsonl'}" in message
    assert f"${bm.DATA_DIR_ENV}: no {tmp_path / 'env' / 'aime25.jsonl'}" in message
    assert "the Hub: no Hub source is declared" in message

    def offline(hub, revision):
        raise ConnectionError("no network")

    monkeypatch.setattr(bm, "read_hub_rows", offline)
    monkeypatch.delenv(bm.DATA_DIR_ENV)
    with pytest.raises(BenchmarkDataNotFound, match=r"(?s)not set.*HuggingFaceH4/MATH-500 .*no network"):
        load_benchmark("math500")


def test_file_benchmark(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text("\n".join(json.dumps({"problem": f"{i} + 1?", "answer": i + 1}) for i in range(3)) + "\n")
    loaded = load_benchmark(str(path))
    assert loaded.name == str(path) and loaded.version.startswith("file-")
    assert [row["id"] for row in loaded.rows] == ["mine-0", "mine-1", "mine-2"]
    assert loaded.rows[2]["answer"] == "3"  # answers become strings
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "?", "answer": 1}) + "\n")
    with pytest.raises(BenchmarkError, match=r"lacks the column\(s\) \['problem'\]"):
        load_benchmark(str(bad))
    with pytest.raises(BenchmarkDataNotFound, match="does not exist"):
        load_benchmark(str(tmp_path / "absent.jsonl"))


# --- MATH-Beyond ---------------------------------------------------------------------------------------------------


@pytest.fixture
def math_beyond_rows(math_beyond_file):
    return [json.loads(line) for line in math_beyond_file.read_text().splitlines()]


def test_math_beyond_models_found_by_suffix(math_beyond_rows):
    models = math_beyond_models(math_beyond_rows)
    assert len(models) == 13
    assert set(bm.MATH_BEYOND_BASE_MODELS) < set(models) and "qwen2.5-1.5b-instruct" in models


@pytest.mark.parametrize(
    ("subset", "expected_problems"),
    [
        ("union", [0, 1, 2, 3, 4, 5]),
        ("unsolved_by_all", [0, 2]),  # every base model fails; post-trained columns do not count
        ("unsolved_by:r1-1.5b", [0, 1, 2, 3]),
        ("unsolved_by:qwen2.5-1.5b-instruct", [0, 4]),
        ("unsolved_by:qwen2.5-math-7b", [0, 2]),
    ],
)
def test_math_beyond_subsets(math_beyond_rows, subset, expected_problems):
    chosen = math_beyond_subset(math_beyond_rows, subset)
    assert [row["problem"].split(":")[0] for row in chosen] == [f"Fixture problem {i}" for i in expected_problems]


def test_math_beyond_unknown_model_lists_models(math_beyond_rows):
    with pytest.raises(BenchmarkError, match=r"no columns for model 'gpt-9'.*qwen2\.5-1\.5b, qwen2\.5-7b"):
        math_beyond_subset(math_beyond_rows, "unsolved_by:gpt-9")


def test_math_beyond_needs_every_base_column(math_beyond_rows):
    rows = [{k: v for k, v in row.items() if not k.startswith("olmo_7b")} for row in math_beyond_rows]
    with pytest.raises(BenchmarkError, match=r"needs the base-model columns \['olmo_7b'\]"):
        math_beyond_subset(rows, "unsolved_by_all")


def test_math_beyond_pass_column_alone_decides(math_beyond_rows):
    rows = [{k: v for k, v in row.items() if not k.endswith("_unsolved")} for row in math_beyond_rows]
    assert len(math_beyond_subset(rows, "unsolved_by_all")) == 2


def test_math_beyond_from_a_local_csv(math_beyond_rows, tmp_path):
    with (tmp_path / "math_beyond.csv").open("w", newline="") as f:  # the Hub's test.csv spells flags as text
        writer = csv.DictWriter(f, fieldnames=list(math_beyond_rows[0]))
        writer.writeheader()
        writer.writerows(math_beyond_rows)
    loaded = load_benchmark("math_beyond:unsolved_by:r1-1.5b", data_dir=tmp_path)
    assert loaded.subset == "unsolved_by:r1-1.5b" and len(loaded.rows) == 4
    assert loaded.rows[0]["answer"] == "0" and loaded.rows[0]["id"] == "math_beyond-0"


def test_math_beyond_from_the_hub_records_the_revision(math_beyond_rows, monkeypatch):
    import datasets

    calls = []

    def fake_load_dataset(repo, config, split, revision):
        calls.append((repo, config, split, revision))
        return math_beyond_rows

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    loaded = load_benchmark("math_beyond:unsolved_by_all", limit=1)
    assert calls == [("brendel-group/MATH-Beyond", None, "test", bm.MATH_BEYOND_HUB.revision)]
    assert loaded.source == "hub:brendel-group/MATH-Beyond" and loaded.revision == bm.MATH_BEYOND_HUB.revision
    assert len(loaded.rows) == 1 and loaded.describe()["num_problems"] == 1
