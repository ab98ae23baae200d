r"""Compare two *normalised* answers, structure first, then part by part.

`compare_normalized(reference, answer, rel_tol)` is the expensive half of `grade`: it runs in a
grading worker process (see `timeout`), never in the caller, because latex2sympy2 and sympy can
take unbounded time. It returns a `Verdict`.

Order of the checks, cheapest first, for each pair of parts:

1. identical strings;
2. both plain numbers (`numeric.parse_number`): exact for integers and fractions, relative
   tolerance `rel_tol` when either is a decimal or in scientific notation;
3. latex2sympy2 + sympy (`symbolic.expressions_equal`); the relative tolerance applies when either
   side is written with a decimal point, otherwise the two must agree to 1e-9.

Structures (`structured.parse_shape`) must match in kind: a tuple equals a tuple of the same
length and brackets, a set or list equals one whose elements match one to one in any order, a
matrix equals a matrix of the same shape (or a tuple, for a vector), an equation equals an
equation that is a non-zero multiple of it.

When the answers differ, the reference is also checked for readability, so that an unreadable
reference is reported as `unparseable-reference` (`reference_ok=False`) rather than `not-equal`.
"""

from __future__ import annotations

from trl_reasoning.grading.numeric import numbers_equal, parse_number
from trl_reasoning.grading.structured import Shape, parse_shape, relation_interval
from trl_reasoning.grading.symbolic import equations_equal, expressions_equal, looks_inexact, to_sympy
from trl_reasoning.grading.verdict import Verdict

__all__ = ["compare_normalized"]

_MAX_ELEMENTS = 64


class _Unreadable(Exception):
    def __init__(self, side: str):
        super().__init__(side)
        self.side = side


class _Comparer:
    def __init__(self, rel_tol: float):
        self.rel_tol = rel_tol

    def _parse(self, text: str, side: str):
        try:
            return to_sympy(text)
        except ValueError:
            raise _Unreadable(side) from None

    def scalar(self, reference: str, answer: str) -> str | None:
        if reference == answer:
            return "string"
        ref_number, ans_number = parse_number(reference), parse_number(answer)
        if ref_number is not None and ans_number is not None:
            return "numeric" if numbers_equal(ref_number, ans_number, self.rel_tol) else None
        ref_expression = self._parse(reference, "reference")
        ans_expression = self._parse(answer, "answer")
        inexact = looks_inexact(reference) or looks_inexact(answer)
        tolerance = self.rel_tol if inexact else 1e-9
        if expressions_equal(ref_expression, ans_expression, tolerance):
            return "numeric" if ref_number is not None or ans_number is not None else "symbolic"
        return None

    def part(self, reference: Shape, answer: Shape) -> bool:
        """Element comparison inside a structure: an unreadable answer part is simply unequal."""
        try:
            return self.shape(reference, answer) is not None
        except _Unreadable as error:
            if error.side == "reference":
                raise
            return False

    def matched(self, references: tuple, answers: tuple) -> bool:
        if len(references) != len(answers) or len(references) > _MAX_ELEMENTS:
            return False
        unused = list(answers)
        for reference in references:
            for index, answer in enumerate(unused):
                if self.part(reference, answer):
                    del unused[index]
                    break
            else:
                return False
        return True

    def ordered(self, references: tuple, answers: tuple) -> bool:
        if len(references) != len(answers) or len(references) > _MAX_ELEMENTS:
            return False
        return all(self.part(reference, answer) for reference, answer in zip(references, answers))

    def intervals(self, reference: Shape, answer: Shape) -> str | None:
        """Inequalities by meaning: `k \\geq 2` equals `[2, \\infty)` and `2 \\leq k`; `None` when not both sets of reals."""
        ref_form, ans_form = _interval_form(reference), _interval_form(answer)
        if ref_form is None or ans_form is None:
            return None
        if ref_form[0] and ans_form[0] and ref_form[0] != ans_form[0]:
            return None  # two inequalities in different variables
        return "interval" if self.matched(ref_form[1], ans_form[1]) else None

    def shape(self, reference: Shape, answer: Shape) -> str | None:
        if _has_relation(reference) or _has_relation(answer):
            if reference.kind == "relation" and answer.kind == "relation" and answer.items == reference.items:
                return "string"
            return self.intervals(reference, answer)
        kind = reference.kind
        if kind == "scalar":
            return self.scalar(reference.items[0], answer.items[0]) if answer.kind == "scalar" else None
        if kind == "tuple":
            interval = "[" in reference.brackets or "]" in reference.brackets or any(
                item.kind == "scalar" and "\\infty" in item.items[0] for item in reference.items
            )
            reason = "interval" if interval else "tuple"
            if answer.kind == "tuple" and answer.brackets == reference.brackets:
                return reason if self.ordered(reference.items, answer.items) else None
            if answer.kind == "matrix" and reference.brackets == "()" and _is_vector(answer):
                cells = tuple(Shape("scalar", (cell,)) for row in answer.items for cell in row)
                return "tuple" if self.ordered(reference.items, cells) else None
            return None
        if kind == "matrix":
            if answer.kind == "matrix":
                if len(answer.items) != len(reference.items) or len(answer.items[0]) != len(reference.items[0]):
                    return None
                references = tuple(Shape("scalar", (cell,)) for row in reference.items for cell in row)
                answers = tuple(Shape("scalar", (cell,)) for row in answer.items for cell in row)
                return "matrix" if self.ordered(references, answers) else None
            if answer.kind == "tuple" and answer.brackets == "()" and _is_vector(reference):
                cells = tuple(Shape("scalar", (cell,)) for row in reference.items for cell in row)
                return "matrix" if self.ordered(cells, answer.items) else None
            return None
        if kind == "set":
            answers = answer.items if answer.kind == "set" else (answer,)
            return "set" if self.matched(reference.items, answers) else None
        if kind == "union":
            answers = answer.items if answer.kind == "union" else (answer,)
            return "interval" if self.matched(reference.items, answers) else None
        if kind == "equation":
            if answer.kind != "equation":
                return None
            if reference.items == answer.items or reference.items == answer.items[::-1]:
                return "equation"
            sides = [self._parse(side, "reference") for side in reference.items]
            sides += [self._parse(side, "answer") for side in answer.items]
            inexact = any(looks_inexact(side) for side in reference.items + answer.items)
            tolerance = self.rel_tol if inexact else 1e-9
            return "equation" if equations_equal(*sides, tolerance) else None
        return None

    def readable(self, reference: Shape) -> bool:
        """Whether every part of the reference can be read (numbers, sympy expressions, relations)."""
        if reference.kind == "scalar":
            text = reference.items[0]
            if parse_number(text) is not None:
                return True
            try:
                to_sympy(text)
            except ValueError:
                return False
            return True
        if reference.kind == "relation":
            return True
        if reference.kind == "equation":
            return all(self.readable(Shape("scalar", (side,))) for side in reference.items)
        if reference.kind == "matrix":
            return all(self.readable(Shape("scalar", (cell,))) for row in reference.items for cell in row)
        return all(self.readable(item) for item in reference.items)


