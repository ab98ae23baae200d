"""evaluate(): metrics from scripted samples, results.json contents, resumption and refused config changes."""

from __future__ import annotations

import json

import pytest

from trl_reasoning.evaluation import ConfigMismatchError, evaluate, runner
from trl_reasoning.evaluation.benchmarks import load_benchmark
from trl_reasoning.grading import Verdict, extract_answer


@pytest.fixture(autouse=True)
def numeric_grader(monkeypatch):
    """A deterministic stand-in for the grader, so these tests check the runner and nothing else.

    A sample is right when its last box holds the reference as a number (``3.0`` equals ``3``).
    """

    def grade_many(pairs, processes=None, responses=False):
        verdicts = []
        for reference, response in pairs:
            answer = extract_answer(response)
            try:
                equal = answer is not None and float(answer) == float(reference)
            except ValueError:
                equal = False
            verdicts.append(Verdict(equal, "numeric" if equal else "not-equal", True))
        return verdicts

    monkeypatch.setattr(runner, "grade_many", grade_many)
    monkeypatch.setattr(runner, "normalize", lambda answer: answer.strip())


@pytest.fixture
def gsm8k_rows(data_dir):
    return load_benchmark("gsm8k", data_dir=data_dir, limit=4).rows


@pytest.fixture
def backend(gsm8k_rows, scripted):
    """Problem 0: one right of two; 1: both right; 2: right answers without a box; 3: no answer at all."""
    problems = [row["problem"] for row in gsm8k_rows]
    return scripted({
        problems[0]: ["so \\boxed{18}", "\\boxed{17}"],
        problems[1]: ["\\boxed{3}", "it is \\boxed{3.0}"],
        problems[2]: ["\\boxed{7}", "\\boxed{7}"],
        problems[3]: ["hmm", "hmm"],
    })


def run(backend, data_dir, output_dir=None, **overrides):
    settings = dict(n=2, k_list=[1, 2], temperature=1.0, max_new_tokens=16, limit=4, template="plain",
                    data_dir=data_dir, output_dir=output_dir, backend=backend, batch_size=2, progress=False)
    settings.update(overrides)
    return evaluate("scripted-model", ["gsm8k"], **settings)


def test_metrics_from_scripted_samples(backend, data_dir):
    results = run(backend, data_dir)
    metrics = results["benchmarks"]["gsm8k"]["metrics"]
    assert metrics["num_problems"] == 4
    assert metrics["pass@1"] == pytest.approx((0.5 + 1 + 0 + 0) / 4)
    assert metrics["avg@2"] == metrics["accuracy"] == metrics["pass@1"]
    assert metrics["pass@2"] == pytest.approx((1 + 1 + 0 + 0) / 4)
    assert metrics["maj@2"] == pytest.approx((1 + 1 + 0 + 0) / 4)  # 1-1 tie on problem 0: the first answer wins
    assert metrics["answer_rate"] == pytest.approx(6 / 8)
    assert results["average"]["accuracy"] == metrics["accuracy"]
    record = results["problems"]["gsm8k"][0]
    assert record["id"] == "gsm8k-test-0" and record["num_correct"] == 1
    assert [s["extracted"] for s in record["samples"]] == ["18", "17"]
    assert backend.generate_calls == 4  # batch_size 2 with n=2: one problem per call


def test_results_json_records_versions_config_and_samples(backend, data_dir, tmp_path):
    run(backend, data_dir, tmp_path)
    results = json.loads((tmp_path / "results.json").read_text())
    bench = results["benchmarks"]["gsm8k"]
    assert bench["version"] == "1" and bench["revision"].startswith("sha256:")
    settings = bench["settings"]
    assert (settings["n"], settings["temperature"], settings["max_new_tokens"], settings["seed"]) == (2, 1.0, 16, 0)
    assert settings["template"] == "plain" and settings["model"] == "scripted-model"
    assert set(results["versions"]) >= {"torch", "transformers", "trl", "trl-reasoning", "python"}
    assert results["versions"]["transformers"]
    # Which grader and which backend version produced these numbers, readable off the file alone.
    assert results["grader"] == {"name": "trl_reasoning.grading", "version": results["versions"]["trl-reasoning"],
                                 "latex2sympy2": results["versions"]["latex2sympy2"],
                                 "sympy": results["versions"]["sympy"]}
    assert results["grader"]["version"] and results["grader"]["latex2sympy2"]
    assert results["backend_version"] == (results["versions"]["vllm"] if results["backend"] == "vllm"
                                          else results["versions"]["transformers"])
    problems = results["problems"]["gsm8k"]
    assert len(problems) == 4 and problems[1]["samples"][1]["correct"]
    assert problems[0]["scores"] == {"pass@1": 0.5, "pass@2": 1.0, "maj@2": 1.0, "avg@2": 0.5}
    assert "text" not in problems[0]["samples"][0]  # texts stay in samples.jsonl
    first = json.loads((tmp_path / "samples.jsonl").read_text().splitlines()[0])
    assert first["samples"][0]["text"] == "so \\boxed{18}" and first["prompt"] == first["problem"]
    assert bench["k_list"] == [1, 2]


