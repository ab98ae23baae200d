"""TrRa on the tiny model: the chunked KL on real models, the `distill` trainer, the GRPO loss term, the config."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from trl_reasoning.config.schema import ConfigError
from trl_reasoning.plugins.manager import PluginManager
from trl_reason_trra.fusion import realigned_kl
from trl_reason_trra.iterate import round_overrides
from trl_reason_trra.loss import distillation_kl



@pytest.fixture(autouse=True)
def only_this_plugin(monkeypatch):
    """Discover only this plugin, so another installed plugin's import error cannot fail these tests."""
    monkeypatch.setenv("TRL_REASONING_LOAD_PLUGINS", "trra")

@pytest.fixture(scope="module")
def three_models(tiny_model_path):
    from transformers import AutoModelForCausalLM

    student = AutoModelForCausalLM.from_pretrained(tiny_model_path)
    reference = copy.deepcopy(student).eval()
    aligned = copy.deepcopy(student).eval()
    torch.manual_seed(0)
    with torch.no_grad():
        for p in aligned.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return student, reference, aligned


def test_chunked_kl_matches_full_logits(three_models):
    student, reference, aligned = three_models
    torch.manual_seed(1)
    input_ids = torch.randint(0, 1000, (2, 9))  # (B, L)
    attention = torch.ones_like(input_ids)  # (B, L)
    predict = torch.zeros(2, 9, dtype=torch.bool)  # (B, L)
    predict[0, 3:8] = True
    predict[1, 5:8] = True
    total, n = distillation_kl(student, reference, aligned, input_ids, attention, predict, 2.0, 1.0, chunk_size=3)
    with torch.no_grad():
        s, r, a = (m(input_ids=input_ids, attention_mask=attention).logits for m in (student, reference, aligned))
    expected = realigned_kl(s[predict], r[predict], a[predict], 2.0).sum()  # (N, V) -> ()
    assert n == 8
    assert total.item() == pytest.approx(expected.item(), rel=1e-4)
    total.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in student.parameters())


def test_kl_is_zero_when_all_three_models_agree(three_models):
    student, reference, _ = three_models
    input_ids = torch.randint(0, 1000, (1, 6))
    predict = torch.ones(1, 6, dtype=torch.bool)
    total, n = distillation_kl(student, reference, reference, input_ids, torch.ones_like(input_ids), predict, 2.0)
    assert n == 6 and total.item() == pytest.approx(0.0, abs=1e-5)
    empty, n = distillation_kl(student, reference, reference, input_ids, torch.ones_like(input_ids),
                               torch.zeros_like(predict), 2.0)
    assert n == 0 and empty.item() == 0.0 and empty.requires_grad


def test_config_needs_the_aligned_model():
    pm = PluginManager()
    with pytest.raises(ConfigError, match="aligned_model"):
        pm.activate({"trra": {}})
    with pytest.raises(ConfigError, match="realign_lamda"):
        PluginManager().activate({"trra": {"aligned_model": "x", "realign_lamda": 2}})


def test_iterate_points_each_round_at_the_previous_result():
    assert round_overrides("runs/t", 1, ["a=1"]) == ["a=1", "output_dir=runs/t/round1"]
    assert round_overrides("runs/t", 3, []) == ["output_dir=runs/t/round3",
                                               "plugins.trra.aligned_model=runs/t/round2/final"]


def test_distill_trainer_runs_and_the_test_model_replaces_the_teacher(make_recipe, run_recipe_steps, tiny_model_path):
    # The aligned model is a Hub id that cannot be fetched here: the test-model switch must replace it.
    recipe = make_recipe(trainer={"algorithm": "distill", "per_device_train_batch_size": 4, "max_length": 64},
                         plugins={"trra": {"aligned_model": "agentica-org/DeepScaleR-1.5B-Preview",
                                           "realign_lambda": 2.0}},
                         rewards=[], test_model=tiny_model_path)
    for key in ("num_generations", "max_completion_length", "temperature"):
        recipe.trainer.pop(key)
    results = run_recipe_steps(recipe, steps=2)
    trainer = results["trainer"]
    assert results["train"]["global_step"] == 2
    assert set(trainer.auxiliary) == {"trra_reference", "trra_aligned"}
    assert not any(p.requires_grad for p in trainer.auxiliary["trra_aligned"].parameters())
    rows = [json.loads(line) for line in open(f"{recipe.output_dir}/metrics.jsonl")]
    kl = [row["trra/kl"] for row in rows if "trra/kl" in row]
    # reference = aligned = the student's start: the fused teacher is the student itself at step 1
    assert len(kl) == 2 and kl[0] == pytest.approx(0.0, abs=1e-5)


def test_distill_without_the_plugin_is_a_config_error(make_recipe, run_recipe_steps):
    recipe = make_recipe(trainer={"algorithm": "distill"}, rewards=[])
    for key in ("num_generations", "max_completion_length", "temperature"):
        recipe.trainer.pop(key)
    with pytest.raises(ConfigError, match="trra"):
        run_recipe_steps(recipe, steps=1)


def test_trra_kl_as_a_grpo_loss_term(make_recipe, run_recipe_steps, tiny_model_path, tmp_path):
    from transformers import AutoModelForCausalLM

    aligned = AutoModelForCausalLM.from_pretrained(tiny_model_path)
    with torch.no_grad():
        for p in aligned.parameters():
            p.add_(0.05 * torch.randn_like(p))
    aligned.save_pretrained(tmp_path / "aligned")
    recipe = make_recipe(plugins={"trra": {"aligned_model": str(tmp_path / "aligned"), "loss_coef": 0.5}})
    results = run_recipe_steps(recipe, steps=1)
    rows = [json.loads(line) for line in open(f"{recipe.output_dir}/metrics.jsonl")]
    values = [row["loss/trra_kl"] for row in rows if "loss/trra_kl" in row]
    assert values and values[0] > 0
    assert results["train"]["global_step"] == 1
