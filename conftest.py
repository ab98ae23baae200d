"""The repository's root conftest (the core's tests/ and every plugin's plugins/<name>/tests/): the fixtures of
``trl_reasoning.testing`` (tiny model, recipes, rollout batches, trainer stub, ``run_cli``), opted in here as any
plugin project does: pytest reads ``pytest_plugins`` only in the root ``conftest.py``. The end-of-run summary of
skipped tests is ``tests/conftest.py``.
"""

from __future__ import annotations

import os
from importlib import metadata


def _registered_by_an_entry_point() -> bool:
    """True while an install made before trl-reasoning dropped its ``pytest11`` entry point still declares it (pytest
    then loads the module itself; naming it again would register it twice). ``pip install -e .`` clears it."""
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return False
    return any(ep.value == "trl_reasoning.testing" for ep in metadata.entry_points(group="pytest11"))


pytest_plugins = [] if _registered_by_an_entry_point() else ["trl_reasoning.testing"]
