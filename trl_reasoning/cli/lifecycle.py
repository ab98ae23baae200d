"""``trl-reason push`` and ``trl-reason new-plugin`` (the run options ``--resume``, ``--num-processes`` and
``--accelerate-config`` live on ``trl-reason run``; see docs/lifecycle.md).

::

    trl-reason push runs/qs --repo-id me/qs-grpo [--public]
    trl-reason new-plugin my_bonus --dir ~/src
"""

from __future__ import annotations

from trl_reasoning.console import console
from trl_reasoning.lifecycle.hub import HubError, push_run
from trl_reasoning.plugins.scaffold import ScaffoldError, write_plugin


def cmd_push(args) -> int:
    try:
        private = None if args.visibility is None else args.visibility == "private"
        push_run(args.output_dir, repo_id=args.repo_id, private=private, commit_message=args.message)
    except HubError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return 2
    return 0


def cmd_new_plugin(args) -> int:
    try:
        root = write_plugin(args.name, args.dir, force=args.force)
    except ScaffoldError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return 2
    console.print(f"wrote plugin [bold]{args.name}[/] to {root}\n"
                  f"  pip install -e {root} --no-deps     # register its entry point\n"
                  f"  pytest {root}                        # its tests\n"
                  f"  plugins: {{{args.name}: {{decay: 0.9}}}}      # in a recipe\n"
                  "guide: plugins/README.md; hooks: docs/hooks.md")
    return 0


def add_lifecycle_parsers(subparsers) -> None:
    push = subparsers.add_parser(
        "push", help="push a finished run to the Hugging Face Hub with a model card",
        description="Upload OUTPUT_DIR/final (model or LoRA adapter, tokenizer), the resolved recipe, metrics, "
                    "results, evaluation results, plots and a generated model card in one commit. The token comes "
                    "from HF_TOKEN or `huggingface-cli login`; HF_ENDPOINT selects another Hub.")
    push.add_argument("output_dir", help="the run's output directory")
    push.add_argument("--repo-id", help="e.g. me/my-model (default: the recipe's hub.repo_id)")
    visibility = push.add_mutually_exclusive_group()
    visibility.add_argument("--private", dest="visibility", action="store_const", const="private",
                            help="create the repository private (default: the recipe's hub.private, true)")
    visibility.add_argument("--public", dest="visibility", action="store_const", const="public")
    push.add_argument("--message", help="commit message")
    push.set_defaults(handler=cmd_push, visibility=None)

    new = subparsers.add_parser(
        "new-plugin", help="write a working plugin package to start from",
        description="Write DIR/NAME: pyproject.toml with the entry point, a Plugin with a Config and hooks, and "
                    "tests that use trl-reasoning's fixtures. Guide: plugins/README.md.")
    new.add_argument("name", help="plugin name: lowercase letters, digits, underscores (the recipe key)")
    new.add_argument("--dir", default=".", help="where to create the NAME/ folder (default: here)")
    new.add_argument("--force", action="store_true", help="overwrite files in an existing NAME/ folder")
    new.set_defaults(handler=cmd_new_plugin)
