"""Composition rules (``plugins/composition.py``) and their combination at run time (``plugins/hooks.py``), with
small plugin objects and no model."""

from __future__ import annotations

import pytest
import torch

from trl_reasoning import hookimpl
from trl_reasoning.config.schema import ConfigError
from trl_reasoning.plugins.composition import HOOK_RULES, Composition, check_composition
from trl_reasoning.plugins.hooks import RunHooks
from trl_reasoning.plugins.manager import PluginManager
from trl_reasoning.testing import make_rollout_batch
from trl_reasoning import hookspecs

from probe_plugins import Selector


class Narrower:
    def __init__(self, keep):
        self.keep = keep

    @hookimpl
    def candidate_rows(self, indices):
        return [i for i in indices if self.keep(i)]


class Shaper:
    def __init__(self, column, shapes=()):
        self.column = column
        self.composition = Composition(shapes=tuple(shapes))

    @hookimpl
    def shape_rewards(self, batch):
        return {self.column: torch.zeros(batch.size)}  # (B,)


class Advantager:
    @hookimpl
    def advantages(self, batch):
        return torch.ones(batch.size)  # (B,)


def manager(**plugins) -> PluginManager:
    pm = PluginManager(discover=False)
    for name, plugin in plugins.items():
        pm.register_active(name, plugin)
    return pm


# (case, plugins, compose, expected [(path, [substrings])])
CASES = [
    ("one selector", dict(pcl=Selector("pcl")), {}, []),
    ("two selectors, no compose", dict(fastcurl=Selector("f", yields=["select_prompts"]), pcl=Selector("p")), {},
     [("compose.select_prompts", ["'fastcurl' and 'pcl' both implement 'select_prompts'",
                                  "`compose: {select_prompts: pcl}`"])]),
    ("two selectors composed, the other steps aside",
     dict(fastcurl=Selector("f", yields=["select_prompts"]), pcl=Selector("p")), {"select_prompts": "pcl"}, []),
    ("composed onto the one that cannot step aside",
     dict(fastcurl=Selector("f", yields=["select_prompts"]), pcl=Selector("p")), {"select_prompts": "fastcurl"},
     [("compose.select_prompts", ["would switch off 'pcl'", "does not step aside"])]),
    ("two selectors, neither steps aside", dict(a=Selector("a"), b=Selector("b")), {},
     [("compose.select_prompts", ["'a' and 'b' both implement", "only one can act"])]),
    ("three selectors", dict(a=Selector("a"), b=Selector("b"), c=Selector("c")), {},
     [("compose.select_prompts", ["'a' and 'b' and 'c' all implement"])]),
    ("two advantages", dict(ppo=Advantager(), other=Advantager()), {},
     [("compose.advantages", ["'ppo' and 'other' both implement 'advantages'"])]),
    ("compose on a chained hook", dict(a=Narrower(bool)), {"candidate_rows": "a"},
     [("compose.candidate_rows", ["'chain' hook", "select_prompts"])]),
    ("compose on no hook", dict(a=Selector("a")), {"select_prompt": "a"},
     [("compose.select_prompt", ["not a trl_reasoning hook"])]),
    ("compose names an inactive plugin", dict(a=Selector("a")), {"select_prompts": "pcl"},
     [("compose.select_prompts", ["'pcl' is not an active plugin", "a"])]),
    ("compose names a plugin without the hook", dict(a=Selector("a"), n=Narrower(bool)), {"select_prompts": "n"},
     [("compose.select_prompts", ["'n' does not implement 'select_prompts'", "implemented by: a"])]),
    ("a refusal", dict(one_shot=Selector("o", refuses={"candidate_rows": "one example only"}),
                       fastcurl=Narrower(bool)), {},
     [("plugins.fastcurl", ["'one_shot' refuses", "'candidate_rows'", "one example only"])]),
    ("two chained narrowers compose", dict(a=Narrower(bool), b=Narrower(bool)), {}, []),
    ("two shapers of one column", dict(hapo=Shaper("len", shapes=["len"]), mine=Shaper("len", shapes=["len"])), {},
     [("plugins.mine", ["'hapo' and 'mine' both shape the reward 'len'"])]),
    ("two shapers of different columns", dict(a=Shaper("x", shapes=["x"]), b=Shaper("y", shapes=["y"])), {}, []),
]


