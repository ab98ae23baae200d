"""Does PCL's value model learn to rank prompts? Held-out explained variance, Spearman and Pearson r over many fits.

A value-model-only analog of ``recipes/pcl/cpu.yaml`` (mixed +, -, * on operands 1-12, whose pass rates differ a
lot for SmolLM2-135M). A full policy run is ~25 s a step on an idle 2-core CPU, so instead of 160+ policy steps:

1. **Measure** (real rollouts, not simulated): the recipe's policy (its starting weights), with the recipe's prompt
   (system prompt + two boxed few-shot turns), samples ``n`` completions at the recipe's temperature and length for
   each of ``--train`` train prompts and ``--heldout`` held-out prompts; a prompt's pass rate is its share of
   strictly correct completions (the ``correct`` flag PCL fits on). These (prompt, pass rate) pairs are written
   into the result.
2. **Fit** the plugin's own value model (``PromptValueModel``: a zero-initialised head on the policy's frozen
   last-token features, the recipe's ``value_model: policy_features``, AdamW at the recipe's ``head_learning_rate``,
   one update per fit on m prompts, as ``on_rewards`` does) in two orders from the same seed, side by side:
   ``pcl`` (each fit: pool of k*m train prompts, keep the m predicted nearest tau, fit on their measured pass rates,
   as ``select_prompts`` + ``on_rewards``) and ``uniform`` (m random train prompts per fit).
3. **Evaluate** on the held-out prompts after 0, 5, 10, 20, 40, 80, 160, 320 fits: explained variance, Pearson r,
   Spearman rho, MAE, and per-operation means, next to the noise ceiling (the explained variance a perfect
   predictor of the true pass rate would reach against ``n``-sample estimates).

What this analog leaves out: the policy does not move between fits (in a real run each step changes the pass
rates V chases), and prompts repeat once the fits outnumber the measured train prompts (reported as ``epochs``).
The policy's features are frozen, so they are computed once per prompt (``CachedFeatures``); the head's forward,
loss and AdamW step are the plugin's.

    python benchmarks/pcl_value_ranking.py --train 48 --heldout 24          # measure, then fit, in one process
    # as recorded: measure in 6 parallel shards (~8 min each on a loaded CPU), then fit on their pairs (~4 min)
    for i in 0 1 2 3 4 5; do python benchmarks/pcl_value_ranking.py --train 48 --heldout 24 --shard $i/6 \
        --pairs-out /tmp/pcl_pairs_$i.json & done; wait
    python benchmarks/pcl_value_ranking.py --train 48 --heldout 24 --pairs "$(ls /tmp/pcl_pairs_*.json | paste -sd,)"
    python benchmarks/pcl_value_ranking.py --train 8 --heldout 8 --n 2 --model /tmp/tiny --out /tmp/vr.json  # smoke
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTS = (0, 5, 10, 20, 40, 80, 160, 320)


def ranks(values: torch.Tensor) -> torch.Tensor:
    """(N,) average ranks (ties share their mean rank), for Spearman's rho."""
    order = torch.argsort(values, stable=True)  # (N,)
    sorted_values = values[order]  # (N,)
    rank = torch.empty_like(values, dtype=torch.float64)  # (N,)
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        rank[order[i:j + 1]] = (i + j) / 2.0
        i = j + 1
    return rank


def pearson(a: torch.Tensor, b: torch.Tensor) -> float | None:
    """Pearson r of two (N,) vectors; None when either is constant."""
    a, b = a.double(), b.double()  # (N,), (N,)
    if a.std() < 1e-12 or b.std() < 1e-12:
        return None
    return float(torch.corrcoef(torch.stack([a, b]))[0, 1])


def noise_ceiling(observed: torch.Tensor, n: int) -> float | None:
    """Explained variance a predictor of the TRUE pass rates would reach against ``n``-sample estimates:
    1 - E[sampling variance] / Var(observed), the sampling variance estimated unbiasedly as p(1-p)/(n-1)."""
    var = float(observed.double().var(unbiased=False))
    if n < 2 or var <= 1e-12:
        return None
    noise = float((observed.double() * (1 - observed.double()) / (n - 1)).mean())
    return 1.0 - noise / var


def operation(problem: str) -> str:
    return next(op for op in ("*", "-", "+") if f" {op} " in problem)


