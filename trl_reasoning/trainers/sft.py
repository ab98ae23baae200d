"""``ReasoningSFTTrainer``: TRL's ``SFTTrainer`` on a recipe's problems and worked solutions, with the setup hooks.

Registered as ``trainer.algorithm: sft``. Each training row is the recipe's prompt (``data.template``,
``data.system_prompt``, ``data.user_template``) with the row's ``solution`` column as the completion (set another
column with ``trainer.completion_column``); the loss is TRL's, on completion tokens only. Before training, every
row's training text (the chat template's rendering of prompt + completion, which TRL tokenises) must still hold the
whole completion: a template that rewrites assistant turns (DeepSeek-R1-Distill's deletes everything up to
``</think>``) is refused, naming ``data.template: deepseek`` / ``deepseek3`` (LLaMA-Factory's literal formats,
``trl_reasoning.data.LITERAL_TEMPLATES``), which keep the reasoning. It fires the setup hooks
that make sense without rollouts: ``modify_model`` (InRa inserts its layer here), ``auxiliary_models`` (teachers,
reachable as ``trainer.auxiliary[name]``), ``param_groups``, ``trainer_ready``, ``metrics`` and the checkpointed
``plugin_state``. Per-step rollout hooks (``select_prompts``, ``on_rewards``, ``loss_terms``...) do not fire: there
are no rollouts. It overrides ``create_optimizer``, ``_save_checkpoint`` and ``_load_optimizer_and_scheduler``,
each calling ``super()``; subclasses (TrRa's ``distill``) override ``compute_loss``.

``trl_reasoning.run.build_trainer`` builds it through the classmethod ``from_run`` instead of the GRPO path::

    trainer:
      algorithm: sft
      learning_rate: 2.0e-5
      max_steps: 50
      per_device_train_batch_size: 8
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
from trl import SFTConfig, SFTTrainer

from trl_reasoning.trainers.base import add_plugin_param_groups, collect_auxiliary_models

PLUGIN_STATE_FILE = "plugin_state.pt"


@dataclass
class ReasoningSFTConfig(SFTConfig):
    """``SFTConfig`` plus where the completion comes from."""

    completion_column: str = field(default="solution", metadata={
        "help": "Dataset column holding the target response (the embedded arithmetic rows have a short worked "
                "`solution`). Rows without it are an error."})
    completion_template: str | None = field(default=None, metadata={
        "help": "Build the target from the row's columns instead: `\\boxed{{{answer}}}` is the bare boxed answer "
                "(`str.format` of the row, literal braces doubled). Overrides completion_column."})


def sft_rows(rows: list[dict], section, completion_column: str, completion_template: str | None = None
             ) -> list[dict]:
    """Prompt/completion rows for TRL's ``SFTTrainer`` from dataset rows and the recipe's ``data`` section.

    The target is the row's ``completion_column``, or ``completion_template.format(**row)`` when a template is
    given (``"\\boxed{{{answer}}}"`` trains on the bare boxed answer).

    Conversational templates give ``prompt`` as messages and ``completion`` as one assistant message; the
    ``plain`` template gives two strings.
    """
    from trl_reasoning.data import DataError, render_prompt

    out = []
    for i, row in enumerate(rows):
        if completion_template is not None:
            try:
                target = completion_template.format(**row)
            except (KeyError, IndexError, ValueError) as error:
                raise DataError(f"trainer.completion_template {completion_template!r} does not fit row {i} of "
                                f"{section.train!r} ({type(error).__name__}: {error}; columns: {sorted(row)})"
                                ) from None
        elif completion_column not in row or row[completion_column] in (None, ""):
            raise DataError(f"row {i} of {section.train!r} has no {completion_column!r} (columns: {sorted(row)}); "
                            "sft and distill train on a worked solution: set trainer.completion_column")
        else:
            target = _text(row[completion_column])
        if section.problem_column not in row:
            raise DataError(f"row {i} of {section.train!r} has no {section.problem_column!r} column "
                            f"(columns: {sorted(row)}); set data.problem_column")
        problem = _text(row[section.problem_column])
        prompt = render_prompt(problem, section.template, system_prompt=section.system_prompt,
                               user_template=section.user_template, few_shot=getattr(section, "few_shot", None))
        completion = target if isinstance(prompt, str) else [{"role": "assistant", "content": target}]
        out.append({"prompt": prompt, "completion": completion})
    return out


def check_completions_kept(dataset, processing_class, template: str, chat_template: str | None = None) -> None:
    """Refuse conversational rows whose training text lost part of the completion.

    TRL's ``SFTTrainer`` tokenises ``apply_chat_template(prompt + completion)``; a template that rewrites assistant
    content drops that text from the loss without a word (DeepSeek-R1-Distill's template keeps only what follows
    ``</think>``, so long-CoT targets train on their summary). Every row is rendered as TRL renders it (text only,
    no tokenising) and must contain its completion. String rows (``plain`` and the literal templates) are
    ``prompt + completion`` by construction and are not rendered. Raises ``ConfigError("data.template", ...)``.
    """
    from trl_reasoning.config.schema import ConfigError

    if len(dataset) == 0 or isinstance(dataset[0]["prompt"], str):  # one column type: all rows are strings
        return
    for i, row in enumerate(dataset):
        prompt, completion = row["prompt"], row["completion"]
        if isinstance(prompt, str) or not isinstance(completion, list) or not completion:
            continue
        target = str(completion[-1].get("content", "")).strip()
        rendered = processing_class.apply_chat_template(list(prompt) + list(completion), tokenize=False,
                                                        chat_template=chat_template)
        if target in rendered:
            continue
        kept = rendered.split(str(prompt[-1].get("content", "")), 1)[-1].strip()
        stripped = "everything up to </think>" if "</think>" in target and "</think>" not in kept else "part of it"
        raise ConfigError("data.template", (
            f"the tokenizer's chat template drops {stripped} from the completion of training row {i} (template "
            f"{template!r}: the completion is {len(target)} characters, the rendered assistant turn keeps "
            f"{len(kept)}: {kept[:80]!r}), so that text never reaches the loss; DeepSeek-R1-Distill's template "
            "deletes the reasoning before </think> this way. Use `data.template: deepseek` (LLaMA-Factory's "
            "`User: ...\\n\\nAssistant:` format, TrRa's) or `deepseek3` "
            "(`<\uff5cUser\uff5c>...<\uff5cAssistant\uff5c>`, InRa's), or `plain` with your own `data.user_template`: "
            "they render the completion as it is"))


def with_bos(dataset, processing_class):
    """String prompts start with the tokenizer's BOS, as LLaMA-Factory's ``format_prefix`` puts it: once, so only
    when the tokenizer does not add it itself (DeepSeek-R1-Distill's adds its
    ``<\uff5cbegin\u2581of\u2581sentence\uff5c>``)."""
    tokenizer = getattr(processing_class, "tokenizer", processing_class)
    bos, bos_id = getattr(tokenizer, "bos_token", None), getattr(tokenizer, "bos_token_id", None)
    if bos is None or bos_id is None or not isinstance(dataset[0]["prompt"], str):
        return dataset
    ids = tokenizer("x")["input_ids"]
    if ids and ids[0] == bos_id:
        return dataset
    return dataset.map(lambda row: {"prompt": row["prompt"] if row["prompt"].startswith(bos)
                                    else bos + row["prompt"]})


def _text(value) -> str:
    """A column's text: a string, a message (``{"content"|"value": ...}``), or a list of messages (the last one;
    ShareGPT-style pairwise data such as the TrRa calibration set keeps ``conversations`` and ``chosen`` so)."""
    if isinstance(value, list) and value:
        value = value[-1]
    if isinstance(value, dict):
        value = value.get("content", value.get("value", ""))
    return str(value)


def load_sft_dataset(section, completion_column: str, completion_template: str | None = None):
    """The ``datasets.Dataset`` of prompt/completion pairs for a recipe's ``data`` section."""
    import datasets

    from trl_reasoning.data import load_train_rows

    rows = load_train_rows(section)
    return datasets.Dataset.from_list(sft_rows(rows, section, completion_column, completion_template))


