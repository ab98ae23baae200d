"""The core's layers: imports point one way, there is no import cycle, and each module imports on its own.

Layer order (an import may point to its own layer or to any layer on its left; docs/architecture.md)::

    hookspecs, rollouts, records, console, config  <-  plugins  <-  data, models, grading, rewards, evaluation
    <-  lifecycle  <-  trainers  <-  run  <-  cli  ;  testing on top

Read from the source with ``ast`` (no import runs), so a new edge fails here with its file and line. Imports under
``if TYPE_CHECKING:`` do not count. A function-local import of one of the package's own modules is allowed only
when the target is heavy (it imports torch, transformers, TRL, ... at module level, itself or through the modules
it imports) and so is deferred for start-up time, with a comment saying so; any other one hides a cycle or a layer
breach. The package root ``trl_reasoning/__init__.py`` (the public API) imports its names lazily (PEP 562) and may
name any module there. ``python tests/core/test_layers.py`` prints every violation.

``KNOWN`` lists the violations that other work in flight removes, each with its owner; it may only shrink (an entry
that no longer occurs is reported as a warning, to be deleted).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import warnings
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "trl_reasoning"

LAYERS = [
    {"hookspecs", "rollouts", "records", "console", "config", "versions"},
    {"plugins"},
    {"data", "models", "grading", "rewards", "evaluation"},
    {"lifecycle"},
    {"trainers"},
    {"run"},
    {"cli"},
    {"testing"},
]
# Third-party libraries that make a module "heavy" (seconds of start-up; tests/distribution/test_cli_startup_imports).
HEAVY_LIBRARIES = {"torch", "transformers", "trl", "datasets", "peft", "accelerate", "sympy", "latex2sympy2",
                   "vllm", "matplotlib", "deepspeed"}

# (importer, imported, kind) -> who removes it (an imported package covers its submodules; for "cycle", a package
# entry covers its modules). kind: "layer" (points right), "local" (a function-local import of a
# light module of the package), "comment" (a local import of a heavy module without a comment saying why), "cycle"
# (a module of a cycle; imported is "").
KNOWN: dict[tuple[str, str, str], str] = {
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(name: str) -> int:
    if name == "trl_reasoning":
        return -1
    top = name.split(".")[1]
    for index, group in enumerate(LAYERS):
        if top in group:
            return index
    raise AssertionError(f"{name}: trl_reasoning.{top} is in no layer; add it to LAYERS here and to the layer "
                         f"order in docs/architecture.md")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve(importer: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The package modules an import statement loads (the deepest module each name resolves to)."""
    known = modules()
    if isinstance(node, ast.Import):
        bases = [alias.name for alias in node.names]
        return [b for b in bases if b.split(".")[0] == "trl_reasoning"]
    base = node.module or ""
    if node.level:
        package = importer if modules()[importer].name == "__init__.py" else importer.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    if base.split(".")[0] != "trl_reasoning":
        return []
    found = []
    for alias in node.names:
        candidate = f"{base}.{alias.name}"
        found.append(candidate if candidate in known else base)
    return found


@cache
def imports() -> dict[str, list[tuple[str, int, bool]]]:
    """``{module: [(imported package module, line, function_local)]}`` for every module of the package."""
    graph: dict[str, list[tuple[str, int, bool]]] = {}
    for name, path in modules().items():
        edges: list[tuple[str, int, bool]] = []

        def visit(node: ast.AST, local: bool) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and _is_type_checking(child.test):
                    for sub in child.orelse:
                        visit_stmt(sub, local)
                    continue
                visit_stmt(child, local)

        def visit_stmt(child: ast.AST, local: bool) -> None:
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                edges.extend((target, child.lineno, local) for target in _resolve(name, child))
            inner = local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            visit(child, inner)

        visit(ast.parse(path.read_text(encoding="utf-8")), False)
        graph[name] = edges
    return graph


