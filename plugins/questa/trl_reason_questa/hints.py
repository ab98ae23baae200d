r"""QuestA's partial-solution hints and hard-problem rule as pure functions.

The authors' ``AReaL/datasets/add_prefix.py`` (docs/papers/questa.md) builds each training prompt as::

    solution = generation.split('</think>')[-1]         # the solution block after the reasoning
    prefix   = solution[: int(len(solution) * p)]       # cut by characters
    prompt   = problem + "\n\n" + "## Hint." + prefix   # or problem + "\n\n" when len(prefix) < 10

    >>> hinted_problem("What is 2 + 3?", "2 + 3 = 5. The answer is \\boxed{5}.", 0.5)
    'What is 2 + 3?\n\n## Hint.2 + 3 = 5. The an'
    >>> hinted_problem("What is 2 + 3?", "2 + 3 = 5.", 0.5)   # a 5-character prefix: no hint
    'What is 2 + 3?\n\n'

A hard problem is one the model about to be trained solves between ``lo`` and ``hi`` times out of ``n`` samples
*with* the hint (the paper: 0-4 of 8). Hints are for training only; evaluation prompts never carry one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

HINT_MARKER = "## Hint."
SEPARATOR = "\n\n"
MIN_PREFIX_CHARS = 10
THINK_END = "</think>"


def solution_block(solution: str, after_think: bool = True) -> str:
    """The part of a solution a hint is cut from: the text after the last ``</think>`` (all of it without one).

    With ``after_think`` (the text is a whole generation) a generation stored in double quotes loses them first, as
    ``add_prefix.py`` does (``if text[0] == '"': text = text[1:-1]``)."""
    if not after_think:
        return solution
    if solution.startswith('"'):
        solution = solution[1:-1]
    return solution.split(THINK_END)[-1]


def char_prefix(solution: str, fraction: float) -> str:
    """The first ``int(len(solution) * fraction)`` characters, as the authors' code cuts."""
    _check_fraction(fraction)
    return solution[: int(len(solution) * fraction)]


def token_prefix(solution: str, fraction: float, encode: Callable[[str], list[int]],
                 decode: Callable[[list[int]], str]) -> str:
    """The first ``int(num_tokens * fraction)`` tokens, decoded (the paper's wording: "token percentage")."""
    _check_fraction(fraction)
    ids = encode(solution)
    return decode(ids[: int(len(ids) * fraction)])


def with_hint(problem: str, prefix: str, *, min_prefix_chars: int = MIN_PREFIX_CHARS, marker: str = HINT_MARKER,
              separator: str = SEPARATOR) -> str:
    """``problem + "\\n\\n## Hint." + prefix``; ``problem + "\\n\\n"`` when the prefix is shorter than 10 characters."""
    if len(prefix) < min_prefix_chars:
        return problem + separator
    return problem + separator + marker + prefix


def hinted_problem(problem: str, solution: str, fraction: float, *, after_think: bool = True,
                   min_prefix_chars: int = MIN_PREFIX_CHARS, marker: str = HINT_MARKER, separator: str = SEPARATOR,
                   encode: Callable[[str], list[int]] | None = None,
                   decode: Callable[[list[int]], str] | None = None) -> str:
    """The problem with the first ``fraction`` of its solution as a hint; by tokens when ``encode``/``decode`` are
    given, else by characters (the authors' code)."""
    block = solution_block(solution, after_think)
    if encode is not None and decode is not None:
        prefix = token_prefix(block, fraction, encode, decode)
    else:
        prefix = char_prefix(block, fraction)
    return with_hint(problem, prefix, min_prefix_chars=min_prefix_chars, marker=marker, separator=separator)


def answer_in_solution(answer: str, solution: str, after_think: bool = True) -> bool:
    """The authors keep a record only when its final answer appears verbatim in the solution block."""
    return str(answer) in solution_block(solution, after_think)


def fraction_at(schedule: Sequence[tuple[int, float]], step: int) -> float:
    """The hint fraction at optimizer step ``step``: the last ``(start_step, fraction)`` with ``start_step <= step``."""
    if not schedule:
        raise ValueError("the hint schedule is empty")
    phases = sorted(schedule)
    if phases[0][0] > step:
        raise ValueError(f"the hint schedule starts at step {phases[0][0]}; give a phase with start_step 0")
    current = phases[0][1]
    for start, fraction in phases:
        if start <= step:
            current = fraction
    return current


def keep_for_pool(num_correct: int, lo: int = 0, hi: int = 4) -> bool:
    """Hard-problem rule: keep a problem solved between ``lo`` and ``hi`` times (inclusive; paper: 0-4 of 8)."""
    return lo <= num_correct <= hi


def correct_histogram(counts: Sequence[int], samples: int) -> list[int]:
    """How many problems were solved 0, 1, ..., ``samples`` times."""
    histogram = [0] * (samples + 1)
    for count in counts:
        if not 0 <= count <= samples:
            raise ValueError(f"a problem cannot be solved {count} times out of {samples}")
        histogram[count] += 1
    return histogram


def _check_fraction(fraction: float) -> None:
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"a hint fraction must lie in [0, 1], got {fraction}")
