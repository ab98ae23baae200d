"""The README and the docs name only what exists: every ``trl-reason`` command and subcommand they show is in the CLI's
parser, every option given to one is one of its options, every repository path in backticks and every relative
Markdown link points at a file or folder of the checkout, every ``tests/...py::test_name`` names a test that is
there, and the README's table of recipe sections names every section of ``Recipe`` and every key of ``model``,
``data``, ``hub`` and ``eval``.

Fast (no model, no run): the parser is built with the installed plugins' commands, as ``trl-reason`` builds it.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The pages these checks hold for. Pages generated from code (docs/hooks.md) or owned with their code
# (docs/plugins/, docs/papers/) are checked by their own tests; add a page here once it passes.
DOCS = ["README.md", "plugins/README.md", "docs/architecture.md", "docs/lifecycle.md", "docs/evaluation.md",
        "docs/design-notes.md", "docs/reproduction.md", "docs/grading.md", "docs/api.md", "docs/composition.md",
        "docs/gpu.md"]

# Top-level folders of the repository: a backticked path starting with one of them is a repository path.
REPO_DIRS = ("trl_reasoning/", "plugins/", "tests/", "docs/", "recipes/", "benchmarks/", ".ci/")
REPO_SUFFIXES = (".py", ".md", ".toml", ".cfg", ".in")
# Backticked names that look like files but are what a run or a command writes (or a placeholder), not repository files.
WRITTEN = re.compile(r"(^|/)(README\.md|summary\.md|conftest\.py|plugin\.py|__init__\.py|pyproject\.toml|setup\.py)$")
# The example package of plugins/README.md (what `trl-reason new-plugin my_bonus` writes), not a repository folder.
EXAMPLE = re.compile(r"my_bonus|my-bonus")

CODE_SPAN = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
COMMAND = re.compile(r"(?<![\w-])trl-reason((?:[ \t]+[a-z][a-z0-9-]*(?=[\s`|),.;:]|$))*)((?:[ \t]+[^\s`|]+)*)")


def pages() -> list[Path]:
    return [ROOT / name for name in DOCS if (ROOT / name).exists()]


def page_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


# -- the parser ---------------------------------------------------------------------------------------------------


def command_tree() -> dict:
    """``{command: (subparser, {subcommand: ...})}`` of ``trl-reason`` with every installed plugin's commands."""
    from trl_reasoning.cli.main import build_parser
    from trl_reasoning.plugins.manager import PluginManager

    pm = PluginManager()
    pm.install_core()
    return _tree(build_parser(pm))


def _tree(parser: argparse.ArgumentParser) -> dict:
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[name] = (sub, _tree(sub))
    return found


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def commands_in(text: str) -> list[tuple[list[str], list[str]]]:
    """Each ``trl-reason WORD [WORD ...] [ARGS]`` in ``text``: (the words, the options among the arguments)."""
    found = []
    for match in COMMAND.finditer(text):
        words = match.group(1).split()
        rest = match.group(2).split()
        options = [arg.split("=")[0] for arg in rest if arg.startswith("--")]
        found.append((words, options))
    return found


def check_command(tree: dict, words: list[str], options: list[str]) -> str | None:
    """Why ``trl-reason WORDS OPTIONS`` is not a command of ``tree``, or ``None``."""
    if not words:
        return None
    level, parser, used = tree, None, []
    for word in words:
        if word not in level:
            if parser is None:
                return f"`trl-reason {word}`: no such command (known: {', '.join(sorted(tree))})"
            break  # an argument of the command (a recipe name, a plugin name, ...)
        parser, level = level[word]
        used.append(word)
    known = _options(parser)
    unknown = [option for option in options if option not in known]
    if unknown:
        return f"`trl-reason {' '.join(used)}` has no option {', '.join(unknown)} (its options: {sorted(known)})"
    return None


@pytest.mark.parametrize("words,options,problem", [
    (["run"], ["--resume"], None),
    (["plugins", "hapo"], [], None),
    (["run", "recipes/quickstart.yaml"], ["--set"], None),
    (["fly"], [], "no such command"),
    (["run"], ["--resmue"], "no option --resmue"),
])
def test_check_command_finds_what_it_should(words, options, problem):
    tree = {"run": (_parser_with("--resume", "--set"), {}), "plugins": (_parser_with("--json"), {})}
    outcome = check_command(tree, words, options)
    assert (outcome is None) if problem is None else (problem in outcome)


