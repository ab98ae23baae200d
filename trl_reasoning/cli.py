"""``trl-reason``: run recipes, evaluate, grade, report, push, and whatever plugins add.

::

    trl-reason run recipes/quickstart.yaml --set trainer.max_steps=2 --output-dir runs/qs
    trl-reason plugins            # installed plugins: name, version, hooks
    trl-reason recipes            # every recipe and its one-line purpose
    trl-reason report runs/qs     # plots and a summary table

A mistake a user can make (a wrong recipe key, an unknown plugin, a missing file) exits with status 2 and one
clear message, without a traceback. Set ``TRL_REASONING_DEBUG=1`` to see the traceback anyway.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EXIT_USAGE = 2


def _user_errors():
    from .config_schema import ConfigError
    from .data import DataError
    from .models import ModelError
    from .plugins import PluginError

    errors = [ConfigError, DataError, ModelError, PluginError, FileNotFoundError]
    try:
        from .evaluation.benchmarks import BenchmarkError  # noqa: F401

        errors.append(BenchmarkError)
    except Exception:
        pass
    return tuple(errors)


def cmd_run(args) -> int:
    from .recipe import load_recipe
    from .run import run_recipe

    recipe = load_recipe(args.recipe, args.set or [])
    if getattr(args, "allow_resume_mismatch", False):
        os.environ["TRL_REASONING_ALLOW_RESUME_MISMATCH"] = "1"  # read by the resume check, in every process
    from .launch import maybe_relaunch

    status = maybe_relaunch(args)  # --num-processes / --accelerate-config: torchrun or accelerate launch
    if status is not None:
        return status
    run_recipe(recipe, output_dir=args.output_dir, resume=args.resume)
    return 0


def cmd_plugins(args) -> int:
    from rich.table import Table

    from .plugins import PluginManager
    from .progress import console

    pm = PluginManager()
    rows = pm.describe()
    if args.json:
        import json

        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title="installed trl-reasoning plugins")
    for column in ("name", "version", "hooks"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], row["version"] or "-", ", ".join(row["hooks"]))
    console.print(table)
    rewards = ", ".join(sorted(pm.rewards()))
    trainers = ", ".join(sorted(pm.trainers()))
    console.print(f"rewards: {rewards}\ntrainers: {trainers}")
    return 0


def recipes_dir() -> Path:
    here = Path(__file__).resolve().parent.parent / "recipes"
    return Path(os.environ.get("TRL_REASONING_RECIPES", here))


def cmd_recipes(args) -> int:
    from rich.table import Table

    from .progress import console
    from .recipe import describe

    root = Path(args.dir) if args.dir else recipes_dir()
    table = Table(title=f"recipes in {root}")
    table.add_column("recipe")
    table.add_column("purpose")
    for path in sorted(root.rglob("*.yaml")):
        table.add_row(str(path.relative_to(root)), describe(path))
    console.print(table)
    return 0


def cmd_report(args) -> int:
    from .report import report

    report(args.output_dir)
    return 0


def build_parser(pm=None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trl-reason", description="RLVR for math reasoning on TRL, with plugins.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a recipe", description="Train (and evaluate) as a recipe says.")
    run.add_argument("recipe", help="path to a recipe YAML file")
    run.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="override a recipe key, e.g. --set trainer.max_steps=2 (repeatable)")
    run.add_argument("--output-dir", help="where to write the run (default: the recipe's output_dir)")
    run.add_argument("--resume", nargs="?", const=True, default=None, metavar="CHECKPOINT",
                     help="resume from the latest checkpoint in the output dir, or from CHECKPOINT")
    run.add_argument("--allow-resume-mismatch", action="store_true",
                     help="resume even when the checkpoint's data fingerprint or recipe differ (a stage switch)")
    run.add_argument("--num-processes", type=int, metavar="N",
                     help="run N processes: torchrun on CPU (gloo), accelerate launch on GPUs (docs/lifecycle.md)")
    run.add_argument("--accelerate-config", metavar="FILE",
                     help="accelerate config file (DeepSpeed ZeRO-2/3, FSDP, ...): launches with accelerate")
    run.set_defaults(handler=cmd_run)

    plugins = sub.add_parser("plugins", help="list installed plugins")
    plugins.add_argument("--json", action="store_true")
    plugins.set_defaults(handler=cmd_plugins)

    recipes = sub.add_parser("recipes", help="list recipes and their purpose")
    recipes.add_argument("--dir", help="recipes directory (default: the repository's recipes/)")
    recipes.set_defaults(handler=cmd_recipes)

    rep = sub.add_parser("report", help="plots and a summary table of a run")
    rep.add_argument("output_dir")
    rep.set_defaults(handler=cmd_report)

    for module, function in (("trl_reasoning.grading.cli", "add_grade_parser"),
                             ("trl_reasoning.evaluation.cli", "add_eval_parser"),
                             ("trl_reasoning.lifecycle_cli", "add_lifecycle_parsers")):
        try:
            import importlib

            add = getattr(importlib.import_module(module), function)
        except (ImportError, AttributeError):
            continue
        add(sub, pm) if function == "add_eval_parser" else add(sub)
    if pm is not None:
        pm.register_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .progress import console

    argv = list(sys.argv[1:] if argv is None else argv)
    errors = _user_errors()
    try:
        from .plugins import PluginManager

        pm = PluginManager()
        parser = build_parser(pm)
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            parser.print_help()
            return EXIT_USAGE
        args.plugin_manager = pm
        return int(args.handler(args) or 0)
    except errors as exc:
        if os.environ.get("TRL_REASONING_DEBUG"):
            raise
        console.print(f"[bold red]error:[/] {_escape(str(exc))}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        return 130


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


if __name__ == "__main__":
    sys.exit(main())
