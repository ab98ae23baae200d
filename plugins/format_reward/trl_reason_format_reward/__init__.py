"""An example of a third-party trl-reasoning plugin: a reward for putting the final answer in ``\\boxed{}``."""
