"""Overhead of ReasoningGRPOTrainer over plain trl.GRPOTrainer, measured in one run on the same config.

    python benchmarks/overhead.py --steps 10 --repeats 8 --out benchmarks/results/overhead.json

Three arms on the tiny test model, interleaved (A B C A B C ...) so drift on a shared machine hits all alike:
  * trl: ``trl.GRPOTrainer``
  * core: ``ReasoningGRPOTrainer`` with no plugin
  * noop: ``ReasoningGRPOTrainer`` with a plugin that implements every run-time hook and changes nothing
Each arm trains ``--steps`` steps from the same seed; the first step of each run is excluded (warm-up). A shared
machine drifts by more than the overhead between repeats (±10% here), so the headline ratio is the median over
repeats of each repeat's ratio (the three arms of a repeat run back to back); the pooled-median ratio is reported
too. The JSON holds per-step times, per-repeat medians and ratios (target: 1.03 or less).

Because that noise is larger than the effect, the script also profiles one run of each of our arms (cProfile) and
reports the time spent in trl-reasoning's own code and in pluggy (self time, that is excluding the TRL and torch
work they call) per step and as a share of the step: a deterministic upper bound on what the hooks cost.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from transformers import TrainerCallback

from trl_reasoning import hookimpl


class StepTimer(TrainerCallback):
    def __init__(self):
        self.times = []
        self._start = None

    def on_step_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter() - self._start)


class NoOp:
    """Implements every run-time hook and returns nothing that changes the run."""

    @hookimpl
    def modify_model(self, model):
        return None

    @hookimpl
    def reward_funcs(self, recipe):
        return None

    @hookimpl
    def trainer_ready(self, trainer):
        return None

    @hookimpl
    def auxiliary_models(self, trainer):
        return None

    @hookimpl
    def param_groups(self, trainer, model):
        return None

    @hookimpl
    def train_sampler(self, trainer, dataset, default_sampler):
        return None

    @hookimpl
    def schedule(self, trainer, step):
        return None

    @hookimpl
    def candidate_rows(self, trainer, dataset, indices):
        return None

    @hookimpl
    def select_prompts(self, trainer, rows, num_prompts):
        return None

    @hookimpl
    def transform_prompt(self, trainer, row):
        return None

    @hookimpl
    def shape_rewards(self, trainer, batch):
        return None

    @hookimpl
    def on_rewards(self, trainer, batch):
        return None

    @hookimpl
    def filter_groups(self, trainer, batch):
        return None

    @hookimpl
    def advantages(self, trainer, batch, inputs, output):
        return None

    @hookimpl
    def extra_batch_fields(self, trainer, batch, inputs, output):
        return None

    @hookimpl
    def loss_terms(self, trainer, model, inputs, ctx):
        return None

    @hookimpl
    def metrics(self, trainer, mode):
        return None

    @hookimpl
    def plugin_state(self, trainer):
        return None

    @hookimpl
    def load_plugin_state(self, trainer, state):
        return None


def varied_reward(prompts, completions, completion_ids, **kwargs):
    return [float(sum(ids) % 5) for ids in completion_ids]


def run_arm(arm: str, steps: int, model_dir: str, dataset, workdir: Path) -> list[float]:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from trl_reasoning.plugins.manager import PluginManager
    from trl_reasoning.trainers import ReasoningGRPOConfig, ReasoningGRPOTrainer

    common = dict(output_dir=str(workdir / arm), max_steps=steps, num_generations=4, per_device_train_batch_size=8,
                  max_completion_length=24, learning_rate=1e-4, logging_steps=1, report_to="none",
                  save_strategy="no", use_cpu=True, seed=0, disable_tqdm=True)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    timer = StepTimer()
    if arm == "trl":
        trainer = GRPOTrainer(model=model, reward_funcs=[varied_reward], args=GRPOConfig(**common),
                              train_dataset=dataset, processing_class=tokenizer, callbacks=[timer])
    else:
        pm = PluginManager(discover=False)
        if arm == "noop":
            pm.register_active("noop", NoOp())
        trainer = ReasoningGRPOTrainer(model=model, reward_funcs=[varied_reward], args=ReasoningGRPOConfig(**common),
                                       train_dataset=dataset, processing_class=tokenizer, callbacks=[timer],
                                       plugin_manager=pm)
    torch.manual_seed(0)
    trainer.train()
    return timer.times[1:]


def profile_arm(arm: str, steps: int, model_dir: str, dataset, workdir: Path) -> dict:
    """Self time spent in trl-reasoning's modules and pluggy during one run of ``arm``, per step."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    step_times = run_arm(arm, steps, model_dir, dataset, workdir)
    profiler.disable()
    ours = 0.0
    for (filename, _, _), (_, _, self_time, _, _) in pstats.Stats(profiler).stats.items():
        in_package = "trl_reasoning" in filename and "site-packages" not in filename.split("trl_reasoning")[0]
        if in_package or "/pluggy/" in filename:
            ours += self_time
    per_step = ours / (len(step_times) + 1)  # run_arm drops the first step's time, not its work
    return {"self_s_per_step": per_step, "median_step_s": statistics.median(step_times),
            "share_of_step": per_step / statistics.median(step_times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--out", default="benchmarks/results/overhead.json")
    parser.add_argument("--workdir", default="/tmp/trl-reasoning-overhead")
    parser.add_argument("--profile-only", action="store_true",
                        help="only the profile; add it to the existing --out JSON")
    args = parser.parse_args()

    import datasets

    from trl_reasoning.data import arithmetic_rows, render_prompt
    from trl_reasoning.testing import tiny_model_dir

    torch.set_num_threads(2)
    model_dir = tiny_model_dir()
    rows = arithmetic_rows({"n_train": 256})["train"]
    dataset = datasets.Dataset.from_list([{"prompt": render_prompt(r["problem"]), "answer": r["answer"],
                                           "prompt_id": i} for i, r in enumerate(rows)])
    workdir = Path(args.workdir)
    arms = ["trl", "core", "noop"]
    if args.profile_only:
        result = json.loads(Path(args.out).read_text())
        result["profiled_own_code"] = {arm: profile_arm(arm, args.steps, model_dir, dataset, workdir)
                                       for arm in ("core", "noop")}
        Path(args.out).write_text(json.dumps(result, indent=2))
        print(json.dumps(result["profiled_own_code"], indent=2))
        return
    times = {arm: [] for arm in arms}
    per_repeat = {arm: [] for arm in arms}  # median step time of each repeat
    run_arm("trl", 3, model_dir, dataset, workdir)  # warm-up: first touches of memory, imports, caches
    for repeat in range(args.repeats):
        order = arms if repeat % 2 == 0 else arms[::-1]  # alternate the order: no arm always runs first
        for arm in order:
            steps = run_arm(arm, args.steps, model_dir, dataset, workdir)
            times[arm] += steps
            per_repeat[arm].append(statistics.median(steps))
    median = {arm: statistics.median(values) for arm, values in times.items()}
    profiled = {arm: profile_arm(arm, args.steps, model_dir, dataset, workdir) for arm in ("core", "noop")}
    ratios = {arm: [a / b for a, b in zip(per_repeat[arm], per_repeat["trl"])] for arm in ("core", "noop")}
    result = {
        "benchmark": "overhead", "steps_per_run": args.steps, "repeats": args.repeats,
        "config": "tiny Llama 2x64, 2 prompts x 4 completions x 24 tokens, CPU",
        "ratio_core_over_trl": statistics.median(ratios["core"]),
        "ratio_noop_plugin_over_trl": statistics.median(ratios["noop"]),
        "target": 1.03,
        "pooled_median_step_s": median,
        "pooled_ratio_core_over_trl": median["core"] / median["trl"],
        "pooled_ratio_noop_plugin_over_trl": median["noop"] / median["trl"],
        "profiled_own_code": profiled,
        "per_repeat_median_step_s": per_repeat,
        "per_repeat_ratios": ratios,
        "step_times_s": times,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "step_times_s"}, indent=2))


if __name__ == "__main__":
    main()
