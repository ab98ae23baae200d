"""What InRa cannot do is refused with exit status 2 and the reason, before any model loads: training with vLLM
generation (vLLM holds L layers, the policy L + 1) and ``trl-reason eval --backend vllm`` with ``--inra-c`` (the vLLM
backend loads the weights itself, so the two-stream model would be silently skipped)."""

from __future__ import annotations

import pytest
import yaml

from trl_reasoning.cli.main import main


@pytest.fixture(autouse=True)
def only_this_plugin(monkeypatch):
    """Discover only this plugin, so another installed plugin's import error cannot fail these tests."""
    monkeypatch.setenv("TRL_REASONING_LOAD_PLUGINS", "inra")


def _recipe(tmp_path, tiny_model_path, **trainer) -> str:
    path = tmp_path / "inra-grpo.yaml"
    path.write_text(yaml.safe_dump({
        "model": {"name_or_path": tiny_model_path},
        "data": {"train": "embedded:arithmetic", "options": {"n_train": 16, "n_test": 4}},
        "trainer": {"algorithm": "grpo", "max_steps": 1, "num_generations": 4, "per_device_train_batch_size": 4,
                    "max_completion_length": 8, **trainer},
        "rewards": [{"name": "boxed_integer"}],
        "plugins": {"inra": {}},
        "output_dir": str(tmp_path / "run"),
    }), encoding="utf-8")
    return str(path)


def test_inra_with_vllm_training_is_refused_before_a_model_loads(tmp_path, tiny_model_path, capsys):
    status = main(["run", _recipe(tmp_path, tiny_model_path, use_vllm=True, vllm_mode="colocate")])
    err = " ".join(capsys.readouterr().err.split())
    assert status == 2
    assert "trainer.use_vllm" in err and "inra" in err and "L + 1" in err
    assert "trainer.use_vllm: false" in err  # the fix
    # nothing was loaded or written: vLLM is not installed here, so a trainer build would have failed differently
    assert not (tmp_path / "run").exists()


def test_inra_without_vllm_is_not_refused(tmp_path, tiny_model_path):
    assert main(["run", _recipe(tmp_path, tiny_model_path)]) == 0
    assert (tmp_path / "run" / "inra_adapter").is_dir()


def test_eval_with_the_vllm_backend_refuses_inra_options(tiny_model_path, capsys):
    status = main(["eval", "--model", tiny_model_path, "--benchmarks", "gsm8k", "--backend", "vllm",
                   "--inra-c", "0.5"])
    err = " ".join(capsys.readouterr().err.split())
    assert status == 2
    assert "--backend vllm" in err and "--inra-c" in err and "inra" in err and "--backend transformers" in err


@pytest.mark.parametrize("use_vllm, refused", [(True, True), (False, False)])
def test_validate_run_hook_refuses_only_vllm_generation(use_vllm, refused):
    from types import SimpleNamespace

    from trl_reason_inra.plugin import Plugin

    from trl_reasoning.config.schema import ConfigError
    from trl_reasoning.config.recipe import recipe_from_dict

    plugin = Plugin(Plugin.Config())
    recipe = recipe_from_dict({"model": {"name_or_path": "some/model"}, "plugins": {"inra": {}}})
    args = SimpleNamespace(use_vllm=use_vllm)
    if refused:
        with pytest.raises(ConfigError) as error:
            plugin.validate_run(recipe=recipe, args=args)
        assert error.value.path == "trainer.use_vllm" and "'some/model'" in str(error.value)
    else:
        assert plugin.validate_run(recipe=recipe, args=args) is None
