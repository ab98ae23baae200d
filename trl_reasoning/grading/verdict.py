"""The result of one comparison: `Verdict(equal, reason, reference_ok)`.

`reason` says which step decided, so a caller can count how answers were matched or why not:

| reason | meaning |
|---|---|
| `string` | the normalised strings are identical (text answers compare case-insensitively) |
| `numeric` | both are plain numbers, equal exactly (integers, fractions) or within `rel_tol` |
| `symbolic` | latex2sympy2 + sympy found them equal |
| `tuple`, `interval`, `set`, `matrix`, `equation` | a structured answer matched element by element |
| `choice` | a multiple-choice letter was compared |
| `no-answer` | the answer is missing or empty |
| `timeout` | the symbolic step ran past the time limit (its worker was replaced) |
| `unparseable-answer` | the answer could not be read as mathematics and does not match as a string |
| `unparseable-reference` | the reference could not be read; `reference_ok` is False and the sample should be skipped |
| `error` | a grading worker died unexpectedly; counted as not equal |
| `not-equal` | everything was read and the answers differ |
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Verdict", "REASONS"]

REASONS = (
    "string", "numeric", "symbolic", "tuple", "set", "interval", "matrix", "equation", "choice",
    "no-answer", "timeout", "unparseable-answer", "unparseable-reference", "error", "not-equal",
)


@dataclass(frozen=True)
class Verdict:
    """Whether an answer equals its reference, which step decided, and whether the reference was readable."""

    equal: bool
    reason: str
    reference_ok: bool = True

    def __bool__(self) -> bool:
        return self.equal
