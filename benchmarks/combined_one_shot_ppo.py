"""1-shot + PPO with the entropy bonus (``recipes/combined/one-shot-ppo.yaml``) against its parts: 1-shot GRPO with
the entropy bonus, and PPO on the whole training set; same recipe, seed and steps, side by side.

::

    python benchmarks/combined_one_shot_ppo.py                   # 4 steps per arm, three arms
    python benchmarks/combined_one_shot_ppo.py --steps 2 --set test_model=/path/to/tiny      # a quick check

Arms: ``one_shot+ppo+entropy`` (the recipe); ``one_shot+grpo+entropy`` (``trainer.algorithm: grpo``, the PPO
fields dropped: the 1-shot recipe's trainer); ``ppo+entropy`` (the 1-shot plugin switched off: PPO on the whole
64-row training set). Numbers: greedy held-out strict accuracy (right boxed answer, the paper's metric) and lenient
accuracy after training; the token entropy of the policy in training (first and last step, mean). Writes
``benchmarks/results/combined_one_shot_ppo.json``.
"""

from __future__ import annotations

from combined_arms import main_for, table

RECIPE = "recipes/combined/one-shot-ppo.yaml"
PPO_KEYS = ("critic_learning_rate", "critic_lr_scheduler_type", "cliprange_value", "gamma", "lam",
            "whiten_advantages")
ARMS = {
    "one_shot+ppo+entropy": {},
    "one_shot+grpo+entropy": {"set": ["trainer.algorithm=grpo"], "unset": PPO_KEYS},
    "ppo+entropy": {"drop": ("one_shot",)},
}


def summary(results, before):
    return {
        "heldout_accuracy_before": before["accuracy"],
        "table": table(results, {
            "heldout_accuracy": lambda r: r["heldout_after"]["accuracy"],
            "heldout_lenient_accuracy": lambda r: r["heldout_after"]["lenient_accuracy"],
            "entropy_first_last": lambda r: r["entropy_first_last"],
            "entropy_mean": lambda r: r["entropy_mean"],
            "train_correct_rate": lambda r: r["train_correct_rate_mean"],
            "train_wall_s": lambda r: r["train_wall_s"],
        }),
    }


def main(argv=None) -> int:
    return main_for("combined_one_shot_ppo", RECIPE, ARMS, summary, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    raise SystemExit(main())
