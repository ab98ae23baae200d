"""``trl-reason eval``: evaluate a model, or every checkpoint of a run, on math benchmarks.

::

    trl-reason eval --model embedded:smollm2-135m --benchmarks gsm8k,math500 --limit 10 --n 4 --k 1,4
    trl-reason eval --checkpoints runs/qs --benchmarks math500 --limit 50   # after a run that saved checkpoints:
    #   trl-reason run quickstart --output-dir runs/qs --set trainer.save_strategy=steps --set trainer.save_steps=10
    trl-reason eval --recipe recipes/hapo/deepseek-r1-distill-qwen-1.5b.yaml --model runs/hapo/final  # its protocol
    python -m trl_reasoning.cli.eval --model Qwen/Qwen2.5-Math-1.5B      # the six-benchmark protocol

Settings not given come from each benchmark's protocol (``docs/evaluation.md``); with ``--recipe`` from the
recipe's ``eval`` section (benchmarks, per-benchmark settings, prompt, plugins' eval options), which is what the
run evaluated during training; flags given as well override it for every benchmark. Exit status: 0 on success, 2 on
bad input (unknown benchmark, k above n, settings that clash with the output directory's earlier samples).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from trl_reasoning.config.recipe import BenchmarkSpec, load_recipe
from trl_reasoning.config.schema import ConfigError
from trl_reasoning.evaluation.benchmarks import BenchmarkDataNotFound, BenchmarkError, known_benchmarks
from trl_reasoning.evaluation.recipe_eval import HELDOUT, RecipeEvaluation
from trl_reasoning.evaluation.runner import ConfigMismatchError, evaluate, plan_runs
from trl_reasoning.evaluation.table import checkpoints_table, screen_console
from trl_reasoning.plugins.manager import PluginManager

# The six benchmarks One-Shot-RLVR and its peers average over.
DEFAULT_BENCHMARKS = "math500,aime24,aime25,amc23,minerva_math,olympiadbench"
PROG = "trl-reason eval"


def _k_list(text: str) -> list[int]:
    try:
        ks = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--k takes comma-separated integers such as 1,4,8, got {text!r}") from None
    if not ks or any(k < 1 for k in ks):
        raise argparse.ArgumentTypeError(f"--k takes positive integers such as 1,4,8, got {text!r}")
    return ks


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--model", help="model spec: embedded:smollm2-135m, a local directory, or a Hub id "
                                      "(with --recipe, default: the recipe's model)")
    what.add_argument("--checkpoints", metavar="RUN_DIR",
                      help="evaluate every checkpoint-* directory of a run and name the best by average accuracy")
    parser.add_argument("--recipe", metavar="RECIPE",
                        help="evaluate with this recipe's eval section: its benchmarks, their settings, its prompt "
                             "and its plugins' eval options (a run's recipe.resolved.yaml works too)")
    parser.add_argument("--benchmarks", default=None,
                        help=f"comma-separated names or .jsonl/.parquet paths (default: {DEFAULT_BENCHMARKS}, or "
                             "the recipe's); "
                             f"known: {', '.join(known_benchmarks())}; math_beyond takes a subset, e.g. "
                             "math_beyond:unsolved_by_all or math_beyond:unsolved_by:qwen2.5-math-1.5b")
    parser.add_argument("--limit", type=_positive_int, help="evaluate only the first LIMIT problems of each benchmark")
    parser.add_argument("--n", type=_positive_int, help="samples per problem (default: the benchmark's protocol)")
    parser.add_argument("--k", type=_k_list, help="k values for pass@k and maj@k, e.g. 1,4 (each k <= n)")
    parser.add_argument("--temperature", type=float, help="sampling temperature; 0 is greedy (default: protocol)")
    parser.add_argument("--greedy", action="store_true", help="greedy decoding (same as --temperature 0)")
    parser.add_argument("--top-p", type=float, help="nucleus sampling threshold (default: protocol, 1.0)")
    parser.add_argument("--max-new-tokens", type=_positive_int, help="completion token limit (default: protocol)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    parser.add_argument("--template", help="prompt template: chat, qwen25-math-cot, plain, or a JSON object "
                                           '{"system": ..., "user": "...{problem}..."} (default: protocol)')
    parser.add_argument("--system-prompt", help="system prompt that replaces the template's own")
    parser.add_argument("--output-dir", help="where samples.jsonl and results.json go; re-running into it resumes "
                                             "(default: eval-results/<model> or RUN_DIR/eval)")
    parser.add_argument("--backend", choices=("transformers", "vllm"), default="transformers",
                        help="generation engine (vllm needs pip install 'trl-reasoning[vllm]' and a GPU)")
    parser.add_argument("--data-dir", help="directory holding the benchmark files (else $TRL_REASONING_DATA_DIR, "
                                           "else the Hub)")
    parser.add_argument("--batch-size", type=_positive_int, default=16, help="sequences per generate call")
    parser.add_argument("--dtype", default=None, choices=("float32", "bfloat16", "float16", "auto"),
                        help="weights dtype (default: float32, or the recipe's model.dtype)")
    parser.add_argument("--grading-processes", type=_positive_int, default=1, help="processes for the grader")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar and no table on screen")


def add_eval_parser(subparsers, plugin_manager=None) -> argparse.ArgumentParser:
    """Add the ``eval`` subcommand to ``trl-reason``; its ``handler(args)`` returns the exit status."""
    parser = subparsers.add_parser("eval", help="evaluate a model or a run's checkpoints on math benchmarks",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_eval_arguments(parser)
    parser.add_argument("--plugin", action="append", metavar="NAME",
                        help="activate an installed plugin for this evaluation (its inference_model hook)")
    _register_plugin_options(parser, plugin_manager)
    parser.set_defaults(handler=run_eval)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_eval_arguments(parser)
    _register_plugin_options(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_eval(args)


# --- plugins ----------------------------------------------------------------------------------------------------


def _plugin_manager() -> PluginManager:
    pm = PluginManager()
    pm.install_core()
    return pm


def _register_plugin_options(parser: argparse.ArgumentParser, manager: PluginManager | None = None) -> None:
    (manager or _plugin_manager()).register_eval_options(parser)


def plugins_for_eval(args) -> list[str]:
    """Plugins to activate for this evaluation: those named with ``--plugin`` and those whose own eval options
    (added through ``register_eval_options``) the user set."""
    names = list(getattr(args, "plugin", None) or [])
    for name, dests in (getattr(args, "plugin_option_owners", None) or {}).items():
        if any(getattr(args, dest, None) not in (None, False) for dest in dests) and name not in names:
            names.append(name)
    return names


def _inference_model_hook(args):
    """``prepare_model`` for ``evaluate``: the ``inference_model`` hook's replacement, if a plugin gives one."""
    manager = getattr(args, "plugin_manager", None) or _plugin_manager()
    if manager is None:
        return None
    if hasattr(manager, "activate"):
        manager.activate({name: {} for name in plugins_for_eval(args) if name not in manager.active})

    def prepare(model):
        return manager.hook.inference_model(model=model, options=args)

    return prepare


