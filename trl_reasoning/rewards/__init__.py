"""Reward functions a recipe names: ``correctness`` (the math grader) and ``boxed_integer``."""
