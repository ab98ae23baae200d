"""Run PCL for two steps under ``torchrun --nproc_per_node 2`` (CPU, gloo) and write what each rank saw.

Usage: ``torchrun --nproc_per_node 2 pcl_ddp_script.py OUT_DIR``; writes ``OUT_DIR/rank<r>.json`` with the core's
per-prompt record (every round's prompts and pass rates) and a digest of the value model's weights.
"""

import hashlib
import json
import os
import sys

from trl_reasoning.config.recipe import recipe_from_dict
from trl_reasoning.run import run_recipe
from trl_reasoning.testing import tiny_model_dir

out = sys.argv[1]
recipe = recipe_from_dict({
    "model": {"name_or_path": tiny_model_dir()},
    "data": {"train": "embedded:arithmetic", "options": {"n_train": 64, "n_test": 8}},
    "trainer": {"algorithm": "grpo", "max_steps": 2, "num_generations": 4, "per_device_train_batch_size": 4,
                "max_completion_length": 8, "learning_rate": 1.0e-3, "scale_rewards": "none", "use_cpu": True,
                "ddp_backend": "gloo"},
    "rewards": [{"name": "pcl_helpers.EvenPromptReward"}],
    "plugins": {"pcl": {"pool_multiplier": 4, "head_learning_rate": 0.05}},
    "output_dir": os.path.join(out, "run"),
})
results = run_recipe(recipe)
trainer = results["trainer"]
plugin = trainer.pm.active["pcl"]
digest = hashlib.sha256()
for name, tensor in sorted(plugin.value.state_dict().items()):
    digest.update(name.encode())
    digest.update(tensor.detach().cpu().float().numpy().tobytes())
rank = trainer.accelerator.process_index
with open(os.path.join(out, f"rank{rank}.json"), "w") as fh:
    json.dump({"rank": rank, "world": trainer.accelerator.num_processes, "records": trainer.records.state_dict(),
               "value_digest": digest.hexdigest(), "fits": plugin.fits}, fh)
