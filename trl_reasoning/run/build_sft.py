"""Build an SFT-shaped trainer (``trainer.algorithm: sft``, TrRa's ``distill``) for a prepared run.

``trl_reasoning.run.build_trainer`` calls it instead of the GRPO path when the recipe's trainer class is a
``ReasoningSFTTrainer``: it loads the recipe's model (``models.load_for``, then the recipe's LoRA), turns the
training rows into prompt/completion pairs (``trainers.sft.load_sft_dataset``; BOS first for the literal templates)
and constructs the trainer with the rows' fingerprint, which every checkpoint records and a resume checks::

    args = build_config(prepared, output_dir, overrides)
    trainer = build_sft_trainer(prepared, args, callbacks, card_writer=card_writer)
"""

from __future__ import annotations

from typing import Callable

from trl_reasoning.data import fingerprint
from trl_reasoning.data.prompts import PromptFormat
from trl_reasoning.models import apply_lora, load_for
from trl_reasoning.trainers.sft import ReasoningSFTTrainer, load_sft_dataset, with_bos


def is_sft_trainer(trainer_class: type) -> bool:
    """Whether ``trainer_class`` is built here (it trains on fixed prompt/completion pairs, with no rewards)."""
    return isinstance(trainer_class, type) and issubclass(trainer_class, ReasoningSFTTrainer)


def sft_fingerprint(dataset) -> str:
    """The fingerprint of the pairs the trainer sees (prompt and target, in order)."""
    return fingerprint([{"prompt_id": i, "problem": str(row["prompt"]), "answer": str(row["completion"])}
                        for i, row in enumerate(dataset)])


def build_sft_trainer(prepared, args, callbacks: list, *, card_writer: Callable[[str], None] | None = None,
                      fresh_optimizer: bool = False) -> ReasoningSFTTrainer:
    """Load the recipe's model and pairs and construct ``prepared.trainer_class`` with ``args`` (its config
    object, from ``run.build_config``)."""
    recipe = prepared.recipe
    dataset = load_sft_dataset(recipe.data, args.completion_column, args.completion_template)
    model, tokenizer = load_for(recipe)
    if recipe.model.lora is not None:
        model = apply_lora(model, recipe.model.lora)
    if PromptFormat.from_section(recipe.data).literal:
        dataset = with_bos(dataset, tokenizer)
    return prepared.trainer_class(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                                  callbacks=callbacks, plugin_manager=prepared.pm, recipe=recipe,
                                  data_fingerprint=sft_fingerprint(dataset), card_writer=card_writer,
                                  fresh_optimizer=fresh_optimizer)
