"""The eval command: bad input exits 2 with a readable message; end-to-end runs on the tiny model."""

from __future__ import annotations

import json

import pytest

from trl_reasoning.cli.eval import main


@pytest.fixture(autouse=True)
def no_third_party_plugins(monkeypatch):
    """Only the built-in plugins: another installed distribution must not change these tests."""
    monkeypatch.setenv("TRL_REASONING_LOAD_PLUGINS", "")


def run_cli(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--benchmarks", "gsm8k,math5000"], "unknown benchmark 'math5000'; known benchmarks: aime24, aime25"),
        (["--benchmarks", "gsm8k", "--n", "2", "--k", "1,4"], "gsm8k: k=4 exceeds the 2 sample(s) per problem"),
        (["--benchmarks", "math500", "--k", "8"], "math500: k=8 exceeds the 1 sample(s) per problem"),
        (["--benchmarks", "gsm8k", "--greedy", "--temperature", "0.6"], "--greedy contradicts --temperature 0.6"),
        (["--benchmarks", "math_beyond:bogus"], "unknown MATH-Beyond subset 'bogus'"),
        (["--benchmarks", "gsm8k", "--template", "{bad json"], "--template looks like JSON but does not parse"),
    ],
)
def test_bad_input_exits_2_without_a_traceback(capsys, data_dir, argv, message):
    status, out, err = run_cli(capsys, "--model", "unused", "--data-dir", str(data_dir), "--no-progress", *argv)
    assert status == 2
    assert message in err and err.startswith("trl-reason eval: error: ")
    assert "Traceback" not in err


def test_argparse_errors_exit_2(capsys):
    assert main(["--benchmarks", "gsm8k"]) == 2  # neither --model, --checkpoints nor --recipe
    assert "give --model SPEC or --checkpoints RUN_DIR" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--model", "m", "--k", "one"])
    assert "--k takes comma-separated integers" in capsys.readouterr().err


def test_checkpoints_dir_without_checkpoints(capsys, tmp_path, data_dir):
    status, _, err = run_cli(capsys, "--checkpoints", str(tmp_path), "--benchmarks", "gsm8k",
                             "--data-dir", str(data_dir), "--no-progress")
    assert status == 2 and "no checkpoint-<step> directories" in err


def test_end_to_end_on_the_tiny_model_then_resume(capsys, tiny_model, data_dir, tmp_path, monkeypatch):
    argv = ["--model", tiny_model, "--benchmarks", "gsm8k", "--data-dir", str(data_dir), "--limit", "2",
            "--n", "2", "--k", "1,2", "--temperature", "1.0", "--max-new-tokens", "8", "--output-dir", str(tmp_path)]
    status, out, _ = run_cli(capsys, *argv)
    assert status == 0
    assert "gsm8k" in out and "pass@2" in out  # the results table
    results = json.loads((tmp_path / "results.json").read_text())
    metrics = results["benchmarks"]["gsm8k"]["metrics"]
    assert metrics["num_problems"] + metrics["unreadable_references"] == 2
    assert {"pass@1", "pass@2", "maj@2", "avg@2"} <= set(metrics)
    assert 1 <= metrics["mean_response_tokens"] <= 8
    assert results["model"] == tiny_model and results["benchmarks"]["gsm8k"]["settings"]["n"] == 2
    samples = (tmp_path / "samples.jsonl").read_text()

    # A second run loads no model: every problem is already scored.
    import trl_reasoning.models

    def no_loading(*args, **kwargs):
        raise AssertionError("the model was loaded although nothing was left to generate")

    monkeypatch.setattr(trl_reasoning.models, "_pretrained", no_loading)  # every loader goes through it
    status, _, _ = run_cli(capsys, *argv, "--no-progress")
    assert status == 0 and (tmp_path / "samples.jsonl").read_text() == samples

    status, _, err = run_cli(capsys, *[a if a != "1.0" else "0.7" for a in argv], "--no-progress")
    assert status == 2 and "temperature: 1.0 -> 0.7" in err


def test_checkpoints_names_the_best(capsys, tiny_model, data_dir, tmp_path):
    run_dir = tmp_path / "run"
    for step in (10, 2):
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        (run_dir / "checkpoints" / f"checkpoint-{step}").symlink_to(tiny_model, target_is_directory=True)
    status, out, _ = run_cli(capsys, "--checkpoints", str(run_dir), "--benchmarks", "gsm8k", "--data-dir",
                             str(data_dir), "--limit", "1", "--greedy", "--max-new-tokens", "4", "--no-progress")
    assert status == 0
    summary = json.loads((run_dir / "eval" / "checkpoints.json").read_text())
    assert [row["step"] for row in summary["checkpoints"]] == [2, 10]
    assert summary["best"] == "checkpoint-2"  # identical weights: the first of the tied checkpoints
    assert "best checkpoint: checkpoint-2" in out
    assert (run_dir / "eval" / "checkpoint-10" / "results.json").exists()


def test_trl_reason_eval_subcommand_is_wired(capsys, data_dir):
    from trl_reasoning.cli import main as cli

    status = cli.main(["eval", "--model", "unused", "--benchmarks", "nope", "--data-dir", str(data_dir)])
    assert status == 2 and "unknown benchmark 'nope'" in capsys.readouterr().err


def test_inference_model_hook_replaces_the_model():
    from types import SimpleNamespace

    from trl_reasoning.cli.eval import _inference_model_hook

    seen = {}

    def inference_model(model, options):
        seen["options"] = options
        return ("wrapped", model)

    args = SimpleNamespace(plugin_manager=SimpleNamespace(hook=SimpleNamespace(inference_model=inference_model)))
    assert _inference_model_hook(args)("policy") == ("wrapped", "policy") and seen["options"] is args