def _has_relation(shape: Shape) -> bool:
    return shape.kind == "relation" or (
        shape.kind == "set" and not shape.brackets and any(item.kind == "relation" for item in shape.items)
    )


def _interval_form(shape: Shape) -> tuple[str, tuple] | None:
    """(variable or "", the intervals) of an inequality, a list of them (`x \\leq -2, x \\geq 3`), an
    interval or a union of intervals; `None` for anything else."""
    if shape.kind == "relation":
        read = relation_interval(shape.items[0])
        return (read[0], (read[1],)) if read else None
    if shape.kind == "tuple" and len(shape.items) == 2 and shape.brackets in ("()", "[]", "(]", "[)"):
        return "", (shape,)
    if shape.kind in ("union", "set") and not (shape.kind == "set" and shape.brackets):
        variables, parts = set(), []
        for item in shape.items:
            form = _interval_form(item)
            if form is None:
                return None
            variables.add(form[0])
            parts.extend(form[1])
        named = variables - {""}
        if len(named) > 1:
            return None
        return (named.pop() if named else ""), tuple(parts)
    return None


def _is_vector(matrix: Shape) -> bool:
    return len(matrix.items) == 1 or len(matrix.items[0]) == 1


def compare_normalized(reference: str, answer: str, rel_tol: float = 1e-4) -> Verdict:
    """Compare two normalised answers (see the module docstring). Never raises."""
    comparer = _Comparer(rel_tol)
    try:
        ref_shape = parse_shape(reference)
        # an equation reference keeps the answer's `y =`, so `y = 4 - 3x` can equal `3x + y = 4`
        ans_shape = parse_shape(answer, strip_lhs=ref_shape.kind != "equation")
        reason = comparer.shape(ref_shape, ans_shape)
        if reason is not None:
            return Verdict(True, reason, True)
        if not comparer.readable(ref_shape):
            return Verdict(False, "unparseable-reference", False)
        return Verdict(False, "not-equal", True)
    except _Unreadable as error:
        if error.side == "reference":
            return Verdict(False, "unparseable-reference", False)
        return Verdict(False, "unparseable-answer", True)
    except (RecursionError, MemoryError, OverflowError, ValueError, TypeError, ZeroDivisionError, AttributeError):
        return Verdict(False, "unparseable-answer", True)
    except Exception:  # sympy raises many private error types; a grader must not crash a trainer
        return Verdict(False, "unparseable-answer", True)
