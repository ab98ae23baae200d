"""ReasoningPPOConfig: classic PPO (one completion per prompt) passes GRPO's checks; unsupported settings fail early;
the critic's source follows the test-model switch."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from trl_reason_ppo import ReasoningPPOConfig
from trl_reason_ppo.critic import critic_spec


def config(**kwargs) -> ReasoningPPOConfig:
    return ReasoningPPOConfig(output_dir="/tmp/ppo-config-test", use_cpu=True, report_to="none", **kwargs)


def test_classic_ppo_keeps_one_generation():
    args = config(num_generations=1, per_device_train_batch_size=4)
    assert args.num_generations == 1
    assert args.generation_batch_size == 4


def test_grouped_ppo_is_grpo_shaped():
    args = config(num_generations=4, per_device_train_batch_size=8, steps_per_generation=2)
    assert (args.num_generations, args.generation_batch_size) == (4, 16)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_generations": 1, "per_device_train_batch_size": 1}, "at least 2 completions"),
        ({"loss_type": "vespo"}, "per token"),
        ({"off_policy_mask_threshold": 0.5}, "per token"),
        ({"gamma": 1.5}, "gamma"),
        ({"cliprange_value": 0.0}, "cliprange_value"),
        ({"kl_reward_coef": -1.0}, "kl_reward_coef"),
    ],
)
def test_invalid_settings_fail_early(kwargs, message):
    kwargs = {"num_generations": 2, "per_device_train_batch_size": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        config(**kwargs)


def test_critic_source_order(tmp_path):
    """test model > critic_model_name_or_path > the recipe's model (an adapter directory: the policy's base)."""
    from trl_reasoning.models import plan_load

    args = SimpleNamespace(critic_model_name_or_path=str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    policy = SimpleNamespace(config=SimpleNamespace(_name_or_path="/the/policy"))
    recipe = SimpleNamespace(test_model=None, model=SimpleNamespace(name_or_path="/the/policy"))

    def source():
        return plan_load(recipe, "critic", critic_spec(args, recipe, policy)).spec

    assert source() == str(tmp_path)
    args.critic_model_name_or_path = None
    assert critic_spec(args, recipe, policy) is None and source() == "/the/policy"
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    recipe.model.name_or_path = str(adapter)
    assert source() == "/the/policy"  # the PEFT policy's base weights, not the adapter directory
    assert critic_spec(args, None, policy) == "/the/policy"  # a trainer built without a recipe
    recipe.test_model = "tiny"
    args.critic_model_name_or_path = "some/hub-critic"
    assert plan_load(recipe, "critic", critic_spec(args, recipe, policy)).test_model  # the switch replaces it


def test_overridden_transformers_methods_keep_their_contract():
    """ReasoningPPOTrainer overrides these Trainer methods; a transformers upgrade that changes them fails here."""
    import inspect

    from transformers import Trainer

    assert list(inspect.signature(Trainer.create_scheduler).parameters) == ["self", "num_training_steps", "optimizer"]
    assert list(inspect.signature(Trainer.save_model).parameters) == ["self", "output_dir", "_internal_call"]
    assert list(inspect.signature(Trainer._load_optimizer_and_scheduler).parameters) == ["self", "checkpoint"]
    # checkpoints are written through save_model(..., _internal_call=True): the critic is saved there
    assert "save_model(output_dir, _internal_call=True)" in inspect.getsource(Trainer._save_checkpoint)
