"""Every hook a trl-reasoning plugin can implement, in the order a run reaches them.

Implement one by naming a function or method after it and decorating it with ``@trl_reasoning.hookimpl``. The core
calls hooks with keyword arguments, so an implementation may take any subset of the parameters, in any order::

    from trl_reasoning import hookimpl

    class ShortAnswerBonus:
        def __init__(self, config):           # config: the plugin's validated dataclass
            self.config = config

        @hookimpl
        def on_rewards(self, trainer, batch):
            print(batch.step, batch.correct.float().mean())

Registration hooks (``register_*``) run for every installed plugin; all others only for the plugins a recipe names
under ``plugins:`` (built-in core features are registered as plugins too, but they act only on their own recipe
keys; a plugin's trainer may register an internal plugin object of its own, PPO's ``ppo-trainer`` when
``trainer.algorithm: ppo``; and ``trl-reason eval --plugin NAME`` or one of a plugin's eval options activates that
plugin for the evaluation). A hook implementation whose name matches no hook stops the run at start-up with the nearest hook name. The
types in the signatures are for reading (nothing checks them at run time); the names a plugin imports are in
[api.md](api.md).

Conventions every hook follows:

* "all ranks": the hook runs on every process with identical inputs, must be deterministic, and must never call
  a collective (``gather``, ``broadcast``) conditionally.
* "main": the hook runs on the main process only and the core broadcasts its result.
* ``firstresult`` hooks take exactly one acting plugin: two active implementers are refused before any model loads
  unless the recipe names one under ``compose:`` (``trl_reasoning/plugins/composition.py``,
  [composition.md](composition.md)).
* Chained hooks (``candidate_rows``, ``transform_prompt``) run in the recipe's ``plugins:`` order, each seeing the
  previous one's result.

Set ``TRL_REASONING_TRACE_PLUGINS=1`` to print every hook call, its arguments (values, shortened) and its result,
per-plugin and chained calls included.

**Step numbers.** What a user reads counts optimizer steps from 1: ``metrics.jsonl``'s ``step``, the progress line
(``step 3/30``), the console warnings (``step 1: 40% of completions hit max_completion_length``), checkpoint names
(``checkpoint-3`` holds the state after step 3) and ``max_steps``. What a hook receives is the number of optimizer steps
already completed, TRL's ``trainer.state.global_step`` at that moment: ``RolloutBatch.step``, ``round.step``,
``ctx.step`` and ``schedule(step=...)`` are 0 while the first step's completions are generated and trained on, so step
``s`` of the hook API is step ``s + 1`` in the log. A schedule that switches "after 100 steps" compares ``step >= 100``.

The docstrings of ``trl_reasoning/hookspecs.py`` are the one copy of this reference: ``docs/hooks.md`` is generated
from them (``python -m trl_reasoning.plugins.hookdoc --write``) and a test fails when it is out of date. Each hook
has a test named ``test_hook_<name>`` that fires it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Literal

import pluggy

if TYPE_CHECKING:  # for the annotations only; none of this is imported at run time
    import argparse

    from datasets import Dataset
    from torch import Tensor
    from torch.nn import Module
    from torch.utils.data import Sampler
    from transformers import PreTrainedModel, PreTrainedTokenizerBase, TrainingArguments

    from trl_reasoning.config.recipe import Recipe
    from trl_reasoning.rollouts import Advantages, GenerationRound, LossContext, RolloutBatch
    from trl_reasoning.trainers.base import ReasoningTrainerMixin
    from trl_reasoning.trainers.grpo import ReasoningGRPOTrainer

PROJECT_NAME = "trl_reasoning"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# ---------------------------------------------------------------------------------------------------------------------
# Registration: things a recipe refers to by name. Called for every installed plugin, active or not, so that a recipe
# can name what any installed plugin offers (a registered reward or trainer does nothing until a recipe names it).
# ---------------------------------------------------------------------------------------------------------------------


@hookspec
def register_trainers(register: Callable[..., None]) -> None:
    """Offer trainer classes that a recipe selects with ``trainer.algorithm``.

    ``trainer_class`` must subclass ``trl_reasoning.ReasoningGRPOTrainer`` or ``trl_reasoning.ReasoningSFTTrainer``
    (or be a TRL trainer adapted by the plugin); ``config_class`` is the TRL config dataclass whose fields
    ``trainer:`` keys are validated against. A ``ReasoningSFTTrainer`` subclass (no reward functions: fixed
    prompt/completion pairs) is built by ``trl_reasoning.run.build_sft.build_sft_trainer`` (the recipe's model, its
    pairs, their fingerprint); any other trainer that is not GRPO-shaped defines a classmethod
    ``from_run(prepared, output_dir, callbacks)`` that loads its own model and data, and ``trl_reasoning.run`` calls
    it instead of the GRPO constructor. A trainer class may declare ``calls_hooks`` (a frozenset of the hooks it ever
    calls; ``ReasoningSFTTrainer`` does), so that a plugin acting only through other hooks is refused before any
    load (``plugins/composition.py``). Fires once at start-up. Built-in users: the core registers ``grpo`` and
    ``sft``; the PPO plugin adds ``ppo``, TrRa ``distill``.

    :param register: call ``register(name, trainer_class, config_class)`` once per trainer.

    Example::

        @hookimpl
        def register_trainers(register):
            register("ppo", ReasoningPPOTrainer, ReasoningPPOConfig)
    """


@hookspec
def register_rewards(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Offer reward functions that a recipe names under ``rewards:``.

    A reward that decides correctness says so with ``reports_correctness = True`` and sets ``last_correct`` (one bool
    per completion of its last call) each time it is called: the first such reward in the recipe fills the rollout
    batch's ``correct`` flag (a reward with only an ``is_correct(values) -> list[bool]`` method, the older way, is
    read back from its values). Built-in users: the core's ``boxed_integer``; ``correctness``; ``format``.

    :param register: call ``register(name, factory)``, where ``factory(**config)`` returns a TRL reward function
        ``f(prompts, completions, completion_ids, **columns) -> list[float | None]``; ``config`` is the recipe's
        ``rewards[i].config``, checked against the factory's parameters before any model loads.

    Example::

        from trl_reasoning import hookimpl

        def shortness(prompts, completions, **kwargs):
            return [-len(c[-1]["content"]) / 1000 for c in completions]

        @hookimpl
        def register_rewards(register):
            register("shortness", lambda: shortness)
    """


