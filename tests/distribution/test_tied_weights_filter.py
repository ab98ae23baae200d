"""On resume, transformers warns `There were missing keys in the checkpoint model loaded: ['lm_head.weight']` for a
model with tied embeddings (the output embedding is saved once, as the input one, and tied again after loading).
The filter drops exactly that warning, on the real tiny model, and keeps every other missing key."""

from __future__ import annotations

import logging

import pytest

from trl_reasoning.trainers.callbacks import TiedWeightsWarningFilter, tied_parameter_names

MESSAGE = "There were missing keys in the checkpoint model loaded: {}."


def test_the_tiny_model_ties_its_output_embedding(tiny_policy):
    model, _ = tiny_policy
    assert tied_parameter_names(model) == {"lm_head.weight"}


@pytest.mark.parametrize("message, shown", [
    (MESSAGE.format(["lm_head.weight"]), False),
    (MESSAGE.format(["module.lm_head.weight"]), False),                              # DDP-wrapped names
    (MESSAGE.format(["model.layers.0.mlp.up_proj.weight"]), True),                   # really missing
    (MESSAGE.format(["lm_head.weight", "model.norm.weight"]), True),                 # one real among them
    (MESSAGE.format([]), True),
    ("There were unexpected keys in the checkpoint model loaded: ['lm_head.weight'].", True),
    ("some other warning", True),
])
def test_filter_drops_only_the_tied_weight_warning(tiny_policy, message, shown):
    model, _ = tiny_policy
    record = logging.LogRecord(TiedWeightsWarningFilter.LOGGER, logging.WARNING, __file__, 1, message, None, None)
    assert TiedWeightsWarningFilter(tied_parameter_names(model)).filter(record) is shown
