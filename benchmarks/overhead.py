"""Overhead of ReasoningGRPOTrainer over plain trl.GRPOTrainer, measured in one run on the same config.

    python benchmarks/overhead.py --steps 12 --repeats 8 --out benchmarks/results/overhead.json

Three arms on the tiny test model, each its own trainer built from the same seed:
  * trl: ``trl.GRPOTrainer``
  * core: ``ReasoningGRPOTrainer`` with no plugin
  * noop: ``ReasoningGRPOTrainer`` with a plugin that implements every run-time hook and changes nothing

Interleaving. A shared machine drifts by more than the overhead within seconds, so the three trainers of a repeat
train in lockstep: each runs ``trainer.train()`` in its own thread, and a baton lets exactly one of them run at a
time, for one optimizer step (``on_step_begin`` to the next ``on_step_begin``: the step and the logging after it),
in the order trl, core, noop, trl, ... (reversed every other repeat). Steps of the three arms therefore lie next
to each other in time and share the machine's drift. The baton also keeps each arm's random state apart (saved and
restored at every hand-over), so each arm draws exactly what it would draw alone: the arms generate the same
completions (``same_work`` in the JSON compares their logged losses and lengths). A step's time runs from its
``on_step_begin`` to the next one's, so the first step (warm-up) and the last (no next begin) of each run are left
out.

Headline: the pooled median step time of each arm over every repeat, as a ratio to trl's (target 1.02). Also in
the JSON: the median of the paired per-step ratios (step k of an arm over step k of trl, run back to back), the
per-repeat ratios, every step time, the spread between repeats, and the operating point (sizes, threads,
versions).

Dispatch. The overhead is far below the machine's noise, so the benchmark also times, inside the same runs,
everything trl-reasoning adds to a step: every ``trainer.hooks`` call (hook dispatch and the plugins' work in it,
including the core's ``core:records`` update), ``hook_present``, the schedule and metrics callback, building the
``RolloutBatch`` and its metrics, and the prompt rewrite. ``dispatch_us_per_step`` is that time per step, in
microseconds (outermost calls only, so nested calls count once).

``run_arm`` (one arm alone), ``build_arm`` (its trainer), ``NoOp`` and ``DispatchTimer`` are importable for other
benchmarks.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import statistics
import threading
import time
from pathlib import Path

import torch
from transformers import TrainerCallback

from trl_reasoning import hookimpl

ARMS = ("trl", "core", "noop")
CONFIG = dict(num_generations=4, per_device_train_batch_size=8, max_completion_length=24, learning_rate=1e-4)


class StepTimer(TrainerCallback):
    def __init__(self):
        self.times = []
        self._start = None

    def on_step_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter() - self._start)


class LogKeeper(TrainerCallback):
    """Each step's logged loss and mean completion length: what tells that two arms did the same work."""

    def __init__(self):
        self.logs = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.logs.append((state.global_step, round(float(logs["loss"]), 6),
                              float(logs.get("completions/mean_length", float("nan")))))


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


def build_dataset(n_rows: int = 256):
    """The arithmetic prompts every arm trains on (``prompt``, ``answer``, ``prompt_id``)."""
    import datasets

    from trl_reasoning.data import arithmetic_rows, render_prompt

    rows = arithmetic_rows({"n_train": n_rows})["train"]
    return datasets.Dataset.from_list([{"prompt": render_prompt(r["problem"]), "answer": r["answer"],
                                        "prompt_id": i} for i, r in enumerate(rows)])


