"""benchmarks/gpu_roofline.py: the datasheet table by device name and the FLOP counts, against hand-counted
values and a token-by-token recount; benchmarks/gpu.py's argument defaults."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import gpu  # noqa: E402
import gpu_roofline as roofline  # noqa: E402


@pytest.mark.parametrize("name, gpu_label, tflops, tb_s", [
    ("NVIDIA H200", "H200 SXM", 989.0, 4.8),
    ("NVIDIA H200 NVL", "H200 NVL", 835.0, 4.8),
    ("NVIDIA H100 80GB HBM3", "H100 SXM", 989.0, 3.35),
    ("NVIDIA H100 PCIe", "H100 PCIe", 756.0, 2.0),
    ("NVIDIA H100 NVL", "H100 NVL", 835.0, 3.9),
    ("NVIDIA A100-SXM4-80GB", "A100 80GB SXM", 312.0, 2.039),
    ("NVIDIA A100 80GB PCIe", "A100 80GB PCIe", 312.0, 1.935),
    ("NVIDIA A100-SXM4-40GB", "A100 40GB", 312.0, 1.555),
    ("NVIDIA A100-PCIE-40GB", "A100 40GB", 312.0, 1.555),
    ("NVIDIA L40S", "L40S", 362.0, 0.864),
    ("NVIDIA L4", "L4", 121.0, 0.300),
])
def test_datasheet_peak_by_device_name(name, gpu_label, tflops, tb_s):
    peak = roofline.datasheet_peak(name)
    assert (peak["gpu"], peak["bf16_dense_tflops"], peak["hbm_tb_s"]) == (gpu_label, tflops, tb_s)
    assert peak["source"].startswith("NVIDIA ")


@pytest.mark.parametrize("name", [None, "", "NVIDIA L40", "NVIDIA GeForce RTX 4090", "Tesla T4", "cpu"])
def test_datasheet_peak_is_none_for_a_gpu_the_table_does_not_hold(name):
    assert roofline.datasheet_peak(name) is None


@pytest.mark.parametrize("body, head, layers, width, prompts, completions, expected", [
    # 6*10*5 + 6*3*3 + 6*2*4*5^2
    (10, 3, 2, 4, [2], [3], 300 + 54 + 1200),
    # plus a sequence of 1 + 1 tokens: 6*10*2 + 6*3*1 + 6*2*4*2^2
    (10, 3, 2, 4, [2, 1], [3, 1], 1554 + 120 + 18 + 192),
    (10, 3, 2, 4, [], [], 0),
])
def test_train_step_flops_hand_counted(body, head, layers, width, prompts, completions, expected):
    assert roofline.train_step_flops(body, head, layers, width, prompts, completions) == expected


@pytest.mark.parametrize("body, head, layers, width, prompts, new, expected", [
    # prefill 2*10*2 + 2*2*4*2^2 = 104; tokens 2*13*3 = 78; attention 4*2*4*(2 + 3 + 4) = 288
    (10, 3, 2, 4, [2], [3], 104 + 78 + 288),
    (10, 3, 2, 4, [0], [1], 26),
])
def test_generation_flops_hand_counted(body, head, layers, width, prompts, new, expected):
    assert roofline.generation_flops(body, head, layers, width, prompts, new) == expected


@pytest.mark.parametrize("p, n", [(1, 1), (5, 7), (130, 256), (0, 9)])
def test_generation_flops_match_a_token_by_token_count(p, n):
    body, head, layers, width = 1000, 300, 3, 16
    prefill = 2 * body * p + 2 * layers * width * p * p
    per_token = sum(2 * (body + head) + 4 * layers * width * (p + j) for j in range(n))  # token j sees p + j
    assert roofline.generation_flops(body, head, layers, width, [p], [n]) == pytest.approx(prefill + per_token)


@pytest.mark.parametrize("params, batch, bytes_per_param, tflops, tb_s, expected", [
    (1e9, 64, 2.0, 989.0, 4.8, 64 / (2e9 / 4.8e12)),          # memory-bound: one read of the weights per step
    (1e9, 4096, 2.0, 989.0, 4.8, 989e12 / 2e9),               # compute-bound: peak / (2 FLOPs per parameter)
    (1e9, 64, 8.0, 989.0, 4.8, 64 / (8e9 / 4.8e12)),          # autocast over fp32: 8 bytes a parameter
])
def test_decode_bound(params, batch, bytes_per_param, tflops, tb_s, expected):
    assert roofline.decode_bound_tokens_per_s(params, batch, bytes_per_param, tflops, tb_s) == pytest.approx(expected)


@pytest.mark.parametrize("achieved, bound, expected", [(5.0, 10.0, 0.5), (None, 10.0, None), (5.0, None, None),
                                                       (5.0, 0.0, None)])
def test_fraction_of(achieved, bound, expected):
    assert roofline.fraction_of(achieved, bound) == expected


def test_gpu_defaults_follow_tiny_and_device():
    full, tiny = gpu.parse_args([]), gpu.parse_args(["--device", "cpu", "--tiny"])
    assert (full.prompts, full.generations, full.completion_length, full.out.rsplit("/", 1)[1]) == \
        (8, 8, 256, "gpu.json")
    assert (tiny.prompts, tiny.generations, tiny.completion_length, tiny.out.rsplit("/", 1)[1]) == \
        (2, 4, 16, "gpu_tiny_cpu.json")


@pytest.mark.parametrize("argv", [["--prompts", "3", "--generations", "3", "--micro-batch", "2"], ["--steps", "1"]])
def test_gpu_rejects_an_impossible_operating_point(argv, capsys):
    with pytest.raises(SystemExit):
        gpu.parse_args(argv)
    assert "must" in capsys.readouterr().err
