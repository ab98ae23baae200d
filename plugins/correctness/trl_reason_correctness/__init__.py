"""The `correctness` reward of trl-reasoning, packaged as a plugin."""
