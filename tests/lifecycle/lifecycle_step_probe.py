"""The lifecycle probe without its rollout hook (``on_rewards``), for the SFT-shaped trainers, which refuse a plugin
acting through a hook they never call. Its state counts optimizer steps (``lifecycle_probe.StepCallback``)."""

from __future__ import annotations

import lifecycle_probe


class Plugin(lifecycle_probe.Plugin):
    on_rewards = None  # not a hook implementation: SFT and distill generate no rollouts
