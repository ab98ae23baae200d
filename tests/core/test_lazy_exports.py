"""``trl_reasoning.lazy_exports``: a plugin package lists its names and imports each submodule on first use."""

import json
import subprocess
import sys

import pytest


LAZY = [("trl_reason_ppo", "ReasoningPPOTrainer"), ("trl_reason_hapo", "cosine_length_reward"),
        ("trl_reason_inra", "insert_adapter_layer"), ("trl_reason_trra", "fuse_logits")]


def test_names_load_on_first_use_only():
    """Importing each package loads no torch; reading a name imports its submodule (one interpreter for all four, so
    torch is imported once)."""
    code = ("import importlib, json, sys\n"
            f"lazy = {LAZY!r}\n"
            "packages = [importlib.import_module(p) for p, _ in lazy]\n"
            "before = 'torch' in sys.modules\n"
            "found = [[getattr(m, n).__module__.startswith(p), n in m.__all__] for m, (p, n) in zip(packages, lazy)]\n"
            "print(json.dumps([before, found]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [False, [[True, True]] * len(LAZY)]


def test_an_unknown_name_is_an_attribute_error():
    import trl_reason_hapo

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        trl_reason_hapo.nope
