"""QuestA + HAPO (``recipes/combined/questa-hapo.yaml``) against QuestA alone and HAPO alone: same recipe, seed and
steps, side by side, with hints off at test.

::

    python benchmarks/combined_questa_hapo.py                    # 4 steps per arm, three arms
    python benchmarks/combined_questa_hapo.py --steps 2 --set test_model=/path/to/tiny       # a quick check

Arms: ``questa+hapo`` (the recipe: 50% then 25% hints, HAPO's length reward with its history per hint variant);
``questa`` (HAPO switched off); ``hapo`` (QuestA switched off: plain prompts). Numbers: greedy held-out accuracy
(strict, lenient) on plain prompts (no hints at test) and the mean token length of the strictly correct held-out
answers; in training, the mean length of correct completions and the correct rate. Writes
``benchmarks/results/combined_questa_hapo.json``.
"""

from __future__ import annotations

from combined_arms import main_for, table

RECIPE = "recipes/combined/questa-hapo.yaml"
ARMS = {"questa+hapo": {}, "questa": {"drop": ("hapo",)}, "hapo": {"drop": ("questa",)}}


def summary(results, before):
    return {
        "heldout_accuracy_before": before["accuracy"],
        "heldout_mean_correct_length_before": before.get("mean_correct_length"),
        "hints_at_test": False,
        "table": table(results, {
            "heldout_accuracy": lambda r: r["heldout_after"]["accuracy"],
            "heldout_lenient_accuracy": lambda r: r["heldout_after"]["lenient_accuracy"],
            "heldout_mean_correct_length": lambda r: r["heldout_after"].get("mean_correct_length"),
            "heldout_num_correct": lambda r: r["heldout_after"].get("num_correct"),
            "train_mean_correct_length": lambda r: r["train_mean_correct_length"],
            "train_correct_rate": lambda r: r["train_correct_rate_mean"],
            "train_wall_s": lambda r: r["train_wall_s"],
        }),
    }


def main(argv=None) -> int:
    return main_for("combined_questa_hapo", RECIPE, ARMS, summary, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    raise SystemExit(main())
