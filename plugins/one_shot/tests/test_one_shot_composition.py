"""1-shot RLVR next to plugins that pick or narrow prompts: refused before any model loads, with the reason; refill
rounds (dynamic sampling) stay on the chosen example."""

import pytest
import trl_reason_fastcurl.plugin as fastcurl_module
import trl_reason_one_shot.plugin as one_shot_module
import trl_reason_pcl.plugin as pcl_module

import one_shot_helpers as H
from trl_reasoning import ConfigError, PluginManager
from trl_reasoning.config.recipe import recipe_from_dict
from trl_reasoning.run import build_trainer, prepare

CHOSEN = 5


def manager():
    return PluginManager(extra_modules=[("one_shot", one_shot_module), ("pcl", pcl_module),
                                        ("fastcurl", fastcurl_module), ("one_shot_test_rewards", H)], discover=False)


@pytest.mark.parametrize("other, hooks", [("pcl", ["select_prompts"]),
                                          ("fastcurl", ["select_prompts", "candidate_rows"])])
def test_a_selector_or_candidate_source_beside_one_shot_is_refused(tiny_model_path, tmp_path, other, hooks):
    recipe = recipe_from_dict(H.recipe_dict(tiny_model_path, str(tmp_path), plugins={
        "one_shot": {"examples": [CHOSEN], "replicate": 2}, other: {}}))
    with pytest.raises(ConfigError) as raised:
        prepare(recipe, manager())
    message = str(raised.value)
    assert f"plugins.{other}" in message and "silently become a multi-example one" in message
    assert "refuses any other plugin implementing" in message and all(repr(hook) in message for hook in hooks)


def test_refill_rounds_draw_only_the_chosen_example(tiny_model_path, tmp_path):
    recipe = recipe_from_dict(H.recipe_dict(tiny_model_path, str(tmp_path / "run"), plugins={
        "one_shot": {"examples": [CHOSEN], "replicate": 2}}, group_filter=[0.01, 0.99], group_filter_max_rounds=2))
    trainer = build_trainer(prepare(recipe, manager()), str(tmp_path / "run"))
    trainer._get_train_sampler()
    assert trainer.eligible_rows() == [CHOSEN]  # refill's candidates: the one example (prompt_id = row here)
    plain = recipe_from_dict(H.recipe_dict(tiny_model_path, str(tmp_path / "plain")))  # record-only mode
    trainer = build_trainer(prepare(plain, manager()), str(tmp_path / "plain"))
    trainer._get_train_sampler()
    assert trainer.eligible_rows() == list(range(len(trainer.train_dataset)))


def test_accuracy_log_is_folded_from_the_core_record_per_epoch():
    """One pass rate per prompt, variant and round in trainer.records; the log groups the rounds by epoch and counts
    every variant of the prompt (QuestA's hints) as the same example; steps not recorded are skipped."""
    from trl_reason_one_shot.record import AccuracyRecord

    from trl_reasoning.records import PromptRecords
    from trl_reasoning.testing import make_rollout_batch

    records = PromptRecords()
    for step, flags, variant in [(0, [1, 0, 0, 0], ""), (1, [1, 1, 0, 0], "hint=0.50"), (2, [1, 1, 1, 1], ""),
                                 (3, [0, 0, 0, 0], "")]:
        batch = make_rollout_batch([flags], correct=[flags], prompt_ids=[CHOSEN], step=step)
        batch.variants = [variant] * 4
        records.update(batch)
    record = AccuracyRecord.from_records(records, {0: 0, 1: 0, 2: 1}, [CHOSEN, 99])
    assert record.hist_acc(CHOSEN) == [(0.25 + 0.5) / 2, 1.0] and record.prompt_ids() == [CHOSEN]
