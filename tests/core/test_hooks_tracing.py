"""``TRL_REASONING_TRACE_PLUGINS=1`` prints every hook call with its argument values (shortened) and its result,
including the per-plugin and chained calls the manager makes (``call_each``, ``call_chain``, ``call_one``)."""

from __future__ import annotations

import io

import pluggy
import torch

from trl_reasoning import GenerationRound, hookimpl, hookspecs
from trl_reasoning.plugins.manager import PluginManager
from trl_reasoning.plugins.tracing import install_tracing, short
from trl_reasoning.testing import make_rollout_batch, make_trainer_stub


class Hinter:
    @hookimpl
    def transform_prompt(self, row, round):
        return {**row, "problem": row["problem"] + " (hint)"}

    @hookimpl
    def schedule(self, step):
        return {"stage": step // 10}

    @hookimpl
    def on_rewards(self, batch):
        return None

    @hookimpl
    def plugin_state(self):
        return {"seen": 3}


def test_values_of_chained_and_per_plugin_calls_are_traced(monkeypatch, capsys):
    monkeypatch.setenv("TRL_REASONING_TRACE_PLUGINS", "1")
    pm = PluginManager(discover=False)
    pm.register_active("hinter", Hinter())
    trainer = make_trainer_stub(dataset=[{"prompt_id": 0, "problem": "1 + 1"}], step=12, pm=pm)
    round = GenerationRound.first(step=12, generation=5)

    rows = trainer.hooks.transform_prompts([{"prompt_id": 0, "problem": "1 + 1"}], round)  # call_chain
    assert rows[0]["problem"] == "1 + 1 (hint)"
    assert trainer.hooks.schedule(12) == {"stage": 1}  # call_each
    pm.call_one("hinter", "plugin_state", trainer=trainer)  # call_one
    pm.hook.on_rewards(trainer=trainer, batch=make_rollout_batch(rewards=[[1, 0, 0, 1]], step=12), round=round)

    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("[trl-reasoning] hook")]
    assert any("hook transform_prompt -> [hinter]" in line and "row={'problem': '1 + 1', 'prompt_id': 0}" in line
               and "round=GenerationRound(step=12, round_index=0, is_refill=False, generation=5)" in line
               for line in lines), err
    assert "[trl-reasoning] hook transform_prompt <- [{'problem': '1 + 1 (hint)', 'prompt_id': 0}]" in err
    assert any("hook schedule -> [hinter]" in line and "step=12" in line for line in lines), err
    assert "[trl-reasoning] hook schedule <- [{'stage': 1}]" in err
    assert "[trl-reasoning] hook plugin_state <- [{'seen': 3}]" in err
    on_rewards = next(line for line in lines if line.startswith("[trl-reasoning] hook on_rewards ->"))
    assert "trainer=TrainerStub(step=12" in on_rewards
    assert "batch=RolloutBatch(step=12, num_generations=4" in on_rewards and "rewards=tensor[4, 1]" in on_rewards


def test_tracing_is_off_unless_asked(monkeypatch, capsys):
    monkeypatch.delenv("TRL_REASONING_TRACE_PLUGINS", raising=False)
    pm = PluginManager(discover=False)
    pm.register_active("hinter", Hinter())
    pm.call_each("schedule", trainer=None, step=1)
    assert "[trl-reasoning]" not in capsys.readouterr().err
    monkeypatch.setenv("TRL_REASONING_TRACE_PLUGINS", "0")
    assert install_tracing(pluggy.PluginManager(hookspecs.PROJECT_NAME)) is None


def test_results_and_errors_of_subset_callers_are_traced():
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)

    class Shaper:
        @hookimpl
        def shape_rewards(self, batch):
            return {"reward": torch.zeros(8)}

    class Broken:
        @hookimpl
        def shape_rewards(self, batch):
            raise ValueError("no such column")

    shaper, broken = Shaper(), Broken()
    pm.register(shaper, name="shaper")
    pm.register(broken, name="broken")
    stream = io.StringIO()
    undo = install_tracing(pm, stream=stream, enabled=True)
    batch = make_rollout_batch(rewards=[[1, 0, 0, 1], [0, 0, 0, 0]])
    pm.subset_hook_caller("shape_rewards", remove_plugins=[broken])(trainer=None, batch=batch, round=None)
    try:
        pm.hook.shape_rewards(trainer=None, batch=batch, round=None)
    except ValueError:
        pass
    undo()
    pm.hook.shape_rewards  # no more lines after undo
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[trl-reasoning] hook shape_rewards -> [shaper] trainer=None batch=RolloutBatch(")
    assert lines[1] == "[trl-reasoning] hook shape_rewards <- [{'reward': tensor[8] float32 [0, 0, 0, 0, 0, 0, ...]}]"
    assert lines[2].startswith("[trl-reasoning] hook shape_rewards -> [shaper, broken]")
    assert lines[3] == "[trl-reasoning] hook shape_rewards <- raised ValueError: no such column"
    assert len(lines) == 4


def test_values_are_shortened():
    assert short(torch.arange(10)) == "tensor[10] int64 [0, 1, 2, 3, 4, 5, ...]"
    assert short(torch.tensor([0.5, 0.25])) == "tensor[2] float32 [0.5, 0.25]"
    assert len(short("x" * 10_000)) <= 300
    assert short({"a": list(range(100))}).startswith("{'a': [0, 1, 2, 3, 4, 5, ...]}")
    assert short(object()) == "<object>"
