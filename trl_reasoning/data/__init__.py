"""Datasets: where rows come from, how a problem becomes a prompt, and the stable ``prompt_id`` column.

Sources (``data.train`` in a recipe):

* ``embedded:arithmetic``: seeded, procedurally generated problems (``What is 7 + 5?``) with an exact ``answer``,
  a worked ``solution`` and difficulty knobs (``data.options``), split into ``train`` and a disjoint ``test``.
* a known name (``math500``, ``gsm8k``, ``dsr_sub``, ``pi1``, ...): ``<name>.jsonl`` found in ``data.data_dir``,
  then ``$TRL_REASONING_DATA_DIR``, then the Hub where the name has a Hub id.
* a local ``.jsonl`` / ``.json`` / ``.parquet`` file.
* a Hub dataset id (``datasets.load_dataset(id, split=...)``).
* one file by URL, e.g. ``hf://datasets/<owner>/<name>/<file>.jsonl`` (``read_remote_rows``).

Every training row gets ``prompt`` (conversational messages, or a string for the ``plain`` template),
``problem``, ``answer`` and ``prompt_id``: an integer that stays the same for the same row across runs, resumes
and processes (its index in the source after ``limit``), which plugins key their per-problem state by.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

QWEN25_MATH_COT_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
# LLaMA-Factory's literal prompt formats that the Flexible Realignment authors trained with (`template: deepseek` for
# TrRa, `deepseek3` for InRa): (system format, user turn ending where the response begins). They render as one string,
# so no chat template can rewrite the response: the tokenizer's BOS starts the sequence and TRL's SFT appends the EOS,
# as LLaMA-Factory's prefix and assistant formats do (trainers/sft.py).
LITERAL_TEMPLATES = {
    "deepseek": ("{system}\n\n", "User: {user}\n\nAssistant:"),
    "deepseek3": ("{system}", "<\uff5cUser\uff5c>{user}<\uff5cAssistant\uff5c>"),
}
TEMPLATES = ("chat", "qwen25-math-cot", "plain", "custom", *LITERAL_TEMPLATES)
LOCAL_NAMES = {
    "math500": "math500.jsonl", "aime24": "aime24.jsonl", "aime25": "aime25.jsonl", "amc23": "amc23.jsonl",
    "amc_aimo83": "amc_aimo83.jsonl", "minerva_math": "minerva_math.jsonl", "olympiadbench": "olympiadbench.jsonl",
    "gsm8k": "gsm8k_test.jsonl", "dsr_sub": "dsr_sub.jsonl", "pi1": "pi1.jsonl", "pi2": "pi2.jsonl",
    "pi13": "pi13.jsonl", "pi1209": "pi1209.jsonl",
}


class DataError(Exception):
    """A dataset could not be found or read; the message names every place that was tried."""


# -- the embedded arithmetic task ---------------------------------------------------------------------------------


@dataclass
class ArithmeticOptions:
    min_operand: int = 1
    max_operand: int = 9
    operations: tuple[str, ...] = ("+",)
    terms: int = 2
    n_train: int = 2000
    n_test: int = 200
    seed: int = 1234


def _arith_row(rng: random.Random, opts: ArithmeticOptions) -> dict:
    numbers = [rng.randint(opts.min_operand, opts.max_operand) for _ in range(opts.terms)]
    ops = [rng.choice(list(opts.operations)) for _ in range(opts.terms - 1)]
    expression = str(numbers[0])
    for op, n in zip(ops, numbers[1:]):
        expression += f" {op} {n}"
    value = eval(expression, {"__builtins__": {}}, {})  # our own generated digits and operators only
    steps, running = [], numbers[0]
    for op, n in zip(ops, numbers[1:]):
        new = eval(f"{running} {op} {n}", {"__builtins__": {}}, {})
        steps.append(f"{running} {op} {n} = {new}")
        running = new
    if "*" in ops and len(ops) > 1:  # precedence: show the whole expression at once
        steps = [f"{expression} = {value}"]
    solution = ". ".join(steps) + f". The answer is \\boxed{{{value}}}."
    return {"problem": f"What is {expression}?", "answer": str(value), "solution": solution,
            "difficulty": opts.terms * len(str(opts.max_operand))}


def arithmetic_rows(options: dict | None = None) -> dict[str, list[dict]]:
    """``{"train": [...], "test": [...]}``: disjoint by problem text, identical for the same options."""
    known = ArithmeticOptions.__dataclass_fields__
    options = dict(options or {})
    for key in options:
        if key not in known:
            from trl_reasoning.config.schema import unknown_key_error

            raise unknown_key_error("data.options", key, known)
    if "operations" in options:
        options["operations"] = tuple(options["operations"])
    opts = ArithmeticOptions(**options)
    bad = set(opts.operations) - {"+", "-", "*"}
    if bad:
        raise DataError(f"data.options.operations: unsupported {sorted(bad)}; use +, - and *")
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


# -- locating and reading files ---------------------------------------------------------------------------------------


def default_data_dirs(data_dir: str | None = None) -> list[Path]:
    dirs = []
    if data_dir:
        dirs.append(Path(data_dir).expanduser())
    if os.environ.get("TRL_REASONING_DATA_DIR"):
        dirs.append(Path(os.environ["TRL_REASONING_DATA_DIR"]).expanduser())
    return dirs


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        raise DataError(f"data file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows = []
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise DataError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
        return rows
    if suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, list) else data.get("data", [])
    if suffix == ".parquet":
        import datasets

        return datasets.Dataset.from_parquet(str(path)).to_list()
    raise DataError(f"{path}: unsupported file type {suffix!r} (use .jsonl, .json or .parquet)")


def read_remote_rows(url: str) -> list[dict]:
    """Rows of one remote ``.jsonl`` / ``.json`` / ``.parquet`` file, read with ``datasets``' file builders: e.g.
    ``hf://datasets/foreverlasting1202/QuestA/OpenR1-50-0-4.jsonl``, one pool of a Hub dataset that holds several
    (loading the dataset id would concatenate them)."""
    builder = {".jsonl": "json", ".json": "json", ".parquet": "parquet"}.get(Path(url.split("?")[0]).suffix.lower())
    if builder is None:
        raise DataError(f"{url}: a URL must name a .jsonl, .json or .parquet file")
    import datasets

    try:
        return datasets.load_dataset(builder, data_files=url, split="train").to_list()
    except Exception as exc:  # network, missing file, bad JSON: name the URL and the cause
        raise DataError(f"dataset file {url!r} could not be read ({type(exc).__name__}: {exc})") from None


def load_rows(source: str, *, split: str = "train", data_dir: str | None = None, options: dict | None = None
              ) -> list[dict]:
    """Rows of a dataset source as plain dicts (see the module docstring for the sources)."""
    if source == "embedded:arithmetic":
        parts = arithmetic_rows(options)
        if split not in parts:
            raise DataError(f"embedded:arithmetic has splits train and test, not {split!r}")
        return parts[split]
    if source.startswith("embedded:"):
        raise DataError(f"unknown embedded dataset {source!r}; known: embedded:arithmetic")
    if "://" in source:  # one file of a Hub dataset (hf://datasets/<owner>/<name>/<file>) or another fsspec URL
        return read_remote_rows(source)
    looked = []
    path = Path(source).expanduser()
    if path.suffix.lower() in (".jsonl", ".json", ".parquet") or source.startswith((".", "/", "~")):
        if path.exists():
            return read_rows(path)
        raise DataError(f"data file not found: {path}")
    name = source
    filename = LOCAL_NAMES.get(name, f"{name}.jsonl")
    for directory in default_data_dirs(data_dir):
        candidate = directory / filename
        looked.append(str(candidate))
        if candidate.exists():
            return read_rows(candidate)
    if "/" in source:  # a Hub id
        try:
            import datasets

            return datasets.load_dataset(source, split=split).to_list()
        except Exception as exc:
            looked.append(f"Hub dataset {source!r} split {split!r} ({type(exc).__name__}: {exc})")
    else:
        looked.append("the Hub (not tried: a Hub id contains '/')")
    raise DataError(f"dataset {source!r} not found. Looked in: recipe field data.data_dir, "
                    f"$TRL_REASONING_DATA_DIR, the Hub -> " + "; ".join(looked or ["(no data_dir set)"]))


# -- prompts ------------------------------------------------------------------------------------------------------


def render_prompt(problem: str, template: str = "chat", *, system_prompt: str | None = None,
                  user_template: str = "{problem}", few_shot: list[dict] | None = None) -> list[dict] | str:
    """The prompt for one problem: conversational messages (chat templates) or a plain string (``plain``, and the
    literal formats ``deepseek``: ``User: {problem}\n\nAssistant:`` and ``deepseek3``:
    ``<\uff5cUser\uff5c>{problem}<\uff5cAssistant\uff5c>``, see ``LITERAL_TEMPLATES``).

    ``few_shot`` rows (``problem`` and ``solution``) become earlier user/assistant turns (or, for ``plain``,
    "problem\nsolution" paragraphs): the cheapest way to make a weak model show the answer format in its samples.
    """
    if template not in TEMPLATES:
        raise DataError(f"unknown template {template!r}; known: {', '.join(TEMPLATES)}")
    user = user_template.replace("{problem}", problem)
    shots = [(user_template.replace("{problem}", str(ex["problem"])), str(ex["solution"])) for ex in few_shot or []]
    if template == "plain":
        return "".join(f"{q}\n{a}\n\n" for q, a in shots) + user
    if template in LITERAL_TEMPLATES:
        if shots:
            raise DataError(f"template {template!r} renders one user turn; few_shot needs a chat template")
        system_format, user_format = LITERAL_TEMPLATES[template]
        return (system_format.replace("{system}", system_prompt) if system_prompt else "") + user_format.replace(
            "{user}", user)
    system = QWEN25_MATH_COT_SYSTEM if template == "qwen25-math-cot" and system_prompt is None else system_prompt
    messages = [{"role": "system", "content": system}] if system else []
    for question, answer in shots:
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return messages + [{"role": "user", "content": user}]


def prompt_rows(rows: list[dict], section) -> list[dict]:
    """Training rows with ``prompt``, ``problem``, ``answer`` and a stable ``prompt_id``."""
    out = []
    for i, row in enumerate(rows):
        if section.problem_column not in row:
            raise DataError(f"row {i} has no {section.problem_column!r} column (columns: {sorted(row)}); "
                            f"set data.problem_column")
        if section.answer_column not in row:
            raise DataError(f"row {i} has no {section.answer_column!r} column (columns: {sorted(row)}); "
                            f"set data.answer_column")
        new = {k: v for k, v in row.items() if _arrow_friendly(v)}
        new["problem"] = str(row[section.problem_column])
        new["answer"] = str(row[section.answer_column])
        new["prompt"] = render_prompt(new["problem"], section.template, system_prompt=section.system_prompt,
                                      user_template=section.user_template, few_shot=section.few_shot)
        new["prompt_id"] = i
        out.append(new)
    return out


def _arrow_friendly(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool)) or (
        isinstance(value, list) and all(isinstance(v, (int, float)) for v in value))


def load_train_rows(section) -> list[dict]:
    """The training rows of a recipe's ``data`` section: loaded, shuffled by ``shuffle_seed``, cut to ``limit``."""
    rows = load_rows(section.train, split=section.split, data_dir=section.data_dir, options=section.options)
    if section.shuffle_seed is not None:
        random.Random(section.shuffle_seed).shuffle(rows)
    if section.limit:
        rows = rows[: section.limit]
    if not rows:
        raise DataError(f"dataset {section.train!r} has no rows")
    return rows


