"""FastCuRL's configuration: the paper's stage table becomes four trainers (three when the optimizer carries
over), errors name the stage and the fix."""

from types import SimpleNamespace

import pytest

from trl_reason_fastcurl.plugin import Plugin
from trl_reasoning.config.schema import ConfigError, build_dataclass


def _args(**overrides):
    values = dict(num_generations=8, generation_batch_size=64, max_completion_length=256, beta=0.0, max_steps=-1,
                  world_size=8, per_device_train_batch_size=8)
    return SimpleNamespace(**{**values, **overrides})


def test_paper_table_runs_as_four_trainers_each_with_a_fresh_optimizer():
    """The default (the authors' four separate verl jobs): one trainer per stage, each later one marked
    fresh_optimizer, so the core does not restore the optimizer and scheduler at the boundary."""
    plugin = Plugin(Plugin.Config())
    plan = plugin.run_stages(recipe=SimpleNamespace(seed=1), args=_args())
    assert [p["max_steps"] for p in plan] == [160, 750, 980, 1560]
    assert [p.get("fresh_optimizer", False) for p in plan] == [False, True, True, True]
    assert [(p["num_generations"], p["gradient_accumulation_steps"], p["max_completion_length"]) for p in plan] == \
        [(8, 16, 8192), (8, 8, 16384), (8, 8, 24576), (16, 16, 16384)]


def test_without_fresh_optimizer_the_paper_table_runs_as_three_trainers_on_eight_gpus():
    plugin = Plugin(Plugin.Config(fresh_optimizer=False))
    plan = plugin.run_stages(recipe=SimpleNamespace(seed=1), args=_args())
    common = {"generation_batch_size": None, "steps_per_generation": None, "beta": 0.001}
    assert plan == [
        # stage I: 128 prompts x 8 = 1024 completions = 8 per device x 8 GPUs x 16 accumulation steps
        {"max_steps": 160, "num_generations": 8, "gradient_accumulation_steps": 16, "max_completion_length": 8192,
         **common},
        # stages II and III share 64 x 8: one trainer, the schedule switches level and context at step 750
        {"max_steps": 980, "num_generations": 8, "gradient_accumulation_steps": 8, "max_completion_length": 16384,
         **common},
        # stage IV: 64 x 16
        {"max_steps": 1560, "num_generations": 16, "gradient_accumulation_steps": 16,
         "max_completion_length": 16384, **common},
    ]
    assert [plugin.stage_index(step) for step in (0, 159, 160, 749, 750, 979, 980, 5000)] == [0, 0, 1, 1, 2, 2, 3, 3]


def test_max_steps_cuts_the_table():
    plugin = Plugin(Plugin.Config())
    plan = plugin.run_stages(recipe=SimpleNamespace(seed=1), args=_args(max_steps=2))
    assert [p["max_steps"] for p in plan] == [2]


def test_batch_shape_must_fit_the_devices():
    config = build_dataclass(Plugin.Config, {"stages": [{"steps": 1, "prompts_per_step": 3, "num_generations": 2}]},
                             "plugins.fastcurl")
    with pytest.raises(ValueError, match=r"stage 1: .* 6 completions per step must be a multiple of "
                                         r"per_device_train_batch_size \(8\) x processes \(8\)"):
        Plugin(config).run_stages(recipe=SimpleNamespace(seed=1), args=_args())


@pytest.mark.parametrize("raw, message", [
    ({"stages": [{"steps": 1, "level": "shrot"}]}, "stages\\[0\\].level: unknown level 'shrot'"),
    ({"stages": [{"steps": 1, "level": 3}]}, "stages\\[0\\].level: level 3 out of range"),
    ({"stages": [{"steps": 0}]}, "at least 1 step"),
    ({"split": "quantile"}, "needs `quantiles`"),
    ({"stages": [{"steps": 1, "lvl": "all"}]}, "did you mean 'level'"),
])
def test_config_errors(raw, message):
    with pytest.raises((ConfigError, ValueError), match=message):
        Plugin(build_dataclass(Plugin.Config, raw, "plugins.fastcurl"))
