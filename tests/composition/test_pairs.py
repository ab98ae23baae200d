"""The composition matrix (``composition_matrix.CELLS``): every pair of built-in features either runs two steps on the
tiny model and holds its invariants, or is refused before any model loads with its message.

Runs are shared: each run of ``RUNS`` holds several members and is built once per session (``shared_run``); every
pair inside it is checked on what its observer recorded. Refused pairs only validate (no model).
"""

from __future__ import annotations

import math

import pytest

import composition_helpers as H
import composition_matrix as M
from trl_reasoning.config.schema import ConfigError

PAIRS = M.all_pairs()


# -- the table itself ---------------------------------------------------------------------------------------------


def test_every_pair_has_one_cell_and_every_run_composes():
    assert set(M.CELLS) == set(PAIRS), sorted(map(M.pair_id, set(PAIRS) ^ set(M.CELLS)))
    for pair, cell in M.CELLS.items():
        if isinstance(cell, M.Composes):
            assert pair <= set(M.RUNS[cell.run]), f"{M.pair_id(pair)}: run {cell.run} lacks one of them"
            assert set(cell.checks) <= set(PAIR_CHECKS), cell.checks
            assert cell.compose.items() <= M.RUN_COMPOSE.get(cell.run, {}).items(), M.pair_id(pair)
    for run, members in M.RUNS.items():
        for a in members:
            for b in members:
                if a != b:
                    assert isinstance(M.CELLS[frozenset({a, b})], M.Composes), f"run {run} holds refused {a}+{b}"


def test_counts_add_up():
    n = M.counts()
    assert n["pairs"] == len(M.MEMBERS) * (len(M.MEMBERS) - 1) // 2 == n["composes"] + n["refused"]


# -- shared runs ----------------------------------------------------------------------------------------------------

_RUNS: dict[str, dict] = {}


