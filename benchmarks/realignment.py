"""Realignment on CPU: TrRa (lambda = 2) and InRa (a sweep of c) against the reference, side by side.

    .venv/bin/python benchmarks/realignment.py                 # SmolLM2-135M: 3 x 10 steps + 7 evaluations
    .venv/bin/python benchmarks/realignment.py --quick         # tiny random model, a smoke run (~1 min)
    .venv/bin/python benchmarks/realignment.py --reuse --workdir DIR   # re-evaluate models trained in DIR
    .venv/bin/python benchmarks/realignment.py --parts inra --inra-target '\\boxed{{{answer}}}' \
        --c 0,0.25,0.5,0.75,1 --out benchmarks/results/inra_c_sweep.json   # InRa alone, on bare boxed answers

Setting (the paper's shape at toy scale):

* reference: ``embedded:smollm2-135m`` (SmolLM2-135M-Instruct), which answers "What is a + b?" at length;
* aligned: a copy fine-tuned to answer briefly, made here by a short SFT run (``trainer.algorithm: sft``) on the
  embedded arithmetic rows' worked solutions ("3 + 5 = 8. The answer is \\boxed{8}.");
* TrRa: ``trainer.algorithm: distill`` with ``plugins.trra`` (lambda = 2), student initialised from the reference,
  teacher-forced on the same prompt/solution pairs;
* InRa: an adapter layer inserted before layer 0 and trained alone by SFT on the same pairs, evaluated with the
  two-stream interpolation at several c.

Each model answers the same held-out problems greedily; reported per model: mean response length (tokens),
strict accuracy (right boxed answer), lenient accuracy (last number right) and boxed rate. Model files go to
``--workdir`` (default a temporary directory); the JSON goes to ``benchmarks/results/realignment.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def base_recipe(model: str, workdir: Path, name: str, steps: int, lr: float, batch: int, n_train: int, **extra):
    data = {
        "model": {"name_or_path": model},
        "data": {"train": "embedded:arithmetic", "options": {"n_train": n_train, "n_test": 200}},
        "trainer": {"max_steps": steps, "learning_rate": lr, "per_device_train_batch_size": batch,
                    "lr_scheduler_type": "constant", "max_length": 256,
                    "gradient_checkpointing": False},  # SFTConfig turns it on; on a CPU it only costs time
        "output_dir": str(workdir / name),
        "seed": 0,
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def train(recipe_data: dict, reuse: bool = False) -> tuple[str, float | None]:
    from trl_reasoning.config.recipe import recipe_from_dict
    from trl_reasoning.run import run_recipe

    final = Path(recipe_data["output_dir"]) / "final"
    if reuse and (final / "config.json").exists():
        return str(final), None
    started = time.time()
    results = run_recipe(recipe_from_dict(recipe_data))
    trainer = results.pop("trainer")
    del trainer
    return str(Path(recipe_data["output_dir"]) / "final"), round(time.time() - started, 1)


def evaluate(model, tokenizer, rows, max_new_tokens: int, batch_size: int) -> dict:
    from trl_reasoning.evaluation.training import HeldOutEvaluator

    evaluator = HeldOutEvaluator(rows, template="chat", max_new_tokens=max_new_tokens, batch_size=batch_size)
    started = time.time()
    result = evaluator(model, tokenizer)
    result["eval_seconds"] = round(time.time() - started, 1)
    result["example"] = evaluator.last_responses[0]
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny random model, few steps: checks the script runs")
    parser.add_argument("--model", default="embedded:smollm2-135m")
    parser.add_argument("--steps", type=int, default=10, help="optimizer steps of each training run")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--limit", type=int, default=32, help="held-out problems")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--lambda", dest="lam", type=float, default=2.0)
    parser.add_argument("--c", default="-0.5,0,0.5,1,1.5", help="InRa strengths to evaluate")
    parser.add_argument("--workdir", help="where the trained models go (default: a temporary directory)")
    parser.add_argument("--lr-aligned", type=float, default=5e-5, help="learning rate of the brief-answer SFT copy")
    parser.add_argument("--lr-trra", type=float, default=5e-5, help="TrRa learning rate (paper: 2e-5 over 20x more data)")
    parser.add_argument("--lr-inra", type=float, default=1e-4, help="InRa adapter learning rate (paper: 2e-5, "
                        "3 epochs over far more data)")
    parser.add_argument("--parts", default="trra,inra", help="which methods to train and evaluate")
    parser.add_argument("--inra-target", default=None,
                        help="InRa's SFT target as trainer.completion_template (default: the worked solution)")
    parser.add_argument("--reuse", action="store_true", help="reuse models already trained in --workdir")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "realignment.json"))
    args = parser.parse_args(argv)

    import os

    import torch

    # Discover only the two plugins measured here: another installed plugin's import error cannot stop the run.
    os.environ.setdefault("TRL_REASONING_LOAD_PLUGINS", "trra,inra")
    from trl_reasoning.data import load_rows
    from trl_reasoning.models import load_model

    torch.set_num_threads(max(1, torch.get_num_threads()))
    model_spec = args.model
    if args.quick:
        from trl_reasoning.testing import tiny_model_dir

        model_spec = tiny_model_dir()
        args.steps, args.limit, args.max_new_tokens = 2, 4, 8
        if args.out == parser.get_default("out"):
            args.out = str(Path(tempfile.gettempdir()) / "realignment-quick.json")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="realignment-"))
    rows = load_rows("embedded:arithmetic", split="test", options={"n_test": 200})[: args.limit]
    c_values = [float(x) for x in args.c.split(",")]
    timings = {}

    parts = set(args.parts.split(","))
    # 1. the aligned model: the reference fine-tuned to answer briefly
    aligned_dir = trra_dir = None
    if "trra" in parts:
        aligned_dir, timings["aligned_sft_s"] = train(base_recipe(
        model_spec, workdir, "aligned", args.steps, args.lr_aligned, args.batch, 2000, trainer={"algorithm": "sft"}), args.reuse)
        # 2. TrRa: distil the reference toward lambda*aligned + (1-lambda)*reference on the same pairs
        trra_dir, timings["trra_distill_s"] = train(base_recipe(
            model_spec, workdir, "trra", args.steps, args.lr_trra, args.batch, 2000, trainer={"algorithm": "distill"},
            plugins={"trra": {"aligned_model": aligned_dir, "realign_lambda": args.lam}}), args.reuse)
    # 3. InRa: train only the inserted layer by SFT on the same pairs (or on --inra-target built from each row)
    inra_trainer = {"algorithm": "sft", **({"completion_template": args.inra_target} if args.inra_target else {})}
    inra_dir, timings["inra_sft_s"] = train(base_recipe(
        model_spec, workdir, "inra" if not args.inra_target else "inra-template", args.steps, args.lr_inra,
        args.batch, 2000, trainer=inra_trainer, plugins={"inra": {}}), args.reuse)

    from trl_reason_inra import InRaTwoStream

    results = {}
    partial = Path(args.out).with_suffix(".partial.json")  # written after every evaluation, removed at the end
    partial.parent.mkdir(parents=True, exist_ok=True)

    def checkpoint():
        partial.write_text(json.dumps({"results": results, "timings_s": timings}, indent=2) + "\n", encoding="utf-8")

    reference, tokenizer = load_model(model_spec)
    results["reference"] = evaluate(reference, tokenizer, rows, args.max_new_tokens, args.batch * 2)
    checkpoint()
    del reference
    for name, directory in (("aligned", aligned_dir), (f"trra_lambda{args.lam:g}", trra_dir)):
        if directory is None:
            continue
        model, tokenizer = load_model(directory)
        results[name] = evaluate(model, tokenizer, rows, args.max_new_tokens, args.batch * 2)
        checkpoint()
        del model
    inra_model, tokenizer = load_model(inra_dir)
    two_stream = InRaTwoStream(inra_model)
    inra = {}
    for c in c_values:
        two_stream.c = c
        inra[f"{c:g}"] = evaluate(two_stream, tokenizer, rows, args.max_new_tokens, args.batch * 2)
        results["inra"] = inra
        checkpoint()
    lengths = [inra[f"{c:g}"]["mean_length"] for c in sorted(c_values)]
    trra = results.get(f"trra_lambda{args.lam:g}")
    summary = {} if trra is None else {
        "trra_shorter_than_reference": trra["mean_length"] < results["reference"]["mean_length"],
        "trra_length_ratio_to_reference": round(trra["mean_length"] / max(results["reference"]["mean_length"], 1e-9),
                                                3),
    }
    summary |= {
        "inra_c_sorted": sorted(c_values),
        "inra_mean_length_by_c": lengths,
        "inra_length_monotone_nonincreasing_in_c": all(a >= b for a, b in zip(lengths, lengths[1:])),
    }
    record = {
        "benchmark": "realignment", "model": args.model if not args.quick else "tiny (quick)",
        "settings": {"steps": args.steps, "batch": args.batch, "held_out_problems": len(rows),
                     "max_new_tokens": args.max_new_tokens, "lambda": args.lam, "greedy": True,
                     "data": "embedded:arithmetic (one-digit sums), train rows' worked solutions as targets",
                     "parts": sorted(parts), "inra_target": args.inra_target or "the worked solution",
                     "lr": {"aligned_sft": args.lr_aligned, "trra": args.lr_trra,
                                                                        "inra_adapter": args.lr_inra}},
        "results": results, "summary": summary, "timings_s": timings,
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "torch_threads": torch.get_num_threads()},
        "workdir": str(workdir),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    partial.unlink(missing_ok=True)
    print(json.dumps({"summary": summary, "reference": results["reference"]["mean_length"]}, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
