"""`trl-reason --help` and the listing commands stay fast: they import none of the heavy libraries (torch alone is
~2 s of CPU), with every built-in plugin installed and discovered. Timed in benchmarks/cli_startup.py; this test
is the load-independent guard (a plugin that imports torch at module level fails it)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "trl", "datasets", "peft", "accelerate", "sympy")
PROBE = """
import json, sys
from trl_reasoning.cli.main import main
try:
    status = main(sys.argv[1:])
except SystemExit as exit:
    status = exit.code
sys.stdout.flush()
print("\\n" + json.dumps({"status": status, "heavy": sorted(m for m in %r if m in sys.modules)}))
""" % (HEAVY,)


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["recipes", "--json"], ["plugins", "--json"]])
def test_command_imports_no_heavy_library(argv):
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=300)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["status"] == 0, done.stderr[-2000:]
    assert found["heavy"] == [], f"`trl-reason {' '.join(argv)}` imported {found['heavy']}"
