"""The manager caches its pluggy callers and implementer lists per active set (``benchmarks/overhead.py``): every
change of the active plugins or of the composition must reach the next call. Real pluggy, small plugin objects."""

from __future__ import annotations

import io

import pytest
import torch

from trl_reasoning import hookimpl
from trl_reasoning.config.schema import ConfigError
from trl_reasoning.plugins.hooks import RunHooks
from trl_reasoning.plugins.manager import PluginManager
from trl_reasoning.plugins.tracing import install_tracing
from trl_reasoning.testing import make_rollout_batch, make_trainer_stub
from trl_reasoning.trainers.base import ReasoningTrainerMixin

from probe_plugins import Selector


class Scheduler:
    def __init__(self, value):
        self.value = value

    @hookimpl
    def schedule(self, step):
        return {"x": self.value}


class Keep:
    def __init__(self, mask):
        self.mask = mask

    @hookimpl
    def filter_groups(self, batch):
        return torch.tensor(self.mask)  # (num_groups,)


class SchedulerPlugin:
    """An installable ``Plugin`` class (``install(..., activate_config=...)``)."""

    @hookimpl
    def schedule(self, step):
        return {"x": "installed"}


ROWS = [{"prompt_id": i} for i in range(3)]


def test_callers_are_built_once_and_rebuilt_after_a_change():
    pm = PluginManager(discover=False)
    pm.register_active("a", Scheduler(1))
    first = pm.caller("schedule", only="a")
    assert pm.caller("schedule", only="a") is first  # cached
    pm.register_active("b", Scheduler(2))
    rebuilt = pm.caller("schedule", only="a")
    assert rebuilt is not first
    assert [impl.plugin_name for impl in rebuilt.get_hookimpls()] == ["a"]  # not b, registered after the cache


def test_register_after_a_call_is_seen():
    pm = PluginManager(discover=False)
    hooks = RunHooks(pm)
    assert not hooks.present("schedule") and pm.call_each("schedule", trainer=None, step=0) == {}
    pm.register_active("a", Scheduler(1))
    assert hooks.present("schedule") and pm.implementers("schedule") == ["a"]
    assert pm.call_each("schedule", trainer=None, step=0) == {"a": {"x": 1}}
    pm.register_active("b", Scheduler(2))
    assert pm.call_each("schedule", trainer=None, step=0) == {"a": {"x": 1}, "b": {"x": 2}}
    assert pm.call_one("b", "schedule", trainer=None, step=0) == {"x": 2}
    assert hooks.schedule(0) == {"x": 2}  # the later plugin's value


def test_unregister_after_a_call_is_seen():
    pm = PluginManager(discover=False)
    pm.register_active("a", Scheduler(1))
    pm.register_active("b", Scheduler(2))
    assert pm.call_each("schedule", trainer=None, step=0) == {"a": {"x": 1}, "b": {"x": 2}}
    assert pm.call_one("a", "schedule", trainer=None, step=0) == {"x": 1}
    pm.unregister("a")
    assert pm.call_each("schedule", trainer=None, step=0) == {"b": {"x": 2}}
    assert pm.call_one("a", "schedule", trainer=None, step=0) is None
    assert pm.call_chain("schedule", "step", 0, trainer=None) == {"x": 2}
    pm.unregister("b")
    assert not RunHooks(pm).present("schedule") and pm.implementers("schedule") == []


def test_composition_change_is_seen():
    pm = PluginManager(discover=False)
    pm.register_active("f", Selector("f"))
    pm.register_active("p", Selector("p"))
    assert RunHooks(pm).select_prompts(ROWS, 2)[0]["picked_by"] == "p"  # firstresult: the last registered first
    assert pm.implementers("select_prompts") == ["f", "p"]
    pm.set_composition({"select_prompts": "f"})
    assert pm.implementers("select_prompts") == ["f"]
    assert RunHooks(pm).select_prompts(ROWS, 2)[0]["picked_by"] == "f"
    assert pm.call_each("select_prompts", trainer=None, rows=ROWS, num_prompts=1, round=None).keys() == {"f"}
    pm.set_composition({})
    assert pm.implementers("select_prompts") == ["f", "p"]
    assert RunHooks(pm).select_prompts(ROWS, 2)[0]["picked_by"] == "p"


def test_install_activate_and_uninstall_are_seen():
    pm = PluginManager(discover=False)
    assert pm.call_each("schedule", trainer=None, step=0) == {}
    pm.install("sched", SchedulerPlugin, activate_config={})
    assert pm.call_each("schedule", trainer=None, step=0) == {"sched": {"x": "installed"}}
    pm.uninstall("sched")
    assert pm.call_each("schedule", trainer=None, step=0) == {} and not pm.is_implemented("schedule")
    pm.install("later", SchedulerPlugin)  # installed, not active: no hook of it acts
    assert pm.call_each("schedule", trainer=None, step=0) == {}
    pm.activate({"later": {}})
    assert pm.implementers("schedule") == ["later"]


def test_a_failed_activation_still_forgets_the_cache():
    pm = PluginManager(discover=False)
    pm.install("sched", SchedulerPlugin)
    assert not pm.is_implemented("schedule")
    with pytest.raises(ConfigError, match="no installed plugin is named 'missing'"):
        pm.activate({"sched": {}, "missing": {}})
    assert pm.implementers("schedule") == ["sched"]  # registered before the error, and seen


def test_unknown_hook_still_raises():
    pm = PluginManager(discover=False)
    with pytest.raises(AttributeError):
        pm.is_implemented("on_reward")
    with pytest.raises(AttributeError):
        pm.caller("on_reward")
    with pytest.raises(ValueError, match="no hook named 'on_reward'"):
        ReasoningTrainerMixin.hook_present(make_trainer_stub(pm=pm), "on_reward")  # what callbacks ask


def test_cached_callers_are_traced_when_tracing_starts_later():
    pm = PluginManager(discover=False)
    pm.register_active("a", Scheduler(1))
    pm.call_each("schedule", trainer=None, step=0)  # builds and caches the caller
    stream = io.StringIO()
    undo = install_tracing(pm._active_pm, stream=stream, enabled=True)
    try:
        pm.call_each("schedule", trainer=None, step=3)
    finally:
        undo()
    assert stream.getvalue().splitlines() == ["[trl-reasoning] hook schedule -> [a] trainer=None step=3",
                                              "[trl-reasoning] hook schedule <- [{'x': 1}]"]


def test_hooks_nobody_implements_are_not_called():
    pm = PluginManager(discover=False)
    calls = []
    pm._active_pm.add_hookcall_monitoring(lambda name, impls, kwargs: calls.append(name), lambda *args: None)
    hooks = RunHooks(pm)
    batch = make_rollout_batch(rewards=[[1, 0], [0, 0]])
    assert hooks.kept_groups(batch) is None and hooks.metrics("train") == {} and hooks.schedule(0) == {}
    assert hooks.advantages(batch, [], {}) is None and hooks.select_prompts(ROWS, 2) is None
    assert calls == []  # skipped before pluggy
    pm.register_active("keep", Keep([True, False]))
    assert hooks.kept_groups(batch).tolist() == [True, False]
    assert calls == ["filter_groups"]
