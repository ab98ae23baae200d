"""HAPO on two CPU processes (torchrun, gloo): both ranks score the same global batch, the core updates the
per-prompt record from it on every rank, and both end with identical records equal to a replay of the batches."""

from pathlib import Path

import torch

from hapo_helpers import ReplayHistory
from trl_reason_hapo.history import history_lengths
from trl_reason_hapo.length_reward import length_rewards
from trl_reasoning.records import PromptRecords

from trl_reasoning.testing import run_two_ranks

WORKER = Path(__file__).with_name("hapo_ddp_worker.py")


def test_two_ranks_agree(tiny_model_path, tmp_path):
    ranks = run_two_ranks(WORKER, tiny_model_path, out_dir=tmp_path)
    assert [r["world_size"] for r in ranks] == [2, 2]

    assert ranks[0]["records"] == ranks[1]["records"]  # the whole record, identical on both ranks
    history = ReplayHistory()
    problems = list(range(4))
    for state in ranks:
        restored = PromptRecords()
        restored.load_state_dict(state["records"])
        state["values"] = history_lengths(restored, problems).nan_to_num(-1)  # (4,)

    record0, record1 = ranks[0]["record"], ranks[1]["record"]
    assert len(record0) == len(record1) == 2
    for batch0, batch1 in zip(record0, record1):
        assert batch0["prompt_ids"] == batch1["prompt_ids"]  # one global batch, the same on both ranks
        assert len(batch0["prompt_ids"]) == 8  # 2 ranks x 4 completions
        assert torch.equal(batch0["lengths"], batch1["lengths"])
        assert torch.equal(batch0["hapo_length"], batch1["hapo_length"])
        want = length_rewards(batch0["lengths"], history.lookup(batch0["prompt_ids"]), batch0["correct"])  # (8,)
        torch.testing.assert_close(batch0["hapo_length"], want)
        history.update(batch0["prompt_ids"], batch0["lengths"], batch0["correct"])
    assert torch.equal(ranks[0]["values"], history.lookup(problems).nan_to_num(-1))
    assert history.lengths, "no correct answer in two steps: the test compares empty histories"
