"""The single-pass critic update (``critic_single_pass``): its row weights, its prediction of TRL's micro-batches, and
a real step on the tiny model that gives the two-pass computation's gradients and value losses with half the
critic forwards."""

from __future__ import annotations

import sys

import pytest
import torch
from transformers import TrainerCallback
from trl.trainer.utils import shuffle_sequence_dict, split_tensor_dict
from trl_reason_ppo import ReasoningPPOTrainer
from trl_reason_ppo.trainer import FIELD_VALUE_MASK
from trl_reason_ppo.value_loss import (clipped_value_loss, clipped_value_terms, micro_batch_of_rows,
                                       micro_batch_row_weights)

from trl_reasoning import hookimpl
from trl_reasoning.plugins.manager import PluginManager
from trl_reasoning.run import build_trainer, prepare


def parity_or_unscored(prompts, completions, completion_ids, **kwargs):
    """A reward with variance on a random model: 1 when the first completion token id is odd, and no score (None:
    the row drops out of the value loss) when it is a multiple of 3, so micro-batches differ in trained tokens."""
    return [None if ids and ids[0] % 3 == 0 else float(ids[0] % 2) if ids else 0.0 for ids in completion_ids]


@hookimpl
def register_rewards(register):
    register("parity_or_unscored", parity_or_unscored)


@pytest.mark.parametrize("mask, micro_batch, num, want", [
    ([[1, 1, 0], [1, 0, 0]], [0, 0], 1, [1 / 3, 1 / 3]),              # one micro-batch: 1 / all its tokens
    ([[1, 1, 0], [1, 0, 0]], [0, 1], 2, [1 / 2, 1.0]),                # each row alone
    ([[1, 1, 1], [0, 0, 0], [1, 0, 0]], [1, 0, 1], 2, [1 / 4, 1.0, 1 / 4]),  # an all-masked micro-batch: weight 1
])
def test_micro_batch_row_weights(mask, micro_batch, num, want):
    got = micro_batch_row_weights(torch.tensor(mask, dtype=torch.float32), torch.tensor(micro_batch), num)
    torch.testing.assert_close(got, torch.tensor(want))


@pytest.mark.parametrize("permutation, num, want", [
    ([0, 1, 2, 3], 2, [0, 0, 1, 1]),
    ([3, 1, 0, 2], 2, [1, 0, 1, 0]),  # positions 0, 1 (rows 3, 1) form micro-batch 0
    ([2, 0, 1], 3, [1, 2, 0]),
    ([1, 0], 1, [0, 0]),
])
def test_micro_batch_of_rows(permutation, num, want):
    assert micro_batch_of_rows(torch.tensor(permutation), num).tolist() == want


def test_weighted_rows_add_up_to_each_micro_batch_loss():
    """Summing per_token * mask * weight over a micro-batch's rows is clipped_value_loss of that micro-batch."""
    generator = torch.Generator().manual_seed(0)
    values, old, returns = (torch.randn(6, 5, generator=generator) for _ in range(3))  # (6, 5) x3
    mask = (torch.rand(6, 5, generator=generator) > 0.3).float()  # (6, 5)
    micro_batch = torch.tensor([1, 0, 2, 0, 1, 2])  # (6,)
    per_token, _ = clipped_value_terms(values, old, returns, 0.2)  # (6, 5)
    rows = (per_token * mask).sum(dim=1) * micro_batch_row_weights(mask, micro_batch, 3)  # (6,)
    for m in range(3):
        chosen = micro_batch == m  # (6,)
        want, _ = clipped_value_loss(values[chosen], old[chosen], returns[chosen], mask[chosen], 0.2)
        torch.testing.assert_close(rows[chosen].sum(), want)


