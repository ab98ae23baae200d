r"""Decide common scalar expressions inline, without sympy or a worker process, with bounded work.

    >>> from trl_reasoning.grading.fastpath import fast_equal
    >>> fast_equal(r"\frac{\sqrt{3}}{2}", r"\frac{1}{2}\sqrt{3}", 1e-4)
    True
    >>> fast_equal(r"x^2+2x+1", r"(x+1)^3", 1e-4)
    False
    >>> fast_equal(r"\int_0^1 x dx", "1/2", 1e-4) is None      # not in the grammar: the worker decides
    True

`fast_equal(reference, answer, rel_tol)` reads two *normalised* answers with a small recursive-descent
parser and returns `True`, `False`, or `None` when it cannot decide (then the grader sends the pair to a
worker, as before). It follows latex2sympy2's reading wherever it reads anything, so a verdict here is
the verdict the worker would give:

* grammar: numbers, `+ - * / \cdot \times`, implicit multiplication (`2\pi r`, `3\sqrt{2}`, `ab`),
  `^` (a braced group or one token: `x^2y` is `x^2 \cdot y`), `(..)`, `[..]`, `{..}`, `\frac{a}{b}`,
  `\sqrt{a}`, `\sqrt[n]{a}`, `\pi`, `e` (Euler's number), `i` (the imaginary unit), `\sin \cos \tan
  \ln \exp` and `\log` (base 10, as latex2sympy2 reads it) applied to a bracketed argument, letters and
  Greek letters with optional subscripts as variables. A letter directly followed by `(` is read as a
  product only when the bracket holds a sum (`n(n+1)`); otherwise (`f(x)`, `y(3)`: latex2sympy2 makes a
  function of it) the pair goes to the worker. Anything else (lists, relations, `\pm`, `!`, text,
  matrices, unknown commands) is not decided here;
* values: exact fractions while the arithmetic stays rational (so `2^{60}+1` never equals `2^{60}`),
  otherwise 30-digit complex numbers (mpmath, in a context private to the thread);
* equality: as the worker's `expressions_equal`: constants compare exactly when both are rational, else
  with relative tolerance `rel_tol` when either side is written with a decimal point and 1e-9 otherwise;
  with variables both sides are evaluated at three fixed points (exact rationals), and must agree at
  each of at least two points where both are defined; values both below 1e-25 are inconclusive;
* bounds: at most 300 characters a side, 60 levels of nesting, integer powers up to 256 exactly,
  results up to 10^10000 in magnitude (a power tower is left to the worker's time limit), so the
  work is bounded by the input length whatever it holds. Any failure is `None`, never an exception.
"""

from __future__ import annotations

import re
import threading
from fractions import Fraction

__all__ = ["fast_equal", "SAMPLE_POINTS", "MAX_CHARS"]

MAX_CHARS = 300
SAMPLE_POINTS = (0.5372, 1.2918, 2.7133, -0.8731, 1.7313, -2.2047, 0.3319, 3.1781)
_MAX_DEPTH = 60
_MAX_EXACT_POWER = 256
_MAX_LOG10 = 10_000
_NOISE = 1e-25
_INEXACT = re.compile(r"\d\.\d|(?<!\d)\.\d|\d\.(?!\d)|\\times10\^")
_TOKEN = re.compile(r"\\[a-zA-Z]+|\d+(?:\.\d*)?|\.\d+|[a-zA-Z]|\S")
_GREEK = frozenset(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi rho sigma "
    "tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Sigma Upsilon Phi Psi Omega hbar ell".split()
)
_FUNCTIONS = frozenset(("sin", "cos", "tan", "ln", "log", "exp"))
_EXACT_POINTS = tuple(Fraction(str(value)) for value in SAMPLE_POINTS)
_MIXED_NUMBER = re.compile(r"\d\\frac")
_local = threading.local()


class _Unsupported(Exception):
    """Outside the grammar or the bounds: let the worker decide."""


class _Undefined(Exception):
    """Undefined at this point (a division by zero, a logarithm of zero)."""


def _context():
    context = getattr(_local, "context", None)
    if context is None:
        import mpmath

        context = mpmath.MPContext()
        context.dps = 30
        _local.context = context
    return context


