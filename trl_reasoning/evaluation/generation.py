"""Generation backends for evaluation: transformers ``generate`` (always available) and vLLM (when installed).

Both take rendered prompt strings and :class:`SamplingSettings` and return, per prompt, ``n`` :class:`Completion`
objects with the text, the number of completion tokens and whether generation stopped or hit the token limit::

    backend = TransformersBackend(model, tokenizer, batch_size=16)
    prompts = render_prompts(tokenizer, ["What is 2 + 3?"], template="qwen25-math-cot")
    [[completion]] = backend.generate(prompts, SamplingSettings(n=1, temperature=0.0, max_new_tokens=64))
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from trl_reasoning.data.prompts import PromptFormat


@dataclass(frozen=True)
class SamplingSettings:
    n: int = 1
    temperature: float = 0.0  # 0 means greedy
    top_p: float = 1.0
    max_new_tokens: int = 512
    seed: int = 0

    def __post_init__(self):
        if self.n < 1:
            raise ValueError(f"n (samples per problem) must be at least 1, got {self.n}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 means greedy), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must lie in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Completion:
    text: str
    num_tokens: int  # completion tokens, the stop token included
    finish_reason: str  # "stop" or "length"


class Backend(Protocol):
    name: str

    def generate(self, prompts: Sequence[str], settings: SamplingSettings) -> list[list[Completion]]: ...


# --- prompts --------------------------------------------------------------------------------------------------


def render_prompts(tokenizer, problems: Sequence[str], template: str | dict | PromptFormat = "qwen25-math-cot",
                   system_prompt: str | None = None, user_template: str = "{problem}",
                   few_shot: list[dict] | None = None) -> list[str]:
    """The text each problem is given as: ``PromptFormat.to_text`` (messages through the chat template).

    ``template`` is a ``PromptFormat``, a template name (``chat``, ``qwen25-math-cot``, ``plain``, ``custom``, ...)
    or a dict ``{"system": ..., "user": "...{problem}..."}``; the other arguments apply to a name or a dict.
    """
    fmt = template if isinstance(template, PromptFormat) else PromptFormat.from_template(
        template, system_prompt, user_template, few_shot)
    return [fmt.to_text(tokenizer, problem) for problem in problems]


# --- transformers ---------------------------------------------------------------------------------------------


class TransformersBackend:
    """Batched ``model.generate`` with left padding; works on CPU and GPU.

    ``batch_size`` counts sequences (prompts x samples). Each batch is seeded with ``settings.seed`` plus the index
    of its first prompt, so a run is reproducible for a given batch size. The seeding happens inside a forked
    random state: the caller's torch generators (CPU and the model's GPU) are as they were afterwards, so an
    evaluation during training leaves the training run's sampling unchanged. Greedy decoding with ``n > 1``
    generates once per prompt and repeats the completion: the copies would be identical anyway.
    """

    name = "transformers"

    def __init__(self, model, tokenizer, batch_size: int = 16):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.generate_calls = 0  # how many times model.generate ran (tests count it)

    def _stop_token_ids(self) -> list[int]:
        ids = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        if ids is None:
            ids = self.tokenizer.eos_token_id
        ids = [ids] if isinstance(ids, int) else list(ids or [])
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in ids:
            ids.append(self.tokenizer.eos_token_id)
        return ids

    def generate(self, prompts: Sequence[str], settings: SamplingSettings) -> list[list[Completion]]:
        import torch

        device = getattr(self.model, "device", None)
        gpus = [device.index or 0] if getattr(device, "type", "cpu") == "cuda" else []
        with torch.random.fork_rng(devices=gpus):
            return self._generate(prompts, settings)

    def _generate(self, prompts: Sequence[str], settings: SamplingSettings) -> list[list[Completion]]:
        import torch

        samples_per_call = 1 if settings.greedy else settings.n
        prompts_per_batch = max(1, self.batch_size // samples_per_call)
        stop_ids = self._stop_token_ids()
        pad_id = self.tokenizer.pad_token_id
        if pad_id is None:
            pad_id = stop_ids[0]
        results: list[list[Completion]] = []
        was_training = self.model.training
        self.model.eval()
        previous_side = self.tokenizer.padding_side
        self.tokenizer.padding_side = "left"
        try:
            for start in range(0, len(prompts), prompts_per_batch):
                batch = list(prompts[start:start + prompts_per_batch])
                encoded = self.tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False)
                encoded = {key: value.to(self.model.device) for key, value in encoded.items()}
                kwargs: dict[str, Any] = {
                    "max_new_tokens": settings.max_new_tokens, "num_return_sequences": samples_per_call,
                    "eos_token_id": stop_ids, "pad_token_id": pad_id,
                    # a model in training under gradient checkpointing has config.use_cache False: without the
                    # KV cache every new token would recompute the whole sequence
                    "use_cache": True,
                }
                if settings.greedy:
                    kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
                else:
                    kwargs.update(do_sample=True, temperature=settings.temperature, top_p=settings.top_p, top_k=0)
                torch.manual_seed(settings.seed + start)
                with torch.no_grad():
                    output = self.model.generate(**encoded, **kwargs)  # [batch * samples, prompt + new]
                self.generate_calls += 1
                new_tokens = output[:, encoded["input_ids"].shape[1]:]  # [batch * samples, new]
                for prompt_index in range(len(batch)):
                    rows = new_tokens[prompt_index * samples_per_call:(prompt_index + 1) * samples_per_call]
                    completions = [self._completion(row.tolist(), stop_ids, pad_id) for row in rows]
                    if len(completions) < settings.n:
                        completions = completions * settings.n
                    results.append(completions)
        finally:
            self.tokenizer.padding_side = previous_side
            if was_training:
                self.model.train()
        return results

    def _completion(self, token_ids: list[int], stop_ids: list[int], pad_id: int) -> Completion:
        for position, token in enumerate(token_ids):
            if token in stop_ids:
                kept = token_ids[:position]
                return Completion(self.tokenizer.decode(kept, skip_special_tokens=True), position + 1, "stop")
        while token_ids and token_ids[-1] == pad_id and pad_id not in stop_ids:
            token_ids = token_ids[:-1]
        return Completion(self.tokenizer.decode(token_ids, skip_special_tokens=True), len(token_ids), "length")


# --- vLLM ------------------------------------------------------------------------------------------------------


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None


def vllm_sampling_kwargs(settings: SamplingSettings) -> dict[str, Any]:
    """Keyword arguments for ``vllm.SamplingParams`` that match ``settings`` (pure, testable without vLLM)."""
    kwargs: dict[str, Any] = {"n": settings.n, "max_tokens": settings.max_new_tokens, "seed": settings.seed}
    if settings.greedy:
        kwargs.update(temperature=0.0, top_p=1.0)
    else:
        kwargs.update(temperature=settings.temperature, top_p=settings.top_p)
    return kwargs


def vllm_engine_kwargs(model_path: str, *, dtype: str = "auto", seed: int = 0,
                       gpu_memory_utilization: float = 0.9, max_model_len: int | None = None) -> dict[str, Any]:
    """Keyword arguments for ``vllm.LLM`` (pure). vLLM loads weights from disk, never from a model in memory."""
    kwargs: dict[str, Any] = {"model": model_path, "dtype": dtype, "seed": seed,
                              "gpu_memory_utilization": gpu_memory_utilization}
    if max_model_len is not None:
        kwargs["max_model_len"] = max_model_len
    return kwargs


class VLLMBackend:
    """A thin pass-through to ``vllm.LLM.generate``; needs ``pip install trl-reasoning[vllm]`` and a GPU."""

    name = "vllm"

    def __init__(self, model_path: str, **engine_kwargs):
        if not vllm_available():
            raise RuntimeError(
                "the vllm backend needs vLLM: pip install 'trl-reasoning[vllm]' (a CUDA machine is required); "
                "or use --backend transformers"
            )
        import vllm

        self.llm = vllm.LLM(**vllm_engine_kwargs(model_path, **engine_kwargs))
        self.generate_calls = 0

    def generate(self, prompts: Sequence[str], settings: SamplingSettings) -> list[list[Completion]]:
        import vllm

        params = vllm.SamplingParams(**vllm_sampling_kwargs(settings))
        outputs = self.llm.generate(list(prompts), params)
        self.generate_calls += 1
        return [
            [Completion(o.text, len(o.token_ids), "length" if o.finish_reason == "length" else "stop")
             for o in request.outputs]
            for request in outputs
        ]