def build_arm(arm: str, steps: int, model_dir: str, dataset, workdir: Path, callbacks=(), **overrides):
    """The trainer of ``arm`` (``trl``, ``core`` or ``noop``) for ``steps`` steps; ``overrides``: config keys
    (e.g. ``use_cpu=False`` on an accelerator)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from trl_reasoning.plugins.manager import PluginManager
    from trl_reasoning.trainers import ReasoningGRPOConfig, ReasoningGRPOTrainer

    common = dict(output_dir=str(workdir / arm), max_steps=steps, **CONFIG, logging_steps=1, report_to="none",
                  save_strategy="no", use_cpu=True, seed=0, disable_tqdm=True)
    common.update(overrides)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if arm == "trl":
        return GRPOTrainer(model=model, reward_funcs=[varied_reward], args=GRPOConfig(**common),
                           train_dataset=dataset, processing_class=tokenizer, callbacks=list(callbacks))
    pm = PluginManager(discover=False)
    if arm == "noop":
        pm.register_active("noop", NoOp())
    return ReasoningGRPOTrainer(model=model, reward_funcs=[varied_reward], args=ReasoningGRPOConfig(**common),
                                train_dataset=dataset, processing_class=tokenizer, callbacks=list(callbacks),
                                plugin_manager=pm)


def run_arm(arm: str, steps: int, model_dir: str, dataset, workdir: Path, **overrides) -> list[float]:
    """Train ``arm`` alone for ``steps`` steps; its step times in seconds, the first (warm-up) step left out."""
    timer = StepTimer()
    trainer = build_arm(arm, steps, model_dir, dataset, workdir, callbacks=[timer], **overrides)
    torch.manual_seed(0)
    trainer.train()
    return timer.times[1:]


class DispatchTimer:
    """Times what trl-reasoning adds to a step, on one trainer: wraps the bound methods below on the instances
    (nothing else changes) and sums the wall time of the outermost wrapped calls, per optimizer step."""

    HOOK_METHODS = ("present", "candidate_rows", "select_prompts", "transform_prompts", "shape_rewards", "on_rewards",
                    "kept_groups", "advantages", "extra_fields", "loss_terms", "schedule", "metrics")
    TRAINER_METHODS = ("hook_present", "next_round", "_rewrite_prompts", "_build_batch", "_record_batch_metrics",
                       "apply_schedule")
    CALLBACK_METHODS = ("on_train_begin", "on_step_begin", "on_log")

    def __init__(self, trainer):
        from trl_reasoning.trainers.callbacks import HookCallback

        self.trainer = trainer
        self.per_step: dict[int, float] = {}  # global_step -> seconds
        self.calls: dict[int, int] = {}  # global_step -> outermost calls
        self.by_method: dict[str, float] = {}  # "owner.method" -> seconds over the run (outermost calls)
        self._depth = 0
        for name in self.HOOK_METHODS:
            self._wrap(trainer.hooks, name)
        for name in self.TRAINER_METHODS:
            self._wrap(trainer, name)
        for callback in trainer.callback_handler.callbacks:
            if isinstance(callback, HookCallback):
                for name in self.CALLBACK_METHODS:
                    self._wrap(callback, name)

    def _wrap(self, owner, name: str) -> None:
        method = getattr(owner, name, None)
        if method is None:
            return
        label = f"{type(owner).__name__}.{name}"

        @functools.wraps(method)
        def timed(*args, **kwargs):
            if self._depth:
                return method(*args, **kwargs)
            self._depth += 1
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                self._depth -= 1
                step = self.trainer.state.global_step
                self.per_step[step] = self.per_step.get(step, 0.0) + elapsed
                self.calls[step] = self.calls.get(step, 0) + 1
                self.by_method[label] = self.by_method.get(label, 0.0) + elapsed

        setattr(owner, name, timed)

    def us_per_step(self) -> list[float]:
        """Microseconds per optimizer step, the first and last step left out (as the step times): global step 0
        holds the construction-time hooks, the last only the final log line."""
        steps = sorted(self.per_step)[1:-1]
        return [self.per_step[s] * 1e6 for s in steps]


class Baton:
    """Lets trainers running in threads take turns, one optimizer step each, in a fixed order; saves and restores
    each one's random state at every hand-over so the arms draw as they would alone."""

    def __init__(self, order: list[str], seed: int = 0):
        self.order = list(order)
        self.turn = 0
        self.cond = threading.Condition()
        self.rng: dict[str, tuple] = {arm: _seeded_rng_state(seed) for arm in order}

    def acquire(self, arm: str) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.order[self.turn % len(self.order)] == arm)
        _set_rng_state(self.rng[arm])

    def release(self, arm: str, finished: bool = False) -> None:
        self.rng[arm] = _rng_state()
        with self.cond:
            index = self.order.index(arm)
            if finished:
                self.order.pop(index)
                if self.order:
                    self.turn = index % len(self.order)
            else:
                self.turn = (index + 1) % len(self.order)
            self.cond.notify_all()


def _rng_state() -> tuple:
    import numpy

    return torch.get_rng_state(), random.getstate(), numpy.random.get_state()


def _set_rng_state(state: tuple) -> None:
    import numpy

    torch.set_rng_state(state[0])
    random.setstate(state[1])
    numpy.random.set_state(state[2])


