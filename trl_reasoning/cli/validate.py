"""``trl-reason validate RECIPE``: every problem of a recipe at once, before anything loads.

::

    trl-reason validate recipes/hapo/cpu.yaml                 # exit 0: "recipe is valid" and what it will run
    trl-reason validate mine.yaml --set trainer.max_steps=2   # the same overrides as `trl-reason run`

It checks what ``trl-reason run`` checks before loading a model (``run.preflight``): keys, types and ranges of
every section, plugin names and configs, how the plugins compose, reward names and their config keys, trainer
fields and their relations, the evaluation plan, the plugins' ``validate_run``. Every problem is listed with its
key path and the fix, and the command exits 2; nothing is downloaded, no model or dataset row is loaded.
"""

from __future__ import annotations

from trl_reasoning.cli.grants import granted_environment
from trl_reasoning.config.catalog import resolve_recipe
from trl_reasoning.config.recipe import load_recipe
from trl_reasoning.config.schema import ConfigError, raise_all
from trl_reasoning.console import stdout_console


def cmd_validate(args) -> int:
    path = str(resolve_recipe(args.recipe))
    errors: list[ConfigError] = []
    with granted_environment(args):
        recipe = load_recipe(path, args.set or [], errors=errors)
        from trl_reasoning.run.preflight import preflight, summary  # heavy: run.build_sft imports TRL

        prepared, _ = preflight(recipe, getattr(args, "plugin_manager", None), errors=errors)
    raise_all(errors, path)  # exit 2 (cli.main), every problem on its own line
    stdout_console.print(f"recipe is valid: {path}", highlight=False, soft_wrap=True)
    for line in summary(prepared):
        stdout_console.print(f"  {line}", highlight=False, soft_wrap=True, markup=False)
    return 0


def add_validate_parser(sub) -> None:
    validate = sub.add_parser("validate", help="check a recipe and report every problem (nothing loads)",
                              description="Check a recipe as `trl-reason run` does before loading a model, and "
                                          "report every problem at once (exit 2), or that it is valid (exit 0).")
    validate.add_argument("recipe", help="a recipe YAML file, or a recipe's name from `trl-reason recipes`")
    validate.add_argument("--set", action="append", metavar="KEY=VALUE",
                          help="override a recipe key, as for `trl-reason run` (repeatable)")
    validate.add_argument("--allow-imports", nargs="?", const="*", default=None, metavar="MODULES",
                          help="as for `trl-reason run`: let the recipe's dotted import paths be imported")
    validate.add_argument("--trust-remote-code", action="store_true",
                          help="as for `trl-reason run`: accept model.trust_remote_code")
    validate.set_defaults(handler=cmd_validate)
