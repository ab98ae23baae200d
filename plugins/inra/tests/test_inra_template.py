"""InRa's SFT data path keeps the target as written: `data.template: deepseek3` (the authors' LLaMA-Factory format)
puts a `<think>...</think>` target in the loss whole, and a chat template that strips reasoning the way
DeepSeek-R1-Distill's does is refused before training.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROWS = Path(__file__).parent / "fixtures" / "short_cot_rows.jsonl"
STRIPPING_TEMPLATE = Path(__file__).parents[2] / "trra" / "tests" / "fixtures" / "reasoning_stripping_chat_template.jinja"


@pytest.fixture(autouse=True)
def only_this_plugin(monkeypatch):
    """Discover only this plugin, so another installed plugin's import error cannot fail these tests."""
    monkeypatch.setenv("TRL_REASONING_LOAD_PLUGINS", "inra")


@pytest.fixture(scope="module")
def stripping_model(tiny_model_path, tmp_path_factory) -> str:
    """The tiny model made R1-Distill-like where it matters: a chat template that deletes assistant text up to
    `</think>`, and R1-Distill's turn and thinking markers as tokens of their own (embeddings resized)."""
    from trl_reasoning.testing import make_r1_like_model

    return make_r1_like_model(tiny_model_path, tmp_path_factory.mktemp("r1-like") / "model",
                              STRIPPING_TEMPLATE.read_text(encoding="utf-8"))


def inra_recipe(model: str, output_dir: Path, template: str) -> dict:
    return {
        "model": {"name_or_path": model},
        "data": {"train": str(ROWS), "problem_column": "instruction", "template": template},
        "trainer": {"algorithm": "sft", "completion_column": "output", "max_steps": 1,
                    "per_device_train_batch_size": 3, "learning_rate": 1.0e-4, "max_length": 128},
        "plugins": {"inra": {"c": 1.0, "source_layer": 0, "train_adapter_only": True, "save_adapter": False}},
        "output_dir": str(output_dir),
    }


def rows() -> list[dict]:
    return [json.loads(line) for line in ROWS.read_text(encoding="utf-8").splitlines()]


def test_deepseek3_template_puts_the_whole_target_in_the_training_tokens(stripping_model, tmp_path):
    from transformers import AutoTokenizer

    from trl_reasoning.plugins.manager import PluginManager
    from trl_reasoning.config.recipe import recipe_from_dict
    from trl_reasoning.run import build_trainer, prepare

    recipe = recipe_from_dict(inra_recipe(stripping_model, tmp_path / "run", "deepseek3"))
    trainer = build_trainer(prepare(recipe, PluginManager()), str(tmp_path / "run"))
    tokenizer = AutoTokenizer.from_pretrained(stripping_model)
    assert len(trainer.train_dataset) == 3
    for tokenised, row in zip(trainer.train_dataset, rows()):
        ids, labels = tokenised["input_ids"], tokenised["labels"]  # labels: -100 outside the loss
        prompt_ids = [t for t, label in zip(ids, labels) if label == -100]
        completion_ids = [label for label in labels if label != -100]
        # LLaMA-Factory's `deepseek3`: BOS + "<｜User｜>{q}<｜Assistant｜>", then the response and EOS
        user = row["instruction"]
        assert tokenizer.decode(prompt_ids) == f"<|im_start|><\uff5cUser\uff5c>{user}<\uff5cAssistant\uff5c>"
        assert tokenizer.decode(completion_ids) == row["output"] + "<|im_end|>"
        assert "<think>" in row["output"] and row["output"].split("</think>")[0] in tokenizer.decode(completion_ids)
    # the InRa layer is in place and alone trainable on this path
    trainable = {name for name, p in trainer.model.named_parameters() if p.requires_grad}
    assert trainable and all(".layers.0." in name for name in trainable)


def test_the_cli_refuses_a_chat_template_that_strips_the_target(stripping_model, tmp_path, capsys):
    from trl_reasoning.cli.main import main

    recipe = tmp_path / "chat.yaml"
    recipe.write_text(json.dumps(inra_recipe(stripping_model, tmp_path / "bad", "chat")))
    assert main(["run", str(recipe), "--set", "hub.push=never"]) == 2
    err = capsys.readouterr().err
    assert "data.template" in err and "</think>" in err and "deepseek3" in err
    assert not (tmp_path / "bad" / "metrics.jsonl").exists()

    recipe.write_text(json.dumps(inra_recipe(stripping_model, tmp_path / "good", "deepseek3")))
    assert main(["run", str(recipe), "--set", "hub.push=never"]) == 0
    assert (tmp_path / "good" / "metrics.jsonl").exists()
