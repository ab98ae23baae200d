"""Plain-number comparison: relative tolerance only, as documented (no hidden absolute tolerance)."""

from __future__ import annotations

import pytest

from trl_reasoning.grading import grade
from trl_reasoning.grading.numeric import numbers_equal, parse_number

# (reference, answer, rel_tol, equal)
NUMBERS = [
    ("1.325e-27", "2.325e-27", 1e-4, False),  # tiny but different: an absolute tolerance would call them equal
    ("1.325e-27", "1.3250001e-27", 1e-4, True),
    ("0", "1e-13", 1e-4, False),  # zero equals only zero
    ("0", "0.0", 1e-4, True),
    ("0", "-0.0", 1e-4, True),
    ("1e-13", "0", 1e-4, False),
    ("4.5e33", "4.46e33", 1e-2, True),
    ("4.5e33", "4.46e33", 1e-4, False),
    ("1000000", "1000001", 1e-4, False),  # exact integers compare exactly
    ("0.5", "\\frac{1}{2}", 1e-4, True),
    ("6.626e-34", "6.626\\times10^{-34}", 1e-4, True),
    ("-2.5", "2.5", 1e-4, False),
]


@pytest.mark.parametrize("reference,answer,rel_tol,equal", NUMBERS)
def test_numbers_equal_is_relative_only(reference, answer, rel_tol, equal):
    from trl_reasoning.grading import normalize

    first, second = parse_number(normalize(reference)), parse_number(normalize(answer))
    assert first is not None and second is not None
    assert numbers_equal(first, second, rel_tol) is equal
    assert grade(reference, answer, rel_tol=rel_tol).equal is equal


# percent: the side with `%`, divided by 100, may equal the other side; dropping `%` also matches
PERCENT = [
    ("10\\%", "0.1", True),
    ("10\\%", "10", True),
    ("10\\%", "10\\%", True),
    ("0.1", "10\\%", True),
    ("10\\%", "\\frac{1}{10}", True),
    ("62.5%", "0.625", True),
    ("10\\%", "0.01", False),
    ("10\\%", "1", False),
    ("5", "0.05", False),  # no percent sign on either side: no scaling
]


@pytest.mark.parametrize("reference,answer,equal", PERCENT)
def test_percent(reference, answer, equal):
    assert grade(reference, answer).equal is equal