def _seeded_rng_state(seed: int) -> tuple:
    import numpy

    saved = _rng_state()
    torch.manual_seed(seed)
    random.seed(seed)
    numpy.random.seed(seed)
    state = _rng_state()
    _set_rng_state(saved)
    return state


class TakeTurns(TrainerCallback):
    """Holds ``baton`` for ``arm`` from each step's begin to the next one's, and times that whole loop iteration
    (schedule, step, callbacks, logging and the ``metrics`` hook): ``times`` holds one entry per step but the
    last. Put first among the callbacks (``first_callback``)."""

    def __init__(self, baton: Baton, arm: str):
        self.baton, self.arm = baton, arm
        self.times: list[float] = []
        self._start = None

    def on_train_begin(self, args, state, control, **kwargs):
        self.baton.acquire(self.arm)

    def on_step_begin(self, args, state, control, **kwargs):
        if self._start is not None:
            self.times.append(time.perf_counter() - self._start)
            self.baton.release(self.arm)
            self.baton.acquire(self.arm)
        self._start = time.perf_counter()


def first_callback(trainer, callback) -> None:
    """Move ``callback`` to the front of the trainer's callbacks (before trl-reasoning's ``HookCallback``)."""
    trainer.callback_handler.callbacks.remove(callback)
    trainer.callback_handler.callbacks.insert(0, callback)


def run_lockstep(order: list[str], steps: int, model_dir: str, dataset, workdir: Path) -> dict[str, dict]:
    """Build the arms in ``order``, then train them in lockstep (see the module docstring): per arm its step times
    (first and last step left out), its per-step dispatch microseconds (our arms) and its logged (step, loss, length)."""
    baton = Baton(order)
    trainers, turns, keepers, dispatch = {}, {}, {}, {}
    for arm in order:
        turns[arm], keepers[arm] = TakeTurns(baton, arm), LogKeeper()
        trainers[arm] = build_arm(arm, steps, model_dir, dataset, workdir, callbacks=[turns[arm], keepers[arm]])
        first_callback(trainers[arm], turns[arm])
        if arm != "trl":
            dispatch[arm] = DispatchTimer(trainers[arm])
    errors: dict[str, BaseException] = {}

    def train(arm: str) -> None:
        try:
            trainers[arm].train()
        except BaseException as exc:  # reported after the join
            errors[arm] = exc
        finally:
            if arm in baton.order:
                baton.release(arm, finished=True)

    threads = [threading.Thread(target=train, args=(arm,), name=f"overhead-{arm}") for arm in order]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        arm, exc = next(iter(errors.items()))
        raise RuntimeError(f"arm {arm!r} failed: {type(exc).__name__}: {exc}") from exc
    return {arm: {"times": turns[arm].times[1:], "logs": keepers[arm].logs,
                  "dispatch_us": dispatch[arm].us_per_step() if arm in dispatch else None,
                  "dispatch_by_method_s": dispatch[arm].by_method if arm in dispatch else None} for arm in order}


def spread(values: list[float]) -> dict:
    """Median, min, max and the interquartile range relative to the median."""
    q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "iqr_over_median": (q[2] - q[0]) / statistics.median(values)}


def operating_point(threads: int, model_dir: str) -> dict:
    from transformers import AutoConfig

    from trl_reasoning.versions import versions_of

    model = AutoConfig.from_pretrained(model_dir)
    return {"device": "cpu", "torch_threads": threads, "model": "tiny random Llama (trl_reasoning.testing)",
            "num_hidden_layers": model.num_hidden_layers, "hidden_size": model.hidden_size,
            "prompts_per_step": CONFIG["per_device_train_batch_size"] // CONFIG["num_generations"], **CONFIG,
            "versions": versions_of(["torch", "transformers", "trl", "accelerate", "pluggy", "trl-reasoning"],
                                    python=True)}


