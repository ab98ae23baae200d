"""Build hook: the wheel carries the repository's ``recipes/`` as ``trl_reasoning/recipes/`` (package data).

The recipes stay at the top of the repository, where users and docs find them; ``trl-reason recipes`` and
``trl-reason run NAME`` read them from the installed package (``trl_reasoning.config.catalog``). An editable install
copies nothing: the catalog falls back to the checkout's ``recipes/`` folder.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

RECIPES = Path(__file__).resolve().parent / "recipes"


class BuildWithRecipes(build_py):
    """``build_py`` plus every file under ``recipes/``, copied to ``<build>/trl_reasoning/recipes/``."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False) or not RECIPES.is_dir():
            return
        target = Path(self.build_lib) / "trl_reasoning" / "recipes"
        for source in sorted(RECIPES.rglob("*")):
            if source.is_file() and "__pycache__" not in source.parts:
                destination = target / source.relative_to(RECIPES)
                self.mkpath(str(destination.parent))
                self.copy_file(str(source), str(destination))


setup(cmdclass={"build_py": BuildWithRecipes})
