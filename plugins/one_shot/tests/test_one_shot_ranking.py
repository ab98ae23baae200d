"""The historical-variance ranking reproduces the authors' pi list from DSR-sub (docs/papers/one_shot.md, "Choosing
the example")."""

import json
import os
from pathlib import Path

import pytest

from trl_reason_one_shot.ranking import historical_std, load_hist_acc_rows, rank_examples
from trl_reasoning.cli.main import main

# The whole 1,209-row DSR-sub file (with its hist_acc column) is needed: a fixture of a few rows cannot show the pi list.
_DATA_DIR = os.environ.get("TRL_REASONING_DATA_DIR")
DSR_SUB = Path(_DATA_DIR or ".") / "dsr_sub.jsonl"
needs_data = pytest.mark.skipif(
    not _DATA_DIR or not DSR_SUB.exists(),
    reason="needs the full benchmark files: set TRL_REASONING_DATA_DIR" if not _DATA_DIR
    else f"needs the full benchmark files: no dsr_sub.jsonl in TRL_REASONING_DATA_DIR={_DATA_DIR}")


@needs_data
def test_reproduces_the_authors_pi_list():
    rows = load_hist_acc_rows(DSR_SUB)
    ranked = rank_examples(rows, index_column="dsr_sub_index", tie_column="pi_rank")
    assert len(ranked) == 1209
    assert ranked[0] == 124  # pi1
    assert ranked[1] == 267  # pi2
    assert ranked[12] == 682  # pi13
    assert ranked[-1] == 789  # pi1209: last of the 104 zero-std examples in the authors' key order
    assert sum(historical_std(r["hist_acc"]) == 0 for r in rows) == 104
    by_index = {row["dsr_sub_index"]: row["pi_rank"] for row in rows}
    assert [by_index[i] for i in ranked] == list(range(1, 1210))  # the whole pi_rank column


@needs_data
def test_file_order_alone_gives_the_head_of_the_list():
    """Without the tie column, pi1, pi2 and pi13 still come out (ties only matter in the zero-std tail)."""
    ranked = rank_examples(load_hist_acc_rows(DSR_SUB), index_column="dsr_sub_index")
    assert (ranked[0], ranked[1], ranked[12]) == (124, 267, 682)


@needs_data
def test_cli_prints_one_index_a_line(capsys):
    assert main(["one-shot", "rank", str(DSR_SUB), "--top", "13"]) == 0
    lines = capsys.readouterr().out.split()
    assert lines[:2] == ["124", "267"] and lines[-1] == "682" and len(lines) == 13


@pytest.mark.parametrize("hist,expected", [
    ([0.0, 1.0], 0.5),
    ([0.5, 0.5, 0.5], 0.0),
    ([0.0, 0.0, 0.0, 1.0], 0.4330127),
    ([], 0.0),
])
def test_population_std(hist, expected):
    assert historical_std(hist) == pytest.approx(expected, abs=1e-7)


def test_ties_keep_source_order_and_authors_json(tmp_path, capsys):
    """The authors' acc_step_500.json shape: {index: [acc per epoch]}; equal std (same values in another order)
    keeps the key order, as their stable `sorted`."""
    data = {"7": [0.0, 0.125, 0.25], "3": [0.25, 0.125, 0.0], "9": [0.0, 1.0], "1": [0.5, 0.5]}
    path = tmp_path / "acc.json"
    path.write_text(json.dumps(data))
    assert rank_examples(load_hist_acc_rows(path)) == [9, 7, 3, 1]
    assert main(["one-shot", "rank", str(path)]) == 0
    assert capsys.readouterr().out.split() == ["9", "7", "3", "1"]


def test_missing_column_is_a_clear_error(tmp_path, capsys):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"index": 1, "acc": [0.1]}\n')
    assert main(["one-shot", "rank", str(path)]) == 2
    captured = capsys.readouterr()
    assert "hist_acc" in captured.out + captured.err