def dispatch_profile(steps: int, repeats: int, model_dir: str, dataset, workdir: Path) -> dict:
    """Per-step dispatch microseconds of the core and noop arms (lockstep, no trl arm), with the per-method
    breakdown (microseconds per step over whole runs), for the ``trl_reasoning`` this process imports."""
    import trl_reasoning

    us = {arm: [] for arm in ("core", "noop")}
    by_method = {arm: {} for arm in ("core", "noop")}
    for repeat in range(repeats):
        order = ["core", "noop"] if repeat % 2 == 0 else ["noop", "core"]
        runs = run_lockstep(order, steps, model_dir, dataset, workdir)
        for arm in us:
            us[arm] += runs[arm]["dispatch_us"]
            for name, seconds in runs[arm]["dispatch_by_method_s"].items():
                by_method[arm][name] = by_method[arm].get(name, 0.0) + seconds * 1e6 / (steps * repeats)
    here = Path(trl_reasoning.__file__).parent
    # this checkout's package, or a baseline tree: named without the build machine's absolute path (test_standalone)
    root = Path(__file__).resolve().parent.parent
    where = "trl_reasoning (this checkout)" if here.resolve() == root / "trl_reasoning" else f"{here.parent.name}/trl_reasoning"
    return {"trl_reasoning": where,
            **{arm: {"median_us_per_step": statistics.median(us[arm]), "us_per_step": us[arm],
                     "by_method_us_per_step": dict(sorted(by_method[arm].items(), key=lambda kv: -kv[1]))}
               for arm in us}}


