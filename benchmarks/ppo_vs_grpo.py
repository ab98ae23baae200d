"""PPO (critic + GAE) against GRPO on the same recipe, in one process: step time, where it goes, learning curves.

::

    python benchmarks/ppo_vs_grpo.py --interleave --order grpo,ppo --steps 7     # step by step, in one process
    python benchmarks/ppo_vs_grpo.py                                  # whole runs alternate: 4 steps x 2 rounds
    python benchmarks/ppo_vs_grpo.py --steps 2 --rounds 1 --set test_model=/path/to/tiny   # a quick check

Runs the recipe as ``trainer.algorithm: grpo`` (the PPO fields dropped), as ``ppo`` and as ``ppo-two-pass`` (PPO with
``critic_single_pass: false``: the critic's value forward at generation and again, with gradient, in the loss; the
computation before the single-pass path existed), with the same seed, data and generation settings. Two ways to
share the machine's load fairly: ``--interleave`` builds every variant's trainer in this process and lets them take
turns, one optimizer step each (each ``train()`` runs in its own thread and waits for its turn at every step begin,
so only one computes at a time; memory: all trainers at once, about 2 GB per 135M-parameter model with AdamW); else
whole runs alternate (``--rounds`` times, in ``--order``). Step times are pooled over runs, each run's first step
excluded (it pays first-touch memory costs). Interleaved runs share torch's global generator, so their samples (and
curves) differ from separate runs'; their timing is what they are for.

For every optimizer step it records the wall and CPU time (step begin to step end, generation included) and the
time of each phase (``PhaseTimer``: exclusive times, so the phases and ``other`` add up to the step), the mean
reward and, for PPO, the critic's value loss. Writes ``benchmarks/results/ppo_vs_grpo.json`` with the ratios of the
pooled median step times to GRPO's (wall and this process's CPU time: the CPU-time ratio holds when other processes
share the machine; the wall-time ratio does not), the median seconds per phase, the curves and the operating point.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import torch
from transformers import TrainerCallback

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {"grpo": ("grpo", []), "ppo": ("ppo", []), "ppo-two-pass": ("ppo", ["trainer.critic_single_pass=false"])}


class PhaseTimer:
    """Exclusive wall and CPU seconds of named phases of one step: a phase nested in another (the critic's
    backward inside the rollout, say) is charged to itself only, so the phases never count a second twice."""

    def __init__(self):
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self._stack: list[list] = []  # [phase, wall start, cpu start, child wall, child cpu]
        self.thread = threading.get_ident()  # the thread whose optimizer steps are this timer's

    def enter(self, phase: str) -> None:
        self._stack.append([phase, time.perf_counter(), time.process_time(), 0.0, 0.0])

    def exit(self) -> None:
        phase, wall0, cpu0, child_wall, child_cpu = self._stack.pop()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        self.wall[phase] += wall - child_wall
        self.cpu[phase] += cpu - child_cpu
        if self._stack:
            self._stack[-1][3] += wall
            self._stack[-1][4] += cpu

    def wrap(self, owner, name: str, phase: str) -> None:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            self.enter(phase)
            try:
                return original(*args, **kwargs)
            finally:
                self.exit()

        setattr(owner, name, timed)

    def take(self) -> tuple[dict, dict]:
        wall, cpu = dict(self.wall), dict(self.cpu)
        self.wall.clear()
        self.cpu.clear()
        return wall, cpu


def instrument(trainer, timer: PhaseTimer) -> list:
    """Time the phases of ``trainer``'s steps; returns the optimizer hook handles (remove them after the run)."""
    timer.wrap(trainer, "_generate", "generate")  # sampling the completions (TRL's transformers path)
    timer.wrap(trainer, "_generate_and_score_completions", "rewards_and_advantages")  # the rest of the rollout
    timer.wrap(trainer, "_compute_loss", "policy_loss_forward")  # TRL's training forward and loss
    timer.wrap(trainer.accelerator, "backward", "backward")
    if hasattr(trainer, "ppo_advantages"):
        timer.wrap(trainer, "ppo_advantages", "critic_rollout")  # values (single pass: with the value loss), GAE
        timer.wrap(trainer, "value_loss", "critic_loss_forward")  # the value forward in the loss (two-pass)
        timer.wrap(trainer, "before_optimizer_step", "critic_grad_sync_and_clip")
    from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

    mine = lambda: threading.get_ident() == timer.thread  # noqa: E731  (the hooks are global: every optimizer's)
    return [register_optimizer_step_pre_hook(lambda *a: timer.enter("optimizer_step") if mine() else None),
            register_optimizer_step_post_hook(lambda *a: timer.exit() if mine() else None)]


