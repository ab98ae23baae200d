"""Evaluation: benchmarks as declared data, generation backends, unbiased pass@k / avg@n / maj@k, results files.

``trl-reason eval`` is the command-line front end (``evaluation/cli.py``); ``evaluate`` is the Python one; a
recipe's ``eval`` section is planned and run by ``evaluation/recipe_eval.py``, during training and for
``trl-reason eval --recipe`` alike. The guide is ``docs/evaluation.md``.
"""

from trl_reasoning.evaluation.benchmarks import BENCHMARKS, BenchmarkDataNotFound, BenchmarkError, load_benchmark, known_benchmarks
from trl_reasoning.evaluation.metrics import avg_at_n, expansion_rate, maj_at_k, pass_at_k
from trl_reasoning.evaluation.runner import ConfigMismatchError, evaluate

__all__ = [
    "BENCHMARKS", "BenchmarkDataNotFound", "BenchmarkError", "ConfigMismatchError", "avg_at_n", "evaluate",
    "expansion_rate", "known_benchmarks", "load_benchmark", "maj_at_k", "pass_at_k",
]
