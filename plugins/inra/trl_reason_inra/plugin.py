"""InRa, inference-time realignment with a layer adapter (Zhu, Xie, Zhang, Wang, "Flexible Realignment of Language
Models", arXiv 2506.12704, NeurIPS 2025; code github.com/zwhong714/ReAligner).

* ``modify_model``: insert before all layers an identity-initialised copy of layer 0 (attention and MLP output
  projections zero) and freeze everything else, so training (``trainer.algorithm: sft`` on short solutions, as in
  the paper, or any other trainer) changes only the adapter. The run also writes the adapter alone to
  ``<output_dir>/inra_adapter/``.
* ``inference_model``: wrap the model in ``InRaTwoStream``: logits ``(1 - c) * without + c * with`` the adapter,
  two streams with their own KV caches, usable with ``generate``.
* ``register_eval_options``: ``trl-reason eval --inra-c C [--inra-adapter DIR]`` (transformers backend only:
  ``--backend vllm`` loads the weights itself and is refused with these options).
* ``validate_run``: refuses ``trainer.use_vllm`` (vLLM would hold L layers, the policy L + 1).

Training and rollouts always use the adapter path (c = 1): interpolated logits would not match the log-probs TRL
computes for the loss. The interpolation is for evaluation and export only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from trl_reasoning import ConfigError, hookimpl

ADAPTER_DIR = "inra_adapter"


@hookimpl
def register_eval_options(parser):
    group = parser.add_argument_group("InRa (inference-time realignment)")
    group.add_argument("--inra-c", type=float, default=None, metavar="C",
                       help="evaluate an InRa model at logits (1-C)*without + C*with the adapter: 0 is the original "
                            "model, 1 the adapter model, >1 extrapolates, <0 goes the other way")
    group.add_argument("--inra-adapter", default=None, metavar="DIR",
                       help="an adapter saved alone (a run's inra_adapter/ directory) to insert into --model")


def _option(options, name: str):
    """``options`` is an argparse Namespace, the recipe's eval section (with an ``options`` dict) or a dict."""
    if options is None:
        return None
    if isinstance(options, dict):
        return options.get(name)
    value = getattr(options, name, None)
    if value is None and isinstance(getattr(options, "options", None), dict):
        value = options.options.get(name)
    return value


class Plugin:
    @dataclass
    class Config:
        c: float = field(default=1.0, metadata={
            "help": "Default interpolation strength when an evaluation asks for InRa without giving c. Code: the "
                    "vLLM request field `control`, default 1.0 (vllm/sampling_params.py)."})
        source_layer: int = field(default=0, metadata={
            "help": "Which layer the adapter copies. Code: scripts/llama_pro.py copies layer 0 and inserts the "
                    "copy before it (`--num_expand 1`)."})
        train_adapter_only: bool = field(default=True, metadata={
            "help": "Freeze every weight but the adapter. Code: `finetuning_type: freeze`, "
                    "`freeze_trainable_layers: -1`, `freeze_trainable_modules: all` (llama3_full_InRa.yaml)."})
        save_adapter: bool = field(default=True, metadata={
            "help": "Also write the adapter alone to <output_dir>/inra_adapter/ when training ends."})

    def __init__(self, config: Config):
        if config.source_layer < 0:
            raise ConfigError("plugins.inra.source_layer", f"must be >= 0, got {config.source_layer}")
        self.config = config

    @hookimpl
    def validate_run(self, recipe, args):
        if getattr(args, "use_vllm", False):
            raise ConfigError("trainer.use_vllm", "cannot be true with the inra plugin: vLLM builds the policy from "
                              f"{recipe.model.name_or_path!r} with its L layers while the trained policy has L + 1 "
                              "(the adapter inserted first), so the weight sync would shift every layer by one. "
                              "Generate with transformers (trainer.use_vllm: false) or remove plugins.inra")

    @hookimpl
    def modify_model(self, model, processing_class, recipe):
        from .surgery import insert_adapter_layer, train_adapter_only

        if hasattr(model, "peft_config"):
            raise ConfigError("model.lora", "InRa trains its own adapter layer; remove model.lora from the recipe")
        insert_adapter_layer(model, self.config.source_layer)
        if self.config.train_adapter_only:
            train_adapter_only(model)

    @hookimpl
    def trainer_ready(self, trainer):
        if self.config.save_adapter:
            from .callbacks import SaveAdapterCallback

            trainer.add_callback(SaveAdapterCallback(trainer, ADAPTER_DIR))

    @hookimpl
    def inference_model(self, model, options):
        from .surgery import has_adapter, load_adapter
        from .two_stream import InRaTwoStream

        c = _option(options, "inra_c")
        adapter = _option(options, "inra_adapter")
        if c is None and adapter is None:
            return None
        if adapter is not None:
            if has_adapter(model):
                raise ConfigError("--inra-adapter", "the model already carries an InRa adapter; give its base model")
            load_adapter(model, adapter)
        return InRaTwoStream(model, self.config.c if c is None else float(c))

    @hookimpl
    def model_card_sections(self, recipe, results):
        return ["## Realignment (InRa)\n\nLayer 0 is an InRa adapter (Zhu et al., arXiv 2506.12704), trained alone. "
                "Loaded as a plain model it is the adapter model (c = 1); for other c run both streams with "
                "`trl_reason_inra.InRaTwoStream(model, c)` or `trl-reason eval --inra-c C`."]
