"""Two processes (torchrun, CPU, gloo) select the same prompts and keep identical value models."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.mark.slow
def test_two_processes_select_identically_and_keep_equal_value_models(tmp_path, tiny_model_path):
    torchrun = Path(sys.executable).parent / "torchrun"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
           "TRL_REASONING_LOAD_PLUGINS": "pcl", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([str(torchrun), "--nproc_per_node", "2", "--master_port", "29517",
                           str(HERE / "pcl_ddp_script.py"), str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world"] == 2 for r in ranks)
    assert ranks[0]["fits"] == ranks[1]["fits"] == 2
    assert ranks[0]["records"] == ranks[1]["records"]  # the same rounds, prompts and pass rates on both ranks
    assert {step for record in ranks[0]["records"]["records"] for step, _ in record[4]} == {0, 1}
    assert ranks[0]["value_digest"] == ranks[1]["value_digest"]
