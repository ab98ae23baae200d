"""The core's group filter (zeroed advantages, kept fraction) and its dynamic-sampling refill, on real trainers."""

from pcl_helpers import REWARD, TRAINER, build_trainer, group_rows

from trl_reasoning.plugins.manager import PluginManager


def _trainer(make_recipe, tmp_path, **trainer):
    recipe = make_recipe(trainer={**TRAINER, "group_filter": [0.01, 0.99], **trainer}, rewards=REWARD)
    return build_trainer(recipe, PluginManager(discover=False), tmp_path / "run")


def _group_advantages(output, G):
    return output["advantages"].view(-1, G).abs().sum(dim=1)  # (num_groups,)


def test_group_filter_zeroes_filtered_groups_and_logs_kept_fraction(make_recipe, tmp_path):
    trainer = _trainer(make_recipe, tmp_path)
    output = trainer._generate_and_score_completions(group_rows(trainer, [2, 3]))  # even: 0.5, odd: 0
    per_group = _group_advantages(output, trainer.num_generations)  # (2,)
    assert per_group[0] > 0 and per_group[1] == 0
    assert trainer._metrics["train"]["group_filter/kept_fraction"] == [0.5]
    assert "group_filter/rounds" not in trainer._metrics["train"]  # no refill unless asked


def test_refill_replaces_filtered_groups_with_passing_ones(make_recipe, tmp_path):
    trainer = _trainer(make_recipe, tmp_path, group_filter_max_rounds=4)
    output = trainer._generate_and_score_completions(group_rows(trainer, [1, 3]))  # both filtered in round 1
    G = trainer.num_generations
    batch = trainer.last_batch
    ids = [batch.prompt_ids[g * G] for g in range(batch.num_groups)]
    assert all(p % 2 == 0 for p in ids), ids  # replacement prompts that pass the band
    assert (_group_advantages(output, G) > 0).all()
    assert trainer._metrics["train"]["group_filter/first_round_kept_fraction"] == [0.0]
    assert trainer._metrics["train"]["group_filter/kept_fraction"] == [1.0]
    assert trainer._metrics["train"]["group_filter/rounds"][0] >= 2
    # Shapes stay TRL's: B rows, masks consistent, token count recomputed for the assembled batch.
    assert output["completion_ids"].shape == output["completion_mask"].shape
    assert output["prompt_ids"].shape == output["prompt_mask"].shape and output["prompt_ids"].size(0) == 2 * G
    assert int(output["num_items_in_batch"]) == int(output["completion_mask"].sum())


def test_refill_tops_up_with_filtered_groups_when_rounds_run_out(make_recipe, tmp_path):
    trainer = _trainer(make_recipe, tmp_path, group_filter_max_rounds=1, group_filter=[0.9, 1.0])  # nothing passes
    output = trainer._generate_and_score_completions(group_rows(trainer, [2, 4]))
    assert output["advantages"].abs().sum() == 0
    assert trainer._metrics["train"]["group_filter/rounds"] == [2.0]
    assert trainer._metrics["train"]["group_filter/kept_fraction"] == [0.0]
