"""InRa's model surgery: insert an identity-initialised copy of layer 0 before all layers; save and load it alone.

The new layer is a deep copy of decoder layer ``source_layer`` with the attention output projection (``o_proj``)
and the MLP output projection (``down_proj``) set to zero (the authors' ``scripts/llama_pro.py --num_expand 1``).
In a pre-norm block ``h' = h + Attn(norm(h))`` and ``out = h' + MLP(norm(h'))``, so zero output projections make
the layer exactly the identity: the expanded model computes the same logits as the original until it is trained.

Works for decoder stacks shaped like Llama, Qwen2 and Mistral (``model.model.layers[i].self_attn.o_proj`` and
``.mlp.down_proj``). The caller's model is changed in place: layers re-numbered (``self_attn.layer_idx``, which
indexes the KV cache), ``config.num_hidden_layers += 1``, ``config.layer_types`` extended, and
``config.inra_adapter_layers = 1`` recorded so a saved model says it carries an adapter.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import torch

ADAPTER_WEIGHTS = "inra_adapter.safetensors"
ADAPTER_CONFIG = "inra_adapter.json"
MARKER = "inra_adapter_layers"


class InRaError(Exception):
    """The model cannot take an InRa adapter, or an adapter does not fit the model."""


def decoder_layers(model) -> torch.nn.ModuleList:
    """The ``ModuleList`` of decoder layers of a causal LM (``model.model.layers`` for Llama-like models)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder = getattr(base, "model", None)
    layers = getattr(decoder, "layers", None)
    if not isinstance(layers, torch.nn.ModuleList):
        raise InRaError(f"{type(base).__name__} has no `model.layers` ModuleList; InRa supports Llama-like decoder "
                        "stacks (Llama, Qwen2, Mistral, SmolLM2)")
    return layers


def has_adapter(model) -> bool:
    return int(getattr(model.config, MARKER, 0) or 0) > 0


def _zero_output_projections(layer: torch.nn.Module) -> None:
    try:
        projections = [layer.self_attn.o_proj, layer.mlp.down_proj]
    except AttributeError as exc:
        raise InRaError(f"{type(layer).__name__} lacks self_attn.o_proj or mlp.down_proj ({exc}); cannot make an "
                        "identity layer from it") from None
    with torch.no_grad():
        for proj in projections:
            proj.weight.zero_()
            if getattr(proj, "bias", None) is not None:
                proj.bias.zero_()


def _renumber(layers: torch.nn.ModuleList) -> None:
    for index, layer in enumerate(layers):
        attn = getattr(layer, "self_attn", None)
        if attn is not None and hasattr(attn, "layer_idx"):
            attn.layer_idx = index  # the KV cache is indexed by it
        if hasattr(layer, "layer_idx"):
            layer.layer_idx = index


def insert_adapter_layer(model, source_layer: int = 0) -> torch.nn.Module:
    """Insert the identity-initialised layer at index 0 (in place) and return it."""
    if has_adapter(model):
        raise InRaError("this model already carries an InRa adapter layer (config.inra_adapter_layers)")
    layers = decoder_layers(model)
    config = model.config
    if not 0 <= source_layer < len(layers):
        raise InRaError(f"source_layer {source_layer} is out of range for {len(layers)} layers")
    new_layer = copy.deepcopy(layers[source_layer])
    _zero_output_projections(new_layer)
    layers.insert(0, new_layer)
    _renumber(layers)
    config.num_hidden_layers = len(layers)
    layer_types = getattr(config, "layer_types", None)
    if layer_types:
        config.layer_types = [layer_types[source_layer], *layer_types]
    setattr(config, MARKER, 1)
    return new_layer


def train_adapter_only(model) -> int:
    """Freeze every parameter but the adapter layer's; return how many parameters stay trainable."""
    model.requires_grad_(False)
    adapter = decoder_layers(model)[0]
    adapter.requires_grad_(True)
    return sum(p.numel() for p in adapter.parameters())


def save_adapter(model, directory: str | Path) -> Path:
    """Write the adapter layer alone (safetensors + a small JSON describing the base model)."""
    from safetensors.torch import save_file

    if not has_adapter(model):
        raise InRaError("the model has no InRa adapter to save")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in decoder_layers(model)[0].state_dict().items()}
    save_file(state, str(directory / ADAPTER_WEIGHTS))
    info = {"format": 1, "base_model": getattr(model.config, "_name_or_path", None),
            "model_type": model.config.model_type, "base_num_hidden_layers": model.config.num_hidden_layers - 1,
            "hidden_size": model.config.hidden_size}
    (directory / ADAPTER_CONFIG).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return directory


def load_adapter(model, directory: str | Path):
    """Insert an adapter layer into a base ``model`` (in place) and load the saved weights; returns ``model``."""
    from safetensors.torch import load_file

    directory = Path(directory)
    if not (directory / ADAPTER_WEIGHTS).exists():
        raise InRaError(f"{directory} holds no {ADAPTER_WEIGHTS} (save one with save_adapter or a run's "
                        "inra_adapter/ directory)")
    info = json.loads((directory / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    if info.get("hidden_size") not in (None, model.config.hidden_size):
        raise InRaError(f"adapter hidden size {info['hidden_size']} does not match the model's "
                        f"{model.config.hidden_size} (adapter trained on {info.get('base_model')})")
    layer = insert_adapter_layer(model)
    state = load_file(str(directory / ADAPTER_WEIGHTS))
    param = next(layer.parameters())
    layer.load_state_dict({k: v.to(param.device, param.dtype) for k, v in state.items()}, strict=True)
    return model
