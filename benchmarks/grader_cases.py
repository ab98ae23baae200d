r"""Model-like grading cases: benchmark references with generated response phrasings, labelled by construction.

    TRL_REASONING_DATA_DIR=/path/to/data .venv/bin/python benchmarks/grader_cases.py   # rewrites tests/grading/response_cases.jsonl

`model_like_pairs(data_dir, per_reference=...)` builds `(reference, response, equal, category)` rows from the
six evaluation benchmarks (MATH-500, AIME 2024, AIME 2025, AMC 2023, Minerva, OlympiadBench). Each response is
a stretch of reasoning (the first part of the row's own worked solution, with its boxes removed, or a
restatement of the problem) followed by one way of giving the final answer:

| category | how the response ends | label |
|---|---|---|
| `boxed` | `\boxed{answer}` in one of several phrasings, or a re-rendered form of the answer in a box | equal |
| `unboxed` | "The answer is $a$.", Minerva's "Final Answer: The final answer is $a$. I hope it is correct.", `**Answer:** $a$`, `#### a`, a bold last line, "Therefore, $N = a$." | equal |
| `wrong` | the same phrasings holding a perturbed answer (a changed digit, a flipped sign) | unequal |
| `truncated` | a correct response cut off before its answer is complete (inside the box or the statement) | unequal |
| `prose` | reasoning that stops without stating an answer, or states it in words that are not an answer | unequal |

A response is labelled unequal when it is cut off or never states the answer: a careful human would not
mark it correct, even if the right number appears in passing. `hand_cases()` adds labelled cases written
here for the equivalence questions the generated ones rarely reach (percent, inequalities and intervals,
several boxed parts, units, implicit multiplication, choices, text answers).

The labelled file is `tests/grading/response_cases.jsonl`: a fixed-seed draw of generated cases whose working
is written from templates (`synthetic=True`: only the short reference answers come from the benchmark files),
plus every hand case. The throughput set of `benchmarks/grader.py` uses the rows' own solution text as the
working, read from the data directory at run time (MIT MATH-500; AIME/AMC problems (c) MAA; Minerva OCW
CC BY-NC-SA 4.0; OlympiadBench Apache-2.0: see the data README).
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trl_reasoning.grading.rerender import rerenderings  # noqa: E402

BENCHMARKS = ("math500", "aime24", "aime25", "amc23", "minerva_math", "olympiadbench")
CASES_FILE = ROOT / "tests" / "grading" / "response_cases.jsonl"
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")


NO_DATA_DIR = "set TRL_REASONING_DATA_DIR to the folder with the full benchmark files (math500.jsonl, ...)"


def data_dir() -> Path:
    """The folder in `TRL_REASONING_DATA_DIR` (the full benchmark files); exits with a hint when unset."""
    return Path(os.environ.get("TRL_REASONING_DATA_DIR") or sys.exit(NO_DATA_DIR)).resolve()


def load_rows(directory: Path) -> list[dict]:
    rows = []
    for name in BENCHMARKS:
        with (directory / f"{name}.jsonl").open(encoding="utf-8") as handle:
            rows.extend(json.loads(line) for line in handle if line.strip())
    return rows


def _unbox(text: str) -> str:
    """Remove every `\\boxed{...}` wrapper, keeping its content."""
    out, index = [], 0
    for match in _BOXED.finditer(text):
        if match.start() < index:
            continue
        depth, position = 1, match.end()
        while position < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[position], 0)
            position += 1
        out.append(text[index:match.start()])
        out.append(text[match.end():position - 1])
        index = position
    out.append(text[index:])
    return "".join(out)


def synthetic_reasoning(rng: random.Random) -> str:
    """Generated working with intermediate numbers and equations (no benchmark text)."""
    a, b = rng.randint(2, 40), rng.randint(2, 40)
    steps = [
        f"Let $a = {a}$ and $b = {b}$.",
        f"Then $a + b = {a + b}$ and $ab = {a * b}$.",
        f"Substituting, the expression becomes ${a}x + {b} = {a * b}$, so $x = \\frac{{{a * b - b}}}{{{a}}}$.",
        f"We check the case $x = {rng.randint(1, 9)}$ separately; it gives ${a + b} - {b} = {a}$.",
        "Now we simplify the remaining terms.",
    ]
    rng.shuffle(steps)
    return " ".join(steps[:rng.randint(2, 5)]) + "\n\n"


def reasoning(row: dict, rng: random.Random, synthetic: bool = False) -> str:
    """Model-like working that stops before the final answer is stated."""
    solution = row.get("solution")
    if synthetic:
        return synthetic_reasoning(rng)
    if solution:
        text = _unbox(solution)
        cut = max(80, int(len(text) * rng.uniform(0.3, 0.6)))
        # never up to where the solution states its answer: the working must stop before it
        stated = text.find(row["answer"].strip()) if row["answer"].strip() else -1
        if 0 <= stated < cut:
            cut = stated
        text = text[:cut]
        # end at a sentence or paragraph boundary outside any math, so it reads as unfinished reasoning
        for boundary in sorted((m.end() for m in re.finditer(r"\.\s|\n\n", text)), reverse=True):
            prefix = text[:boundary]
            if prefix.count("$") % 2 == 0 and prefix.count("\\[") == prefix.count("\\]") and boundary > 40:
                return prefix.strip() + "\n\n"
        return ""
    problem = row["problem"].strip().split("\n")[0][:300]
    return f"We need to solve the following. {problem}\n\nLet us work through it step by step.\n\n"


def perturb(answer: str) -> str:
    digit = re.search(r"\d", answer)
    if digit:
        index = digit.start()
        return answer[:index] + str((int(answer[index]) + 1) % 10) + answer[index + 1:]
    return f"-({answer})"


def _lone(answer: str) -> bool:
    return not re.search(r"[,=<>]|\\(?:le|ge|leq|geq|cup|pm|text|mbox|begin)|\\\{", answer)


def boxed_endings(answer: str, rng: random.Random) -> list[str]:
    endings = [
        f"Therefore, the answer is $\\boxed{{{answer}}}$.",
        f"**Final Answer**\n\\[\n\\boxed{{{answer}}}\n\\]",
        f"So the final answer is \\(\\boxed{{{answer}}}\\).",
    ]
    if _lone(answer):
        endings.append(f"Hence $N = \\boxed{{{answer}}}$.")
    forms = rerenderings(answer)
    if forms:
        endings.append(f"The answer is $\\boxed{{{rng.choice(forms)}}}$.")
    return endings


def unboxed_endings(answer: str) -> list[str]:
    endings = [
        f"The answer is ${answer}$.",
        f"Final Answer: The final answer is ${answer}$. I hope it is correct.",
        f"**Answer:** ${answer}$\n",
        f"**${answer}$**",
    ]
    if re.fullmatch(r"-?\d+", answer):
        endings.append(f"#### {answer}")
        endings.append(f"The answer is {answer}.")
    if _lone(answer):
        endings.append(f"Therefore, $N = {answer}$.")
    return endings


def truncations(body: str, ending: str, answer: str, rng: random.Random) -> str | None:
    """The response cut strictly before its answer is complete (inside the ending's answer, or before it)."""
    full = body + ending
    start = full.rfind(answer)
    if start < 0:
        return None
    # somewhere from the start of the ending to one character before the end of the answer
    low = len(body)
    high = start + len(answer) - 1
    if high <= low:
        return None
    cut = rng.randint(low, high)
    return full[:cut]


PROSE = [
    "The answer is the number of ways to arrange them, which we still need to count.",
    "So the answer is not what we first expected; let us recompute the second case more carefully.",
    "The answer is either of the two values found above, depending on the sign.",
    "I am not sure how to finish this. Let me reconsider the setup.",
    "We now have all the pieces. Substituting them back into the equation",
]


def model_like_pairs(directory: Path | None = None, per_reference: int = 1, seed: int = 0,
                     synthetic: bool = False) -> list[dict]:
    """Rows `{reference, response, equal, category, source}`: for each reference, `per_reference` of each category.

    `synthetic=True` writes the working from templates instead of the row's own solution text.
    """
    rng = random.Random(seed)
    rows = load_rows(directory or data_dir())
    cases: list[dict] = []
    for row in rows:
        reference = row["answer"]
        if not reference.strip():
            continue
        def add(category: str, response: str, equal: bool) -> None:
            cases.append({"reference": reference, "response": response, "equal": equal,
                          "category": category, "source": row["source"]})

        for _ in range(per_reference):
            body = reasoning(row, rng, synthetic)
            add("boxed", body + rng.choice(boxed_endings(reference, rng)), True)
            add("unboxed", body + rng.choice(unboxed_endings(reference)), True)
            wrong = perturb(reference)
            add("wrong", body + rng.choice(boxed_endings(wrong, rng) + unboxed_endings(wrong)), False)
            ending = rng.choice(boxed_endings(reference, rng)[:3] + unboxed_endings(reference))
            cut = truncations(body, ending, reference, rng)
            if cut is not None:
                add("truncated", cut, False)
            add("prose", body + rng.choice(PROSE) if rng.random() < 0.5 else body.rstrip(), False)
    return [{key: case[key] for key in ("reference", "response", "equal", "category", "source")} for case in cases]


def hand_cases() -> list[dict]:
    """Labelled here, one equivalence question each: (reference, response, equal, category)."""
    table = [
        # percent: the side with `%` divided by 100 may equal the other; dropping `%` also matches
        (r"10\%", r"The answer is $0.1$.", True, "percent"),
        (r"10\%", r"\boxed{10\%}", True, "percent"),
        (r"10\%", r"\boxed{10}", True, "percent"),
        (r"43.75\%", r"\boxed{0.4375}", True, "percent"),
        ("62.5%", r"\boxed{\frac{5}{8}}", True, "percent"),
        (r"10\%", r"\boxed{0.01}", False, "percent"),
        (r"20\%", r"\boxed{0.02}", False, "percent"),
        ("0.25", r"\boxed{25\%}", True, "percent"),
        # inequalities and intervals, by meaning
        (r"k \geqslant 2", r"\boxed{k \geq 2}", True, "inequality"),
        (r"k \geqslant 2", r"\boxed{2 \le k}", True, "inequality"),
        (r"k \geqslant 2", r"\boxed{[2, \infty)}", True, "inequality"),
        (r"k \geqslant 2", r"\boxed{k > 2}", False, "inequality"),
        (r"c < \sqrt{2}", r"\boxed{(-\infty, \sqrt{2})}", True, "inequality"),
        (r"c < \sqrt{2}", r"\boxed{c \leq \sqrt{2}}", False, "inequality"),
        (r"120 < n \leq 130", r"\boxed{(120, 130]}", True, "inequality"),
        (r"120 < n \leq 130", r"\boxed{130 \geq n > 120}", True, "inequality"),
        (r"120 < n \leq 130", r"\boxed{[120, 130]}", False, "inequality"),
        (r"$x \le -2$ or $x \ge 3$", r"\boxed{(-\infty,-2] \cup [3,\infty)}", True, "inequality"),
        (r"$x \le -2$ or $x \ge 3$", r"\boxed{(-\infty,-2) \cup (3,\infty)}", False, "inequality"),
        (r"[2, \infty)", r"\boxed{x \geq 2}", True, "inequality"),
        (r"\left(\frac{3}{5},\frac{8}{3}\right]", r"\boxed{(0.6, \frac{8}{3}]}", True, "inequality"),
        (r"\left(\frac{3}{5},\frac{8}{3}\right]", r"\boxed{[0.6, \frac{8}{3}]}", False, "inequality"),
        # several boxed parts read as a list, only when the reference is a list
        ("2, 5", r"so $\boxed{2}$ and $\boxed{5}$.", True, "multi-box"),
        ("1,3,5", r"The solutions are $\boxed{1}$, $\boxed{3}$, $\boxed{5}$.", True, "multi-box"),
        ("1,3,5", r"The solutions are $\boxed{1}$, $\boxed{3}$.", False, "multi-box"),
        ("5", r"first $\boxed{2}$, then after checking $\boxed{5}$.", True, "multi-box"),
        ("2", r"first $\boxed{2}$, then after checking $\boxed{5}$.", False, "multi-box"),
        (r"(6,3),(9,3)", r"$\boxed{(9,3)}$ and $\boxed{(6,3)}$", True, "multi-box"),
        # units and money
        (r"20\text{ miles}", r"She runs $\boxed{20}$ miles.", True, "units"),
        (r"864 \mbox{ inches}^2", r"\boxed{864 \text{ square inches}}", True, "units"),
        (r"5.4 \text{ cents}", r"\boxed{5.4}", True, "units"),
        (r"\$18.90", r"The answer is $\$18.90$.", True, "units"),
        (r"15\mbox{ cm}^2", r"\boxed{16 \text{ cm}^2}", False, "units"),
        (r"\frac{270}7\text{ degrees}", r"\boxed{\frac{270}{7}^\circ}", True, "units"),
        # implicit multiplication and symbolic forms
        (r"2\sqrt{5}", r"\boxed{\sqrt{20}}", True, "symbolic"),
        (r"2\pi r", r"\boxed{2 r \pi}", True, "symbolic"),
        (r"\frac{\sqrt{3}}{2}", r"\boxed{\frac{1}{2}\sqrt{3}}", True, "symbolic"),
        (r"x^2+2x+1", r"\boxed{(x+1)^2}", True, "symbolic"),
        (r"x^2+2x+1", r"\boxed{(x+1)^3}", False, "symbolic"),
        (r"3\sqrt{2}", r"\boxed{3 \cdot \sqrt{2}}", True, "symbolic"),
        (r"\frac{1}{2a}\left(e^{a t}-e^{-a t}\right)", r"\boxed{\frac{\sinh(a t)}{a}}", True, "symbolic"),
        # choices and text answers
        (r"\text{(C)}", r"The correct option is \boxed{C}.", True, "choice"),
        (r"\text{(C)}", r"\boxed{\textbf{(C)}}", True, "choice"),
        (r"\text{(C)}", r"\boxed{A} \boxed{B} \boxed{C}", False, "choice"),
        (r"\text{(C)}", r"The answer is (B).", False, "choice"),
        (r"\text{Evelyn}", r"The answer is Evelyn.", True, "text"),
        (r"\text{east}", r"\boxed{\text{East}}", True, "text"),
        (r"\text{even}", r"\boxed{\text{odd}}", False, "text"),
        # tiny numbers: relative tolerance only
        ("1.325e-27", r"\boxed{1.325 \times 10^{-27}}", True, "numeric"),
        ("1.325e-27", r"\boxed{2.325 \times 10^{-27}}", False, "numeric"),
        ("0", r"\boxed{10^{-13}}", False, "numeric"),
        ("4.5e33", r"\boxed{4.5 \times 10^{33}}", True, "numeric"),
        # unboxed statements: precision rules
        ("42", "The answer is 42", False, "truncated"),
        ("125", "So the answer is 12", False, "truncated"),
        ("42", "The answer is 42. Wait, let me double-check: 6 * 7 = 42, but the question asks for 6 * 8 = 48", False, "prose"),
        ("18", "Janet sells 16 - 3 - 4 = 9 eggs.\nShe makes 9 * 2 = 18 dollars.\n#### 18", True, "unboxed"),
        ("18", "Janet sells 16 - 3 - 4 = 9 eggs. She makes 9 * 2 = 18 dollars every", False, "truncated"),
        ("8", "Therefore, the total is $3 + 5 = 8$.", True, "unboxed"),
        ("5", "We compute $2 + 3 = 5$ and then multiply by two to get", False, "truncated"),
        (r"\frac{1}{2}", "**Final Answer:** $\\frac{1}{2}$\n", True, "unboxed"),
        ("7", "The answer is not 7.", False, "prose"),
        ("7", "The answer is 7? Let me check.", False, "prose"),
    ]
    return [
        {"reference": reference, "response": response, "equal": equal, "category": category, "source": "hand"}
        for reference, response, equal, category in table
    ]


def labelled_cases(directory: Path | None = None, per_category: int = 40, seed: int = 1) -> list[dict]:
    """The labelled set: `per_category` generated cases of each category plus every hand case."""
    generated = model_like_pairs(directory, seed=seed, synthetic=True)
    rng = random.Random(seed)
    chosen = []
    for category in ("boxed", "unboxed", "wrong", "truncated", "prose"):
        rows = [case for case in generated if case["category"] == category]
        chosen.extend(rng.sample(rows, min(per_category, len(rows))))
    return chosen + hand_cases()


def main() -> None:
    cases = labelled_cases()
    CASES_FILE.write_text("".join(json.dumps(case, ensure_ascii=False) + "\n" for case in cases), encoding="utf-8")
    print(f"wrote {len(cases)} cases to {CASES_FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
