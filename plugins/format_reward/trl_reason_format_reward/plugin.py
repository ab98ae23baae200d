"""``format`` reward: ``value`` when the completion ends its reasoning with a boxed answer, else 0.

Install with ``pip install plugins/format_reward`` and name it in a recipe::

    rewards:
      - {name: correctness, weight: 1.0}
      - {name: format, weight: 0.1, config: {value: 1.0, require_single_box: true}}

A format reward alone is a reward hack on a weak model (it learns to box wrong answers): pair it with a
correctness reward and keep its weight small. The 1-shot RLVR paper's "format reward" baseline uses it alone, on
purpose. With ``require_single_box`` a response that boxes more than one answer (boxing every choice) earns nothing.
"""

from __future__ import annotations

import re

from trl_reasoning import completion_text, hookimpl

_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")


class FormatReward:
    def __init__(self, value: float = 1.0, require_single_box: bool = True):
        self.value = value
        self.require_single_box = require_single_box
        self.__name__ = "format"

    def score(self, text: str) -> float:
        boxes = len(_BOX.findall(text))
        if boxes == 0 or (self.require_single_box and boxes > 1):
            return 0.0
        return self.value

    def __call__(self, prompts, completions, completion_ids=None, **kwargs) -> list[float]:
        return [self.score(completion_text(c)) for c in completions]


@hookimpl
def register_rewards(register):
    register("format", FormatReward)
