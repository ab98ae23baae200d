"""The plugin manager: discovery switches, tracing, misspelled hooks, per-plugin config validation."""

from __future__ import annotations

import dataclasses
import types

import pytest

from trl_reasoning import hookimpl
from trl_reasoning.config.schema import ConfigError
from trl_reasoning.plugins.manager import PluginError, PluginManager


def test_load_and_disable_switches(monkeypatch):
    everything = set(PluginManager(core=True).installed)
    assert {"builtin", "correctness", "format_reward"} <= everything
    monkeypatch.setenv("TRL_REASONING_LOAD_PLUGINS", "correctness")
    assert set(PluginManager(core=True).installed) == {"builtin", "correctness"}
    monkeypatch.delenv("TRL_REASONING_LOAD_PLUGINS")
    monkeypatch.setenv("TRL_REASONING_DISABLE_PLUGINS", "format_reward,correctness")
    left = set(PluginManager(core=True).installed)
    assert "builtin" in left and not {"format_reward", "correctness"} & left


def test_misspelled_hook_implementation_fails_at_start_up():
    class Typo:
        @hookimpl
        def on_reward(self, batch):  # the hook is on_rewards
            pass

    with pytest.raises(PluginError, match=r"'on_reward'.*did you mean 'on_rewards'"):
        PluginManager(discover=False).register_active("typo", Typo())


def test_tracing_prints_every_hook_call(monkeypatch, capsys):
    monkeypatch.setenv("TRL_REASONING_TRACE_PLUGINS", "1")
    pm = PluginManager(discover=False)

    class Hello:
        @hookimpl
        def metrics(self, trainer, mode):
            return {"hello": 1.0}

    pm.register_active("hello", Hello())
    assert pm.hook.metrics(trainer=None, mode="train") == [{"hello": 1.0}]
    err = capsys.readouterr().err
    assert "hook metrics -> [hello] trainer=None mode='train'" in err and "{'hello': 1.0}" in err
    # per-plugin calls (plugin state, schedules, chains) go through pluggy too, so they are traced with their values
    assert pm.call_each("metrics", trainer=None, mode="eval") == {"hello": {"hello": 1.0}}
    assert pm.call_one("hello", "metrics", trainer=None, mode="eval") == {"hello": 1.0}
    err = capsys.readouterr().err
    assert err.count("hook metrics -> [hello] trainer=None mode='eval'") == 2


def test_core_plugin_is_installed_by_dotted_name_and_install_uninstall():
    pm = PluginManager(discover=False)
    assert "builtin" not in pm.installed and pm.trainers() == {}  # the composition root installs the core
    pm.install_core()
    pm.install_core()  # idempotent
    assert "grpo" in pm.trainers() and pm.installed["builtin"].entry_point == "builtin = trl_reasoning.trainers.builtin"
    pm.install("greet", GreetPlugin, activate_config={"weight": 3})
    assert pm.hook.metrics(trainer=None, mode="train") == [{"greet/weight": 3.0}]
    pm.uninstall("greet")
    assert "greet" not in pm.installed and pm.hook.metrics(trainer=None, mode="train") == []


@dataclasses.dataclass
class GreetConfig:
    weight: float = dataclasses.field(default=1.0, metadata={"help": "How much."})
    mode: str = dataclasses.field(default="min", metadata={"help": "min or mean."})

    def __post_init__(self):
        if self.mode not in ("min", "mean"):
            raise ValueError(f"mode must be 'min' or 'mean', got {self.mode!r}")


class GreetPlugin:
    Config = GreetConfig

    def __init__(self, config):
        self.config = config

    @hookimpl
    def metrics(self):
        return {"greet/weight": self.config.weight}


def make_module():
    module = types.ModuleType("trl_reason_greet")
    module.Plugin = GreetPlugin
    return module


def test_plugin_config_is_validated_with_path_and_nearest_key():
    pm = PluginManager(extra_modules=[("greet", make_module())], discover=False)
    with pytest.raises(ConfigError) as info:
        pm.activate({"greet": {"wieght": 2}})
    assert info.value.path == "plugins.greet.wieght" and "'weight'" in str(info.value)
    pm = PluginManager(extra_modules=[("greet", make_module())], discover=False)
    with pytest.raises(ConfigError, match=r"plugins.greet: mode must be"):
        pm.activate({"greet": {"mode": "max"}})
    pm = PluginManager(extra_modules=[("greet", make_module())], discover=False)
    pm.activate({"greet": {"weight": 2}})
    assert pm.hook.metrics(trainer=None, mode="train") == [{"greet/weight": 2.0}]


def test_describe_lists_name_version_and_hooks():
    rows = {row["name"]: row for row in PluginManager(core=True).describe()}
    assert rows["format_reward"]["hooks"] == ["register_rewards"]
    assert rows["format_reward"]["version"] == "0.1.0"
    assert "register_trainers" in rows["builtin"]["hooks"]
