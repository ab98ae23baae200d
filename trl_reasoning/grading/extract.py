r"""Find the final answer in a model response.

    >>> from trl_reasoning.grading import extract_answer
    >>> extract_answer(r"so $x = \boxed{\frac{1}{2}}$.")
    '\\frac{1}{2}'
    >>> extract_answer("The answer is 42.") is None          # fallbacks are off by default
    True
    >>> extract_answer("The answer is 42.", fallbacks=True)
    '42'

Rules
-----
* The answer is the content of the **last** `\boxed{...}` or `\fbox{...}` in the response. Braces nest;
  escaped braces (`\{`, `\}`) are content, not grouping. `\boxed 5` (a box followed by one token)
  is read up to the next space or `$`.
* An empty box, or a last box whose braces never close (a truncated response), gives `None`: the
  response has no answer. An earlier box is *not* used instead, so a model cannot box a guess early
  and then ramble.
* **Box-every-choice rule.** When the boxes of a response hold two or more *different* choice letters
  (`A`..`E`, bare, in parentheses or in `\text{}`), the answer is all of those letters joined by
  commas, e.g. `"A,B,C,D,E"`. A list of letters never equals a single-choice reference, so boxing
  every option earns nothing, even when the last box happens to hold the right letter. Other
  responses that box several different answers are graded on their last box only.
* Fallbacks (`fallbacks=True`, used only when the response has no box at all), tried in order:
  1. the text after the last "final answer is" / "the answer is" (up to the end of the line or
     sentence; a `$...$` right after it is taken whole);
  2. the text after a GSM8K-style `####` marker;
  3. the last number in the response (`-3`, `1,234`, `0.5`, `3/4`).
"""

from __future__ import annotations

import re

__all__ = ["extract_answer", "boxed_contents", "has_box"]

_BOX = re.compile(r"\\(?:boxed|fbox)(?![a-zA-Z])")
_CHOICE = re.compile(r"^\s*(?:\\text(?:bf)?\s*\{\s*)?\(?\s*([A-E])\s*\)?(?:\s*\})?\s*$")
_ANSWER_IS = re.compile(r"(?:final answer|the answer)\s*(?:is|:)\s*:?\s*", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+")


def has_box(response: str) -> bool:
    """True when the response contains `\\boxed` or `\\fbox`."""
    return bool(_BOX.search(response))


def _box_at(response: str, match: re.Match, limit: int | None = None) -> str | None:
    """Content of the box whose command `match` found; `None` when it is empty or never closes.

    `limit` bounds how far a box may reach, so scanning many boxes stays linear.
    """
    index = match.end()
    length = len(response) if limit is None else min(len(response), index + limit)
    while index < length and response[index] in " \t\n":
        index += 1
    if index >= length:
        return None
    if response[index] != "{":
        token = re.match(r"[^\s$]+", response[index:index + 1000])
        return token.group(0) if token else None
    depth = 0
    start = index + 1
    while index < length:
        char = response[index]
        if char == "\\":
            index += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                content = response[start:index].strip()
                return content or None
        index += 1
    return None


def boxed_contents(response: str) -> list[str | None]:
    """Every box in the response, in order (`None` for an empty or unclosed one)."""
    return [_box_at(response, match) for match in _BOX.finditer(response)]


def _choice_letter(content: str | None) -> str | None:
    if content is None:
        return None
    match = _CHOICE.match(content)
    return match.group(1) if match else None


def _fallback(response: str) -> str | None:
    said = list(_ANSWER_IS.finditer(response))
    if said:
        rest = response[said[-1].end():].lstrip()
        if rest.startswith("$"):
            closing = rest.find("$", 1)
            if closing > 0:
                return rest[1:closing].strip() or None
        line = rest.split("\n", 1)[0]
        line = re.split(r"\.(?:\s|$)", line, maxsplit=1)[0].strip().rstrip(".")
        if line:
            return line
    marker = response.rfind("####")
    if marker >= 0:
        rest = response[marker + 4:].strip().split("\n", 1)[0].strip()
        if rest:
            return rest
    numbers = _NUMBER.findall(response)
    if numbers:
        return numbers[-1].rstrip(",")
    return None


def extract_answer(response: str, fallbacks: bool = False) -> str | None:
    """Return the final answer of `response` (see the module docstring), or `None` when there is none."""
    if not isinstance(response, str) or not response:
        return None
    matches = list(_BOX.finditer(response))
    if not matches:
        return _fallback(response) if fallbacks else None
    if len(matches) > 1:
        letters: list[str] = []
        for match in matches:
            letter = _choice_letter(_box_at(response, match, limit=64))
            if letter and letter not in letters:
                letters.append(letter)
        if len(letters) >= 2:
            return ",".join(letters)
    return _box_at(response, matches[-1])
