"""How several active plugins that implement the same hook combine, and the check that refuses what cannot.

Every hook has one rule (``HOOK_RULES``):

* ``each``: every implementation runs, in pluggy's order (last registered first); results are not combined.
* ``chain``: implementations run in the recipe's ``plugins:`` order, each one seeing the previous one's result
  (``candidate_rows`` narrows the previous narrowing; ``transform_prompt`` rewrites the previous rewrite).
* ``and``: the bool masks are AND-ed (``filter_groups``: a group is kept only if every filter keeps it).
* ``merge``: the dicts or lists are merged; two plugins producing the same name is an error (two plugins shaping
  the same reward column, two auxiliary models or extra batch fields with one name, two values of a core
  ``schedule`` key).
* ``one``: exactly one plugin may act (``firstresult`` hooks). Two active implementers are refused unless the
  recipe names the one that acts under ``compose:`` and every other implementer declares that it can step aside
  (``Composition.yields``); the core then calls only the named plugin's implementation.

A plugin class declares what it needs with a ``composition`` attribute::

    from trl_reasoning import Composition

    class Plugin:
        composition = Composition(
            yields=("select_prompts",),                      # FastCuRL: with `compose: {select_prompts: pcl}` it
                                                             # only narrows (candidate_rows); PCL selects within
            refuses={"select_prompts": "1-shot trains on one example; a selector would add others"},
            shapes=("hapo_length",),                         # reward columns its shape_rewards writes
        )

``check_composition(pm, recipe)`` returns every violation as a ``ConfigError`` (``prepare`` reports them all
before any model loads).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from trl_reasoning.config.schema import ConfigError

HOOK_RULES: dict[str, str] = {
    # registration and setup
    "register_trainers": "each", "register_rewards": "each", "register_commands": "each",
    "register_eval_options": "each",
    "run_stages": "one", "validate_run": "each", "modify_model": "each", "reward_funcs": "merge",
    "trainer_ready": "each", "auxiliary_models": "merge", "param_groups": "merge", "train_sampler": "one",
    # every step
    "schedule": "merge", "candidate_rows": "chain", "select_prompts": "one", "transform_prompt": "chain",
    "shape_rewards": "merge", "on_rewards": "each", "filter_groups": "and", "advantages": "one",
    "extra_batch_fields": "merge", "loss_terms": "merge", "metrics": "merge",
    # lifecycle, evaluation and export
    "plugin_state": "each", "load_plugin_state": "each", "inference_model": "one", "model_card_sections": "merge",
}
ONE_HOOKS = tuple(name for name, rule in HOOK_RULES.items() if rule == "one")
RESERVED_PREFIX = "core:"


@dataclass(frozen=True)
class Composition:
    """What a plugin declares about acting beside other plugins (class attribute ``composition``)."""

    yields: tuple[str, ...] = ()  # `one` hooks where it steps aside when `compose:` names another plugin
    refuses: Mapping[str, str] = field(default_factory=dict)  # hook -> why no OTHER active plugin may implement it
    shapes: tuple[str, ...] = ()  # reward columns its `shape_rewards` writes (two shapers of one column: refused)


def composition_of(plugin: Any) -> Composition:
    declared = getattr(plugin, "composition", None)
    return declared if isinstance(declared, Composition) else Composition()


def implementers(pm, hook: str) -> list[str]:
    """Names of the active plugins implementing ``hook``, in registration order (the recipe's ``plugins:`` order)."""
    hooks = pm.all_hooks_view().hook if hasattr(pm, "all_hooks_view") else pm.hook  # composed or not
    caller = getattr(hooks, hook, None)
    return [impl.plugin_name for impl in caller.get_hookimpls()] if caller is not None else []


def compose_line(hook: str, plugin: str) -> str:
    return f"`compose: {{{hook}: {plugin}}}`"


def check_composition(pm, recipe=None, compose: Mapping[str, str] | None = None,
                      trainer_class: type | None = None) -> list[ConfigError]:
    """Every way the active plugins of ``pm`` shadow or contradict each other, or act through hooks the trainer
    never calls, as ``ConfigError`` s.

    ``compose`` (hook -> plugin) defaults to ``recipe.compose``; ``trainer_class`` to the class registered for
    ``recipe``'s ``trainer.algorithm``; any may be absent.
    """
    if compose is None:
        compose = dict(getattr(recipe, "compose", None) or {})
    if trainer_class is None and recipe is not None:
        trainer_class = pm.trainers().get(_algorithm(recipe), (None, None))[0]
    errors: list[ConfigError] = []
    active = dict(pm.active)
    errors += _check_compose_keys(pm, compose, active)
    for hook in ONE_HOOKS:
        errors += _check_one(pm, hook, compose.get(hook), active)
    errors += _check_refusals(pm, active)
    errors += _check_shapes(pm, active)
    errors += _check_trainer_calls(pm, trainer_class, _algorithm(recipe), active)
    return errors


def _algorithm(recipe) -> str | None:
    if recipe is None:
        return None
    return getattr(recipe, "algorithm", None) or (getattr(recipe, "trainer", None) or {}).get("algorithm")


def _check_trainer_calls(pm, trainer_class, algorithm: str | None, active: dict) -> list[ConfigError]:
    """A trainer class may declare ``calls_hooks`` (the hooks it ever calls; absent: every hook). A plugin that
    implements a hook outside it would silently do nothing, so it is refused."""
    calls = getattr(trainer_class, "calls_hooks", None)
    if calls is None:
        return []
    unused: dict[str, list[str]] = {}
    for hook in HOOK_RULES:
        if hook not in calls:
            for name in implementers(pm, hook):
                if not name.startswith(RESERVED_PREFIX):
                    unused.setdefault(name, []).append(hook)
    which = f"the {algorithm!r} trainer" if algorithm else trainer_class.__name__
    return [ConfigError(f"plugins.{name}", f"{name!r} acts through {', '.join(hooks)}, which {which} "
                                           f"never calls (it generates no rollouts), so {name!r} would do nothing; "
                                           f"use trainer.algorithm: grpo or ppo, or drop {name!r}")
            for name, hooks in unused.items() if name in active]


def _check_compose_keys(pm, compose: Mapping[str, str], active: dict) -> list[ConfigError]:
    errors = []
    for hook, owner in compose.items():
        path = f"compose.{hook}"
        if HOOK_RULES.get(hook) != "one":
            what = (f"{hook!r} is a {HOOK_RULES[hook]!r} hook, whose implementations all act"
                    if hook in HOOK_RULES else f"{hook!r} is not a trl_reasoning hook")
            errors.append(ConfigError(path, f"{what}; `compose:` names the one plugin that acts for a hook where "
                                            f"only one can: {', '.join(ONE_HOOKS)}"))
        elif owner not in active:
            errors.append(ConfigError(path, f"{owner!r} is not an active plugin (active: "
                                            f"{', '.join(active) or 'none'}); name one under `plugins:`"))
        elif owner not in implementers(pm, hook):
            have = implementers(pm, hook)
            errors.append(ConfigError(path, f"plugin {owner!r} does not implement {hook!r} (implemented by: "
                                            f"{', '.join(have) or 'no active plugin'})"))
    return errors


def _check_one(pm, hook: str, owner: str | None, active: dict) -> list[ConfigError]:
    names = implementers(pm, hook)
    if len(names) < 2:
        return []
    path = f"compose.{hook}"
    if owner is None or owner not in names:
        if owner is not None:
            return []  # reported by _check_compose_keys
        yielding = [n for n in names if hook in composition_of(active.get(n)).yields]
        acting = [n for n in names if n not in yielding]
        suggestion = acting[0] if len(acting) == 1 else names[-1]
        listed = " and ".join(repr(n) for n in names)
        hint = (f"; {', '.join(repr(n) for n in yielding)} can step aside, so add {compose_line(hook, suggestion)} "
                "to the recipe" if len(acting) == 1 else
                f"; only one can act. Add {compose_line(hook, '<plugin>')} naming the one whose {hook} acts (the "
                "others must be able to step aside), or drop one from `plugins:`")
        both = "both" if len(names) == 2 else "all"
        return [ConfigError(path, f"plugins {listed} {both} implement {hook!r}, where only one can act, and the "
                                  f"recipe does not say which{hint}")]
    errors = []
    for other in names:
        if other != owner and hook not in composition_of(active.get(other)).yields:
            errors.append(ConfigError(path, f"{compose_line(hook, owner)} would switch off {other!r}'s {hook!r}, "
                                            f"which {other!r} cannot do without (it does not step aside on {hook}); "
                                            f"drop {other!r} or {owner!r} from `plugins:`"))
    return errors


def _check_refusals(pm, active: dict) -> list[ConfigError]:
    errors = []
    for name, plugin in active.items():
        refused: dict[str, list[str]] = {}  # other plugin -> the refused hooks it implements
        reasons: dict[str, str] = {}
        for hook, reason in composition_of(plugin).refuses.items():
            for other in implementers(pm, hook):
                if other != name:
                    refused.setdefault(other, []).append(hook)
                    reasons.setdefault(other, reason)
        for other, hooks in refused.items():
            errors.append(ConfigError(f"plugins.{other}", f"plugin {name!r} refuses any other plugin implementing "
                                                          f"{' or '.join(repr(h) for h in hooks)}, and {other!r} "
                                                          f"does: {reasons[other]}. Drop {other!r} or {name!r}"))
    return errors


def _check_shapes(pm, active: dict) -> list[ConfigError]:
    owners: dict[str, str] = {}
    errors = []
    for name in implementers(pm, "shape_rewards"):
        for column in composition_of(active.get(name)).shapes:
            if column in owners:
                errors.append(ConfigError(f"plugins.{name}", f"plugins {owners[column]!r} and {name!r} both shape "
                                                             f"the reward {column!r}: one would overwrite the other; "
                                                             "drop one of them"))
            owners.setdefault(column, name)
    return errors


def removed_by_composition(pm, compose: Mapping[str, str]) -> dict[str, list[str]]:
    """``{hook: [plugin names not to call]}``: for each composed ``one`` hook, every implementer but its owner."""
    return {hook: [n for n in implementers(pm, hook) if n != owner]
            for hook, owner in compose.items() if HOOK_RULES.get(hook) == "one"}
