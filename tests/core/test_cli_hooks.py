"""Plugins extend the CLI: their own subcommands (`register_commands`) and `trl-reason eval` options
(`register_eval_options`), and a plugin whose eval option is set is activated for that evaluation."""

from __future__ import annotations

import types

from trl_reasoning import hookimpl
from trl_reasoning.cli.main import build_parser, main
from trl_reasoning.cli.eval import plugins_for_eval
from trl_reasoning.plugins.manager import PluginManager


def hello_module():
    module = types.ModuleType("trl_reason_hello")

    @hookimpl
    def register_commands(subparsers):
        parser = subparsers.add_parser("hello", help="say hello")
        parser.add_argument("--name", default="world")
        parser.set_defaults(handler=lambda args: print(f"hello {args.name}") or 0)

    @hookimpl
    def register_eval_options(parser):
        parser.add_argument("--hello-c", type=float, default=None)

    module.register_commands = register_commands
    module.register_eval_options = register_eval_options
    return module


def test_plugin_subcommand_and_eval_option(capsys):
    pm = PluginManager(extra_modules=[("hello", hello_module())], discover=False)
    parser = build_parser(pm)
    args = parser.parse_args(["hello", "--name", "plugins"])
    assert args.handler(args) == 0
    assert capsys.readouterr().out.strip() == "hello plugins"
    args = parser.parse_args(["eval", "--model", "x", "--benchmarks", "gsm8k", "--hello-c", "0.5"])
    assert args.hello_c == 0.5
    assert plugins_for_eval(args) == ["hello"]
    args = parser.parse_args(["eval", "--model", "x", "--benchmarks", "gsm8k"])
    assert plugins_for_eval(args) == []


def test_installed_plugin_commands_reach_the_real_cli(capsys):
    import pytest

    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "eval", "grade", "report", "plugins", "recipes"):
        assert command in out
