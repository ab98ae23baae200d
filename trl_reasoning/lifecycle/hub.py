"""The model card and the Hugging Face Hub push of a run.

::

    trl-reason push runs/qs --repo-id me/qs-grpo          # after a run; or `hub: {repo_id: ..., push: end}`

What goes up (one commit): the model or LoRA adapter and tokenizer from ``OUTPUT_DIR/final`` at the repository
root (so ``from_pretrained("me/qs-grpo")`` works), ``README.md`` (the model card below),
``recipe.resolved.yaml``, ``metrics.jsonl``, ``results.json``, ``provenance.json``, ``summary.md``, the plots and
every ``eval/**/results.json`` and ``eval/checkpoints.json`` that ``trl-reason eval`` wrote into the run.

The model card: base model, the methods with their paper links (the core's for the algorithm, and whatever the
active plugins return from ``model_card_sections``), the results table, the recipe, and the versions of the
libraries and plugins. It replaces the card TRL writes at every save: every trainer's ``create_model_card`` calls
the ``card_writer`` that ``run`` injects.

The token: ``huggingface_hub`` finds it as usual (``HF_TOKEN``, or ``huggingface-cli login``). It is never passed
as an argument, printed, or written into the run's files; ``HF_ENDPOINT`` points the push at another Hub.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import yaml

from trl_reasoning.versions import versions_of
from trl_reasoning.config import redact
from trl_reasoning.config.recipe import load_recipe
from trl_reasoning.config.schema import ConfigError
from trl_reasoning.console import console
from trl_reasoning.lifecycle.report import read_metrics, summary
from trl_reasoning.plugins.manager import PluginError, PluginManager

FINAL_DIR = "final"
CARD_FILE = "README.md"
RUN_FILES = ("recipe.resolved.yaml", "metrics.jsonl", "results.json", "provenance.json", "summary.md")
# Training state that never goes to the Hub (optimizer moments, RNG, pickled arguments, plugin state).
NOT_PUSHED = {"optimizer.pt", "scheduler.pt", "scaler.pt", "training_args.bin", "trainer_state.json",
              "plugin_state.pt", "trl_reasoning_checkpoint.json", "README.md"}
NOT_PUSHED_PATTERNS = (re.compile(r"^rng_state(_\d+)?\.pth$"), re.compile(r".*\.tmp$"))

EMBEDDED_BASE = {"embedded:smollm2-135m": "HuggingFaceTB/SmolLM2-135M-Instruct"}
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

# The core's methods (plugins describe theirs through `model_card_sections`).
CORE_METHODS = {
    "grpo": ("GRPO", "DeepSeekMath: Pushing the Limits of Mathematical Reasoning in Open Language Models",
             "https://arxiv.org/abs/2402.03300"),
}
LOSS_TYPES = {
    "dapo": ("DAPO token-level loss", "DAPO: An Open-Source LLM Reinforcement Learning System at Scale",
             "https://arxiv.org/abs/2503.14476"),
    "dr_grpo": ("Dr. GRPO loss", "Understanding R1-Zero-Like Training: A Critical Perspective",
                "https://arxiv.org/abs/2503.20783"),
}


class HubError(Exception):
    """A push could not start (nothing to push, no repository id); the message says what to do."""


# -- the model card -------------------------------------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _base_model(name_or_path: str) -> str | None:
    name = EMBEDDED_BASE.get(name_or_path, name_or_path)
    return name if HUB_ID.match(name) and not os.path.exists(name) else None


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def results_rows(output_dir: str | Path, results: dict | None = None) -> list[tuple[str, str, str]]:
    """``(metric, before, after)`` rows: held-out accuracy before/after, train curves first/last, benchmarks."""

    output_dir = Path(output_dir)
    results = results if results is not None else (_read_json(output_dir / "results.json") or {})
    rows = []
    before, after = results.get("before") or {}, results.get("after") or {}
    for key in sorted(set(before) | set(after)):
        rows.append((f"held-out {key}", _fmt(before.get(key)), _fmt(after.get(key))))
    for name, (first, last) in summary(read_metrics(output_dir)).items():
        if not name.startswith("heldout/"):
            rows.append((f"train {name} (first / last step)", _fmt(first), _fmt(last)))
    for path in sorted((output_dir / "eval").glob("**/results.json")) if (output_dir / "eval").is_dir() else []:
        data = _read_json(path) or {}
        where = path.parent.relative_to(output_dir / "eval").as_posix()
        for bench, info in sorted((data.get("benchmarks") or {}).items()):
            metrics = info.get("metrics") or {}
            shown = ", ".join(f"{k} {_fmt(v)}" for k, v in metrics.items()
                              if k == "accuracy" or k.startswith(("pass@", "maj@", "avg@")))
            rows.append((f"eval {bench}" + (f" ({where})" if where != "." else ""), "", shown or "-"))
    train = results.get("train") or {}
    if train.get("global_step") is not None:
        rows.append(("optimizer steps", "", str(train["global_step"])))
    return rows


def _versions_table(provenance: dict | None, plugin_rows: list[tuple[str, str, str]]) -> str:
    versions = dict((provenance or {}).get("versions") or {})
    if not versions:
        versions = versions_of(("trl-reasoning", "trl", "transformers", "torch", "accelerate", "peft", "datasets"))
    lines = ["| package | version |", "|---|---|"]
    lines += [f"| {dist} | {_fmt(version)} |" for dist, version in versions.items()]
    if plugin_rows:
        lines += ["", "| plugin | distribution | version |", "|---|---|---|"]
        lines += [f"| {name} | {dist} | {version} |" for name, dist, version in plugin_rows]
    return "\n".join(lines)


def _plugin_rows(recipe, pm, provenance: dict | None) -> list[tuple[str, str, str]]:
    recorded = (provenance or {}).get("plugins") or {}
    rows = []
    for name in recipe.plugins:
        info = pm.installed.get(name) if pm is not None else None
        dist = (info.distribution if info else None) or (recorded.get(name) or {}).get("distribution")
        version = (info.version if info else None) or (recorded.get(name) or {}).get("version")
        rows.append((name, _fmt(dist), _fmt(version)))
    return rows


def _method_lines(recipe) -> list[str]:
    lines = []
    algorithm = recipe.algorithm
    if algorithm in CORE_METHODS:
        label, title, url = CORE_METHODS[algorithm]
        lines.append(f"- **{label}**: [{title}]({url})")
    else:
        lines.append(f"- **{algorithm}** (its plugin describes it below, when it adds a section)")
    loss_type = recipe.trainer.get("loss_type", "dapo" if algorithm == "grpo" else None)
    if loss_type in LOSS_TYPES:
        label, title, url = LOSS_TYPES[loss_type]
        lines.append(f"- **{label}** (`loss_type: {loss_type}`): [{title}]({url})")
    for name, config in recipe.plugins.items():
        lines.append(f"- plugin **{name}**" + (f" with `{json.dumps(config, default=str)}`" if config else ""))
    return lines


def model_card(output_dir: str | Path, recipe, pm=None, results: dict | None = None,
               repo_id: str | None = None) -> str:
    """The Markdown model card of a run (YAML metadata, methods, results, recipe, versions)."""
    output_dir = Path(output_dir)
    provenance = _read_json(output_dir / "provenance.json")
    base = _base_model(recipe.model.name_or_path)
    adapter = (output_dir / FINAL_DIR / "adapter_config.json").exists() or recipe.model.lora is not None
    tags = ["trl", "trl-reasoning", recipe.algorithm, "reinforcement-learning", "math-reasoning",
            *sorted(recipe.plugins)]
    meta: dict[str, Any] = {"library_name": "peft" if adapter else "transformers", "tags": tags,
                            "pipeline_tag": "text-generation"}
    if base:
        meta["base_model"] = base
    title = repo_id.split("/")[-1] if repo_id else output_dir.resolve().name
    sections = []
    if pm is not None:
        try:
            for result in pm.hook.model_card_sections(recipe=recipe, results=results):
                sections += [s for s in (result or []) if s]
        except Exception as exc:  # a broken plugin section must not lose the card
            sections.append(f"(a plugin's model card section failed: {type(exc).__name__}: {exc})")
    rows = results_rows(output_dir, results)
    results_md = "\n".join(["| metric | before | after |", "|---|---|---|"] +
                           [f"| {m} | {b} | {a} |" for m, b, a in rows]) if rows else "(no results recorded)"
    recipe_yaml = yaml.safe_dump({k: v for k, v in recipe.to_dict().items() if k != "source"}, sort_keys=False,
                                 allow_unicode=True).rstrip()
    versions = _versions_table(provenance, _plugin_rows(recipe, pm, provenance))
    base_text = (f"[{base}](https://huggingface.co/{base})" if base else f"`{recipe.model.name_or_path}`")
    what = "a LoRA adapter for" if adapter else "a fine-tune of"
    parts = [
        "---\n" + yaml.safe_dump(meta, sort_keys=False).rstrip() + "\n---",
        f"# {title}",
        f"This is {what} {base_text}, trained with reinforcement learning from verifiable rewards "
        f"(`{recipe.algorithm}`) with trl-reasoning on Hugging Face TRL."
        + (f"\n\n{recipe.description}" if recipe.description else ""),
        "## Methods\n\n" + "\n".join(_method_lines(recipe)),
        *sections,
        "## Results\n\n" + results_md,
    ]
    if (output_dir / "plots" / "overview.png").exists():
        parts.append("![training curves](plots/overview.png)")
    parts += [
        "## Recipe\n\nReproduce with `trl-reason run recipe.resolved.yaml` (the recipe as resolved at the start "
        "of the run):\n\n```yaml\n" + recipe_yaml + "\n```",
        "## Training data\n\n" + f"`{recipe.data.train}`"
        + (f", fingerprint `{provenance.get('data_fingerprint')}`" if provenance else ""),
        "## Versions\n\n" + versions,
    ]
    if provenance and provenance.get("git_revision"):
        parts.append(f"trl-reasoning git revision `{provenance['git_revision']}`"
                     + (" (with local changes)" if provenance.get("git_dirty") else ""))
    return "\n\n".join(parts) + "\n"


def write_model_card(output_dir: str | Path, recipe, pm=None, results: dict | None = None,
                     repo_id: str | None = None) -> Path:
    """Write ``README.md`` into the output dir (replacing TRL's) and into ``final/`` when it exists."""
    output_dir = Path(output_dir)
    repo_id = repo_id or getattr(getattr(recipe, "hub", None), "repo_id", None)
    text = model_card(output_dir, recipe, pm=pm, results=results, repo_id=repo_id)
    output_dir.mkdir(parents=True, exist_ok=True)
    path = redact.write_text(output_dir / CARD_FILE, text)
    if (output_dir / FINAL_DIR).is_dir():
        redact.write_text(output_dir / FINAL_DIR / CARD_FILE, text)
    return path


# -- what goes up ---------------------------------------------------------------------------------------------------


def _pushable(name: str) -> bool:
    return name not in NOT_PUSHED and not any(p.match(name) for p in NOT_PUSHED_PATTERNS)


def model_files(model_dir: str | Path) -> list[tuple[str, Path]]:
    model_dir = Path(model_dir)
    return [(p.relative_to(model_dir).as_posix(), p) for p in sorted(model_dir.rglob("*"))
            if p.is_file() and _pushable(p.name)]


def run_files(output_dir: str | Path) -> list[tuple[str, Path]]:
    """``(path_in_repo, local_path)`` of everything but the model: run records, plots, evaluation results."""
    output_dir = Path(output_dir)
    files = [(name, output_dir / name) for name in RUN_FILES if (output_dir / name).is_file()]
    plots = output_dir / "plots"
    if plots.is_dir():
        files += [(f"plots/{p.name}", p) for p in sorted(plots.glob("*.png"))]
    evals = output_dir / "eval"
    if evals.is_dir():
        files += [(f"eval/{p.relative_to(evals).as_posix()}", p) for p in sorted(evals.glob("**/results.json"))]
        if (evals / "checkpoints.json").is_file():
            files.append(("eval/checkpoints.json", evals / "checkpoints.json"))
    return files


def load_run_recipe(output_dir: str | Path):

    path = Path(output_dir) / "recipe.resolved.yaml"
    if not path.exists():
        raise HubError(f"{path} not found: is {output_dir} the output dir of a trl-reason run?")
    recipe = load_recipe(path)
    recipe.source = None
    return recipe


def _plugin_manager(recipe):
    """The recipe's plugins, activated for their ``model_card_sections`` (None when they are not installed)."""

    try:
        pm = PluginManager()
        pm.activate(recipe.plugins)
        return pm
    except (PluginError, ConfigError) as exc:

        console.print(f"[yellow]warning:[/] the model card has no plugin sections: {exc}")
        return None


def _upload(repo_id: str, files: list[tuple[str, Path | bytes]], private: bool, message: str) -> str:
    """One commit of ``files`` to ``repo_id``; any failure of the Hub or the network is a one-line ``HubError``."""
    try:
        return _create_and_commit(repo_id, files, private, message)
    except HubError:
        raise
    except Exception as exc:
        raise HubError(hub_failure(exc, repo_id)) from exc


def hub_failure(exc: BaseException, repo_id: str) -> str:
    """What went wrong talking to the Hub, in one line with what to check (no token in it)."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    chain, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    names = {type(e).__name__ for e in chain}
    detail = " ".join(str(chain[0]).split())[:300]
    if names & {"ConnectError", "ConnectTimeout", "ReadTimeout", "ConnectionError", "OfflineModeIsEnabled"}:
        what = (f"cannot reach the Hub at {endpoint}: check the network connection and HF_ENDPOINT "
                "(HF_HUB_OFFLINE must be unset to push)")
    elif any("401" in str(e) or "403" in str(e) for e in chain):
        what = f"the Hub at {endpoint} refused the token: log in with `huggingface-cli login` or set HF_TOKEN"
    else:
        what = f"the Hub at {endpoint} answered with an error: check the repository id and your login"
    return redact.redact(f"push to {repo_id} failed: {what} ({type(chain[0]).__name__}: {detail})")


def _create_and_commit(repo_id: str, files: list[tuple[str, Path | bytes]], private: bool, message: str) -> str:
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi()  # token: HF_TOKEN or the stored login, resolved inside huggingface_hub
    url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    operations = [CommitOperationAdd(path_in_repo=path, path_or_fileobj=local if isinstance(local, bytes)
                                     else str(local)) for path, local in files]
    api.create_commit(repo_id, operations=operations, commit_message=message, repo_type="model")
    return str(url)


def push_run(output_dir: str | Path, repo_id: str | None = None, private: bool | None = None, pm=None,
             commit_message: str | None = None) -> str:
    """Push a finished run (``OUTPUT_DIR/final`` and the run's records) with a fresh model card; returns the URL."""

    output_dir = Path(output_dir)
    recipe = load_run_recipe(output_dir)
    repo_id = repo_id or recipe.hub.repo_id
    if not repo_id:
        raise HubError("no repository id: pass --repo-id ID or set hub.repo_id in the recipe")
    private = recipe.hub.private if private is None else private
    final = output_dir / FINAL_DIR
    if not (final / "config.json").exists() and not (final / "adapter_config.json").exists():
        raise HubError(f"{final} holds no model: push a finished run (its `final/` directory)")
    if pm is None:
        pm = _plugin_manager(recipe)
    card = write_model_card(output_dir, recipe, pm=pm, repo_id=repo_id)
    files = model_files(final) + run_files(output_dir) + [(CARD_FILE, card)]
    url = _upload(repo_id, files, private, commit_message or f"trl-reasoning run {output_dir.resolve().name}")
    console.print(f"pushed {len(files)} files to {url}")
    return url


def push_checkpoint(checkpoint: str | Path, output_dir: str | Path, repo_id: str, private: bool = True,
                    recipe=None, pm=None) -> str | None:
    """``hub.push: every_save``: push a checkpoint's model (not its optimizer) and the card. A failed push is
    reported and training goes on."""

    checkpoint, output_dir = Path(checkpoint), Path(output_dir)
    try:
        recipe = recipe or load_run_recipe(output_dir)
        text = model_card(output_dir, recipe, pm=pm, repo_id=repo_id)
        files = model_files(checkpoint) + run_files(output_dir) + [(CARD_FILE, redact.redact(text).encode("utf-8"))]
        return _upload(repo_id, files, private, f"trl-reasoning {checkpoint.name}")
    except Exception as exc:
        console.print(f"[yellow]warning:[/] push of {checkpoint.name} to {repo_id} failed: "
                      f"{type(exc).__name__}: {exc}. Training goes on; push later with `trl-reason push`.")
        return None
