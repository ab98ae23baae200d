"""Entropy-only training (1-shot RLVR Tab. 5, ``trainer.pg_loss_coef: 0``) goes UP the entropy, not down.

``test_one_shot_entropy_only.py`` shows the entropy term is what moves the weights; it would pass with the sign of
the bonus flipped. Here one real optimizer step of entropy-only GRPO on the tiny model must raise the mean per-token
entropy of the policy (at the sampling temperature) on fixed sampled continuations of the training prompts, and the
same step with the bonus's sign flipped (``entropy_coef`` negative: a penalty) must lower it, so the measurement
itself tells the two directions apart.
"""

import pytest
import torch

import one_shot_helpers as H
from trl_reasoning.config.recipe import recipe_from_dict
from trl_reasoning.run import build_trainer, prepare

TEMPERATURE = 1.0
ENTROPY_COEF = 0.05


def fixed_continuations(trainer, count: int = 4, new_tokens: int = 8):
    """(count*2, L) token ids: the prompts of the first ``count`` training rows, each with two sampled
    continuations from the starting policy; and (count*2, L) the mask of the continuation tokens."""
    tokenizer = trainer.processing_class
    tokenizer.padding_side = "left"
    prompts = [tokenizer.apply_chat_template(trainer.train_dataset[i]["prompt"], tokenize=False,
                                             add_generation_prompt=True) for i in range(count)]
    enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    torch.manual_seed(0)
    with torch.no_grad():
        ids = trainer.model.generate(**enc, do_sample=True, temperature=TEMPERATURE, top_k=0, top_p=1.0,
                                     max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                                     num_return_sequences=2, pad_token_id=tokenizer.pad_token_id)  # (2c, P+T)
    prompt_mask = enc["attention_mask"].repeat_interleave(2, dim=0)  # (2c, P)
    attention = torch.cat([prompt_mask, torch.ones(ids.size(0), ids.size(1) - prompt_mask.size(1),
                                                   dtype=prompt_mask.dtype)], dim=1)  # (2c, P+T)
    continuation = torch.zeros_like(attention, dtype=torch.bool)  # (2c, P+T)
    continuation[:, prompt_mask.size(1):] = True
    return ids, attention, continuation


def mean_token_entropy(model, ids, attention, continuation) -> float:
    """Mean over continuation tokens of the entropy of softmax(logits / T) that predicts each of them."""
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=attention).logits[:, :-1].float() / TEMPERATURE  # (B, L-1, V)
    logp = torch.log_softmax(logits, dim=-1)  # (B, L-1, V)
    entropy = -(logp.exp() * logp).sum(dim=-1)  # (B, L-1)
    predicts = continuation[:, 1:]  # (B, L-1): position t's logits predict token t+1
    return float(entropy[predicts].mean())


def entropy_change(model_path, output_dir, entropy_coef: float) -> tuple[float, float]:
    data = H.recipe_dict(model_path, str(output_dir), max_steps=1, weight_decay=0.0, beta=0.0, pg_loss_coef=0.0,
                         entropy_coef=entropy_coef, learning_rate=1.0e-3)
    trainer = build_trainer(prepare(recipe_from_dict(data), H.plugin_manager()), str(output_dir))
    probe = fixed_continuations(trainer)
    before = mean_token_entropy(trainer.model, *probe)
    trainer.train()
    after = mean_token_entropy(trainer.model, *probe)
    return before, after


@pytest.fixture(scope="module")
def changes(tiny_model_path, tmp_path_factory):
    root = tmp_path_factory.mktemp("entropy_direction")
    return {"bonus": entropy_change(tiny_model_path, root / "bonus", ENTROPY_COEF),
            "penalty": entropy_change(tiny_model_path, root / "penalty", -ENTROPY_COEF)}


def test_entropy_only_step_raises_the_mean_token_entropy(changes):
    before, after = changes["bonus"]
    assert after > before, f"entropy-only step lowered the entropy: {before:.6f} -> {after:.6f}"


def test_the_flipped_sign_lowers_it(changes):
    before, after = changes["penalty"]
    assert after < before, f"an entropy penalty raised the entropy: {before:.6f} -> {after:.6f}"
    assert changes["bonus"][0] == pytest.approx(before)  # both runs start from the same policy and probe
