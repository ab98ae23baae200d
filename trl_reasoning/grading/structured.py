r"""Split a normalised answer into its structure before its parts are compared.

    >>> from trl_reasoning.grading.structured import parse_shape
    >>> parse_shape(r"(1,2)\cup[3,\infty)").kind
    'union'

`parse_shape(text)` returns a `Shape(kind, items, brackets)`:

| kind | written as | compared |
|---|---|---|
| `matrix` | `\begin{pmatrix}1&2\\3&4\end{pmatrix}` (any `*matrix`) | same shape, cell by cell; a one-row or one-column matrix also equals a tuple of its cells |
| `union` | `A \cup B` | as an unordered collection of its parts |
| `set` | `\{1,2\}`, a bare list `1, 3`, `1 \pm \sqrt{2}`, `1 \text{ or } 3` | unordered, each element matched once (`1, 3` equals `3, 1`) |
| `tuple` | `(1,2)`, `[0,1)`, `(3,4]`, a ratio `1:2` | ordered, same length and same brackets; with a `[`, `]` or `\infty` it is an interval |
| `equation` | one top-level `=` whose left side is not a lone variable | as equations: the same up to a non-zero factor |
| `relation` | `<`, `>`, `\leq`, `\geq`, `\neq` | as normalised strings |
| `scalar` | anything else | string, then numeric, then symbolic |

A parenthesised scalar `(5)` is the scalar `5`. Elements go through `normalize.element`, so
`x=1, x=3` is the list `1, 3`. Nesting deeper than 30 levels is read as a scalar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from trl_reasoning.grading.normalize import element

__all__ = ["Shape", "parse_shape", "split_top", "relation_interval"]

_MATRIX = re.compile(r"^\\begin\{([a-zA-Z]*matrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}$", re.DOTALL)
_RELATION = re.compile(r"<|>|\\leq(?![a-zA-Z])|\\geq(?![a-zA-Z])|\\neq(?![a-zA-Z])|\\lt(?![a-zA-Z])|\\gt(?![a-zA-Z])")
_MAX_DEPTH = 30
_RELATION_SPLIT = re.compile(r"(\\leq(?![a-zA-Z])|\\geq(?![a-zA-Z])|\\lt(?![a-zA-Z])|\\gt(?![a-zA-Z])|<|>)")
_VARIABLE = re.compile(r"[a-zA-Z](?:_\{?[a-zA-Z0-9]+\}?)?|\\[a-zA-Z]+")
_LESS = {"<": "<", "\\lt": "<", "\\leq": "<="}
_GREATER = {">": ">", "\\gt": ">", "\\geq": ">="}


@dataclass(frozen=True)
class Shape:
    kind: str
    items: tuple
    brackets: str = ""


def _scan(text: str):
    """Yield (index, depth) for every character, treating ([{ and \\{ as openers."""
    depth = 0
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char == "\\" and index + 1 < length:
            following = text[index + 1]
            if following == "{":
                yield index, depth
                depth += 1
                index += 2
                continue
            if following == "}":
                depth -= 1
                yield index, depth
                index += 2
                continue
            yield index, depth
            index += 1
            continue
        if char in "([{":
            yield index, depth
            depth += 1
        elif char in ")]}":
            depth -= 1
            yield index, depth
        else:
            yield index, depth
        index += 1


def split_top(text: str, separator: str) -> list[str]:
    """Split `text` on `separator` where it is outside every bracket."""
    if separator not in text:
        return [text]
    parts: list[str] = []
    start = 0
    skip_until = -1
    for index, depth in _scan(text):
        if index < skip_until or depth != 0:
            continue
        if text.startswith(separator, index):
            if separator[1:].isalpha() and text[index + len(separator):index + len(separator) + 1].isalpha():
                continue
            parts.append(text[start:index])
            start = index + len(separator)
            skip_until = start
    parts.append(text[start:])
    return parts


def _closes_at_end(text: str, opener_width: int) -> bool:
    """True when the bracket opening `text` closes at its last character (`(a)(b)` is False)."""
    for index, depth in _scan(text):
        if depth == 0 and index > 0:
            return index >= len(text) - opener_width
    return False


def _pm(text: str) -> list[str] | None:
    """`a \\pm b` (one `\\pm` anywhere, `\\frac{3\\pm\\sqrt{5}}{2}` too) -> [a + b, a - b]."""
    signs = re.findall(r"\\(?:pm|mp)(?![a-zA-Z])", text)
    if len(signs) != 1:
        return None
    head, tail = re.split(r"\\(?:pm|mp)(?![a-zA-Z])", text)
    if not tail:
        return None
    return [f"{head}+{tail}" if head else tail, f"{head}-{tail}" if head else f"-{tail}"]


def _elements(parts, depth: int) -> tuple:
    """Parse list elements; a `\\pm` element (`1\\pm\\sqrt{5}`) contributes both of its values."""
    shapes = []
    for part in parts:
        if not part:
            continue
        shape = parse_shape(part, depth + 1)
        if shape.kind == "set" and not shape.brackets:
            shapes.extend(shape.items)
        else:
            shapes.append(shape)
    return tuple(shapes)


def parse_shape(text: str, depth: int = 0, strip_lhs: bool = True) -> Shape:
    """Read the structure of a normalised answer (see the module docstring).

    `strip_lhs=False` keeps `y = ...` as an equation (used when the reference is an equation).
    """
    text = element(text.strip(), strip_lhs)
    if depth > _MAX_DEPTH or not text:
        return Shape("scalar", (text,))
    matrix = _MATRIX.match(text)
    if matrix:
        rows = [row for row in split_top(matrix.group(2), "\\\\") if row.strip()]
        cells = tuple(tuple(element(cell) for cell in split_top(row, "&")) for row in rows)
        if cells and len({len(row) for row in cells}) == 1:
            return Shape("matrix", cells)
        return Shape("scalar", (text,))
    pieces = split_top(text, "\\cup")
    if len(pieces) > 1:
        return Shape("union", tuple(parse_shape(piece, depth + 1, strip_lhs) for piece in pieces))
    if text.startswith("\\{") and text.endswith("\\}") and _closes_at_end(text, 2):
        inner = text[2:-2]
        return Shape("set", _elements(split_top(inner, ","), depth), "{}")
    if text[0] in "([" and text[-1] in ")]" and _closes_at_end(text, 1):
        parts = split_top(text[1:-1], ",")
        if len(parts) >= 2:
            return Shape("tuple", tuple(parse_shape(part, depth + 1) for part in parts), text[0] + text[-1])
        if text[0] == "(" and text[-1] == ")":
            return parse_shape(text[1:-1], depth + 1, strip_lhs)
    parts = split_top(text, ",")
    if len(parts) >= 2:
        return Shape("set", _elements(parts, depth))
    expanded = _pm(text)
    if expanded:
        return Shape("set", tuple(parse_shape(part, depth + 1) for part in expanded))
    ratio = split_top(text, ":")
    if len(ratio) >= 2 and all(ratio):
        return Shape("tuple", tuple(parse_shape(part, depth + 1) for part in ratio), "::")
    if _RELATION.search(text):
        return Shape("relation", (text,))
    sides = split_top(text, "=")
    if len(sides) == 2 and all(sides):
        return Shape("equation", tuple(sides))
    return Shape("scalar", (text,))


def _bound(part: str) -> Shape:
    return Shape("scalar", (part,))


def relation_interval(text: str) -> tuple[str, Shape] | None:
    """`x < a`, `a \\leq x`, `a < x \\leq b` (one variable) -> (variable, interval as a bracketed tuple).

    `k \\geq 2` -> ("k", [2, \\infty)); `120 < n \\leq 130` -> ("n", (120, 130]); anything else -> None.
    """
    pieces = [piece.strip() for piece in _RELATION_SPLIT.split(text)]
    if len(pieces) not in (3, 5) or not all(pieces[0::2]):
        return None
    operators = pieces[1::2]
    if all(op in _GREATER for op in operators):  # `b > x > a` reads as `a < x < b`
        pieces = pieces[::-1]
        operators = [{">": "<", "\\gt": "<", "\\geq": "\\leq"}[op] for op in pieces[1::2]]
    elif not all(op in _LESS for op in operators):
        return None
    terms = pieces[0::2]
    weak = [_LESS[op] == "<=" for op in operators]
    if len(terms) == 3:
        low, variable, high = terms
        if not _VARIABLE.fullmatch(variable):
            return None
        return variable, Shape("tuple", (_bound(low), _bound(high)), ("[" if weak[0] else "(") + ("]" if weak[1] else ")"))
    left, right = terms
    if _VARIABLE.fullmatch(left) and not _VARIABLE.fullmatch(right):  # x < b
        return left, Shape("tuple", (_bound("-\\infty"), _bound(right)), "(" + ("]" if weak[0] else ")"))
    if _VARIABLE.fullmatch(right) and not _VARIABLE.fullmatch(left):  # a < x
        return right, Shape("tuple", (_bound(left), _bound("\\infty")), ("[" if weak[0] else "(") + ")")
    return None
