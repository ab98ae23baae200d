"""PCL next to other plugins: what it measures and predicts on must not change meaning when another plugin shapes the
rewards (HAPO) or rewrites the prompts (QuestA)."""

import pytest
import torch
from trl_reason_pcl.plugin import Plugin
from trl_reason_pcl.selection import effective_ratio, learning_signal
from trl_reason_pcl.value_model import PromptValueModel

from trl_reasoning.testing import make_rollout_batch


@pytest.fixture(scope="module")
def value_model(tiny_model_path):
    from transformers import AutoModel, AutoTokenizer

    backbone = AutoModel.from_pretrained(tiny_model_path)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    return PromptValueModel(backbone, tokenizer, backbone.config.hidden_size, train_backbone=False,
                            max_prompt_tokens=32, batch_size=8)


def hapo_shaped_batch():
    """Two groups of 4: all right (lengths differ, so HAPO's length reward makes the totals differ) and mixed."""
    correct = [[1, 1, 1, 1], [1, 0, 1, 0]]
    length_reward = [[0.9, 0.3, -0.2, -0.7], [0.5, 0.0, -0.4, -1.0]]
    return make_rollout_batch({"correctness": correct, "hapo_length": length_reward}, correct=correct)


def test_learning_signal_is_the_correct_flag_not_the_shaped_total():
    batch = hapo_shaped_batch()
    assert effective_ratio(batch.total_reward, 4) == 1.0  # the shaped total makes every group look "effective"
    assert effective_ratio(learning_signal(batch), 4) == 0.5  # only the mixed group teaches correctness
    plain = make_rollout_batch([[1, 0, 0, 0], [0, 0, 0, 0]])  # no reward decides correctness: the total it is
    assert torch.equal(learning_signal(plain), plain.total_reward)


def test_effective_ratio_metric_under_hapo_shaping_counts_mixed_correct_groups(value_model):
    pcl = Plugin(Plugin.Config())
    pcl.value = value_model
    pcl.optimizer = torch.optim.AdamW(value_model.head.parameters(), lr=1e-3)
    pcl.on_rewards(trainer=None, batch=hapo_shaped_batch())
    assert pcl.last["pcl/effective_ratio"] == 0.5
    assert pcl.last["pcl/mixed_group_share"] == 0.5


def test_with_questa_the_value_model_predicts_on_the_hinted_prompts(make_recipe, tmp_path):
    """PCL + QuestA: V is queried on the prompt that will be generated (with its hint), not the dataset's plain
    prompt, and it is fitted on what was generated (``batch.prompts``); the chosen rows go back unhinted, since the
    core runs the transform chain on them itself."""
    import trl_reason_pcl.plugin as pcl_module
    import trl_reason_questa.plugin as questa_module
    from pcl_helpers import REWARD, TRAINER, build_trainer

    from trl_reasoning import GenerationRound, PluginManager

    recipe = make_recipe(trainer=TRAINER, rewards=REWARD, plugins={
        "pcl": {"pool_multiplier": 2, "batch_size": 16},
        "questa": {"schedule": [{"start_step": 0, "fraction": 0.5}]}})
    pm = PluginManager(extra_modules=[("pcl", pcl_module), ("questa", questa_module)], discover=False)
    trainer = build_trainer(recipe, pm, tmp_path / "run")
    pcl = pm.active["pcl"]
    seen = []
    predict = pcl.value.predict
    pcl.value.predict = lambda texts, **kwargs: seen.extend(texts) or predict(texts, **kwargs)
    rows = [dict(trainer.train_dataset[i]) for i in (0, 1)]
    chosen = pcl.select_prompts(trainer=trainer, rows=rows, num_prompts=2, round=GenerationRound.first(0, 0))
    assert len(seen) == 4 and all("## Hint." in text for text in seen), seen
    assert all(row["prompt"] == trainer.train_dataset[row["prompt_id"]]["prompt"] for row in chosen)
    assert all("prompt_variant" not in row for row in chosen)  # the core's transform adds the hint and variant