class StepRecorder(TrainerCallback):
    """Wall and CPU time of each optimizer step, its phases, and the metrics TRL logs for it."""

    def __init__(self, timer: PhaseTimer):
        self.timer = timer
        self.begin = self.cpu_begin = None
        self.times: list[float] = []
        self.cpu_times: list[float] = []
        self.phases: list[dict] = []
        self.phases_cpu: list[dict] = []
        self.logs: list[dict] = []

    def on_step_begin(self, args, state, control, **kwargs):
        self.timer.take()
        self.begin, self.cpu_begin = time.perf_counter(), time.process_time()

    def on_step_end(self, args, state, control, **kwargs):
        wall, cpu = time.perf_counter() - self.begin, time.process_time() - self.cpu_begin
        self.times.append(wall)
        self.cpu_times.append(cpu)
        phases, phases_cpu = self.timer.take()
        phases["other"] = wall - sum(phases.values())
        phases_cpu["other"] = cpu - sum(phases_cpu.values())
        self.phases.append(phases)
        self.phases_cpu.append(phases_cpu)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "reward" in logs:
            self.logs.append({"step": state.global_step, **logs})


class Turns:
    """Interleaving: the variants' optimizer steps run one at a time, in a fixed rotation (``--interleave``)."""

    def __init__(self, names: list[str]):
        self.active = list(names)
        self.turn = 0
        self.condition = threading.Condition()

    def for_variant(self, name: str) -> tuple[TrainerCallback, TrainerCallback]:
        """Two callbacks: one waits for the turn (put it before the step timer), one passes it on (after)."""
        turns = self

        class Wait(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                with turns.condition:
                    turns.condition.wait_for(lambda: turns.active[turns.turn % len(turns.active)] == name)

        class Pass(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                with turns.condition:
                    turns.turn = (turns.active.index(name) + 1) % len(turns.active)
                    turns.condition.notify_all()

        return Wait(), Pass()

    def finish(self, name: str) -> None:
        with self.condition:
            current = self.active[self.turn % len(self.active)]
            self.active.remove(name)
            if self.active:
                self.turn = self.active.index(current) if current != name else self.turn % len(self.active)
            self.condition.notify_all()


def run(recipe_path: str, variant: str, steps: int, overrides: list[str], output_dir: Path) -> dict:
    built = build(recipe_path, variant, steps, overrides, output_dir)
    started = time.perf_counter()
    try:
        built["trainer"].train()
    finally:
        for hook in built["hooks"]:
            hook.remove()
    return collect(built, time.perf_counter() - started)


def run_interleaved(recipe_path: str, variants: list[str], steps: int, overrides: list[str],
                    output_dir: Path) -> dict[str, dict]:
    turns = Turns(variants)
    built = {v: build(recipe_path, v, steps, overrides, output_dir, turns.for_variant(v)) for v in variants}
    results, errors = {}, {}

    def train(variant: str) -> None:
        started = time.perf_counter()
        try:
            built[variant]["timer"].thread = threading.get_ident()
            built[variant]["trainer"].train()
            results[variant] = collect(built[variant], time.perf_counter() - started)
        except BaseException as error:  # noqa: BLE001  (re-raised below, after every thread has ended)
            errors[variant] = error
        finally:
            turns.finish(variant)

    hooks = [hook for b in built.values() for hook in b["hooks"]]
    threads = [threading.Thread(target=train, args=(v,), name=v) for v in variants]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for hook in hooks:
        hook.remove()
    if errors:
        raise next(iter(errors.values()))
    return results


def build(recipe_path: str, variant: str, steps: int, overrides: list[str], output_dir: Path,
          around: tuple = ()) -> dict:
    from trl_reasoning.config.recipe import load_recipe
    from trl_reasoning.plugins.manager import PluginManager
    from trl_reasoning.run import build_trainer, prepare

    algorithm, variant_overrides = VARIANTS[variant]
    recipe = load_recipe(recipe_path, [*overrides, *variant_overrides, f"trainer.max_steps={steps}",
                                       f"trainer.algorithm={algorithm}"])
    if algorithm == "grpo":  # same config minus the fields only PPO has
        from trl_reasoning.trainers import ReasoningGRPOConfig

        grpo_fields = {f.name for f in dataclasses.fields(ReasoningGRPOConfig)} | {"algorithm"}
        recipe.trainer = {k: v for k, v in recipe.trainer.items() if k in grpo_fields}
    import trl_reason_ppo.plugin as ppo_plugin

    pm = PluginManager(extra_modules=[("ppo", ppo_plugin)], discover=False)
    prepared = prepare(recipe, pm)
    timer = PhaseTimer()
    recorder = StepRecorder(timer)
    trainer = build_trainer(prepared, str(output_dir / variant), [*around[:1], recorder, *around[1:]])
    hooks = instrument(trainer, timer)
    operating_point = {"per_device_train_batch_size": trainer.args.per_device_train_batch_size,
                       "num_generations": trainer.num_generations,
                       "gradient_accumulation_steps": trainer.args.gradient_accumulation_steps,
                       "steps_per_generation": trainer.args.steps_per_generation,
                       "max_completion_length": trainer.max_completion_length,
                       "policy_parameters": sum(p.numel() for p in trainer.model.parameters()),
                       "optim": str(trainer.args.optim)}
    if algorithm == "ppo":
        operating_point["critic_parameters"] = sum(p.numel() for p in trainer.critic.parameters())
        operating_point["critic_single_pass"] = getattr(trainer, "critic_single_pass", None)
    return {"trainer": trainer, "recorder": recorder, "timer": timer, "hooks": hooks,
            "operating_point": operating_point, "algorithm": algorithm}


def collect(built: dict, total: float) -> dict:
    trainer, recorder, algorithm = built["trainer"], built["recorder"], built["algorithm"]
    curve = lambda key: [log.get(key) for log in recorder.logs]  # noqa: E731
    result = {
        "steps": len(recorder.times),
        "operating_point": built["operating_point"],
        "step_time_s": [round(t, 3) for t in recorder.times],
        "step_cpu_s": [round(t, 3) for t in recorder.cpu_times],
        "phases_s": [{k: round(v, 3) for k, v in p.items()} for p in recorder.phases],
        "phases_cpu_s": [{k: round(v, 3) for k, v in p.items()} for p in recorder.phases_cpu],
        "train_wall_s": round(total, 1),
        "reward": curve("reward"),
        "completion_mean_length": curve("completions/mean_length"),
    }
    if algorithm == "ppo":
        result["value_loss"] = curve("critic/value_loss")
        result["values_mean"] = curve("critic/values_mean")
    built.clear()
    del trainer
    gc.collect()
    return result


def pooled(runs: list[dict], key: str) -> list[float]:
    """Every run's per-step values of ``key``, each run's first step excluded."""
    return [v for run in runs for v in (run[key][1:] or run[key])]


def median_phases(runs: list[dict], key: str) -> dict:
    steps = [p for run in runs for p in (run[key][1:] or run[key])]
    names = sorted({name for p in steps for name in p})
    return {name: round(statistics.median([p.get(name, 0.0) for p in steps]), 3) for name in names}


def summarize(curve: list) -> dict:
    values = [v for v in curve if v is not None]
    if not values:
        return {}
    head, tail = values[:3], values[-3:]
    return {"first": values[0], "last": values[-1], "mean_first_3": sum(head) / len(head),
            "mean_last_3": sum(tail) / len(tail)}


def versions() -> dict:
    found = {}
    for package in ("torch", "transformers", "trl", "accelerate"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", default=str(ROOT / "recipes/ppo/cpu.yaml"))
    parser.add_argument("--steps", type=int, default=4, help="optimizer steps per run (the first is not timed)")
    parser.add_argument("--rounds", type=int, default=2, help="how many times the variants alternate")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="recipe override key=value")
    parser.add_argument("--output", default=str(ROOT / "benchmarks/results/ppo_vs_grpo.json"))
    parser.add_argument("--work-dir", default="/tmp/ppo_vs_grpo")
    parser.add_argument("--order", default="grpo,ppo,ppo-two-pass", help="the variants, in the order they alternate")
    parser.add_argument("--interleave", action="store_true", help="one process, the variants take turns step by step")
    parser.add_argument("--previous", help="an earlier result of this script (e.g. on the code before a change): "
                        "its ratios, medians and phases are copied under `previous`, labelled with --previous-label")
    parser.add_argument("--previous-label", default="", help="what --previous measured (code, date, conditions)")
    args = parser.parse_args(argv)

    order = args.order.split(",")
    unknown = [v for v in order if v not in VARIANTS]
    if unknown or "grpo" not in order:
        parser.error(f"--order takes grpo and any of {', '.join(VARIANTS)}; got {args.order}")
    runs: dict[str, list[dict]] = defaultdict(list)
    partial = Path(args.output).with_suffix(".partial.json")  # survives if a later run is cut short
    for round_index in range(args.rounds):
        if args.interleave:
            print(f"== round {round_index + 1}/{args.rounds}, interleaved {args.order}: {args.steps} steps each",
                  file=sys.stderr)
            for variant, result in run_interleaved(args.recipe, order, args.steps, args.overrides,
                                                   Path(args.work_dir)).items():
                runs[variant].append(result)
            partial.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps({"recipe": args.recipe, "overrides": args.overrides, "runs": runs},
                                          indent=2))
            continue
        for variant in order:
            print(f"== round {round_index + 1}/{args.rounds}, {variant}: {args.steps} steps of {args.recipe}",
                  file=sys.stderr)
            runs[variant].append(run(args.recipe, variant, args.steps, args.overrides, Path(args.work_dir)))
            partial.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps({"recipe": args.recipe, "overrides": args.overrides, "runs": runs},
                                          indent=2))
    medians = {v: {"step_time_s": statistics.median(pooled(r, "step_time_s")),
                   "step_cpu_s": statistics.median(pooled(r, "step_cpu_s"))} for v, r in runs.items()}
    grpo = medians["grpo"]
    report = {
        "benchmark": "ppo_vs_grpo",
        "recipe": os.path.relpath(args.recipe, ROOT),
        "overrides": args.overrides,
        "steps_per_run": args.steps,
        "rounds": args.rounds,
        "order": order,
        "interleaved": args.interleave,
        "timed_steps_per_variant": len(pooled(runs["grpo"], "step_time_s")),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
                    "cuda": torch.cuda.is_available(), **versions()},
        "operating_point": {v: r[0]["operating_point"] for v, r in runs.items()},
        "median_step_time_s": {v: round(m["step_time_s"], 3) for v, m in medians.items()},
        "median_step_cpu_s": {v: round(m["step_cpu_s"], 3) for v, m in medians.items()},
        "over_grpo_step_time": {v: round(m["step_time_s"] / grpo["step_time_s"], 3)
                                for v, m in medians.items() if v != "grpo"},
        "over_grpo_step_cpu_time": {v: round(m["step_cpu_s"] / grpo["step_cpu_s"], 3)
                                    for v, m in medians.items() if v != "grpo"},
        "median_phase_s": {v: median_phases(r, "phases_s") for v, r in runs.items()},
        "median_phase_cpu_s": {v: median_phases(r, "phases_cpu_s") for v, r in runs.items()},
        "value_loss": {v: summarize([x for run in r for x in run["value_loss"]]) for v, r in runs.items()
                       if "value_loss" in r[0]},
        "reward": {v: summarize([x for run in r for x in run["reward"]]) for v, r in runs.items()},
        "runs": runs,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if args.previous:
        earlier = json.loads(Path(args.previous).read_text(encoding="utf-8"))
        report["previous"] = {"label": args.previous_label, "finished": earlier.get("finished"),
                              **{k: earlier.get(k) for k in ("interleaved", "steps_per_run", "rounds", "order",
                                                            "timed_steps_per_variant", "median_step_time_s",
                                                            "median_step_cpu_s", "over_grpo_step_time",
                                                            "over_grpo_step_cpu_time", "median_phase_s",
                                                            "median_phase_cpu_s")}}
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2), encoding="utf-8")
    partial.unlink(missing_ok=True)
    print(json.dumps({k: report[k] for k in ("median_step_time_s", "median_step_cpu_s", "over_grpo_step_time",
                                             "over_grpo_step_cpu_time", "median_phase_s")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
