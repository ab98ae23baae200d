"""Evaluate a model on math benchmarks: generate, grade, score, and write resumable results.

::

    from trl_reasoning.evaluation import evaluate
    results = evaluate("embedded:smollm2-135m", ["gsm8k", "math500"], n=4, k_list=[1, 4], limit=10,
                       max_new_tokens=128, output_dir="eval-out")
    results["average"]["accuracy"]

Settings left as ``None`` come from each benchmark's protocol (``benchmarks.py``). With an ``output_dir``, every
scored problem is appended to ``samples.jsonl`` as soon as it is graded, and ``results.json`` is rewritten at
the end. Running again into the same directory with the same settings scores only the problems that are missing
(so an interrupted run resumes, and a larger ``limit`` extends a finished one); different settings are refused.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trl_reasoning.versions import versions_of
from trl_reasoning.data.answers import lenient_correct
from trl_reasoning.data.prompts import PromptFormat
from trl_reasoning.evaluation.benchmarks import LoadedBenchmark, load_benchmark, resolve
from trl_reasoning.evaluation.generation import (Backend, Completion, SamplingSettings, TransformersBackend,
                                                 VLLMBackend, render_prompts)
from trl_reasoning.evaluation.table import print_results
from trl_reasoning.grading import extract_answer, grade_many, normalize
from trl_reasoning.models import load_for, load_tokenizer, resolve_model_path
from trl_reasoning.evaluation.metrics import avg_at_n, check_k_list, maj_at_k, mean, pass_at_k
from trl_reasoning.evaluation.store import (  # noqa: F401  (ConfigMismatchError is part of this module's API)
    RESULTS_FILE,
    RESULTS_SCHEMA,
    SAMPLES_FILE,
    ConfigMismatchError,
    append_samples,
    check_and_record_config,
    read_samples,
    write_json,
)

@dataclass(frozen=True)
class BenchmarkRun:
    """Everything that decides one benchmark's samples (compared on resume) plus the k values to report."""

    benchmark: LoadedBenchmark
    sampling: SamplingSettings
    k_list: tuple[int, ...]
    template: str | dict
    system_prompt: str | None
    user_template: str = "{problem}"
    few_shot: tuple[dict, ...] = ()

    def identity(self, model_name: str, backend_name: str) -> dict[str, Any]:
        identity = {
            "model": model_name, "backend": backend_name, "benchmark": self.benchmark.name,
            "version": self.benchmark.version, "revision": self.benchmark.revision,
            "template": self.template, "system_prompt": self.system_prompt, **self.sampling.to_dict(),
        }
        if self.user_template != "{problem}":  # only when set, so that earlier output directories still resume
            identity["user_template"] = self.user_template
        if self.few_shot:
            identity["few_shot"] = [dict(example) for example in self.few_shot]
        return identity

    def render(self, tokenizer, problems: Sequence[str]) -> list[str]:
        """The prompt strings of ``problems`` under this run's template, system prompt and examples."""
        return render_prompts(tokenizer, problems, self.prompt_format)

    @property
    def prompt_format(self) -> PromptFormat:
        return PromptFormat.from_template(self.template, self.system_prompt, self.user_template, self.few_shot)


def plan_runs(
    benchmarks: Sequence[str], *, n=None, k_list=None, temperature=None, top_p=None, max_new_tokens=None,
    seed: int = 0, limit: int | None = None, template=None, system_prompt=None, data_dir=None,
) -> list[BenchmarkRun]:
    """Resolve names, load rows and settle each benchmark's settings (explicit values override its protocol).

    Raises ``BenchmarkError`` for an unknown name and ``ValueError`` for a k above n, before any model loads.
    """
    benchmarks = list(dict.fromkeys(benchmarks))  # a name given twice is evaluated once
    if not benchmarks:
        raise ValueError("no benchmarks given")
    for name in benchmarks:  # fail on a misspelled name before loading any data
        resolve(name)
    return [
        plan_run(load_benchmark(name, data_dir=data_dir, limit=limit), n=n, k_list=k_list, temperature=temperature,
                 top_p=top_p, max_new_tokens=max_new_tokens, seed=seed, template=template, system_prompt=system_prompt)
        for name in benchmarks
    ]


