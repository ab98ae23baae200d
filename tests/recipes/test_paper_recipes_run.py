"""Every paper recipe trains for one optimizer step on the tiny test model, through ``trl-reason run``.

Each recipe runs with its plugins active and its own trainer configuration (batch, generations, gradient
accumulation, loss settings), changed only where this machine forces it; every change is in this file with its
reason:

* ``TRL_REASONING_TEST_MODEL``: every model the recipe names (policy, reference, critic, value model, teachers) is
  the tiny 2-layer Llama.
* ``trainer.max_steps=1``: one optimizer step.
* ``trainer.max_completion_length=8`` (RL recipes) / ``trainer.max_length=96`` (SFT and distillation): the tiny
  model writes noise, and the papers' 3K-32K tokens would take hours on CPUs.
* ``trainer.use_vllm=false``: there is no vLLM (and no GPU) here, so completions come from transformers'
  ``generate``; the vLLM importance-sampling correction, which only acts on vLLM samples, is then inactive.
* ``model.dtype=float32``, ``trainer.bf16=false`` (and QuestA's ``model.pure_bf16=false``): bf16 matrix products
  run about 10x slower than fp32 on CPUs without bf16 units (a forward and backward of the tiny model took 8 s in
  fp32 and 90 s under bf16 autocast on the shared 2-core development machine); the precision settings themselves
  are tested in tests/core/test_precision.py.
* ``data.train``: a local fixture (tests/recipes/fixtures, README there: sources and licences) with the recipe's
  column names, since Hub datasets cannot be downloaded here.
* ``eval.every_steps=0``, ``eval.before=false``, ``eval.after=false``: the papers' evaluations (six benchmarks at
  3K-32K tokens, up to 32 samples) would take hours here; the sections are still planned and checked before the run
  starts, their protocols are compared with the papers' in tests/recipes/test_paper_settings.py, and evaluation
  during training is tested in tests/evaluation.
* ``model.attn_implementation=sdpa`` where a recipe asks for ``flash_attention_2``: FlashAttention is a CUDA
  package and is not installed here.
* ``--no-plots`` except for ``PLOTTED``: the PNGs of the 30-40 metrics an RL run logs took 11-14 s a run here
  (matplotlib, measured on the shared 2-core machine); one run still writes them, and
  tests/lifecycle/test_report_plots.py checks their content.
* Batch changes in ``RUNS`` below, each with its reason: only where a fixture of at most 20 rows cannot fill the
  paper's batch on one process, or where the batch would take minutes per step on the tiny model.
"""

from __future__ import annotations

import json
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from trl_reasoning.cli.main import main

from paper_recipes import PAPER_RECIPES  # tests/recipes/paper_recipes.py

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"




def rel(path: Path) -> str:
    return str(path.relative_to(ROOT / "recipes"))


@dataclass
class Run:
    fixture: str  # file under tests/recipes/fixtures
    trace: str  # a metric name prefix (or an output file) that shows the recipe's plugin or trainer acted
    changes: dict[str, str] = field(default_factory=dict)  # further --set overrides -> the reason for each


ONE_SHOT_GA = ("trainer.gradient_accumulation_steps=1",
               "one micro-batch of 16 completions (2 groups of 8) as the recipe's, instead of 8 (128 completions on "
               "one process): each completion costs about half a second of CPU on the tiny model's 49K-token "
               "vocabulary (measured: 16 -> 32 completions per step took 17.8 -> 26.8 s); accumulation over "
               "micro-batches runs in the PPO, FastCuRL and InRa runs")
FASTCURL_STAGES = ("plugins.fastcurl.stages=[{level: short, steps: 160, max_completion_length: 8, prompts_per_step: 2, "
                   "num_generations: 8, beta: 0.001}, {level: all, steps: 590, max_completion_length: 8, "
                   "prompts_per_step: 2, num_generations: 8, beta: 0.001}]")