@cache
def third_party_top_level(name: str) -> frozenset[str]:
    """Top-level names of the third-party modules ``name`` imports at module level."""
    found = set()
    tree = ast.parse(modules()[name].read_text(encoding="utf-8"))

    def walk(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for sub in child.orelse:
                    walk_one(sub)
                continue
            walk_one(child)

    def walk_one(child):
        if isinstance(child, ast.Import):
            found.update(alias.name.split(".")[0] for alias in child.names)
        elif isinstance(child, ast.ImportFrom) and not child.level and child.module:
            found.add(child.module.split(".")[0])
        walk(child)

    walk(tree)
    return frozenset(found)


def parents(name: str) -> list[str]:
    """The packages Python imports before ``name`` (``trl_reasoning.a.b`` -> ``trl_reasoning.a``), root excluded."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(2, len(parts))]


@cache
def eager_closure(name: str) -> frozenset[str]:
    """Every package module importing ``name`` loads (module-level imports and parent packages), ``name`` included."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen or current not in modules():
            continue
        seen.add(current)
        todo.extend(parents(current))
        todo.extend(target for target, _, local in imports()[current] if not local)
    return frozenset(seen)


def is_heavy(name: str) -> bool:
    return any(third_party_top_level(m) & HEAVY_LIBRARIES for m in eager_closure(name))


def where(importer: str, line: int) -> str:
    return f"{modules()[importer].relative_to(ROOT)}:{line}"


def layer_violations() -> dict[tuple[str, str, str], str]:
    found = {}
    for importer, edges in imports().items():
        if importer == "trl_reasoning":
            continue
        for target, line, _ in edges:
            if layer(target) > layer(importer):
                found[(importer, target, "layer")] = (f"{where(importer, line)} imports {target} (layer "
                                                      f"{layer(target)} > {layer(importer)})")
    return found


def local_violations() -> dict[tuple[str, str, str], str]:
    found = {}
    for importer, edges in imports().items():
        if importer == "trl_reasoning":
            continue
        for target, line, local in edges:
            if local and target in modules() and not is_heavy(target):
                found[(importer, target, "local")] = (f"{where(importer, line)} imports {target} inside a function, "
                                                      f"but {target} is light: import it at the top")
    return found


def _says_why(lines: list[str], line: int) -> bool:
    """A comment on the import's line, or on a line of the block of imports it belongs to, or just above that block."""
    index = line - 1
    while index >= 0:
        text = lines[index].strip()
        if "#" in text:
            return True
        if not text.startswith(("from ", "import ")) and index != line - 1:
            return False
        index -= 1
    return False


def uncommented_heavy_local_imports() -> dict[tuple[str, str, str], str]:
    """Function-local imports of heavy own modules (allowed) that do not say why in a comment (COMMON rule)."""
    found = {}
    for importer, edges in imports().items():
        if importer == "trl_reasoning":
            continue
        lines = modules()[importer].read_text(encoding="utf-8").splitlines()
        for target, line, local in edges:
            if local and target in modules() and is_heavy(target) and not _says_why(lines, line):
                found[(importer, target, "comment")] = (
                    f"{where(importer, line)} imports the heavy {target} inside a function: say why in a comment "
                    f"(e.g. '# heavy (torch): only when ...')")
    return found


def cycles() -> list[list[str]]:
    """Strongly connected components (more than one module, or a self-loop) of the whole import graph."""
    graph = {}
    for name, edges in imports().items():
        targets = {t for t, _, _ in edges if t in modules() and t != "trl_reasoning"}
        # Importing a.b.c also runs a.b's __init__: an edge to each parent package that is not one of the importer's
        # own (a package importing its submodules is the normal way down, not a cycle).
        targets |= {p for t in targets for p in parents(t) if p not in parents(name) and p != name}
        graph[name] = sorted(targets - {name})
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = [0]

    def strongconnect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, []):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return result


def cycle_violations() -> dict[tuple[str, str, str], str]:
    return {(name, "", "cycle"): f"{name} is on the import cycle {' <-> '.join(component)}"
            for component in cycles() for name in component}


