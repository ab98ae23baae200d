"""``trl-reason questa select``: QuestA's hard-problem pool.

Sample ``n`` answers per training problem *with* the hint from the model about to be trained, grade them with the
recipe's correctness reward, and keep the problems solved between ``lo`` and ``hi`` times (the paper: 0-4 of 8,
the input file ``OpenR1-50-0-4.jsonl``)::

    trl-reason questa select recipes/questa/cpu.yaml --out runs/questa-pool.jsonl --samples 8 --lo 0 --hi 4
    trl-reason run recipes/questa/cpu.yaml --set data.train=runs/questa-pool.jsonl

The recipe gives the model, the data (``data.*``, including ``limit``), the template, the correctness reward and
the hint settings (``plugins.questa``; the fraction is the schedule's first unless ``--fraction``). The pool is a
JSONL file of the kept source rows, each with ``questa_correct``, ``questa_samples`` and ``questa_fraction``;
``<out>.summary.json`` holds the histogram of correct counts.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path


def add_questa_parser(subparsers) -> None:
    questa = subparsers.add_parser("questa", help="QuestA tools (hard-problem selection)",
                                   description="QuestA (partial-solution hints) tools.")
    commands = questa.add_subparsers(dest="questa_command", metavar="COMMAND")
    select = commands.add_parser(
        "select", help="keep the problems the model solves lo..hi times of n with the hint",
        description=__doc__.split("::")[0].strip(), formatter_class=argparse.RawDescriptionHelpFormatter)
    select.add_argument("recipe", help="recipe with the model, data, template, reward and plugins.questa settings")
    select.add_argument("--out", required=True, help="JSONL file for the kept problems")
    select.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a recipe key (repeatable)")
    select.add_argument("--fraction", type=float, default=None,
                        help="hint fraction p (default: the first phase of plugins.questa.schedule, else 0.5)")
    select.add_argument("--samples", "-n", type=int, default=8, help="answers per problem (paper: 8)")
    select.add_argument("--lo", type=int, default=0, help="keep problems solved at least lo times (paper: 0)")
    select.add_argument("--hi", type=int, default=4, help="keep problems solved at most hi times (paper: 4)")
    select.add_argument("--temperature", type=float, default=None,
                        help="sampling temperature (default: the recipe's trainer.temperature, else 1.0, QuestA's "
                             "training temperature)")
    select.add_argument("--max-new-tokens", type=int, default=None,
                        help="answer budget (default: the recipe's trainer.max_completion_length, else 256)")
    select.add_argument("--batch-size", type=int, default=16, help="sequences per generate() call")
    select.add_argument("--limit", type=int, default=None, help="screen only the first N problems")
    select.add_argument("--seed", type=int, default=0, help="sampling seed")
    select.set_defaults(handler=cmd_select)

    def usage(args) -> int:
        questa.print_help()
        return 2

    questa.set_defaults(handler=usage)


def cmd_select(args) -> int:
    from rich.table import Table

    from trl_reasoning import (ConfigError, PluginManager, PromptFormat, SamplingSettings, TransformersBackend,
                               build_dataclass, build_rewards, load_for, load_recipe, load_rows, prepare,
                               render_prompts)
    from trl_reasoning import rich_console as console

    from .hints import correct_histogram, keep_for_pool
    from .plugin import Plugin

    if args.samples < 1 or not 0 <= args.lo <= args.hi:
        raise ConfigError("questa select", f"need --samples >= 1 and 0 <= --lo <= --hi (got {args.samples}, "
                                           f"{args.lo}, {args.hi})")
    recipe = load_recipe(args.recipe, args.set or [])
    pm = getattr(args, "plugin_manager", None) or PluginManager()
    prepared = prepare(recipe, pm)
    correctness = next((f for f in build_rewards(prepared)
                        if getattr(f, "reports_correctness", False) or hasattr(f, "is_correct")), None)
    if correctness is None:
        raise ConfigError("rewards", "questa select grades with the recipe's correctness reward (one that reports "
                                     "correctness, e.g. boxed_integer or correctness); the recipe has none")
    config = build_dataclass(Plugin.Config, recipe.plugins.get("questa") or {}, "plugins.questa")
    plugin = Plugin(config)
    plugin.prompt_format = PromptFormat.from_section(recipe.data)
    if args.fraction is not None:
        plugin.fraction = args.fraction

    data = recipe.data
    rows = load_rows(data.train, split=data.split, data_dir=data.data_dir, options=data.options)
    if data.shuffle_seed is not None:
        random.Random(data.shuffle_seed).shuffle(rows)
    rows = rows[: data.limit] if data.limit else rows
    rows = rows[: args.limit] if args.limit else rows
    for row in rows:
        row.setdefault("problem", row.get(data.problem_column))
        row.setdefault("answer", row.get(data.answer_column))

    model, tokenizer = load_for(recipe)  # the policy, as `trl-reason run` loads it (test-model switch included)
    plugin.tokenizer = tokenizer
    hinted = [plugin.hint_for(row) for row in rows]
    problems = [h if h is not None else str(row["problem"]) for h, row in zip(hinted, rows)]
    prompts = render_prompts(tokenizer, problems, template=plugin.prompt_format)  # the training rows' format
    temperature = args.temperature if args.temperature is not None else float(recipe.trainer.get("temperature", 1.0))
    max_new = args.max_new_tokens or int(recipe.trainer.get("max_completion_length", 256))
    settings = SamplingSettings(n=args.samples, temperature=temperature, max_new_tokens=max_new, seed=args.seed)
    console.print(f"questa select: {len(rows)} problems x {args.samples} samples at p = {plugin.fraction} "
                  f"({sum(h is not None for h in hinted)} with a hint), temperature {temperature}, "
                  f"{max_new} tokens")
    samples = TransformersBackend(model, tokenizer, batch_size=args.batch_size).generate(prompts, settings)

    counts = []
    for row, prompt, completions in zip(rows, prompts, samples):
        texts = [c.text for c in completions]
        columns = {k: [v] * len(texts) for k, v in row.items() if k not in ("prompt", "completion")}
        values = correctness([prompt] * len(texts), texts, None, **columns)
        flags = (correctness.last_correct if getattr(correctness, "reports_correctness", False)
                 else correctness.is_correct(values))  # the grader's own verdict beside the reward value
        counts.append(sum(bool(flag) for flag in flags))
    kept = [dict(row, questa_correct=c, questa_samples=args.samples, questa_fraction=plugin.fraction)
            for row, c in zip(rows, counts) if keep_for_pool(c, args.lo, args.hi)]

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for row in kept:
            fh.write(json.dumps(row) + "\n")
    histogram = correct_histogram(counts, args.samples)
    summary = {"recipe": args.recipe, "model": recipe.model.name_or_path, "fraction": plugin.fraction,
               "samples": args.samples, "lo": args.lo, "hi": args.hi, "temperature": temperature,
               "max_new_tokens": max_new, "screened": len(rows), "kept": len(kept),
               "correct_histogram": histogram, "out": str(out)}
    Path(str(out) + ".summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")

    table = Table(title=f"solved k of {args.samples} with the hint (p = {plugin.fraction})")
    table.add_column("k")
    table.add_column("problems")
    table.add_column("kept")
    for k, number in enumerate(histogram):
        table.add_row(str(k), str(number), "yes" if keep_for_pool(k, args.lo, args.hi) else "")
    console.print(table)
    console.print(f"kept {len(kept)} of {len(rows)} problems -> {out}")
    return 0
