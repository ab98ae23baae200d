"""InRa inference: two residual streams through the same weights, logits ``(1 - c) * without + c * with``.

``InRaTwoStream(model, c)`` wraps a model that carries an adapter layer at index 0 (``surgery.insert_adapter_layer``
or a saved InRa run). Each call runs the batch twice side by side, as one batch of ``2B`` rows:

* rows ``0..B-1`` (the *aligned* stream) pass through the adapter and layers 1..L;
* rows ``B..2B-1`` (the *unaligned* stream) are reset to their input embeddings right after layer 0 (a forward
  hook on the adapter), so they skip it, then pass through layers 1..L: exactly the original model.

Both streams get the final norm and the LM head; the wrapper returns ``(1 - c) * z_without + c * z_with``
(``(B, T, V)``). Each stream keeps its own KV cache: the cache holds ``2B`` rows, the first ``B`` for the aligned
stream and the rest for the unaligned one (as the authors' vLLM patch keeps two caches; memory about twice a
single model's). ``c = 0`` is the original model, ``c = 1`` the adapter model, ``c > 1`` extrapolates (shorter
answers in the paper) and ``c < 0`` goes the other way.

It works with transformers' ``generate`` (greedy and sampling; beam search would reorder the 2B-row cache with B
indices and is refused)::

    two = InRaTwoStream(model, c=0.5)
    out = two.generate(**tokenizer(prompts, return_tensors="pt", padding=True), max_new_tokens=64, c=0.25)
    two.c = 1.0                                   # or set c for every later call

How: inside ``generate`` (or a direct call) the wrapped model's ``forward`` is temporarily replaced, on that
instance only, by a function that doubles the batch, calls the original forward and fuses the logits; the
adapter's hook is registered for the same span. Outside those calls the model is untouched.
"""

from __future__ import annotations

import functools
import types
from contextlib import contextmanager

import torch

from .surgery import InRaError, decoder_layers, has_adapter

BATCH_KEYS = ("input_ids", "attention_mask", "position_ids", "inputs_embeds", "token_type_ids")


def interpolate_logits(without: torch.Tensor, with_adapter: torch.Tensor, c: float) -> torch.Tensor:
    """``(1 - c) * without + c * with_adapter`` for matching shapes, e.g. ``(B, T, V)``."""
    if without.shape != with_adapter.shape:
        raise ValueError(f"stream logits differ in shape: {tuple(without.shape)} vs {tuple(with_adapter.shape)}")
    return (1.0 - c) * without + c * with_adapter  # same shape as the inputs


class InRaTwoStream(torch.nn.Module):
    """A model with an InRa adapter, run as two streams and interpolated with strength ``c``."""

    def __init__(self, model, c: float = 1.0):
        super().__init__()
        if not has_adapter(model):
            raise InRaError("InRaTwoStream needs a model with an InRa adapter layer (config.inra_adapter_layers); "
                            "insert one with insert_adapter_layer or load one with load_adapter")
        self.model = model
        self.c = float(c)
        self._active = False

    # -- what generation backends read from a model ------------------------------------------------------------

    @property
    def device(self):
        return self.model.device

    @property
    def config(self):
        return self.model.config

    @property
    def generation_config(self):
        return self.model.generation_config

    @property
    def name_or_path(self):
        return getattr(self.model, "name_or_path", None)

    # -- the two streams -----------------------------------------------------------------------------------------

    @contextmanager
    def streams(self, c: float | None = None):
        """Within this block the wrapped model runs both streams on every forward call."""
        if self._active:
            yield
            return
        weight = self.c if c is None else float(c)
        model = self.model
        had_own_forward = "forward" in model.__dict__
        original_forward = model.forward
        state = {"batch": None}

        def reset_unaligned(module, args, kwargs, output):
            rows = state["batch"]
            hidden_in = args[0] if args else kwargs["hidden_states"]  # (2B, T, H)
            hidden_out = output[0] if isinstance(output, tuple) else output  # (2B, T, H)
            mixed = torch.cat([hidden_out[:rows], hidden_in[rows:]], dim=0)  # (2B, T, H): stream 2 skips the adapter
            return (mixed, *output[1:]) if isinstance(output, tuple) else mixed

        @functools.wraps(type(model).forward)  # generate validates its kwargs against this signature
        def two_stream_forward(self_model, *args, **kwargs):
            if args:
                kwargs["input_ids"] = args[0]
                if len(args) > 1:
                    raise TypeError("InRaTwoStream: pass model inputs other than input_ids by keyword")
            first = kwargs.get("input_ids")
            if first is None:
                first = kwargs.get("inputs_embeds")
            rows = first.shape[0]
            for key in BATCH_KEYS:
                value = kwargs.get(key)
                if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == rows:
                    kwargs[key] = torch.cat([value, value], dim=0)  # (2B, ...)
            state["batch"] = rows
            out = original_forward(**kwargs)
            logits = out.logits  # (2B, T, V)
            out.logits = interpolate_logits(logits[rows:], logits[:rows], weight)  # (B, T, V)
            return out

        handle = decoder_layers(model)[0].register_forward_hook(reset_unaligned, with_kwargs=True)
        model.forward = types.MethodType(two_stream_forward, model)
        self._active = True
        try:
            yield
        finally:
            self._active = False
            handle.remove()
            if had_own_forward:
                model.forward = original_forward
            else:
                del model.forward

    def forward(self, *args, c: float | None = None, **kwargs):
        """One forward pass of both streams; ``.logits`` is the interpolation ``(B, T, V)``."""
        with self.streams(c):
            return self.model(*args, **kwargs)

    def generate(self, *args, c: float | None = None, **kwargs):
        """``model.generate`` with the two streams; ``c`` overrides ``self.c`` for this call."""
        if (kwargs.get("num_beams") or getattr(self.generation_config, "num_beams", 1) or 1) > 1:
            raise InRaError("InRaTwoStream supports greedy and sampled generation, not beam search")
        with self.streams(c):
            return self.model.generate(*args, **kwargs)