def plan_run(
    loaded: LoadedBenchmark, *, n=None, k_list=None, temperature=None, top_p=None, max_new_tokens=None,
    seed: int = 0, template=None, system_prompt=None, user_template: str | None = None, few_shot=None,
) -> BenchmarkRun:
    """One loaded benchmark's run: each setting given here overrides its protocol's (``ValueError`` for k > n).
    ``template`` may be a ``PromptFormat`` (e.g. ``PromptFormat.from_section(recipe.data)``): it sets all four
    prompt settings."""
    if isinstance(template, PromptFormat):
        template, system_prompt, user_template, few_shot = (template.template, template.system_prompt,
                                                            template.user_template, template.few_shot)
    protocol = loaded.protocol
    samples = n if n is not None else protocol.n
    sampling = SamplingSettings(
        n=samples,
        temperature=protocol.temperature if temperature is None else temperature,
        top_p=protocol.top_p if top_p is None else top_p,
        max_new_tokens=protocol.max_new_tokens if max_new_tokens is None else max_new_tokens,
        seed=seed,
    )
    if k_list is None:
        ks = sorted({k for k in protocol.k_list if k <= samples} | {1, samples})
    else:
        try:
            ks = check_k_list(list(k_list), samples)
        except ValueError as error:
            raise ValueError(f"{loaded.name}: {error}") from None
    return BenchmarkRun(loaded, sampling, tuple(ks), template or protocol.template, system_prompt,
                        user_template or "{problem}", tuple(dict(example) for example in few_shot or ()))


def greedy_repeat_note(run: BenchmarkRun) -> str | None:
    """A warning when greedy decoding meets n > 1: the n samples are copies, so pass@k equals pass@1."""
    if run.sampling.greedy and run.sampling.n > 1:
        return (f"{run.benchmark.name}: greedy decoding with n={run.sampling.n} gives {run.sampling.n} identical "
                f"samples (pass@k = pass@1); give --temperature (e.g. 0.6) to sample")
    return None


