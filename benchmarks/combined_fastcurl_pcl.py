"""FastCuRL + PCL (``recipes/combined/fastcurl-pcl.yaml``) against FastCuRL alone and PCL alone: same recipe, seed
and steps, side by side.

::

    python benchmarks/combined_fastcurl_pcl.py                   # 4 steps per arm, three arms
    python benchmarks/combined_fastcurl_pcl.py --steps 2 --set test_model=/path/to/tiny      # a quick check

Arms: ``fastcurl+pcl`` (the recipe: FastCuRL's level narrows, PCL selects within, ``compose: {select_prompts:
pcl}``); ``fastcurl`` (PCL switched off: FastCuRL draws from its level); ``pcl`` (FastCuRL switched off: PCL selects
from every row). Numbers: the effective ratio (share of groups with a learning signal, some but not all completions
right, on the ``correct`` flag; mean over steps) and greedy held-out accuracy (strict and lenient) after training.
Writes ``benchmarks/results/combined_fastcurl_pcl.json``.
"""

from __future__ import annotations

from combined_arms import main_for, table

RECIPE = "recipes/combined/fastcurl-pcl.yaml"
ARMS = {"fastcurl+pcl": {}, "fastcurl": {"drop": ("pcl",)}, "pcl": {"drop": ("fastcurl",)}}


def summary(results, before):
    return {
        "heldout_accuracy_before": before["accuracy"],
        "table": table(results, {
            "effective_ratio": lambda r: r["effective_ratio_mean"],
            "train_correct_rate": lambda r: r["train_correct_rate_mean"],
            "heldout_accuracy": lambda r: r["heldout_after"]["accuracy"],
            "heldout_lenient_accuracy": lambda r: r["heldout_after"]["lenient_accuracy"],
            "train_wall_s": lambda r: r["train_wall_s"],
        }),
    }


def main(argv=None) -> int:
    return main_for("combined_fastcurl_pcl", RECIPE, ARMS, summary, __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    raise SystemExit(main())
