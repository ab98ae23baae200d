"""The one_shot plugin in real GRPO runs on the tiny model: one example replicated into separate groups, the
accuracy record per epoch, its checkpoint and file, and ranking a run."""

import json

import pytest
import torch

import one_shot_helpers as H
from trl_reason_one_shot.ranking import HIST_ACC_FILE, load_hist_acc_rows
from trl_reason_one_shot.record import AccuracyRecord
from trl_reason_one_shot.sampler import ReplicatedSampler
from trl_reasoning import hookimpl
from trl_reasoning.cli.main import main
from trl_reasoning.config.recipe import recipe_from_dict
from trl_reasoning.records import PromptRecords
from trl_reasoning.rollouts import RolloutBatch
from trl_reasoning.run import run_recipe

CHOSEN = 5  # prompt_id of the one training example (arithmetic rows have no dsr_sub_index)


class Observer:
    def __init__(self):
        self.batches = []

    @hookimpl
    def on_rewards(self, trainer, batch: RolloutBatch):
        self.batches.append((trainer.state.epoch, list(batch.prompt_ids), batch.correct.clone()))


@pytest.fixture(scope="module")
def one_example_run(tiny_model_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("one_shot") / "run"
    pm = H.plugin_manager()
    observer = Observer()
    pm.register_active("observer", observer)
    recipe = recipe_from_dict(H.recipe_dict(
        tiny_model_path, str(out), plugins={"one_shot": {"examples": [CHOSEN], "replicate": 2}},
        max_steps=3, save_strategy="steps", save_steps=3))
    results = run_recipe(recipe, pm=pm)
    return {"dir": out, "results": results, "batches": observer.batches,
            "plugin": results["trainer"].pm.active["one_shot"]}


def test_only_the_chosen_example_in_separate_groups(one_example_run):
    batches = one_example_run["batches"]
    assert len(batches) == 3
    for _, prompt_ids, _ in batches:
        assert prompt_ids == [CHOSEN] * 8  # 2 copies x 4 generations: two groups of the same problem
    assert one_example_run["plugin"].replicate == 2


def test_accuracy_recorded_per_epoch(one_example_run):
    """2 copies fill one generation batch, so every step is an epoch (as the authors' 128 copies of 128)."""
    plugin, batches = one_example_run["plugin"], one_example_run["batches"]
    assert [int(epoch) for epoch, _, _ in batches] == [0, 1, 2]
    want = [correct.float().mean().item() for _, _, correct in batches]
    assert plugin.record.hist_acc(CHOSEN) == pytest.approx(want)
    assert plugin.record.prompt_ids() == [CHOSEN]


def test_record_in_checkpoint_and_file(one_example_run, capsys):
    out, plugin = one_example_run["dir"], one_example_run["plugin"]
    states = torch.load(out / "checkpoint-3" / "plugin_state.pt", weights_only=False)
    assert "record" not in states["one_shot"]  # the rollouts are counted once, in the core's record
    records = PromptRecords()
    records.load_state_dict(states["core:records"]["records"])
    restored = AccuracyRecord.from_records(records, states["one_shot"]["epoch_of_step"], [CHOSEN])
    assert restored.hist_acc(CHOSEN) == plugin.record.hist_acc(CHOSEN)
    rows = [json.loads(line) for line in (out / HIST_ACC_FILE).read_text().splitlines()]
    assert rows[0]["prompt_id"] == CHOSEN and rows[0]["hist_acc"] == plugin.record.hist_acc(CHOSEN)
    assert load_hist_acc_rows(out / "checkpoint-3")[0]["hist_acc"] == rows[0]["hist_acc"]
    assert main(["one-shot", "rank", str(out)]) == 0
    assert capsys.readouterr().out.split() == [str(CHOSEN)]


def test_replicated_sampler_keeps_repeat_structure():
    sampler = ReplicatedSampler([10, 20], replicate=3, mini_repeat_count=2, batch_size=3, repeat_count=2, seed=0)
    stream = list(sampler)
    assert len(stream) == len(sampler) == 6 * 2 * 2
    assert sorted(set(stream)) == [10, 20]
    pairs = [stream[i:i + 2] for i in range(0, len(stream), 2)]
    assert all(a == b for a, b in pairs)  # each copy's generations stay contiguous: one group per copy
    assert stream.count(10) == stream.count(20) == 3 * 2 * 2


def test_train_repeat_column_and_too_few_copies(tiny_model_path, tmp_path):
    """With no `examples` the data's `train_repeat` decides the copies (pi1.jsonl: 128); too few copies to fill one
    generation batch is a configuration error."""
    from trl_reasoning.config.schema import ConfigError
    from trl_reasoning.run import build_trainer, prepare

    source = tmp_path / "one.jsonl"
    source.write_text(json.dumps({"problem": "What is 2 + 2?", "answer": "4", "train_repeat": 2}) + "\n")
    data = H.recipe_dict(tiny_model_path, str(tmp_path / "run"))
    data["data"] = {"train": str(source)}
    trainer = build_trainer(prepare(recipe_from_dict(data), H.plugin_manager()), str(tmp_path / "run"))
    sampler = trainer._get_train_sampler()
    assert isinstance(sampler, ReplicatedSampler) and sampler.replicate == 2 and len(set(sampler)) == 1
    trainer.pm.active["one_shot"].config.replicate = 1
    with pytest.raises(ConfigError, match="replicate"):
        trainer._get_train_sampler()
