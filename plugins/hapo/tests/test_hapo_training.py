"""HAPO in real GRPO runs on the tiny model: rewards from the pre-batch history, metrics, group filtering on the
``correct`` flag, and the history surviving a checkpoint and resume.

One 3-step run (module fixture, a checkpoint every step) feeds most tests; the resume test continues it from the
step-1 checkpoint in a second run and compares the final histories.
"""

import json
from types import SimpleNamespace

import pytest
import torch

import hapo_helpers as H
from trl_reason_hapo.history import history_lengths
from trl_reason_hapo.length_reward import length_rewards
from trl_reason_hapo.plugin import REWARD_NAME
from trl_reasoning.config.recipe import recipe_from_dict
from trl_reasoning.records import PromptRecords
from trl_reasoning.rollouts import RolloutBatch
from trl_reasoning.run import run_recipe

GROUP_FILTER = [0.01, 0.99]


def run(model_path, output_dir, **kwargs):
    H.RECORD.clear()
    trainer_keys = {"max_steps": 3, "save_strategy": "steps", "save_steps": 1, "group_filter": GROUP_FILTER}
    recipe = recipe_from_dict(H.recipe_dict(model_path, str(output_dir), **trainer_keys))
    results = run_recipe(recipe, pm=H.plugin_manager(), **kwargs)
    return results, [dict(r) for r in H.RECORD]


