r"""Grade answers against references: `grade`, `grade_response`, `grade_many`.

    >>> from trl_reasoning.grading import grade, grade_response, grade_many
    >>> grade(r"\frac{1}{2}", "0.5")
    Verdict(equal=True, reason='numeric', reference_ok=True)
    >>> grade_response("3", r"... so the answer is $\boxed{x = 3}$.").reason
    'string'
    >>> [v.equal for v in grade_many([("1, 3", "3, 1"), ("(1,2)", "(2,1)")], processes=2)]
    [True, False]

`grade(reference, answer)` runs the cheap checks inline and sends only what is left to a worker
process with a hard time limit (`timeout`, default 5 s):

1. lengths first, before any pattern runs: a reference over `MAX_RAW_CHARS` (4,000) characters is
   `unparseable-reference`, an answer over it `unparseable-answer` (unless it is the reference's
   exact string); a missing or empty answer is `no-answer`; an empty or unbalanced reference is
   `unparseable-reference` (`reference_ok=False`: skip the sample, never score it);
2. a reference with DeepScaleR-style alternatives (`A \text{ OR } B`) is graded against each
   alternative; the answer is equal when it equals any of them;
3. normalised strings are compared (`normalize`); text references (`\text{Evelyn}`) compare
   case-insensitively and only as strings;
4. a multiple-choice reference (`\text{(C)}`, `(C)`, `C`) equals an answer naming that one letter
   (`C`, `(C)`, `\textbf{(C)} 12`); an answer naming several letters is wrong;
5. two plain numbers are compared inline (exact, or to `rel_tol` when either is a decimal, relative
   only: `0` equals only `0`); the side written with `%` also counts divided by 100 (`10\%` equals
   `0.1` and `10`);
   scalar expressions in `fastpath`'s grammar (`2\sqrt{5}`, `\frac{n(n+1)}{2}`) are decided inline too,
   with bounded work, as the worker would decide them;
6. an answer longer than 2,000 characters after normalisation is `unparseable-answer`;
7. everything else goes to `equivalence.compare_normalized` in the worker pool; if it runs past
   `timeout` the worker is killed and replaced (by a spare, at once), and the verdict is `timeout`.

`grade_response(reference, response)` first reads the answer from a whole response
(`extract.response_answer`: the last box, a trailing group of boxes when the reference is a list,
or with no box the answer the response states, by `extract.unboxed_answer`'s precise rules).

Nothing here raises on bad input or hangs: inputs that are not strings are read as missing, lone
surrogates (invalid UTF-8 decoded with `surrogateescape`) are replaced, and every failure is a
not-equal verdict with a reason.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable

from trl_reasoning.grading.equivalence import compare_normalized
from trl_reasoning.grading.extract import response_answer
from trl_reasoning.grading.fastpath import fast_equal
from trl_reasoning.grading.normalize import matching_braces, normalize
from trl_reasoning.grading.structured import split_top
from trl_reasoning.grading.numeric import numbers_equal, parse_number
from trl_reasoning.grading.timeout import GradingTimeout, WorkerError, get_pool
from trl_reasoning.grading.verdict import Verdict

__all__ = ["grade", "grade_response", "grade_many", "reference_is_list", "DEFAULT_TIMEOUT", "DEFAULT_REL_TOL", "MAX_RAW_CHARS"]

DEFAULT_TIMEOUT = 5.0
DEFAULT_REL_TOL = 1e-4
_MAX_ANSWER_CHARS = 2000
MAX_RAW_CHARS = 4000  # a bare answer (or reference) longer than this is not read as mathematics
_PERCENT = re.compile(r"%")
_ALTERNATIVES = re.compile(r"\\text\s*\{\s*OR\s*\}|\s+OR\s+")
_TEXT_ANSWER = re.compile(r"^\s*\\(?:text|textbf|textrm|mbox|mathrm)\s*\{\s*([A-Za-z][A-Za-z ]*[A-Za-z])\s*\}\s*\.?\s*$")
_CHOICE_REFERENCE = re.compile(r"^\(?([A-E])\)?$")
_CHOICE_ANSWER = re.compile(r"^\(([A-E])\)(?![A-Za-z(])|^([A-E])$|^([A-E])[.:)](?![A-Za-z(])")
_CHOICE_ANY = re.compile(r"(?<![A-Za-z\\])\(?([A-E])\)?(?![a-z])")


def _clean(text) -> str | None:
    """Strings only; lone surrogates (from bytes decoded with surrogateescape) become U+FFFD."""
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not isinstance(text, str):
        text = str(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", errors="surrogatepass").decode("utf-8", errors="replace")
    return text


def _balanced(text: str) -> bool:
    return len(matching_braces(text)) * 2 == sum(
        1 for index, char in enumerate(text) if char in "{}" and (index == 0 or text[index - 1] != "\\")
    )


def _choice(reference: str, answer: str) -> Verdict:
    letter = _CHOICE_REFERENCE.match(reference).group(1)
    match = _CHOICE_ANSWER.match(answer)
    if match:
        named = next(group for group in match.groups() if group)
        # `(A),(C)` or `A,C`: more than one letter named is wrong whatever the first one is
        rest = answer[match.end():]
        if not _CHOICE_ANY.search(rest.replace("\\text", "")) or not rest.startswith((",", "(", "and")):
            return Verdict(named == letter, "choice", True)
    return Verdict(False, "choice", True)


def _percent_equal(reference: str, answer: str, ref_norm: str, ans_norm: str, rel_tol: float) -> bool:
    """`10\\%` equals `0.1` (and `0.1` equals `10\\%`): the side with the percent sign, divided by 100."""
    ref_percent, ans_percent = bool(_PERCENT.search(reference)), bool(_PERCENT.search(answer))
    if ref_percent == ans_percent:
        return False
    ref_number, ans_number = parse_number(ref_norm), parse_number(ans_norm)
    if ref_number is None or ans_number is None:
        return False
    if ref_percent:
        ref_number = (ref_number[0] / 100, ref_number[1])
    else:
        ans_number = (ans_number[0] / 100, ans_number[1])
    return numbers_equal(ref_number, ans_number, rel_tol)


def _inline(reference: str, answer: str | None, rel_tol: float) -> Verdict | tuple[str, str]:
    """The cheap steps; a Verdict, or the normalised pair that needs the worker.

    Lengths are checked before any regular expression or normalisation runs, so the work done here,
    in the caller's thread and outside any time limit, is bounded whatever the input.
    """
    if len(reference) > MAX_RAW_CHARS or not reference.strip() or not _balanced(reference):
        return Verdict(False, "unparseable-reference", False)
    if answer is None or not answer.strip():
        return Verdict(False, "no-answer", True)
    if len(answer) > MAX_RAW_CHARS:
        equal = answer.strip() == reference.strip()
        return Verdict(equal, "string" if equal else "unparseable-answer", True)
    ref_norm = normalize(reference)
    if not ref_norm:
        return Verdict(False, "unparseable-reference", False)
    ans_norm = normalize(answer, strip_lhs="=" not in ref_norm)
    if not ans_norm:
        return Verdict(False, "no-answer", True)
    if ref_norm == ans_norm:
        return Verdict(True, "string", True)
    if _percent_equal(reference, answer, ref_norm, ans_norm, rel_tol):
        return Verdict(True, "numeric", True)
    if _TEXT_ANSWER.match(reference):
        equal = ref_norm.casefold().replace(" ", "") == ans_norm.casefold().replace(" ", "")
        return Verdict(equal, "string" if equal else "not-equal", True)
    if _CHOICE_REFERENCE.match(ref_norm):
        return _choice(ref_norm, ans_norm)
    ref_number, ans_number = parse_number(ref_norm), parse_number(ans_norm)
    if ref_number is not None and ans_number is not None:
        equal = numbers_equal(ref_number, ans_number, rel_tol)
        return Verdict(equal, "numeric" if equal else "not-equal", True)
    decided = fast_equal(ref_norm, ans_norm, rel_tol)
    if decided is not None:
        return Verdict(decided, "symbolic" if decided else "not-equal", True)
    if len(ans_norm) > _MAX_ANSWER_CHARS or not _balanced(ans_norm):
        return Verdict(False, "unparseable-answer", True)
    return ref_norm, ans_norm


def _alternatives(reference: str) -> list[str]:
    """`A \\text{ OR } B` -> [A, B, the whole]: an answer restating every alternative also counts."""
    parts = [part for part in _ALTERNATIVES.split(reference) if part.strip()]
    return parts + [reference] if len(parts) > 1 else [reference]


def _run(job: tuple[str, str], rel_tol: float, timeout: float) -> Verdict:
    try:
        return get_pool().call(compare_normalized, (job[0], job[1], rel_tol), timeout)
    except GradingTimeout:
        return Verdict(False, "timeout", True)
    except WorkerError:
        return Verdict(False, "error", True)


def _combine(verdicts: list[Verdict]) -> Verdict:
    """Alternatives: the first equal one wins; otherwise the reference is fine if any alternative was."""
    for verdict in verdicts:
        if verdict.equal:
            return verdict
    readable = [verdict for verdict in verdicts if verdict.reference_ok]
    return readable[0] if readable else verdicts[0]


def grade(
    reference: str,
    answer: str | None,
    *,
    rel_tol: float = DEFAULT_REL_TOL,
    timeout: float = DEFAULT_TIMEOUT,
) -> Verdict:
    """Compare one bare answer with its reference (see the module docstring). Never raises."""
    reference, answer = _clean(reference), _clean(answer)
    if reference is None:
        return Verdict(False, "unparseable-reference", False)
    verdicts = []
    for alternative in _alternatives(reference):
        step = _inline(alternative, answer, rel_tol)
        verdict = step if isinstance(step, Verdict) else _run(step, rel_tol, timeout)
        if verdict.equal:
            return verdict
        verdicts.append(verdict)
    return _combine(verdicts)


def reference_is_list(reference: str) -> bool:
    """Whether a reference holds several answers (`1, 3, 5`, `(6,3),(9,3)`, `2 \\text{ and } 5`)."""
    if not isinstance(reference, str) or len(reference) > MAX_RAW_CHARS:
        return False
    return len(split_top(normalize(reference), ",")) >= 2


def _answer_of(response: str | None, reference: str | None, unboxed: bool = True) -> str | None:
    response = _clean(response)
    if response is None:
        return None
    return response_answer(response, reference_is_list(reference) if reference else False, unboxed)


def grade_response(
    reference: str,
    response: str | None,
    *,
    rel_tol: float = DEFAULT_REL_TOL,
    timeout: float = DEFAULT_TIMEOUT,
    unboxed: bool = True,
) -> Verdict:
    """Grade a whole model response (`extract.response_answer`): its last box, the trailing group of
    boxes when the reference is a list, or with no box the answer it states (`unboxed_answer`)."""
    reference = _clean(reference)
    return grade(reference, _answer_of(response, reference, unboxed), rel_tol=rel_tol, timeout=timeout)


def grade_many(
    pairs: Iterable[tuple[str, str | None]],
    processes: int | None = None,
    *,
    rel_tol: float = DEFAULT_REL_TOL,
    timeout: float = DEFAULT_TIMEOUT,
    responses: bool = False,
) -> list[Verdict]:
    """Grade `(reference, answer)` pairs on `processes` workers; verdicts come back in input order.

    With `responses=True` each answer is a whole model response, read as in `grade_response`.
    """
    pairs = list(pairs)
    results: list[Verdict | None] = [None] * len(pairs)
    pending: list[tuple[int, list[str], int]] = []  # (index, alternatives, next alternative)
    jobs: list[tuple[int, tuple[str, str]]] = []
    for index, (reference, answer) in enumerate(pairs):
        reference = _clean(reference)
        answer = _answer_of(answer, reference) if responses else _clean(answer)
        if reference is None:
            results[index] = Verdict(False, "unparseable-reference", False)
            continue
        alternatives = _alternatives(reference)
        if len(alternatives) > 1:
            pending.append((index, reference, answer))
            continue
        step = _inline(reference, answer, rel_tol)
        if isinstance(step, Verdict):
            results[index] = step
        else:
            jobs.append((index, step))
    if jobs:
        pool = get_pool(processes)
        workers = max(1, min(processes or pool.processes, len(jobs)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grade") as executor:
            verdicts = executor.map(lambda job: _run(job[1], rel_tol, timeout), jobs)
            for (index, _), verdict in zip(jobs, verdicts):
                results[index] = verdict
    for index, reference, answer in pending:  # rare (DeepScaleR "OR" labels): one by one
        results[index] = grade(reference, answer, rel_tol=rel_tol, timeout=timeout)
    return results  # type: ignore[return-value]
