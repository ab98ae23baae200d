"""The PCL tests name their test reward by import path (``pcl_helpers.EvenPromptReward``); a recipe is data, so
that path is allowed here the way a user allows one with ``trl-reason run --allow-imports pcl_helpers``."""

import pytest

from trl_reasoning.run import ALLOW_IMPORTS_ENV


@pytest.fixture(autouse=True)
def _allow_the_test_reward(monkeypatch):
    monkeypatch.setenv(ALLOW_IMPORTS_ENV, "pcl_helpers")
