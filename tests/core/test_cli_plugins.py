"""`trl-reason plugins NAME` shows a plugin's recipe options (its Config fields) with type, default, range and
help text; `--json` gives the same as data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from trl_reasoning.cli.main import main
from trl_reasoning.config.schema import config_fields
from trl_reasoning.plugins.manager import PluginManager

CONSOLE_SCRIPT = Path(sys.executable).with_name("trl-reason")


def cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CONSOLE_SCRIPT), *argv], capture_output=True, text=True, timeout=300)


def test_plugin_options_with_type_default_and_help(capsys):
    assert main(["plugins", "hapo"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    config = PluginManager().installed["hapo"].config_class
    for row in config_fields(config):
        line = lines[row["name"]]  # one line an option: key, type, default, range, help
        assert row["type"] in line and row["help"][:30] in line, line
    assert "1.0" in lines["weight"] and '"min"' in lines["mode"]


def test_plugin_options_as_json_through_the_console_script():
    proc = cli("plugins", "fastcurl", "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["name"] == "fastcurl" and info["hooks"]
    fields = {row["name"]: row for row in info["config"]}
    assert fields and all(set(row) == {"name", "type", "default", "required", "range", "help"}
                          for row in fields.values())
    assert all(row["help"] for row in fields.values()), "every plugin option has help text"


def test_a_plugin_without_options_and_an_unknown_name(capsys):
    assert main(["plugins", "correctness"]) == 0
    assert "options: none" in capsys.readouterr().out
    assert main(["plugins", "hapoo"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "no installed plugin is named 'hapoo'. Did you mean 'hapo'?" in err
