"""Small probe plugins the core tests share (imported by basename: pytest puts this folder on ``sys.path``)."""

from trl_reasoning import hookimpl
from trl_reasoning.plugins.composition import Composition


class Selector:
    def __init__(self, tag, yields=(), refuses=None, shapes=()):
        self.tag = tag
        self.composition = Composition(yields=tuple(yields), refuses=refuses or {}, shapes=tuple(shapes))

    @hookimpl
    def select_prompts(self, rows, num_prompts):
        return [{**row, "picked_by": self.tag} for row in rows[:num_prompts]]
