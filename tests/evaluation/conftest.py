"""Fixtures for the evaluation tests: a benchmark data dir, a tiny model, and a scripted generation backend."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from trl_reasoning.evaluation.generation import Completion

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_DATA = FIXTURES / "data"  # five rows each of gsm8k, math500 and aime24 (sources in its README.md)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The full benchmark files when ``TRL_REASONING_DATA_DIR`` is set, else the small fixtures in this folder."""
    configured = os.environ.get("TRL_REASONING_DATA_DIR")
    return Path(configured) if configured else FIXTURE_DATA


@pytest.fixture(scope="session")
def math_beyond_file() -> Path:
    return FIXTURES / "math_beyond_mini.jsonl"


@pytest.fixture(scope="session")
def tiny_model(tiny_model_path) -> str:
    """The project's 2-layer random Llama with SmolLM2's tokenizer (``trl_reasoning.testing``), as a directory."""
    return tiny_model_path


@pytest.fixture(scope="session")
def tiny_model_and_tokenizer(tiny_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    return AutoModelForCausalLM.from_pretrained(tiny_model), tokenizer


class _ScriptedBackend:
    """A generation backend that answers from a table: ``answers[prompt]`` is a list of completion texts.

    A prompt not in the table gets ``default``. ``generate_calls`` and ``prompts_seen`` show what was asked.
    ``fail_after`` raises on that call (0-based) to simulate an interrupted run.
    """

    name = "scripted"

    def __init__(self, answers: dict[str, list[str]] | None = None, default: str = "no idea",
                 fail_after: int | None = None):
        self.answers = answers or {}
        self.default = default
        self.fail_after = fail_after
        self.generate_calls = 0
        self.prompts_seen: list[str] = []

    def generate(self, prompts, settings):
        if self.fail_after is not None and self.generate_calls >= self.fail_after:
            raise KeyboardInterrupt("simulated interruption")
        self.generate_calls += 1
        self.prompts_seen.extend(prompts)
        out = []
        for prompt in prompts:
            texts = self.answers.get(prompt, [self.default] * settings.n)
            out.append([Completion(text, len(text.split()), "stop") for text in texts[: settings.n]])
        return out


@pytest.fixture
def scripted():
    """The ``ScriptedBackend`` class (tests build one with their own answer table)."""
    return _ScriptedBackend
