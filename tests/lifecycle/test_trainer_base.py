"""The shared trainer base (trainers/base.py) under TRL's SFTTrainer, built directly as TRL users build it: the
checkpoint is whole with our metadata (the fingerprint given to the constructor), the injected card writer replaces
TRL's card, the push callback gets each committed checkpoint, and ``hook_present`` answers for the callbacks."""

from __future__ import annotations

import datasets
import pytest

from trl_reasoning.lifecycle import checkpoints
from trl_reasoning.trainers.callbacks import CheckpointPushCallback, HookCallback
from trl_reasoning.trainers.sft import ReasoningSFTConfig, ReasoningSFTTrainer


def test_sft_trainer_saves_whole_checkpoints_with_metadata_card_and_push(tmp_path, tiny_policy):
    model, tokenizer = tiny_policy
    row = {"prompt": [{"role": "user", "content": "What is 1 + 1?"}],
           "completion": [{"role": "assistant", "content": "\\boxed{2}"}]}
    cards, pushed = [], []
    args = ReasoningSFTConfig(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=2,
                              save_strategy="steps", save_steps=1, save_total_limit=1, report_to=[],
                              max_length=64, use_cpu=True)
    trainer = ReasoningSFTTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_list([row] * 4),
                                  processing_class=tokenizer, data_fingerprint="rows-abc", card_writer=cards.append,
                                  callbacks=[CheckpointPushCallback(pushed.append)])
    assert isinstance(trainer.callback_handler.callbacks[0], HookCallback)
    assert not trainer.hook_present("metrics")  # the core plugin only
    with pytest.raises(ValueError, match="no hook named 'metric'"):
        trainer.hook_present("metric")
    trainer.train()

    assert checkpoints.list_checkpoints(tmp_path) == [str(tmp_path / "checkpoint-2")]  # save_total_limit rotated
    meta = checkpoints.read_meta(tmp_path / "checkpoint-2")
    assert meta["global_step"] == 2 and meta["data_fingerprint"] == "rows-abc"
    assert meta["steps_per_generation"] == 1 and meta["generation_block_offset"] == 0
    assert checkpoints.read_plugin_state(tmp_path / "checkpoint-2") == {}
    assert not (tmp_path / checkpoints.STAGING_DIR).exists()
    assert cards == [str(tmp_path)] * 2  # ours in place of TRL's, at each save
    assert pushed == [str(tmp_path / "checkpoint-1"), str(tmp_path / "checkpoint-2")]