@pytest.mark.parametrize("rows, micro_batches", [(8, 2), (12, 4), (6, 1)])
def test_prediction_matches_trl_shuffle_and_split(rows, micro_batches):
    """The predicted micro-batches are the ones TRL's shuffle_sequence_dict + split_tensor_dict produce next, and
    predicting leaves torch's generator where it was."""
    torch.manual_seed(1234)
    predicted = ReasoningPPOTrainer._predicted_micro_batches(rows, micro_batches)  # (rows,)
    chunks = split_tensor_dict(shuffle_sequence_dict({"row": torch.arange(rows)}), micro_batches)
    for index, chunk in enumerate(chunks):
        assert predicted[chunk["row"]].tolist() == [index] * (rows // micro_batches)


class GradientsAtStep(TrainerCallback):
    """The critic's and the policy's gradients just before the optimizer step (before the critic's clipping)."""

    def __init__(self):
        self.trainer = None
        self.critic, self.policy = None, None

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        self.critic = {n: p.grad.clone() for n, p in self.trainer.critic.named_parameters() if p.grad is not None}
        self.policy = {n: p.grad.clone() for n, p in self.trainer.model.named_parameters() if p.grad is not None}


def _one_step(make_recipe, tmp_path, name: str, **trainer_overrides):
    import trl_reason_ppo.plugin as ppo_plugin

    pm = PluginManager(extra_modules=[("ppo", ppo_plugin), ("ppo_single_pass_rewards", sys.modules[__name__])],
                       discover=False)
    recipe = make_recipe(trainer={"algorithm": "ppo", "max_steps": 1, "max_completion_length": 8,
                                  "per_device_train_batch_size": 4, "gradient_accumulation_steps": 2,
                                  "num_generations": 4, "logging_steps": 1, **trainer_overrides},
                         rewards=[{"name": "parity_or_unscored"}], output_dir=str(tmp_path / name))
    grads = GradientsAtStep()
    trainer = build_trainer(prepare(recipe, pm), str(tmp_path / name), [grads])
    grads.trainer = trainer
    forwards = []
    trainer.critic.register_forward_hook(lambda module, args, output: forwards.append(torch.is_grad_enabled()))
    tokens, losses, value_loss = [], [], trainer.value_loss

    def recording_value_loss(inputs):
        tokens.append(float(inputs[FIELD_VALUE_MASK].sum()))  # the micro-batch's trained tokens
        term = value_loss(inputs)
        losses.append(float(term.detach()))  # the micro-batch's vf_coef * value loss, as the loss adds it
        return term

    trainer.value_loss = recording_value_loss
    trainer.train()
    logged = [log["critic/value_loss"] for log in trainer.state.log_history if "critic/value_loss" in log]
    assert len(logged) == 1
    return trainer, grads, forwards, losses, tokens


def test_single_pass_gives_the_two_pass_gradients_with_half_the_critic_forwards(make_recipe, tmp_path):
    """Two micro-batches per optimizer step (so the row weights must follow TRL's shuffle): the critic's gradients,
    the policy's gradients and the logged value loss match the two-pass computation; the critic ran 2 forwards (one
    per chunk, with gradient) instead of 4."""
    single, single_grads, single_forwards, single_losses, single_tokens = _one_step(make_recipe, tmp_path, "single")
    two, two_grads, two_forwards, two_losses, two_tokens = _one_step(make_recipe, tmp_path, "two",
                                                                     critic_single_pass=False)
    assert single.critic_single_pass and not two.critic_single_pass
    assert single_tokens == two_tokens and len(set(two_tokens)) == 2  # unequal micro-batches: the weights matter
    assert single_forwards == [True, True]  # the rollout's two chunks, with gradient
    assert two_forwards == [False, False, True, True]  # no-grad values at the rollout, then one per micro-batch
    assert set(single_grads.critic) == set(two_grads.critic) and single_grads.critic
    for name, grad in two_grads.critic.items():
        torch.testing.assert_close(single_grads.critic[name], grad, rtol=1e-4, atol=1e-6, msg=f"critic {name}")
    assert set(single_grads.policy) == set(two_grads.policy)
    for name, grad in two_grads.policy.items():
        torch.testing.assert_close(single_grads.policy[name], grad, rtol=1e-4, atol=1e-6, msg=f"policy {name}")
    assert len(single_losses) == len(two_losses) == 2
    torch.testing.assert_close(torch.tensor(single_losses), torch.tensor(two_losses), rtol=1e-5, atol=1e-7)


def test_ppo_epochs_keep_two_passes(make_recipe, tmp_path):
    """With num_iterations 2 the critic changes between the rollout and the second epoch: two passes."""
    trainer, _, forwards, losses, _ = _one_step(make_recipe, tmp_path, "epochs", num_iterations=2,
                                             gradient_accumulation_steps=1)
    assert not trainer.critic_single_pass
    assert forwards == [False, True]  # one rollout chunk without gradient, the first epoch's micro-batch
    assert losses


@pytest.mark.parametrize("completion_length", [1, 5])
def test_critic_values_skip_the_last_token_without_changing_a_value(tiny_model_path, completion_length):
    """critic_values leaves the last completion token out of the input; every value equals the one read from the
    forward over the whole sequence (left-padded prompt, right-padded completion)."""
    from transformers import AutoModelForTokenClassification
    from trl_reason_ppo.critic import critic_values

    critic = AutoModelForTokenClassification.from_pretrained(tiny_model_path, num_labels=1).eval()
    generator = torch.Generator().manual_seed(0)
    prompt_ids = torch.randint(0, 1000, (3, 4), generator=generator)  # (3, 4)
    completion_ids = torch.randint(0, 1000, (3, completion_length), generator=generator)  # (3, T)
    prompt_mask = torch.tensor([[0, 1, 1, 1], [1, 1, 1, 1], [0, 0, 1, 1]])  # (3, 4)
    completion_mask = torch.ones_like(completion_ids)  # (3, T)
    completion_mask[0, completion_length // 2 + 1:] = 0
    with torch.no_grad():
        got = critic_values(critic, prompt_ids, prompt_mask, completion_ids, completion_mask)  # (3, T)
        full = critic(input_ids=torch.cat([prompt_ids, completion_ids], dim=1),
                      attention_mask=torch.cat([prompt_mask, completion_mask], dim=1)).logits  # (3, 4+T, 1)
    assert got.shape == (3, completion_length)
    torch.testing.assert_close(got, full[:, -completion_length - 1:-1, 0], rtol=1e-5, atol=1e-6)
