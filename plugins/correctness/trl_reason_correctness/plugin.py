"""``correctness`` reward: the final answer (last ``\\boxed{}``) equals the row's ``answer`` under the math grader.

::

    rewards:
      - name: correctness
        config: {correct_value: 1.0, wrong_value: 0.0, fallbacks: false}

It decides the rollout batch's ``correct`` flag, which HAPO, PCL, group filtering and the one-shot accuracy record
read. The grader (``trl_reasoning.grading``) compares cheapest first (string, number, sympy, structured answers)
with time limits that hold in any thread; an unparseable reference never scores as correct. The grading rules are
documented in ``docs/grading.md``.
"""

from __future__ import annotations

import trl_reasoning
from trl_reasoning import hookimpl


@hookimpl
def register_rewards(register):
    register("correctness", trl_reasoning.CorrectnessReward)  # a lazy export: the grader loads when a run needs it
