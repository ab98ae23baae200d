"""``models.load_for``: one loader for every role (policy, reference, critic, value, teacher).

The rules (``plan_load``) are table-tested without loading anything; then each role is loaded once from the tiny
model, to check the head and the frozen/trainable state it comes with."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from trl_reasoning.config.recipe import MODEL_KEYS_ENV, ModelSection, Recipe
from trl_reasoning.models import ModelError, load_for, plan_load

SECTION = ModelSection(name_or_path="org/policy", dtype="bfloat16", revision="v1", trust_remote_code=True,
                       attn_implementation="sdpa")


def _recipe(test_model=None):
    return Recipe(model=dataclasses.replace(SECTION), test_model=test_model)


# role, spec, dtype, trainable -> spec, dtype, revision, trainable (trust and attention: the section's, always)
PLANS = [
    ("policy", None, None, None, "org/policy", "bfloat16", "v1", None),
    ("reference", None, None, None, "org/policy", "bfloat16", "v1", False),
    ("teacher", "org/teacher", None, None, "org/teacher", "bfloat16", None, False),
    ("teacher", "org/policy", None, None, "org/policy", "bfloat16", "v1", False),
    ("critic", None, None, None, "org/policy", "float32", "v1", None),
    ("critic", "org/critic", torch.bfloat16, None, "org/critic", "bfloat16", None, None),
    ("value", "org/value", "float16", None, "org/value", "float16", None, None),
    ("reference", None, None, True, "org/policy", "bfloat16", "v1", True),
    ("policy", None, "auto", False, "org/policy", "auto", "v1", False),
]


@pytest.mark.parametrize("role, spec, dtype, trainable, want_spec, want_dtype, want_revision, want_trainable", PLANS)
def test_plan_rules_per_role(role, spec, dtype, trainable, want_spec, want_dtype, want_revision, want_trainable):
    for source in (_recipe(), SECTION):
        plan = plan_load(source, role, spec, dtype=dtype, trainable=trainable)
        assert (plan.spec, plan.dtype, plan.revision, plan.trainable) == \
            (want_spec, want_dtype, want_revision, want_trainable), (role, type(source).__name__)
        assert plan.trust_remote_code is True and plan.attn_implementation == "sdpa" and not plan.test_model


@pytest.mark.parametrize("role", ["policy", "reference", "critic", "value", "teacher"])
def test_the_test_model_replaces_every_role(role, monkeypatch, tmp_path):
    plan = plan_load(_recipe(test_model=str(tmp_path)), role, "org/other")
    assert plan.spec == str(tmp_path) and plan.test_model and plan.revision is None
    monkeypatch.setenv(MODEL_KEYS_ENV, str(tmp_path))
    assert plan_load(SECTION, role, "org/other").spec == str(tmp_path)     # a bare section reads the variable
    assert plan_load(_recipe(), role, "org/other").spec == "org/other"     # a recipe: load_recipe folded it in
    assert plan_load(None, role, "org/other").spec == "org/other"          # a bare spec: no switch


@pytest.mark.parametrize("call, words", [
    (lambda: plan_load(SECTION, "actor"), "unknown model role 'actor'"),
    (lambda: plan_load(None, "policy"), "no model to load"),
    (lambda: plan_load(SECTION, dtype="float64"), "unknown dtype 'float64'"),
])
def test_plan_errors(call, words):
    with pytest.raises(ModelError, match=words):
        call()


@pytest.mark.parametrize("role, head, frozen", [
    ("policy", "LlamaForCausalLM", False), ("reference", "LlamaForCausalLM", True),
    ("teacher", "LlamaForCausalLM", True), ("value", "LlamaModel", False),
    ("critic", "LlamaForTokenClassification", False),
])
def test_each_role_loads_its_head(role, head, frozen, tiny_model_path):
    recipe = Recipe(model=ModelSection(name_or_path=tiny_model_path, dtype="bfloat16"))
    model, tokenizer = load_for(recipe, role)
    assert type(model).__name__ == head and tokenizer.pad_token is not None
    assert all(not p.requires_grad for p in model.parameters()) is frozen and model.training is False
    expected = torch.float32 if role in ("critic", "value") else torch.bfloat16
    assert {p.dtype for p in model.parameters()} == {expected}
    if role == "critic":
        assert model.config.num_labels == 1 and model.config.classifier_dropout == 0.0


def test_without_tokenizer_a_bare_model_directory_loads(tiny_model_path, tmp_path):
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(tiny_model_path).save_pretrained(tmp_path / "bare")  # no tokenizer files
    model, tokenizer = load_for(None, "teacher", str(tmp_path / "bare"), with_tokenizer=False)
    assert tokenizer is None and not any(p.requires_grad for p in model.parameters())
