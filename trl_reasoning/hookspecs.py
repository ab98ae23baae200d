"""Every hook a trl-reasoning plugin can implement, in the order a run reaches them.

A plugin is a class (or a module) whose methods carry ``@trl_reasoning.hookimpl`` and are named after one of
the specs below. Hooks are always called with keyword arguments, so an implementation may accept any subset of
a spec's parameters, in any order::

    from trl_reasoning import hookimpl

    class ShortAnswerBonus:
        def __init__(self, config):           # config: the plugin's validated dataclass
            self.config = config

        @hookimpl
        def on_rewards(self, trainer, batch):
            print(batch.step, batch.correct.float().mean())

Conventions that every hook below follows:

* "all ranks": the hook runs on every process with identical inputs, must be deterministic, and must never call
  a collective (``gather``, ``broadcast``) conditionally.
* "main": the hook runs on the main process only and the core broadcasts its result.
* ``firstresult``: the first implementation that returns something other than ``None`` wins; implementations
  are tried last-registered first (pluggy's order).
* Only active plugins are called: a plugin acts in a run only when the recipe names it under ``plugins:``
  (built-in core features are registered as plugins too, but they act only on their own recipe keys).

The reference for each hook (signature, when it fires, an example) is ``docs/hooks.md``; a test fails when a
hook here has no section there or no test that exercises it.
"""

from __future__ import annotations

import pluggy

PROJECT_NAME = "trl_reasoning"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# ---------------------------------------------------------------------------------------------------------------------
# Registration: things a recipe refers to by name. Called for every installed plugin, active or not, so that a recipe
# can name what any installed plugin offers (a registered reward or trainer does nothing until a recipe names it).
# ---------------------------------------------------------------------------------------------------------------------


@hookspec
def register_trainers(register):
    """Offer trainer classes that a recipe selects with ``trainer.algorithm``.

    Call ``register(name, trainer_class, config_class)``. ``trainer_class`` must subclass
    ``trl_reasoning.trainers.ReasoningGRPOTrainer`` (or be a TRL trainer adapted by the plugin);
    ``config_class`` is the TRL config dataclass whose fields ``trainer:`` keys are validated against.
    A trainer that is not GRPO-shaped (no reward functions) defines a classmethod
    ``from_run(prepared, output_dir, callbacks)`` that loads its own model and data; ``trl_reasoning.run`` then
    calls it instead of the GRPO constructor. Fires once at start-up. Built-in users: the core registers ``grpo``
    and ``sft`` (``trl_reasoning.trainers.sft``, with ``from_run``); the PPO plugin adds ``ppo``, TrRa ``distill``.
    """


@hookspec
def register_rewards(register):
    """Offer reward functions that a recipe names under ``rewards:``.

    Call ``register(name, factory)`` where ``factory(**config)`` returns a TRL reward function
    ``f(prompts, completions, completion_ids, **columns) -> list[float | None]``. A reward that decides
    correctness has an ``is_correct(values) -> list[bool]`` method: the first such reward in the recipe fills the
    rollout batch's ``correct`` flag. Built-in users: the core's ``boxed_integer``; ``correctness``; ``format``.
    """


@hookspec
def register_commands(subparsers):
    """Add a ``trl-reason <name> ...`` subcommand.

    ``subparsers`` is the ``argparse`` sub-parser action of ``trl-reason``: call
    ``subparsers.add_parser(name, help=...)`` and ``parser.set_defaults(handler=function)``; the handler receives
    the parsed ``argparse.Namespace`` and returns an exit status. Fires once when the CLI starts.
    Built-in users: ``trl-reason one-shot rank``, ``trl-reason questa select``.
    """


@hookspec
def register_eval_options(parser):
    """Add options to ``trl-reason eval`` (an ``argparse.ArgumentParser``), e.g. InRa's ``--inra-c``.

    The parsed values reach ``inference_model`` as ``options``.
    """