def evaluate(
    model,
    benchmarks: Sequence[str] | Sequence[BenchmarkRun],
    *,
    tokenizer=None,
    n: int | None = None,
    k_list: Sequence[int] | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    max_new_tokens: int | None = None,
    seed: int = 0,
    limit: int | None = None,
    template: str | dict | None = None,
    system_prompt: str | None = None,
    output_dir: str | os.PathLike | None = None,
    backend: str | Backend = "transformers",
    batch_size: int = 16,
    data_dir: str | os.PathLike | None = None,
    dtype: str = "float32",
    grading_processes: int = 1,
    progress: bool = True,
    console=None,
    model_name: str | None = None,
    prepare_model=None,
    records_out: list | None = None,
) -> dict[str, Any]:
    """Evaluate ``model`` (a spec string, a ``(model, tokenizer)`` pair, or a model with ``tokenizer=``).

    ``benchmarks`` are names (planned here from the settings below) or ``BenchmarkRun`` objects already planned
    (``plan_run``; a recipe's ``eval`` section gives them, see ``recipe_eval.py``), which carry their own settings.

    ``backend`` is ``"transformers"``, ``"vllm"`` (needs a spec or a directory) or an object with
    ``generate(prompts, settings)``. ``prepare_model(model)`` may return a replacement model for inference (the
    CLI passes the ``inference_model`` plugin hook). Returns the results dict that ``results.json`` holds;
    ``records_out``, a list, also receives every scored problem with its samples' texts, benchmark by benchmark.
    """
    if benchmarks and all(isinstance(b, BenchmarkRun) for b in benchmarks):
        given = {"n": n, "k_list": k_list, "temperature": temperature, "top_p": top_p, "limit": limit,
                 "max_new_tokens": max_new_tokens, "template": template, "system_prompt": system_prompt}
        clash = sorted(key for key, value in given.items() if value is not None)
        if clash:
            raise ValueError(f"planned runs carry their own settings; do not also pass {', '.join(clash)}")
        runs = list(benchmarks)
    else:
        runs = plan_runs(
            benchmarks, n=n, k_list=k_list, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens,
            seed=seed, limit=limit, template=template, system_prompt=system_prompt, data_dir=data_dir,
        )
    notes = [note for note in map(greedy_repeat_note, runs) if note]
    if notes and progress:
        from rich.console import Console

        for note in notes:
            (console or Console(stderr=True)).print(f"[yellow]note:[/] {note}", highlight=False)
    if isinstance(model, tuple):
        model, tokenizer = model
    if model_name is None:
        model_name = model if isinstance(model, str) else getattr(model, "name_or_path", None) or type(model).__name__
    backend_name = backend if isinstance(backend, str) else getattr(backend, "name", type(backend).__name__)
    if backend_name not in ("transformers", "vllm") and isinstance(backend, str):
        raise ValueError(f"unknown backend {backend!r}; use 'transformers' or 'vllm'")
    out = Path(output_dir) if output_dir is not None else None
    identities = {run.benchmark.name: run.identity(str(model_name), backend_name) for run in runs}
    done: dict[tuple[str, str], dict] = {}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        check_and_record_config(out, identities)
        done = read_samples(out / SAMPLES_FILE)

    state = {"backend": None if isinstance(backend, str) else backend, "tokenizer": tokenizer, "model": model}

    def get_backend():  # load the model only if some problem still needs samples
        if state["backend"] is None:
            state["backend"], state["tokenizer"] = _build_backend(
                backend, state["model"], state["tokenizer"], batch_size, dtype, prepare_model
            )
        return state["backend"]

    timing: dict[str, dict[str, float]] = {}
    per_benchmark: dict[str, list[dict]] = {}
    todo = {run.benchmark.name: [r for r in run.benchmark.rows if (run.benchmark.name, r["id"]) not in done]
            for run in runs}
    with _progress_bar(progress, console) as bar:
        for run in runs:
            name = run.benchmark.name
            pending = todo[name]
            task = bar.add_task(name, total=len(run.benchmark.rows), completed=len(run.benchmark.rows) - len(pending))
            started, new_tokens = time.perf_counter(), 0
            chunk = max(1, batch_size // (1 if run.sampling.greedy else run.sampling.n))
            for start in range(0, len(pending), chunk):
                rows = pending[start:start + chunk]
                gen = get_backend()
                prompts = run.render(state["tokenizer"], [r["problem"] for r in rows])
                completions = gen.generate(prompts, run.sampling)
                records = _score(run, rows, prompts, completions, grading_processes)
                generated = [r["samples"][:1] if run.sampling.greedy else r["samples"] for r in records]
                new_tokens += sum(s["num_tokens"] for samples in generated for s in samples)  # copies not counted
                if out is not None:
                    append_samples(out / SAMPLES_FILE, records)
                for record in records:
                    done[(name, record["id"])] = record
                bar.advance(task, len(rows))
            elapsed = time.perf_counter() - started
            timing[name] = {"seconds": round(elapsed, 3), "new_problems": len(pending), "new_tokens": new_tokens,
                            "tokens_per_second": round(new_tokens / elapsed, 2) if pending and elapsed > 0 else None}
            per_benchmark[name] = [done[(name, row["id"])] for row in run.benchmark.rows]
            if records_out is not None:
                records_out.extend(per_benchmark[name])

    results = _results(runs, per_benchmark, identities, timing, str(model_name), backend_name, batch_size)
    results["notes"] = notes
    if out is not None:
        write_json(out / RESULTS_FILE, results)
    if progress:
        print_results(results, console=console)
    return results


# --- model and backend ------------------------------------------------------------------------------------------


def _build_backend(backend, model, tokenizer, batch_size, dtype, prepare_model):
    if backend == "vllm":
        if not isinstance(model, str):
            raise ValueError("the vllm backend loads weights from disk: pass a model spec or directory, not a model")
        path = resolve_model_path(model)
        return VLLMBackend(path, dtype="auto" if dtype == "float32" else dtype), load_tokenizer(model)
    if isinstance(model, str):
        model, tokenizer = load_for(None, spec=model, dtype=dtype)  # a bare spec: no test-model switch
    if tokenizer is None:
        raise ValueError("a model object needs its tokenizer: pass tokenizer= or a (model, tokenizer) pair")
    if prepare_model is not None:
        model = prepare_model(model) or model
    return TransformersBackend(model, tokenizer, batch_size=batch_size), tokenizer


# --- grading and scoring ----------------------------------------------------------------------------------------


def _score(run: BenchmarkRun, rows, prompts, completions: list[list[Completion]], processes: int) -> list[dict]:
    """Grade every sample (its last box, else the whole response, as ``grade_response`` reads it)."""
    pairs = [(row["answer"], c.text) for row, samples in zip(rows, completions) for c in samples]
    verdicts = grade_many(pairs, processes=processes, responses=True)
    records, position = [], 0
    for row, prompt, samples in zip(rows, prompts, completions):
        sample_records = []
        for completion in samples:
            verdict = verdicts[position]
            position += 1
            sample_records.append({
                "text": completion.text, "num_tokens": completion.num_tokens,
                "finish_reason": completion.finish_reason, "extracted": extract_answer(completion.text),
                "correct": bool(verdict.equal), "reason": verdict.reason,
            })
        reference_ok = all(verdicts[i].reference_ok for i in range(position - len(samples), position))
        records.append({
            "benchmark": run.benchmark.name, "version": run.benchmark.version, "id": row["id"],
            "problem": row["problem"], "answer": row["answer"], "prompt": prompt, "reference_ok": reference_ok,
            "num_correct": sum(s["correct"] for s in sample_records), "samples": sample_records,
        })
    return records


def _answer_key(answer: str) -> str:
    """maj@k's classes: answers with the same canonical string (the grader's ``normalize``) vote together."""
    try:
        return normalize(answer)
    except Exception:  # a pathological answer still gets a vote, as itself
        return "".join(answer.split())


def problem_scores(record: dict, k_list: Sequence[int]) -> dict[str, float]:
    """pass@k, maj@k (k > 1) and avg@n of one scored problem."""
    correct = [s["correct"] for s in record["samples"]]
    answers = [None if s["extracted"] is None else str(s["extracted"]) for s in record["samples"]]
    n, c = len(correct), sum(correct)
    scores = {f"pass@{k}": pass_at_k(n, c, k) for k in k_list}
    scores.update({f"maj@{k}": maj_at_k(answers, correct, k, key=_answer_key) for k in k_list if k > 1})
    scores[f"avg@{n}"] = avg_at_n(correct)
    return scores


def benchmark_metrics(records: list[dict], k_list: Sequence[int]) -> dict[str, Any]:
    """Mean scores over the problems whose reference could be read, plus length and format rates."""
    scored = [r for r in records if r["reference_ok"]]
    samples = [s for r in records for s in r["samples"]]
    metrics: dict[str, Any] = {}
    if scored:
        per_problem = [problem_scores(r, k_list) for r in scored]
        for key in per_problem[0]:
            metrics[key] = mean([scores[key] for scores in per_problem])
        metrics["accuracy"] = mean([avg_at_n([s["correct"] for s in r["samples"]]) for r in scored])
        # A boxed answer graded right (an unboxed response never counts), and the lenient reading that also
        # accepts a response whose last number equals the reference: the in-training held-out numbers.
        boxed = [[s["correct"] and s["extracted"] is not None for s in r["samples"]] for r in scored]
        metrics["boxed_accuracy"] = mean([avg_at_n(flags) for flags in boxed])
        metrics["lenient_accuracy"] = mean([
            avg_at_n([ok or lenient_correct(s.get("text", ""), r["answer"]) for ok, s in zip(flags, r["samples"])])
            for flags, r in zip(boxed, scored)
        ])
    metrics["num_problems"] = len(scored)
    metrics["unreadable_references"] = len(records) - len(scored)
    if samples:
        metrics["mean_response_tokens"] = mean([s["num_tokens"] for s in samples])
        metrics["truncated_rate"] = mean([float(s["finish_reason"] == "length") for s in samples])
        metrics["answer_rate"] = mean([float(s["extracted"] is not None) for s in samples])
    return metrics


def _results(runs, per_benchmark, identities, timing, model_name, backend_name, batch_size) -> dict[str, Any]:
    benchmarks = {}
    for run in runs:
        name = run.benchmark.name
        benchmarks[name] = {
            **run.benchmark.describe(),
            "settings": identities[name],
            "k_list": list(run.k_list),
            "metrics": benchmark_metrics(per_benchmark[name], run.k_list),
            "timing": timing[name],
        }
    common = set.intersection(*(set(b["metrics"]) for b in benchmarks.values()))
    average = {
        key: mean([b["metrics"][key] for b in benchmarks.values()])
        for key in sorted(common)
        if key.startswith(("pass@", "maj@", "avg@")) or key in ("accuracy", "mean_response_tokens")
    }
    versions = library_versions()
    return {
        "schema": RESULTS_SCHEMA,
        "model": model_name,
        "backend": backend_name,
        "backend_version": versions.get("vllm" if backend_name == "vllm" else "transformers"),
        "grader": grader_identity(versions),
        "batch_size": batch_size,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": versions,
        "benchmarks": benchmarks,
        "average": average,
        # Per problem: the verdicts and scores; the response texts stay in samples.jsonl (n=1024 would be gigabytes).
        "problems": {
            run.benchmark.name: [_problem_summary(record, run.k_list) for record in per_benchmark[run.benchmark.name]]
            for run in runs
        },
    }


def _problem_summary(record: dict, k_list: Sequence[int]) -> dict[str, Any]:
    summary = {key: value for key, value in record.items() if key not in ("samples", "prompt", "problem")}
    summary["samples"] = [{key: value for key, value in sample.items() if key != "text"}
                          for sample in record["samples"]]
    summary["scores"] = problem_scores(record, k_list) if record["reference_ok"] else None
    return summary


def grader_identity(versions: dict[str, str | None] | None = None) -> dict[str, str | None]:
    """Which grader scored the samples: ours, at the trl-reasoning version, on these latex2sympy2/sympy versions."""
    versions = versions or library_versions()
    return {"name": "trl_reasoning.grading", "version": versions.get("trl-reasoning"),
            "latex2sympy2": versions.get("latex2sympy2"), "sympy": versions.get("sympy")}


def library_versions() -> dict[str, str | None]:
    return versions_of(("trl-reasoning", "torch", "transformers", "trl", "datasets", "latex2sympy2", "sympy", "vllm"),
                       python=True)


class _NoProgress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_task(self, *args, **kwargs):
        return 0

    def advance(self, *args, **kwargs):
        pass


def _progress_bar(enabled: bool, console):
    if not enabled:
        return _NoProgress()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TimeRemainingColumn(), console=console,
    )
