"""Turn a LaTeX answer into a canonical string before it is compared.

    >>> from trl_reasoning.grading import normalize
    >>> normalize(r"$\\left( 3, \\dfrac{\\pi}{2} \\right)$")
    '(3,\\\\frac{\\\\pi}{2})'
    >>> normalize(r"10,\\!080 \\text{ cm}^2")
    '10080'

What `normalize` does, in this order:

1. strips `$...$`, `\\(...\\)`, `\\[...\\]`, `\\boxed{...}` wrappers and `\\displaystyle`;
2. drops `\\left`, `\\right`, `\\big...` sizing, thin spaces (`\\!`, `\\,`, `\\;`, `~`, `\\quad`);
3. `\\dfrac`, `\\tfrac`, `\\cfrac` become `\\frac`; `\\frac43`, `\\frac 59`, `\\sqrt2` get braces;
4. scientific notation `4.5e33` and `4.5 \\times 10^{33}` both become `4.5\\times10^{33}`;
5. degrees (`^\\circ`, `^{\\circ}`, `°`), `\\%`, `\\$` are dropped; trailing `\\text{...}` /
   `\\mathrm{...}` / `\\mbox{...}` groups (with an optional power, `\\text{ cm}^2`) are units and
   are dropped, as is a plain unit word after a number (`5 cm`); any other `\\text{X}` becomes `X`;
6. `\\text{ or }` / `\\text{ and }` become a comma (several answers);
7. thousands separators (`10,\\!080`, `23{,}000`, and `154,320,000` when every group has three digits);
8. whitespace is removed, except one space between a command and a following letter (`\\sin x`);
9. trailing `.`, `,`, `;` are dropped;
10. a leading `x =`, `f(x) =`, `x \\in` whose left side is a single variable (optionally with a
    subscript) or a function of one is dropped (`x=3` becomes `3`);
11. a mixed number `1\\frac{4}{5}` becomes `\\frac{9}{5}`; a base subscript `2516_8` becomes `2516`.

Steps 10 and 11 also apply to each element of a list (`element`), which `structured` calls.
Every step is linear in the input length (no pattern can rescan a digit run from each of its
positions), and the grader never passes more than `grader.MAX_RAW_CHARS` (4,000) characters here.
"""

from __future__ import annotations

import re

__all__ = ["normalize", "element", "canonical_args", "matching_braces"]

_WRAPPERS = [(r"\(", r"\)"), (r"\[", r"\]"), ("$$", "$$")]
_SPACING = re.compile(
    r"(?<!\\)\\(?:displaystyle|textstyle|quad|qquad|[,!;: ]|bigl|bigr|Bigl|Bigr|biggl|biggr|big|Big|bigg|Bigg)(?![a-zA-Z])|~"
)
_LEFT_RIGHT = re.compile(r"\\(?:left|right)(?:\.|(?![a-zA-Z]))")
_FRAC_ALIASES = re.compile(r"\\[dtc]frac(?![a-zA-Z])")
_TEXT_ALIASES = re.compile(r"\\(?:mbox|textbf|textrm|textit|textnormal|mathrm|mathbf|operatorname\*?|rm|mathit)(?=\s*\{)")
_DEGREES = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|°|\\degree(?![a-zA-Z])")
_SCI_E = re.compile(r"(?<![\w.])(\d+(?:\.\d*)?|\.\d+)[eE]([+-]?\d+)(?![\w.])")
# the lookbehinds make a match start only at the first digit of a run: without them a long digit
# run is rescanned from every position (quadratic; 40,000 digits took 15 s)
_SCI_TIMES = re.compile(r"(?<![\d.])(\d+(?:\.\d*)?|\.\d+)\s*\\(?:times|cdot)\s*10\s*\^\s*\{?\s*([+-]?\d+)\s*\}?")
_OR_AND = re.compile(r"\\text\{\s*(?:or|and)\s*\}|(?<=[\s}$])(?:or|and)(?=[\s\\$])", re.IGNORECASE)
_THOUSANDS_MARKED = re.compile(r"(?<=\d)(?:\{,\}|,\\!\s*|,\s*\\!\s*)(?=\d{3})")
_THOUSANDS_PLAIN = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_UNIT_GROUP = re.compile(r"\\text\s*\{[^{}]*\}(?:\s*\^\s*(?:\{\s*-?\d\s*\}|-?\d))?\s*$")
_PLAIN_UNIT = re.compile(r"^(-?(?:\d+(?:\.\d*)?|\.\d+))\s+[a-zA-Z]{2,}[a-zA-Z /^{}\d.-]*$")
_KEEP_SPACE = re.compile(r"(\\[a-zA-Z]+)\s+(?=[a-zA-Z])")
_LHS = re.compile(
    r"^(?:[a-zA-Z](?:_\{?[a-zA-Z0-9,\\ ]+\}?)?|\\[a-zA-Z]+|[a-zA-Z](?:_\{?[a-zA-Z0-9]+\}?)?\([a-zA-Z]\))(?:=|\\in(?![a-zA-Z]))"
)
_MIXED = re.compile(r"^(-?)(\d+)\\frac\{(\d+)\}\{(\d+)\}$")
_BASE = re.compile(r"^\(?([0-9A-Z]+)\)?_\{?(\d{1,2})\}?$")


