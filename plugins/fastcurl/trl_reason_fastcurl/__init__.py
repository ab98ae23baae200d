"""FastCuRL for trl-reasoning: length-aware data levels and staged context extension (Song et al., arXiv 2503.17287).

See ``docs/plugins/fastcurl.md``. The pure segmentation rules are in ``segmentation``, the stage table in
``stages``, the hooks in ``plugin``.
"""

from .segmentation import (bucket_of, buckets, level_indices, mean_threshold, prompt_chars, quantile_thresholds,
                           split_thresholds)
from .stages import Stage, draw, fit_to_max_steps, level_cursor, resolved, stage_at, trainer_segments

__all__ = ["Stage", "bucket_of", "buckets", "draw", "fit_to_max_steps", "level_cursor", "level_indices",
           "mean_threshold", "prompt_chars", "quantile_thresholds", "resolved", "split_thresholds", "stage_at",
           "trainer_segments"]
