"""InRa on the tiny model: identity at initialisation, two-stream interpolation, generation, save/load, hooks."""

from __future__ import annotations

import argparse
import copy

import pytest
import torch

from trl_reason_inra.surgery import (InRaError, decoder_layers, has_adapter, insert_adapter_layer, load_adapter,
                                     save_adapter, train_adapter_only)
from trl_reason_inra.two_stream import InRaTwoStream, interpolate_logits



@pytest.fixture(autouse=True)
def only_this_plugin(monkeypatch):
    """Discover only this plugin, so another installed plugin's import error cannot fail these tests."""
    monkeypatch.setenv("TRL_REASONING_LOAD_PLUGINS", "inra")

@pytest.fixture(scope="module")
def tokenizer(tiny_model_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_path)
    tok.padding_side = "left"
    return tok


@pytest.fixture
def base(tiny_model_path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_model_path).eval()


@pytest.fixture
def batch(tokenizer):
    return tokenizer(["What is 2 + 3?", "Hello! What is 7 * 8 + 1, please?"], return_tensors="pt", padding=True)


def perturb_adapter(model, seed=0):
    """Make the adapter a non-identity layer, as training would."""
    gen = torch.Generator().manual_seed(seed)
    layer = decoder_layers(model)[0]
    with torch.no_grad():
        for proj in (layer.self_attn.o_proj, layer.mlp.down_proj):
            proj.weight.copy_(0.5 * torch.randn(proj.weight.shape, generator=gen))


@pytest.mark.parametrize("without, with_adapter, c, expected", [
    ([1.0, 2.0], [3.0, 6.0], 0.0, [1.0, 2.0]),      # original model
    ([1.0, 2.0], [3.0, 6.0], 1.0, [3.0, 6.0]),      # adapter model
    ([1.0, 2.0], [3.0, 6.0], 0.5, [2.0, 4.0]),
    ([1.0, 2.0], [3.0, 6.0], 2.0, [5.0, 10.0]),     # extrapolation past the adapter
    ([1.0, 2.0], [3.0, 6.0], -0.5, [0.0, 0.0]),     # the other direction
])
def test_interpolate_logits(without, with_adapter, c, expected):
    out = interpolate_logits(torch.tensor(without), torch.tensor(with_adapter), c)
    assert torch.allclose(out, torch.tensor(expected))


def test_inserted_layer_is_the_identity(base, batch):
    model = copy.deepcopy(base)
    layers_before = model.config.num_hidden_layers
    insert_adapter_layer(model)
    assert model.config.num_hidden_layers == layers_before + 1 and has_adapter(model)
    assert [layer.self_attn.layer_idx for layer in decoder_layers(model)] == list(range(layers_before + 1))
    with torch.no_grad():
        expected = base(**batch).logits  # (B, T, V)
        assert (model(**batch).logits - expected).abs().max().item() < 1e-5
        for c in (0.0, 0.5, 1.0, 1.5):
            assert (InRaTwoStream(model, c)(**batch).logits - expected).abs().max().item() < 1e-5


def test_layer_types_and_double_insert(base):
    model = copy.deepcopy(base)
    model.config.layer_types = ["full_attention", "sliding_attention"]
    insert_adapter_layer(model)
    assert model.config.layer_types == ["full_attention", "full_attention", "sliding_attention"]
    with pytest.raises(InRaError, match="already"):
        insert_adapter_layer(model)


def test_two_streams_interpolate_the_with_and_without_logits(base, batch):
    model = copy.deepcopy(base)
    insert_adapter_layer(model)
    perturb_adapter(model)
    with torch.no_grad():
        without = base(**batch).logits  # (B, T, V)
        with_adapter = model(**batch).logits  # (B, T, V)
        assert (with_adapter - without).abs().max().item() > 1e-2  # the adapter now matters
        two = InRaTwoStream(model)
        for c in (0.0, 0.3, 1.0, 1.7):
            got = two(**batch, c=c).logits  # (B, T, V)
            assert (got - interpolate_logits(without, with_adapter, c)).abs().max().item() < 1e-4
    assert "forward" not in model.__dict__  # the model is itself again outside the two-stream calls


