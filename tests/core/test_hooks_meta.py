"""Meta-tests of the hook reference (pytest's, tox's and datasette's rules): every hook is typed, documents each
parameter and what it returns, ``docs/hooks.md`` is generated from it and current, and each hook has a test named
``test_hook_<name>`` that fires it, and a built-in user."""

from __future__ import annotations

import ast
import inspect
import typing
from pathlib import Path

import trl_reasoning.hookspecs as hookspecs
from trl_reasoning.plugins import hookdoc

ROOT = Path(__file__).resolve().parents[2]


def hook_names() -> list[str]:
    return hookdoc.hook_names()


def type_checking_namespace() -> dict:
    """hookspecs' globals plus what its ``if TYPE_CHECKING:`` block imports (executed here, for real)."""
    tree = ast.parse(Path(hookspecs.__file__).read_text(encoding="utf-8"))
    block = next(node for node in tree.body if isinstance(node, ast.If) and getattr(node.test, "id", "") ==
                 "TYPE_CHECKING")
    namespace = dict(vars(hookspecs))
    exec(compile(ast.Module(body=block.body, type_ignores=[]), hookspecs.__file__, "exec"), namespace)
    return namespace


def test_every_hook_is_annotated_and_its_types_resolve():
    namespace = type_checking_namespace()
    for name in hook_names():
        spec = getattr(hookspecs, name)
        sig = inspect.signature(spec)
        unannotated = [p for p in sig.parameters.values() if p.annotation is inspect.Parameter.empty]
        assert not unannotated, f"hook {name}: annotate {[p.name for p in unannotated]}"
        assert sig.return_annotation is not inspect.Signature.empty, f"hook {name}: annotate its return type"
        hints = typing.get_type_hints(spec, globalns=namespace)  # raises on a name that does not resolve
        assert set(hints) == set(sig.parameters) | {"return"}


def test_every_hook_documents_each_parameter_and_its_result():
    for name in hook_names():
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        prose, params, returns = hookdoc.parse(doc)
        parameters = list(inspect.signature(getattr(hookspecs, name)).parameters)
        assert len(" ".join(prose).strip()) > 40, f"hook {name}: say when it fires and what it is for"
        assert list(params) == parameters, (f"hook {name}: document each parameter, in order, with ':param x:' "
                                            f"(have {list(params)}, need {parameters})")
        returns_something = inspect.signature(getattr(hookspecs, name)).return_annotation != "None"
        assert bool(returns) == returns_something, (
            f"hook {name}: {'say what it returns with :returns:' if returns_something else 'returns None: no :returns:'}")


def test_every_hook_belongs_to_a_section():
    placed = [hook for _, _, hooks in hookdoc.sections() for hook in hooks]
    assert placed == hook_names()


def test_docs_hooks_md_is_generated_from_the_hookspecs_and_current():
    assert (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8") == hookdoc.render(), (
        "docs/hooks.md is out of date: python -m trl_reasoning.plugins.hookdoc --write")
    assert hookdoc.main(["--check"]) == 0


def test_the_generated_reference_shows_types_parameters_and_examples():
    text = hookdoc.render()
    for name in hook_names():
        assert f"### `{name}`" in text
        assert f"`{hookdoc.signature(name)}`" in text
    assert "`on_rewards(trainer: ReasoningGRPOTrainer, batch: RolloutBatch, round: GenerationRound) -> None`" in text
    assert "- `batch` (`RolloutBatch`):" in text
    assert "```python\nclass Plugin:\n    @hookimpl\n    def shape_rewards(self, batch):" in text
    assert "``" not in text.replace("```", "")  # every reST literal became Markdown
    assert "Several plugins — chain: in the recipe's `plugins:` order" in hookdoc.hook_entry("transform_prompt")


def test_every_hook_has_a_combination_rule():
    from trl_reasoning.plugins.composition import HOOK_RULES

    assert sorted(HOOK_RULES) == sorted(hook_names())
    assert set(HOOK_RULES.values()) <= set(hookdoc.RULES)
    assert {n for n, rule in HOOK_RULES.items() if rule == "one"} == {n for n in hook_names() if hookdoc.is_firstresult(n)}


def test_functions() -> dict[str, list[str]]:
    """``{function name: [files]}`` of every test function in the core's and the plugins' tests."""
    found: dict[str, list[str]] = {}
    paths = list((ROOT / "tests").rglob("test_*.py")) + list((ROOT / "plugins").glob("*/tests/**/test_*.py"))
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_"):
                found.setdefault(node.name, []).append(str(path.relative_to(ROOT)))
    return found


test_functions.__test__ = False  # a helper, not a test


def test_every_hook_has_a_test_named_after_it():
    """datasette's rule: a test function ``test_hook_<name>`` (or ``test_hook_<name>_...``) fires each hook."""
    names = test_functions()
    missing = [hook for hook in hook_names()
               if not any(fn == f"test_hook_{hook}" or fn.startswith(f"test_hook_{hook}_") for fn in names)]
    assert not missing, f"hooks without a test_hook_<name> test: {missing}"


# Hooks kept for third-party plugins that no built-in implements: hook -> why.
NO_BUILT_IN_USER = {
    "extra_batch_fields": "PPO's fields travel in Advantages.extra_fields; the hook serves plugins without advantages",
}


def test_every_hook_has_a_built_in_user():
    """Each hook is implemented by the core or by a plugin under plugins/ (test plugins do not count)."""
    sources = [p.read_text(encoding="utf-8") for p in (ROOT / "plugins").glob("*/trl_reason_*/**/*.py")]
    sources += [p.read_text(encoding="utf-8") for p in (ROOT / "trl_reasoning").rglob("*.py")
                if p.name not in ("hookspecs.py", "testing.py", "scaffold.py")]
    unused = {name for name in hook_names() if not any(f"def {name}(" in s for s in sources)}
    assert unused <= set(NO_BUILT_IN_USER), f"hooks no built-in plugin implements: {sorted(unused - set(NO_BUILT_IN_USER))}"
    assert not set(NO_BUILT_IN_USER) & (set(hook_names()) - unused), "a NO_BUILT_IN_USER hook has a user now: delete it"
