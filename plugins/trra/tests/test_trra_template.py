"""TrRa's training text keeps the long-CoT reasoning: `data.template: deepseek` puts the whole `<think>...</think>`
target in the loss, and a chat template that strips reasoning (as DeepSeek-R1-Distill's does) is refused.

The tiny model gets a chat template that, like R1-Distill's, keeps only the text after `</think>` in an assistant
turn (fixtures/reasoning_stripping_chat_template.jinja), so the failure is reproduced without the Hub.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
PAIRS = FIXTURES / "long_cot_pairs.jsonl"


@pytest.fixture(autouse=True)
def only_this_plugin(monkeypatch):
    """Discover only this plugin, so another installed plugin's import error cannot fail these tests."""
    monkeypatch.setenv("TRL_REASONING_LOAD_PLUGINS", "trra")


@pytest.fixture(scope="module")
def stripping_model(tiny_model_path, tmp_path_factory) -> str:
    """The tiny model made R1-Distill-like where it matters: a chat template that deletes assistant text up to
    `</think>`, and R1-Distill's turn and thinking markers as tokens of their own (embeddings resized)."""
    from trl_reasoning.testing import make_r1_like_model

    return make_r1_like_model(tiny_model_path, tmp_path_factory.mktemp("r1-like") / "model",
                              (FIXTURES / "reasoning_stripping_chat_template.jinja").read_text(encoding="utf-8"))


def chosen_texts() -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines()]
    return [(row["conversations"][-1]["value"], row["chosen"]["value"]) for row in rows]


def trra_recipe(model: str, output_dir: Path, template: str) -> dict:
    return {
        "model": {"name_or_path": model},
        "data": {"train": str(PAIRS), "problem_column": "conversations", "template": template},
        "trainer": {"algorithm": "distill", "completion_column": "chosen", "max_steps": 1,
                    "per_device_train_batch_size": 3, "learning_rate": 1.0e-4, "max_length": 256},
        "plugins": {"trra": {"aligned_model": model, "realign_lambda": 2.0}},
        "output_dir": str(output_dir),
    }


@pytest.mark.parametrize("template, system, prompt", [
    ("deepseek", None, "User: What is 2 + 3?\n\nAssistant:"),                      # LLaMA-Factory `deepseek`
    ("deepseek", "Be brief.", "Be brief.\n\nUser: What is 2 + 3?\n\nAssistant:"),
    ("deepseek3", None, "<\uff5cUser\uff5c>What is 2 + 3?<\uff5cAssistant\uff5c>"),        # LLaMA-Factory `deepseek3`
    ("deepseek3", "Be brief.", "Be brief.<\uff5cUser\uff5c>What is 2 + 3?<\uff5cAssistant\uff5c>"),
])
def test_literal_templates_render_llama_factory_formats(template, system, prompt):
    from trl_reasoning.data import render_prompt

    assert render_prompt("What is 2 + 3?", template, system_prompt=system) == prompt


def test_literal_templates_refuse_few_shot_turns():
    from trl_reasoning.data import DataError, render_prompt

    with pytest.raises(DataError, match="few_shot"):
        render_prompt("Q", "deepseek", few_shot=[{"problem": "1 + 1?", "solution": "2"}])


def test_the_fixture_template_strips_the_reasoning_as_r1_distill_does(stripping_model):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(stripping_model)
    problem, chosen = chosen_texts()[0]
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": problem}], tokenize=False,
                                           add_generation_prompt=True)
    full = tokenizer.apply_chat_template([{"role": "user", "content": problem},
                                          {"role": "assistant", "content": chosen}], tokenize=False)
    assert prompt == f"<|im_start|><\uff5cUser\uff5c>{problem}<\uff5cAssistant\uff5c><think>\n"
    summary = chosen.split("</think>")[-1]
    assert full == f"<|im_start|><\uff5cUser\uff5c>{problem}<\uff5cAssistant\uff5c>{summary}<|im_end|>"
    assert "Counting up" in chosen and "Counting up" not in full


def test_deepseek_template_puts_the_whole_reasoning_in_the_training_tokens(stripping_model, tmp_path):
    from transformers import AutoTokenizer

    from trl_reasoning.plugins.manager import PluginManager
    from trl_reasoning.config.recipe import recipe_from_dict
    from trl_reasoning.run import build_trainer, prepare

    recipe = recipe_from_dict(trra_recipe(stripping_model, tmp_path / "run", "deepseek"))
    trainer = build_trainer(prepare(recipe, PluginManager()), str(tmp_path / "run"))
    tokenizer = AutoTokenizer.from_pretrained(stripping_model)
    expected = chosen_texts()
    assert len(trainer.train_dataset) == len(expected)
    for row, (problem, chosen) in zip(trainer.train_dataset, expected):
        ids, labels = row["input_ids"], row["labels"]  # labels: the loss targets, -100 outside the completion
        prompt_ids = [t for t, label in zip(ids, labels) if label == -100]
        completion_ids = [t for t, label in zip(ids, labels) if label != -100]
        assert completion_ids == [label for label in labels if label != -100]
        # LLaMA-Factory's `deepseek` format: BOS + "User: {q}\n\nAssistant:", then the response and EOS
        assert tokenizer.decode(prompt_ids) == f"<|im_start|>User: {problem}\n\nAssistant:"
        assert tokenizer.decode(completion_ids) == chosen + "<|im_end|>"
        assert "<think>" in tokenizer.decode(completion_ids) and "Counting up" in tokenizer.decode(completion_ids)


def test_the_cli_trains_with_deepseek_and_refuses_a_stripping_chat_template(stripping_model, tmp_path, capsys):
    from trl_reasoning.cli.main import main

    good = tmp_path / "deepseek.yaml"
    good.write_text(json.dumps(trra_recipe(stripping_model, tmp_path / "good", "deepseek")))
    assert main(["run", str(good), "--set", "hub.push=never"]) == 0
    rows = [json.loads(line) for line in (tmp_path / "good" / "metrics.jsonl").read_text().splitlines()]
    tokens = [row["trra/tokens"] for row in rows if "trra/tokens" in row]
    assert tokens and tokens[0] > 3 * 40  # the KL covers the reasoning tokens, not only the short summary

    bad = tmp_path / "chat.yaml"
    bad.write_text(json.dumps(trra_recipe(stripping_model, tmp_path / "bad", "chat")))
    capsys.readouterr()
    assert main(["run", str(bad), "--set", "hub.push=never"]) == 2
    err = capsys.readouterr().err
    assert "data.template" in err and "</think>" in err and "deepseek" in err
    assert not (tmp_path / "bad" / "metrics.jsonl").exists()  # refused before any training step
