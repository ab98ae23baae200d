"""``trl-reason``: run recipes, evaluate, grade, report, push, and whatever plugins add.

::

    trl-reason run recipes/quickstart.yaml --set trainer.max_steps=2 --output-dir runs/qs
    trl-reason plugins            # installed plugins: name, version, hooks
    trl-reason recipes            # every recipe and its one-line purpose (--json for scripts)
    trl-reason run quickstart     # a recipe by its name, from any directory (trl_reasoning.config.catalog)
    trl-reason cp hapo/cpu mine.yaml   # a copy of a recipe to edit
    trl-reason report runs/qs     # plots and a summary table

What a command reports (plugins, recipes) goes to stdout; progress, warnings and errors to stderr. Upstream
deprecation warnings (FutureWarning, DeprecationWarning) are hidden unless ``-v``.

A mistake a user can make (a wrong recipe key, an unknown plugin, a missing file, a busy output directory, an
unreachable Hub) exits with status 2 and one clear message, without a traceback. Anything else is a bug: one line
says so and exits 1; ``trl-reason -v ...`` (or ``TRL_REASONING_DEBUG=1``) shows the traceback.

A recipe is data: a dotted import path in it (``rewards: [{name: my_pkg.MyReward}]``) is refused unless the user
allows it, ``trl-reason run r.yaml --allow-imports`` (any module) or ``--allow-imports my_pkg,lab.rewards``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from trl_reasoning.cli.eval import add_eval_parser
from trl_reasoning.cli.grade import add_grade_parser
from trl_reasoning.cli.grants import granted_environment
from trl_reasoning.cli.lifecycle import add_lifecycle_parsers
from trl_reasoning.cli.validate import add_validate_parser
from trl_reasoning.config.catalog import copy_recipe, recipe_paths, recipes_root, resolve_recipe
from trl_reasoning.config.recipe import describe, load_recipe
from trl_reasoning.config.redact import redact
from trl_reasoning.config.schema import ConfigError, config_fields, nearest
from trl_reasoning.console import console, print_table, stdout_console
from trl_reasoning.data import DataError
from trl_reasoning.evaluation.benchmarks import BenchmarkError
from trl_reasoning.lifecycle.hub import HubError
from trl_reasoning.lifecycle.report import report
from trl_reasoning.models import ModelError
from trl_reasoning.plugins.manager import PluginError, PluginManager

EXIT_USAGE = 2


def _user_errors():
    return (ConfigError, DataError, ModelError, PluginError, HubError, BenchmarkError, FileNotFoundError)


def cmd_run(args) -> int:
    with granted_environment(args):  # read by prepare, in this process and in every relaunched one
        return _cmd_run(args)


def _cmd_run(args) -> int:
    from trl_reasoning.run import run_recipe  # heavy (TRL): only a run needs it
    from trl_reasoning.run.launch import maybe_relaunch  # heavy: importing run.launch runs run/__init__

    args.recipe = str(resolve_recipe(args.recipe))  # a path as given, or a recipe's name (`trl-reason recipes`)
    recipe = load_recipe(args.recipe, args.set or [])
    if getattr(args, "allow_resume_mismatch", False):
        os.environ["TRL_REASONING_ALLOW_RESUME_MISMATCH"] = "1"  # read by the resume check, in every process
    status = maybe_relaunch(args)  # --num-processes / --accelerate-config: torchrun or accelerate launch
    if status is not None:
        return status
    run_recipe(recipe, output_dir=args.output_dir, resume=args.resume, plots=not args.no_plots)
    return 0


def cmd_plugins(args) -> int:
    pm = getattr(args, "plugin_manager", None) or PluginManager()
    if args.name:
        return _describe_plugin(pm, args.name, args.json)
    rows = pm.describe()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print_table("installed trl-reasoning plugins (trl-reason plugins NAME: its options)", ["name", "version", "hooks"],
                [[row["name"], row["version"] or "-", ", ".join(row["hooks"])] for row in rows])
    rewards = ", ".join(sorted(pm.rewards()))
    trainers = ", ".join(sorted(pm.trainers()))
    stdout_console.print(f"rewards: {rewards}\ntrainers: {trainers}")
    return 0


def _describe_plugin(pm, name: str, as_json: bool) -> int:
    """``trl-reason plugins NAME``: the plugin's recipe options (its ``Config`` fields) with type, default, range
    and help, as ``plugins: {NAME: {...}}`` takes them."""
    rows = {row["name"]: row for row in pm.describe()}
    if name not in rows:
        close = nearest(name, rows)
        hint = f" Did you mean {close!r}?" if close else ""
        raise ConfigError("plugins", f"no installed plugin is named {name!r}.{hint} Installed: "
                                     f"{', '.join(sorted(rows))} (trl-reason plugins lists them)")
    config_class = pm.installed[name].config_class
    info = {**rows[name], "config": config_fields(config_class) if config_class is not None else []}
    if as_json:
        print(json.dumps(info, indent=2, default=repr))
        return 0
    stdout_console.print(f"{name} {info['version'] or ''}  ({info['distribution'] or 'no distribution'}; entry point "
                         f"{info['entry_point']})", highlight=False, soft_wrap=True, markup=False)
    stdout_console.print(f"hooks: {', '.join(info['hooks']) or '(none)'}", highlight=False, soft_wrap=True)
    if not info["config"]:
        stdout_console.print(f"options: none (a recipe activates it with `plugins: {{{name}: {{}}}}`)",
                             highlight=False, markup=False)
        return 0
    print_table(f"options of {name} (recipe: plugins: {{{name}: {{KEY: VALUE}}}})",
                ["key", "type", "default", "range", "help"],
                [[row["name"], row["type"], "(required)" if row["required"] else _shown(row["default"]),
                  row["range"] or "-", row["help"] or "-"] for row in info["config"]])
    return 0


def _shown(value) -> str:
    return json.dumps(value) if isinstance(value, (dict, list, str, bool)) or value is None else str(value)


def recipes_dir() -> Path:
    return recipes_root()


def cmd_recipes(args) -> int:
    root = Path(args.dir) if args.dir else recipes_root()
    rows = [{"name": name, "path": str(path), "purpose": describe(path)} for name, path in recipe_paths(root).items()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print_table(f"recipes in {root} (trl-reason run NAME; trl-reason cp NAME DEST to edit a copy)",
                ["name", "purpose"], [[row["name"], row["purpose"]] for row in rows])
    return 0


def cmd_cp(args) -> int:
    target = copy_recipe(args.name, args.destination, force=args.force)
    print(target)  # the new file, for scripts: `trl-reason run "$(trl-reason cp hapo/cpu mine.yaml)"`
    console.print(f"copied {args.name} to {target}; edit it, then: trl-reason run {target}", highlight=False)
    return 0


def cmd_report(args) -> int:
    report(args.output_dir)
    return 0


def build_parser(pm=None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trl-reason", description="RLVR for math reasoning on TRL, with plugins.")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show the traceback of an internal error (also: TRL_REASONING_DEBUG=1) and the "
                             "libraries' deprecation warnings, hidden otherwise")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a recipe", description="Train (and evaluate) as a recipe says.")
    run.add_argument("recipe", help="a recipe YAML file, or a recipe's name from `trl-reason recipes` "
                                    "(e.g. quickstart, one-shot-rlvr/qwen2.5-math-1.5b-pi1)")
    run.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="override a recipe key, e.g. --set trainer.max_steps=2 or --set rewards[0].weight=0.5 "
                          "(repeatable); values are YAML, yes/no/on/off stay strings, quote to force a string: "
                          "--set 'trainer.run_name=\"42\"'")
    run.add_argument("--output-dir", help="where to write the run (default: the recipe's output_dir)")
    run.add_argument("--resume", nargs="?", const=True, default=None, metavar="CHECKPOINT",
                     help="resume from the latest checkpoint in the output dir, or from CHECKPOINT")
    run.add_argument("--allow-resume-mismatch", action="store_true",
                     help="resume even when the checkpoint's data fingerprint or recipe differ (a stage switch)")
    run.add_argument("--allow-imports", nargs="?", const="*", default=None, metavar="MODULES",
                     help="let the recipe's dotted import paths (rewards: [{name: pkg.module.Reward}]) import and run "
                          "code: any module, or only those under the comma-separated MODULES prefixes. Off by "
                          "default: a recipe is data")
    run.add_argument("--trust-remote-code", action="store_true",
                     help="let a recipe's model.trust_remote_code run the model repository's code")
    run.add_argument("--num-processes", type=int, metavar="N",
                     help="run N processes: torchrun on CPU (gloo), accelerate launch on GPUs (docs/lifecycle.md)")
    run.add_argument("--accelerate-config", metavar="FILE",
                     help="accelerate config file (DeepSpeed ZeRO-2/3, FSDP, ...): launches with accelerate")

    run.add_argument("--no-plots", action="store_true",
                     help="skip writing plots/*.png at the end (`trl-reason report OUTPUT_DIR` writes them later)")
    run.set_defaults(handler=cmd_run)

    add_validate_parser(sub)

    plugins = sub.add_parser("plugins", help="list installed plugins, or one plugin's recipe options",
                             description="Without NAME: every installed plugin (name, version, hooks) and the "
                                         "registered rewards and trainers. With NAME: that plugin's options (its "
                                         "Config fields) with type, default, range and help.")
    plugins.add_argument("name", nargs="?", metavar="NAME", help="an installed plugin, e.g. hapo")
    plugins.add_argument("--json", action="store_true", help="print JSON (a list, or NAME's description)")
    plugins.set_defaults(handler=cmd_plugins)

    recipes = sub.add_parser("recipes", help="list recipes and their purpose")
    recipes.add_argument("--dir", help="recipes directory (default: the installed package's recipes)")
    recipes.add_argument("--json", action="store_true", help="a JSON list of {name, path, purpose}")
    recipes.set_defaults(handler=cmd_recipes)

    cp = sub.add_parser("cp", help="copy a recipe out to edit it",
                        description="Copy the recipe NAME (from `trl-reason recipes`) to DEST, a file or a directory.")
    cp.add_argument("name", help="a recipe's name, e.g. quickstart or hapo/cpu")
    cp.add_argument("destination", metavar="DEST", help="the new file, or a directory to copy it into")
    cp.add_argument("--force", action="store_true", help="overwrite DEST if it exists")
    cp.set_defaults(handler=cmd_cp)

    rep = sub.add_parser("report", help="plots and a summary table of a run")
    rep.add_argument("output_dir")
    rep.set_defaults(handler=cmd_report)

    add_grade_parser(sub)
    add_eval_parser(sub, pm)
    add_lifecycle_parsers(sub)
    if pm is not None:
        pm.register_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    errors = _user_errors()
    verbose = bool(os.environ.get("TRL_REASONING_DEBUG")) or any(a in ("-v", "--verbose") for a in argv[:1])
    if not verbose:
        quiet_upstream_warnings()
    try:
        pm = PluginManager()
        pm.install_core()  # the composition root: the core plugin, by dotted name
        parser = build_parser(pm)
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            parser.print_help()
            return EXIT_USAGE
        args.plugin_manager = pm
        return int(args.handler(args) or 0)
    except errors as exc:
        if verbose:
            raise
        console.print(f"[bold red]error:[/] {_escape(str(exc))}", highlight=False)
        return EXIT_USAGE
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        return 130
    except Exception as exc:
        if verbose:
            raise
        outside = _environment_error(exc)
        if outside is not None:
            console.print(f"[bold red]error:[/] {_escape(outside)}", highlight=False)
            return EXIT_USAGE
        console.print(f"[bold red]internal error[/] (a bug in trl-reasoning or one of its plugins; please report "
                      f"it): {_escape(_one_line(exc))}. Rerun with `trl-reason -v ...` for the traceback.",
                      highlight=False)
        return EXIT_BUG


EXIT_BUG = 1

# Deprecation notices of the libraries underneath (transformers' `gradient_checkpointing` is deprecated ..., printed
# once per config built): nothing a user of trl-reasoning can act on. `trl-reason -v` shows them.
UPSTREAM_WARNING_CATEGORIES = (FutureWarning, DeprecationWarning, PendingDeprecationWarning)


def quiet_upstream_warnings() -> None:
    """Hide upstream deprecation warnings in this process (a launched process runs ``main`` and hides its own)."""
    import warnings

    for category in UPSTREAM_WARNING_CATEGORIES:
        warnings.filterwarnings("ignore", category=category)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:500]}" if text else type(exc).__name__


def _causes(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _environment_error(exc: BaseException) -> str | None:
    """The one line for a failure outside trl-reasoning that the user can fix: the Hub or the network unreachable,
    a model that is not on the Hub, unreadable weights. ``None`` for anything else (a bug)."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    for cause in _causes(exc):
        kind = type(cause).__name__
        module = type(cause).__module__ or ""
        if kind in ("ConnectError", "ConnectTimeout", "ReadTimeout", "ConnectionError", "OfflineModeIsEnabled",
                    "LocalEntryNotFoundError") or (module.startswith(("httpx", "requests", "urllib3"))
                                                   and "connect" in kind.lower()) or (
                kind == "OSError" and "couldn't connect" in str(cause)):  # transformers' wording of the same
            return redact(f"cannot reach the Hugging Face Hub at {endpoint} ({_one_line(cause)}). Check the network "
                          "connection, HF_ENDPOINT and HF_HUB_OFFLINE, or use a local model directory")
        if module.startswith("huggingface_hub") and kind.endswith(("NotFoundError", "HTTPError")):
            return redact(f"the Hugging Face Hub at {endpoint} refused the request ({_one_line(cause)}). Check the "
                          "repository id and your login (HF_TOKEN or `huggingface-cli login`)")
        if kind == "SafetensorError" or (kind == "OSError" and "huggingface.co" in str(cause)):
            return redact(f"cannot load the model: {_one_line(cause)}. Check the model path or Hub id; a local "
                          "model whose weights cannot be read is corrupt or incomplete (save or download it again)")
    return None


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


if __name__ == "__main__":
    sys.exit(main())
