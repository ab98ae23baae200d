"""The critic: where it comes from, how it reads a completion, and how it is saved in checkpoints.

The critic is a separate ``AutoModelForTokenClassification`` with ``num_labels=1`` (one value per token), as verl's
critic is. It is never put inside the policy: vLLM pushes the policy's weights by name, ``save_model`` saves the
policy, and TRL's fused LM head returns log-probs, not the hidden states a value head needs::

    spec = critic_spec(args, recipe, policy)             # test_model > critic_model_name_or_path > the policy
    critic = load_critic(recipe, spec, args, dtype=torch.float32)    # fp32 master weights; bf16 compute by autocast
    values = critic_values(critic, prompt_ids, prompt_mask, completion_ids, completion_mask)   # (B, T)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

CRITIC_DIR = "critic"


def critic_spec(args, recipe=None, policy=None) -> str | None:
    """The spec ``load_for(recipe, "critic", spec)`` receives: ``critic_model_name_or_path``; else, when the recipe's
    model is a PEFT adapter directory (not a critic) or there is no recipe, the policy's own base weights;
    else ``None``. ``load_for`` then applies the same rules as for every model of a run: the recipe's test model
    (CI's switch) replaces everything, then this spec, then the recipe's ``model.name_or_path``."""
    if args.critic_model_name_or_path:
        return args.critic_model_name_or_path
    adapter = recipe is not None and os.path.isfile(os.path.join(str(recipe.model.name_or_path), "adapter_config.json"))
    if policy is not None and (recipe is None or adapter):
        base = policy.get_base_model() if hasattr(policy, "get_base_model") else policy
        path = getattr(base.config, "_name_or_path", "")
        if path:
            return path
    if recipe is None:
        raise ValueError("cannot tell where the critic should start: set trainer.critic_model_name_or_path")
    return None


def load_critic(recipe, spec: str | None, args, dtype=None):
    """A token-classification model with one output per token (``load_for``'s critic role: ``num_labels=1``,
    classifier dropout 0), every dropout off, optionally wrapped in LoRA."""
    from trl.trainer.utils import disable_dropout_in_model

    from trl_reasoning import load_for

    critic, _ = load_for(recipe, "critic", spec, dtype=dtype)
    disable_dropout_in_model(critic)
    critic.config.use_cache = False
    if args.critic_lora_r > 0:
        from peft import LoraConfig, get_peft_model

        config = LoraConfig(r=args.critic_lora_r, lora_alpha=args.critic_lora_alpha,
                            target_modules=args.critic_lora_target_modules, modules_to_save=["score"],
                            task_type="TOKEN_CLS")
        critic = get_peft_model(critic, config)
    if args.gradient_checkpointing:
        critic.gradient_checkpointing_enable(
            gradient_checkpointing_kwargs=args.gradient_checkpointing_kwargs or {"use_reentrant": False})
    critic.train()
    return critic


def critic_values(critic, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, completion_ids: torch.Tensor,
                  completion_mask: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
    """(B, T) float32: ``V(s_t)`` for every completion token ``t``, read from the hidden state of the token before
    it (the last prompt token for ``t = 0``), the same alignment as the policy's log-probs of token ``t``.

    Runs with or without gradient, as the caller's context decides; ``batch_size`` chunks the rows. The last
    completion token is left out of the input: no value reads its hidden state, and (causal attention) no earlier
    hidden state depends on it."""
    input_ids = torch.cat([prompt_ids, completion_ids[:, :-1]], dim=1)  # (B, P+T-1)
    attention_mask = torch.cat([prompt_mask, completion_mask[:, :-1]], dim=1)  # (B, P+T-1)
    length = completion_ids.size(1)
    batch_size = batch_size or input_ids.size(0)
    chunks = []
    for start in range(0, input_ids.size(0), batch_size):
        logits = critic(input_ids=input_ids[start:start + batch_size],
                        attention_mask=attention_mask[start:start + batch_size]).logits  # (b, P+T-1, 1)
        chunks.append(logits[:, -length:, 0].float())  # (b, T)
    return torch.cat(chunks, dim=0)  # (B, T)


def save_critic(critic, directory: str | os.PathLike) -> None:
    """Write the critic as a loadable model directory (a PEFT adapter directory for a LoRA critic)."""
    critic.save_pretrained(str(directory))


def load_critic_weights(critic, directory: str | os.PathLike) -> None:
    """Restore weights written by ``save_critic`` into ``critic`` in place (same architecture and adapter)."""
    from safetensors.torch import load_file

    directory = Path(directory)
    if (directory / "adapter_config.json").exists():
        from peft import set_peft_model_state_dict
        from peft.utils import load_peft_weights

        set_peft_model_state_dict(critic, load_peft_weights(str(directory)))
        return
    index = directory / "model.safetensors.index.json"
    if index.exists():
        files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    state = {}
    for name in files:
        state.update(load_file(str(directory / name)))
    missing, unexpected = critic.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if not k.endswith("inv_freq")]:
        raise ValueError(f"critic checkpoint {directory} does not match the critic: missing={missing} "
                         f"unexpected={unexpected}")
