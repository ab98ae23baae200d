"""The repository stands alone: no tracked file points at a path outside it (except `.ci/run`, which may tell CI where
the full benchmark files are), and no file cites background notes that are not in it.

On a clone from a public host such a path is a dead link, a test default that silently skips, or a docstring that
cites nothing. Paper facts live in `docs/papers/`, the design in `docs/architecture.md`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXEMPT = {".ci/run"}

# Each pattern is split so that this file does not match itself.
OUTSIDE_REFERENCES = {
    "a sibling folder of the clone": re.compile(re.escape("../" + "shared")),
    "an absolute path on the build machine": re.compile(re.escape("/" + "work/")),
    "the same sibling folder built with pathlib": re.compile(r"""["']""" + "shared" + r"""["']\s*/\s*["']data["']"""),
    "background notes that are not in the repository": re.compile(
        re.escape("algorithms" + ".md") + "|" + r"\bresearch/[\w-]+\.md" + "|" + r"\bDESIGN" + r"\.md"),
}


def outside_references(text: str) -> list[tuple[int, str, str]]:
    """(line number, what it points at, the line) for every line of ``text`` that points outside the repository."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for what, pattern in OUTSIDE_REFERENCES.items():
            if pattern.search(line):
                found.append((number, what, line.strip()))
    return found


@pytest.mark.parametrize("line,hits", [
    ("DATA_DIR ?= $(abspath ../" + "shared/data)", 1),
    ("DSR_SUB = Path('/" + "work/shared/data/dsr_sub.jsonl')", 1),
    ("SHARED = ROOT / '..' / 'shared' / \"data\"", 1),
    ("(research/algorithms" + ".md §5(b))", 1),
    ("(research/trl-" + "extension.md A.3 item 4)", 1),
    ("the plan (DES" + "IGN.md §5)", 1),
    ("docs/design-notes.md and docs/architecture.md", 0),
    ("see docs/papers/hapo.md, 'Length reward'", 0),
    ("the shared data dir of a run", 0),
    ("python ../scripts/shared_setup.py", 0),
])
def test_the_patterns_find_what_they_should(line, hits):
    assert len(outside_references(line)) == hits


def tracked_files() -> list[str]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [name for name in listing.stdout.decode("utf-8").split("\0") if name]


def test_no_tracked_file_points_outside_the_repository():
    problems = []
    for name in tracked_files():
        path = ROOT / name
        if name in EXEMPT or not path.is_file():  # a deleted but still tracked file is not shipped
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:  # binary
            continue
        for number, what, line in outside_references(data.decode("utf-8", errors="replace")):
            problems.append(f"{name}:{number}: {what}: {line[:160]}")
    assert not problems, "tracked files that point outside the repository:\n" + "\n".join(problems)


def test_the_run_ends_with_the_skipped_tests_counted_by_reason(tmp_path):
    """`make test` on a bare clone skips the tests that need the full benchmark files; the summary says how many
    and why (tests/conftest.py), without -rs."""
    import sys

    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_some.py").write_text(
        "import pytest\n"
        "NEEDS = 'needs the full benchmark files: set TRL_REASONING_DATA_DIR'\n"
        "@pytest.mark.parametrize('i', [1, 2, 3])\n"
        "def test_data(i):\n"
        "    pytest.skip(NEEDS)\n"
        "@pytest.mark.skipif(True, reason='needs CUDA')\n"
        "def test_gpu():\n"
        "    pass\n"
        "@pytest.mark.xfail(reason='known')\n"
        "def test_known():\n"
        "    assert False\n"
        "def test_ok():\n"
        "    pass\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                           str(tmp_path)], cwd=tmp_path, capture_output=True, text=True)
    lines = [line.strip() for line in done.stdout.splitlines()]
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 test(s) skipped, by reason:" in lines
    assert "3  needs the full benchmark files: set TRL_REASONING_DATA_DIR" in lines
    assert "1  needs CUDA" in lines
    assert not any("known" in line for line in lines if line[:1].isdigit())  # an xfail is not a skip
