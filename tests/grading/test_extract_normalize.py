"""Extraction and normalisation rules, table-driven."""

from __future__ import annotations

import pytest

from trl_reasoning.grading import extract_answer, normalize
from trl_reasoning.grading.extract import boxed_group

EXTRACT = [
    (r"so $\boxed{\frac{1}{2}}$.", r"\frac{1}{2}"),
    (r"\boxed{\{1,2\}}", r"\{1,2\}"),
    (r"\boxed{a} then \boxed{b}", "b"),
    (r"\fbox{12}", "12"),
    (r"\boxed 5$.", "5"),
    (r"\boxed {7}", "7"),
    (r"\boxed{}", None),
    (r"\boxed{3} and \boxed{4", None),
    ("no box here, the answer is 42", None),
    ("", None),
    (r"\boxed{\left( 3, \frac{\pi}{2} \right)}", r"\left( 3, \frac{\pi}{2} \right)"),
    (r"\boxed{\text{(C)}} \boxed{\text{(A)}}", "C,A"),
]

# the unboxed-answer policy (extract.unboxed_answer): stated, terminated, short; else no answer
FALLBACK = [
    ("The answer is 42.", "42"),
    ("So the final answer is $\\frac{1}{2}$ indeed.", "\\frac{1}{2}"),
    ("So the final answer is $\\frac{1}{2}$ indeed", None),  # the sentence never ends
    ("Janet makes 9 * 2 = 18 dollars.\n#### 18", "18"),
    ("We get 12 apples and then 15 pears", None),  # a last number in passing is not an answer
    ("nothing numeric", None),
    ("The answer is 4", None),  # cut off: `4` may be the start of `45`
    ("The answer is 5. Wait, 3 + 3 = 6", None),  # the model went on computing
    ("The answer is not 5.", None),
    ("The answer is the number of ways to seat them.", None),  # prose
    ("Final Answer: The final answer is $5$. I hope it is correct.", "5"),
    ("**Final Answer**\n$42$", "42"),
    ("so\n**Answer: 7**", "7"),
    ("Therefore, the total is $3 + 5 = 8$.", "8"),
    ("We have $3 + 5 = 8$.", None),  # no concluding word: an intermediate step
    ("the answer is $\\frac{1}{", None),
    ("Thus the answer is 18 dollars.", "18 dollars"),
    ("The answer is: \\(2\\sqrt{3}\\).", "2\\sqrt{3}"),
    ("Is the answer 5? The answer is 5?", None),
]

GROUPS = [
    ("so $\\boxed{2}$ and $\\boxed{5}$.", ["2", "5"]),
    ("\\boxed{1}, \\boxed{3}, \\boxed{5}", ["1", "3", "5"]),
    ("\\boxed{3} then we check the other case \\boxed{4}", None),
    ("only \\boxed{4}", None),
    ("\\boxed{1} and \\boxed{2", None),
]

NORMALIZE = [
    (r"\left( 3, \frac{\pi}{2} \right)", r"(3,\frac{\pi}{2})"),
    (r"\dfrac{33}{100}", r"\frac{33}{100}"),
    (r"\frac43", r"\frac{4}{3}"),
    (r"\sqrt2", r"\sqrt{2}"),
    (r"10,\!080", "10080"),
    ("154,320,000", "154320000"),
    ("1,3,5", "1,3,5"),
    (r"90^\circ", "90"),
    (r"15\mbox{ cm}^2", "15"),
    (r"\$18.90", "18.90"),
    (r"43.75\%", "43.75"),
    ("x = 5", "5"),
    (r"x \in [-2,7]", "[-2,7]"),
    ("$12$", "12"),
    (r"1\frac{4}{5}", r"\frac{9}{5}"),
    ("2516_8", "2516"),
    ("4.5e33", r"4.5\times10^{33}"),
    (r"4.5 \times 10^{33}", r"4.5\times10^{33}"),
    (r"-12 \text{ or } -30", "-12,-30"),
    (r"\text{(C)}", "(C)"),
    (r"\sin x", r"\sin x"),
    ("y = 2x + 3", "2x+3"),
    ("y = y_0 + 1", "y=y_0+1"),
    (r"\boxed{7}", "7"),
    ("-1./3", "-1/3"),
]


@pytest.mark.parametrize("response,expected", EXTRACT)
def test_extract_answer(response, expected):
    assert extract_answer(response) == expected


@pytest.mark.parametrize("response,expected", FALLBACK)
def test_fallbacks_only_when_asked(response, expected):
    assert extract_answer(response) is None
    assert extract_answer(response, fallbacks=True) == expected


@pytest.mark.parametrize("response,expected", GROUPS)
def test_boxed_group(response, expected):
    assert boxed_group(response) == expected


@pytest.mark.parametrize("raw,expected", NORMALIZE)
def test_normalize(raw, expected):
    assert normalize(raw) == expected


def test_latex2sympy_global_state_does_not_leak_between_parses():
    # latex2sympy2 rebinds a module global to a Symbol when it reads a differential (`dx`),
    # and stores `a = b` as an assignment; neither may change how the next answer is read
    from trl_reasoning.grading.symbolic import to_sympy

    for poison in [r"\frac{d^{2} v_{o}}{d t^{2}}", r"\mathrm{d}x", "dx"]:
        try:
            to_sympy(poison)
        except ValueError:
            pass
        assert str(to_sympy(r"3\times10^{8}")) == "3*10**8"
        assert str(to_sympy("x+1")) == "x + 1"
