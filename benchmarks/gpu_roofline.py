"""The GPU's bf16 roofline and the FLOPs of a GRPO step, as plain functions (no torch): ``benchmarks/gpu.py`` reads
its measurements against them, ``tests/benchmarks/test_gpu_roofline.py`` checks them against hand-counted tables.

Datasheet peaks are dense (no 2:4 sparsity; NVIDIA's headline bf16 figures are sparse, twice these) and per GPU:

| GPU (as ``torch.cuda.get_device_name`` names it) | bf16 dense TFLOP/s | HBM TB/s | source |
|---|---|---|---|
| NVIDIA H200 NVL | 835 | 4.8 | NVIDIA H200 datasheet (nvidia.com/en-us/data-center/h200) |
| NVIDIA H200 (SXM) | 989 | 4.8 | same |
| NVIDIA H100 NVL | 835 | 3.9 | NVIDIA H100 datasheet (nvidia.com/en-us/data-center/h100) |
| NVIDIA H100 PCIe | 756 | 2.0 | same |
| NVIDIA H100 80GB HBM3 (SXM) | 989 | 3.35 | same |
| NVIDIA A100 80GB PCIe | 312 | 1.935 | NVIDIA A100 datasheet (nvidia.com/en-us/data-center/a100) |
| NVIDIA A100-SXM4-80GB | 312 | 2.039 | same |
| NVIDIA A100 40GB (SXM4 or PCIe) | 312 | 1.555 | same |
| NVIDIA L40S | 362 | 0.864 | NVIDIA L40S datasheet (nvidia.com/en-us/data-center/l40s) |
| NVIDIA L4 | 121 | 0.300 | NVIDIA L4 datasheet (nvidia.com/en-us/data-center/l4) |

FLOP counts (a matmul of (m, k) by (k, n) is 2mkn FLOPs; a backward pass costs twice its forward):

* training, per sequence of ``p`` prompt and ``c`` completion tokens: ``6 * body * (p + c)`` for the transformer's
  linear layers, ``6 * head * c`` for the LM head (TRL computes logits for the completion only), and causal
  attention ``6 * layers * width * (p + c)**2`` (QK^T and AV over the T^2/2 pairs below the diagonal, 2 FLOPs per
  multiply-add, forward and backward);
* generation, per sequence: prefill ``2 * body * p + 2 * layers * width * p**2``, then per new token ``2 * (body +
  head)`` plus ``4 * layers * width * k`` for attention over the ``k`` positions before it.

``body`` counts the parameters of the transformer's linear layers (embeddings, norms and biases aside), ``head`` the
LM head's (vocab x hidden, tied or not), ``width`` the attention's query width (heads x head dim).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

DATASHEET_SOURCES = {
    "h200": "NVIDIA H200 Tensor Core GPU datasheet, https://www.nvidia.com/en-us/data-center/h200/",
    "h100": "NVIDIA H100 Tensor Core GPU datasheet, https://www.nvidia.com/en-us/data-center/h100/",
    "a100": "NVIDIA A100 Tensor Core GPU datasheet, https://www.nvidia.com/en-us/data-center/a100/",
    "l40s": "NVIDIA L40S datasheet, https://www.nvidia.com/en-us/data-center/l40s/",
    "l4": "NVIDIA L4 Tensor Core GPU datasheet, https://www.nvidia.com/en-us/data-center/l4/",
}

# (words that must all appear in the device name, label, bf16 dense TFLOP/s, HBM TB/s, source key); the first row
# whose words all appear wins, so the more specific rows come first.
DATASHEET = (
    (("h200", "nvl"), "H200 NVL", 835.0, 4.8, "h200"),
    (("h200",), "H200 SXM", 989.0, 4.8, "h200"),
    (("h100", "nvl"), "H100 NVL", 835.0, 3.9, "h100"),
    (("h100", "pcie"), "H100 PCIe", 756.0, 2.0, "h100"),
    (("h100",), "H100 SXM", 989.0, 3.35, "h100"),
    (("a100", "80gb", "pcie"), "A100 80GB PCIe", 312.0, 1.935, "a100"),
    (("a100", "80gb"), "A100 80GB SXM", 312.0, 2.039, "a100"),
    (("a100",), "A100 40GB", 312.0, 1.555, "a100"),
    (("l40s",), "L40S", 362.0, 0.864, "l40s"),
    (("l4",), "L4", 121.0, 0.300, "l4"),
)


def name_words(device_name: str) -> set[str]:
    """``"NVIDIA A100-SXM4-80GB"`` -> ``{"nvidia", "a100", "sxm4", "80gb"}``."""
    return set(re.findall(r"[a-z0-9]+", device_name.lower()))


def datasheet_peak(device_name: str | None) -> dict | None:
    """The datasheet roofline of the GPU ``device_name`` names: ``{"gpu", "bf16_dense_tflops", "hbm_tb_s",
    "source"}``; ``None`` for a name the table does not hold (or no GPU)."""
    if not device_name:
        return None
    words = name_words(device_name)
    for needed, label, tflops, tb_s, source in DATASHEET:
        if set(needed) <= words:
            return {"gpu": label, "bf16_dense_tflops": tflops, "hbm_tb_s": tb_s, "source": DATASHEET_SOURCES[source]}
    return None


def train_step_flops(body: int, head: int, layers: int, width: int, prompt_lengths: Sequence[int],
                     completion_lengths: Sequence[int]) -> float:
    """Forward and backward FLOPs of one training pass over these sequences (module docstring)."""
    total = 0.0
    for p, c in zip(prompt_lengths, completion_lengths, strict=True):
        tokens = p + c
        total += 6.0 * body * tokens + 6.0 * head * c + 6.0 * layers * width * tokens * tokens
    return total


def generation_flops(body: int, head: int, layers: int, width: int, prompt_lengths: Sequence[int],
                     new_tokens: Sequence[int]) -> float:
    """Forward FLOPs of generating ``new_tokens[i]`` tokens after a prompt of ``prompt_lengths[i]`` (with a KV
    cache: the prompt once, then one position per token)."""
    total = 0.0
    for p, n in zip(prompt_lengths, new_tokens, strict=True):
        prefill = 2.0 * body * p + 2.0 * layers * width * p * p
        # token j (0-based) attends to the p + j positions before it: sum over j of 4*layers*width*(p + j)
        attention = 4.0 * layers * width * (n * p + n * (n - 1) / 2)
        total += prefill + 2.0 * (body + head) * n + attention
    return total


def decode_bound_tokens_per_s(params: int, batch: int, bytes_per_param: float, peak_tflops: float,
                              hbm_tb_s: float) -> float:
    """The most tokens per second a decode step of ``batch`` sequences can give: each step reads every weight once
    (``params * bytes_per_param`` bytes at ``hbm_tb_s``) and does ``2 * params * batch`` FLOPs (at
    ``peak_tflops``); the KV cache's reads are left out, so the bound is optimistic."""
    seconds_per_step = max(params * bytes_per_param / (hbm_tb_s * 1e12), 2.0 * params * batch / (peak_tflops * 1e12))
    return batch / seconds_per_step


def fraction_of(achieved: float | None, bound: float | None) -> float | None:
    """``achieved / bound``, or ``None`` when either is missing (no GPU, or a GPU the table does not hold)."""
    if achieved is None or not bound:
        return None
    return achieved / bound
