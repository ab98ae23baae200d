"""Write ``docs/hooks.md`` from ``trl_reasoning/hookspecs.py``, the one copy of the hook reference.

::

    python -m trl_reasoning.plugins.hookdoc --write     # regenerate docs/hooks.md
    python -m trl_reasoning.plugins.hookdoc --check     # exit 1 when docs/hooks.md is out of date (as the tests do)

The module docstring of ``hookspecs`` becomes the page's introduction, each banner comment a section, and each
hook's docstring its entry: the signature with its types, the prose, what several implementers do (its rule in
``plugins/composition.py``), a list of its parameters (``:param name:``), what it returns (``:returns:``) and an
example (a paragraph ending in ``::`` followed by an indented block).
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
import textwrap
from pathlib import Path

from trl_reasoning import hookspecs
from trl_reasoning.plugins.composition import HOOK_RULES

HOOKS_MD = Path(__file__).resolve().parents[2] / "docs" / "hooks.md"
HEADER = ("<!-- Generated from trl_reasoning/hookspecs.py: edit the docstrings there, then run\n"
          "     python -m trl_reasoning.plugins.hookdoc --write -->\n")
# What several active implementers of a hook do, per rule of plugins/composition.py (HOOK_RULES).
RULES = {
    "each": "each: every active implementation runs; results are not combined",
    "chain": "chain: in the recipe's `plugins:` order, each one sees the previous one's result",
    "and": "and: the masks are AND-ed",
    "merge": "merge: the results are merged; two plugins producing one name is an error",
    "one": "one: exactly one plugin acts; two active implementers need a `compose:` entry naming it "
           "([composition.md](composition.md))",
}
FIELD = re.compile(r"^:(param (?P<name>\w+)|returns):\s*(?P<text>.*)$")


def hook_names() -> list[str]:
    """The hooks in the order the module defines them (loop order)."""
    specs = [(f.__code__.co_firstlineno, name) for name, f in vars(hookspecs).items()
             if inspect.isfunction(f) and hasattr(f, hookspecs.PROJECT_NAME + "_spec")]
    return [name for _, name in sorted(specs)]


def is_firstresult(name: str) -> bool:
    return bool(getattr(getattr(hookspecs, name), hookspecs.PROJECT_NAME + "_spec").get("firstresult"))


def signature(name: str) -> str:
    """``name(a: T, b: U) -> R`` with the annotations as written."""
    sig = inspect.signature(getattr(hookspecs, name))
    params = ", ".join(f"{p.name}: {p.annotation}" if p.annotation is not inspect.Parameter.empty else p.name
                       for p in sig.parameters.values())
    returns = "" if sig.return_annotation is inspect.Signature.empty else f" -> {sig.return_annotation}"
    return f"{name}({params}){returns}"


def parse(doc: str) -> tuple[list[str], dict[str, str], str | None]:
    """``(prose lines, {parameter: text}, returns text)`` of a hook docstring (already dedented)."""
    prose: list[str] = []
    params: dict[str, str] = {}
    returns: str | None = None
    current: list[str] | None = None  # [kind, name, text] of the field being read
    fields: list[list[str]] = []
    for line in doc.splitlines():
        match = FIELD.match(line)
        if match:
            current = ["param" if match["name"] else "returns", match["name"] or "", match["text"]]
            fields.append(current)
        elif current is not None and line.startswith("    ") and line.strip():
            current[2] += " " + line.strip()
        else:
            current = None
            prose.append(line)
    for kind, name, text in fields:
        if kind == "param":
            params[name] = text
        else:
            returns = text
    return prose, params, returns


def markdown(lines: list[str]) -> str:
    """reST-ish prose to Markdown: ``code`` -> `code`, ``para::`` + indented block -> a python code fence."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip().endswith("::"):
            head = line.rstrip()[:-1]
            out.append(inline(head))
            i += 1
            block: list[str] = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith("    ")):
                block.append(lines[i])
                i += 1
            code = textwrap.dedent("\n".join(block)).strip("\n")
            out += ["", "```python", code, "```", ""]
            continue
        out.append(inline(line))
        i += 1
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def inline(text: str) -> str:
    return re.sub(r"``(.+?)``", r"`\1`", text)


