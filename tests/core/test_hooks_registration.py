"""The registration hooks fire for an installed plugin (active or not) through the manager's real paths: the trainer
and reward registries a recipe is checked against, the CLI parser, and ``trl-reason eval``'s options. No model."""

from __future__ import annotations

import argparse
import types

import pytest

from trl_reasoning import ConfigError, ReasoningGRPOConfig, ReasoningGRPOTrainer, hookimpl, prepare
from trl_reasoning.cli.main import build_parser
from trl_reasoning.plugins.manager import PluginManager


class ToyTrainer(ReasoningGRPOTrainer):
    """A trainer a plugin offers (nothing changed)."""


def shortness(prompts, completions, **kwargs):
    return [-len(str(c)) / 1000 for c in completions]


def registering_module() -> types.ModuleType:
    """A plugin module with every registration hook at module level, as an entry point names it."""
    module = types.ModuleType("trl_reasoning_test_registering")
    seen: dict[str, object] = {}

    @hookimpl
    def register_trainers(register):
        register("toy", ToyTrainer, ReasoningGRPOConfig)

    @hookimpl
    def register_rewards(register):
        register("shortness", lambda scale=1.0: shortness)

    @hookimpl
    def register_commands(subparsers):
        parser = subparsers.add_parser("hello", help="say hello")
        parser.add_argument("--who", default="world")
        parser.set_defaults(handler=lambda args: seen.setdefault("hello", args.who) and 0)

    @hookimpl
    def register_eval_options(parser):
        parser.add_argument("--toy-strength", type=float, default=0.0)

    for function in (register_trainers, register_rewards, register_commands, register_eval_options):
        setattr(module, function.__name__, function)
    module.seen = seen
    return module


@pytest.fixture
def pm():
    pm = PluginManager(discover=False, extra_modules=[("toy", registering_module())])
    pm.install_core()  # what a composition root does: the core's trainers and boxed_integer
    return pm


def test_hook_register_trainers(pm, make_recipe):
    trainers = pm.trainers()
    assert trainers["toy"] == (ToyTrainer, ReasoningGRPOConfig)
    assert {"grpo", "sft"} <= set(trainers)  # the core registers its own the same way
    prepared = prepare(make_recipe(trainer={"algorithm": "toy"}), pm)  # a recipe selects it by name
    assert prepared.trainer_class is ToyTrainer


def test_hook_register_rewards(pm, make_recipe):
    assert "shortness" in pm.rewards() and "boxed_integer" in pm.rewards()
    prepare(make_recipe(rewards=[{"name": "shortness", "config": {"scale": 2.0}}]), pm)
    with pytest.raises(ConfigError, match=r"rewards\[0\]"):  # its config is checked against the factory
        prepare(make_recipe(rewards=[{"name": "shortness", "config": {"scael": 2.0}}]), pm)


def test_hook_register_commands(pm):
    parser = build_parser(pm)
    args = parser.parse_args(["hello", "--who", "plugin authors"])
    assert args.handler(args) == 0
    assert pm.installed["toy"].module.seen["hello"] == "plugin authors"


def test_hook_register_eval_options(pm):
    parser = argparse.ArgumentParser()
    owners = pm.register_eval_options(parser)
    assert owners["toy"] == ["toy_strength"]
    assert parser.parse_args(["--toy-strength", "0.5"]).toy_strength == 0.5