def test_c_zero_generates_the_base_model_token_for_token(base, batch):
    model = copy.deepcopy(base)
    insert_adapter_layer(model)
    perturb_adapter(model)
    settings = {"max_new_tokens": 12, "do_sample": False, "pad_token_id": 0}
    with torch.no_grad():
        reference = base.generate(**batch, **settings)
        two = InRaTwoStream(model, c=0.0)
        assert two.generate(**batch, **settings).tolist() == reference.tolist()
        assert two.generate(**batch, **settings, c=1.0).tolist() == model.generate(**batch, **settings).tolist()
        with pytest.raises(InRaError, match="beam"):
            two.generate(**batch, **settings, num_beams=2)


def test_save_and_load_the_adapter_alone(base, batch, tmp_path):
    model = copy.deepcopy(base)
    insert_adapter_layer(model)
    perturb_adapter(model, seed=3)
    save_adapter(model, tmp_path / "adapter")
    assert {p.name for p in (tmp_path / "adapter").iterdir()} == {"inra_adapter.safetensors", "inra_adapter.json"}
    restored = load_adapter(copy.deepcopy(base), tmp_path / "adapter")
    with torch.no_grad():
        assert torch.allclose(restored(**batch).logits, model(**batch).logits, atol=1e-6)
    with pytest.raises(InRaError, match="no InRa adapter"):
        save_adapter(base, tmp_path / "nothing")


def test_only_the_adapter_trains(base):
    model = copy.deepcopy(base)
    insert_adapter_layer(model)
    n = train_adapter_only(model)
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(name.startswith("model.layers.0.") for name in trainable)
    assert n == sum(p.numel() for p in decoder_layers(model)[0].parameters())


def test_inference_model_hook_and_eval_options(base, batch):
    from trl_reasoning.cli.eval import build_parser
    from trl_reasoning.plugins.manager import PluginManager

    args = build_parser().parse_args(["--model", "m", "--inra-c", "0.25"])
    assert args.inra_c == 0.25 and args.inra_adapter is None
    pm = PluginManager()
    pm.activate({"inra": {"c": 0.75}})
    assert pm.hook.inference_model(model=base, options=argparse.Namespace(inra_c=None, inra_adapter=None)) is None
    model = copy.deepcopy(base)
    insert_adapter_layer(model)
    wrapped = pm.hook.inference_model(model=model, options=args)
    assert isinstance(wrapped, InRaTwoStream) and wrapped.c == 0.25
    assert pm.hook.inference_model(model=model, options={"inra_c": 2.0}).c == 2.0


def test_sft_run_trains_only_the_adapter_and_saves_it(make_recipe, run_recipe_steps, base):
    from transformers import AutoModelForCausalLM

    recipe = make_recipe(trainer={"algorithm": "sft", "per_device_train_batch_size": 4, "max_length": 64,
                                  "learning_rate": 1e-2},
                         plugins={"inra": {}}, rewards=[])
    for key in ("num_generations", "max_completion_length", "temperature"):
        recipe.trainer.pop(key)
    results = run_recipe_steps(recipe, steps=2)
    final = AutoModelForCausalLM.from_pretrained(f"{recipe.output_dir}/final")
    assert final.config.num_hidden_layers == base.config.num_hidden_layers + 1 and has_adapter(final)
    trained, original = final.state_dict(), base.state_dict()
    for name, value in original.items():  # layers 1..L of the trained model are the base's layers 0..L-1
        if name.startswith("model.layers."):
            index = int(name.split(".")[2])
            moved = name.replace(f"model.layers.{index}.", f"model.layers.{index + 1}.", 1)
            assert torch.equal(trained[moved], value), moved
        else:
            assert torch.equal(trained[name], value), name
    assert not torch.equal(trained["model.layers.0.self_attn.o_proj.weight"],
                           torch.zeros_like(trained["model.layers.0.self_attn.o_proj.weight"]))
    restored = load_adapter(copy.deepcopy(base), f"{recipe.output_dir}/inra_adapter")
    assert torch.equal(restored.state_dict()["model.layers.0.mlp.down_proj.weight"],
                       trained["model.layers.0.mlp.down_proj.weight"])
    assert results["train"]["global_step"] == 2
