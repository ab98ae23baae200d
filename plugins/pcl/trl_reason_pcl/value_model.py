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
keeps the sampler's own prompts (ties keep pool order). ``predict`` reads the whole pool in one forward (or
length-sorted forwards of ``predict_batch_size``). The fit minimises the mean squared error between ``V(x)`` and the
observed pass rate, one AdamW step per update over the whole batch: a trained backbone accumulates gradients over
micro-batches of ``batch_size``; a frozen one computes the features once, or takes them from the prediction's
cache (``cache_key``), and trains the head alone.
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
                 batch_size: int, owns_backbone: bool = True, predict_batch_size: int | None = None):
        super().__init__()
        self.owns_backbone = owns_backbone
        if owns_backbone:
            self.backbone = backbone
        else:
            self._frozen = [backbone]  # a list: not registered as a submodule, so not in state_dict / parameters
        self.tokenizer = tokenizer
        self.train_backbone = train_backbone and owns_backbone
        self.max_prompt_tokens = max_prompt_tokens
        self.batch_size = batch_size  # prompts per fit micro-batch
        self.predict_batch_size = predict_batch_size  # prompts per prediction forward; None: the whole pool
        self._cache: tuple | None = None  # (cache_key, {text: (H,) features}) of the last keyed predict
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

    def _length_order(self, texts: list[str]) -> list[int]:
        """Indices of ``texts`` by token length (stable): consecutive prompts pad to about the same length."""
        ids = self.tokenizer(texts, add_special_tokens=False, truncation=True, max_length=self.max_prompt_tokens)
        return sorted(range(len(texts)), key=lambda i: len(ids["input_ids"][i]))

    @torch.no_grad()
    def predict(self, texts: list[str], cache_key=None) -> torch.Tensor:
        """(N,) predictions on CPU: one forward over all ``texts`` (``predict_batch_size`` None), else length-sorted
        forwards of ``predict_batch_size``. With a ``cache_key`` and a frozen backbone the features are kept, so a
        ``fit`` with the same key on some of these texts runs the head alone (no second backbone forward)."""
        if not texts:
            return torch.zeros(0)
        order = self._length_order(texts) if self.predict_batch_size else list(range(len(texts)))
        step = self.predict_batch_size or len(texts)
        feats = torch.empty(len(texts), self.head.in_features, device=self.device, dtype=self.head.weight.dtype)
        for start in range(0, len(texts), step):
            chunk = order[start:start + step]
            feats[chunk] = self.features([texts[i] for i in chunk])  # (b, H)
        if cache_key is not None and not self.train_backbone:
            self._cache = (cache_key, dict(zip(texts, feats)))
        return torch.sigmoid(self.head(feats).squeeze(-1)).float().cpu()  # (N,)

    def cached_features(self, texts: list[str], cache_key) -> torch.Tensor | None:
        """(N, H) features ``predict`` kept under ``cache_key`` for every one of ``texts``, else None."""
        if cache_key is None or self.train_backbone or self._cache is None or self._cache[0] != cache_key:
            return None
        kept = self._cache[1]
        if not all(t in kept for t in texts):
            return None
        return torch.stack([kept[t] for t in texts])  # (N, H)

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def fit(self, texts: list[str], targets: torch.Tensor, optimizer, updates: int = 1, cache_key=None) -> dict:
        """``updates`` AdamW steps on the mean squared error to ``targets (N,)``.

        A frozen backbone's features are computed once (or taken from ``predict``'s cache under ``cache_key``) and
        every update trains the head on them; a trained backbone runs forward and backward in micro-batches of
        ``batch_size``. Returns ``predicted`` (N,): the predictions before the first step, ``loss_before`` and
        ``loss_after`` (the loss of the last update's forward, i.e. before its own step)."""
        targets = targets.float().to(self.device)  # (N,)
        if not self.train_backbone:
            return self._fit_head(texts, targets, optimizer, updates, cache_key)
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

    def _fit_head(self, texts, targets, optimizer, updates, cache_key) -> dict:
        feats = self.cached_features(texts, cache_key)  # (N, H) or None
        if feats is None:
            with torch.no_grad():
                feats = torch.cat([self.features(texts[i:i + self.batch_size])
                                   for i in range(0, len(texts), self.batch_size)])  # (N, H)
        predicted, losses = None, []
        for update in range(updates):
            optimizer.zero_grad(set_to_none=True)
            preds = torch.sigmoid(self.head(feats).squeeze(-1))  # (N,)
            loss = ((preds.float() - targets) ** 2).mean()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if update == 0:
                predicted = preds.detach().float().cpu()  # (N,)
        return {"predicted": predicted, "loss_before": losses[0], "loss_after": losses[-1]}
