"""benchmarks/gpu.py run as a user runs it (``python benchmarks/gpu.py --device cpu --tiny``): real trainers on a
tiny Qwen2, every JSON field the GPU run reports present and sane. The same check on CUDA runs where a GPU is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_benchmark(tmp_path, *argv) -> dict:
    out = tmp_path / "gpu.json"
    done = subprocess.run([sys.executable, "benchmarks/gpu.py", *argv, "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout[done.stdout.rindex("{\n"):])  # the summary is the last thing printed
    result = json.loads(out.read_text())
    assert summary["out"] == str(out) and summary["median_step_s"] == result["grpo"]["median_step_s"]
    return result


def check_common(result: dict) -> None:
    point = result["operating_point"]
    grpo, overhead, evaluation = result["grpo"], result["overhead"], result["evaluation"]
    assert result["benchmark"] == "gpu"
    assert all(result["versions"][name] for name in ("python", "torch", "transformers", "trl"))
    assert result["model"]["parameters"]["total"] > result["model"]["parameters"]["body"] > 0
    # GRPO: every completion is max_completion_length long, so one generate call makes prompts x generations x length
    for key in ("median_step_s", "median_generate_s", "median_train_s", "generation_tokens_per_s",
                "training_tokens_per_s", "mean_prompt_tokens", "train_tflop_per_step"):
        assert grpo[key] > 0, key
    assert 0 < grpo["generation_share_of_step"] < 1
    generated = grpo["generation_tokens_per_s"] * grpo["median_generate_s"]
    assert generated == pytest.approx(point["prompts_per_step"] * point["num_generations"] * point["completion_tokens"],
                                      rel=2e-3)
    assert grpo["generation_under_autocast"] is True  # bf16=True: accelerate wraps the policy's forward
    # the overhead ratio: both arms, one median step time per run, each run's warm-up step left out
    assert overhead["ratio_noop_over_core"] > 0 and overhead["pooled_ratio_noop_over_core"] > 0
    assert len(overhead["per_repeat_ratios"]) == overhead["repeats"] >= 1
    for arm in ("core", "noop"):
        assert len(overhead["per_repeat_median_step_s"][arm]) == overhead["repeats"]
        assert all(len(steps) == point["steps_per_run"] - 1 for steps in overhead["step_times_s"][arm])
    # evaluation through the project's runner
    assert evaluation["problems"] == point["eval_problems"] and evaluation["problems_per_s"] > 0
    assert 0 < evaluation["new_tokens"] <= point["eval_problems"] * point["eval_max_new_tokens"]
    assert evaluation["tokens_per_s"] > 0
    assert isinstance(result["stopped_by_time_budget"], bool)


def test_gpu_benchmark_tiny_on_cpu(tiny_model_path, tmp_path):
    # tiny_model_path builds (once per session) the cached model whose SmolLM2 tokenizer gpu.py reads
    result = run_benchmark(tmp_path, "--device", "cpu", "--tiny", "--threads", "2")
    check_common(result)
    assert result["device"]["type"] == "cpu" and result["datasheet"] is None and result["measured_ceilings"] is None
    for key in ("mfu_train_vs_datasheet", "mfu_step_vs_datasheet", "generation_fraction_of_decode_bound",
                "generation_fraction_of_autocast_bound"):
        assert key in result["grpo"] and result["grpo"][key] is None  # no roofline on a CPU
    assert result["evaluation"]["fraction_of_decode_bound"] is None
    # about 20 s on two idle cores; the bound only catches a tiny run that stopped being tiny (a shared machine's
    # load can triple the time)
    assert result["elapsed_s"] < 120


@pytest.mark.gpu
def test_gpu_benchmark_tiny_on_cuda(tiny_model_path, tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    result = run_benchmark(tmp_path, "--device", "cuda", "--tiny")
    check_common(result)
    assert result["measured_ceilings"]["bf16_matmul_tflops"] > 0 and result["measured_ceilings"]["copy_tb_s"] > 0
    if result["datasheet"] is None:
        pytest.skip(f"{result['device']['name']} is not in gpu_roofline.DATASHEET")
    for value in (result["grpo"]["mfu_train_vs_datasheet"], result["grpo"]["generation_fraction_of_decode_bound"],
                  result["evaluation"]["fraction_of_decode_bound"]):
        assert 0 < value <= 1