def test_rerun_into_the_same_dir_generates_nothing(backend, data_dir, tmp_path, scripted):
    first = run(backend, data_dir, tmp_path)
    lines = (tmp_path / "samples.jsonl").read_text().splitlines()
    assert len(lines) == 4
    again = scripted()  # would answer "no idea" to everything if it were asked
    second = run(again, data_dir, tmp_path)
    assert again.generate_calls == 0
    assert (tmp_path / "samples.jsonl").read_text().splitlines() == lines
    assert second["benchmarks"]["gsm8k"]["metrics"] == first["benchmarks"]["gsm8k"]["metrics"]
    # k is computed from stored samples, so a new k list needs no generation either
    assert run(again, data_dir, tmp_path, k_list=[2])["benchmarks"]["gsm8k"]["k_list"] == [2]
    assert again.generate_calls == 0


def test_interrupted_run_resumes_where_it_stopped(backend, data_dir, tmp_path):
    backend.fail_after = 2  # two problems scored, then the run dies
    with pytest.raises(KeyboardInterrupt):
        run(backend, data_dir, tmp_path)
    assert len((tmp_path / "samples.jsonl").read_text().splitlines()) == 2
    backend.fail_after = None
    backend.prompts_seen.clear()
    results = run(backend, data_dir, tmp_path)
    assert len(backend.prompts_seen) == 2  # only the last two problems
    ids = [json.loads(line)["id"] for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert ids == ["gsm8k-test-0", "gsm8k-test-1", "gsm8k-test-2", "gsm8k-test-3"]
    assert results["benchmarks"]["gsm8k"]["metrics"]["pass@2"] == pytest.approx(0.5)


def test_a_larger_limit_extends_a_finished_run(backend, data_dir, tmp_path):
    run(backend, data_dir, tmp_path, limit=2)
    backend.prompts_seen.clear()
    results = run(backend, data_dir, tmp_path, limit=4)
    assert len(backend.prompts_seen) == 2 and results["benchmarks"]["gsm8k"]["metrics"]["num_problems"] == 4


def test_a_torn_last_line_is_dropped_and_regenerated(backend, data_dir, tmp_path):
    run(backend, data_dir, tmp_path)
    path = tmp_path / "samples.jsonl"
    text = path.read_text()
    path.write_text(text[: len(text) - 40])  # the process died while writing the last record
    backend.prompts_seen.clear()
    run(backend, data_dir, tmp_path)
    assert len(backend.prompts_seen) == 1
    assert [json.loads(line)["id"] for line in path.read_text().splitlines()][-1] == "gsm8k-test-3"


def test_changed_settings_are_refused(backend, data_dir, tmp_path):
    run(backend, data_dir, tmp_path)
    with pytest.raises(ConfigMismatchError, match=r"temperature: 1\.0 -> 0\.6.*another --output-dir"):
        run(backend, data_dir, tmp_path, temperature=0.6)
    with pytest.raises(ConfigMismatchError, match=r"n: 2 -> 4"):
        run(backend, data_dir, tmp_path, n=4, k_list=[1])


def test_k_above_n_is_refused_before_generation(backend, data_dir):
    with pytest.raises(ValueError, match=r"gsm8k: k=4 exceeds the 2 sample\(s\) per problem"):
        run(backend, data_dir, k_list=[1, 4])
    assert backend.generate_calls == 0


def test_protocol_defaults_fill_what_is_not_given(backend, data_dir):
    results = evaluate("scripted-model", ["aime24", "math500"], limit=1, template="plain", data_dir=data_dir,
                       backend=backend, progress=False, max_new_tokens=8)
    aime, math500 = results["benchmarks"]["aime24"], results["benchmarks"]["math500"]
    assert (aime["settings"]["n"], aime["settings"]["temperature"], aime["k_list"]) == (8, 0.6, [1, 8])
    assert (math500["settings"]["n"], math500["settings"]["temperature"], math500["k_list"]) == (1, 0.0, [1])
    assert set(results["average"]) >= {"accuracy", "pass@1", "mean_response_tokens"}


def test_greedy_with_several_samples_is_flagged(backend, data_dir, capsys):
    results = run(backend, data_dir, temperature=0.0, progress=True)
    assert "gsm8k: greedy decoding with n=2 gives 2 identical samples" in results["notes"][0]
    assert "identical" in capsys.readouterr().err
    assert run(backend, data_dir)["notes"] == []


def test_plan_run_takes_a_prompt_format():
    from trl_reasoning.data.prompts import PromptFormat
    from trl_reasoning.evaluation.benchmarks import LoadedBenchmark, Protocol
    from trl_reasoning.evaluation.runner import plan_run

    loaded = LoadedBenchmark("rows", "1", Protocol(), [{"id": "a", "problem": "1+1?", "answer": "2"}], "rows")
    shot = {"problem": "2+2?", "solution": "\\boxed{4}"}
    fmt = PromptFormat("chat", system_prompt="S", user_template="Q: {problem}", few_shot=(shot,))
    run = plan_run(loaded, template=fmt)
    assert (run.template, run.system_prompt, run.user_template, run.few_shot) == ("chat", "S", "Q: {problem}", (shot,))
    assert run.prompt_format == fmt
