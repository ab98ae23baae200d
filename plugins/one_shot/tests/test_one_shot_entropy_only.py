"""Entropy-only training (1-shot RLVR, Tab. 5 rows 9-10) with the core's ``trainer.pg_loss_coef: 0``.

The policy gradient is removed after the rewards are recorded, and TRL's entropy bonus (``entropy_coef``) remains:
two runs with *different* reward functions end one step with identical weights, which differ from the initial ones;
with ``entropy_coef: 0`` as well, nothing moves (so it is the entropy term that trains).
"""

import pytest
import torch

import one_shot_helpers as H
from trl_reasoning.config.recipe import recipe_from_dict
from trl_reasoning.run import build_trainer, prepare


def one_step(model_path, output_dir, rewards, **trainer_keys):
    data = H.recipe_dict(model_path, str(output_dir), rewards=rewards, max_steps=1, weight_decay=0.0, beta=0.0,
                         pg_loss_coef=0.0, **trainer_keys)
    trainer = build_trainer(prepare(recipe_from_dict(data), H.plugin_manager()), str(output_dir))
    before = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    trainer.train()
    after = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    logged = next(log for log in trainer.state.log_history if "reward" in log)
    return before, after, logged


def same(a, b):
    return all(torch.equal(a[name], b[name]) for name in a)


@pytest.fixture(scope="module")
def runs(tiny_model_path, tmp_path_factory):
    root = tmp_path_factory.mktemp("entropy_only")
    parity = one_step(tiny_model_path, root / "parity", [{"name": "parity_correct"}], entropy_coef=0.01)
    boxed = one_step(tiny_model_path, root / "boxed", [{"name": "boxed_integer", "config": {"lenient_value": 0.5}},
                                                       {"name": "parity_correct", "weight": -3.0}],
                     entropy_coef=0.01)
    frozen = one_step(tiny_model_path, root / "frozen", [{"name": "parity_correct"}], entropy_coef=0.0)
    return parity, boxed, frozen


def test_rewards_are_still_recorded(runs):
    (_, _, parity_log), (_, _, boxed_log), _ = runs
    assert "rewards/parity_correct/mean" in parity_log and "rewards/boxed_integer/mean" in boxed_log
    assert parity_log["reward"] != boxed_log["reward"]  # the two runs really scored differently


def test_the_update_does_not_depend_on_the_rewards(runs):
    (start_a, end_a, _), (start_b, end_b, _), _ = runs
    assert same(start_a, start_b)
    assert not same(start_a, end_a)  # the entropy bonus moved the policy
    assert same(end_a, end_b)  # ... identically, whatever the reward


def test_without_the_entropy_term_nothing_moves(runs):
    _, _, (start, end, _) = runs
    assert same(start, end)