def check(found: dict[tuple[str, str, str], str], kind: str) -> None:
    known = {key for key in KNOWN if key[2] == kind}

    def covers(entry: tuple[str, str, str], key: tuple[str, str, str]) -> bool:  # a package entry covers its modules
        if kind == "cycle":
            return entry[0] == key[0] or key[0].startswith(entry[0] + ".")
        return entry[0] == key[0] and (entry[1] == key[1] or key[1].startswith(entry[1] + "."))

    new = {key: text for key, text in found.items() if not any(covers(entry, key) for entry in known)}
    stale = sorted(entry for entry in known if not any(covers(entry, key) for key in found))
    for key in stale:
        warnings.warn(f"KNOWN entry {key} (owner {KNOWN[key]}) no longer occurs: delete it from KNOWN")
    assert not new, "\n".join(text for _, text in sorted(new.items()))


def test_imports_point_down_the_layers():
    check(layer_violations(), "layer")


def test_no_import_cycles():
    check(cycle_violations(), "cycle")


def test_function_local_imports_of_own_modules_only_for_heavy_targets():
    check(local_violations(), "local")


def test_function_local_imports_of_heavy_modules_say_why():
    check(uncommented_heavy_local_imports(), "comment")


def test_the_root_imports_only_the_bottom_layer_at_module_level():
    """``import trl_reasoning`` runs before every submodule: it may load only layer-0 modules eagerly."""
    eager = [(t, line) for t, line, local in imports()["trl_reasoning"] if not local]
    assert all(layer(t) == 0 for t, _ in eager), eager
    assert not is_heavy("trl_reasoning")


ALONE = ("import importlib, importlib._bootstrap_external as external, sys\n"
         # each module's source compiles once, not once per import (bytecode may not be written here)
         "compiled, compile_source = {}, external.SourceLoader.source_to_code\n"
         "def cached(self, data, path, *, _optimize=-1):\n"
         "    key = (path, data)\n"
         "    if key not in compiled:\n"
         "        compiled[key] = compile_source(self, data, path, _optimize=_optimize)\n"
         "    return compiled[key]\n"
         "external.SourceLoader.source_to_code = cached\n"
         "failed = []\n"
         "for name in sys.argv[1:]:\n"
         "    for loaded in [m for m in sys.modules if m == 'trl_reasoning' or m.startswith('trl_reasoning.')]:\n"
         "        del sys.modules[loaded]\n"
         "    try:\n"
         "        importlib.import_module(name)\n"
         "    except BaseException as exc:\n"
         "        failed.append(f'{name}: {type(exc).__name__}: {exc}')\n"
         "print('\\n'.join(failed))\n")


def import_alone(names: list[str]) -> None:
    """``python -c "import X"`` for each X: one interpreter that forgets every ``trl_reasoning`` module before each
    import, so each starts from nothing of the package while torch & co. stay loaded."""
    done = subprocess.run([sys.executable, "-c", ALONE, *names], capture_output=True, text=True, timeout=900,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not done.stdout.strip(), done.stdout


def test_every_module_imports_on_its_own():
    """``python -c "import trl_reasoning.X"`` works for every module X: a module that imports only when a cycle is
    entered from elsewhere, or names a module that does not exist, fails here (one interpreter, see import_alone)."""
    import_alone(sorted(modules()))


def test_the_graph_reader_sees_known_edges():
    """The AST reader itself: it finds a module-level and a function-local import the tree is known to have."""
    edges = {(t, local) for t, _, local in imports()["trl_reasoning.config.recipe"]}
    assert ("trl_reasoning.config.schema", False) in edges
    assert is_heavy("trl_reasoning.rollouts") and not is_heavy("trl_reasoning.config.schema")
    assert layer("trl_reasoning.cli.main") > layer("trl_reasoning.run") > layer("trl_reasoning.hookspecs")


if __name__ == "__main__":  # print the current violations (for the KNOWN list)
    for kind, found in (("layer", layer_violations()), ("local", local_violations()),
                        ("comment", uncommented_heavy_local_imports()), ("cycle", cycle_violations())):
        for key, text in sorted(found.items()):
            print(kind, key, "|", text)