def dispatch_before_after(baseline_tree: str, steps: int, repeats: int, threads: int) -> dict:
    """``dispatch_profile`` of the ``trl_reasoning`` in ``baseline_tree`` and of this checkout's, ``repeats`` fresh
    processes each, alternated (the baseline found first through ``PYTHONPATH``)."""
    import os
    import subprocess
    import sys

    found = {"before": [], "after": []}
    for repeat in range(repeats):
        for label in (("before", "after") if repeat % 2 == 0 else ("after", "before")):
            env = dict(os.environ)
            if label == "before":
                env["PYTHONPATH"] = os.pathsep.join(filter(None, [baseline_tree, env.get("PYTHONPATH")]))
            done = subprocess.run([sys.executable, __file__, "--dispatch-only", "--steps", str(steps), "--repeats",
                                   "1", "--threads", str(threads)], env=env, capture_output=True, text=True,
                                  check=True)
            found[label].append(json.loads(done.stdout.strip().splitlines()[-1]))
    out = {}
    for label, profiles in found.items():
        out[label] = {"trl_reasoning": profiles[0]["trl_reasoning"]}
        for arm in ("core", "noop"):
            values = [v for p in profiles for v in p[arm]["us_per_step"]]
            methods: dict = {}
            for p in profiles:
                for name, us in p[arm]["by_method_us_per_step"].items():
                    methods[name] = methods.get(name, 0.0) + us / len(profiles)
            out[label][arm] = {"median_us_per_step": statistics.median(values),
                               "by_method_us_per_step": {k: round(v, 1) for k, v in
                                                         sorted(methods.items(), key=lambda kv: -kv[1])}}
    out["noop_minus_core_us_per_step"] = {label: out[label]["noop"]["median_us_per_step"]
                                          - out[label]["core"]["median_us_per_step"] for label in found}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12, help="optimizer steps per arm per repeat (first dropped)")
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--target", type=float, default=1.02)
    parser.add_argument("--out", default="benchmarks/results/overhead.json")
    parser.add_argument("--workdir", default="/tmp/trl-reasoning-overhead")
    parser.add_argument("--baseline-tree", default=None,
                        help="a folder holding an earlier trl_reasoning package (e.g. `git archive HEAD "
                             "trl_reasoning | tar -x -C DIR`): also compare its dispatch time with this checkout's")
    parser.add_argument("--baseline-repeats", type=int, default=1,
                        help="processes per tree for --baseline-tree (alternated before/after)")
    parser.add_argument("--dispatch-only", action="store_true",
                        help="print dispatch_profile's JSON (core and noop arms only) and stop")
    args = parser.parse_args()

    from trl_reasoning.testing import tiny_model_dir

    torch.set_num_threads(args.threads)
    model_dir = tiny_model_dir()
    dataset = build_dataset()
    workdir = Path(args.workdir)
    if args.dispatch_only:
        import contextlib
        import sys

        with contextlib.redirect_stdout(sys.stderr):  # TRL's log lines; stdout's last line is the JSON
            profile = dispatch_profile(args.steps, args.repeats, model_dir, dataset, workdir)
        print(json.dumps(profile))
        return
    started = time.perf_counter()
    run_arm("trl", 3, model_dir, dataset, workdir)  # warm-up: first touches of memory, imports, caches
    times = {arm: [] for arm in ARMS}
    per_repeat = {arm: [] for arm in ARMS}  # median step time of each repeat
    paired = {arm: [] for arm in ("core", "noop")}  # step k of the arm over step k of trl, same repeat
    dispatch = {arm: [] for arm in ("core", "noop")}
    by_method = {arm: {} for arm in ("core", "noop")}
    same_work = True
    for repeat in range(args.repeats):
        order = list(ARMS) if repeat % 2 == 0 else list(ARMS[::-1])  # no arm always steps first
        runs = run_lockstep(order, args.steps, model_dir, dataset, workdir)
        for arm in ARMS:
            times[arm] += runs[arm]["times"]
            per_repeat[arm].append(statistics.median(runs[arm]["times"]))
        for arm in ("core", "noop"):
            paired[arm] += [a / b for a, b in zip(runs[arm]["times"], runs["trl"]["times"])]
            dispatch[arm] += runs[arm]["dispatch_us"]
            for name, seconds in runs[arm]["dispatch_by_method_s"].items():
                by_method[arm][name] = by_method[arm].get(name, 0.0) + seconds
            same_work = same_work and runs[arm]["logs"] == runs["trl"]["logs"]
        print(f"repeat {repeat + 1}/{args.repeats}: " + "  ".join(
            f"{arm} {per_repeat[arm][-1]:.3f}s" for arm in ARMS), flush=True)
    pooled = {arm: statistics.median(values) for arm, values in times.items()}
    ratios = {arm: [a / b for a, b in zip(per_repeat[arm], per_repeat["trl"])] for arm in ("core", "noop")}
    dispatch_median = {arm: statistics.median(values) for arm, values in dispatch.items()}
    result = {
        "benchmark": "overhead",
        "command": f"python benchmarks/overhead.py --steps {args.steps} --repeats {args.repeats} "
                   f"--threads {args.threads} --out {args.out}"
                   + (f" --baseline-tree {args.baseline_tree} --baseline-repeats {args.baseline_repeats}"
                      if args.baseline_tree else ""),
        "interleaving": "lockstep: the three arms of a repeat take turns one optimizer step each",
        "steps_per_run": args.steps, "repeats": args.repeats, "samples_per_arm": len(times["trl"]),
        "operating_point": operating_point(args.threads, model_dir),
        "target": args.target,
        "pooled_median_step_s": pooled,
        "pooled_ratio_core_over_trl": pooled["core"] / pooled["trl"],
        "pooled_ratio_noop_plugin_over_trl": pooled["noop"] / pooled["trl"],
        "meets_target": pooled["noop"] / pooled["trl"] <= args.target,
        "median_paired_step_ratio": {arm: statistics.median(values) for arm, values in paired.items()},
        "median_per_repeat_ratio": {arm: statistics.median(values) for arm, values in ratios.items()},
        "per_repeat_ratios": ratios,
        # core and trl do the same model work and core's own code is timed (dispatch_us_per_step), so the rest of
        # core/trl's departure from 1 is the machine's noise
        "noise_floor": {"pooled_core_over_trl_minus_1": pooled["core"] / pooled["trl"] - 1,
                        "per_repeat_core_over_trl_min_max": [min(ratios["core"]), max(ratios["core"])]},
        "per_repeat_median_step_s": per_repeat,
        "step_time_spread": {arm: spread(values) for arm, values in times.items()},
        "dispatch_us_per_step": {arm: {"median": dispatch_median[arm], **spread(values)}
                                 for arm, values in dispatch.items()},
        "dispatch_share_of_step": {arm: dispatch_median[arm] * 1e-6 / pooled[arm] for arm in dispatch_median},
        "dispatch_by_method_us_per_step": {arm: {name: round(seconds * 1e6 / (args.steps * args.repeats), 1)
                                                 for name, seconds in sorted(methods.items(), key=lambda kv: -kv[1])}
                                           for arm, methods in by_method.items()},
        "dispatch_before_after": None,  # filled below with --baseline-tree
        "same_work": same_work,
        "wall_s": time.perf_counter() - started,
        "step_times_s": times,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    if args.baseline_tree:  # after the main result is safe on disk
        result["dispatch_before_after"] = dispatch_before_after(args.baseline_tree, min(args.steps, 6),
                                                                args.baseline_repeats, args.threads)
        result["wall_s"] = time.perf_counter() - started
        Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k not in ("step_times_s", "per_repeat_median_step_s")},
                     indent=2))


if __name__ == "__main__":
    main()
