r"""Re-render an answer in forms a grader must accept as equal (the self-consistency check).

    >>> from trl_reasoning.grading.rerender import rerenderings
    >>> rerenderings(r"\frac{3}{4}")
    ['3/4', '\\dfrac{3}{4}', '\\left(\\frac{3}{4}\\right)', '\\frac { 3 }  { 4 } ', 'x = \\frac{3}{4}', '$\\frac{3}{4}$']

Each form is produced only when it keeps the meaning: a fraction becomes `a/b` only when both
parts are single tokens; `\left( \right)` wraps a lone value or the outer brackets of a tuple or
interval (never a bare list, which would turn it into a tuple); `x =` is added only to a lone
value. `selfconsistency_pairs(rows)` builds the check's pairs for tests/grading/test_selfconsistency.py and
benchmarks/grader_selfconsistency.py.
"""

from __future__ import annotations

import re

from trl_reasoning.grading.extract import extract_answer

__all__ = ["rerenderings", "selfconsistency_pairs"]

_SIMPLE_FRAC = re.compile(r"\\[dt]?frac\{(-?[0-9a-zA-Z.]+|\\pi)\}\{([0-9a-zA-Z.]+|\\pi)\}")


def _is_lone_value(text: str) -> bool:
    depth = 0
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0 and char in ",=<>:;":
            return False
    return not re.search(r"\\(?:pm|cup|le|ge|neq|text\{\s*(?:or|and|OR)\s*\}|begin)|\\\{", text)


def rerenderings(answer: str) -> list[str]:
    """Forms of `answer` that mean the same thing (see the module docstring)."""
    forms: list[str] = []
    stripped = answer.strip()
    if stripped.startswith(("$", "\\(", "\\[")):
        return [stripped.replace("\\frac", "\\dfrac")] if "\\frac" in stripped else []
    slashed = _SIMPLE_FRAC.sub(lambda m: f"{m.group(1)}/{m.group(2)}", stripped)
    if slashed != stripped and "^" not in stripped and "\\sqrt" not in stripped:
        # `a/b` binds tighter than a neighbouring product only when the fraction stands alone
        if _is_lone_value(stripped) and not re.search(r"[0-9a-zA-Z}]\s*\\[dt]?frac|\\[dt]?frac\{[^{}]*\}\{[^{}]*\}\s*[0-9a-zA-Z\\(]", stripped):
            forms.append(slashed)
    if "\\frac" in stripped:
        forms.append(stripped.replace("\\frac", "\\dfrac"))
    if stripped[:1] in "([" and stripped[-1:] in ")]" and not _is_lone_value(stripped) and "\\cup" not in stripped:
        forms.append(f"\\left{stripped[0]} {stripped[1:-1]} \\right{stripped[-1]}")
    elif _is_lone_value(stripped) and not re.search(r"\\(?:text|mbox|mathrm)", stripped):
        forms.append(f"\\left({stripped}\\right)")
    spaced = re.sub(r"(?<!\\)([{}+=,])", r" \1 ", stripped)
    if spaced != stripped:
        forms.append(spaced)
    letters = re.sub(r"\\[a-zA-Z]+", "", stripped)
    unused = [name for name in "xyzt" if name not in letters]
    if _is_lone_value(stripped) and "\\text" not in stripped and "\\in" not in stripped and unused:
        forms.append(f"{unused[0]} = {stripped}")
    forms.append(f"${stripped}$")
    return forms


def selfconsistency_pairs(rows: list[dict]) -> list[tuple[str, str, str, str]]:
    """``(id, reference, answer, kind)`` pairs a grader must call equal: each row's reference against its own
    solution's last box (``kind`` "solution box"; skipped for rows the data README lists as repaired, which carry
    ``answer_raw``) and against each of its re-rendered forms ("re-rendered")."""
    pairs = []
    for row in rows:
        reference = row["answer"]
        if row.get("solution") and "answer_raw" not in row:
            boxed = extract_answer(row["solution"])
            if boxed is not None:
                pairs.append((row["id"], reference, boxed, "solution box"))
        pairs.extend((row["id"], reference, form, "re-rendered") for form in rerenderings(reference))
    return pairs