class ReasoningSFTTrainer(SFTTrainer):
    """SFT with trl-reasoning's setup hooks. Build it with ``from_run`` (what ``trl-reason run`` does) or directly::

        trainer = ReasoningSFTTrainer(model=model, args=ReasoningSFTConfig(...), train_dataset=pairs,
                                      processing_class=tokenizer, plugin_manager=pm, recipe=recipe)
    """

    config_class = ReasoningSFTConfig

    def __init__(self, *args, plugin_manager=None, recipe=None, **kwargs):
        from trl_reasoning.plugins.manager import PluginManager

        self.pm = plugin_manager if plugin_manager is not None else PluginManager(discover=False)
        self.recipe = recipe
        self.auxiliary: dict[str, torch.nn.Module] = {}
        self.data_fingerprint = None
        model = kwargs.get("model", args[0] if args else None)
        if model is not None and not isinstance(model, str):
            self.pm.hook.modify_model(model=model, processing_class=kwargs.get("processing_class"), recipe=recipe)
        sft_args = kwargs.get("args", args[1] if len(args) > 1 else None)
        pairs, processing_class = kwargs.get("train_dataset"), kwargs.get("processing_class")
        template = recipe.data.template if recipe is not None else "chat"
        check_early = getattr(sft_args, "chat_template_path", None) is None
        if pairs is not None and processing_class is not None and check_early:
            check_completions_kept(pairs, processing_class, template)
        super().__init__(*args, **kwargs)
        if pairs is not None and processing_class is not None and not check_early:  # TRL loaded the template
            check_completions_kept(pairs, processing_class, template, chat_template=self.chat_template)
        self._has = {"schedule": False, "metrics": bool(self.pm.hook.metrics.get_hookimpls())}
        self.auxiliary.update(collect_auxiliary_models(self))
        from trl_reasoning.trainers.callbacks import HookCallback

        self.add_callback(HookCallback(self))
        self.pm.hook.trainer_ready(trainer=self)

    @classmethod
    def from_run(cls, prepared, output_dir: str, callbacks: list):
        """Load the recipe's model and data and build the trainer (``trl_reasoning.run.build_trainer`` calls it)."""
        from trl_reasoning.data import LITERAL_TEMPLATES, fingerprint
        from trl_reasoning.models import apply_lora, load_model
        from trl_reasoning.run import build_config

        recipe = prepared.recipe
        args = build_config(prepared, output_dir)
        dataset = load_sft_dataset(recipe.data, args.completion_column, args.completion_template)
        model, tokenizer = load_model(recipe.model.name_or_path, dtype=recipe.model.dtype,
                                      revision=recipe.model.revision,
                                      trust_remote_code=recipe.model.trust_remote_code,
                                      attn_implementation=recipe.model.attn_implementation)
        if recipe.model.lora is not None:
            model = apply_lora(model, recipe.model.lora)
        if recipe.data.template in LITERAL_TEMPLATES:
            dataset = with_bos(dataset, tokenizer)
        trainer = cls(model=model, args=args, train_dataset=dataset, processing_class=tokenizer, callbacks=callbacks,
                      plugin_manager=prepared.pm, recipe=recipe)
        trainer.data_fingerprint = fingerprint([{"prompt_id": i, "problem": str(r["prompt"]),
                                                 "answer": str(r["completion"])} for i, r in enumerate(dataset)])
        return trainer

    # -- optimizer and checkpoints (same contract as ReasoningGRPOTrainer) ---------------------------------------

    def create_optimizer(self, model=None):
        optimizer = super().create_optimizer(model)
        add_plugin_param_groups(self, optimizer)
        return optimizer

    def plugin_states(self) -> dict:
        return self.pm.call_each("plugin_state", trainer=self)

    def _save_checkpoint(self, model, trial):
        super()._save_checkpoint(model, trial)
        from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

        states = self.plugin_states()
        if self.args.should_save and states:
            folder = os.path.join(self._get_output_dir(trial=trial), f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}")
            os.makedirs(folder, exist_ok=True)
            torch.save(states, os.path.join(folder, PLUGIN_STATE_FILE))

    def _load_optimizer_and_scheduler(self, checkpoint):
        if not getattr(self, "fresh_optimizer", False):  # run_stages' fresh_optimizer: keep the new optimizer
            super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is not None and os.path.exists(os.path.join(checkpoint, PLUGIN_STATE_FILE)):
            states = torch.load(os.path.join(checkpoint, PLUGIN_STATE_FILE), weights_only=False)
            for name, state in states.items():
                if name in self.pm.active:
                    self.pm.call_one(name, "load_plugin_state", trainer=self, state=state)