def matching_braces(text: str, opening: str = "{", closing: str = "}") -> dict[int, int]:
    """Map the index of every unescaped `opening` to the index of its `closing` (unbalanced ones are left out)."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char == "\\":
            index += 2  # an escaped brace (`\{`) is a literal set brace, not a group
            continue
        if char == opening:
            stack.append(index)
        elif char == closing and stack:
            pairs[stack.pop()] = index
        index += 1
    return pairs


def _read_argument(text: str, start: int, pairs: dict[int, int]) -> tuple[str, int] | None:
    """Read one macro argument at `start`: a `{group}`, a `\\command` or one character."""
    index = start
    while index < len(text) and text[index] == " ":
        index += 1
    if index >= len(text):
        return None
    if text[index] == "{":
        end = pairs.get(index)
        if end is None:
            return None
        return text[index + 1 : end], end + 1
    if text[index] == "\\":
        match = re.match(r"\\[a-zA-Z]+", text[index:index + 64])
        if match:
            return match.group(0), index + len(match.group(0))
        return None
    if text[index] in "}^_&":
        return None
    return text[index], index + 1


def canonical_args(text: str, _depth: int = 0) -> str:
    """Give `\\frac` and `\\sqrt` braced arguments: `\\frac43` -> `\\frac{4}{3}`, `\\sqrt2` -> `\\sqrt{2}`."""
    if "\\frac" not in text and "\\sqrt" not in text:
        return text
    if _depth > 20:  # deeper nesting is not a real answer; leave it as it is
        return text

    def inner(argument: str) -> str:
        return canonical_args(argument, _depth + 1)

    out: list[str] = []
    index = 0
    pairs = matching_braces(text)
    for match in re.finditer(r"\\(frac|sqrt)(?![a-zA-Z])", text):
        if match.start() < index:
            continue  # inside an argument we already copied
        out.append(text[index:match.start()])
        position = match.end()
        if match.group(1) == "sqrt":
            optional = ""
            rest = text[position:position + 16]
            option = re.match(r"\s*\[([^\[\]]*)\]", rest)
            if option:
                optional = f"[{option.group(1)}]"
                position += option.end()
            argument = _read_argument(text, position, pairs)
            if argument is None:
                out.append(text[match.start():position])
                index = position
                continue
            out.append(f"\\sqrt{optional}{{{inner(argument[0])}}}")
            index = argument[1]
            continue
        first = _read_argument(text, position, pairs)
        second = _read_argument(text, first[1], pairs) if first else None
        if first is None or second is None:
            out.append(text[match.start():position])
            index = position
            continue
        out.append(f"\\frac{{{inner(first[0])}}}{{{inner(second[0])}}}")
        index = second[1]
    out.append(text[index:])
    return "".join(out)


def _strip_wrappers(text: str) -> str:
    text = text.strip()
    changed = True
    while changed and text:
        changed = False
        for opening, closing in _WRAPPERS:
            if text.startswith(opening) and text.endswith(closing) and len(text) >= len(opening) + len(closing):
                text = text[len(opening):len(text) - len(closing)].strip()
                changed = True
    # every unescaped `$` is a math-mode toggle, never part of the answer
    return re.sub(r"(?<!\\)\$", "", text).strip()


def _strip_units(text: str) -> str:
    while True:
        match = _UNIT_GROUP.search(text)
        if not match or not text[:match.start()].strip():
            break
        text = text[:match.start()].rstrip()
    plain = _PLAIN_UNIT.match(text)
    if plain:
        text = plain.group(1)
    return text


def _unwrap_text(text: str) -> str:
    """`\\text{X}` -> `X` (no nesting inside text groups in practice; nested ones are left alone)."""
    return re.sub(r"\\text\s*\{([^{}]*)\}", lambda m: m.group(1), text)


def _thousands(text: str) -> str:
    text = _THOUSANDS_MARKED.sub("", text)
    if _THOUSANDS_PLAIN.fullmatch(text):
        text = text.replace(",", "")
    return text


def element(text: str, strip_lhs: bool = True) -> str:
    """Per-answer clean-up, for a whole answer or one element of a list: `x=`, mixed numbers, bases."""
    text = text.strip()
    lhs = _LHS.match(text) if strip_lhs else None
    if lhs and text.count("=") <= 1:
        rest = text[lhs.end():]
        # keep real equations such as `y=2x+y_0`? the LHS variable must not reappear on the right
        name = re.match(r"\\?[a-zA-Z]+", lhs.group(0)).group(0)
        if rest and not re.search(re.escape(name) + r"(?![a-zA-Z])", rest):
            text = rest
    mixed = _MIXED.match(text)
    if mixed:
        sign, whole, numerator, denominator = mixed.groups()
        if int(denominator) != 0:
            total = int(whole) * int(denominator) + int(numerator)
            text = f"{sign}\\frac{{{total}}}{{{denominator}}}"
    base = _BASE.match(text)
    if base and 2 <= int(base.group(2)) <= 36:
        text = base.group(1)
    return text


def normalize(answer: str, *, strip_lhs: bool = True) -> str:
    """Return the canonical form of one answer string (see the module docstring for the steps).

    `strip_lhs=False` keeps a leading `y =` (the grader does this when the reference is an equation).
    """
    if not isinstance(answer, str):
        answer = "" if answer is None else str(answer)
    text = _strip_wrappers(answer)
    boxed = re.fullmatch(r"\\(?:boxed|fbox)\s*\{(.*)\}", text, re.DOTALL)
    if boxed and len(matching_braces(text)) and matching_braces(text).get(text.index("{")) == len(text) - 1:
        text = _strip_wrappers(boxed.group(1))
    text = text.replace("\n", " ").replace("\t", " ")
    text = _LEFT_RIGHT.sub("", text)
    text = _SPACING.sub(" ", text)
    text = _FRAC_ALIASES.sub(r"\\frac", text)
    text = _TEXT_ALIASES.sub(r"\\text", text)
    text = re.sub(r"\\(?:dots|ldots|cdots)\s*$", "", text)
    text = _OR_AND.sub(",", text)
    text = _DEGREES.sub("", text)
    text = re.sub(r"\\?%", "", text)
    text = text.replace("\\$", "")
    text = re.sub(r"(?<=\d)\.(?=\s*[/)\]}])", "", text)  # `-1./3` (code-style float) is `-1/3`
    text = _SCI_E.sub(lambda m: f"{m.group(1)}\\times10^{{{int(m.group(2))}}}", text)
    text = _SCI_TIMES.sub(lambda m: f"{m.group(1)}\\times10^{{{int(m.group(2))}}}", text)
    text = _strip_units(text.strip())
    text = _unwrap_text(text)
    text = _thousands(text.strip())
    text = canonical_args(text)
    text = _KEEP_SPACE.sub("\\1\x00", text)
    text = re.sub(r"\s+", "", text).replace("\x00", " ")
    text = text.replace("≤", "\\leq").replace("≥", "\\geq").replace("≠", "\\neq")
    text = re.sub(r"\\(?:le|leqslant)(?![a-zA-Z])", r"\\leq", text)
    text = re.sub(r"\\(?:ge|geqslant)(?![a-zA-Z])", r"\\geq", text)
    text = re.sub(r"\\ne(?![a-zA-Z])", r"\\neq", text)
    text = text.rstrip(".,;")
    text = _thousands(text)
    return element(text, strip_lhs)