@pytest.fixture
def shared_run(tiny_model_path, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("TRL_REASONING_ALLOW_IMPORTS", "composition_helpers")

    def get(name: str) -> dict:
        if name not in _RUNS:
            members = M.RUNS[name]
            out = tmp_path_factory.mktemp(name.replace("+", "_")) / "run"
            _RUNS[name] = H.run_members(members, tiny_model_path, out, M.RUN_COMPOSE.get(name), M.RUN_DATA.get(name))
        return _RUNS[name]

    return get


@pytest.fixture
def no_model_load(monkeypatch):
    """Any model load fails the test: refusals must come before one."""
    import trl_reasoning.models as models

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the recipe was refused")

    if hasattr(models, "_pretrained"):
        monkeypatch.setattr(models, "_pretrained", refuse)
    import transformers

    for cls in (transformers.AutoModelForCausalLM, transformers.AutoModel,
                transformers.AutoModelForTokenClassification):
        monkeypatch.setattr(cls, "from_pretrained", refuse)


# -- what every member does in any run that holds it ------------------------------------------------------------------


def _text(prompt) -> str:
    if isinstance(prompt, str):
        return prompt
    return "\n".join(str(m.get("content", "")) for m in prompt)


def _decider(run) -> str:
    return "correctness" if "correctness" in run["members"] else "mostly_parity"


def check_correct_flag(run):
    """``correct`` is the deciding reward's verdict, never another column (format, HAPO's length)."""
    name = _decider(run)
    for r in run["observer"].rounds:
        assert r["correct"] is not None
        assert r["correct"].tolist() == (r["rewards"][name] >= 1.0).tolist(), (name, r["step"])


def _level_ids(run) -> set[int]:
    trainer = run["trainer"]
    plugin = trainer.pm.active["fastcurl"]
    index = plugin.levels[plugin._key(plugin.table[plugin.stage_index(0)])]
    ids = trainer.train_dataset["prompt_id"]
    level = {int(ids[i]) for i in index}
    assert 0 < len(level) < len(ids), "the level must exclude some rows for the check to mean anything"
    return level


def sig_fastcurl(run):
    level = _level_ids(run)
    for r in run["observer"].rounds:
        assert set(r["group_ids"]) <= level, (r["step"], r["round"], r["group_ids"])


def sig_correctness(run):
    assert run["observer"].rounds and all("correctness" in r["rewards"] for r in run["observer"].rounds)


def sig_format_reward(run):
    assert all("format" in r["rewards"] for r in run["observer"].rounds)


def _hapo_expected(run, by_variant: bool = True) -> list:
    """HAPO's length reward of every round, recomputed from the rounds before it: the history of a prompt (and, with
    ``by_variant``, of its prompt variant) is the shortest correct length of any earlier round, refills included."""
    import torch
    from trl_reason_hapo.length_reward import length_rewards

    clip = run["trainer"].pm.active["hapo"].config.clip
    shortest: dict = {}
    expected = []
    for r in run["observer"].rounds:
        G = r["G"]
        keys = [(pid, variant if by_variant else "") for pid, variant in zip(r["group_ids"], r["variants"])
                for _ in range(G)]
        history = torch.tensor([float(shortest.get(k, float("nan"))) for k in keys])  # (B,)
        expected.append(length_rewards(r["lengths"], history, r["correct"], clip=clip))  # (B,)
        for k, n, ok in zip(keys, r["lengths"].tolist(), r["correct"].tolist()):
            if ok:
                shortest[k] = min(shortest.get(k, n), n)
    return expected


def sig_hapo(run):
    """The `hapo_length` column is HAPO's reward of each completion's length against the prompt's own history
    (per prompt variant), recomputed here from what was generated before."""
    for r, want in zip(run["observer"].rounds, _hapo_expected(run)):
        assert r["rewards"]["hapo_length"] == pytest.approx(want, abs=1e-5), (r["step"], r["round"])


def sig_inra(run):
    from trl_reason_inra.surgery import decoder_layers
    from transformers import AutoConfig

    model = run["trainer"].model
    base_layers = AutoConfig.from_pretrained(run["model_path"]).num_hidden_layers
    layers = decoder_layers(model)
    assert len(layers) == base_layers + 1
    adapter = {id(p) for p in layers[0].parameters()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable and all(id(p) in adapter for p in trainable)


def sig_one_shot(run):
    for r in run["observer"].rounds:
        assert set(r["group_ids"]) == {H.ONE_SHOT_EXAMPLE}, (r["step"], r["group_ids"])


def _metric_steps(run, key) -> list:
    return [row[key] for row in run["metrics"] if key in row]


def sig_pcl(run):
    plugin = run["trainer"].pm.active["pcl"]
    assert len(_metric_steps(run, "pcl/observed_pass_rate")) >= 2
    assert getattr(plugin, "fits", 1)


def sig_ppo(run):
    assert len(_metric_steps(run, "critic/value_loss")) >= 2
    assert all(b["per_token"] for b in run["observer"].loss_batches)


def sig_questa(run):
    first = [r for r in run["observer"].rounds if r["step"] == 0]
    assert first
    for r in first:
        assert all("## Hint." in _text(p) for p in r["prompts"]), r["prompts"][0]
        assert all(v == "hint=0.50" for v in r["variants"]), r["variants"]


def sig_trra(run):
    assert len(_metric_steps(run, "loss/trra_kl")) >= 2


def _band(run):
    return H.BAND


def sig_group_filter(run):
    lo, hi = _band(run)
    assert _metric_steps(run, "group_filter/kept_fraction")
    for b in run["observer"].loss_batches:
        for rate, mass in zip(b["pass_rates"], b["advantage_mass"]):
            if not lo <= rate <= hi:
                assert mass == 0, (b["step"], rate, mass)


def sig_refill(run):
    sig_group_filter(run)
    rounds = _metric_steps(run, "group_filter/rounds")
    assert rounds and max(rounds) >= 2, "no replacement round ran: the refill check would mean nothing"


SIGNATURES = {"correctness": sig_correctness, "fastcurl": sig_fastcurl, "format_reward": sig_format_reward,
              "hapo": sig_hapo, "inra": sig_inra, "one_shot": sig_one_shot, "pcl": sig_pcl, "ppo": sig_ppo,
              "questa": sig_questa, "trra": sig_trra, "group_filter": sig_group_filter, "refill": sig_refill}


# -- pair-specific invariants -----------------------------------------------------------------------------------------


def format_never_decides(run):
    check_correct_flag(run)


def hapo_reads_correct(run):
    for r in run["observer"].rounds:
        assert (r["rewards"]["hapo_length"][~r["correct"]] <= 0).all()


def band_on_correct(run):
    """Groups are kept or dropped on the ``correct`` pass rate: every loss batch's pass rates come from ``correct``
    and every group outside the band carries no advantage, whatever the other reward columns say."""
    lo, hi = _band(run)
    dropped = 0
    for b in run["observer"].loss_batches:
        G = len(b["correct"]) // len(b["group_ids"])
        rates = b["correct"].float().view(-1, G).mean(dim=1).tolist()  # (num_groups,)
        assert rates == pytest.approx(b["pass_rates"])
        for rate, mass in zip(rates, b["advantage_mass"]):
            if not lo <= rate <= hi:
                assert mass == 0
                dropped += 1
    rounds = run["observer"].rounds
    failing = sum(1 for r in rounds for rate in r["correct"].float().view(-1, r["G"]).mean(dim=1).tolist()
                  if not lo <= rate <= hi)
    assert failing > 0, "no group ever fell outside the band: the check would mean nothing"


def pcl_selected(run):
    """PCL's select_prompts acted at every step (its value model predicted on a pool), FastCuRL's did not."""
    steps = {r["step"] for r in run["observer"].rounds}
    assert steps <= set(run["observer"].predicted), (steps, sorted(run["observer"].predicted))
    assert len(_metric_steps(run, "pcl/pool_size")) >= 2
    fastcurl = run["trainer"].pm.active.get("fastcurl")
    if fastcurl is not None:
        assert not getattr(fastcurl, "last_selection", None), "FastCuRL selected although compose gives it to PCL"


def pcl_within_level(run):
    level = _level_ids(run)
    for r in run["observer"].rounds:
        assert set(r["group_ids"]) <= level


def hinted_within_level(run):
    sig_fastcurl(run)
    sig_questa(run)


def refill_within_level(run):
    level = _level_ids(run)
    refills = [r for r in run["observer"].rounds if (r["round"] or 0) > 0]
    assert refills, "no refill round ran"
    for r in refills:
        assert set(r["group_ids"]) <= level


def refill_hinted(run):
    refills = [r for r in run["observer"].rounds if (r["round"] or 0) > 0]
    assert refills, "no refill round ran"
    fractions = {0: {"hint=0.50"}, 1: {"hint=0.25", ""}}  # "": the 25% prefix is under QuestA's 10 characters
    for r in refills:
        assert set(r["variants"]) <= fractions[r["step"]], (r["step"], r["variants"])
        if r["step"] == 0:
            assert all("## Hint." in _text(p) for p in r["prompts"])


def pcl_target_is_correct(run):
    """PCL's observed pass rate (its value target) is the ``correct`` rate of the round, not a shaped reward."""
    observed = _metric_steps(run, "pcl/observed_pass_rate")
    rounds_by_step: dict[int, list] = {}
    for r in run["observer"].rounds:
        rounds_by_step.setdefault(r["step"], []).append(float(r["correct"].float().mean()))
    assert observed
    for value in observed:
        assert any(math.isclose(value, rate, abs_tol=1e-6) for rates in rounds_by_step.values() for rate in rates), \
            (value, rounds_by_step)


def pcl_effective_ratio_on_correct(run):
    """``pcl/effective_ratio``: share of groups with a learning signal on ``correct`` (mixed groups), not on the
    HAPO-shaped total, which gives all-wrong groups of varied length a spread too."""
    ratios = _metric_steps(run, "pcl/effective_ratio")
    mixed = _metric_steps(run, "pcl/mixed_group_share")
    assert ratios and ratios == pytest.approx(mixed)


def records_keyed_by_variant(run):
    """HAPO's history and the core's per-prompt record keep the 50%-hint and the 25%-hint statistics apart: after
    the switch to 25%, a prompt's 50%-hint shortest correct length never sets its budget."""
    rounds = run["observer"].rounds
    variants = {v for r in rounds for v in r["variants"]}
    assert "hint=0.50" in variants and len(variants) == 2, variants  # "" when the 25% prefix is under 10 characters
    per_variant, per_prompt = _hapo_expected(run, by_variant=True), _hapo_expected(run, by_variant=False)
    assert any(not torch_equal(a, b) for a, b in zip(per_variant, per_prompt)), \
        "a history kept per prompt alone would give the same rewards here: the run cannot tell them apart"
    sig_hapo(run)
    records = run["trainer"].records
    for r in rounds:
        for pid, variant in zip(r["group_ids"], r["variants"]):
            assert variant in records.variants(pid)
    for pid in {p for r in rounds for p in r["group_ids"]}:
        for variant in records.variants(pid):
            counted = sum(r["G"] for r in rounds for p, v in zip(r["group_ids"], r["variants"])
                          if p == pid and v == variant)
            assert records.get(pid, variant).attempts == counted


def torch_equal(a, b) -> bool:
    import torch

    return bool(torch.allclose(a, b, atol=1e-6))


def all_wrong_never_in_loss(run):
    """With HAPO's length reward and refill, a group with no correct answer never carries advantage into the loss."""
    all_wrong = 0
    for b in run["observer"].loss_batches:
        G = len(b["correct"]) // len(b["group_ids"])
        per_group = b["correct"].view(-1, G).any(dim=1).tolist()  # (num_groups,)
        for any_correct, mass in zip(per_group, b["advantage_mass"]):
            if not any_correct:
                all_wrong += 1
                assert mass == 0
    seen = sum(1 for r in run["observer"].rounds for g in r["correct"].view(-1, r["G"]).any(dim=1).tolist() if not g)
    assert seen > 0, "no all-wrong group was generated: the check would mean nothing"


def pcl_predicts_on_generated_prompt(run):
    """PCL's value model predicts on the prompt text that is generated (hinted by QuestA), not the plain one."""
    plugin = run["trainer"].pm.active["pcl"]
    first_rounds = [r for r in run["observer"].rounds if not r["round"]]
    assert first_rounds
    for r in first_rounds:
        generated = plugin.texts(r["prompts"])
        if r["step"] == 0:
            assert all("## Hint." in t for t in generated)
        predicted = set(run["observer"].predicted.get(r["step"], []))
        assert set(generated) <= predicted, (r["step"], generated[0][-80:], sorted(predicted)[0][-80:])


def ppo_token_advantages(run):
    """The 1-shot sampler feeds PPO: every round is the example, and the loss gets per-token GAE advantages."""
    sig_ppo(run)
    sig_one_shot(run)


PAIR_CHECKS = {f.__name__: f for f in (
    format_never_decides, hapo_reads_correct, band_on_correct, pcl_selected, pcl_within_level, hinted_within_level,
    refill_within_level, refill_hinted, pcl_target_is_correct, pcl_effective_ratio_on_correct,
    records_keyed_by_variant, all_wrong_never_in_loss, pcl_predicts_on_generated_prompt, ppo_token_advantages)}


# -- the matrix -----------------------------------------------------------------------------------------------------

COMPOSING = [p for p in PAIRS if isinstance(M.CELLS.get(p), M.Composes)]
REFUSED = [p for p in PAIRS if isinstance(M.CELLS.get(p), M.Refused)]


@pytest.mark.parametrize("pair", COMPOSING, ids=M.pair_id)
def test_pair_composes(pair, shared_run):
    cell = M.CELLS[pair]
    run = shared_run(cell.run)
    assert run["results"]["train"]["global_step"] == 2
    check_correct_flag(run)
    for member in sorted(pair):
        SIGNATURES[member](run)
    for name in cell.checks:
        PAIR_CHECKS[name](run)


def _expect_refusal(members, cell, tiny_model_path, tmp_path, compose=None):
    with pytest.raises(ConfigError) as info:
        H.validate_members(members, tiny_model_path, tmp_path / "run", compose)
    text = str(info.value).lower()
    assert cell.fragment.lower() in text, str(info.value)
    if cell.key:
        paths = [e.path for e in getattr(info.value, "errors", None) or [info.value]]
        assert any(p.startswith(cell.key) for p in paths), (cell.key, paths)


@pytest.mark.parametrize("pair", REFUSED, ids=M.pair_id)
def test_pair_refused_before_any_model_loads(pair, tiny_model_path, tmp_path, no_model_load, monkeypatch):
    monkeypatch.setenv("TRL_REASONING_ALLOW_IMPORTS", "composition_helpers")
    _expect_refusal(sorted(pair), M.CELLS[pair], tiny_model_path, tmp_path)


def test_two_selectors_without_compose_exit_2_naming_both(tiny_model_path, tmp_path, no_model_load, capsys,
                                                           monkeypatch):
    """FastCuRL and PCL both select prompts: without `compose:` `trl-reason run` exits 2 before any model load and
    names the hook, both plugins and the line to add."""
    import yaml

    from trl_reasoning.cli.main import main

    monkeypatch.setenv("TRL_REASONING_ALLOW_IMPORTS", "composition_helpers")
    monkeypatch.syspath_prepend(str(M.ROOT / "tests" / "composition"))
    recipe = H.members_recipe(("fastcurl", "pcl"), tiny_model_path, str(tmp_path / "run"))
    recipe["rewards"] = [{"name": "boxed_integer"}]  # the CLI's plugin manager discovers installed plugins only
    path = tmp_path / "two-selectors.yaml"
    path.write_text(yaml.safe_dump(recipe))
    assert main(["run", str(path)]) == 2
    captured = capsys.readouterr()
    out = " ".join((captured.out + captured.err).split())
    for word in ("select_prompts", "fastcurl", "pcl", "compose:"):
        assert word in out, out
    assert not (tmp_path / "run").exists()


# -- trainers without rollouts ----------------------------------------------------------------------------------------

TRAINER_CELLS = [(m, t) for (m, t), cell in M.TRAINER_CELLS.items() if m != "ppo"]


@pytest.mark.parametrize("cell_key", TRAINER_CELLS, ids=lambda k: f"{k[0]}@{k[1]}")
def test_member_under_a_trainer_without_rollouts(cell_key, tiny_model_path, tmp_path, monkeypatch, request):
    member, trainer = cell_key
    cell = M.TRAINER_CELLS[cell_key]
    monkeypatch.setenv("TRL_REASONING_ALLOW_IMPORTS", "composition_helpers")
    members = [trainer] if member == "trra" and trainer == "distill" else [trainer, member]
    if isinstance(cell, M.Refused):
        if cell.open:
            request.applymarker(pytest.mark.xfail(reason=f"open: {cell.open}", strict=True))
        request.getfixturevalue("no_model_load")
        _expect_refusal(members, cell, tiny_model_path, tmp_path)
        return
    run = H.run_members(members, tiny_model_path, tmp_path / "run")
    assert run["results"]["train"]["global_step"] == 2
    if member == "inra":
        sig_inra(run)
    if "trra" in run["trainer"].pm.active:
        assert _metric_steps(run, "trra/kl")