def _parser_with(*options: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    for option in options:
        parser.add_argument(option)
    return parser


def test_commands_in_reads_words_and_options():
    text = "trl-reason run recipes/quickstart.yaml --set trainer.max_steps=2 --output-dir runs/qs\n`trl-reason validate`"
    assert commands_in(text) == [(["run"], ["--set", "--output-dir"]), (["validate"], [])]


@pytest.fixture(scope="module")
def tree():
    return command_tree()


@pytest.mark.parametrize("page", pages(), ids=page_id)
def test_every_command_exists(page, tree):
    problems = []
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
        for words, options in commands_in(line):
            problem = check_command(tree, words, options)
            if problem:
                problems.append(f"{page_id(page)}:{number}: {problem}")
    assert not problems, "\n".join(problems)


# -- paths ----------------------------------------------------------------------------------------------------------


def repository_path(span: str) -> str | None:
    """The repository path a backticked span names (line numbers and ``::test`` stripped), or ``None``."""
    span = span.strip()
    if " " in span or any(c in span for c in "<>*{}$|=()[]\"'") or span.startswith(("~", "/", "http", "hf:")):
        return None
    path = re.sub(r":\d[\d,\-]*$", "", span.split("::")[0])
    if not path.startswith(REPO_DIRS) and not (path.endswith(REPO_SUFFIXES) and "/" in path):
        return None
    if WRITTEN.search(path) and not path.startswith(REPO_DIRS):
        return None
    if EXAMPLE.search(path):
        return None
    return path


def path_exists(path: str, page: Path) -> bool:
    """At the root, beside the page, or inside the package (``trainers/refill.py`` is short for
    ``trl_reasoning/trainers/refill.py``)."""
    return any((base / path).exists() for base in (ROOT, page.parent, ROOT / "trl_reasoning"))


def named_test(span: str) -> str | None:
    """The ``test_name`` of ``tests/x.py::test_name`` (``None`` without one)."""
    return span.split("::", 1)[1].split("[")[0] if "::" in span else None


@pytest.mark.parametrize("span,path", [
    ("trl_reasoning/trainers/grpo.py:120", "trl_reasoning/trainers/grpo.py"),
    ("tests/lifecycle/test_resume.py::test_x", "tests/lifecycle/test_resume.py"),
    ("trainers/refill.py", "trainers/refill.py"),
    ("plugins/<name>/tests", None),
    ("runs/quickstart/", None),
    ("metrics.jsonl", None),
    ("trl-reason run", None),
    ("docs/hooks.md", "docs/hooks.md"),
])
def test_repository_path_reads_spans(span, path):
    assert repository_path(span) == path


@pytest.mark.parametrize("page", pages(), ids=page_id)
def test_every_backticked_path_exists(page):
    problems = []
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
        for span in CODE_SPAN.findall(line):
            path = repository_path(span)
            if path is None:
                continue
            if not path_exists(path, page):
                problems.append(f"{page_id(page)}:{number}: `{span}` does not exist")
                continue
            name = named_test(span)
            if name and not re.search(rf"def {re.escape(name)}\b", (ROOT / path).read_text(encoding="utf-8")):
                problems.append(f"{page_id(page)}:{number}: `{span}`: {path} has no test {name}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", pages(), ids=page_id)
def test_every_relative_link_exists(page):
    problems = []
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
        for target in LINK.findall(line):
            if target.startswith(("http://", "https://", "mailto:", "#")):
                continue
            path, _, anchor = target.partition("#")
            file = page.parent / path if path else page
            if path and not file.exists():
                problems.append(f"{page_id(page)}:{number}: link ({target}) does not exist")
            elif anchor and file.suffix == ".md" and anchor not in heading_anchors(file):
                problems.append(f"{page_id(page)}:{number}: link ({target}): {page_id(file)} has no heading "
                                f"#{anchor}")
    assert not problems, "\n".join(problems)


def heading_anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def test_heading_anchors_follow_github(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("# One run, end to end\n## `compose:`: who acts on a `one` hook\n")
    assert heading_anchors(page) == {"one-run-end-to-end", "compose-who-acts-on-a-one-hook"}


# -- the recipe's sections in the README --------------------------------------------------------------------------


def readme_sections() -> dict[str, str]:
    """``{section key: its row's text}`` from the README's table of recipe sections (rows ``| `key` | ... |``)."""
    rows = {}
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| ((?:`[a-z_0-9]+`(?:, )?)+) \| (.*) \|$", line)
        if match:
            for key in re.findall(r"`([a-z_0-9]+)`", match.group(1)):
                rows[key] = match.group(2)
    return rows


def test_readme_lists_every_recipe_section_and_key():
    import dataclasses

    from trl_reasoning.config.recipe import (DataSection, EvalSection, HubSection, ModelSection, ProtocolOverrides,
                                             Recipe)

    rows = readme_sections()
    sections = {f.name for f in dataclasses.fields(Recipe)} - {"source"}  # set by the loader
    assert sections <= set(rows), f"README's recipe table lacks {sorted(sections - set(rows))}"
    # the eval section's own keys; the protocol settings it shares with a benchmark entry are listed by example
    own_eval = {f.name for f in dataclasses.fields(EvalSection)} - {f.name for f in dataclasses.fields(ProtocolOverrides)}
    for section, names in {"model": {f.name for f in dataclasses.fields(ModelSection)},
                           "data": {f.name for f in dataclasses.fields(DataSection)},
                           "hub": {f.name for f in dataclasses.fields(HubSection)},
                           "eval": own_eval}.items():
        named = set(re.findall(r"`([a-z_0-9]+)`", rows[section]))
        assert names <= named, f"README's `{section}` row lacks {sorted(names - named)}"


# -- code examples ------------------------------------------------------------------------------------------------

PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


@pytest.mark.parametrize("page", pages(), ids=page_id)
def test_python_examples_parse_and_import_public_names(page):
    """Each ```python block is valid Python, and what it imports from ``trl_reasoning`` is in the public API."""
    import ast

    import trl_reasoning

    problems = []
    for number, block in enumerate(PYTHON_BLOCK.findall(page.read_text(encoding="utf-8")), start=1):
        try:
            tree = ast.parse(block)
        except SyntaxError as exc:
            problems.append(f"{page_id(page)}: python block {number}: {exc.msg} (line {exc.lineno})")
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "trl_reasoning":
                missing = [alias.name for alias in node.names if alias.name not in trl_reasoning.__all__]
                if missing:
                    problems.append(f"{page_id(page)}: python block {number}: `from trl_reasoning import "
                                    f"{', '.join(missing)}`: not in the public API (trl_reasoning.__all__)")
    assert not problems, "\n".join(problems)
