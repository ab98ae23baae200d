"""``ReasoningGRPOTrainer`` constructed the ways TRL's users construct ``GRPOTrainer`` (issue #21, item 6): with
``args=None`` (TRL builds its own plain ``GRPOConfig``), with a plain ``GRPOConfig``, and with
``load_best_model_at_end`` (whose save path imports ``TRAINER_STATE_NAME``). Real TRL, the tiny model, CPU."""

from __future__ import annotations

import json
import os

import datasets
import pytest
import torch
from trl import GRPOConfig, GRPOTrainer

from trl_reasoning.testing import ParityCorrect
from trl_reasoning.trainers import ReasoningGRPOConfig, ReasoningGRPOTrainer

PROMPTS = [f"What is {a} + {b}?" for a, b in [(1, 2), (3, 4), (5, 6), (7, 8), (2, 2), (9, 1), (4, 4), (6, 3)]]


def prompts_dataset():
    return datasets.Dataset.from_dict({"prompt": PROMPTS})


def small_config(output_dir, cls=GRPOConfig, **overrides):
    values = dict(output_dir=str(output_dir), max_steps=1, per_device_train_batch_size=4, num_generations=4,
                  max_completion_length=8, learning_rate=1e-2, report_to="none", use_cpu=True, bf16=False,
                  save_strategy="no", logging_steps=1, disable_tqdm=True, seed=7)
    return cls(**{**values, **overrides})


def test_args_none_behaves_as_trls_class(tiny_model_path, tmp_path, monkeypatch):
    """TRL makes ``GRPOConfig(f"{model_name}-GRPO")`` when ``args`` is None. On a GPU both classes train with it; on
    a CPU TRL's default config (bf16) is refused by transformers for both, with the same error (not our
    AttributeError on ``group_filter``)."""
    monkeypatch.chdir(tmp_path)  # TRL's default output_dir is relative to the working directory
    outcomes = {}
    for cls in (GRPOTrainer, ReasoningGRPOTrainer):
        try:
            trainer = cls(tiny_model_path, ParityCorrect(), train_dataset=prompts_dataset())
        except Exception as exc:  # compared below: the same failure for both classes
            outcomes[cls.__name__] = (type(exc), str(exc))
            continue
        assert type(trainer.args) is GRPOConfig
        trainer.args.max_steps = 1
        trainer.args.max_completion_length = 8
        trainer.max_completion_length = 8
        trainer.train()
        outcomes[cls.__name__] = ("trained", trainer.state.global_step)
    assert outcomes["ReasoningGRPOTrainer"] == outcomes["GRPOTrainer"]
    if not torch.cuda.is_available():
        assert outcomes["GRPOTrainer"][0] is ValueError and "bf16" in outcomes["GRPOTrainer"][1]


def test_trls_default_config_with_cpu_switches_trains(tiny_model_path, tmp_path):
    """The config TRL builds for ``args=None`` (its defaults: 8 prompts x 8 generations, 512 tokens), plain
    ``GRPOConfig``, made CPU-safe: our options take their defaults and a step trains."""
    args = GRPOConfig(str(tmp_path / "tiny-GRPO"), use_cpu=True, bf16=False, max_steps=1, report_to="none",
                      max_completion_length=16)
    trainer = ReasoningGRPOTrainer(tiny_model_path, ParityCorrect(), args=args, train_dataset=prompts_dataset())
    assert type(trainer.args) is GRPOConfig
    assert trainer.args.group_filter is None and trainer.args.pg_loss_coef == 1.0
    assert trainer.args.group_filter_max_rounds == 0
    assert trainer.args.warn_truncated_fraction == 0.5 and trainer.args.warn_zero_std_fraction == 0.9
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    trainer.train()
    assert trainer.state.global_step == 1
    changed = [n for n, p in trainer.model.named_parameters() if not torch.equal(before[n], p.detach())]
    assert changed, "one optimizer step changed no weight"


def test_plain_grpo_config_gives_the_same_step_as_trls_trainer(tiny_model_path, tmp_path):
    """No plugin active, a plain ``GRPOConfig``: the weights after one step equal those of TRL's own class."""
    weights = {}
    for cls in (GRPOTrainer, ReasoningGRPOTrainer):
        torch.manual_seed(0)
        trainer = cls(model=tiny_model_path, reward_funcs=ParityCorrect(), train_dataset=prompts_dataset(),
                      args=small_config(tmp_path / cls.__name__))
        trainer.train()
        weights[cls.__name__] = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    ours, theirs = weights["ReasoningGRPOTrainer"], weights["GRPOTrainer"]
    assert ours.keys() == theirs.keys()
    worst = max((ours[n] - theirs[n]).abs().max().item() for n in ours)
    assert worst == 0.0, f"max weight difference {worst}"


@pytest.mark.parametrize("config_class", [GRPOConfig, ReasoningGRPOConfig])
def test_load_best_model_at_end_saves_and_reloads_the_best_checkpoint(config_class, tiny_model_path, tmp_path):
    """The save after an evaluation moves ``best_model_checkpoint`` out of the staging directory (it used to fail
    with ImportError of TRAINER_STATE_NAME from transformers.trainer_utils)."""
    args = small_config(tmp_path / "run", cls=config_class, max_steps=2, eval_strategy="steps", eval_steps=1,
                        save_strategy="steps", save_steps=1, load_best_model_at_end=True,
                        metric_for_best_model="reward", greater_is_better=True, per_device_eval_batch_size=4)
    trainer = ReasoningGRPOTrainer(model=tiny_model_path, reward_funcs=ParityCorrect(),
                                   train_dataset=prompts_dataset(), eval_dataset=prompts_dataset().select(range(4)),
                                   args=args)
    trainer.train()
    best = trainer.state.best_model_checkpoint
    assert best is not None
    assert os.path.dirname(best) == str(tmp_path / "run"), best  # not under .incomplete-checkpoints/
    assert os.path.isfile(os.path.join(best, "trainer_state.json"))
    saved = json.loads(open(os.path.join(tmp_path / "run" / "checkpoint-2", "trainer_state.json")).read())
    assert saved["best_model_checkpoint"] == best