# ---------------------------------------------------------------------------------------------------------------------
# Setup: a run is being built. Active plugins only; all ranks.
# ---------------------------------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def run_stages(recipe, args):
    """Split one run into consecutive trainers: return a list of dicts of trainer-config overrides, one per stage,
    each with ``max_steps`` (the global step at which that stage's trainer stops; increasing), or ``None``.

    ``args`` is the trainer config the recipe builds, before any override (read ``per_device_train_batch_size``,
    ``world_size``, ``num_generations`` there). Fires once per ``run_recipe``, before the first trainer is built.
    At each boundary the core saves a checkpoint and builds the next stage's trainer with its overrides, resuming
    from that checkpoint with ``ignore_data_skip=True``: global step, weights, optimizer, LR scheduler and plugin
    state carry over; the sampler starts afresh; the LR schedule follows the new ``max_steps``. ``--resume`` starts
    in the stage whose range holds the checkpoint's step. Use it only for what one trainer cannot change (the
    batch shape: ``num_generations``, prompts per step); ``schedule`` changes the rest on the exact step.
    A stage may also carry ``fresh_optimizer: True`` (not a trainer field): its trainer then starts with a new
    optimizer and LR scheduler at the boundary (and on ``--resume`` from the boundary checkpoint), as a separate
    job would; a resume inside the stage still restores them. Refused under DeepSpeed.
    Built-in user: FastCuRL's stage table (a new trainer when prompts per step or generations per prompt change,
    and at every stage with a fresh AdamW, as the authors' separate verl jobs).
    """


@hookspec
def validate_run(recipe, args):
    """Refuse a combination of settings this active plugin cannot work with: raise
    ``ConfigError(key_path, message)`` naming the keys and the fix; return nothing.

    ``args`` is the trainer config the recipe builds (TRL's defaults filled in). Fires once per ``run_recipe``,
    after the recipe is validated and before any model or data loads, on every rank. Built-in user: InRa refuses
    ``trainer.use_vllm`` (vLLM builds the policy without the inserted layer).
    """


@hookspec
def modify_model(model, processing_class, recipe):
    """Change the policy in place before the trainer wraps it (model surgery).

    Fires after the policy is loaded and before ``GRPOTrainer.__init__`` (so before TRL patches ``forward`` and
    before ``accelerator.prepare``). Freeze parameters here to train only a part. Built-in user: InRa inserts its
    identity-initialised layer.
    """


@hookspec
def reward_funcs(recipe):
    """Return extra reward functions (a list) that this active plugin adds to the run, each with a ``weight``
    attribute (default 1.0). Built-in user: HAPO's length reward."""


@hookspec
def trainer_ready(trainer):
    """The trainer is built (accelerator prepared, reward functions set). Plugins that need the trainer, its
    accelerator or its tokenizer keep a reference here. Fires once, all ranks."""


@hookspec
def auxiliary_models(trainer):
    """Return ``{name: torch.nn.Module}`` of extra models the run needs (teachers, critics, value models).

    The trainer moves them to the device and prepares them with accelerate (frozen models in evaluation mode
    when they have no trainable parameters). They are reachable as ``trainer.auxiliary[name]``.
    Built-in users: the PPO critic, TrRa's teachers.
    """


@hookspec
def param_groups(trainer, model):
    """Return a list of optimizer parameter-group dicts (``{"params": [...], "lr": ...}``) to add to the optimizer
    TRL builds for ``model``. Built-in user: the PPO critic with its own learning rate."""


@hookspec(firstresult=True)
def train_sampler(trainer, dataset, default_sampler):
    """Return a ``torch.utils.data.Sampler`` to replace TRL's ``RepeatSampler``, or ``None``.

    The stream must be identical on every rank and keep ``RepeatSampler``'s repeat structure. Takes effect about
    two optimizer steps after a change (dataloader prefetch); prefer ``select_prompts``/``candidate_rows`` for
    decisions that must act on the same step. Built-in user: the one-shot replication sampler.
    """


# ---------------------------------------------------------------------------------------------------------------------
# Every step, in loop order.
# ---------------------------------------------------------------------------------------------------------------------


@hookspec
def schedule(trainer, step):
    """Return a dict of settings for the optimizer step ``step`` that begins now, or ``None``.

    Fires at every step begin on all ranks. Keys the core applies: ``max_completion_length`` (transformers and
    vLLM paths) and ``beta`` (KL coefficient; the reference model must exist from the start).
    Any other key is the plugin's own and is logged to ``metrics.jsonl`` as ``schedule/<key>`` when numeric.
    Dicts from several plugins are merged; two plugins setting the same core key is an error.
    Built-in users: FastCuRL's stage table, QuestA's hint-fraction schedule.
    """


@hookspec
def candidate_rows(trainer, dataset, indices):
    """Narrow the dataset rows eligible for selection now: return a subset of ``indices`` (a list of ints), or
    ``None`` to leave it. Chained: each active plugin sees the previous one's result. All ranks, deterministic.
    Built-in user: FastCuRL's current data level. Used by selectors that draw their own pools (PCL)."""


@hookspec(firstresult=True)
def select_prompts(trainer, rows, num_prompts):
    """Choose the unique prompts of this generation batch.

    ``rows`` are the unique dataset rows (dicts with ``prompt_id``) the sampler drew for the whole global
    generation batch, ``num_prompts`` of them. Return ``num_prompts`` rows (drawn from any eligible row, see
    ``candidate_rows``) or ``None``. Runs on the main process; the result is broadcast, and each chosen prompt is
    expanded to ``num_generations`` contiguous completions. Takes effect on the same step.
    Built-in user: PCL's value model.
    """


