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
``plugin_state``. Per-step rollout hooks (``select_prompts``, ``on_rewards``, ``loss_terms``...) never fire: there
are no rollouts, and ``calls_hooks`` lets the composition check refuse, before any load, a plugin that acts only
through them. Checkpoints, resume checks, plugin state, optimizer groups and the model card are the shared
trainer base's (``trainers/base.py``: whole-or-absent checkpoints with metadata, so ``--resume`` works as for
GRPO); this class adds only the dataset building and the template check above. Subclasses (TrRa's ``distill``)
override ``compute_loss``.

``trl_reasoning.run`` builds it with ``trl_reasoning.run.build_sft.build_sft_trainer`` (model, rows, fingerprint)::

    trainer:
      algorithm: sft
      learning_rate: 2.0e-5
      max_steps: 50
      per_device_train_batch_size: 8
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trl import SFTConfig, SFTTrainer

from trl_reasoning.config.schema import ConfigError
from trl_reasoning.data import DataError, load_train_rows
from trl_reasoning.data.prompts import PromptFormat
from trl_reasoning.trainers.base import ReasoningTrainerMixin


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
    prompt_format = PromptFormat.from_section(section)
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
        prompt = prompt_format.render(problem)
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
    import datasets  # heavy: only when a dataset is built

    rows = load_train_rows(section)
    return datasets.Dataset.from_list(sft_rows(rows, section, completion_column, completion_template))


class ReasoningSFTTrainer(ReasoningTrainerMixin, SFTTrainer):
    """SFT with trl-reasoning's setup hooks and checkpoints. ``trl-reason run`` builds it with
    ``trl_reasoning.run.build_sft.build_sft_trainer``; directly::

        trainer = ReasoningSFTTrainer(model=model, args=ReasoningSFTConfig(...), train_dataset=pairs,
                                      processing_class=tokenizer, plugin_manager=pm, recipe=recipe)

    Besides ``SFTTrainer``'s arguments it takes the base's ``plugin_manager``, ``recipe``, ``data_fingerprint``,
    ``fresh_optimizer`` and ``card_writer`` (``trainers/base.py``)."""

    config_class = ReasoningSFTConfig
    # The hooks this trainer ever calls (plugins.composition refuses, before any load, an active plugin that acts
    # only through others: it would do nothing here). No rollouts: no prompt, reward, advantage or loss hooks.
    calls_hooks = frozenset({
        "register_trainers", "register_rewards", "register_commands", "register_eval_options", "validate_run",
        "run_stages", "modify_model", "auxiliary_models", "param_groups", "trainer_ready", "metrics", "plugin_state",
        "load_plugin_state", "inference_model", "model_card_sections"})

    def __init__(self, *args, recipe=None, **kwargs):
        sft_args = kwargs.get("args", args[1] if len(args) > 1 else None)
        self._pairs, self._template = kwargs.get("train_dataset"), recipe.data.template if recipe is not None else "chat"
        # with chat_template_path TRL loads the template in its __init__: check after it (in _configure)
        self._check_late = getattr(sft_args, "chat_template_path", None) is not None
        processing_class = kwargs.get("processing_class")
        if self._pairs is not None and processing_class is not None and not self._check_late:
            check_completions_kept(self._pairs, processing_class, self._template)  # before any tokenising
            self._pairs = None
        super().__init__(*args, recipe=recipe, **kwargs)

    def _configure(self) -> None:
        if self._pairs is not None and self.processing_class is not None:  # the template TRL loaded, or its tokenizer
            check_completions_kept(self._pairs, self.processing_class, self._template,
                                   chat_template=self.chat_template if self._check_late else None)
        self._pairs = None