RUNS: dict[str, Run] = {
    "one-shot-rlvr/qwen2.5-math-1.5b-pi1.yaml": Run("dsr_sub.jsonl", "one_shot/", dict([ONE_SHOT_GA])),
    "one-shot-rlvr/qwen2.5-math-1.5b-pi13.yaml": Run("dsr_sub.jsonl", "one_shot/", dict([ONE_SHOT_GA])),
    "one-shot-rlvr/qwen2.5-math-1.5b-dsr-sub.yaml": Run("dsr_sub.jsonl", "one_shot/", dict([ONE_SHOT_GA])),
    "one-shot-rlvr/qwen2.5-math-1.5b-dsr-sub-format.yaml": Run("dsr_sub.jsonl", "one_shot/", dict([ONE_SHOT_GA])),
    "one-shot-rlvr/qwen2.5-math-1.5b-pi1-entropy-only.yaml": Run("dsr_sub.jsonl", "one_shot/", dict([ONE_SHOT_GA])),
    "one-shot-rlvr/qwen2.5-math-1.5b-pi1-ppo.yaml": Run("pi1.jsonl", "critic/", {
        "trainer.num_generations=16": "completions of the one prompt per step: the recipe's 1,024 fill 8 processes "
                                      "x 8 x 16 accumulation (one process would need accumulation 128); 2 "
                                      "micro-batches of 8, as the recipe's micro-batch, keep the step short",
        "trainer.gradient_accumulation_steps=2": "with num_generations 16: 8 completions per micro-batch, as the "
                                                 "recipe"}),
    "fastcurl/deepseek-r1-distill-qwen-1.5b.yaml": Run("deepscaler_preview.jsonl", "schedule/stage", {
        FASTCURL_STAGES: "the stage table sets each stage's context (8K...), which would replace the 8-token cap, "
                         "and stage I's 128 prompts per step cannot be drawn from a 20-row fixture: 2 prompts x 8 "
                         "generations (per-device 8 as the recipe, so 2 micro-batches); the first two stages keep "
                         "their levels, and one step runs stage I"}),
    "hapo/deepseek-r1-distill-qwen-1.5b.yaml": Run("hapo_train_samples_dsr.json", "hapo/"),
    "questa/openmath-nemotron-1.5b.yaml": Run("questa_pool.jsonl", "questa/", {
        "model.pure_bf16=false": "pure bf16 only means something with bf16 weights, which this test turns off"}),
    "pcl/qwen3-8b-base-math.yaml": Run("hendrycks_math.jsonl", "pcl/", {
        "trainer.gradient_accumulation_steps=1": "one micro-batch of 64 completions (4 prompts x 16, the recipe's "
                                                 "per-device batch) instead of 16 (64 prompts): PCL's pool of k x m "
                                                 "= 4 x 64 candidates cannot come from a 20-row fixture",
        "trainer.steps_per_generation=1": "still one generation batch per optimizer step (on-policy), as the "
                                          "recipe"}),
    "trra/deepseek-r1-distill-qwen-1.5b-lambda2.yaml": Run("long_cot_calibration.jsonl", "trra/"),
    "trra/deepseek-r1-distill-qwen-1.5b-lambda2-round2.yaml": Run("long_cot_calibration.jsonl", "trra/"),
    "inra/deepseek-r1-distill-qwen-1.5b-short-cot.yaml": Run("short_cot_calibration.jsonl", "inra_adapter", {
        "trainer.gradient_accumulation_steps=2": "2 micro-batches of 4 sequences (the recipe's) instead of 8: the "
                                                 "SFT step over 32 sequences dominates this run"}),
}

PLOTTED = "hapo/deepseek-r1-distill-qwen-1.5b.yaml"  # the one run that writes plots/*.png at its end
RL_CAPS = ["trainer.max_completion_length=8", "trainer.use_vllm=false"]
SFT_CAPS = ["trainer.max_length=96"]
COMMON = ["trainer.max_steps=1", "model.dtype=float32", "trainer.bf16=false", "eval.every_steps=0",
          "eval.before=false", "eval.after=false", "hub.push=never"]