@pytest.mark.parametrize("name, plugins, compose, expected", CASES, ids=[c[0] for c in CASES])
def test_check_composition(name, plugins, compose, expected):
    errors = check_composition(manager(**plugins), compose=compose)
    assert all(isinstance(e, ConfigError) for e in errors)
    assert [e.path for e in errors] == [path for path, _ in expected], [str(e) for e in errors]
    for error, (_, parts) in zip(errors, expected):
        for part in parts:
            assert part in str(error), str(error)


def test_refusal_of_two_hooks_by_one_plugin_is_one_error():
    guard = Selector("g", refuses={"select_prompts": "mine", "candidate_rows": "mine"})
    class Both(Narrower):
        @hookimpl
        def select_prompts(self, rows, num_prompts):
            return None
    errors = check_composition(manager(guard=guard, both=Both(bool)), compose={"select_prompts": "guard"})
    refusals = [e for e in errors if e.path == "plugins.both"]
    assert len(refusals) == 1 and "'select_prompts' or 'candidate_rows'" in str(refusals[0])


def test_every_hook_has_a_rule():
    specs = {n for n in dir(hookspecs) if not n.startswith("_") and hasattr(getattr(hookspecs, n),
                                                                             "trl_reasoning_spec")}
    assert specs == set(HOOK_RULES)
    for name in specs:
        firstresult = getattr(hookspecs, name).trl_reasoning_spec.get("firstresult", False)
        assert (HOOK_RULES[name] == "one") == firstresult, name


def test_composed_hook_calls_only_the_owner():
    pm = manager(fastcurl=Selector("f", yields=["select_prompts"]), pcl=Selector("p"))
    rows = [{"prompt_id": i} for i in range(3)]
    assert pm.hook.select_prompts(trainer=None, rows=rows, num_prompts=2, round=None)[0]["picked_by"] == "p"
    pm.set_composition({"select_prompts": "fastcurl"})  # (refused by check_composition; the manager obeys)
    assert pm.hook.select_prompts(trainer=None, rows=rows, num_prompts=2, round=None)[0]["picked_by"] == "f"
    assert pm.implementers("select_prompts") == ["fastcurl"]
    assert RunHooks(pm).select_prompts(rows, 2)[0]["picked_by"] == "f"
    pm.set_composition({})
    assert pm.implementers("select_prompts") == ["fastcurl", "pcl"]


def test_chain_follows_registration_order():
    pm = manager(first=Narrower(lambda i: i % 2 == 0), second=Narrower(lambda i: i < 5))
    calls = []
    pm._active_pm.add_hookcall_monitoring(lambda name, impls, kw: calls.append((name, [i.plugin_name for i in impls])),
                                          lambda *a: None)
    assert RunHooks(pm).candidate_rows(list(range(10))) == [0, 2, 4]
    assert calls == [("candidate_rows", ["first"]), ("candidate_rows", ["second"])]  # each call seen by pluggy


def test_run_time_merge_rules():
    batch = make_rollout_batch(rewards={"len": [[1, 0]], "other": [[0, 1]]}, correct=[[1, 0]])
    with pytest.raises(ValueError, match="'a' and 'b' both shape the reward 'len'"):
        RunHooks(manager(a=Shaper("len"), b=Shaper("len"))).shape_rewards(batch)
    with pytest.raises(ValueError, match="no reward function named 'nope'"):
        RunHooks(manager(a=Shaper("nope"))).shape_rewards(batch)
    assert set(RunHooks(manager(a=Shaper("len"), b=Shaper("other"))).shape_rewards(batch)) == {"len", "other"}

    class Keep:
        def __init__(self, mask):
            self.mask = mask

        @hookimpl
        def filter_groups(self, batch):
            return torch.tensor(self.mask)  # (num_groups,)

    two = make_rollout_batch(rewards=[[1, 0], [0, 0], [1, 1]])
    assert RunHooks(manager(a=Keep([True, True, False]), b=Keep([True, False, True]))).kept_groups(two).tolist() == [
        True, False, False]
    assert RunHooks(manager()).kept_groups(two) is None

    class Sched:
        def __init__(self, out):
            self.out = out

        @hookimpl
        def schedule(self, step):
            return self.out

    assert RunHooks(manager(a=Sched({"beta": 0.1, "x": 1}), b=Sched({"beta": 0.1, "x": 2}))).schedule(0) == {
        "beta": 0.1, "x": 2}
    with pytest.raises(ValueError, match="'a' and 'b' both schedule 'max_completion_length'"):
        RunHooks(manager(a=Sched({"max_completion_length": 8}), b=Sched({"max_completion_length": 9}))).schedule(0)

    class Fields:
        @hookimpl
        def extra_batch_fields(self):
            return {"v": torch.zeros(2)}  # (B_local,)

    hooks = RunHooks(manager(a=Fields()))
    assert set(hooks.extra_fields(batch, [], {"advantages": None}, given={"w": torch.zeros(2)})) == {"v", "w"}
    with pytest.raises(ValueError, match="overwrite TRL's own field"):
        hooks.extra_fields(batch, [], {"v": None})
    with pytest.raises(ValueError, match="two plugins return the field 'v'"):
        hooks.extra_fields(batch, [], {}, given={"v": torch.zeros(2)})


