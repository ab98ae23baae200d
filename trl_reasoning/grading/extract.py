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
* **Several boxes as a list** (`boxed_group`): the trailing group of boxes, each separated from the
  next only by commas, `and`, `or`, `$` or spaces (at most 24 characters), read as one
  comma-joined list. The grader uses it only when the reference is itself a list, so
  `\boxed{2}, \boxed{5}` equals the reference `2, 5`.
* **Unboxed responses** (`unboxed_answer`, also `extract_answer(..., fallbacks=True)` when there
  is no box): see `unboxed_answer` for the rules. Only the last 2,000 characters are read, and an
  answer is returned only when it is stated, terminated and short, so that a truncated or prose
  response gives `None` rather than a number it happened to mention.
"""


from __future__ import annotations

import re

__all__ = ["extract_answer", "boxed_contents", "boxed_group", "has_box", "unboxed_answer", "response_answer"]

_BOX = re.compile(r"\\(?:boxed|fbox)(?![a-zA-Z])")
_CHOICE = re.compile(r"^\s*(?:\\text(?:bf)?\s*\{\s*)?\(?\s*([A-E])\s*\)?(?:\s*\})?\s*$")
_CHOICE_BOX = re.compile(
    r"\\(?:boxed|fbox)\s*\{\s*(?:\\text(?:bf)?\s*\{\s*)?\(?\s*([A-E])\s*\)?(?:\s*\})?\s*\}"
)
_TAIL_CHARS = 2000  # unboxed responses: only the end is read, so the work is bounded whatever the length
_MAX_STATED_CHARS = 400
_MAX_AFTER_CHARS = 160
_MAX_GROUP = 64
_GROUP_GAP = re.compile(
    r"(?:[\s,;$&]|\\[,;! ]|\\q?quad(?![a-zA-Z])|\\text\s*\{\s*(?:and|or)?\s*,?\s*\}|\band\b|\bor\b){0,24}"
)
_MARKER = re.compile(
    r"(?:(?<![a-z])(?:the\s+)?final\s+answer|(?<![a-z])the\s+answer|(?<![a-z])answer(?=\s*\**\s*:))"
    r"\s*\**\s*(?:is\b|:|=)?\s*\**\s*:?[ \t]*\n?[ \t]*|####[ \t]*",
    re.IGNORECASE,
)
_MATH_SPANS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"), ("**", "**"))
_TERMINATOR = re.compile(r"\.(?=\s|$|\*)|\n|!|\?|;|\*\*")
_WORD = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{2,}")
_FILLER = re.compile(r"^(?:approximately|about|exactly|equal\s+to|given\s+by|then)\s+", re.IGNORECASE)
_HEDGE = re.compile(r"(?<![a-zA-Z\\])(?:not|no|neither|nor|either|unknown|unclear|maybe|perhaps|possibly|between)(?![a-zA-Z])", re.IGNORECASE)
_CONCLUSION = re.compile(
    r"(?<![a-zA-Z])(?:therefore|thus|hence|so|total|altogether|overall|result|answer)(?![a-zA-Z])|\\therefore",
    re.IGNORECASE,
)
_BOLD_LINE = re.compile(r"^\s*\*\*(?!\*)(.+?)\*\*\s*\.?\s*$")
_ANSWER_LABEL = re.compile(r"^\s*(?:final\s+)?answer\s*:?\s*", re.IGNORECASE)


def has_box(response: str) -> bool:
    """True when the response contains `\\boxed` or `\\fbox`."""
    return bool(_BOX.search(response))


def _box_span(response: str, match: re.Match, limit: int | None = None) -> tuple[str | None, int]:
    """(content, end) of the box whose command `match` found; content `None` when empty or unclosed.

    `limit` bounds how far a box may reach, so scanning many boxes stays linear.
    """
    index = match.end()
    length = len(response) if limit is None else min(len(response), index + limit)
    while index < length and response[index] in " \t\n":
        index += 1
    if index >= length:
        return None, index
    if response[index] != "{":
        token = re.match(r"[^\s$]+", response[index:min(length, index + 1000)])
        return (token.group(0), index + token.end()) if token else (None, index)
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
                return content or None, index + 1
        index += 1
    return None, index


def _box_at(response: str, match: re.Match, limit: int | None = None) -> str | None:
    return _box_span(response, match, limit)[0]


def boxed_contents(response: str) -> list[str | None]:
    """Every box in the response, in order (`None` for an empty or unclosed one)."""
    matches = list(_BOX.finditer(response))
    ends = [following.start() for following in matches[1:]] + [len(response)]
    return [_box_at(response, match, end - match.end()) for match, end in zip(matches, ends)]


def boxed_group(response: str) -> list[str] | None:
    """The trailing group of two or more boxes joined only by `,`, `and`, `or`, `$`, spaces; else `None`.

    `so $\\boxed{2}$ and $\\boxed{5}$.` -> `["2", "5"]`. Each box is scanned only up to the next
    one, so the work is linear in the response length.
    """
    matches = list(_BOX.finditer(response))
    if len(matches) < 2:
        return None
    group: list[str] = []
    following_start = len(response)
    for match in reversed(matches[-_MAX_GROUP:]):
        content, end = _box_span(response, match, following_start - match.end())
        if content is None:
            break
        if group:
            gap = response[end:following_start]
            if len(gap) > 24 or _GROUP_GAP.fullmatch(gap) is None:
                break
        group.append(content)
        following_start = match.start()
    return list(reversed(group)) if len(group) >= 2 else None


def _choice_letter(content: str | None) -> str | None:
    if content is None:
        return None
    match = _CHOICE.match(content)
    return match.group(1) if match else None


def _words(text: str) -> int:
    """Plain words (two letters or more, not LaTeX commands), outside `\\text{}` units too."""
    return len(_WORD.findall(text))


def _short_answer(content: str) -> str | None:
    """`content` when it reads as a stated answer, not prose: short, at most three words, no hedge."""
    content = _FILLER.sub("", content.strip().strip("*").strip()).rstrip(".").strip()
    if not content or len(content) > _MAX_STATED_CHARS or "\\boxed" in content:
        return None
    if _words(content) > 3 or _HEDGE.search(content):
        return None
    return content


def _span_after(tail: str, position: int, line_end_ok: bool) -> tuple[str, int] | None:
    """Read a stated answer at `position`: a closed `$..$`, `\\[..\\]`, `\\(..\\)`, `**..**`, or text
    up to a sentence end. `None` when it never closes or never ends (a truncated response)."""
    while position < len(tail) and tail[position] in " \t":
        position += 1
    for opening, closing in _MATH_SPANS:
        if tail.startswith(opening, position):
            end = tail.find(closing, position + len(opening))
            while opening == "$" and end > 0 and tail[end - 1] == "\\":  # `\$` is a dollar sign, not math
                end = tail.find(closing, end + 1)
            if end < 0:
                return None
            content = tail[position + len(opening):end]
            position = end + len(closing)
            # `$20$ miles.`: the sentence may go on for a few words (a unit, which is dropped) before it ends
            if opening != "**":
                rest = _TERMINATOR.search(tail, position, position + 40)
                trailing = tail[position:rest.start()] if rest else tail[position:position + 40]
                if rest is None and position < len(tail.rstrip()):
                    return None
                if trailing.strip() and not re.fullmatch(r"\s*(?:\\text\{[^{}]*\}|[a-zA-Z ]{1,20}|\*\*)\s*", trailing):
                    return None
                position = rest.end() if rest else len(tail)
            return content, position
    stop = _TERMINATOR.search(tail, position)
    if stop is None:
        if not line_end_ok:
            return None
        return tail[position:], len(tail)
    if stop.group(0) == "?":
        return None
    return tail[position:stop.start()], stop.end()


def _after_is_quiet(after: str) -> bool:
    """What follows a stated answer may only be a short closing remark (no numbers, no `=`, no box)."""
    after = after.strip()
    return len(after) <= _MAX_AFTER_CHARS and not re.search(r"[\d=]|\\boxed", after)


def _stated(tail: str) -> str | None:
    markers = list(_MARKER.finditer(tail))
    if not markers:
        return None
    marker = markers[-1]
    hashes = marker.group(0).startswith("####")
    span = _span_after(tail, marker.end(), line_end_ok=hashes)
    if span is None:
        return None
    content, end = span
    if not _after_is_quiet(tail[end:]):
        return None
    return _short_answer(content)


def _last_line(tail: str) -> str:
    lines = [line for line in tail.strip().split("\n") if line.strip()]
    return lines[-1].strip() if lines else ""


def _bold_last_line(tail: str) -> str | None:
    bold = _BOLD_LINE.match(_last_line(tail))
    if not bold:
        return None
    content = _ANSWER_LABEL.sub("", bold.group(1)).strip()
    if content.startswith("$") and content.endswith("$") and len(content) > 1:
        content = content.strip("$")
    return _short_answer(content)


def _trailing_equals(tail: str) -> str | None:
    """`Therefore the total is $3 + 5 = 8$.`: the right side of the last `=` of a concluding last sentence."""
    line = _last_line(tail)
    if not re.search(r"(?:\.|\$|\\\]|\\\))\s*$", line):
        return None  # the last sentence never ended: possibly truncated
    sentence = re.split(r"(?<=[a-z\$])\.\s+", line)[-1]
    if not _CONCLUSION.search(sentence) or "=" not in sentence:
        return None
    right = sentence[sentence.rindex("=") + 1:]
    right = re.sub(r"(?:\\\]|\\\)|\$)+\s*\.?\s*$|\.\s*$", "", right.strip()).strip().strip("$").strip()
    if not right or len(right) > 40 or re.search(r"[<>]|\\[lg]e", right) or _words(right) > 2:
        return None
    return _short_answer(right)


def _bare(response: str) -> str | None:
    """A short response with no sentence in it (`x = 3`, `$\\frac{1}{2}$`) is its own answer."""
    text = response.strip()
    if len(text) > 80 or "\n" in text or _words(text) > 1 or _HEDGE.search(text):
        return None
    if "**" in text or len(re.findall(r"(?<!\\)\$", text)) % 2:
        return None  # an unclosed bold or math span: cut off
    return text or None


def unboxed_answer(response: str) -> str | None:
    r"""The final answer of a response with no box, or `None`; the rules, in order:

    1. a short response with no sentence in it (at most 80 characters, one line, at most one
       word: `x = 3`, `$\frac{1}{2}$`, `18 dollars`, `Evelyn`) is its own answer;
    2. the **last** "final answer", "the answer is", "Answer:" or GSM8K `####` in the last 2,000
       characters: the answer is the closed `$...$` / `\[...\]` / `\(...\)` / `**...**` right after
       it, or the text up to the end of its sentence. It must *end* (a closing delimiter, a full stop,
       a new line; `####` may end with the response), it must be short (400 characters, at most three
       words, no hedging word such as "not", "either", "maybe"; "approximately" is dropped), no `?`
       may end it, and what follows may only be a short closing remark without digits or `=`;
       when the last marker fails these rules there is no answer (an earlier one is not used);
    3. a bold last line, `**42**` or `**Answer: 42**`, under the same shortness rules;
    4. the right side of the last `=` in a *concluding* last sentence ("so", "thus", "therefore",
       "total", "answer"...), which must end with `.`, `$` or `\]`: `So the total is $3 + 5 = 8$.`

    A bold or concluding last line (rules 3-4) that comes after the last marker is the later
    statement and wins over it. Anything else (prose, a response cut off mid-sentence, a last
    number mentioned in passing) has
    no answer. The work is linear in at most 2,000 characters.
    """
    if not isinstance(response, str) or not response.strip():
        return None
    tail = response[-_TAIL_CHARS:]
    markers = list(_MARKER.finditer(tail))
    last_line = tail.rstrip().rfind("\n") + 1
    if markers and markers[-1].start() >= last_line:
        return _stated(tail)
    # a bold or concluding last line after the last marker is the later statement, so it wins
    stated = _bold_last_line(tail) or _trailing_equals(tail)
    if markers:
        return stated or _stated(tail)
    if stated is None and len(response) <= 80:
        return _bare(response)
    return stated


def extract_answer(response: str, fallbacks: bool = False) -> str | None:
    """Return the final answer of `response` (see the module docstring), or `None` when there is none.

    `fallbacks=True` reads a response with no box by `unboxed_answer`'s rules.
    """
    if not isinstance(response, str) or not response:
        return None
    matches = list(_BOX.finditer(response))
    if not matches:
        return unboxed_answer(response) if fallbacks else None
    if len(matches) > 1:
        letters: list[str] = []
        for match in _CHOICE_BOX.finditer(response):  # one linear scan, however many boxes
            if match.group(1) not in letters:
                letters.append(match.group(1))
        if len(letters) >= 2:
            return ",".join(letters)
    return _box_at(response, matches[-1])


def response_answer(response: str, reference_is_list: bool = False, unboxed: bool = True) -> str | None:
    """The answer the grader reads from a whole response.

    The last box (box-every-choice rule included); when the reference is a list, a trailing group of
    two or more boxes (`boxed_group`) is read as that list; with no box, `unboxed_answer` when
    `unboxed` is true, else `None`.
    """
    if not isinstance(response, str) or not response:
        return None
    if not has_box(response):
        return unboxed_answer(response) if unboxed else None
    if reference_is_list:
        group = boxed_group(response)
        if group:
            return ", ".join(group)
    return extract_answer(response)
