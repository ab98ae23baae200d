"""What the distributions declare: the `methods` extra installs every built-in plugin at the core's version, each
plugin pins the core release it is built with, and the core's table of built-in plugins matches plugins/*."""

from __future__ import annotations

import pytest
from distribution_helpers import builtin_plugin_names, core_project, plugin_projects
from packaging.requirements import Requirement

from trl_reasoning import __version__
from trl_reasoning.plugins.manager import BUILTIN_PLUGINS, install_hint


def test_methods_extra_pins_every_builtin_plugin_to_the_core_version():
    core = core_project()
    assert core["version"] == __version__
    extra = {Requirement(text).name: str(Requirement(text).specifier)
             for text in core["optional-dependencies"]["methods"]}
    expected = {project["name"]: f"=={core['version']}" for project in plugin_projects().values()}
    assert extra == expected


@pytest.mark.parametrize("folder", sorted(plugin_projects()), ids=lambda p: p.name)
def test_each_plugin_is_its_own_distribution_pinned_to_the_core(folder):
    project = plugin_projects()[folder]
    assert project["version"] == core_project()["version"]
    core = [Requirement(text) for text in project["dependencies"] if Requirement(text).name == "trl-reasoning"]
    assert [str(r.specifier) for r in core] == [f"=={core_project()['version']}"]
    assert project.get("entry-points", {}).get("trl_reasoning"), "no trl_reasoning entry point"


def test_the_core_knows_every_builtin_plugin_by_its_distribution():
    assert BUILTIN_PLUGINS == builtin_plugin_names()


@pytest.mark.parametrize("name, says, never", [
    ("hapo", ["pip install trl-reason-hapo", 'pip install "trl-reasoning[methods]"'], []),
    ("one_shot", ["pip install trl-reason-one-shot"], []),
    ("my_lab_bonus", ["pip install <distribution>", "trl-reason plugins"], ["plugins/my_lab_bonus", "trl-reason-my"]),
])
def test_install_hint_fits_the_plugin(name, says, never):
    hint = install_hint(name)
    for text in says:
        assert text in hint
    for text in never:
        assert text not in hint