# --- running ----------------------------------------------------------------------------------------------------


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def _template(text: str | None):
    if text is None or not text.lstrip().startswith("{"):
        return text
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"--template looks like JSON but does not parse: {error}") from None
    if not isinstance(value, dict) or "{problem}" not in str(value.get("user", "")):
        raise ValueError('a --template object needs a "user" string containing {problem}')
    return value


def _slug(spec: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", spec.strip("/")).strip("_") or "model"


def _evaluate_kwargs(args) -> dict:
    if args.greedy and args.temperature not in (None, 0.0):
        raise ValueError(f"--greedy contradicts --temperature {args.temperature}; give one of them")
    if args.backend == "vllm" and plugins_for_eval(args):
        owners = getattr(args, "plugin_option_owners", None) or {}
        given = [f"--{dest.replace('_', '-')}" for dests in owners.values() for dest in dests
                 if getattr(args, dest, None) not in (None, False)]
        raise ValueError(f"--backend vllm loads the weights itself and skips the plugins' inference_model "
                         f"({', '.join(plugins_for_eval(args))}), so {' '.join(given) or '--plugin'} would be "
                         "ignored; use --backend transformers")
    return {
        "benchmarks": _names(args.benchmarks or DEFAULT_BENCHMARKS),
        "n": args.n, "k_list": args.k, "temperature": 0.0 if args.greedy else args.temperature,
        "top_p": args.top_p, "max_new_tokens": args.max_new_tokens, "seed": args.seed, "limit": args.limit,
        "template": _template(args.template), "system_prompt": args.system_prompt, "backend": args.backend,
        "batch_size": args.batch_size, "data_dir": args.data_dir, "dtype": args.dtype or "float32",
        "grading_processes": args.grading_processes, "progress": not args.no_progress,
        "prepare_model": _inference_model_hook(args),
    }


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def run_eval(args) -> int:
    """Run ``trl-reason eval`` from parsed arguments; returns the exit status."""
    if getattr(args, "recipe", None):
        return run_recipe_eval(args)
    if not (args.model or args.checkpoints):
        return _fail("give --model SPEC or --checkpoints RUN_DIR (or --recipe RECIPE, which names a model)")
    try:
        kwargs = _evaluate_kwargs(args)
        # Check names, data and k <= n before a model loads (plan_runs raises on each).
        plan_runs(kwargs["benchmarks"], n=args.n, k_list=args.k, limit=args.limit, data_dir=args.data_dir,
                  temperature=kwargs["temperature"], top_p=args.top_p, max_new_tokens=args.max_new_tokens)
        if args.checkpoints and not find_checkpoints(Path(args.checkpoints)):
            raise ValueError(f"no checkpoint-<step> directories in {args.checkpoints} or "
                             f"{Path(args.checkpoints) / 'checkpoints'}")
    except (BenchmarkError, BenchmarkDataNotFound, ValueError) as error:
        return _fail(str(error))
    try:
        if args.checkpoints:
            return _evaluate_checkpoints(Path(args.checkpoints), args, kwargs, evaluate)
        output_dir = args.output_dir or str(Path("eval-results") / _slug(args.model))
        evaluate(args.model, output_dir=output_dir, **kwargs)
    except ConfigMismatchError as error:
        return _fail(str(error))
    if not args.no_progress:
        print(f"results: {Path(output_dir) / 'results.json'}")
    return 0


# --- --recipe: the recipe's eval section ------------------------------------------------------------------------


def _recipe_with_flags(recipe, args):
    """The recipe with the flags given on the command line written into its ``eval`` section, above everything
    the section says (a benchmark's own settings included)."""
    section = recipe.eval
    flags = {"n": args.n, "k": args.k, "top_p": args.top_p, "max_new_tokens": args.max_new_tokens,
             "limit": args.limit, "temperature": 0.0 if args.greedy else args.temperature,
             "template": _template(args.template), "system_prompt": args.system_prompt}
    if args.benchmarks is not None:
        own = {spec.name: spec for spec in section.benchmarks}
        names = _names(args.benchmarks)
        section.heldout = HELDOUT in names
        section.benchmarks = [own.get(name) or BenchmarkSpec(name=name) for name in names if name != HELDOUT]
    for key, value in flags.items():
        if value is None:
            continue
        setattr(section, key, value)
        for spec in section.benchmarks:
            setattr(spec, key, None)
    if args.seed != 0:
        section.seed = args.seed
    if args.batch_size != 16:
        section.batch_size = args.batch_size
    return recipe


def run_recipe_eval(args) -> int:
    """``trl-reason eval --recipe R [--model M | --checkpoints RUN_DIR]``: the recipe's evaluation protocol."""
    from trl_reasoning.run import prepare  # heavy: run.build_sft imports TRL

    manager = getattr(args, "plugin_manager", None) or _plugin_manager()
    try:
        if args.greedy and args.temperature not in (None, 0.0):
            raise ValueError(f"--greedy contradicts --temperature {args.temperature}; give one of them")
        recipe = _recipe_with_flags(load_recipe(args.recipe), args)
        plan = prepare(recipe, manager).eval_plan
        if not plan.benchmarks:
            raise ValueError(f"{args.recipe} evaluates nothing: its eval.benchmarks is empty and its data has no "
                             "held-out split; give --benchmarks")
        options = plan.options
        for name in plugins_for_eval(args):  # options given as flags win over the recipe's
            if name not in manager.active:
                manager.activate({name: {}})
        for dests in (getattr(args, "plugin_option_owners", None) or {}).values():
            for dest in dests:
                if getattr(args, dest, None) not in (None, False):
                    setattr(options, dest, getattr(args, dest))
        if args.backend == "vllm":
            owners = getattr(options, "plugin_option_owners", None) or {}
            given = [dest for dests in owners.values() for dest in dests if getattr(options, dest, None)
                     not in (None, False)]
            if given:
                raise ValueError(f"--backend vllm skips the plugins' inference_model, so the eval options "
                                 f"{', '.join(given)} would be ignored; use --backend transformers")
        evaluation = RecipeEvaluation(recipe, plan, manager, data_dir=args.data_dir,
                                      grading_processes=args.grading_processes)
        if args.checkpoints and not find_checkpoints(Path(args.checkpoints)):
            raise ValueError(f"no checkpoint-<step> directories in {args.checkpoints} or "
                             f"{Path(args.checkpoints) / 'checkpoints'}")
    except (BenchmarkError, BenchmarkDataNotFound, ValueError, ConfigError) as error:
        return _fail(str(error))
    kwargs = {"backend": args.backend, "dtype": args.dtype or recipe.model.dtype, "progress": not args.no_progress,
              "options": options}

    def evaluate(spec, output_dir, **given):
        return evaluation.evaluate(spec, output_dir=output_dir, **given)

    try:
        if args.checkpoints:
            return _evaluate_checkpoints(Path(args.checkpoints), args, kwargs, evaluate)
        model = args.model or recipe.model.name_or_path
        output_dir = args.output_dir or str(Path("eval-results") / _slug(Path(args.recipe).stem) / _slug(model))
        evaluate(model, output_dir=output_dir, **kwargs)
    except ConfigMismatchError as error:
        return _fail(str(error))
    if not args.no_progress:
        print(f"results: {Path(output_dir) / 'results.json'}")
    return 0


def find_checkpoints(run_dir: Path) -> list[Path]:
    """``checkpoint-<step>`` directories of a run (in the run dir or its ``checkpoints/``), by step."""
    found = [p for base in (run_dir, run_dir / "checkpoints") if base.is_dir()
             for p in base.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]))


def _evaluate_checkpoints(run_dir: Path, args, kwargs, evaluate) -> int:
    checkpoints = find_checkpoints(run_dir)
    output_root = Path(args.output_dir) if args.output_dir else run_dir / "eval"
    rows = []
    for checkpoint in checkpoints:
        results = evaluate(str(checkpoint), output_dir=output_root / checkpoint.name, **kwargs)
        rows.append({
            "checkpoint": checkpoint.name, "path": str(checkpoint), "step": int(checkpoint.name.split("-")[-1]),
            "average": results["average"].get("accuracy"),
            "accuracy": {name: b["metrics"].get("accuracy") for name, b in results["benchmarks"].items()},
        })
    scored = [row for row in rows if row["average"] is not None]
    best = max(scored, key=lambda row: row["average"])["checkpoint"] if scored else None  # first of ties
    summary = {"run_dir": str(run_dir), "best": best, "selected_by": "average accuracy over benchmarks",
               "checkpoints": rows}
    output_root.mkdir(parents=True, exist_ok=True)
    (output_root / "checkpoints.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if not args.no_progress:
        screen_console().print(checkpoints_table(rows, best))
    print(f"best checkpoint: {best} (summary: {output_root / 'checkpoints.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