def measure_pass_rates(policy, tokenizer, rows: list[dict], n: int, max_new_tokens: int, temperature: float,
                       batch_prompts: int, log, save=None) -> list[float]:
    """Share of ``n`` sampled completions per prompt whose boxed answer is right (the ``correct`` flag);
    ``save(rows, rates)`` is called after every batch (so an interrupted run keeps what it measured)."""
    from transformers import DynamicCache

    from trl_reasoning.rewards.boxed_integer import strict_correct

    tokenizer.padding_side = "left"
    texts = [tokenizer.apply_chat_template(r["prompt"], tokenize=False, add_generation_prompt=True) for r in rows]
    rates = []
    for i in range(0, len(texts), batch_prompts):
        enc = tokenizer(texts[i:i + batch_prompts], return_tensors="pt", padding=True, add_special_tokens=False)
        ids = enc["input_ids"].repeat_interleave(n, dim=0)  # (b*n, P)
        mask = enc["attention_mask"].repeat_interleave(n, dim=0)  # (b*n, P)
        with torch.no_grad():
            # Prefill each prompt once (not n times) and copy its cache to its n samples: the same sampling
            # distribution as generate(num_return_sequences=n), at about a third of the CPU cost here.
            cache = DynamicCache()
            policy(input_ids=enc["input_ids"][:, :-1], attention_mask=enc["attention_mask"][:, :-1],
                   past_key_values=cache, use_cache=True)
            cache.batch_repeat_interleave(n)
            out = policy.generate(input_ids=ids, attention_mask=mask, past_key_values=cache, do_sample=True,
                                  temperature=temperature, top_p=1.0, top_k=0, max_new_tokens=max_new_tokens,
                                  pad_token_id=tokenizer.pad_token_id)  # (b*n, P+new)
        done = tokenizer.batch_decode(out[:, enc["input_ids"].size(1):], skip_special_tokens=True)
        for j in range(len(texts[i:i + batch_prompts])):
            answer = rows[i + j]["answer"]
            rates.append(sum(strict_correct(c, answer) for c in done[j * n:(j + 1) * n]) / n)
        log(f"measured {len(rates)}/{len(rows)} prompts")
        if save is not None:
            save(rows[:len(rates)], rates)
    return rates


def cached_value_model(policy, tokenizer, batch_size: int):
    """The plugin's PromptValueModel on the policy's frozen features, with ``features`` memoised per prompt text
    (valid because no gradient reaches the frozen backbone and the policy does not change here)."""
    from trl_reason_pcl.value_model import PromptValueModel

    class CachedFeatures(PromptValueModel):
        cache: dict[str, torch.Tensor] = {}

        def features(self, texts):
            missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
            for i in range(0, len(missing), self.batch_size):
                chunk = missing[i:i + self.batch_size]
                with torch.no_grad():
                    feats = super().features(chunk)  # (b, H)
                self.cache.update(zip(chunk, feats))
            return torch.stack([self.cache[t] for t in texts])  # (N, H)

    return CachedFeatures(policy, tokenizer, policy.config.get_text_config().hidden_size, train_backbone=False,
                          max_prompt_tokens=1024, batch_size=batch_size, owns_backbone=False)


def evaluate(value, texts: list[str], observed: torch.Tensor, problems: list[str]) -> dict:
    from trl_reason_pcl.selection import explained_variance

    predicted = value.predict(texts)  # (N,)
    by_op = {}
    for op in ("+", "-", "*"):
        idx = [i for i, p in enumerate(problems) if operation(p) == op]
        if idx:
            by_op[op] = {"predicted": round(float(predicted[idx].mean()), 4)}
    ev = explained_variance(predicted, observed)
    return {"explained_variance": None if ev != ev else round(ev, 4),
            "pearson_r": None if (r := pearson(predicted, observed)) is None else round(r, 4),
            "spearman_rho": None if (s := pearson(ranks(predicted), ranks(observed))) is None else round(s, 4),
            "mae": round(float((predicted - observed).abs().mean()), 4),
            "predicted_mean": round(float(predicted.mean()), 4), "predicted_std": round(float(predicted.std()), 4),
            "by_operation_predicted": by_op}


