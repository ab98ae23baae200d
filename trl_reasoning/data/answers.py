"""Reading a response's final answer without the LaTeX grader: its text, its last number, exact number equality.

Dependency-free, so rewards, the held-out evaluator and third-party plugins share one definition::

    >>> last_number("3 + 5 = 8.")
    '8'
    >>> lenient_correct("so 8.0", "8"), lenient_correct("1,250 apples", "1250")
    (True, True)
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

__all__ = ["completion_text", "last_number", "lenient_correct", "same_number", "to_fraction"]

# A number as a model writes it: optional sign, thousands groups or plain digits, optional decimals.
_NUMBER = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|(?<![\w\d])-?\.\d+")


def completion_text(completion: Any) -> str:
    """The text of a completion: a string, or the last assistant (else last) message of a conversation."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content") or "")
    if isinstance(completion, (list, tuple)):
        messages = [message for message in completion if isinstance(message, dict)]
        assistant = [message for message in messages if message.get("role") == "assistant"]
        chosen = (assistant or messages)[-1:] if messages else []
        content = chosen[0].get("content") if chosen else ""
        if isinstance(content, list):  # multimodal content parts
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        return str(content or "")
    return "" if completion is None else str(completion)


def to_fraction(text: str) -> Fraction | None:
    """``text`` as an exact number (``"1,250"``, ``"-0.5"``, ``"3/4"``), or ``None``."""
    text = text.strip().strip("$").replace(",", "").replace(" ", "")
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None


def last_number(response: str) -> str | None:
    """The last number written in ``response`` (``"3 + 5 = 8."`` -> ``"8"``), thousands separators kept."""
    numbers = _NUMBER.findall(response)
    return numbers[-1] if numbers else None


def same_number(a: str | None, b: str | None) -> bool:
    """Both are the same exact number (``"8.0"`` and ``"8"``); two non-numbers compare as stripped text."""
    if a is None or b is None:
        return False
    first, second = to_fraction(a), to_fraction(b)
    if first is None or second is None:
        return a.strip() == b.strip()
    return first == second


def lenient_correct(response: str, reference: str) -> bool:
    """Whether the last number in ``response`` equals ``reference`` as an exact number (``"8.0"`` equals ``"8"``).

    ``False`` when the reference is not a plain number (``\\frac{1}{2}``, ``(3, 4)``): only numbers compare here.
    """
    expected = to_fraction(reference)
    found = last_number(response)
    if expected is None or found is None:
        return False
    return to_fraction(found) == expected
