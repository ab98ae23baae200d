"""QuestA for trl-reasoning: partial-solution hints with a fraction schedule (Li et al., arXiv 2507.13266).

See ``docs/plugins/questa.md``. The pure hint and pool rules are in ``hints``, the hooks in ``plugin``, the
``trl-reason questa select`` command in ``select``.
"""

from .hints import (answer_in_solution, char_prefix, correct_histogram, fraction_at, hinted_problem, keep_for_pool,
                    solution_block, token_prefix, with_hint)

__all__ = ["answer_in_solution", "char_prefix", "correct_histogram", "fraction_at", "hinted_problem",
           "keep_for_pool", "solution_block", "token_prefix", "with_hint"]