@pytest.fixture(scope="module")
def first_run(tiny_model_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("hapo") / "run"
    results, record = run(tiny_model_path, out)
    return {"dir": out, "results": results, "record": record,
            "hapo": results["trainer"].pm.active["hapo"], "trainer": results["trainer"]}


def replay(record, history=None):
    """Recompute every batch's length reward from the history built from the batches before it (an independent
    dict-based replay, not the plugin's code)."""
    history = history or H.ReplayHistory()
    expected = []
    for batch in record:
        h = history.lookup(batch["prompt_ids"], batch["variants"])  # (B,)
        expected.append(length_rewards(batch["lengths"], h, batch["correct"]))  # (B,)
        history.update(batch["prompt_ids"], batch["lengths"], batch["correct"], batch["variants"])
    return expected, history


def lengths_of(records, problems=range(4)):
    """(4,) the history of the 4 problems (NaN -> -1), as HAPO reads it from a records object."""
    return history_lengths(records, list(problems)).nan_to_num(-1)  # (4,)


def replayed(history, problems=range(4)):
    return history.lookup(list(problems)).nan_to_num(-1)  # (4,)


def test_rewards_use_the_history_from_before_each_batch(first_run):
    record = first_run["record"]
    assert [batch["step"] for batch in record] == [0, 1, 2]
    expected, history = replay(record)
    for batch, want in zip(record, expected):
        torch.testing.assert_close(batch[REWARD_NAME], want)
    assert any(batch[REWARD_NAME].abs().sum() > 0 for batch in record), "no batch met a known history: test is void"
    assert all(variant == "" for batch in record for variant in batch["variants"])  # one variant: no QuestA
    assert torch.equal(lengths_of(first_run["trainer"].records), replayed(history))


def test_metrics_are_logged(first_run):
    lines = [json.loads(line) for line in (first_run["dir"] / "metrics.jsonl").read_text().splitlines()]
    logged = [line for line in lines if "hapo/share_with_history" in line]
    assert len(logged) >= 3  # every step (and the end-of-training summary line)
    assert 0 < logged[-1]["hapo/share_with_history"] <= 1
    assert logged[-1]["hapo/mean_history"] > 0


def test_group_filter_reads_correct_flags_not_shaped_rewards(first_run):
    """In the run: the kept share equals the share of groups whose *correct* pass rate is in the band."""
    lines = [json.loads(line) for line in (first_run["dir"] / "metrics.jsonl").read_text().splitlines()]
    kept = [line["group_filter/kept_fraction"] for line in lines if "group_filter/kept_fraction" in line]
    for batch, fraction in zip(first_run["record"], kept):
        rate = batch["correct"].float().view(-1, 4).mean(dim=1)  # (num_groups,)
        want = ((rate >= GROUP_FILTER[0]) & (rate <= GROUP_FILTER[1])).float().mean().item()
        assert fraction == pytest.approx(want)


def test_group_filter_drops_an_all_correct_group_whose_shaped_rewards_vary(first_run):
    """A group with every answer right but different lengths has varying HAPO rewards (so a reward-std filter
    would keep it); the core's group_filter reads the pass rate from ``correct`` and drops it."""
    trainer, hapo = first_run["trainer"], first_run["hapo"]
    prompt = 0
    records = PromptRecords()
    records.update(RolloutBatch(  # problem 0 was once answered correctly in 8 tokens
        step=0, num_generations=1, prompt_ids=[prompt], prompts=[""], completions=[""], completion_token_ids=[[0]],
        completion_lengths=torch.tensor([8]), truncated=torch.zeros(1, dtype=torch.bool),  # (1,), (1,)
        correct=torch.tensor([True]), rewards=torch.ones(1, 2), reward_names=["parity_correct", REWARD_NAME],
        reward_weights=torch.ones(2)))
    batch = RolloutBatch(
        step=99, num_generations=4, prompt_ids=[prompt] * 4 + [1] * 4, prompts=[""] * 8, completions=[""] * 8,
        completion_token_ids=[[0]] * 8, completion_lengths=torch.tensor([2, 6, 9, 14, 5, 5, 5, 5]),  # (8,)
        truncated=torch.zeros(8, dtype=torch.bool), correct=torch.tensor([True] * 4 + [True, False] * 2),  # (8,)
        rewards=torch.tensor([[1.0, 0.0]] * 4 + [[1.0, 0.0], [0.0, 0.0]] * 2),  # (8, 2)
        reward_names=["parity_correct", REWARD_NAME], reward_weights=torch.ones(2))
    shaped = hapo.shape_rewards(trainer=SimpleNamespace(records=records), batch=batch)[REWARD_NAME]  # (8,)
    batch.rewards[:, 1] = shaped
    assert batch.group_reward_std()[0] > 0.1  # the shaped total varies inside the all-correct group
    assert trainer.hooks.kept_groups(batch).tolist() == [False, True]


def test_history_survives_checkpoint_and_resume(first_run, tiny_model_path, tmp_path):
    """Kill after step 1 (its checkpoint), resume: the restored history equals the saved one, each resumed step is
    scored against the history as it stood, and the run ends with the uninterrupted run's history.

    The checkpoint is mid-epoch (4 problems, 2 a step): resuming exactly at an epoch boundary gives a different data
    order in the next epoch (the sampler's generator restarts), so the samples, and the history, would differ.
    """
    checkpoint = first_run["dir"] / "checkpoint-1"
    _, history_at_1 = replay(first_run["record"][:1])
    states = torch.load(checkpoint / "plugin_state.pt", weights_only=False)
    assert "hapo" not in states  # HAPO keeps no history of its own: it is the core's record, checkpointed once
    saved = PromptRecords()
    saved.load_state_dict(states["core:records"]["records"])
    assert torch.equal(lengths_of(saved), replayed(history_at_1))

    results, record = run(tiny_model_path, tmp_path / "resumed", resume=str(checkpoint))
    assert [batch["step"] for batch in record] == [1, 2]
    expected, _ = replay(record, history=history_at_1)
    for batch, want in zip(record, expected):
        torch.testing.assert_close(batch[REWARD_NAME], want)
    for batch, uninterrupted in zip(record, first_run["record"][1:]):
        assert batch["prompt_ids"] == uninterrupted["prompt_ids"]
        assert torch.equal(batch["lengths"], uninterrupted["lengths"])  # RNG state restored: same samples
    assert torch.equal(lengths_of(results["trainer"].records), lengths_of(first_run["trainer"].records))
