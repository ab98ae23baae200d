"""PPO on two CPU processes (torchrun, gloo): the critic's gradients come out of the bucketed all-reduce as the mean
of the two ranks' own, identical on both ranks, in the single pass (all-reduce started at the rollout, finished
before the optimizer step) and in the two-pass mode, and the two modes agree."""

from pathlib import Path

import torch

from trl_reasoning.testing import run_two_ranks

WORKER = Path(__file__).with_name("ppo_ddp_worker.py")


def test_critic_gradients_are_averaged_across_ranks(tiny_model_path, tmp_path):
    ranks = run_two_ranks(WORKER, tiny_model_path, out_dir=tmp_path)
    for mode in ("single", "two"):
        first, second = ranks[0][mode], ranks[1][mode]
        assert first["world_size"] == second["world_size"] == 2
        assert first["single_pass"] == second["single_pass"] == (mode == "single")
        assert first["in_flight"] == second["in_flight"] == (mode == "single")  # overlapped only in a single pass
        assert first["synced"] and set(first["synced"]) == set(first["local"])
        assert any(not torch.equal(first["local"][n], second["local"][n]) for n in first["local"]), \
            "the ranks' own gradients are equal: the test cannot see the average"
        for name, synced in first["synced"].items():
            torch.testing.assert_close(second["synced"][name], synced, rtol=0, atol=0, msg=f"{mode} {name}")
            mean = (first["local"][name] + second["local"][name]) / 2
            torch.testing.assert_close(synced, mean, rtol=1e-5, atol=1e-7, msg=f"{mode} {name}")
    for name, grad in ranks[0]["two"]["synced"].items():
        torch.testing.assert_close(ranks[0]["single"]["synced"][name], grad, rtol=1e-4, atol=1e-6, msg=name)