def sections() -> list[tuple[str, str, list[str]]]:
    """``(title, text, hooks)`` for each banner comment of hookspecs.py, in order."""
    source = Path(hookspecs.__file__).read_text(encoding="utf-8").splitlines()
    banners: list[tuple[int, str]] = []
    i = 0
    while i < len(source):
        if source[i].startswith("# ---"):
            j = i + 1
            words = []
            while j < len(source) and source[j].startswith("#") and not source[j].startswith("# ---"):
                words.append(source[j].lstrip("#").strip())
                j += 1
            banners.append((i + 1, " ".join(words)))
            i = j + 1
        else:
            i += 1
    result = []
    for index, (line, text) in enumerate(banners):
        end = banners[index + 1][0] if index + 1 < len(banners) else 10**9
        hooks = [n for n in hook_names() if line < getattr(hookspecs, n).__code__.co_firstlineno < end]
        title, _, rest = text.partition(":")
        rest = rest.strip()
        result.append((title.strip(), rest[:1].upper() + rest[1:], hooks))
    return result


def hook_entry(name: str) -> str:
    prose, params, returns = parse(inspect.getdoc(getattr(hookspecs, name)) or "")
    sig = inspect.signature(getattr(hookspecs, name))
    parts = [f"### `{name}`", "", f"`{signature(name)}`" + ("  — *firstresult*" if is_firstresult(name) else ""), ""]
    parts.append(markdown(prose_before_example(prose)[0]))
    if name in HOOK_RULES:
        parts += ["", f"Several plugins — {RULES[HOOK_RULES[name]]}."]
    if params:
        parts += ["", "Parameters:", ""]
        for p in sig.parameters.values():
            if p.name in params:
                parts.append(f"- `{p.name}` (`{p.annotation}`): {inline(params[p.name])}")
    if returns:
        parts += ["", f"Returns `{sig.return_annotation}`: {inline(returns)}"]
    example = prose_before_example(prose)[1]
    if example:
        parts += ["", markdown(example)]
    return "\n".join(parts).rstrip() + "\n"


def prose_before_example(prose: list[str]) -> tuple[list[str], list[str]]:
    """Split the prose at its ``Example::`` paragraph (the example goes after the parameters)."""
    for i, line in enumerate(prose):
        if line.strip() == "Example::":
            return prose[:i], prose[i:]
    return prose, []


def render() -> str:
    intro = inspect.getdoc(hookspecs) or ""
    first, _, rest = intro.partition("\n")
    parts = [HEADER, "# Hooks reference", "", inline(first), "", markdown(rest.splitlines()), ""]
    parts += ["| hook | section | several plugins | what it is for |", "|---|---|---|---|"]
    for title, _, hooks in sections():
        for name in hooks:
            summary = inline((inspect.getdoc(getattr(hookspecs, name)) or "").split("\n")[0]).rstrip(".")
            parts.append(f"| [`{name}`](#{name}) | {title} | {HOOK_RULES.get(name, '')} | {summary} |")
    parts.append("")
    for title, text, hooks in sections():
        parts += [f"## {title}", "", inline(text), ""]
        for name in hooks:
            parts += [hook_entry(name)]
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trl_reasoning.plugins.hookdoc", description=__doc__.split("\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help=f"write {HOOKS_MD}")
    group.add_argument("--check", action="store_true", help="exit 1 when docs/hooks.md is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        HOOKS_MD.write_text(text, encoding="utf-8")
        print(f"wrote {HOOKS_MD}")
        return 0
    if args.check:
        current = HOOKS_MD.read_text(encoding="utf-8") if HOOKS_MD.is_file() else ""
        if current != text:
            print(f"{HOOKS_MD} is out of date: python -m trl_reasoning.plugins.hookdoc --write", file=sys.stderr)
            return 1
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