class _Parser:
    """Recursive descent over the tokens of one normalised expression; produces a tree of tuples."""

    def __init__(self, text: str):
        self.tokens = _TOKEN.findall(text)
        self.position = 0
        self.depth = 0
        self.symbols: set[str] = set()

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise _Unsupported(f"expected {expected!r}, got {token!r}")
        self.position += 1
        return token

    def parse(self):
        tree = self.expression()
        if self.peek() is not None:
            raise _Unsupported(f"unexpected {self.peek()!r}")
        return tree

    def nested(self):
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise _Unsupported("too deep")

    def expression(self):
        self.nested()
        tree = self.term()
        while self.peek() in ("+", "-"):
            operator = self.take()
            tree = (operator, tree, self.term())
        self.depth -= 1
        return tree

    def term(self):
        tree = self.signed()
        while True:
            token = self.peek()
            if token in ("*", "\\cdot", "\\times"):
                self.take()
                tree = ("*", tree, self.signed())
            elif token == "/":
                self.take()
                tree = ("/", tree, self.signed())
                if self.peek() is not None and self.starts_atom(self.peek()):
                    raise _Unsupported("`1/2x`: latex2sympy2 reads 1/(2x)")
            elif token is not None and self.starts_atom(token):
                tree = ("*", tree, self.power())
            else:
                return tree

    @staticmethod
    def starts_atom(token: str) -> bool:
        return token[0].isdigit() or token[0] == "." or token.isalpha() or token in ("(", "[", "{") or (
            token.startswith("\\") and token not in ("\\cdot", "\\times")
        )

    def signed(self):
        if self.peek() == "-":
            self.take()
            return ("neg", self.signed())
        if self.peek() == "+":
            self.take()
            return self.signed()
        return self.power()

    def power(self):
        base = self.atom()
        if self.peek() == "^":
            self.take()
            return ("^", base, self.exponent())
        return base

    def exponent(self):
        token = self.peek()
        if token == "{":
            return self.group("{", "}")
        if token is None:
            raise _Unsupported("empty exponent")
        if token[0].isdigit():  # `x^23` is x^2 \cdot 3 in LaTeX: one digit only
            self.take()
            if len(token) > 1:
                if "." in token:
                    raise _Unsupported("decimal exponent without braces")
                self.tokens[self.position:self.position] = [token[1:]]
                token = token[0]
            return ("num", Fraction(token))
        if token.isalpha() and len(token) == 1:
            return self.variable(self.take())
        raise _Unsupported(f"exponent {token!r}")

    def group(self, opening: str, closing: str):
        self.take(opening)
        tree = self.expression()
        self.take(closing)
        return tree

    def subscript(self) -> str:
        if self.peek() != "_":
            return ""
        self.take()
        if self.peek() == "{":
            self.take()
            parts = []
            while self.peek() not in ("}", None):
                part = self.take()
                if part in ("{", "_", "^"):
                    raise _Unsupported("nested subscript")
                parts.append(part)
            self.take("}")
            return "_" + "".join(parts)
        return "_" + self.take()

    def variable(self, name: str):
        full = name + self.subscript()
        if len(name) > 1 and full == name and self.peek() == "(":
            raise _Unsupported("a Greek letter applied to a bracket")
        if name == "e" and full == "e":
            return ("const", "e")
        if name == "i" and full == "i":
            return ("const", "i")
        self.symbols.add(full)
        tree = ("var", full)
        if self.peek() == "(":
            # latex2sympy2 reads `f(x)`, `y(3)` as functions but `n(n+1)` as a product: decide only the latter
            close = self.matching(self.position)
            inside = self.tokens[self.position + 1:close]
            if not any(token in ("+", "-") for token in inside[1:]):
                raise _Unsupported("a letter applied to a bracket")
        return tree

    def matching(self, position: int) -> int:
        depth = 0
        for index in range(position, len(self.tokens)):
            if self.tokens[index] == "(":
                depth += 1
            elif self.tokens[index] == ")":
                depth -= 1
                if depth == 0:
                    return index
        raise _Unsupported("unbalanced")

    def atom(self):
        token = self.peek()
        if token is None:
            raise _Unsupported("missing operand")
        if token[0].isdigit() or token[0] == ".":
            self.take()
            return ("num", Fraction(token)) if "." not in token else ("dec", token)
        if token == "(":
            return self.group("(", ")")
        if token == "[":
            return self.group("[", "]")
        if token == "{":
            return self.group("{", "}")
        if token.isalpha() and len(token) == 1:
            return self.variable(self.take())
        if token.startswith("\\"):
            self.take()
            name = token[1:]
            if name == "frac":
                return ("/", self.group("{", "}"), self.group("{", "}"))
            if name == "sqrt":
                index = ("num", Fraction(2))
                if self.peek() == "[":
                    index = self.group("[", "]")
                return ("root", self.group("{", "}"), index)
            if name == "pi":
                return ("const", "pi")
            if name in _GREEK:
                # sympy's names (`rho_0`), so variables get the same sample values as in the worker
                return self.variable(token if name in ("hbar", "ell") else name)
            if name in _FUNCTIONS:
                if self.peek() == "^":  # `\sin^2(x)`: leave it to the worker
                    raise _Unsupported("power of a function")
                if self.peek() not in ("(", "{"):
                    raise _Unsupported("function without brackets")
                argument = self.group("(", ")") if self.peek() == "(" else self.group("{", "}")
                return ("call", name, argument)
            raise _Unsupported(f"command {token}")
        raise _Unsupported(f"token {token!r}")