def test_reserved_core_names_are_refused_in_a_recipe():
    with pytest.raises(ConfigError) as info:
        PluginManager(discover=False).activate({"core:records": {}})
    assert info.value.path == "plugins.core:records" and "reserved" in str(info.value)


TWO_SELECTORS = """\
model: {name_or_path: /nonexistent/never-loaded}
data: {train: "embedded:arithmetic", options: {n_train: 64, n_test: 8}}
trainer: {algorithm: grpo, max_steps: 1, num_generations: 4, per_device_train_batch_size: 4, max_completion_length: 8}
rewards: [{name: boxed_integer}]
plugins:
  fastcurl: {stages: [{level: short, steps: 1}]}
  pcl: {}
output_dir: run
"""


def test_two_selectors_without_compose_exit_2_before_any_model_load(tmp_path):
    """`trl-reason run` on PCL + FastCuRL with no `compose:`: exit 2 naming both plugins and the line to add, before
    the (nonexistent) model is looked for; with the line, `trl-reason validate` accepts the recipe."""
    import subprocess
    import sys

    from trl_reasoning.cli.main import main

    recipe = tmp_path / "two-selectors.yaml"
    recipe.write_text(TWO_SELECTORS)
    done = subprocess.run([sys.executable, "-m", "trl_reasoning.cli.main", "run", str(recipe)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    message = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 2, message
    assert "compose.select_prompts" in message and "'fastcurl' and 'pcl'" in message
    assert "`compose: {select_prompts: pcl}`" in message
    assert "Traceback" not in message and "never-loaded" not in message
    assert not (tmp_path / "run").exists()
    recipe.write_text(TWO_SELECTORS + "compose: {select_prompts: pcl}\n")
    assert main(["validate", str(recipe)]) == 0


def test_a_plugin_whose_hooks_the_trainer_never_calls_is_refused():
    class FixedSequenceTrainer:
        calls_hooks = frozenset({"metrics", "plugin_state", "load_plugin_state"})

    class Observer:
        @hookimpl
        def metrics(self):
            return {}

    errors = check_composition(manager(pcl=Selector("p"), observer=Observer()), compose={},
                               trainer_class=FixedSequenceTrainer)
    assert [e.path for e in errors] == ["plugins.pcl"]
    assert "acts through select_prompts, which FixedSequenceTrainer never calls" in str(errors[0])
    assert check_composition(manager(pcl=Selector("p")), compose={}, trainer_class=object) == []


def test_a_trainer_built_directly_refuses_two_selectors(tiny_model_path, tmp_path):
    """Without ``prepare`` (a trainer built in a script) the trainer runs the same check before it trains."""
    import datasets
    from trl import GRPOConfig

    from trl_reasoning.testing import ParityCorrect
    from trl_reasoning.trainers import ReasoningGRPOTrainer

    args = GRPOConfig(str(tmp_path), use_cpu=True, bf16=False, max_steps=1, report_to="none",
                      per_device_train_batch_size=4, num_generations=4, max_completion_length=8)
    pm = manager(a=Selector("a"), b=Selector("b"))
    with pytest.raises(ConfigError, match="'a' and 'b' both implement 'select_prompts'"):
        ReasoningGRPOTrainer(tiny_model_path, ParityCorrect(), args=args, plugin_manager=pm,
                             train_dataset=datasets.Dataset.from_dict({"prompt": ["1 + 1?"] * 4}))
