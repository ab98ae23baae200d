r"""Read LaTeX with latex2sympy2 and decide whether two sympy expressions are equal.

This module runs inside the grading worker processes (see `timeout`), because parsing and
simplifying can take unbounded time (`2^{2^{2^{100}}}`). Do not call it on untrusted input in
a process that must stay responsive; use `trl_reasoning.grading.grade` instead.

* `to_sympy(latex)` returns a sympy expression or raises `ValueError`. Lists, sets and relations
  are rejected (the structure is split before this step). The symbol `i` is the imaginary unit.
  Results are cached per process, so a reference graded against many responses is parsed once.
* `expressions_equal(a, b, tolerance)`: for constants, both sides are evaluated to 30 digits and
  compared with the relative `tolerance` (exact rationals are compared exactly; there is no
  absolute tolerance, and two values both below 1e-25, evaluation noise, go to `simplify`); with free symbols,
  both sides are evaluated at three fixed points (positive and negative values) and must agree at
  every one; when that is inconclusive (an undefined function such as `f(x)`), `simplify(a - b) == 0`
  decides.
* `equations_equal(lhs1, rhs1, lhs2, rhs2, tolerance)`: `a = b` equals `c = d` when `a - b` is a
  non-zero constant multiple of `c - d` (so `2x + 2y = 2` equals `x + y = 1`).
"""

from __future__ import annotations

import functools
import math
import re

__all__ = ["to_sympy", "expressions_equal", "equations_equal", "looks_inexact"]


class _SympyOnFirstUse:
    """Stands for the sympy module until a comparison first needs it (importing sympy costs about a second, and
    most commands, ``trl-reason --help`` among them, never compare symbolically); then the real module replaces it."""

    def __getattr__(self, name):
        import sympy as module

        globals()["sympy"] = module
        return getattr(module, name)


sympy = _SympyOnFirstUse()

_MAX_CHARS = 1500
_POINTS = (0.5372, 1.2918, 2.7133, -0.8731, 1.7313, -2.2047, 0.3319, 3.1781)
_INEXACT = re.compile(r"\d\.\d|(?<!\d)\.\d|\d\.(?!\d)|\\times10\^")


def looks_inexact(text: str) -> bool:
    """True when a normalised answer is written with a decimal point or in scientific notation."""
    return bool(_INEXACT.search(text))


_FORBIDDEN = re.compile(r"=|:|\\in(?![a-zA-Z])|\\(?:coloneqq|def)(?![a-zA-Z])")
_library_state: dict | None = None


def _latex2sympy(latex: str):
    """latex2sympy2, with its global variable table put back after every call.

    latex2sympy2 treats `a = b` and `x \\in ...` as assignments into module-level dicts that change
    how later strings parse; a grader must not let one answer change how the next one is read.
    """
    global _library_state
    import latex2sympy2

    if _library_state is None:
        _library_state = {name: dict(getattr(latex2sympy2, name)) for name in ("variances", "var")}
    try:
        return latex2sympy2.latex2sympy(latex)
    finally:
        # the library rebinds these globals too (`var` can become a Symbol), so put back fresh copies
        for name, saved in _library_state.items():
            table = getattr(latex2sympy2, name, None)
            if not isinstance(table, dict) or len(table) != len(saved) or any(
                table.get(key) is not value for key, value in saved.items()
            ):
                setattr(latex2sympy2, name, dict(saved))
        latex2sympy2.VARIABLE_VALUES = {}


_TEXT_GROUP = re.compile(r"\\(?:text|mathrm|operatorname|mbox|mathit|mathbf)\s*\{[^{}]*\}")
_COMMAND = re.compile(r"\\[a-zA-Z]+")
_LETTER = re.compile(r"[a-zA-Z]")


def _dropped_letters(latex: str, expression) -> set[str]:
    """Letters of the input (outside commands and text groups) that no symbol or function name holds."""
    letters = set(_LETTER.findall(_COMMAND.sub(" ", _TEXT_GROUP.sub(" ", latex)))) - {"e", "i"}
    if not letters:
        return set()
    names = "".join(str(symbol) for symbol in expression.free_symbols)
    names += "".join(type(call).__name__ for call in expression.atoms(sympy.Function))
    return {letter for letter in letters if letter not in names}