def fit_curve(order: str, policy, tokenizer, train_texts, train_rates, held_texts, held_rates, held_problems,
              m: int, k: int, tau: float, head_lr: float, seed: int, checkpoints) -> list[dict]:
    from trl_reason_pcl.selection import nearest_to_target

    torch.manual_seed(seed)
    value = cached_value_model(policy, tokenizer, batch_size=32)
    optimizer = torch.optim.AdamW(value.head.parameters(), lr=head_lr, weight_decay=0.0)  # as trainer_ready
    rng = random.Random(f"pcl-value-ranking:{seed}:{order}")
    targets = torch.tensor(train_rates)  # (T,)
    curve, fits, seen = [], 0, 0
    selected_rates = []
    for stop in checkpoints:
        while fits < stop:
            if order == "pcl":
                pool = rng.sample(range(len(train_texts)), min(k * m, len(train_texts)))
                values = value.predict([train_texts[i] for i in pool])  # (k*m,)
                picked = [pool[i] for i in nearest_to_target(values, tau, m)]
            else:
                picked = rng.sample(range(len(train_texts)), m)
            value.fit([train_texts[i] for i in picked], targets[picked], optimizer, 1)
            selected_rates.extend(float(targets[i]) for i in picked)
            fits += 1
            seen += m
        point = {"fits": fits, "epochs": round(seen / len(train_texts), 2),
                 **evaluate(value, held_texts, held_rates, held_problems)}
        if selected_rates:  # the measured pass rates of the prompts fitted so far (PCL's picks drift toward tau)
            picked_rates = torch.tensor(selected_rates)  # (fits*m,)
            point["fitted_pass_rate_mean"] = round(float(picked_rates.mean()), 4)
            point["fitted_mixed_share"] = round(float(((picked_rates > 0) & (picked_rates < 1)).float().mean()), 4)
        curve.append(point)
    return curve


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default=str(ROOT / "recipes/pcl/cpu.yaml"))
    parser.add_argument("--model", default=None, help="replace the recipe's model (e.g. the tiny test model)")
    parser.add_argument("--train", type=int, default=48, help="train prompts whose pass rates are measured")
    parser.add_argument("--heldout", type=int, default=24, help="held-out prompts (the test split)")
    parser.add_argument("--n", type=int, default=8, help="completions per prompt (the recipe's num_generations)")
    parser.add_argument("--batch-prompts", type=int, default=8, help="prompts per generate call")
    parser.add_argument("--checkpoints", default=",".join(map(str, CHECKPOINTS)))
    parser.add_argument("--pairs", default=None, help="reuse the (prompt, pass rate) pairs measured by an earlier "
                        "run (its --pairs-out file or result JSON); prompts it did not measure are left out")
    parser.add_argument("--pairs-out", default=None, help="write the measured pairs here after every batch")
    parser.add_argument("--shard", default=None, metavar="I/K", help="measure only every K-th prompt from the I-th "
                        "(with --pairs-out; run K shards in parallel, then fit with --pairs on all K files)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/pcl_value_ranking.json"))
    args = parser.parse_args(argv)
    started = time.time()
    log = lambda msg: print(f"[{time.time() - started:7.1f}s] {msg}", file=sys.stderr, flush=True)  # noqa: E731

    from trl_reasoning.data import load_test_rows, load_train_rows, prompt_rows
    from trl_reasoning.models import load_model
    from trl_reasoning.config.recipe import load_recipe

    recipe = load_recipe(args.recipe, [f"test_model={args.model}"] if args.model else [])
    seed = int(recipe.seed)
    torch.manual_seed(seed)
    random.seed(seed)
    cfg = recipe.plugins["pcl"]
    m = recipe.trainer["per_device_train_batch_size"] // recipe.trainer["num_generations"]
    k, tau, head_lr = cfg.get("pool_multiplier", 4), cfg.get("target", 0.5), cfg.get("head_learning_rate", 1e-3)
    spec = getattr(recipe, "test_model", None) or recipe.model.name_or_path
    policy, tokenizer = load_model(spec)  # float32, the recipe's starting weights
    policy.eval()

    rng = random.Random(seed)
    train_rows = prompt_rows(rng.sample(load_train_rows(recipe.data), args.train), recipe.data)
    held_rows = prompt_rows(load_test_rows(recipe.data)[:args.heldout], recipe.data)
    if args.pairs:
        pairs = {"train": {}, "heldout": {}}
        for name in args.pairs.split(","):
            part = json.loads(Path(name).read_text(encoding="utf-8"))["pairs"]
            pairs["train"].update(part["train"])
            pairs["heldout"].update(part["heldout"])
        train_rows = [r for r in train_rows if r["problem"] in pairs["train"]]
        held_rows = [r for r in held_rows if r["problem"] in pairs["heldout"]]
        train_rates = [pairs["train"][r["problem"]] for r in train_rows]
        held_rates = [pairs["heldout"][r["problem"]] for r in held_rows]
        measure_s = None
    else:
        measured = {"train": {}, "heldout": {}}

        def saver(split):
            def save(rows, rates):
                measured[split] = {r["problem"]: p for r, p in zip(rows, rates)}
                if args.pairs_out:
                    Path(args.pairs_out).write_text(json.dumps({"n": args.n, "model": spec, "seed": seed,
                                                                "pairs": measured}), encoding="utf-8")
            return save

        gen = dict(n=args.n, max_new_tokens=recipe.trainer["max_completion_length"],
                   temperature=recipe.trainer.get("temperature", 1.0), batch_prompts=args.batch_prompts, log=log)
        if args.shard:
            index, count = (int(x) for x in args.shard.split("/"))
            held_rows, train_rows = held_rows[index::count], train_rows[index::count]
        t0 = time.time()
        held_rates = measure_pass_rates(policy, tokenizer, held_rows, **gen, save=saver("heldout"))
        train_rates = measure_pass_rates(policy, tokenizer, train_rows, **gen, save=saver("train"))
        measure_s = round(time.time() - t0, 1)
        if args.shard:
            log(f"shard {args.shard} measured in {measure_s}s; pairs in {args.pairs_out}")
            return {}
    from trl_reason_pcl.value_model import prompt_text

    train_texts = [prompt_text(r["prompt"], tokenizer) for r in train_rows]
    held_texts = [prompt_text(r["prompt"], tokenizer) for r in held_rows]
    held_observed = torch.tensor(held_rates)  # (H,)
    held_problems = [r["problem"] for r in held_rows]
    checkpoints = [int(c) for c in args.checkpoints.split(",")]
    curves = {}
    for order in ("pcl", "uniform"):
        t0 = time.time()
        curves[order] = fit_curve(order, policy, tokenizer, train_texts, train_rates, held_texts, held_observed,
                                  held_problems, m, k, tau, head_lr, seed, checkpoints)
        log(f"{order}: {json.dumps(curves[order][-1])} ({time.time() - t0:.1f}s)")

    def by_op(rows, rates):
        out = {}
        for op in ("+", "-", "*"):
            vals = [p for r, p in zip(rows, rates) if operation(r["problem"]) == op]
            if vals:
                out[op] = {"count": len(vals), "observed": round(sum(vals) / len(vals), 4)}
        return out

    side_by_side = [{"fits": p["fits"],
                     **{f"{o}_{key}": curves[o][i][key] for o in ("pcl", "uniform")
                        for key in ("explained_variance", "spearman_rho", "pearson_r")}}
                    for i, p in enumerate(curves["pcl"])]
    result = {
        "benchmark": "pcl_value_ranking",
        "recipe": os.path.relpath(args.recipe, ROOT),
        "model": spec,
        "seed": seed,
        "command": " ".join(["python", os.path.relpath(sys.argv[0], ROOT) if sys.argv[0] else "",
                             *(",".join(Path(x).name for x in a.split(",")) if os.path.isabs(a.split(",")[0]) else a
                               for a in sys.argv[1:])]),  # file arguments by name: no machine paths
        "pairs_source": ("measured in this run: the recipe's policy at its starting weights, sampled" if not args.pairs
                         else f"reused from {', '.join(Path(p).name for p in args.pairs.split(','))}, measured by "
                         "earlier runs of this script (--shard) with the same seed and prompt counts (the recipe's "
                         "policy at its starting weights, sampled)"),
        "operating_point": {"m": m, "k": k, "tau": tau, "head_learning_rate": head_lr,
                            "value_model": "policy_features (frozen policy features + zero-initialised head)",
                            "updates_per_fit": 1, "n": args.n,
                            "max_new_tokens": recipe.trainer["max_completion_length"],
                            "temperature": recipe.trainer.get("temperature", 1.0),
                            "train_prompts": len(train_rows), "heldout_prompts": len(held_rows),
                            "threads": torch.get_num_threads()},
        "measure_s": measure_s,
        "heldout_observed": {"mean": round(float(held_observed.mean()), 4),
                             "std": round(float(held_observed.std()), 4),
                             "noise_ceiling_explained_variance": noise_ceiling(held_observed, args.n),
                             "by_operation": by_op(held_rows, held_rates)},
        "train_observed": {"mean": round(sum(train_rates) / len(train_rates), 4),
                           "by_operation": by_op(train_rows, train_rates)},
        "side_by_side": side_by_side,
        "curves": curves,
        "pairs": {"train": {r["problem"]: p for r, p in zip(train_rows, train_rates)},
                  "heldout": {r["problem"]: p for r, p in zip(held_rows, held_rates)}},
        "elapsed_s": round(time.time() - started, 1),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("operating_point", "heldout_observed", "side_by_side")}, indent=2))
    return result


if __name__ == "__main__":
    main()
