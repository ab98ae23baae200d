"""``trl_reasoning.lazy_exports``: a plugin package lists its names and imports each submodule on first use."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("package, name", [
    ("trl_reason_ppo", "ReasoningPPOTrainer"), ("trl_reason_hapo", "cosine_length_reward"),
    ("trl_reason_inra", "insert_adapter_layer"), ("trl_reason_trra", "fuse_logits"),
])
def test_names_load_on_first_use_only(package, name):
    code = (f"import sys, {package} as p; before = 'torch' in sys.modules; obj = getattr(p, {name!r}); "
            f"print(before, obj.__module__.startswith({package!r}), {name!r} in p.__all__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True", "True"]


def test_an_unknown_name_is_an_attribute_error():
    import trl_reason_hapo

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        trl_reason_hapo.nope
