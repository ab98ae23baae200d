"""PCL selecting within FastCuRL's level for two steps under ``torchrun --nproc_per_node 2`` (CPU, gloo), saving a
checkpoint every step; each rank writes the digest of every active plugin's state as it holds it at the end.

Usage: ``torchrun --nproc_per_node 2 two_rank_state_script.py OUT_DIR`` -> ``OUT_DIR/rank<r>.json``.
"""

import json
import os
import sys

from trl_reasoning.config.recipe import recipe_from_dict
from trl_reasoning.lifecycle.checkpoints import state_digest
from trl_reasoning.run import run_recipe
from trl_reasoning.testing import tiny_model_dir

out = sys.argv[1]
recipe = recipe_from_dict({
    "model": {"name_or_path": tiny_model_dir()},
    "data": {"train": "embedded:arithmetic", "options": {"n_train": 48, "n_test": 8, "max_operand": 999}},
    "trainer": {"algorithm": "grpo", "max_steps": 2, "num_generations": 4, "per_device_train_batch_size": 4,
                "max_completion_length": 8, "learning_rate": 1.0e-3, "scale_rewards": "none", "use_cpu": True,
                "ddp_backend": "gloo", "save_strategy": "steps", "save_steps": 1, "report_to": "none"},
    "rewards": [{"name": "trl_reasoning.testing.ParityCorrect"}],
    "plugins": {"fastcurl": {"stages": [{"level": "short", "steps": 2, "max_completion_length": 8}]},
                "pcl": {"pool_multiplier": 2, "head_learning_rate": 0.05}},
    "compose": {"select_prompts": "pcl"},
    "output_dir": os.path.join(out, "run"),
})
results = run_recipe(recipe)
trainer = results["trainer"]
states = trainer.plugin_states()
rank = trainer.accelerator.process_index
with open(os.path.join(out, f"rank{rank}.json"), "w") as fh:
    json.dump({"rank": rank, "world": trainer.accelerator.num_processes,
               "digests": {name: state_digest(state) for name, state in sorted(states.items())},
               "all": state_digest(states), "global_step": trainer.state.global_step}, fh)
