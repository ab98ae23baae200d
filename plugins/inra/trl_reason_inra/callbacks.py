"""Write the InRa adapter alone when training ends."""

from __future__ import annotations

from pathlib import Path

from transformers import TrainerCallback


class SaveAdapterCallback(TrainerCallback):
    """Writes ``<output_dir>/<subdir>/`` (the adapter layer alone) at the end of training, on the main process."""

    def __init__(self, trainer, subdir: str):
        self.trainer = trainer
        self.subdir = subdir

    def on_train_end(self, args, state, control, **kwargs):
        from .surgery import save_adapter

        if state.is_world_process_zero:
            model = self.trainer.accelerator.unwrap_model(self.trainer.model)
            save_adapter(model, Path(args.output_dir) / self.subdir)
