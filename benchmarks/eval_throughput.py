"""Throughput of the transformers evaluation backend: completion tokens per second, batched vs one prompt at a time.

    .venv/bin/python benchmarks/eval_throughput.py       # tiny model; writes benchmarks/results/eval_throughput.json
    .venv/bin/python benchmarks/eval_throughput.py --model embedded:smollm2-135m --prompts 8 --max-new-tokens 64

Prompts are the first GSM8K test problems in the qwen25-math-cot template. Greedy decoding with a fixed number of
new tokens (``min_new_tokens`` = ``max_new_tokens``) so both modes produce the same number of tokens; one warm-up
call runs first, because a fresh process pays for its first memory touches. Also times n samples per prompt in one
call (``--n``), the evaluation's usual sampled shape. Reports the device, so CPU and GPU numbers are not mixed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NO_DATA_DIR = "set TRL_REASONING_DATA_DIR to the folder with the full benchmark files (math500.jsonl, ...)"
sys.path.insert(0, str(ROOT))

from trl_reasoning.evaluation.benchmarks import load_benchmark  # noqa: E402
from trl_reasoning.evaluation.generation import SamplingSettings, TransformersBackend, render_prompts  # noqa: E402


def data_dir() -> Path:
    return Path(os.environ.get("TRL_REASONING_DATA_DIR") or sys.exit(NO_DATA_DIR)).resolve()


def timed(backend: TransformersBackend, prompts: list[str], settings: SamplingSettings) -> dict:
    started = time.perf_counter()
    completions = backend.generate(prompts, settings)
    seconds = time.perf_counter() - started
    tokens = sum(c.num_tokens for samples in completions for c in samples)
    return {"seconds": round(seconds, 3), "completion_tokens": tokens, "tokens_per_second": round(tokens / seconds, 1),
            "generate_calls": backend.generate_calls}


class FixedLength:
    """Force exactly max_new_tokens per sequence, so batched and unbatched runs do the same work."""

    def __init__(self, model):
        self.model = model
        self._generate = model.generate

    def __enter__(self):
        def generate(*args, **kwargs):
            kwargs["min_new_tokens"] = kwargs["max_new_tokens"]
            return self._generate(*args, **kwargs)

        self.model.generate = generate
        return self

    def __exit__(self, *exc):
        self.model.generate = self._generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model spec (default: a freshly built tiny 2-layer Llama)")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--n", type=int, default=4, help="samples per prompt for the sampled measurement")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "eval_throughput.json"))
    args = parser.parse_args()

    import torch
    import transformers

    from trl_reasoning.models import build_tiny_model, load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    spec = args.model or build_tiny_model(Path(tempfile.mkdtemp()) / "tiny")
    model, tokenizer = load_model(spec, dtype=args.dtype)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    problems = [row["problem"] for row in load_benchmark("gsm8k", data_dir=data_dir(), limit=args.prompts).rows]
    prompts = render_prompts(tokenizer, problems, "qwen25-math-cot")
    greedy = SamplingSettings(n=1, temperature=0.0, max_new_tokens=args.max_new_tokens)
    sampled = SamplingSettings(n=args.n, temperature=0.6, max_new_tokens=args.max_new_tokens)

    with FixedLength(model):
        TransformersBackend(model, tokenizer, batch_size=len(prompts)).generate(prompts[:2], greedy)  # warm-up
        unbatched = timed(TransformersBackend(model, tokenizer, batch_size=1), prompts, greedy)
        batched = timed(TransformersBackend(model, tokenizer, batch_size=len(prompts)), prompts, greedy)
        samples = timed(TransformersBackend(model, tokenizer, batch_size=len(prompts) * args.n), prompts, sampled)

    result = {
        "benchmark": "eval_throughput",
        "model": args.model or "tiny 2-layer Llama (hidden 64)",
        "device": device if device == "cpu" else torch.cuda.get_device_name(),
        "cpu_threads": torch.get_num_threads(),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),  # other processes on the machine skew CPU numbers
        "machine": platform.machine(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "dtype": args.dtype,
        "prompts": len(prompts),
        "max_new_tokens": args.max_new_tokens,
        "greedy_unbatched": unbatched,
        "greedy_batched": batched,
        "batched_over_unbatched": round(batched["tokens_per_second"] / unbatched["tokens_per_second"], 2),
        f"sampled_n{args.n}_one_call": samples,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
