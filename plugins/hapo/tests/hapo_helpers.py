"""Test helpers for the HAPO plugin: a correctness reward that is right on about half of the random tiny model's
answers, an observer plugin that records every scored batch, and a recipe builder.

``parity_correct`` marks a completion correct when the sum of its token ids is even: with the tiny random model
this gives groups with mixed, all-right and all-wrong answers. ``EOS_BIAS`` makes the tiny model stop at random
lengths (it would otherwise always hit ``max_completion_length``), so lengths, and so HAPO's rewards, vary.
"""

from __future__ import annotations

from trl_reasoning import hookimpl
from trl_reasoning.testing import ParityCorrect

RECORD: list[dict] = []  # one entry per scored generation batch, appended by ``on_rewards``
EOS_BIAS = {"sequence_bias": [[[2], 7.5]]}  # token 2 is <|im_end|>, SmolLM2's EOS (and the tiny model's)


@hookimpl
def register_rewards(register):
    register("parity_correct", ParityCorrect)


@hookimpl
def on_rewards(batch):
    RECORD.append({
        "step": batch.step,
        "prompt_ids": list(batch.prompt_ids),
        "variants": list(batch.variants),
        "lengths": batch.completion_lengths.clone(),
        "correct": batch.correct.clone(),
        "hapo_length": batch.reward("hapo_length").clone() if "hapo_length" in batch.reward_names else None,
    })


def plugin_manager():
    """Only the plugins these tests need (insulated from whatever else is installed)."""
    import sys

    import trl_reason_hapo.plugin

    from trl_reasoning.plugins.manager import PluginManager

    return PluginManager(extra_modules=[("hapo", trl_reason_hapo.plugin), ("hapo_observer", sys.modules[__name__])],
                         discover=False)


def recipe_dict(model_path: str, output_dir: str, **trainer) -> dict:
    return {
        "model": {"name_or_path": model_path},
        "data": {"train": "embedded:arithmetic", "options": {"n_train": 4, "n_test": 4}},
        "trainer": {"algorithm": "grpo", "max_steps": 2, "num_generations": 4, "per_device_train_batch_size": 8,
                    "max_completion_length": 16, "learning_rate": 1.0e-3, "temperature": 1.0,
                    "generation_kwargs": dict(EOS_BIAS), **trainer},
        "rewards": [{"name": "parity_correct"}],
        "plugins": {"hapo": {}, "hapo_observer": {}},
        "output_dir": output_dir,
    }


class ReplayHistory:
    """An independent replay of HAPO's history (shortest or mean correct length per (problem, variant)), written
    with plain dicts so the tests do not check the plugin against its own code."""

    def __init__(self, mode: str = "min"):
        self.mode = mode
        self.lengths: dict[tuple[int, str], list[int]] = {}

    def lookup(self, prompt_ids, variants=None):
        import torch

        variants = variants or [""] * len(prompt_ids)
        out = []
        for pid, variant in zip(prompt_ids, variants):
            seen = self.lengths.get((int(pid), variant))
            out.append(float("nan") if not seen else min(seen) if self.mode == "min" else sum(seen) / len(seen))
        return torch.tensor(out, dtype=torch.float64)  # (B,)

    def update(self, prompt_ids, lengths, correct, variants=None) -> None:
        variants = variants or [""] * len(prompt_ids)
        for pid, variant, length, ok in zip(prompt_ids, variants, lengths.tolist(), correct.tolist()):
            if ok:
                self.lengths.setdefault((int(pid), variant), []).append(int(length))