@hookspec
def transform_prompt(trainer, row):
    """Rewrite one unique prompt row before it is repeated for its group; return the new row dict or ``None``.

    Chained in registration order; main process, broadcast. Change ``prompt`` (conversational list or string) and
    keep ``prompt_id``. Built-in user: QuestA's partial-solution hints.
    """


@hookspec
def shape_rewards(trainer, batch):
    """Return ``{reward_name: tensor (B_global,)}`` to replace columns of ``batch.rewards`` before advantages.

    Fires after every rank's rewards are gathered (``batch`` is identical on all ranks) and before ``on_rewards``.
    Reads ``batch`` as it stood before this step's history updates. Built-in user: HAPO's length reward.
    """


@hookspec
def on_rewards(trainer, batch):
    """Observe a scored generation batch: ``batch`` is a ``trl_reasoning.rollouts.RolloutBatch`` holding every
    rank's completions, rewards per function, the ``correct`` flag and the group index, identical on every rank.

    Fires once per generation round after ``shape_rewards``. Update plugin state here (it is the same on every
    rank). Built-in users: HAPO history, PCL value fit, one-shot accuracy record.
    """


@hookspec
def filter_groups(trainer, batch):
    """Return a bool tensor ``(num_groups,)``: which groups keep their advantages (others are zeroed and
    counted), or ``None``. Results of several plugins are AND-ed. All ranks, from ``batch`` (identical data).
    Built-in user: the core's ``group_filter`` band on the ``correct`` pass rate. With
    ``trainer.group_filter_max_rounds > 0`` the core regenerates for replacement prompts while fewer groups pass than
    the batch holds (dynamic sampling, ``trainers/refill.py``); this hook then runs once per round."""


@hookspec(firstresult=True)
def advantages(trainer, batch, inputs, output):
    """Return advantages for this rank's rows, ``(B_local,)`` or per-token ``(B_local, T)``, or ``None`` for GRPO's.

    ``output`` is TRL's generation output for this rank (``completion_ids``, ``completion_mask``, ``advantages``…);
    ``batch`` the global rollout record. Built-in user: PPO's GAE. Entropy-only training zeroes advantages in the
    core after this hook.
    """


@hookspec
def extra_batch_fields(trainer, batch, inputs, output):
    """Return ``{key: tensor}`` with first dimension ``B_local`` to carry through TRL's shuffle, split and buffer
    into the loss (read them from ``ctx.inputs`` in ``loss_terms``). Built-in users: PPO returns and old values."""


@hookspec
def loss_terms(trainer, model, inputs, ctx):
    """Return ``{name: scalar tensor}`` added to TRL's loss on every micro-batch (train mode only).

    ``ctx`` is a ``trl_reasoning.rollouts.LossContext`` with ``per_token_logps (B,T)``, ``entropies (B,T)``,
    ``completion_mask (B,T)``, ``inputs`` and ``grad_accum_steps``. Return terms NOT divided for gradient
    accumulation: the core divides. Each term is logged as ``loss/<name>``.
    Built-in users: the PPO value loss, TrRa's distillation KL.
    """


@hookspec
def metrics(trainer, mode):
    """Return ``{name: float}`` logged with every TRL log line (``mode`` is ``"train"`` or ``"eval"``)."""


# ---------------------------------------------------------------------------------------------------------------------
# Lifecycle: checkpoints and resume. Called per plugin; the state of each plugin is stored under its own name.
# ---------------------------------------------------------------------------------------------------------------------


@hookspec
def plugin_state(trainer):
    """Return this plugin's state (a picklable dict, tensors allowed) to store in every checkpoint, or ``None``."""


@hookspec
def load_plugin_state(trainer, state):
    """Restore the ``state`` this plugin returned from ``plugin_state`` (on resume, before the first step)."""


# ---------------------------------------------------------------------------------------------------------------------
# Evaluation and export.
# ---------------------------------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def inference_model(model, options):
    """Return a model to use for evaluation and export in place of ``model``, or ``None``.

    ``options`` is the ``argparse.Namespace`` of ``trl-reason eval`` (with ``register_eval_options`` values) or the
    recipe's ``eval`` section. Never used for rollouts. Built-in user: InRa's two-stream logit interpolation.
    """


@hookspec
def model_card_sections(recipe, results):
    """Return a list of Markdown strings to add to the model card (a method's paper link and settings)."""
