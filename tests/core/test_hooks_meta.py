"""Meta-tests (as datasette does): every hook has a docs entry and a test that exercises it."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import trl_reasoning.hookspecs as hookspecs

ROOT = Path(__file__).resolve().parents[2]


def hook_names() -> list[str]:
    return [name for name, f in vars(hookspecs).items()
            if inspect.isfunction(f) and hasattr(f, hookspecs.PROJECT_NAME + "_spec")]


def test_every_hook_has_a_docstring():
    for name in hook_names():
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert len(doc) > 40, f"hook {name} needs a docstring saying when it fires and what it returns"


def test_every_hook_has_a_docs_entry_with_its_signature():
    text = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    for name in hook_names():
        assert f"## `{name}`" in text, f"docs/hooks.md has no section for hook {name}"
        params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        assert f"`{name}({params})`" in text, f"docs/hooks.md shows an outdated signature for {name}"


def test_every_hook_is_exercised_by_a_test():
    """A hook counts as tested when a test file other than this one implements or calls it by name."""
    sources = {}
    for path in list((ROOT / "tests").rglob("test_*.py")) + list((ROOT / "tests").rglob("conftest.py")):
        if path.name != Path(__file__).name:
            sources[path] = path.read_text(encoding="utf-8")
    untested = [name for name in hook_names()
                if not any(re.search(rf"\b{name}\b", text) for text in sources.values())]
    assert not untested, f"hooks without a test: {untested}"


def test_every_hook_has_a_built_in_user():
    """Each hook is implemented by the core or by a plugin under plugins/ (test plugins do not count)."""
    sources = [p.read_text(encoding="utf-8") for p in (ROOT / "plugins").rglob("*.py")]
    sources += [p.read_text(encoding="utf-8") for p in (ROOT / "trl_reasoning").rglob("*.py")
                if p.name != "hookspecs.py"]
    pattern = "def {name}("
    unused = [name for name in hook_names() if not any(pattern.format(name=name) in s for s in sources)]
    assert not unused, f"hooks no built-in plugin implements: {unused}"