def load_train_dataset(section):
    """The training ``datasets.Dataset`` for a recipe's ``data`` section."""
    import datasets

    rows = prompt_rows(load_train_rows(section), section)
    # Columns must have one type: drop those that vary (e.g. a column that is sometimes a list).
    return datasets.Dataset.from_list(_uniform(rows))


def load_test_rows(section) -> list[dict]:
    """Held-out rows for in-run evaluation (``data.test``, or the ``test`` split of embedded data)."""
    if section.test:
        return load_rows(section.test, split="test", data_dir=section.data_dir, options=section.options)
    if section.train.startswith("embedded:"):
        return load_rows(section.train, split="test", options=section.options)
    return []


def _uniform(rows: list[dict]) -> list[dict]:
    types: dict[str, set] = {}
    for row in rows:
        for k, v in row.items():
            if v is not None:
                types.setdefault(k, set()).add(type(v).__name__)
    keep = {k for k, t in types.items() if len(t) == 1 or t <= {"int", "float"}} | {"prompt"}
    return [{k: row.get(k) for k in keep} for row in rows]


def fingerprint(dataset) -> str:
    """A short hash of the training rows (problem, answer, prompt_id), recorded with every run and checkpoint."""
    h = hashlib.sha256()
    for row in dataset:
        h.update(json.dumps([row.get("prompt_id"), row.get("problem"), row.get("answer")]).encode())
    return h.hexdigest()[:16]
