"""QuestA on the tiny model: the hint reaches generation with the exact expected text, once per group, the fraction
follows its schedule, and `trl-reason questa select` writes the pool."""

import json
from pathlib import Path

import trl_reason_questa.plugin as questa_module
from trl_reasoning import hookimpl
from trl_reasoning.plugins.manager import PluginManager
from trl_reasoning.run import run_recipe


class PromptRecorder:
    @hookimpl
    def on_rewards(self, trainer, batch):
        self.batches = getattr(self, "batches", []) + [batch]


def test_hints_follow_the_schedule_and_reach_generation(make_recipe, tmp_path):
    recipe = make_recipe(
        data={"train": "embedded:arithmetic", "system_prompt": "Answer briefly.", "user_template": "Q: {problem}",
              "options": {"n_train": 32, "n_test": 8, "max_operand": 99, "terms": 3, "operations": ["+", "-"]}},
        trainer={"num_generations": 2, "per_device_train_batch_size": 4, "max_completion_length": 8,
                 "group_filter": [0.05, 0.95]},
        plugins={"questa": {"schedule": [{"start_step": 0, "fraction": 0.5}, {"start_step": 1, "fraction": 0.25}]}})
    pm = PluginManager(extra_modules=[("questa", questa_module)], discover=False)
    recorder = PromptRecorder()
    pm.register_active("recorder", recorder)
    results = run_recipe(recipe, output_dir=str(tmp_path / "run"), pm=pm)
    assert results["train"]["global_step"] == 2

    for batch, fraction in zip(recorder.batches, (0.5, 0.25)):
        for index, (prompt, row) in enumerate(zip(batch.prompts, batch.rows)):
            solution = row["solution"]
            prefix = solution[: int(len(solution) * fraction)]
            expected = f"Q: {row['problem']}\n\n## Hint.{prefix}" if len(prefix) >= 10 else f"Q: {row['problem']}\n\n"
            assert prompt == [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": expected}]
            group = batch.group_slice(index // batch.num_generations)
            assert batch.prompts[group.start] == prompt  # one hint per unique prompt, the same for the whole group
            assert row["problem"] in row["prompt"][-1]["content"] and "## Hint." not in row["problem"]

    metrics = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    steps = {m["step"]: m for m in metrics if "schedule/hint_fraction" in m}
    assert (steps[1]["schedule/hint_fraction"], steps[2]["schedule/hint_fraction"]) == (0.5, 0.25)
    assert steps[1]["questa/hinted_fraction"] == 1.0 and steps[1]["questa/hint_chars_mean"] > 10
    assert "group_filter/kept_fraction" in steps[1]


def test_select_writes_the_hard_pool(tiny_model_path, tmp_path):
    from trl_reasoning.cli.main import main

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(json.dumps({
        "model": {"name_or_path": tiny_model_path},
        "data": {"train": "embedded:arithmetic", "options": {"n_train": 16, "n_test": 4, "max_operand": 99}},
        "trainer": {"algorithm": "grpo", "max_completion_length": 4, "temperature": 1.0},
        "rewards": [{"name": "boxed_integer"}],
        "plugins": {"questa": {"schedule": [{"start_step": 0, "fraction": 0.5}]}},
    }))
    out = tmp_path / "pool.jsonl"
    status = main(["questa", "select", str(recipe), "--out", str(out), "--samples", "2", "--limit", "3",
                   "--lo", "0", "--hi", "1"])
    assert status == 0
    pool = [json.loads(line) for line in out.read_text().splitlines()]
    summary = json.loads(Path(str(out) + ".summary.json").read_text())
    assert summary["screened"] == 3 and summary["samples"] == 2 and summary["fraction"] == 0.5
    assert sum(summary["correct_histogram"]) == 3 and summary["kept"] == len(pool)
    assert all(0 <= row["questa_correct"] <= 1 and {"problem", "answer", "solution"} <= set(row) for row in pool)
    assert len(pool) == sum(summary["correct_histogram"][:2])


def _filter_run(make_recipe, tmp_path, name, max_rounds):
    from questa_helpers import REWARD, LossBatchRecorder

    recipe = make_recipe(
        data={"train": "embedded:arithmetic",
              "options": {"n_train": 48, "n_test": 4, "max_operand": 99, "terms": 2, "operations": ["+", "-"]}},
        trainer={"num_generations": 4, "per_device_train_batch_size": 16, "max_completion_length": 4,
                 "group_filter": [0.05, 0.95], "group_filter_max_rounds": max_rounds},
        rewards=REWARD,
        plugins={"questa": {"schedule": [{"start_step": 0, "fraction": 0.5}]}})
    pm = PluginManager(extra_modules=[("questa", questa_module)], discover=False)
    recorder = LossBatchRecorder()
    pm.register_active("recorder", recorder)
    results = run_recipe(recipe, output_dir=str(tmp_path / name), pm=pm)
    assert results["train"]["global_step"] == 2
    metrics = [json.loads(line) for line in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
    return recorder, [m["group_filter/kept_fraction"] for m in metrics if "group_filter/kept_fraction" in m]


def test_the_filter_with_refill_changes_which_groups_reach_the_loss(make_recipe, tmp_path, monkeypatch):
    from trl_reasoning.run import ALLOW_IMPORTS_ENV

    monkeypatch.setenv(ALLOW_IMPORTS_ENV, "questa_helpers")  # the test reward is named by its import path
    # Same seed, same data order; the reward fixes each group's pass rate by prompt_id (1, 0 or 0.5).
    plain, plain_kept = _filter_run(make_recipe, tmp_path, "no-refill", 0)
    refill, refill_kept = _filter_run(make_recipe, tmp_path, "refill", 8)

    # Without refill the all-right / all-wrong groups stay in the loss batch (zero advantage, as GRPO gives them
    # anyway): the filter changes nothing.
    plain_rates = [r for b in plain.loss_batches for r in b["pass_rates"]]
    assert any(r in (0.0, 1.0) for r in plain_rates), plain_rates
    for b in plain.loss_batches:
        assert b["prompt_ids"] == plain.first_rounds[b["step"]]
        for rate, mass in zip(b["pass_rates"], b["advantage_mass"]):
            assert (mass > 0) == (0.0 < rate < 1.0)
    assert min(plain_kept) < 1.0

    # With refill every group in the loss batch is informative: replacements took the filtered groups' places.
    assert len(refill.loss_batches) == len(plain.loss_batches) == 2
    assert [b["prompt_ids"] for b in refill.loss_batches] != [b["prompt_ids"] for b in plain.loss_batches]
    replaced = 0
    for b in refill.loss_batches:
        assert b["pass_rates"] == [0.5] * 4 and all(mass > 0 for mass in b["advantage_mass"])
        first = refill.first_rounds[b["step"]]
        for pid, prompt, row in zip(b["prompt_ids"], b["prompts"], b["rows"]):
            # replacement prompts carry QuestA's hint too, built from their own row
            prefix = row["solution"][: int(len(row["solution"]) * 0.5)]
            assert prompt[-1]["content"] == f"{row['problem']}\n\n## Hint.{prefix}" and len(prefix) >= 10
            replaced += pid not in first
    assert replaced > 0
    assert refill_kept == [1.0, 1.0]
