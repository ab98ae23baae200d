"""Effective ratio with PCL vs uniform sampling on the embedded default, and the value model's held-out accuracy.

Two runs of ``recipes/pcl/cpu.yaml`` from the same seed and for the same number of steps: one with the ``pcl``
plugin, one without (the sampler's uniform prompts). An observer records, for every scored generation batch, the
effective ratio (share of completions with a non-zero group-relative advantage, the paper's measure) and the mean
pass rate. After the PCL run, the trained policy samples ``n`` completions for each of ``--heldout`` prompts of the
held-out split, and the value model's predictions are compared with the observed pass rates (explained variance,
Pearson correlation, mean absolute error).

    python benchmarks/pcl_effective_ratio.py                        # ~10 minutes on 2 CPU cores
    python benchmarks/pcl_effective_ratio.py --steps 2 --model /tmp/tiny --out /tmp/er.json   # smoke
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from trl_reasoning import hookimpl


class Observer:
    """Records the effective ratio and pass rate of every scored batch (all ranks; a benchmark helper)."""

    def __init__(self):
        self.records: list[dict] = []

    @hookimpl
    def on_rewards(self, trainer, batch):
        from trl_reason_pcl.selection import effective_ratio, learning_signal

        rates = batch.group_pass_rate()  # (num_groups,)
        # from the `correct` flags (never a shaped total), as PCL's own metric
        self.records.append({"step": batch.step, "effective_ratio": effective_ratio(learning_signal(batch),
                                                                                     batch.num_generations),
                             "mixed_group_share": float(((rates > 0) & (rates < 1)).float().mean()),
                             "pass_rate": float(rates.mean())})


def run(recipe_path: str, steps: int, with_pcl: bool, model: str | None, out_dir: str, extra=()):
    from trl_reasoning.plugins.manager import PluginManager
    from trl_reasoning.config.recipe import load_recipe
    from trl_reasoning.run import run_recipe
    from trl_reasoning.testing import registered_plugin

    overrides = [f"trainer.max_steps={steps}", f"output_dir={out_dir}", *extra] + (
        [f"test_model={model}"] if model else [])
    recipe = load_recipe(recipe_path, overrides)
    if not with_pcl:
        recipe.plugins = {}
    observer = Observer()
    with registered_plugin("benchmark_observer", observer, pm=PluginManager()) as pm:
        started = time.time()
        results = run_recipe(recipe, pm=pm)
        elapsed = time.time() - started
    return recipe, results["trainer"], observer.records, elapsed


def heldout_value_accuracy(recipe, trainer, count: int, n: int) -> dict:
    from trl_reason_pcl.selection import explained_variance

    from trl_reasoning.data import load_test_rows, prompt_rows
    from trl_reasoning.rewards.boxed_integer import strict_correct

    plugin = trainer.pm.active["pcl"]
    rows = prompt_rows(load_test_rows(recipe.data)[:count], recipe.data)
    tokenizer = trainer.processing_class
    policy = trainer.accelerator.unwrap_model(trainer.model)
    policy.eval()
    texts = [tokenizer.apply_chat_template(r["prompt"], tokenize=False, add_generation_prompt=True) for r in rows]
    rates = []
    tokenizer.padding_side = "left"
    for i in range(0, len(texts), 8):
        enc = tokenizer(texts[i:i + 8], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            out = policy.generate(**enc, do_sample=True, temperature=1.0, num_return_sequences=n,
                                  max_new_tokens=trainer.max_completion_length, pad_token_id=tokenizer.pad_token_id)
        done = tokenizer.batch_decode(out[:, enc["input_ids"].size(1):], skip_special_tokens=True)
        for j in range(len(texts[i:i + 8])):
            answer = rows[i + j]["answer"]
            rates.append(sum(strict_correct(c, answer) for c in done[j * n:(j + 1) * n]) / n)
    observed = torch.tensor(rates)  # (count,)
    predicted = plugin.value.predict(plugin.texts([r["prompt"] for r in rows]))  # (count,)
    corr = float(torch.corrcoef(torch.stack([predicted, observed]))[0, 1]) if observed.std() > 0 else float("nan")
    by_op = {}
    for op in ("+", "-", "*"):
        idx = [i for i, r in enumerate(rows) if f" {op} " in r["problem"]]
        if idx:
            by_op[op] = {"count": len(idx), "observed": float(observed[idx].mean()),
                         "predicted": float(predicted[idx].mean())}
    return {"prompts": count, "n": n, "explained_variance": explained_variance(predicted, observed),
            "pearson_r": corr, "mae": float((predicted - observed).abs().mean()),
            "observed_mean": float(observed.mean()), "predicted_mean": float(predicted.mean()),
            "by_operation": by_op}


def _finite(value):
    """NaN (a metric undefined on this data) becomes null, so the file is strict JSON."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def summary(records: list[dict]) -> dict:
    return {key: round(statistics.fmean(r[key] for r in records), 4)
            for key in ("effective_ratio", "mixed_group_share", "pass_rate")} | {"rounds": len(records)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="recipes/pcl/cpu.yaml")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--model", default=None, help="replace the recipe's model (e.g. the tiny test model)")
    parser.add_argument("--heldout", type=int, default=24, help="held-out prompts for the value model's accuracy")
    parser.add_argument("--heldout-n", type=int, default=8, help="completions per held-out prompt")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra recipe overrides for both runs, e.g. trainer.per_device_train_batch_size=16")
    parser.add_argument("--out", default="benchmarks/results/pcl_effective_ratio.json")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="pcl-bench-"))
    _, _, uniform, uniform_s = run(args.recipe, args.steps, False, args.model, str(work / "uniform"), args.set)
    recipe, trainer, pcl, pcl_s = run(args.recipe, args.steps, True, args.model, str(work / "pcl"), args.set)
    heldout = heldout_value_accuracy(recipe, trainer, args.heldout, args.heldout_n)
    result = {
        "benchmark": "pcl_effective_ratio", "recipe": args.recipe, "model": args.model or recipe.model.name_or_path,
        "steps": args.steps, "same_seed": recipe.seed, "command": " ".join(sys.argv), "overrides": args.set,
        "uniform": {**summary(uniform), "elapsed_s": round(uniform_s, 1), "per_step": uniform},
        "pcl": {**summary(pcl), "elapsed_s": round(pcl_s, 1), "per_step": pcl},
        "effective_ratio_pcl_minus_uniform": round(summary(pcl)["effective_ratio"]
                                                   - summary(uniform)["effective_ratio"], 4),
        "value_model_heldout": heldout,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(_finite(result), indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k not in ("uniform", "pcl")} |
                     {"uniform": summary(uniform), "pcl": summary(pcl)}, indent=2))
    return result


if __name__ == "__main__":
    main()
