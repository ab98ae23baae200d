"""Time to pick m prompts of intermediate difficulty: PCL's value model vs rollout-based filtering.

Same policy, same candidate pool, same run. From a pool of k*m candidate prompts:

* PCL: one value-model forward over the k*m prompts, keep the m predicted nearest tau = 0.5, then one value-model
  update on the m picks (the paper's "value training plus inference"; its targets are taken from the baseline's
  rollouts here, only to time the update);
* PCL with ``value_model: policy_features``: the same forward through the policy's own backbone, then the head's
  update on the features that forward cached (no second model, no second backbone pass);
* rollout baseline (pre-filter / dynamic-sampling style): generate n completions for each of the k*m candidates,
  grade them, keep the m whose pass rate is nearest 0.5.

The paper reports PCL 12.1x faster on MATH (16.9x on DeepScaleR) at m = 512, n = 16, k = 4 with vLLM on GPUs
(docs/papers/pcl.md, Results); the ratio grows with n and the completion length, so a CPU run at small n and
short completions is a different operating point, not a reproduction; ``benchmarks/pcl_cost_model.py`` fits cost
laws to measured timings and evaluates them at the paper's proportions.

    python benchmarks/pcl_selection.py                      # embedded SmolLM2-135M, m=4 k=4 n=8, 32 tokens
    python benchmarks/pcl_selection.py --model /tmp/tiny --m 4 --n 4 --out /tmp/sel.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="embedded:smollm2-135m")
    parser.add_argument("--m", type=int, default=4, help="prompts to select")
    parser.add_argument("--k", type=int, default=4, help="pool multiplier (pool = k*m)")
    parser.add_argument("--n", type=int, default=8, help="completions per candidate for the rollout baseline")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--tau", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/pcl_selection.json")
    args = parser.parse_args(argv)

    from trl_reason_pcl.selection import nearest_to_target
    from _common import pcl_value_models
    from trl_reason_pcl.value_model import prompt_text

    from trl_reasoning.data import load_train_dataset
    from trl_reasoning.models import load_model
    from trl_reasoning.config.recipe import DataSection
    from trl_reasoning.rewards.boxed_integer import strict_correct
    from trl_reasoning.versions import versions_of

    torch.manual_seed(args.seed)
    section = DataSection(train="embedded:arithmetic", template="chat",
                          options={"min_operand": 1, "max_operand": 12, "operations": ["+", "-", "*"],
                                   "n_train": 500, "n_test": 10},
                          system_prompt="You are a careful calculator. Answer with the result in \\boxed{}.")
    dataset = load_train_dataset(section)
    pool = dataset.shuffle(seed=args.seed).select(range(args.k * args.m))
    policy, tokenizer = load_model(args.model)
    policy.eval()
    value, optimizer, frozen, frozen_optimizer = pcl_value_models(policy, tokenizer, args.model, 512)
    texts = [prompt_text(p, tokenizer) for p in pool["prompt"]]
    answers = list(pool["answer"])

    def rollouts(batch_texts, batch_answers):
        tokenizer.padding_side = "left"
        enc = tokenizer(batch_texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            out = policy.generate(**enc, do_sample=True, temperature=1.0, top_p=1.0, num_return_sequences=args.n,
                                  max_new_tokens=args.max_new_tokens, pad_token_id=tokenizer.pad_token_id)
        completions = tokenizer.batch_decode(out[:, enc["input_ids"].size(1):], skip_special_tokens=True)
        correct = torch.tensor([strict_correct(c, batch_answers[i // args.n]) for i, c in enumerate(completions)])
        return correct.float().view(len(batch_texts), args.n).mean(dim=1)  # (P,) pass rates

    # Warm up both paths (first memory touches are slow on a fresh process).
    value.predict(texts[:4])
    frozen.predict(texts[:4])
    rollouts(texts[:2], answers[:2])

    started = time.perf_counter()
    pass_rates = rollouts(texts, answers)  # (k*m,)
    baseline_pick = nearest_to_target(pass_rates, args.tau, args.m)
    baseline_s = time.perf_counter() - started

    started = time.perf_counter()
    predicted = value.predict(texts)  # (k*m,)
    pcl_pick = nearest_to_target(predicted, args.tau, args.m)
    predict_s = time.perf_counter() - started
    started = time.perf_counter()
    value.fit([texts[i] for i in pcl_pick], pass_rates[pcl_pick], optimizer)
    fit_s = time.perf_counter() - started
    pcl_s = predict_s + fit_s

    started = time.perf_counter()
    frozen_pick = nearest_to_target(frozen.predict(texts, cache_key="step"), args.tau, args.m)  # (m,)
    frozen.fit([texts[i] for i in frozen_pick], pass_rates[frozen_pick], frozen_optimizer, cache_key="step")
    frozen_s = time.perf_counter() - started

    result = {
        "benchmark": "pcl_selection",
        "command": " ".join(["python"] + sys.argv), "model": args.model, "m": args.m, "k": args.k, "n": args.n, "pool": args.k * args.m,
        "max_new_tokens": args.max_new_tokens, "tau": args.tau, "seed": args.seed,
        "rollout_baseline_s": round(baseline_s, 3),
        "pcl_predict_s": round(predict_s, 3), "pcl_fit_s": round(fit_s, 3), "pcl_total_s": round(pcl_s, 3),
        "speedup_vs_rollouts": round(baseline_s / pcl_s, 1),
        "speedup_predict_only": round(baseline_s / predict_s, 1),
        "pcl_policy_features_s": round(frozen_s, 3),
        "speedup_policy_features": round(baseline_s / frozen_s, 1),
        "paper_speedup": {"MATH": 12.1, "DeepScaleR": 16.9},
        "baseline_selected_pass_rate_mean": float(pass_rates[baseline_pick].mean()),
        "pcl_selected_pass_rate_mean": float(pass_rates[pcl_pick].mean()),
        "pool_pass_rate_mean": float(pass_rates.mean()),
        "note": "untrained value head (predicts 0.5 everywhere) at this single step: the timing is the point; "
                "selection quality after training is in pcl_effective_ratio.json",
        "device": "cpu" if not torch.cuda.is_available() else torch.cuda.get_device_name(),
        "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
        "versions": versions_of(("torch", "transformers", "trl"), python=True),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