def test_every_paper_recipe_has_a_one_step_run():
    assert sorted(RUNS) == [rel(p) for p in PAPER_RECIPES]
    for name, run in RUNS.items():
        assert (FIXTURES / run.fixture).is_file(), f"{name}: fixture {run.fixture} is missing"


def test_fixtures_are_small_and_documented():
    readme = (FIXTURES / "README.md").read_text(encoding="utf-8")
    for path in sorted(FIXTURES.iterdir()):
        if path.name == "README.md":
            continue
        rows = json.loads(path.read_text(encoding="utf-8")) if path.suffix == ".json" else [
            json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        assert 1 <= len(rows) <= 20, f"{path.name}: {len(rows)} rows (at most 20)"
        assert f"`{path.name}`" in readme, f"{path.name}: say in fixtures/README.md where it comes from"


def metric_rows(output_dir: Path) -> list[dict]:
    lines = (output_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize("path", PAPER_RECIPES, ids=rel)
def test_paper_recipe_trains_one_step_on_the_tiny_model(path, tmp_path, monkeypatch, tiny_model_path):
    monkeypatch.setenv("TRL_REASONING_TEST_MODEL", tiny_model_path)
    run = RUNS[rel(path)]
    recipe = yaml.safe_load(path.read_text(encoding="utf-8"))
    rl = recipe["trainer"].get("algorithm", "grpo") in ("grpo", "ppo")
    sets = [*COMMON, *(RL_CAPS if rl else SFT_CAPS), f"data.train={FIXTURES / run.fixture}", *run.changes]
    if (recipe.get("model") or {}).get("attn_implementation") == "flash_attention_2":
        sets.append("model.attn_implementation=sdpa")
    out = tmp_path / "run"
    argv = ["run", str(path), "--output-dir", str(out), *([] if rel(path) == PLOTTED else ["--no-plots"])]
    for item in sets:
        argv += ["--set", item]
    started, cpu = time.time(), resource.getrusage(resource.RUSAGE_SELF)
    status = main(argv)
    used = resource.getrusage(resource.RUSAGE_SELF)
    print(f"\n{rel(path)}: one step in {time.time() - started:.1f} s wall, "
          f"{used.ru_utime - cpu.ru_utime + used.ru_stime - cpu.ru_stime:.1f} s CPU")
    assert status == 0
    assert (out / "plots" / "overview.png").is_file() == (rel(path) == PLOTTED)
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["train"]["global_step"] == 1
    rows = metric_rows(out)
    stepped = [row for row in rows if row.get("step") == 1 and "loss" in row]
    assert stepped, f"no training metrics at step 1 in metrics.jsonl: {rows[:2]}"
    if run.trace.endswith(("/", "stage")):
        assert any(key.startswith(run.trace) for row in rows for key in row), (
            f"no {run.trace}* metric: the recipe's plugin or trainer did not act")
    else:
        assert (out / run.trace).exists(), f"{run.trace} was not written: the recipe's plugin did not act"
    # The run used the recipe's own configuration, changed only by the overrides above.
    resolved = yaml.safe_load((out / "recipe.resolved.yaml").read_text(encoding="utf-8"))
    assert sorted(resolved["plugins"]) == sorted(recipe.get("plugins") or {})  # none dropped or added
    changed = {item.partition("=")[0] for item in sets}
    for key, value in recipe["trainer"].items():
        if f"trainer.{key}" not in changed:
            assert resolved["trainer"][key] == value, f"trainer.{key} changed"
    for name, config in (recipe.get("plugins") or {}).items():
        for key, value in (config or {}).items():
            if f"plugins.{name}.{key}" not in changed:
                assert resolved["plugins"][name][key] == value, f"plugins.{name}.{key} changed"
    active = json.loads((out / "provenance.json").read_text(encoding="utf-8"))["plugins"]  # and core features
    assert set(recipe.get("plugins") or {}) <= set(active), f"inactive plugins: {sorted(active)}"
