"""The embedded arithmetic task (``data.train: embedded:arithmetic``): seeded, procedurally generated problems
(``What is 7 + 5?``) with an exact ``answer``, a worked ``solution`` and difficulty knobs (``data.options``), split
into ``train`` and a disjoint ``test``::

    parts = arithmetic_rows({"max_operand": 20, "operations": ["+", "*"], "terms": 3})
    parts["train"][0]   # {"problem": "What is 3 + 4 * 2?", "answer": "11", "solution": "...", "id": ...}
"""

from __future__ import annotations

import operator
import random
from dataclasses import dataclass, field

from trl_reasoning.config.schema import FieldError, bounds, build_dataclass

OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul}


def _operations_problem(value) -> str | None:
    return None if value and set(value) <= set(OPERATORS) else "must be a non-empty list of +, - and *"


@dataclass
class ArithmeticOptions:
    """``data.options`` of ``embedded:arithmetic`` (checked by ``build_dataclass`` at ``data.options``)."""

    min_operand: int = field(default=1, metadata={"help": "Smallest operand.", **bounds(ge=0)})
    max_operand: int = field(default=9, metadata={"help": "Largest operand (>= min_operand)."})
    operations: tuple[str, ...] = field(default=("+",), metadata={
        "help": "Operators to draw from: any of +, - and * (* binds tighter).",
        **bounds(check=_operations_problem)})
    terms: int = field(default=2, metadata={"help": "Operands per problem.", **bounds(ge=1)})
    n_train: int = field(default=2000, metadata={"help": "Training problems.", **bounds(ge=1)})
    n_test: int = field(default=200, metadata={
        "help": "Held-out problems, disjoint from the training ones by text.", **bounds(ge=0)})
    seed: int = field(default=1234, metadata={"help": "Seed of the generator: the same options give the same rows."})

    def __post_init__(self):
        self.operations = tuple(self.operations)
        if self.max_operand < self.min_operand:
            raise FieldError("max_operand", f"must be >= min_operand ({self.min_operand}), got {self.max_operand}")


def evaluate(numbers: list[int], ops: list[str]) -> int:
    """The value of ``numbers[0] ops[0] numbers[1] ...`` with ``*`` binding tighter than ``+`` and ``-``."""
    summands, signs = [numbers[0]], [1]  # products so far, each with the sign of the + or - before it
    for op, n in zip(ops, numbers[1:]):
        if op == "*":
            summands[-1] = summands[-1] * n
        else:
            summands.append(n)
            signs.append(1 if op == "+" else -1)
    return sum(sign * value for sign, value in zip(signs, summands))


def _arith_row(rng: random.Random, opts: ArithmeticOptions) -> dict:
    numbers = [rng.randint(opts.min_operand, opts.max_operand) for _ in range(opts.terms)]
    ops = [rng.choice(list(opts.operations)) for _ in range(opts.terms - 1)]
    expression = str(numbers[0])
    for op, n in zip(ops, numbers[1:]):
        expression += f" {op} {n}"
    value = evaluate(numbers, ops)
    steps, running = [], numbers[0]
    for op, n in zip(ops, numbers[1:]):
        new = OPERATORS[op](running, n)
        steps.append(f"{running} {op} {n} = {new}")
        running = new
    if "*" in ops and len(ops) > 1:  # precedence: show the whole expression at once
        steps = [f"{expression} = {value}"]
    solution = ". ".join(steps) + f". The answer is \\boxed{{{value}}}."
    return {"problem": f"What is {expression}?", "answer": str(value), "solution": solution,
            "difficulty": opts.terms * len(str(opts.max_operand))}


def arithmetic_rows(options: dict | None = None) -> dict[str, list[dict]]:
    """``{"train": [...], "test": [...]}``: disjoint by problem text, identical for the same options."""
    opts = build_dataclass(ArithmeticOptions, options, "data.options")  # ConfigError at data.options.<key>
    rng = random.Random(opts.seed)
    span = (opts.max_operand - opts.min_operand + 1) ** opts.terms * max(1, len(opts.operations)) ** (opts.terms - 1)
    test_rows, seen = [], set()
    for _ in range(50 * (opts.n_test + 1)):
        if len(test_rows) >= min(opts.n_test, max(1, span // 4)):
            break
        row = _arith_row(rng, opts)
        if row["problem"] not in seen:
            seen.add(row["problem"])
            test_rows.append(row)
    train_rows = []
    for _ in range(opts.n_train * 4):
        if len(train_rows) >= opts.n_train:
            break
        row = _arith_row(rng, opts)
        if row["problem"] not in seen or span <= opts.n_test:  # tiny spaces: allow repeats rather than nothing
            train_rows.append(row)
    for i, row in enumerate(train_rows):
        row["id"] = f"arith-train-{i}"
    for i, row in enumerate(test_rows):
        row["id"] = f"arith-test-{i}"
    return {"train": train_rows, "test": test_rows}
