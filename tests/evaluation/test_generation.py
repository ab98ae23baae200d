"""Generation backends: transformers on the tiny model, the vLLM pass-through at config level, prompt rendering."""

from __future__ import annotations

import pytest

from trl_reasoning.evaluation.generation import (
    SamplingSettings,
    TransformersBackend,
    VLLMBackend,
    render_prompts,
    vllm_available,
    vllm_engine_kwargs,
    vllm_sampling_kwargs,
)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (SamplingSettings(n=1, temperature=0.0, top_p=0.9, max_new_tokens=3072, seed=0),
         {"n": 1, "temperature": 0.0, "top_p": 1.0, "max_tokens": 3072, "seed": 0}),
        (SamplingSettings(n=8, temperature=0.6, top_p=0.95, max_new_tokens=512, seed=3),
         {"n": 8, "temperature": 0.6, "top_p": 0.95, "max_tokens": 512, "seed": 3}),
    ],
)
def test_vllm_sampling_kwargs(settings, expected):
    assert vllm_sampling_kwargs(settings) == expected


def test_vllm_engine_kwargs():
    assert vllm_engine_kwargs("/m", seed=1, max_model_len=4096) == {
        "model": "/m", "dtype": "auto", "seed": 1, "gpu_memory_utilization": 0.9, "max_model_len": 4096}


@pytest.mark.skipif(vllm_available(), reason="vLLM is installed here")
def test_vllm_backend_without_vllm_says_how_to_get_it():
    with pytest.raises(RuntimeError, match=r"pip install 'trl-reasoning\[vllm\]'.*--backend transformers"):
        VLLMBackend("/some/model")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"n": 0}, "n .samples per problem"), ({"temperature": -1}, "temperature"), ({"top_p": 0}, "top_p"),
     ({"max_new_tokens": 0}, "max_new_tokens")],
)
def test_sampling_settings_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SamplingSettings(**kwargs)


def test_render_prompts(tiny_model_and_tokenizer):
    _, tokenizer = tiny_model_and_tokenizer
    assert render_prompts(tokenizer, ["1+1?"], "plain") == ["1+1?"]
    [cot] = render_prompts(tokenizer, ["1+1?"], "qwen25-math-cot")
    assert "put your final answer within \\boxed{}" in cot and cot.rstrip().endswith("assistant")
    [custom] = render_prompts(tokenizer, ["1+1?"], {"system": "Be brief.", "user": "Q: {problem}"})
    assert "Be brief." in custom and "Q: 1+1?" in custom
    with pytest.raises(ValueError, match="need a tokenizer with a chat template"):
        render_prompts(None, ["1+1?"], "chat")


def test_transformers_backend_samples_n_per_prompt_reproducibly(tiny_model_and_tokenizer):
    model, tokenizer = tiny_model_and_tokenizer
    prompts = render_prompts(tokenizer, ["What is 2 + 3?", "Compute 7 times 8, please."], "chat")
    settings = SamplingSettings(n=2, temperature=1.0, max_new_tokens=6, seed=1)
    mode = model.training
    backend = TransformersBackend(model, tokenizer, batch_size=4)
    first = backend.generate(prompts, settings)
    assert [len(samples) for samples in first] == [2, 2] and backend.generate_calls == 1
    for samples in first:
        for completion in samples:
            assert 1 <= completion.num_tokens <= 6 and completion.finish_reason in ("stop", "length")
            assert completion.finish_reason == "stop" or completion.num_tokens == 6
    assert backend.generate(prompts, settings) == first  # same seed, same batches: same samples
    assert model.training == mode  # generation leaves the train/eval mode as it found it


def test_greedy_batched_equals_unbatched(tiny_model_and_tokenizer):
    """Left padding must not change what a prompt generates."""
    model, tokenizer = tiny_model_and_tokenizer
    prompts = render_prompts(tokenizer, ["Hi", "A much longer question about numbers and sums?"], "chat")
    greedy = SamplingSettings(n=2, temperature=0.0, max_new_tokens=5)
    side = tokenizer.padding_side
    batched = TransformersBackend(model, tokenizer, batch_size=8).generate(prompts, greedy)
    single = TransformersBackend(model, tokenizer, batch_size=1).generate(prompts, greedy)
    assert [[c.text for c in s] for s in batched] == [[c.text for c in s] for s in single]
    assert all(samples[0] == samples[1] for samples in batched)  # greedy n=2: one generation, repeated
    assert tokenizer.padding_side == side  # restored after generation


def test_generation_leaves_the_callers_random_state_alone(tiny_model_and_tokenizer):
    """An evaluation in the middle of training must not reseed the training run's sampling."""
    import torch

    model, tokenizer = tiny_model_and_tokenizer
    prompts = render_prompts(tokenizer, ["What is 2 + 3?"], "chat")
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    TransformersBackend(model, tokenizer).generate(prompts, SamplingSettings(n=2, temperature=1.0, max_new_tokens=4,
                                                                            seed=7))
    assert torch.equal(torch.rand(3), expected)