@functools.lru_cache(maxsize=8192)
def _parse_cached(latex: str):
    if _FORBIDDEN.search(latex):
        return ValueError(f"{latex[:80]!r} holds an assignment or relation, not an expression")
    try:
        expression = _latex2sympy(latex)
    except Exception as error:  # latex2sympy raises bare Exception on syntax errors
        return ValueError(f"cannot parse {latex[:80]!r}: {str(error).splitlines()[0] if str(error) else type(error).__name__}")
    if not isinstance(expression, sympy.Basic) or isinstance(expression, (sympy.Set, sympy.MatrixBase)):
        return ValueError(f"{latex[:80]!r} is not a single expression")
    if isinstance(expression, sympy.core.relational.Relational):
        return ValueError(f"{latex[:80]!r} is a relation")
    missing = _dropped_letters(latex, expression)
    if missing:
        # latex2sympy2 sometimes reads a prefix and drops the rest (`\angle BEA_{1}` -> `B \angle`);
        # a reading that lost letters of the input must not decide equality
        return ValueError(f"{latex[:80]!r} was read without {''.join(sorted(missing))!r}")
    imaginary = sympy.Symbol("i")
    if imaginary in expression.free_symbols:
        expression = expression.subs(imaginary, sympy.I)
    return expression


def to_sympy(latex: str):
    """Parse one normalised LaTeX expression; raise `ValueError` when it cannot be read."""
    if not latex or len(latex) > _MAX_CHARS:
        raise ValueError("empty or too long to parse")
    result = _parse_cached(latex)
    if isinstance(result, Exception):
        raise result
    return result


def _number(expression) -> complex | None:
    try:
        value = complex(expression.evalf(30))
    except (TypeError, ValueError, AttributeError, OverflowError, ZeroDivisionError):
        return None
    if not (math.isfinite(value.real) and math.isfinite(value.imag)):
        return None
    return value


_NOISE = 1e-25  # 30-digit evaluation: below this a value cannot be told from cancelled-out zero


def _close(a: complex, b: complex, tolerance: float) -> bool:
    """Relative only: `|a - b| <= tolerance * max(|a|, |b|)`, so zero equals only zero."""
    return a == b or abs(a - b) <= tolerance * max(abs(a), abs(b))


def _inconclusive(a: complex, b: complex) -> bool:
    """Both values are at the level of evaluation noise: this point says nothing either way."""
    return max(abs(a), abs(b)) < _NOISE


def _points(symbols) -> list[dict]:
    ordered = sorted(symbols, key=lambda symbol: symbol.name)
    return [
        {symbol: _POINTS[(index + shift) % len(_POINTS)] for index, symbol in enumerate(ordered)}
        for shift in (0, 3, 5)
    ]


def _at(expression, point: dict) -> complex | None:
    try:
        return _number(expression.subs(point))
    except Exception:
        return None


def expressions_equal(a, b, tolerance: float) -> bool:
    """Whether two sympy expressions are equal (see the module docstring)."""
    if a == b:
        return True
    symbols = a.free_symbols | b.free_symbols
    if not symbols:
        a_value, b_value = a.doit(), b.doit()
        if a_value.is_Rational and b_value.is_Rational and tolerance <= 1e-9:
            return a_value == b_value
        first, second = _number(a_value), _number(b_value)
        if first is not None and second is not None and not _inconclusive(first, second):
            return _close(first, second, tolerance)
        return _simplifies_to_zero(a - b)
    verdicts = []
    for point in _points(symbols):
        first, second = _at(a, point), _at(b, point)
        if first is None or second is None or _inconclusive(first, second):
            continue
        verdicts.append(_close(first, second, max(tolerance, 1e-9)))
    if verdicts and not all(verdicts):
        return False
    if len(verdicts) >= 2:
        return True
    return _simplifies_to_zero(a - b)


def _simplifies_to_zero(expression) -> bool:
    try:
        return sympy.simplify(expression) == 0
    except Exception:
        return False


def equations_equal(lhs1, rhs1, lhs2, rhs2, tolerance: float) -> bool:
    """Whether `lhs1 = rhs1` and `lhs2 = rhs2` describe the same equation (up to a non-zero factor)."""
    first, second = lhs1 - rhs1, lhs2 - rhs2
    if expressions_equal(first, second, tolerance) or expressions_equal(first, -second, tolerance):
        return True
    symbols = first.free_symbols | second.free_symbols
    ratios = []
    for point in _points(symbols) if symbols else [{}]:
        top, bottom = _at(first, point), _at(second, point)
        if top is None or bottom is None or abs(bottom) < 1e-12:
            continue
        ratios.append(top / bottom)
    if len(ratios) >= 2 and abs(ratios[0]) > 1e-12:
        return all(_close(ratio, ratios[0], max(tolerance, 1e-9)) for ratio in ratios)
    return False