def _check_size(value) -> None:
    if isinstance(value, Fraction):
        if value.numerator.bit_length() > 33_000 or value.denominator.bit_length() > 33_000:
            raise _Unsupported("too large")
        return
    magnitude = abs(value)
    if magnitude != 0 and abs(float(_context().log10(magnitude))) > _MAX_LOG10:
        raise _Unsupported("too large")


def _inexact(value):
    context = _context()
    if isinstance(value, Fraction):
        return context.mpc(context.mpf(value.numerator) / value.denominator)
    return value


def _evaluate(tree, point: dict):
    context = _context()
    kind = tree[0]
    if kind == "num":
        return tree[1]
    if kind == "dec":
        return Fraction(tree[1])
    if kind == "var":
        return point[tree[1]]
    if kind == "const":
        return {"pi": lambda: context.mpc(context.pi), "e": lambda: context.mpc(context.e),
                "i": lambda: context.mpc(0, 1)}[tree[1]]()
    if kind == "neg":
        return -_evaluate(tree[1], point)
    if kind in ("+", "-", "*", "/"):
        left, right = _evaluate(tree[1], point), _evaluate(tree[2], point)
        if isinstance(left, Fraction) != isinstance(right, Fraction):
            left, right = _inexact(left), _inexact(right)
        if kind == "+":
            value = left + right
        elif kind == "-":
            value = left - right
        elif kind == "*":
            value = left * right
        else:
            if right == 0:
                raise _Undefined("division by zero")
            value = left / right
        _check_size(value)
        return value
    if kind == "^":
        return _power(_evaluate(tree[1], point), _evaluate(tree[2], point))
    if kind == "root":
        radicand, index = _evaluate(tree[1], point), _evaluate(tree[2], point)
        if index == 0:
            raise _Undefined("zeroth root")
        exact = _exact_root(radicand, index)
        if exact is not None:
            return exact
        # sympy's principal root: `\sqrt[3]{-8}` is 1 + 1.732i, as latex2sympy2 + sympy evaluate it
        return _power(radicand, 1 / index if isinstance(index, Fraction) else 1 / _inexact(index))
    if kind == "call":
        argument = _inexact(_evaluate(tree[2], point))
        name = tree[1]
        if name in ("ln", "log"):
            if argument == 0:
                raise _Undefined("log of zero")
            value = context.log(argument)
            return value / context.log(10) if name == "log" else value
        if name == "exp":
            if abs(argument.real) > 20_000:
                raise _Unsupported("too large")
            return context.exp(argument)
        if abs(argument.imag) > 20_000:
            raise _Unsupported("too large")
        return {"sin": context.sin, "cos": context.cos, "tan": context.tan}[name](argument)
    raise _Unsupported(kind)


def _exact_root(radicand, index) -> Fraction | None:
    """`\\sqrt{4/9}` = 2/3 exactly when the root of a non-negative rational is rational."""
    if not (isinstance(radicand, Fraction) and isinstance(index, Fraction)) or index.denominator != 1:
        return None
    degree = index.numerator
    if not 1 <= degree <= 64 or radicand < 0:
        return None
    roots = []
    for part in (radicand.numerator, radicand.denominator):
        root = round(part ** (1 / degree)) if part.bit_length() < 1000 else None
        if root is None:
            return None
        for candidate in (root - 1, root, root + 1):
            if candidate >= 0 and candidate ** degree == part:
                roots.append(candidate)
                break
        else:
            return None
    return Fraction(roots[0], roots[1])


