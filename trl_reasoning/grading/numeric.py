r"""Read plain numbers without sympy, and compare them.

`parse_number(text)` reads a *normalised* answer that is one plain number and returns
`(value, exact)`, or `None` for anything else:

* a number in one pair of parentheses, `(29)`, is that number;
* integers (`-12`) and fractions (`\frac{3}{4}`, `-\frac{3}{4}`, `3/4`) are exact (`fractions.Fraction`);
* decimals (`0.5`, `.35625`) and scientific notation (`4.5\times10^{33}`) are inexact (`float`).

`numbers_equal(a, b, rel_tol)` compares two such readings: two exact values must be equal
exactly (so `1000000` never equals `1000001`), otherwise they must agree to a relative
tolerance, `|a - b| <= rel_tol * max(|a|, |b|)` (Minerva's `4.5e33` vs `4.46\times10^{33}` is
equal with `rel_tol=1e-2`, not with the default `1e-4`). There is no absolute tolerance: `0`
equals only `0`, and `1.325e-27` does not equal `2.325e-27`.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

__all__ = ["parse_number", "numbers_equal"]

_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)")
_FRACTION = re.compile(r"([+-]?)\\frac\{([+-]?\d+)\}\{([+-]?\d+)\}")
_SLASH = re.compile(r"([+-]?\d+)/(\d+)")
_SCIENTIFIC = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))\\times10\^\{?([+-]?\d{1,4})\}?")


def parse_number(text: str) -> tuple[Fraction | float, bool] | None:
    """Read `text` as one plain number: `(value, exact)`, or `None`."""
    if len(text) > 400:
        return None
    if text.startswith("(") and text.endswith(")") and "(" not in text[1:-1] and ")" not in text[1:-1]:
        text = text[1:-1]  # `\left(29\right)`: a bracketed number is that number
    if _INTEGER.fullmatch(text):
        return Fraction(int(text)), True
    if _DECIMAL.fullmatch(text):
        return float(text), False
    match = _FRACTION.fullmatch(text)
    if match:
        sign, numerator, denominator = match.groups()
        if int(denominator) == 0:
            return None
        value = Fraction(int(numerator), int(denominator))
        return (-value if sign == "-" else value), True
    match = _SLASH.fullmatch(text)
    if match and int(match.group(2)) != 0:
        return Fraction(int(match.group(1)), int(match.group(2))), True
    match = _SCIENTIFIC.fullmatch(text)
    if match:
        try:
            return float(match.group(1)) * 10.0 ** int(match.group(2)), False
        except OverflowError:
            return None
    return None


def numbers_equal(first: tuple[Fraction | float, bool], second: tuple[Fraction | float, bool], rel_tol: float) -> bool:
    """Exact values compare exactly; anything inexact compares with relative tolerance `rel_tol`."""
    (a, a_exact), (b, b_exact) = first, second
    if a_exact and b_exact:
        return a == b
    a, b = float(a), float(b)
    if not (math.isfinite(a) and math.isfinite(b)):
        return a == b
    if a == 0.0 or b == 0.0:
        return a == b  # relative only: zero equals only zero, never `1e-13`
    return math.isclose(a, b, rel_tol=rel_tol)
