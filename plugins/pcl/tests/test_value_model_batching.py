"""PCL's value model predicts a pool in one forward (or length-sorted chunks) exactly as prompt by prompt, and a
frozen backbone's fit reuses the features its prediction computed (the head alone runs)."""

import pytest
import torch
import trl_reason_pcl.plugin as pcl_module
from pcl_helpers import REWARD, TRAINER, build_trainer
from trl_reason_pcl.value_model import PromptValueModel

from trl_reasoning import GenerationRound
from trl_reasoning.testing import registered_plugin

# Lengths from 3 to about 20 tokens: a batched forward pads most of them.
TEXTS = ["1 + 2?", "What is 17 * 23, written in a box?", "9 - 4", "Compute 123 + 456 + 789 and then halve it.",
         "7 * 7", "Is 91 prime? Answer yes or no, then explain briefly why.", "0 + 0", "12 - 30"]


def _value(tiny_model_path, train_backbone=False, **kwargs):
    from transformers import AutoModel, AutoTokenizer

    backbone = AutoModel.from_pretrained(tiny_model_path)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_path)
    value = PromptValueModel(backbone, tokenizer, backbone.config.hidden_size, train_backbone=train_backbone,
                             max_prompt_tokens=64, batch_size=3, **kwargs)
    torch.manual_seed(0)
    torch.nn.init.normal_(value.head.weight, std=3.0)  # spread the predictions away from 0.5
    return value


def _forwards(value) -> list[int]:
    """Counts the backbone's forwards (one entry per call) and the prompts each one read."""
    calls = []
    value.body.register_forward_hook(lambda module, args, kwargs, output: calls.append(kwargs["input_ids"].size(0)),
                                     with_kwargs=True)
    return calls


@pytest.mark.parametrize("predict_batch_size", [None, 3, 1])
def test_pool_predictions_match_prompt_by_prompt(tiny_model_path, predict_batch_size):
    value = _value(tiny_model_path, predict_batch_size=predict_batch_size)
    one_by_one = torch.cat([value.predict([t]) for t in TEXTS])  # (8,) no padding at all
    calls = _forwards(value)
    batched = value.predict(TEXTS)  # (8,)
    assert calls == ([8] if predict_batch_size is None else [predict_batch_size] * (8 // predict_batch_size)
                     + ([8 % predict_batch_size] if 8 % predict_batch_size else []))
    assert one_by_one.std() > 0.05  # the comparison is not between constants
    torch.testing.assert_close(batched, one_by_one, atol=1e-5, rtol=0)


def test_length_sorted_chunks_pad_less_than_pool_order(tiny_model_path):
    value = _value(tiny_model_path, predict_batch_size=2)
    lengths = [len(value.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in TEXTS]
    order = value._length_order(TEXTS)
    assert [lengths[i] for i in order] == sorted(lengths)
    padded = lambda idx: sum(2 * max(lengths[i] for i in idx[s:s + 2]) for s in range(0, len(idx), 2))
    assert padded(order) < padded(list(range(len(TEXTS))))


def test_a_frozen_fit_on_the_predicted_prompts_runs_the_head_alone(tiny_model_path):
    targets = torch.tensor([1.0, 0.0, 0.5])  # (3,)
    picked = [TEXTS[1], TEXTS[4], TEXTS[6]]
    fresh, cached = _value(tiny_model_path), _value(tiny_model_path)
    opt_fresh = torch.optim.AdamW(fresh.head.parameters(), lr=0.05)
    opt_cached = torch.optim.AdamW(cached.head.parameters(), lr=0.05)
    fresh.predict(TEXTS)
    cached.predict(TEXTS, cache_key=("step", 3))
    calls = _forwards(cached)
    stale = cached.fit(picked, targets, opt_cached, updates=2, cache_key=("step", 4))  # another step: recomputed
    assert calls == [3]
    cached.predict(TEXTS, cache_key=("step", 4))
    got = cached.fit(picked, targets, opt_cached, updates=2, cache_key=("step", 4))
    assert calls == [3, 8]  # then only the prediction's forward: the fit read the cache
    want = fresh.fit(picked, targets, opt_fresh, updates=2)
    want = fresh.fit(picked, targets, opt_fresh, updates=2)  # the same two fits, without any cache
    torch.testing.assert_close(got["predicted"], want["predicted"], atol=1e-5, rtol=0)
    torch.testing.assert_close(cached.head.weight, fresh.head.weight, atol=1e-6, rtol=0)
    assert got["loss_after"] < stale["loss_before"]


def test_a_trained_backbone_never_fits_on_cached_features(tiny_model_path):
    value = _value(tiny_model_path, train_backbone=True)
    value.predict(TEXTS, cache_key=("step", 0))
    assert value.cached_features(TEXTS[:2], ("step", 0)) is None  # its features change with every update
    calls = _forwards(value)
    value.fit(TEXTS[:2], torch.tensor([1.0, 0.0]), torch.optim.AdamW(value.trainable_parameters(), lr=1e-3),
              cache_key=("step", 0))
    assert calls == [2]


def test_policy_features_fit_in_a_real_step_reuses_the_selection_features(make_recipe, tmp_path):
    recipe = make_recipe(trainer=TRAINER, rewards=REWARD)
    with registered_plugin("pcl", pcl_module, {"pool_multiplier": 4, "value_model": "policy_features"}) as pm:
        trainer = build_trainer(recipe, pm, tmp_path / "run")
        plugin = pm.active["pcl"]
        calls = _forwards(plugin.value)
        rows = [dict(trainer.train_dataset[i]) for i in (5, 6)]
        round = GenerationRound.first(0, 0)
        chosen = plugin.select_prompts(trainer=trainer, rows=rows, num_prompts=2, round=round)
        assert calls == [8]  # the pool of k*m = 8 in one forward
        texts = plugin.texts([r["prompt"] for r in chosen])
        assert plugin.value.cached_features(texts, plugin.feature_key(trainer, round)).shape == (2, 64)
        assert plugin.feature_key(trainer, GenerationRound.first(1, 1)) != plugin.feature_key(trainer, round)
