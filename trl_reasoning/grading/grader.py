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

1. a missing or empty answer is `no-answer`; an empty or unbalanced reference is
   `unparseable-reference` (`reference_ok=False`: skip the sample, never score it);
2. a reference with DeepScaleR-style alternatives (`A \text{ OR } B`) is graded against each
   alternative; the answer is equal when it equals any of them;
3. normalised strings are compared (`normalize`); text references (`\text{Evelyn}`) compare
   case-insensitively and only as strings;
4. a multiple-choice reference (`\text{(C)}`, `(C)`, `C`) equals an answer naming that one letter
   (`C`, `(C)`, `\textbf{(C)} 12`); an answer naming several letters is wrong;
5. two plain numbers are compared inline (exact, or to `rel_tol` when either is a decimal);
6. an answer longer than 2,000 characters after normalisation is `unparseable-answer`;
7. everything else goes to `equivalence.compare_normalized` in the worker pool; if it runs past
   `timeout` the worker is killed and replaced, and the verdict is `timeout`.

Nothing here raises on bad input or hangs: inputs that are not strings are read as missing, lone
surrogates (invalid UTF-8 decoded with `surrogateescape`) are replaced, and every failure is a
not-equal verdict with a reason.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable

from .equivalence import compare_normalized
from .extract import extract_answer, has_box
from .normalize import matching_braces, normalize
from .numeric import numbers_equal, parse_number
from .timeout import GradingTimeout, WorkerError, get_pool
from .verdict import Verdict

__all__ = ["grade", "grade_response", "grade_many", "DEFAULT_TIMEOUT", "DEFAULT_REL_TOL"]

DEFAULT_TIMEOUT = 5.0
DEFAULT_REL_TOL = 1e-4
_MAX_ANSWER_CHARS = 2000
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


def _inline(reference: str, answer: str | None, rel_tol: float) -> Verdict | tuple[str, str]:
    """The cheap steps; a Verdict, or the normalised pair that needs the worker."""
    if not reference.strip() or not _balanced(reference):
        return Verdict(False, "unparseable-reference", False)
    ref_norm = normalize(reference)
    if not ref_norm:
        return Verdict(False, "unparseable-reference", False)
    if answer is None or not answer.strip():
        return Verdict(False, "no-answer", True)
    ans_norm = normalize(answer[:200_000], strip_lhs="=" not in ref_norm)
    if not ans_norm:
        return Verdict(False, "no-answer", True)
    if ref_norm == ans_norm:
        return Verdict(True, "string", True)
    if _TEXT_ANSWER.match(reference):
        equal = ref_norm.casefold().replace(" ", "") == ans_norm.casefold().replace(" ", "")
        return Verdict(equal, "string" if equal else "not-equal", True)
    if _CHOICE_REFERENCE.match(ref_norm):
        return _choice(ref_norm, ans_norm)
    ref_number, ans_number = parse_number(ref_norm), parse_number(ans_norm)
    if ref_number is not None and ans_number is not None:
        equal = numbers_equal(ref_number, ans_number, rel_tol)
        return Verdict(equal, "numeric" if equal else "not-equal", True)
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


def _answer_of(response: str | None, fallbacks: bool) -> str | None:
    response = _clean(response)
    if response is None:
        return None
    if has_box(response):
        return extract_answer(response)
    if fallbacks:
        return extract_answer(response, fallbacks=True)
    return response


def grade_response(
    reference: str,
    response: str | None,
    *,
    rel_tol: float = DEFAULT_REL_TOL,
    timeout: float = DEFAULT_TIMEOUT,
    fallbacks: bool = False,
) -> Verdict:
    """Grade a whole model response: its last box when it has one, otherwise the response as a bare answer."""
    return grade(reference, _answer_of(response, fallbacks), rel_tol=rel_tol, timeout=timeout)


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
        answer = _answer_of(answer, False) if responses else _clean(answer)
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
