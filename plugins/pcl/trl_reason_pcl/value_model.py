"""PCL's value model: ``V(x) in [0, 1]``, the predicted pass rate of prompt ``x`` under the current policy.

``V(x) = sigmoid(w . h(x) + b)`` where ``h(x)`` is the last layer's hidden state at the prompt's last token,
standardised (parameter-free layer norm) and scaled to unit L2 norm, so a head step of a given learning rate moves
the logit by about the same amount whatever the backbone's activation scale:

* ``separate`` (default): ``h`` from its own LM backbone (``AutoModel``, loaded from ``value_model_path``, by default
  the policy's own starting point, as the paper's "same-sized value model"), trained with the head unless
  ``train_backbone: false``;
* ``policy_features``: ``h`` from the policy's current backbone, frozen (no gradient reaches the policy); only the
  head trains. Costs one policy forward over the pool and no second model.

The head starts at ``w = 0, b = 0``, so every prompt is predicted 0.5 until the first fit: the first selection
keeps the sampler's own prompts (ties keep pool order). The fit minimises the mean squared error between ``V(x)``
and the observed pass rate, one AdamW step per update over the whole batch (gradients accumulated over
micro-batches), so the forward of the first update yields the predictions the policy was selected with.
The backbone stays in ``eval()`` mode (no dropout), so every process computes the same update from the same data.
"""

from __future__ import annotations

import contextlib

import torch


def prompt_text(prompt, tokenizer) -> str:
    """The prompt as the text the value model reads: the chat template (with the generation prompt) for messages."""
    if isinstance(prompt, str):
        return prompt
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    return "\n".join(str(m.get("content", "")) for m in prompt)


def _backbone(model):
    """The transformer body of a causal LM (no LM head), through DDP/PEFT wrappers."""
    model = getattr(model, "module", model)
    if hasattr(model, "get_base_model"):
        model = model.get_base_model()
    return getattr(model, getattr(model, "base_model_prefix", ""), model)


class PromptValueModel(torch.nn.Module):
    """A scalar head on an LM backbone's last-token hidden state (see the module docstring)."""

    def __init__(self, backbone, tokenizer, hidden_size: int, *, train_backbone: bool, max_prompt_tokens: int,
                 batch_size: int, owns_backbone: bool = True):
        super().__init__()
        self.owns_backbone = owns_backbone
        if owns_backbone:
            self.backbone = backbone
        else:
            self._frozen = [backbone]  # a list: not registered as a submodule, so not in state_dict / parameters
        self.tokenizer = tokenizer
        self.train_backbone = train_backbone and owns_backbone
        self.max_prompt_tokens = max_prompt_tokens
        self.batch_size = batch_size
        self.head = torch.nn.Linear(hidden_size, 1)
        self.autocast_dtype: torch.dtype | None = None  # the backbone's compute dtype (the trainer's bf16/fp16)
        torch.nn.init.zeros_(self.head.weight)
        torch.nn.init.zeros_(self.head.bias)
        if owns_backbone:
            backbone.eval()
            backbone.requires_grad_(self.train_backbone)

    @property
    def body(self):
        return self.backbone if self.owns_backbone else _backbone(self._frozen[0])

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def _encode(self, texts: list[str]) -> dict:
        return self.tokenizer(texts, return_tensors="pt", padding=True, padding_side="right", truncation=True,
                              max_length=self.max_prompt_tokens, add_special_tokens=False).to(self.device)

    def features(self, texts: list[str]) -> torch.Tensor:
        """(N, H) last-token hidden states."""
        enc = self._encode(texts)
        grad = self.train_backbone and torch.is_grad_enabled()
        autocast = (torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)
                    if self.autocast_dtype is not None else contextlib.nullcontext())
        with torch.set_grad_enabled(grad), autocast:  # fp32 weights, bf16 compute
            hidden = self.body(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
        last = enc["attention_mask"].sum(dim=1) - 1  # (N,)
        feats = hidden[torch.arange(hidden.size(0), device=hidden.device), last].float()  # (N, H)
        # Standardise, then scale to unit L2 norm: an AdamW step moves every weight by about lr, so on raw hidden
        # states (sum |h_i| in the hundreds) one step of lr 1e-2 saturated the sigmoid (measured on SmolLM2).
        feats = torch.nn.functional.layer_norm(feats, feats.shape[-1:]) / feats.size(-1) ** 0.5  # (N, H)
        return feats.to(self.head.weight.dtype) if grad else feats.detach().to(self.head.weight.dtype)

    def forward(self, texts: list[str]) -> torch.Tensor:
        """(N,) predicted pass rates in [0, 1]."""
        return torch.sigmoid(self.head(self.features(texts)).squeeze(-1))  # (N,)

    @torch.no_grad()
    def predict(self, texts: list[str]) -> torch.Tensor:
        """(N,) predictions on CPU, in micro-batches of ``batch_size``."""
        out = [self(texts[i:i + self.batch_size]).float().cpu() for i in range(0, len(texts), self.batch_size)]
        return torch.cat(out) if out else torch.zeros(0)  # (N,)

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def fit(self, texts: list[str], targets: torch.Tensor, optimizer, updates: int = 1) -> dict:
        """``updates`` AdamW steps on the mean squared error to ``targets (N,)``.

        Returns ``predicted`` (N,): the predictions before the first step, ``loss_before`` and ``loss_after`` (the
        loss of the last update's forward, i.e. before its own step)."""
        targets = targets.float().to(self.device)  # (N,)
        n = len(texts)
        predicted, losses = None, []
        for update in range(updates):
            optimizer.zero_grad(set_to_none=True)
            preds, total = [], 0.0
            for i in range(0, n, self.batch_size):
                chunk = self(texts[i:i + self.batch_size])  # (b,)
                loss = ((chunk.float() - targets[i:i + self.batch_size]) ** 2).sum() / n
                loss.backward()
                preds.append(chunk.detach().float().cpu())
                total += loss.item()
            optimizer.step()
            losses.append(total)
            if update == 0:
                predicted = torch.cat(preds)  # (N,)
        return {"predicted": predicted, "loss_before": losses[0], "loss_after": losses[-1]}
