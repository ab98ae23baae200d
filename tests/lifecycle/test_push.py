"""`trl-reason push` against a loopback Hub: the files are complete, the card renders the recipe and results, the
pushed folder loads with from_pretrained, and the token appears in no file or log."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import torch
import yaml

from fake_hub import FakeHub
from lifecycle_helpers import probe_env, probe_manager, run_cli, trl_reason


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_push_uploads_a_complete_loadable_repo_without_leaking_the_token(tmp_path, finished_run, probe_site):
    token = "hf_" + secrets.token_hex(16)
    with FakeHub(tmp_path / "hub") as hub:
        env = probe_env(probe_site, HF_ENDPOINT=hub.endpoint, HF_TOKEN=token, HF_HUB_DISABLE_TELEMETRY=1,
                        HF_HOME=tmp_path / "hf-home", NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
        result = run_cli(trl_reason("push", str(finished_run), "--repo-id", "tester/lifecycle-run"), env, tmp_path)
    repo = tmp_path / "hub" / "tester" / "lifecycle-run"
    assert hub.unserved == []
    assert hub.repos["tester/lifecycle-run"]["visibility"] == "private"  # hub.private defaults to true
    assert len(hub.commits) == 1

    # complete: model, tokenizer, card, run records, plots; no training state
    pushed = _files(repo)
    final = finished_run / "final"
    expected = {"README.md", "recipe.resolved.yaml", "metrics.jsonl", "results.json", "provenance.json",
                "summary.md", "plots/overview.png", "plots/reward.png", "plots/kl.png"}
    expected |= {name for name in _files(final) if name not in ("training_args.bin", "README.md")}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= expected
    assert expected <= pushed, expected - pushed
    assert not pushed & {"optimizer.pt", "scheduler.pt", "training_args.bin", "plugin_state.pt", "rng_state.pth"}
    for name in expected - {"README.md"}:
        local = final / name if (final / name).exists() else finished_run / name
        assert (repo / name).read_bytes() == local.read_bytes(), name

    # the model card: metadata, methods with paper links, the plugin's section, results, recipe, versions
    card = (repo / "README.md").read_text()
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["library_name"] == "transformers" and "lifecycle_probe" in front["tags"]
    assert "https://arxiv.org/abs/2402.03300" in card
    assert "## Lifecycle probe" in card  # from the plugin's model_card_sections hook
    results = card[card.index("## Results"):card.index("## Recipe")]
    assert "| train reward (first / last step) |" in results and "| train kl (first / last step) |" in results
    assert "| optimizer steps |  | 4 |" in results
    recipe_block = card[card.index("```yaml") + 7:card.index("```", card.index("```yaml") + 7)]
    assert yaml.safe_load(recipe_block)["plugins"] == {"lifecycle_probe": {}}
    assert "| trl | 1.16" in card and "| lifecycle_probe | trl-reason-lifecycle-probe | 0.0.1 |" in card
    assert (finished_run / "README.md").read_text() == card  # ours replaced TRL's in the output dir

    # loads like any Hub model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(repo)
    reference = AutoModelForCausalLM.from_pretrained(final)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), reference.state_dict().values()))
    assert AutoTokenizer.from_pretrained(repo)("What is 1 + 2?")["input_ids"]

    # the token was sent (as the Authorization header) and is written nowhere
    assert all(r["headers"].get("authorization") == f"Bearer {token}" for r in hub.requests)
    assert token not in result.stdout + result.stderr
    for root in (finished_run, tmp_path / "hub", tmp_path / "hf-home"):
        for path in root.rglob("*"):
            if path.is_file():
                assert token.encode() not in path.read_bytes(), path


def test_recipe_push_at_end_and_checkpoint_push(tmp_path, finished_run, monkeypatch):
    """`hub.push: end` (what run_recipe calls after training) and `every_save` (a checkpoint's model only)."""
    import huggingface_hub.constants

    from trl_reasoning.lifecycle.hub import load_run_recipe, push_checkpoint
    from trl_reasoning.run import _finish_lifecycle

    recipe = load_run_recipe(finished_run)
    recipe.hub.repo_id, recipe.hub.push, recipe.hub.private = "tester/at-end", "end", False
    with FakeHub(tmp_path / "hub") as hub:
        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", hub.endpoint)
        results: dict = {}
        _finish_lifecycle(recipe, results, str(finished_run), probe_manager())
        assert results["hub"].endswith("/tester/at-end")
        assert push_checkpoint(finished_run / "checkpoint-4", finished_run, "tester/ckpt", recipe=recipe,
                               pm=probe_manager())
    assert hub.repos["tester/at-end"]["visibility"] == "public"
    assert "model.safetensors" in _files(tmp_path / "hub" / "tester" / "at-end")
    ckpt = _files(tmp_path / "hub" / "tester" / "ckpt")
    assert {"model.safetensors", "config.json", "README.md", "metrics.jsonl"} <= ckpt
    assert not ckpt & {"optimizer.pt", "scheduler.pt", "rng_state.pth", "plugin_state.pt",
                       "trl_reasoning_checkpoint.json"}


def test_push_refuses_a_run_without_a_model(tmp_path):
    from trl_reasoning.lifecycle.hub import HubError, push_run

    with pytest.raises(HubError, match="recipe.resolved.yaml"):
        push_run(tmp_path, repo_id="me/x")
