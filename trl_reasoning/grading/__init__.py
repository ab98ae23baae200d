r"""Math answer grading: extraction, normalisation, equivalence, time limits.

    >>> from trl_reasoning.grading import extract_answer, grade, grade_response, grade_many
    >>> grade(r"\left( 3, \frac{\pi}{2} \right)", r"(3, \pi/2)").equal
    True
    >>> grade("4.5e33", "4.46e33", rel_tol=1e-2).reason
    'numeric'
    >>> grade_response(r"\text{(C)}", r"... \boxed{A} \boxed{B} \boxed{C}").equal   # boxing every choice
    False

Modules, each holding one thing:

* `extract`: the final answer of a response (last `\boxed{}`, the box-every-choice rule, several
  boxes as a list, the precise unboxed-answer policy);
* `normalize`: the canonical string of an answer;
* `numeric`: plain numbers, exact or with relative tolerance (relative only);
* `fastpath`: common scalar expressions decided inline, without sympy, with bounded work;
* `structured`: tuples, intervals, sets, matrices, equations;
* `symbolic`: latex2sympy2 + sympy (runs in worker processes only);
* `equivalence`: the full comparison of two normalised answers (runs in a worker);
* `timeout`: the worker pool with a hard time limit that works from any thread;
* `grader`: `grade`, `grade_response`, `grade_many`;
* `cli`: the `trl-reason grade` command (trl_reasoning/cli/grade.py).

The correctness reward built on it is `trl_reasoning.rewards.correctness.CorrectnessReward`.

See docs/grading.md for the rules in full.
"""

from trl_reasoning.grading.extract import extract_answer
from trl_reasoning.grading.grader import DEFAULT_REL_TOL, DEFAULT_TIMEOUT, grade, grade_many, grade_response
from trl_reasoning.grading.normalize import normalize
from trl_reasoning.grading.verdict import REASONS, Verdict

__all__ = [
    "extract_answer",
    "normalize",
    "grade",
    "grade_response",
    "grade_many",
    "Verdict",
    "REASONS",
    "DEFAULT_REL_TOL",
    "DEFAULT_TIMEOUT",
]