def _power(base, exponent):
    context = _context()
    if isinstance(base, Fraction) and isinstance(exponent, Fraction) and exponent.denominator == 1:
        power = exponent.numerator
        bits = max(base.numerator.bit_length(), base.denominator.bit_length())
        if abs(power) <= _MAX_EXACT_POWER and bits * abs(power) <= 33_000:  # size known before computing it
            if base == 0 and power < 0:
                raise _Undefined("zero to a negative power")
            value = base ** power
            _check_size(value)
            return value
    if isinstance(base, Fraction) and isinstance(exponent, Fraction) and exponent.denominator > 1:
        exact = _exact_root(base, Fraction(exponent.denominator))
        if exact is not None and abs(exponent.numerator) <= _MAX_EXACT_POWER:
            if exact == 0 and exponent.numerator < 0:
                raise _Undefined("zero to a negative power")
            return exact ** exponent.numerator
    base, exponent = _inexact(base), _inexact(exponent)
    if base == 0:
        if exponent.real > 0:
            return context.mpc(0)
        raise _Undefined("zero to a non-positive power")
    # bound the result before computing it: |base^exponent| <= exp(|exponent| * (|log|base|| + pi))
    if float(abs(exponent)) * (abs(float(context.log(abs(base)))) + 4) > _MAX_LOG10 * 2.31:
        raise _Unsupported("too large")
    return context.power(base, exponent)


def _close(first, second, tolerance: float, exact: bool) -> bool | None:
    """True/False, or None when both are at the level of evaluation noise."""
    if exact and isinstance(first, Fraction) and isinstance(second, Fraction):
        return first == second
    first, second = _inexact(first), _inexact(second)
    largest = max(abs(first), abs(second))
    if largest < _NOISE:
        return None
    return bool(abs(first - second) <= tolerance * largest)


def _points(symbols: set[str]) -> list[dict]:
    ordered = sorted(symbols)
    return [
        {symbol: _EXACT_POINTS[(index + shift) % len(_EXACT_POINTS)] for index, symbol in enumerate(ordered)}
        for shift in (0, 3, 5)
    ]


def fast_equal(reference: str, answer: str, rel_tol: float) -> bool | None:
    """Whether two normalised scalar answers are equal, or `None` when this path cannot tell."""
    if not reference or not answer or len(reference) > MAX_CHARS or len(answer) > MAX_CHARS:
        return None
    if _MIXED_NUMBER.search(reference) or _MIXED_NUMBER.search(answer):
        return None  # `(1\frac{4}{5})`: the structure step reads a mixed number where latex2sympy2 multiplies
    try:
        first, second = _Parser(reference), _Parser(answer)
        first_tree, second_tree = first.parse(), second.parse()
        symbols = first.symbols | second.symbols
        if "d" in symbols:
            return None  # `\frac{dy}{dx}`: latex2sympy2 may read a derivative
        inexact = bool(_INEXACT.search(reference) or _INEXACT.search(answer))
        exact_rationals = not inexact
        tolerance = rel_tol if inexact else 1e-9
        if not symbols:
            first_value, second_value = _evaluate(first_tree, {}), _evaluate(second_tree, {})
            return _close(first_value, second_value, tolerance, exact_rationals)
        verdicts = []
        for point in _points(symbols):
            try:
                verdict = _close(_evaluate(first_tree, point), _evaluate(second_tree, point), max(tolerance, 1e-9),
                                 exact_rationals)
            except (_Undefined, ZeroDivisionError, ValueError):
                continue
            if verdict is not None:
                verdicts.append(verdict)
        if verdicts and not all(verdicts):
            return False
        return True if len(verdicts) >= 2 else None
    except (_Unsupported, _Undefined, ZeroDivisionError, ValueError, OverflowError, TypeError, RecursionError,
            KeyError, AttributeError, IndexError):
        return None
    except Exception:  # mpmath raises its own errors on edge cases; this path must never raise
        return None