@hookspec
def register_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add a ``trl-reason <name> ...`` subcommand.

    Fires once when the CLI starts. Built-in users: ``trl-reason one-shot rank``, ``trl-reason questa select``,
    ``trl-reason trra iterate``.

    :param subparsers: the ``argparse`` sub-parser action of ``trl-reason``: call
        ``subparsers.add_parser(name, help=...)`` and ``parser.set_defaults(handler=function)``; the handler
        receives the parsed ``argparse.Namespace`` and returns an exit status.

    Example::

        @hookimpl
        def register_commands(subparsers):
            parser = subparsers.add_parser("hello", help="say hello")
            parser.set_defaults(handler=lambda args: print("hello") or 0)
    """


@hookspec
def register_eval_options(parser: argparse.ArgumentParser) -> None:
    """Add options to ``trl-reason eval``, e.g. InRa's ``--inra-c``.

    The parsed values reach ``inference_model`` as ``options``; setting one of a plugin's options activates that
    plugin for the evaluation.

    :param parser: the ``argparse.ArgumentParser`` of ``trl-reason eval``; call ``parser.add_argument(...)``.
    """


# ---------------------------------------------------------------------------------------------------------------------
# Setup: a run is being built. Active plugins only; all ranks.
# ---------------------------------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def run_stages(recipe: Recipe, args: TrainingArguments) -> list[dict[str, Any]] | None:
    """Split one run into consecutive trainers, one per stage.

    Fires once per ``run_recipe``, before the first trainer is built. At each boundary the core saves a checkpoint
    and builds the next stage's trainer with its overrides, resuming from that checkpoint with
    ``ignore_data_skip=True``: global step, weights, optimizer, LR scheduler and plugin state carry over; the sampler
    starts afresh; the LR schedule follows the new ``max_steps``. ``--resume`` starts in the stage whose range holds
    the checkpoint's step. Use it only for what one trainer cannot change (the batch shape: ``num_generations``,
    prompts per step); ``schedule`` changes the rest on the exact step. A stage may also carry
    ``fresh_optimizer: True`` (not a trainer field): its trainer then starts with a new optimizer and LR scheduler
    at the boundary (and on ``--resume`` from the boundary checkpoint), as a separate job would; a resume inside the
    stage still restores them. Refused under DeepSpeed. Each stage's trainer writes to the same ``metrics.jsonl``.
    Built-in user: FastCuRL's stage table (a new trainer when prompts per step or generations per prompt change,
    and at every stage with a fresh AdamW, as the authors' separate verl jobs). Tested in
    ``plugins/fastcurl/tests/test_stages_run.py``.

    :param recipe: the validated recipe.
    :param args: the trainer config the recipe builds, before any override (read
        ``per_device_train_batch_size``, ``world_size``, ``num_generations`` there).
    :returns: a list of dicts of trainer-config overrides, one per stage, each with ``max_steps`` (the global step
        at which that stage's trainer stops; increasing), or ``None`` for one trainer.

    Example::

        class Plugin:
            @hookimpl
            def run_stages(self, recipe, args):
                # steps 0-99 with 8 completions per prompt, steps 100-199 with 16 (a new trainer from checkpoint-100)
                return [{"max_steps": 100, "num_generations": 8}, {"max_steps": 200, "num_generations": 16}]
    """


@hookspec
def validate_run(recipe: Recipe, args: TrainingArguments) -> None:
    """Refuse a combination of settings this active plugin cannot work with.

    Raise ``ConfigError(key_path, message)`` naming the keys and the fix; return nothing. Fires once per
    ``run_recipe`` (and ``trl-reason validate``), after the recipe is validated and before any model or data loads,
    on every rank. Built-in user: InRa refuses ``trainer.use_vllm`` (vLLM builds the policy without the inserted
    layer; tested in ``plugins/inra/tests/test_inra_refusals.py``).

    :param recipe: the validated recipe.
    :param args: the trainer config the recipe builds (TRL's defaults filled in).

    Example::

        @hookimpl
        def validate_run(recipe, args):
            if args.use_vllm:
                raise ConfigError("trainer.use_vllm", "my_plugin changes the policy's layers, which vLLM cannot load")
    """


@hookspec
def modify_model(model: PreTrainedModel, processing_class: PreTrainedTokenizerBase | None,
                 recipe: Recipe | None) -> None:
    """Change the policy in place before the trainer wraps it (model surgery).

    Fires after the policy is loaded and before TRL's trainer ``__init__`` (so before TRL patches ``forward`` and
    before ``accelerator.prepare``). Freeze parameters here to train only a part. Built-in user: InRa inserts its
    identity-initialised layer.

    :param model: the policy as loaded (a ``PeftModel`` under ``model.lora``).
    :param processing_class: its tokenizer.
    :param recipe: the run's recipe, or ``None`` for a trainer built directly.

    Example::

        class Plugin:
            @hookimpl
            def modify_model(self, model):
                for p in model.model.layers[:-2].parameters():
                    p.requires_grad_(False)
    """


@hookspec
def reward_funcs(recipe: Recipe) -> list[Callable[..., list[float | None]]] | None:
    """Add reward functions of this active plugin to the run's ``rewards:``.

    Built-in user: HAPO's length reward.

    :param recipe: the validated recipe.
    :returns: a list of TRL reward functions, each with a ``__name__`` (its column in ``RolloutBatch.rewards``) and
        a ``weight`` attribute (default 1.0), or ``None``.
    """


@hookspec
def trainer_ready(trainer: ReasoningTrainerMixin) -> None:
    """The trainer is built (accelerator prepared, reward functions set).

    Plugins that need the trainer, its accelerator or its tokenizer keep a reference here. Fires once, all ranks.

    :param trainer: the run's trainer (GRPO, PPO, SFT or distill).
    """


@hookspec
def auxiliary_models(trainer: ReasoningTrainerMixin) -> dict[str, Module] | None:
    """Add models the run needs besides the policy (teachers, critics, value models).

    The trainer moves each to the device; a module without trainable parameters is also prepared with accelerate for
    inference (evaluation mode). A trainable one is NOT wrapped for DDP: the plugin all-reduces its gradients itself
    across processes, as the PPO critic does (``plugins/ppo/trl_reason_ppo/trainer.py``,
    ``accelerator.reduce(p.grad)``). They are reachable as ``trainer.auxiliary[name]``. Built-in users: the PPO
    critic, TrRa's teachers.

    :param trainer: the run's trainer, after TRL's ``__init__``.
    :returns: ``{name: torch.nn.Module}``, or ``None``; two plugins returning one name is an error.
    """


@hookspec
def param_groups(trainer: ReasoningTrainerMixin, model: Module) -> list[dict[str, Any]] | None:
    """Add optimizer parameter groups to the optimizer TRL builds for ``model``.

    Built-in user: the PPO critic with its own learning rate.

    :param trainer: the run's trainer.
    :param model: the model TRL builds the optimizer for (the policy).
    :returns: a list of parameter-group dicts (``{"params": [...], "lr": ...}``), or ``None``.
    """


@hookspec(firstresult=True)
def train_sampler(trainer: ReasoningGRPOTrainer, dataset: Dataset, default_sampler: Sampler) -> Sampler | None:
    """Replace TRL's ``RepeatSampler`` that draws the training prompts.

    The stream must be identical on every rank and keep ``RepeatSampler``'s repeat structure. Takes effect about
    two optimizer steps after a change (dataloader prefetch); prefer ``select_prompts``/``candidate_rows`` for
    decisions that must act on the same step. Built-in user: the one-shot replication sampler.

    :param trainer: the GRPO-shaped trainer.
    :param dataset: the training dataset the sampler indexes.
    :param default_sampler: the sampler the core would use (a ``RepeatSampler`` that draws each epoch's order from
        the seed, so that a resumed run sees the order an uninterrupted one would).
    :returns: a ``torch.utils.data.Sampler``, or ``None`` for the default.
    """


# ---------------------------------------------------------------------------------------------------------------------
# Every step: in loop order, on GRPO-shaped trainers (grpo, ppo); metrics on every trainer.
# ---------------------------------------------------------------------------------------------------------------------


@hookspec
def schedule(trainer: ReasoningGRPOTrainer, step: int) -> dict[str, Any] | None:
    """Settings for the optimizer step that begins now.

    Fires at every step begin on all ranks. Keys the core applies: ``max_completion_length`` (transformers and
    vLLM paths) and ``beta`` (KL coefficient; the reference model must exist from the start). Any other key is the
    plugin's own and is logged to ``metrics.jsonl`` as ``schedule/<key>`` when numeric. Dicts from several plugins
    are merged; two plugins setting the same core key to different values is an error. Built-in users: FastCuRL's
    stage table, QuestA's hint-fraction schedule.

    :param trainer: the trainer.
    :param step: optimizer steps completed so far (0 at the first step).
    :returns: ``{setting: value}``, or ``None``.

    Example::

        class Plugin:
            @hookimpl
            def schedule(self, step):
                return {"max_completion_length": 64 if step < 100 else 128, "stage": 0 if step < 100 else 1}
    """


@hookspec
def candidate_rows(trainer: ReasoningGRPOTrainer, dataset: Dataset, indices: list[int],
                   round: GenerationRound) -> list[int] | None:
    """Narrow the dataset rows eligible for selection now.

    Chained in the recipe's ``plugins:`` order: each active plugin sees the previous one's result. All ranks,
    deterministic. ``trainer.eligible_rows()`` is the chain's result over every row. Built-in user: FastCuRL's
    current data level. Used by selectors that draw their own pools (PCL) and by dynamic-sampling refill rounds.

    :param trainer: the trainer.
    :param dataset: the training dataset the indices point into.
    :param indices: the rows eligible so far (after the plugins before this one).
    :param round: the ``GenerationRound`` (step, round_index, is_refill, generation) of this generation round;
        ``round.is_refill`` tells a dynamic-sampling refill from the step's first round.
    :returns: a subset of ``indices`` (a list of ints), or ``None`` to leave it.
    """


@hookspec(firstresult=True)
def select_prompts(trainer: ReasoningGRPOTrainer, rows: list[dict[str, Any]], num_prompts: int,
                   round: GenerationRound) -> list[dict[str, Any]] | None:
    """Choose the unique prompts of this generation batch.

    Runs on the main process; the result is broadcast, and each chosen prompt is expanded to ``num_generations``
    contiguous completions. Takes effect on the same step. Built-in user: PCL's value model.

    :param trainer: the trainer.
    :param rows: the unique dataset rows (dicts with ``prompt_id``) the sampler drew for the whole global generation
        batch, ``num_prompts`` of them.
    :param num_prompts: how many rows to return.
    :param round: the ``GenerationRound`` of this generation round (``round.is_refill`` in a refill round).
    :returns: ``num_prompts`` rows (drawn from any eligible row, see ``candidate_rows``), or ``None`` to keep
        ``rows``.

    Example::

        class Plugin:
            @hookimpl
            def select_prompts(self, trainer, rows, num_prompts):
                return sorted(rows, key=lambda r: len(r["problem"]))[:num_prompts]
    """


@hookspec
def transform_prompt(trainer: ReasoningGRPOTrainer, row: dict[str, Any],
                     round: GenerationRound) -> dict[str, Any] | None:
    """Rewrite one unique prompt row before it is repeated for its group.

    Chained in the recipe's ``plugins:`` order; main process, broadcast. Change ``prompt`` (conversational list or
    string) and keep ``prompt_id``; set ``prompt_variant`` (e.g. ``"hint=0.50"``) when the rewritten prompt is a
    variant that ``trainer.records`` should count apart. Keep it free of side effects: a selector may run the chain
    on candidates it does not choose. Built-in user: QuestA's partial-solution hints.

    :param trainer: the trainer (``trainer.prompt_format`` renders a problem as the recipe does).
    :param row: a copy of the row, as the previous plugin of the chain left it.
    :param round: the ``GenerationRound`` of this generation round.
    :returns: the new row dict, or ``None`` to leave it.

    Example::

        class Plugin:
            @hookimpl
            def transform_prompt(self, row):
                row["prompt"][-1]["content"] += "\\n\\n## Hint. Start from the units digit."
                return row
    """


@hookspec
def shape_rewards(trainer: ReasoningGRPOTrainer, batch: RolloutBatch,
                  round: GenerationRound) -> dict[str, Tensor] | None:
    """Replace columns of ``batch.rewards`` before advantages are computed.

    Fires after every rank's rewards are gathered (``batch`` is identical on all ranks) and before ``on_rewards``;
    ``batch`` and ``trainer.records`` are as they stood before this round's updates. Two plugins shaping one column
    is an error. Built-in user: HAPO's length reward.

    :param trainer: the trainer.
    :param batch: the scored generation round, every rank's completions.
    :param round: the ``GenerationRound`` of this generation round (also ``batch.round``).
    :returns: ``{reward_name: tensor (B_global,)}``, or ``None``.

    Example::

        class Plugin:
            @hookimpl
            def shape_rewards(self, batch):
                bonus = -0.001 * batch.completion_lengths.float()  # (B,)
                return {"length_bonus": bonus}
    """


@hookspec
def on_rewards(trainer: ReasoningGRPOTrainer, batch: RolloutBatch, round: GenerationRound) -> None:
    """Observe a scored generation round.

    Fires once per generation round (refill rounds included) after ``shape_rewards``, on every rank with identical
    data. Update plugin state here (it stays the same on every rank); the core updates ``trainer.records`` after
    every plugin's ``on_rewards``. Built-in users: PCL's value fit, QuestA's and FastCuRL's metrics, one_shot's epoch
    of each step; HAPO's history and one_shot's accuracy log are the core's ``trainer.records``, updated after them.

    :param trainer: the trainer.
    :param batch: a ``RolloutBatch`` holding every rank's completions, rewards per function (shaped), the
        ``correct`` flag, the group index and ``variants``.
    :param round: the ``GenerationRound`` of this generation round.

    Example::

        class Plugin:
            @hookimpl
            def on_rewards(self, batch):
                self.seen += batch.size
                self.pass_rates = batch.group_pass_rate()  # (num_groups,)
    """


@hookspec
def filter_groups(trainer: ReasoningGRPOTrainer, batch: RolloutBatch, round: GenerationRound) -> Tensor | None:
    """Say which groups keep their advantages; the others are zeroed and counted.

    Results of several plugins are AND-ed. All ranks, from ``batch`` (identical data). Built-in user: the core's
    ``group_filter`` band on the ``correct`` pass rate. With ``trainer.group_filter_max_rounds > 0`` the core
    regenerates for replacement prompts while fewer groups pass than the batch holds (dynamic sampling,
    ``trainers/refill.py``); this hook then runs once per round. The order in which candidate sources, selectors,
    transforms, filters and refill rounds act in one generation round is in
    [architecture.md](architecture.md#one-generation-round-in-order); what several plugins of one hook do is in
    [composition.md](composition.md).

    :param trainer: the trainer.
    :param batch: the scored generation round.
    :param round: the ``GenerationRound`` of this generation round (``round.is_refill`` in a refill round).
    :returns: a bool tensor ``(num_groups,)``, or ``None`` to keep every group.
    """


@hookspec(firstresult=True)
def advantages(trainer: ReasoningGRPOTrainer, batch: RolloutBatch, inputs: list[dict[str, Any]],
               output: dict[str, Any], round: GenerationRound) -> Tensor | Advantages | None:
    """Compute this rank's advantages in place of GRPO's.

    Built-in user: PPO's GAE. Entropy-only training zeroes advantages in the core after this hook.

    :param trainer: the trainer.
    :param batch: the global rollout record of this round.
    :param inputs: this rank's input rows (TRL's ``inputs``).
    :param output: TRL's generation output for this rank (``completion_ids``, ``completion_mask``,
        ``advantages``...).
    :param round: the ``GenerationRound`` of this generation round.
    :returns: a tensor ``(B_local,)`` or per-token ``(B_local, T)``, or ``trl_reasoning.Advantages(values,
        extra_fields)`` to add per-row loss fields computed with the advantages (no stash between hooks); ``None``:
        GRPO's.
    """


@hookspec
def extra_batch_fields(trainer: ReasoningGRPOTrainer, batch: RolloutBatch, inputs: list[dict[str, Any]],
                       output: dict[str, Any]) -> dict[str, Tensor] | None:
    """Carry extra per-row tensors through TRL's shuffle, split and buffer into the loss.

    Read them from ``ctx.inputs`` in ``loss_terms``. A key TRL or another plugin already uses is an error. No
    built-in plugin uses it: fields computed together with the advantages travel in the ``Advantages`` that
    ``advantages`` returns (PPO's returns and old values); this hook is for fields of a plugin that does not compute
    advantages.

    :param trainer: the trainer.
    :param batch: the global rollout record of this round.
    :param inputs: this rank's input rows.
    :param output: TRL's generation output for this rank.
    :returns: ``{key: tensor}`` with first dimension ``B_local``, or ``None``.
    """


@hookspec
def loss_terms(trainer: ReasoningGRPOTrainer, model: Module, inputs: dict[str, Tensor],
               ctx: LossContext) -> dict[str, Tensor] | None:
    """Add terms to TRL's loss on every micro-batch (train mode only).

    Return terms NOT divided for gradient accumulation: the core divides. Each term is logged as ``loss/<name>``.
    Built-in users: the PPO value loss, TrRa's distillation KL.

    :param trainer: the trainer.
    :param model: the policy being trained (wrapped by accelerate).
    :param inputs: the micro-batch (TRL's fields and every ``extra_batch_fields`` key).
    :param ctx: a ``LossContext`` with ``per_token_logps (B, T)``, ``entropies (B, T)``, ``completion_mask (B, T)``,
        ``inputs`` and ``grad_accum_steps``.
    :returns: ``{name: scalar tensor}``, or ``None``.

    Example::

        class Plugin:
            @hookimpl
            def loss_terms(self, ctx):
                mask = ctx.completion_mask.float()  # (B, T)
                entropy = (ctx.entropies * mask).sum() / mask.sum()  # ()
                return {"entropy_bonus": -0.001 * entropy}
    """


@hookspec
def metrics(trainer: ReasoningTrainerMixin, mode: Literal["train", "eval"]) -> dict[str, float] | None:
    """Add numbers to every TRL log line (and ``metrics.jsonl``).

    :param trainer: the trainer.
    :param mode: ``"train"`` or ``"eval"``.
    :returns: ``{name: float}``, or ``None``.
    """


# ---------------------------------------------------------------------------------------------------------------------
# Lifecycle: checkpoints and resume. Called per plugin; the state of each plugin is stored under its own name.
# ---------------------------------------------------------------------------------------------------------------------


@hookspec
def plugin_state(trainer: ReasoningTrainerMixin) -> dict[str, Any] | None:
    """This plugin's state, stored in every checkpoint.

    Called per plugin at each save; the state lives in ``checkpoint-<step>/plugin_state.pt`` (rank 0's; the trainer
    warns when ranks differ) under the plugin's name.

    :param trainer: the trainer.
    :returns: a picklable dict (tensors allowed), or ``None``.

    Example::

        class Plugin:
            @hookimpl
            def plugin_state(self):
                return {"history": dict(self.history)}

            @hookimpl
            def load_plugin_state(self, state):
                self.history = dict(state["history"])
    """


@hookspec
def load_plugin_state(trainer: ReasoningTrainerMixin, state: dict[str, Any]) -> None:
    """Restore what this plugin returned from ``plugin_state`` (on resume, before the first step).

    The checkpoint appears only when complete, and ``trl-reason run --resume`` restores it after checking the data
    fingerprint and recipe: see [lifecycle.md](lifecycle.md) for what a resume guarantees.

    :param trainer: the trainer.
    :param state: the dict this plugin's ``plugin_state`` returned when the checkpoint was saved.
    """


# ---------------------------------------------------------------------------------------------------------------------
# Evaluation and the model card: `trl-reason eval`, a recipe's evaluation, the card written at saves and by push.
# ---------------------------------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def inference_model(model: PreTrainedModel, options: argparse.Namespace) -> Module | None:
    """Return a model to evaluate in place of ``model``.

    Called by every evaluation: ``trl-reason eval`` (``options``: its parsed arguments, with the values of
    ``register_eval_options``), ``trl-reason eval --recipe`` and the in-run evaluation of a recipe's ``eval`` section
    (``options``: an ``argparse.Namespace`` with every plugin eval option at its default and the recipe's
    ``eval.options`` applied). Never used for rollouts, and not for the weights a run saves or pushes (``final/``,
    checkpoints and the Hub hold the trained model itself). Built-in user: InRa's two-stream logit interpolation.

    :param model: the trained policy as loaded for evaluation.
    :param options: an ``argparse.Namespace``: the parsed arguments of ``trl-reason eval``, or, for a recipe's
        evaluation, every plugin eval option at its default with the recipe's ``eval.options`` applied.
    :returns: the model to evaluate, or ``None`` for ``model``.
    """


@hookspec
def model_card_sections(recipe: Recipe, results: dict[str, Any] | None) -> list[str] | None:
    """Add Markdown sections to the model card (a method's paper link and settings).

    Called on the main process whenever the card is written (``trl_reasoning/lifecycle/hub.py``): at every
    checkpoint save (in place of TRL's card), at the end of a run and by ``trl-reason push``.

    :param recipe: the run's recipe.
    :param results: the run's ``results.json`` content, or ``None`` mid-run.
    :returns: a list of Markdown strings, or ``None``.

    Example::

        @hookimpl
        def model_card_sections(self, recipe, results):
            return [f"## HAPO\\n\\n[History-Aware Policy Optimization](https://arxiv.org/abs/2505.11225), "
                    f"w = {self.config.weight}"]
    """
