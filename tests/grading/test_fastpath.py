"""The inline symbolic path: table-driven, and its verdicts are the worker's (latex2sympy2 + sympy)."""

from __future__ import annotations

import pytest

from trl_reasoning.grading import normalize
from trl_reasoning.grading.fastpath import fast_equal

# (reference, answer, verdict): None means "not decided here, the worker decides"
TABLE = [
    (r"\frac{\sqrt{3}}{2}", r"\frac{1}{2}\sqrt{3}", True),
    (r"2\sqrt{5}", r"\sqrt{20}", True),
    (r"2\pi r", r"2 r \pi", True),
    (r"x^2+2x+1", r"(x+1)^2", True),
    (r"x^2+2x+1", r"(x+1)^3", False),
    (r"\frac{n(n+1)}{2}", r"\frac{n^2+n}{2}", True),
    (r"2^{60}+1", r"2^{60}", False),  # exact integers: no float rounding makes them equal
    (r"0.5x", r"\frac{x}{2}", True),
    (r"\sqrt[3]{8}", "2", True),
    (r"\log(100)", "2", True),  # latex2sympy2 reads \log as base 10
    (r"\ln(e)", "1", True),
    (r"e^{i\pi}", "-1", True),
    (r"3\sqrt{2}", r"3 \cdot \sqrt{2}", True),
    (r"\frac{1}{s+1}-\frac{e^{-1}}{s}", r"\frac{2}{s+1}-\frac{e^{-1}}{s}", False),
    ("x^23", "3x^2", True),  # one digit is the exponent
    ("f(x)", "f(x)", None),  # a function application: latex2sympy2's reading, left to the worker
    ("y(3)", "3y", None),
    ("1/2x", r"\frac{x}{2}", None),  # latex2sympy2 reads 1/(2x)
    (r"2^{2^{2^{100}}}", "5", None),  # a power tower: the worker's time limit decides
    (r"9^{9^{9^{9}}}", "1", None),
    (r"\sin(\pi)", "0", None),  # evaluation noise: inconclusive
    (r"\int_0^1 x dx", r"\frac{1}{2}", None),
    ("1, 2", "2, 1", None),  # lists are the structure step's
    (r"\frac{dy}{dx}", r"\frac{y}{x}", None),
    (r"(1\frac{4}{5})", r"\frac{9}{5}", None),  # a mixed number: the structure step's reading
    ("x" * 301, "x" * 301, None),  # longer than MAX_CHARS
]


@pytest.mark.parametrize("reference,answer,verdict", TABLE)
def test_fast_equal(reference, answer, verdict):
    assert fast_equal(normalize(reference), normalize(answer), 1e-4) is verdict


AGREEMENT = [
    (r"\frac{\sqrt{3}}{2}", r"\frac{1}{2}\sqrt{3}"), (r"x^2+2x+1", r"(x+1)^2"), (r"x^2+2x+1", r"(x+1)^3"),
    (r"\frac{n(n+1)}{2}", r"\frac{n^2+n}{2}"), (r"2\sqrt{5}", r"\sqrt{21}"), (r"\log(1000)", "3"),
    (r"\sqrt{4\pi G\rho_{0}r_{0}^{2}}", r"2r_{0}\sqrt{\pi G\rho_{0}}"), (r"\frac{\pi}{4}", "0.785398"),
    (r"\frac{\pi}{4}", "0.7854"), (r"e^{2}", r"e \cdot e"), (r"3^{-2}", r"\frac{1}{9}"), (r"i^2", "-1"),
    (r"\frac{15-8\sqrt{3}}{33}", r"\frac{25-8\sqrt{3}}{33}"), (r"\sqrt[3]{-8}", "-2"), ("2.5x", r"\frac{5x}{2}"),
]


@pytest.mark.parametrize("reference,answer", AGREEMENT)
def test_fast_path_agrees_with_the_worker(reference, answer):
    from trl_reasoning.grading.equivalence import compare_normalized

    ref_norm, ans_norm = normalize(reference), normalize(answer)
    fast = fast_equal(ref_norm, ans_norm, 1e-4)
    assert fast is not None
    assert fast == compare_normalized(ref_norm, ans_norm, 1e-4).equal
