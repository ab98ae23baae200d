"""``RunHooks``: the per-step hooks as typed methods, each with its combination rule (``plugins/composition.py``).

A trainer holds one as ``trainer.hooks`` and calls ``self.hooks.<name>(...)``; the rules live here, not in the
trainer. Every call goes through pluggy (composed hooks through ``subset_hook_caller``, built once and cached by the
manager), so ``TRL_REASONING_TRACE_PLUGINS`` shows each one; a hook no active plugin implements is not called at
all (``present``), so it costs a dict lookup per step and prints no trace line::

    hooks = RunHooks(pm, trainer)
    rows = hooks.transform_prompts(rows, round)      # the transform_prompt chain, recipe order
    keep = hooks.kept_groups(batch)                  # AND of filter_groups, or None
"""

from __future__ import annotations

from typing import Any

from trl_reasoning.rollouts import Advantages, GenerationRound, RolloutBatch

CORE_SCHEDULE_KEYS = ("max_completion_length", "beta")  # the schedule keys the core applies itself


class RunHooks:
    def __init__(self, pm, trainer: Any = None):
        self.pm = pm
        self.trainer = trainer

    def present(self, name: str) -> bool:
        """Whether any active plugin implements ``name`` (and is not switched off for it by ``compose:``); a cached
        lookup, so the step code asks it before building a hook's arguments."""
        return self.pm.is_implemented(name)

    # -- prompts (main process, except candidate_rows) ------------------------------------------------------------

    def candidate_rows(self, indices: list[int], round: GenerationRound | None = None) -> list[int]:
        """``indices`` narrowed by the ``candidate_rows`` chain (recipe order)."""
        dataset = getattr(self.trainer, "train_dataset", None)
        return self.pm.call_chain("candidate_rows", "indices", indices, trainer=self.trainer, dataset=dataset,
                                  round=round)

    def select_prompts(self, rows: list[dict], num_prompts: int, round: GenerationRound | None = None):
        """The acting selector's ``num_prompts`` rows, or ``None`` to keep ``rows``."""
        if not self.present("select_prompts"):
            return None
        selected = self.pm.hook.select_prompts(trainer=self.trainer, rows=rows, num_prompts=num_prompts, round=round)
        if selected is None:
            return None
        if len(selected) != num_prompts:
            owner = self.pm.implementers("select_prompts")
            raise ValueError(f"select_prompts ({', '.join(owner)}) returned {len(selected)} rows, expected "
                             f"{num_prompts}")
        return list(selected)

    def transform_prompts(self, rows: list[dict], round: GenerationRound | None = None) -> list[dict]:
        """Each row (a copy) through the ``transform_prompt`` chain, recipe order. No generation happens: a selector
        may call it to see the prompts that will be generated."""
        if not self.present("transform_prompt"):
            return [dict(row) for row in rows]
        return [self.pm.call_chain("transform_prompt", "row", dict(row), trainer=self.trainer, round=round)
                for row in rows]

    # -- rewards (all ranks, the global batch) --------------------------------------------------------------------

    def shape_rewards(self, batch: RolloutBatch) -> dict:
        """``{reward name: (B,) tensor}`` merged from every shaper; two shapers of one column is an error."""
        merged, owners = {}, {}
        for plugin, result in self.pm.call_each("shape_rewards", trainer=self.trainer, batch=batch,
                                                round=batch.round).items():
            for name, values in result.items():
                if name not in batch.reward_names:
                    raise ValueError(f"shape_rewards ({plugin}): no reward function named {name!r} "
                                     f"(have {batch.reward_names})")
                if name in owners:
                    raise ValueError(f"shape_rewards: plugins {owners[name]!r} and {plugin!r} both shape the reward "
                                     f"{name!r}; one would overwrite the other")
                merged[name], owners[name] = values, plugin
        return merged

    def on_rewards(self, batch: RolloutBatch) -> None:
        self.pm.hook.on_rewards(trainer=self.trainer, batch=batch, round=batch.round)

    def kept_groups(self, batch: RolloutBatch):
        """``(num_groups,)`` bool: AND of every ``filter_groups`` mask, or ``None`` when no plugin filters."""
        keep = None
        if not self.present("filter_groups"):
            return keep
        for result in self.pm.hook.filter_groups(trainer=self.trainer, batch=batch, round=batch.round):
            if result is not None:
                result = result.bool().cpu()  # (num_groups,)
                keep = result if keep is None else keep & result  # (num_groups,)
        return keep

    def advantages(self, batch: RolloutBatch, inputs: list[dict], output: dict) -> Advantages | None:
        """The acting plugin's advantages (a tensor is wrapped), or ``None`` for GRPO's."""
        if not self.present("advantages"):
            return None
        result = self.pm.hook.advantages(trainer=self.trainer, batch=batch, inputs=inputs, output=output,
                                         round=batch.round)
        if result is None or isinstance(result, Advantages):
            return result
        return Advantages(values=result)

    def extra_fields(self, batch: RolloutBatch, inputs: list[dict], output: dict, given: dict | None = None) -> dict:
        """``{key: (B_local, ...) tensor}`` for the loss: ``given`` (from ``Advantages``) and every
        ``extra_batch_fields`` result; a key TRL or another plugin already uses is an error."""
        fields: dict = {}
        results = [("advantages", given or {})]
        if self.present("extra_batch_fields"):
            results += list(self.pm.call_each("extra_batch_fields", trainer=self.trainer, batch=batch,
                                              inputs=inputs, output=output).items())
        for plugin, result in results:
            for key, value in result.items():
                if key in output:
                    raise ValueError(f"extra_batch_fields ({plugin}): {key!r} would overwrite TRL's own field")
                if key in fields:
                    raise ValueError(f"extra_batch_fields: two plugins return the field {key!r}")
                fields[key] = value
        return fields

    # -- loss, schedule, metrics ----------------------------------------------------------------------------------

    def loss_terms(self, model, inputs: dict, ctx) -> dict:
        """``{name: scalar tensor}`` from every plugin, undivided; two terms with one name is an error."""
        terms: dict = {}
        for plugin, result in self.pm.call_each("loss_terms", trainer=self.trainer, model=model, inputs=inputs,
                                                ctx=ctx).items():
            for name, term in result.items():
                if name in terms:
                    raise ValueError(f"loss_terms ({plugin}): another plugin already returns a term named {name!r}")
                terms[name] = term
        return terms

    def schedule(self, step: int) -> dict:
        """Every plugin's settings for ``step`` merged; two plugins giving a core key different values is an
        error (other keys: the later plugin's value)."""
        merged: dict = {}
        owners: dict = {}
        for name, result in self.pm.call_each("schedule", trainer=self.trainer, step=step).items():
            for key, value in result.items():
                if key in merged and merged[key] != value and key in CORE_SCHEDULE_KEYS:
                    raise ValueError(f"plugins {owners[key]!r} and {name!r} both schedule {key!r}")
                merged[key] = value
                owners[key] = name
        return merged

    def metrics(self, mode: str) -> dict:
        merged: dict = {}
        if not self.present("metrics"):
            return merged
        for result in self.pm.hook.metrics(trainer=self.trainer, mode=mode):
            merged.update(result or {})
        return merged

    # -- state ------------------------------------------------------------------------------------------------------

    def states(self) -> dict:
        """``{plugin: state}`` of every plugin that has state."""
        return self.pm.call_each("plugin_state", trainer=self.trainer)

    def load_states(self, states: dict) -> list[str]:
        """Give each active plugin its state back; returns the names in ``states`` no active plugin has."""
        missing = []
        for name, state in states.items():
            if name not in self.pm.active:
                missing.append(name)
                continue
            self.pm.call_one(name, "load_plugin_state", trainer=self.trainer, state=state)
        return missing
