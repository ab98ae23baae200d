"""PCL + FastCuRL on two CPU processes: the checkpoint's plugin state is the state every rank holds.

Every per-step hook gets the same ``GenerationRound`` and the same global ``RolloutBatch`` on every rank, so no plugin
needs a counter of its own that only the main process advances (PCL's ``rounds_at_step`` was one). The test runs two
steps under ``torchrun --nproc_per_node 2`` (gloo), saving at each step, and compares each plugin's state digest on
both ranks with the one the checkpoint records.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from trl_reasoning.lifecycle.checkpoints import read_meta, read_plugin_state, state_digest

HERE = Path(__file__).parent


def test_two_ranks_save_identical_plugin_state(tmp_path, tiny_model_path):
    torchrun = Path(sys.executable).parent / "torchrun"
    env = {**os.environ, "TRL_REASONING_LOAD_PLUGINS": "pcl,fastcurl", "OMP_NUM_THREADS": "1",
           "TRL_REASONING_ALLOW_IMPORTS": "trl_reasoning.testing"}
    proc = subprocess.run([str(torchrun), "--nproc_per_node", "2", "--master_port", "29531",
                           str(HERE / "two_rank_state_script.py"), str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2] and [r["global_step"] for r in ranks] == [2, 2]
    assert {"pcl", "fastcurl", "core:records"} <= set(ranks[0]["digests"])
    assert ranks[0]["digests"] == ranks[1]["digests"]  # each plugin's state, rank by rank
    checkpoint = tmp_path / "run" / "checkpoint-2"
    saved = read_plugin_state(str(checkpoint))
    assert {name: state_digest(state) for name, state in sorted(saved.items())} == ranks[0]["digests"]
    assert read_meta(checkpoint)["plugin_state_sha256"] == ranks[0]["all"] == ranks[1]["all"]
    assert "plugin state differs between ranks" not in proc.stderr
