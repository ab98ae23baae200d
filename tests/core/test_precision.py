"""Precision: trainable weights keep fp32 master copies (``model.dtype: float32`` + ``trainer.bf16: true``, i.e.
bf16 autocast), as the authors' verl/DeepSpeed setups did; pure-bf16 weights lose most AdamW updates to rounding,
and ``trl-reason run`` warns about them once, before training.

The training runs go through ``trl_reasoning.cli.main.main`` on the tiny model: one SFT optimizer step on fixed data (no
sampling, so every setting sees the same batch) at lr 1e-5, under (a) the paper recipes' precision settings, (b) an
fp32 reference without autocast and (c) pure bf16. bf16 autocast changes the gradients only at bf16 resolution, so
(a) moves the weights as (b) does; (c) rounds most of the step away."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from trl_reasoning.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def _is_paper_recipe(path: Path) -> bool:
    """A paper recipe: a recipe file (with a trainer section) that is not a CPU variant, a CPU composition
    (recipes/combined) nor a settings table."""
    return (not path.name.startswith("cpu") and path.parent.name != "combined"
            and "trainer" in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}))


PAPER_RECIPES = sorted(p for p in (ROOT / "recipes").glob("*/*.yaml") if _is_paper_recipe(p))
PURE_BF16_BY_DESIGN = {"questa"}  # AReaL trains the bf16 weights in place (FSDP2 param_dtype bf16, no masters)
LR = 1.0e-5


def _precision(path: Path) -> tuple:
    recipe = yaml.safe_load(path.read_text(encoding="utf-8"))
    model = recipe.get("model") or {}
    return model.get("dtype", "float32"), bool((recipe.get("trainer") or {}).get("bf16", False)), \
        bool(model.get("pure_bf16", False))


def test_every_method_has_paper_recipes():
    assert {p.parent.name for p in PAPER_RECIPES} == {"fastcurl", "hapo", "inra", "one-shot-rlvr", "pcl", "questa",
                                                      "trra"}
    assert len(PAPER_RECIPES) == 13


@pytest.mark.parametrize("path", PAPER_RECIPES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_paper_recipes_keep_fp32_master_weights(path):
    expected = ("bfloat16", True, True) if path.parent.name in PURE_BF16_BY_DESIGN else ("float32", True, False)
    assert _precision(path) == expected


def _sft_recipe(tmp_path: Path, tiny_model_path: str) -> Path:
    path = tmp_path / "sft.yaml"
    path.write_text(yaml.safe_dump({
        "model": {"name_or_path": tiny_model_path},
        "data": {"train": "embedded:arithmetic", "options": {"n_train": 16, "n_test": 4}, "template": "chat"},
        "trainer": {"algorithm": "sft", "completion_column": "solution", "max_steps": 1, "learning_rate": LR,
                    "lr_scheduler_type": "constant", "per_device_train_batch_size": 8, "max_length": 64},
    }), encoding="utf-8")
    return path


def _step(tmp_path, tiny_model_path, capsys, name: str, *settings: str) -> tuple[dict, str]:
    """One optimizer step with ``settings`` (``--set`` items); returns the trained weights (fp32) and the console."""
    out = tmp_path / name
    status = main(["run", str(_sft_recipe(tmp_path, tiny_model_path)), "--output-dir", str(out),
                   *[item for setting in settings for item in ("--set", setting)]])
    assert status == 0
    weights = {k: v.float() for k, v in load_file(str(out / "final" / "model.safetensors")).items()}
    return weights, " ".join(capsys.readouterr().err.split())


def _start(tiny_model_path: str, dtype: torch.dtype) -> dict:
    """The initial weights as a run loading them in ``dtype`` holds them."""
    return {k: v.to(dtype).float() for k, v in load_file(str(Path(tiny_model_path) / "model.safetensors")).items()}


def _movement(after: dict, before: dict) -> torch.Tensor:
    return torch.cat([(after[k] - before[k]).flatten() for k in sorted(before)])  # (P,) all weights


@pytest.fixture(scope="module")
def steps(tmp_path_factory, tiny_model_path):
    """The three one-step runs, once for the module (capsys is per test, so capture by hand here)."""
    import contextlib
    import io

    tmp = tmp_path_factory.mktemp("precision")
    results = {}
    for name, settings in {
        "paper": ("model.dtype=float32", "trainer.bf16=true"),
        "reference": ("model.dtype=float32", "trainer.bf16=false"),
        "pure_bf16": ("model.dtype=bfloat16", "trainer.bf16=true"),
    }.items():
        err = io.StringIO()
        with contextlib.redirect_stderr(err):  # the CLI's console prints to sys.stderr
            status = main(["run", str(_sft_recipe(tmp, tiny_model_path)), "--output-dir", str(tmp / name),
                           *[item for s in settings for item in ("--set", s)]])
        assert status == 0
        weights = {k: v.float() for k, v in load_file(str(tmp / name / "final" / "model.safetensors")).items()}
        results[name] = (weights, " ".join(err.getvalue().split()))
    return results


def test_paper_precision_moves_the_weights_as_fp32_does_and_pure_bf16_does_not(steps, tiny_model_path):
    fp32_start, bf16_start = _start(tiny_model_path, torch.float32), _start(tiny_model_path, torch.bfloat16)
    reference = _movement(steps["reference"][0], fp32_start)  # (P,)
    paper = _movement(steps["paper"][0], fp32_start)  # (P,)
    pure = _movement(steps["pure_bf16"][0], bf16_start)  # (P,)
    moved = reference.abs() > 0.5 * LR  # (P,) AdamW's first step moves a weight by about lr (times sign of grad)
    assert moved.float().mean() > 0.9
    # (a) fp32 masters + bf16 autocast: the same movement as fp32, up to bf16 noise in the gradients (which shows
    # the autocast ran: an fp32 step would reproduce the reference exactly)
    assert not torch.equal(paper, reference)
    assert torch.allclose(paper.abs().sum(), reference.abs().sum(), rtol=0.02)
    assert torch.nn.functional.cosine_similarity(paper.double(), reference.double(), dim=0) > 0.95
    assert (paper[moved].sign() == reference[moved].sign()).float().mean() > 0.95
    # (c) pure bf16: most weights do not move at all, and the total movement is a fraction of the intended one
    retained = float(pure.abs().sum() / reference.abs().sum())
    unchanged = float((pure[moved] == 0).float().mean())
    assert retained < 0.5 and unchanged > 0.5, (retained, unchanged)
    cosine = float(torch.nn.functional.cosine_similarity(paper.double(), reference.double(), dim=0))
    print(f"movement kept: paper {float(paper.abs().sum() / reference.abs().sum()):.4f} (cosine {cosine:.4f}, "
          f"max |diff| "
          f"{float((paper - reference).abs().max()):.2e}), pure bf16 {retained:.3f} ({unchanged:.1%} of the weights "
          "that should move did not)")


def test_the_pure_bf16_warning_fires_once_and_names_the_fix(steps):
    pure_console = steps["pure_bf16"][1]
    assert pure_console.count("without fp32 master weights") == 1
    assert "the policy" in pure_console and "model.dtype: float32" in pure_console
    assert "model.pure_bf16: true" in pure_console
    for name in ("paper", "reference"):
        assert "master weights" not in steps[name][1]


def test_pure_bf16_on_purpose_is_silent_and_needs_bf16_weights(tmp_path, tiny_model_path, capsys):
    _, console = _step(tmp_path, tiny_model_path, capsys, "on-purpose", "model.dtype=bfloat16", "trainer.bf16=true",
                       "model.pure_bf16=true")
    assert "master weights" not in console
    status = main(["run", str(_sft_recipe(tmp_path, tiny_model_path)), "--set", "model.pure_bf16=true"])
    assert status == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "model.pure_bf16" in err and "model.dtype: bfloat16" in err


# -- the loss corrections TRL 1.16 adds by default (vLLM importance sampling, bias-corrected KL) --------------------

# (vllm_importance_sampling_correction, mode, cap, use_bias_correction_kl) as the authors' code had them: verl and
# TRL ~0.16 have neither; AReaL (QuestA) masks tokens whose behaviour weight exceeds 5 (TRL's token_mask, cap 5).
AUTHORS_LOSS = {"questa": (True, "token_mask", 5.0, False)}
NEITHER = (False, None, None, False)
ONE_PROCESS = {"qwen2.5-math-1.5b-pi1-ppo": ["trainer.gradient_accumulation_steps=128"]}  # the header's command


def _grpo_recipes():
    for path in PAPER_RECIPES:
        algorithm = ((yaml.safe_load(path.read_text(encoding="utf-8")).get("trainer") or {}).get("algorithm"))
        if algorithm in ("grpo", "ppo"):
            yield path


@pytest.mark.parametrize("path", list(_grpo_recipes()), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_paper_recipes_give_trl_the_authors_loss_corrections(path, tmp_path):
    from trl_reasoning.config.recipe import load_recipe
    from trl_reasoning.run import build_config, importance_sampling_line, prepare

    recipe = load_recipe(path, ONE_PROCESS.get(path.stem, []))
    args = build_config(prepare(recipe), str(tmp_path))
    correction, mode, cap, bias_kl = AUTHORS_LOSS.get(path.parent.name, NEITHER)
    assert args.vllm_importance_sampling_correction is correction
    assert args.use_bias_correction_kl is bias_kl
    if correction:
        assert (args.vllm_importance_sampling_mode, args.vllm_importance_sampling_clip_max) == (mode, cap)
        assert args.vllm_importance_sampling_clip_min is None
    line = importance_sampling_line(args)
    assert line == (f"vLLM importance sampling: {mode} (cap {cap}); bias-corrected KL: off" if correction
                    else "vLLM importance sampling: off; bias-corrected KL: off")
    if path.parent.name == "hapo":  # the authors' TRL averaged each sequence's tokens, then the batch
        assert args.loss_type == "grpo"


@pytest.mark.parametrize("values, line", [
    ({"use_vllm": False}, None),
    ({"use_vllm": True, "beta": 0.04}, "vLLM importance sampling: sequence_mask (cap 3.0); bias-corrected KL: on"),
    ({"use_vllm": True, "beta": 0.0}, "vLLM importance sampling: sequence_mask (cap 3.0); bias-corrected KL: off"),
    ({"use_vllm": True, "vllm_importance_sampling_mode": "token_truncate", "vllm_importance_sampling_clip_min": 0.5},
     "vLLM importance sampling: token_truncate (cap 3.0, floor 0.5); bias-corrected KL: off"),
    ({"use_vllm": True, "vllm_importance_sampling_correction": False, "use_bias_correction_kl": False, "beta": 0.1},
     "vLLM importance sampling: off; bias-corrected KL: off"),
])
def test_importance_sampling_line_names_trl_defaults(values, line):
    from types import SimpleNamespace

    from trl.trainer.grpo_config import GRPOConfig

    defaults = {f: GRPOConfig.__dataclass_fields__[f].default for f in (
        "vllm_importance_sampling_correction", "vllm_importance_sampling_mode", "vllm_importance_sampling_clip_max",
        "vllm_importance_sampling_clip_min", "use_bias_correction_kl", "beta")}
    from trl_reasoning.run import importance_sampling_line

    assert importance_sampling_line(SimpleNamespace(**{**defaults, **values})) == line
