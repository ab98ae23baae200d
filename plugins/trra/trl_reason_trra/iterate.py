"""``trl-reason trra iterate RECIPE --rounds N``: iterative TrRa (the paper's TrRa-iter).

Round 1 runs the recipe as written. Round k > 1 runs it again with ``plugins.trra.aligned_model`` set to round
k-1's ``final`` directory; the student and the reference stay the recipe's model (paper: "repeat with reference A
and new aligned model = the previous realigned model C"). Each round writes ``<output_dir>/round<k>``.
"""

from __future__ import annotations

from pathlib import Path

from trl_reasoning import ConfigError


def round_overrides(base_output_dir: str, round_index: int, overrides: list[str]) -> list[str]:
    """The ``--set`` overrides of round ``round_index`` (1-based)."""
    out = list(overrides) + [f"output_dir={Path(base_output_dir) / f'round{round_index}'}"]
    if round_index > 1:
        out.append(f"plugins.trra.aligned_model={Path(base_output_dir) / f'round{round_index - 1}' / 'final'}")
    return out


def run_rounds(recipe_path: str, rounds: int, overrides: list[str] = (), output_dir: str | None = None) -> list[dict]:
    from trl_reasoning import load_recipe, run_recipe  # run_recipe is lazy (heavy): imported when a round runs

    base = output_dir or load_recipe(recipe_path, list(overrides)).output_dir
    results = []
    for k in range(1, rounds + 1):
        recipe = load_recipe(recipe_path, round_overrides(base, k, list(overrides)))
        if "trra" not in recipe.plugins:
            raise ConfigError("plugins.trra", "trra iterate needs a recipe that activates the trra plugin")
        result = run_recipe(recipe)
        result.pop("trainer", None)
        results.append(result)
    return results


def _command(args) -> int:
    run_rounds(args.recipe, args.rounds, args.set or [], args.output_dir)
    return 0


def add_parser(subparsers) -> None:
    trra = subparsers.add_parser("trra", help="TrRa realignment tools")
    sub = trra.add_subparsers(dest="trra_command", metavar="COMMAND")
    it = sub.add_parser("iterate", help="iterative TrRa: each round's aligned model is the previous round's result",
                        description=__doc__)
    it.add_argument("recipe", help="a TrRa recipe (trainer.algorithm: distill and plugins: {trra: ...})")
    it.add_argument("--rounds", type=int, default=2, help="number of rounds (default 2: TrRa, then TrRa-iter1)")
    it.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a recipe key (repeatable)")
    it.add_argument("--output-dir", help="parent of round1/, round2/, ... (default: the recipe's output_dir)")
    it.set_defaults(handler=_command)
