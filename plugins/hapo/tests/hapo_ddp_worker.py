"""Run by ``test_hapo_two_processes`` under ``torchrun --nproc_per_node 2`` (CPU, gloo).

Each rank trains 2 GRPO steps with HAPO and writes ``rank<N>.pt``: its per-prompt record (HAPO's history), every
batch it saw and the rows it generated itself, for the test to compare across ranks.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import torch  # noqa: E402

import hapo_helpers as H  # noqa: E402
from trl_reasoning.config.recipe import recipe_from_dict  # noqa: E402
from trl_reasoning.run import run_recipe  # noqa: E402


def main(model_path: str, out: str) -> None:
    data = H.recipe_dict(model_path, str(Path(out) / "run"), max_steps=2, per_device_train_batch_size=4,
                         use_cpu=True, ddp_backend="gloo")
    results = run_recipe(recipe_from_dict(data), pm=H.plugin_manager())
    trainer = results["trainer"]
    rank = trainer.accelerator.process_index
    torch.save({"rank": rank, "world_size": trainer.accelerator.num_processes,
                "records": trainer.records.state_dict(), "record": list(H.RECORD)}, Path(out) / f"rank{rank}.pt")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
