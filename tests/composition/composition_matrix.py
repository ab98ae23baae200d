"""The composition matrix: every pair of built-in features, and what the pair does or why it is refused.

One table drives both ``tests/composition/test_pairs.py`` (each cell is run or validated) and ``docs/composition.md``
(generated from it)::

    .venv/bin/python tests/composition/composition_matrix.py --write     # regenerate docs/composition.md
    .venv/bin/python tests/composition/composition_matrix.py --check     # exit 1 when the doc is out of date

Members are the ten built-in plugins, the core's group filter and its dynamic-sampling refill. A cell is either

* ``Composes(what, run, checks)``: the two run together for two steps on the tiny model, in the named shared run
  (``RUNS``: several members whose pairs all compose share one run, so the matrix fits CI's budget), and the test
  checks each member's own signature (neither shadows the other) plus the pair's ``checks``; or
* ``Refused(why, fragment)``: ``prepare`` and ``validate_run`` refuse the recipe before any model loads, with a
  message containing ``fragment``.

``TRAINER_CELLS`` does the same for a member under a trainer that is not GRPO-shaped (``sft``, TrRa's ``distill``).
Pure data: no torch, no trl_reasoning import at module level.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "composition.md"


@dataclass(frozen=True)
class Member:
    title: str  # how the doc names it
    recipe: str  # the recipe lines that switch it on (doc)
    signature: str  # what the test checks it did in any run that holds it (doc)


@dataclass(frozen=True)
class Composes:
    what: str  # what the pair does together (doc)
    run: str  # the shared run of RUNS that holds both
    checks: tuple[str, ...] = ()  # pair-specific invariants (names of functions in test_pairs.PAIR_CHECKS)
    compose: dict = field(default_factory=dict)  # the `compose:` entries the pair itself needs (its run has them)


@dataclass(frozen=True)
class Refused:
    why: str  # the reason, as the doc gives it
    fragment: str  # a piece of the error message (case-insensitive)
    key: str = ""  # the key path the error names (prefix), "" when not checked
    open: str = ""  # not refused yet: what happens today (the test expects the refusal and is marked xfail)


MEMBERS: dict[str, Member] = {
    "correctness": Member("correctness reward", "rewards: [{name: correctness}]",
                          "its value decides the `correct` flag (1.0 = correct)"),
    "fastcurl": Member("FastCuRL", "plugins: {fastcurl: {stages: [{level: short, ...}]}}",
                       "every prompt of every round is in the stage's length level"),
    "format_reward": Member("format reward", "rewards: [..., {name: format}]",
                            "its column is in the batch and never decides `correct`"),
    "hapo": Member("HAPO", "plugins: {hapo: {}}",
                   "the `hapo_length` column equals HAPO's length reward recomputed from the earlier rounds' shortest "
                   "correct length of the same prompt and prompt variant"),
    "inra": Member("InRa", "plugins: {inra: {}}",
                   "the policy has one more layer and only that adapter layer is trainable"),
    "one_shot": Member("1-shot RLVR", "plugins: {one_shot: {examples: [5], replicate: 2}}",
                       "every prompt of every round is the chosen example"),
    "pcl": Member("PCL", "plugins: {pcl: {pool_multiplier: 2}}",
                  "its value model is fitted on every round's prompts and `pcl/*` metrics are logged"),
    "ppo": Member("PPO", "trainer: {algorithm: ppo}",
                  "the critic's value loss is logged every step (GAE advantages)"),
    "questa": Member("QuestA", "plugins: {questa: {schedule: [{start_step: 0, fraction: 0.5}, ...]}}",
                     "step-0 prompts carry the 50% hint and the rows' `prompt_variant` is `hint=0.50`"),
    "trra": Member("TrRa (loss term)", "plugins: {trra: {aligned_model: ...}}",
                   "the `trra_kl` loss term is logged every step"),
    "group_filter": Member("group filter", "trainer: {group_filter: [0.01, 0.99]}",
                           "groups outside the band on the `correct` pass rate reach the loss with zero advantage"),
    "refill": Member("refill (dynamic sampling)", "trainer: {group_filter: [0.01, 0.99], group_filter_max_rounds: 2}",
                     "replacement rounds run while groups fail the band; failing groups carry zero advantage"),
}

# Shared runs: each is one two-step run on the tiny model with these members. Every pair inside a run composes.
RUNS: dict[str, tuple[str, ...]] = {
    "hapo+questa": ("hapo", "questa"),
    "hapo+refill": ("hapo", "group_filter", "refill"),
    "selectors+refill": ("fastcurl", "pcl", "questa", "refill"),
    "rewards+realign": ("correctness", "format_reward", "inra", "trra", "refill"),
    "ppo+shapers": ("correctness", "fastcurl", "hapo", "questa", "ppo"),
    "one_shot+shapers": ("one_shot", "format_reward", "hapo", "questa", "trra", "group_filter", "refill"),
    "pcl+others": ("fastcurl", "pcl", "hapo", "format_reward", "inra", "trra", "group_filter"),
    "ppo+others": ("correctness", "ppo", "pcl", "format_reward", "inra", "trra", "group_filter"),
    "one_shot+others": ("correctness", "one_shot", "ppo", "inra", "hapo", "questa", "group_filter"),
}
RUN_DATA = {"hapo+questa": {"n_train": 2}}  # two prompts: both recur at step 1, so HAPO has a history to use
RUN_COMPOSE = {"selectors+refill": {"select_prompts": "pcl"}, "pcl+others": {"select_prompts": "pcl"}}

SELECTOR_REFUSED = "1-shot trains on its chosen examples only; a prompt selector would add others"


def _c(what: str, run: str, *checks: str, compose: dict | None = None) -> Composes:
    return Composes(what, run, checks, dict(compose or {}))


CELLS: dict[frozenset, Composes | Refused] = {
    # correctness reward with ...
    frozenset({"correctness", "fastcurl"}): _c("FastCuRL picks prompts by length; correctness grades them",
                                               "ppo+shapers"),
    frozenset({"correctness", "format_reward"}): _c(
        "two reward columns, summed; only correctness decides `correct`", "rewards+realign", "format_never_decides"),
    frozenset({"correctness", "hapo"}): _c(
        "HAPO's history and length reward read correctness's `correct` flag", "ppo+shapers", "hapo_reads_correct"),
    frozenset({"correctness", "inra"}): _c("the adapter is trained on correctness rewards", "rewards+realign"),
    frozenset({"correctness", "one_shot"}): _c("the one example is graded by correctness", "one_shot+others"),
    frozenset({"correctness", "pcl"}): _c("PCL's value model is fitted on correctness's pass rate", "ppo+others",
                                                  "pcl_target_is_correct"),
    frozenset({"correctness", "ppo"}): _c("PPO's returns are the correctness reward", "ppo+shapers"),
    frozenset({"correctness", "questa"}): _c(
        "hinted prompts, graded on the row's answer (the hint never changes the reference)", "ppo+shapers"),
    frozenset({"correctness", "trra"}): _c("the TrRa KL is added beside the correctness policy gradient",
                                           "rewards+realign"),
    frozenset({"correctness", "group_filter"}): _c(
        "the band reads correctness's `correct` flag", "one_shot+others", "band_on_correct"),
    frozenset({"correctness", "refill"}): _c(
        "refill rounds run while correctness finds too few mixed groups; failing groups get zero advantage",
        "rewards+realign", "band_on_correct"),
    # fastcurl with ...
    frozenset({"fastcurl", "format_reward"}): _c("FastCuRL's levels, the format bonus on every completion",
                                                 "pcl+others"),
    frozenset({"fastcurl", "hapo"}): _c(
        "works mechanically (HAPO's history lives across FastCuRL's stages); the objectives pull apart: FastCuRL "
        "extends the context so reasoning can grow, HAPO rewards the shortest correct length seen", "ppo+shapers"),
    frozenset({"fastcurl", "inra"}): _c("the adapter layer trains on FastCuRL's levels", "pcl+others"),
    frozenset({"fastcurl", "one_shot"}): Refused(
        "1-shot trains on its chosen examples; FastCuRL's selector would draw its whole level instead "
        "(the one-example run would silently become multi-example)", "1-shot", "plugins."),
    frozenset({"fastcurl", "pcl"}): _c(
        "with `compose: {select_prompts: pcl}`: FastCuRL narrows the eligible rows to its level "
        "(`candidate_rows`), PCL selects within them; without the `compose:` line the recipe is refused, naming "
        "`select_prompts` and both plugins", "selectors+refill", "pcl_within_level", "pcl_selected",
        compose={"select_prompts": "pcl"}),
    frozenset({"fastcurl", "ppo"}): _c("PPO on FastCuRL's levels", "ppo+shapers"),
    frozenset({"fastcurl", "questa"}): _c("levels are computed on the unhinted prompt lengths; QuestA hints the "
                                          "level's prompts", "ppo+shapers", "hinted_within_level"),
    frozenset({"fastcurl", "trra"}): _c("the TrRa KL beside GRPO on FastCuRL's levels", "pcl+others"),
    frozenset({"fastcurl", "group_filter"}): _c("the band on FastCuRL's level's groups", "pcl+others"),
    frozenset({"fastcurl", "refill"}): _c(
        "replacement prompts are drawn from FastCuRL's level too (`candidate_rows`)", "selectors+refill",
        "refill_within_level"),
    # format_reward with ...
    frozenset({"format_reward", "hapo"}): _c(
        "HAPO shapes its own column; the format reward is another column and never decides `correct`",
        "one_shot+shapers", "format_never_decides"),
    frozenset({"format_reward", "inra"}): _c("the adapter trains on the format bonus too", "rewards+realign"),
    frozenset({"format_reward", "one_shot"}): _c("the one example, format bonus included", "one_shot+shapers"),
    frozenset({"format_reward", "pcl"}): _c(
        "PCL's target is the `correct` pass rate, never the format bonus", "pcl+others", "pcl_target_is_correct"),
    frozenset({"format_reward", "ppo"}): _c("PPO's return is the sum of the reward columns", "ppo+others"),
    frozenset({"format_reward", "questa"}): _c("hinted prompts, format bonus on the completions", "one_shot+shapers"),
    frozenset({"format_reward", "trra"}): _c("TrRa KL beside the format-rewarded policy gradient", "rewards+realign"),
    frozenset({"format_reward", "group_filter"}): _c(
        "the band reads `correct`, not the format bonus", "pcl+others", "band_on_correct"),
    frozenset({"format_reward", "refill"}): _c("refill reads `correct`, not the format bonus", "rewards+realign",
                                               "band_on_correct"),
    # hapo with ...
    frozenset({"hapo", "inra"}): _c("the adapter layer trains on HAPO's shaped reward", "one_shot+others"),
    frozenset({"hapo", "one_shot"}): _c("HAPO's history holds the one example's shortest correct length",
                                        "one_shot+shapers"),
    frozenset({"hapo", "pcl"}): _c(
        "PCL's value target and its effective ratio read `correct`, never HAPO's shaped reward",
        "pcl+others", "pcl_target_is_correct", "pcl_effective_ratio_on_correct"),
    frozenset({"hapo", "ppo"}): _c("PPO's GAE runs on the HAPO-shaped total reward", "ppo+shapers"),
    frozenset({"hapo", "questa"}): _c(
        "the per-prompt record (HAPO's shortest correct length) is kept per hint fraction: the 50%-hint history "
        "never sets the budget of the 25%-hint prompt", "hapo+questa", "records_keyed_by_variant"),
    frozenset({"hapo", "trra"}): _c("TrRa KL beside the HAPO-shaped policy gradient", "one_shot+shapers"),
    frozenset({"hapo", "group_filter"}): _c(
        "the band reads `correct`: a group of wrong answers of different lengths (non-zero shaped variance) is "
        "still filtered", "one_shot+shapers", "band_on_correct"),
    frozenset({"hapo", "refill"}): _c(
        "with HAPO shaping plus refill, all-wrong groups never reach the loss (zero advantage), though HAPO's "
        "length reward gives them variance", "hapo+refill", "all_wrong_never_in_loss"),
    # inra with ...
    frozenset({"inra", "one_shot"}): _c("the adapter layer trains on the one example", "one_shot+others"),
    frozenset({"inra", "pcl"}): _c("PCL's separate value model starts from the checkpoint without the adapter",
                                   "pcl+others"),
    frozenset({"inra", "ppo"}): _c("PPO trains only the adapter layer and the critic", "ppo+others"),
    frozenset({"inra", "questa"}): _c("the adapter layer trains on hinted prompts", "one_shot+others"),
    frozenset({"inra", "trra"}): _c("the TrRa KL trains only the adapter layer (teachers are frozen copies)",
                                    "rewards+realign"),
    frozenset({"inra", "group_filter"}): _c("the band beside adapter-only training", "pcl+others"),
    frozenset({"inra", "refill"}): _c("refill rounds beside adapter-only training", "rewards+realign"),
    # one_shot with ...
    frozenset({"one_shot", "pcl"}): Refused(
        "1-shot trains on its chosen examples; PCL's selector would add (k-1)m random rows to each pool "
        "(the one-example run would silently become multi-example)", "1-shot", "plugins."),
    frozenset({"one_shot", "ppo"}): _c(
        "the 1-shot sampler feeds PPO (the paper's PPO variant); the critic's GAE replaces GRPO's advantages",
        "one_shot+others", "ppo_token_advantages"),
    frozenset({"one_shot", "questa"}): _c("the one example carries QuestA's hint", "one_shot+shapers"),
    frozenset({"one_shot", "trra"}): _c("TrRa KL beside GRPO on the one example", "one_shot+shapers"),
    frozenset({"one_shot", "group_filter"}): _c("the band on the one example's groups", "one_shot+shapers",
                                                "band_on_correct"),
    frozenset({"one_shot", "refill"}): _c(
        "refill rounds redraw the chosen example: 1-shot narrows the eligible rows (`candidate_rows`) to it, so "
        "the one-example run stays one-example", "one_shot+shapers", "band_on_correct"),
    # pcl with ...
    frozenset({"pcl", "ppo"}): _c("PCL selects, PPO's critic gives the advantages", "ppo+others"),
    frozenset({"pcl", "questa"}): _c(
        "PCL's value model predicts on the hinted prompt that will be generated, and is fitted on it",
        "selectors+refill", "pcl_predicts_on_generated_prompt"),
    frozenset({"pcl", "trra"}): _c("TrRa KL beside GRPO on PCL's prompts", "pcl+others"),
    frozenset({"pcl", "group_filter"}): _c("the band on PCL's selected groups (PCL aims them at tau = 0.5)",
                                           "pcl+others", "band_on_correct"),
    frozenset({"pcl", "refill"}): _c("refill rounds go through PCL's selector too", "selectors+refill",
                                     "band_on_correct"),
    # ppo with ...
    frozenset({"ppo", "questa"}): _c("PPO on hinted prompts", "ppo+shapers"),
    frozenset({"ppo", "trra"}): _c("two loss terms with distinct names: the critic's value loss and TrRa's KL",
                                   "ppo+others"),
    frozenset({"ppo", "group_filter"}): _c("the band zeroes PPO's per-token advantages of filtered groups",
                                           "ppo+others", "band_on_correct"),
    frozenset({"ppo", "refill"}): Refused(
        "the critic's values are computed once per generation batch; refill rounds would need them again",
        "group_filter_max_rounds", "trainer"),
    # questa with ...
    frozenset({"questa", "trra"}): _c("TrRa KL on the hinted prompts' completions", "one_shot+shapers"),
    frozenset({"questa", "group_filter"}): _c("the band on the hinted groups' pass rate", "one_shot+shapers",
                                              "band_on_correct"),
    frozenset({"questa", "refill"}): _c("replacement prompts are hinted like the first round's", "selectors+refill",
                                        "refill_hinted"),
    # trra with ...
    frozenset({"trra", "group_filter"}): _c("the band beside the TrRa KL (the KL still covers filtered groups)",
                                            "one_shot+shapers"),
    frozenset({"trra", "refill"}): _c("refill rounds beside the TrRa KL", "rewards+realign"),
    # the core's filter and its refill
    frozenset({"group_filter", "refill"}): _c(
        "refill is the group filter plus replacement rounds: the passing groups of all rounds first, then "
        "filtered ones with zero advantage", "hapo+refill", "band_on_correct"),
}

TRAINERS = {"sft": "trainer: {algorithm: sft, completion_column: solution}",
            "distill": "trainer: {algorithm: distill} with plugins: {trra: ...}"}
# A member under a trainer that trains on fixed sequences: no rollouts, so no per-step rollout hook fires.
GRPO_ONLY = "never calls"
TRAINER_CELLS: dict[tuple[str, str], Composes | Refused] = {}
for _member in MEMBERS:
    for _trainer in TRAINERS:
        if _member == "inra":
            TRAINER_CELLS[(_member, _trainer)] = Composes(
                "InRa's adapter trains by SFT on fixed sequences (the InRa recipe)" if _trainer == "sft" else
                "TrRa's distillation trains only the InRa adapter layer", f"{_trainer}:inra")
        elif _member == "trra":
            TRAINER_CELLS[(_member, _trainer)] = (
                Composes("TrRa's own trainer: teacher-forced distillation on fixed sequences", "distill:trra")
                if _trainer == "distill" else
                Refused("the `trra_kl` loss term is a GRPO hook; on fixed sequences use trainer.algorithm: distill",
                        GRPO_ONLY, "plugins.trra"))
        elif _member == "ppo":
            TRAINER_CELLS[(_member, _trainer)] = Refused("one recipe has one `trainer.algorithm`", "", "")
        elif _member in ("correctness", "format_reward"):
            TRAINER_CELLS[(_member, _trainer)] = Refused(
                "a reward needs rollouts; the trainer learns from fixed sequences", "reward", "rewards")
        elif _member in ("group_filter", "refill"):
            TRAINER_CELLS[(_member, _trainer)] = Refused(
                "the group filter acts on rollout groups; the trainer has none", "group_filter", "trainer.group_filter")
        else:
            TRAINER_CELLS[(_member, _trainer)] = Refused(
                f"{MEMBERS[_member].title} acts on rollouts (sampling, prompts or rewards), which this trainer never "
                "generates: it would silently do nothing", GRPO_ONLY, f"plugins.{_member}")


def all_pairs() -> list[frozenset]:
    return [frozenset(p) for p in itertools.combinations(MEMBERS, 2)]


def pair_id(pair: frozenset) -> str:
    order = list(MEMBERS)
    return "+".join(sorted(pair, key=order.index))


def counts() -> dict[str, int]:
    cells = list(CELLS.values())
    return {"pairs": len(cells), "composes": sum(isinstance(c, Composes) for c in cells),
            "refused": sum(isinstance(c, Refused) for c in cells)}


# -- the doc --------------------------------------------------------------------------------------------------------

RULE_TEXT = {
    "each": "every implementation runs (pluggy's order: last registered first); results are not combined",
    "chain": "implementations run in the recipe's `plugins:` order, each one seeing the previous one's result",
    "and": "the bool masks are AND-ed: a group is kept only if every filter keeps it",
    "merge": "dicts or lists are merged; two plugins producing the same name (reward column, auxiliary model, "
             "loss term, core `schedule` key) is an error",
    "one": "exactly one plugin may act: two active implementers are refused unless `compose:` names the one that "
           "acts and every other one can step aside (`Composition.yields`)",
}


def hook_rules() -> dict[str, str]:
    sys.path.insert(0, str(ROOT))
    from trl_reasoning.plugins.composition import HOOK_RULES

    return dict(HOOK_RULES)


def _cell_text(cell) -> str:
    if isinstance(cell, Composes):
        extra = f" (run `{cell.run}`)"
        return f"composes: {cell.what}{extra}"
    return f"**refused**: {cell.why}"


def _short(cell) -> str:
    if isinstance(cell, Refused):
        return "refused"
    return "composes*" if cell.compose else "composes"


def render_doc() -> str:
    rules = hook_rules()
    n = counts()
    order = list(MEMBERS)
    lines = [
        "# Composing methods in one recipe",
        "",
        "<!-- Generated by tests/composition/composition_matrix.py from the table that drives "
        "tests/composition/test_pairs.py. Do not edit by hand: edit the table and run "
        "`.venv/bin/python tests/composition/composition_matrix.py --write`. -->",
        "",
        "Several methods may act in one run: the recipe names them under `plugins:` (and picks a trainer, rewards, "
        "the group filter). Every hook has a rule for what happens when several active plugins implement it, and "
        "`prepare` (so `trl-reason run` and `trl-reason validate`) checks the active plugins against these rules "
        "before any model loads: a recipe where two plugins would shadow each other exits with status 2 and an "
        "error that names the hook, both plugins and the line that composes them. The order in which the hooks act in "
        "one generation round (candidate sources, selector, transforms, rewards, filters, refill rounds) is in "
        "[architecture.md](architecture.md#one-generation-round-in-order).",
        "",
        "## Hook rules",
        "",
        "| rule | meaning |",
        "|---|---|",
    ]
    for rule, text in RULE_TEXT.items():
        lines.append(f"| `{rule}` | {text} |")
    lines += ["", "| hook | rule |", "|---|---|"]
    for hook, rule in rules.items():
        lines.append(f"| `{hook}` | `{rule}` |")
    lines += [
        "",
        "## `compose:`: who acts on a `one` hook",
        "",
        "FastCuRL and PCL both implement `select_prompts`. FastCuRL can step aside: it then only narrows the "
        "eligible rows to its current length level through `candidate_rows` (a `chain` hook), and PCL selects "
        "within them. Without a statement the recipe is refused:",
        "",
        "```yaml",
        "plugins:",
        "  fastcurl: {stages: [{level: short, steps: 40}, {level: all, steps: 40}]}",
        "  pcl: {pool_multiplier: 4}",
        "compose:",
        "  select_prompts: pcl        # PCL's select_prompts acts; FastCuRL's is not called",
        "```",
        "",
        "`compose:` maps a `one` hook to the plugin whose implementation acts. Naming a hook that is not a `one` "
        "hook, a plugin that is not active or one that does not implement the hook is an error at "
        "`compose.<hook>`; so is naming one when another implementer cannot step aside. A plugin declares what it "
        "can do beside others with a `Composition` class attribute (`from trl_reasoning import Composition`): "
        "`yields` (the `one` hooks where it steps aside), `refuses` (hooks no other active plugin may implement, "
        "with the reason: 1-shot refuses prompt selectors) and `shapes` (the reward columns its `shape_rewards` "
        "writes; two shapers of one column are refused).",
        "",
        "## Every pair of built-in features",
        "",
        f"{n['pairs']} pairs of the {len(MEMBERS)} features below: **{n['composes']} compose, {n['refused']} are "
        "refused** before any model loads. `composes*`: with a `compose:` line. Each composing pair runs two steps on "
        "the tiny test model in `tests/composition/test_pairs.py`, in one of the shared runs listed at the end, and "
        "the test checks what the cell says; each refused pair is checked to exit at validation with its message.",
        "",
        "| feature | recipe | checked in every run that holds it |",
        "|---|---|---|",
    ]
    for name, member in MEMBERS.items():
        lines.append(f"| `{name}` ({member.title}) | `{member.recipe}` | {member.signature} |")
    lines += ["", "| | " + " | ".join(f"`{m}`" for m in order) + " |", "|---" * (len(order) + 1) + "|"]
    for a in order:
        row = [f"`{a}`"]
        for b in order:
            row.append("" if a == b else _short(CELLS[frozenset({a, b})]))
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "### What each pair does", ""]
    for pair in all_pairs():
        a, b = sorted(pair, key=order.index)
        lines.append(f"- `{a}` + `{b}`: {_cell_text(CELLS[pair])}")
    lines += ["", "## Under trainers without rollouts", "",
              "`sft` and TrRa's `distill` train on fixed sequences: no completion is sampled, so hooks that act on "
              "rollouts never fire. A method that works only through them is refused rather than silently ignored.",
              "", "| feature | " + " | ".join(f"`{t}`" for t in TRAINERS) + " |",
              "|---" * (len(TRAINERS) + 1) + "|"]
    for name in order:
        cells = []
        for trainer in TRAINERS:
            cell = TRAINER_CELLS[(name, trainer)]
            if isinstance(cell, Composes):
                cells.append(f"composes: {cell.what}")
            elif cell.open:
                cells.append(f"**not refused yet** ({cell.open}); should be refused: {cell.why}")
            else:
                cells.append(f"refused: {cell.why}")
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    lines += ["", "## The shared runs", "",
              "Pairs that compose are checked in a few two-step runs on the tiny model, each holding several "
              "features (every pair inside a run composes), so the matrix costs nine short runs rather than 63 "
              "(plus three for the `sft`/`distill` cells that compose):", ""]
    for run, members in RUNS.items():
        compose = RUN_COMPOSE.get(run)
        extra = (", `compose: {" + ", ".join(f"{k}: {v}" for k, v in compose.items()) + "}`") if compose else ""
        lines.append(f"- `{run}`: " + ", ".join(f"`{m}`" for m in members) + extra)
    lines += ["", "## Combined recipes", "",
              "Three recipes combine methods, each measured on a CPU against its parts (same seed and steps):", "",
              "| recipe | benchmark | results |", "|---|---|---|"]
    for recipe, bench in (("fastcurl-pcl", "combined_fastcurl_pcl"), ("questa-hapo", "combined_questa_hapo"),
                          ("one-shot-ppo", "combined_one_shot_ppo")):
        lines.append(f"| `recipes/combined/{recipe}.yaml` | `benchmarks/{bench}.py` | "
                     f"`benchmarks/results/{bench}.json` |")
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    text = render_doc()
    if "--write" in argv:
        DOC.write_text(text, encoding="utf-8")
        print(f"wrote {DOC.relative_to(ROOT)}: {counts()}")
        return 0
    if "--check" in argv:
        current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
        if current != text:
            print("docs/composition.md is out of date: run .venv/bin/python tests/composition/composition_matrix.py "
                  "--write", file=sys.stderr)
            return 1
        return 0
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
