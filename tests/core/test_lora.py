"""A LoRA run end to end: only the adapter trains, and the saved run holds the adapter."""

from __future__ import annotations

from pathlib import Path

import torch

from trl_reasoning import hookimpl
from trl_reasoning.plugins.manager import PluginManager


class Variety:
    """A reward with variance inside every group (the tiny random model never answers right)."""

    @hookimpl
    def reward_funcs(self, recipe):
        def token_parity(prompts, completions, completion_ids, **kwargs):
            return [float(sum(ids) % 7) for ids in completion_ids]

        return [token_parity]


def test_lora_run_trains_only_the_adapter(make_recipe, run_recipe_steps):
    pm = PluginManager()
    pm.register_active("variety", Variety())
    recipe = make_recipe(model={"lora": {"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]}},
                         trainer={"learning_rate": 5e-2})
    results = run_recipe_steps(recipe, steps=2, pm=pm)
    model = results["trainer"].model
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in name for name in trainable)
    lora_b = [p for name, p in model.named_parameters() if "lora_B" in name]
    assert any(p.abs().sum().item() > 0 for p in lora_b), "LoRA B starts at zero and must have moved"
    final = Path(recipe.output_dir) / "final"
    assert (final / "adapter_config.json").exists() and (final / "adapter_model.safetensors").exists()
    from trl_reasoning.models import load_model

    reloaded = load_model(str(final), with_tokenizer=False)
    assert isinstance(reloaded, torch.nn.Module)
