"""The recipes that come with trl-reasoning, by name: ``trl-reason recipes``, ``trl-reason run NAME``, ``trl-reason cp``.

::

    trl-reason recipes                                      # every recipe: name and one-line purpose
    trl-reason run quickstart --set trainer.max_steps=2     # a recipe by name, from any directory
    trl-reason run one-shot-rlvr/qwen2.5-math-1.5b-pi1
    trl-reason cp one-shot-rlvr/cpu my-recipe.yaml          # a copy to edit; then: trl-reason run my-recipe.yaml

A recipe's name is its path under the recipes folder without ``.yaml``. The folder is, in this order:
``$TRL_REASONING_RECIPES``; ``trl_reasoning/recipes/`` inside an installed wheel (the build copies the repository's
``recipes/`` there, see ``setup.py``); the checkout's ``recipes/`` next to the package (an editable install).
A recipe argument that is an existing file is always that file, as before names existed.
"""

from __future__ import annotations

import difflib
import os
import shutil
from pathlib import Path

from trl_reasoning.config.schema import ConfigError

RECIPES_ENV = "TRL_REASONING_RECIPES"
NOT_RECIPES = frozenset({"paper-settings.yaml"})  # a paper's settings as data (tests/recipes/test_paper_settings.py)


def recipes_root() -> Path:
    """The folder the recipe names refer to (see the module docstring for the order)."""
    if os.environ.get(RECIPES_ENV):
        return Path(os.environ[RECIPES_ENV])
    package_dir = Path(__file__).resolve().parent.parent  # trl_reasoning/ (this file is trl_reasoning/config/)
    packaged = package_dir / "recipes"
    if packaged.is_dir():
        return packaged
    return package_dir.parent / "recipes"


def recipe_paths(root: str | os.PathLike | None = None) -> dict[str, Path]:
    """``{name: path}`` of every recipe under ``root`` (default: ``recipes_root()``), sorted by name."""
    folder = Path(root) if root is not None else recipes_root()
    if not folder.is_dir():
        return {}
    found = {path.relative_to(folder).with_suffix("").as_posix(): path
             for path in folder.rglob("*.yaml") if path.is_file() and path.name not in NOT_RECIPES}
    return dict(sorted(found.items()))


def recipe_name(text: str) -> str:
    """``recipes/hapo/cpu.yaml``, ``hapo/cpu.yaml`` and ``hapo/cpu`` all name the recipe ``hapo/cpu``."""
    name = text.strip().replace("\\", "/")
    if name.startswith("recipes/"):
        name = name[len("recipes/"):]
    return name[:-len(".yaml")] if name.endswith(".yaml") else name


def resolve_recipe(text: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """The file ``trl-reason run TEXT`` reads: ``TEXT`` itself when it is an existing path, else the recipe of that
    name. Neither: ``ConfigError`` with the nearest names and where the list is."""
    path = Path(text)
    if path.exists():
        return path
    known = recipe_paths(root)
    name = recipe_name(str(text))
    if name in known:
        return known[name]
    near = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(near)}?" if near else ""
    raise ConfigError("", f"recipe file not found: {text} (and no recipe is named {name!r}{hint}). "
                          "`trl-reason recipes` lists the recipes by name; give a name from it or the path of a "
                          "recipe .yaml file")


def copy_recipe(name: str, destination: str | os.PathLike, *, force: bool = False,
                root: str | os.PathLike | None = None) -> Path:
    """Copy the recipe ``name`` to ``destination`` (a file, or a directory to copy it into) and return the new
    file. An existing file is kept unless ``force``."""
    known = recipe_paths(root)
    key = recipe_name(name)
    if key not in known:
        near = difflib.get_close_matches(key, list(known), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(near)}?" if near else ""
        raise ConfigError("", f"no recipe is named {name!r}.{hint} `trl-reason recipes` lists them")
    source = known[key]
    target = Path(destination)
    if target.is_dir():
        target = target / source.name
    if target.exists() and not force:
        raise ConfigError("", f"{target} already exists: give another destination, or --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target
