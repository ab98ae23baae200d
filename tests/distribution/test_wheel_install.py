"""A clean-environment install: every wheel built, installed into a fresh virtual environment, used from elsewhere.

This is what catches a missing package-data line or an undeclared dependency: the wheels of the core and of every
built-in plugin are built into a temporary folder (``pip wheel --no-deps``, from a copy of the sources), and
``pip install --no-index --find-links WHEELS "trl-reasoning[methods]"`` installs them into a new virtual environment
(no editable install, no repository on ``sys.path``, run from another directory). Then ``trl-reason plugins`` must
list every built-in plugin, ``trl-reason recipes`` every recipe, and ``trl-reason run quickstart --set
trainer.max_steps=2`` must train two steps on the tiny test model (``TRL_REASONING_TEST_MODEL=tiny``) with one
progress line per step on a pipe and no upstream ``FutureWarning``.

Third-party dependencies are not downloaded again (torch alone is 190 MB): the new environment is seeded with the
files of exactly the distributions that ``trl-reasoning[methods]`` declares, transitively, as the current
environment has them (hard links, a few seconds). A dependency the code uses but does not declare is therefore
missing there, as on a user's machine; ``pip check`` confirms that the declared ones are complete.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest
from distribution_helpers import ROOT, builtin_plugin_names, core_project, repository_recipes
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.install

SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "trl_reasoning", "recipes", "plugins")
OWN = re.compile(r"^trl-reason(ing)?(-|$)")  # the distributions this repository builds


def declared_closure(root_requirements: list[str]) -> dict[str, metadata.Distribution]:
    """Every installed distribution the requirements need, transitively (markers evaluated, extras followed),
    except this repository's own."""
    found: dict[str, metadata.Distribution] = {}
    queue = [(Requirement(text), "") for text in root_requirements]
    while queue:
        requirement, extra = queue.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        if OWN.match(name):
            continue
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            continue  # not installed here either: pip check in the new environment reports it
        first = name not in found
        found[name] = dist
        for wanted in ([""] if first else []) + sorted(requirement.extras):
            for text in dist.requires or []:
                queue.append((Requirement(text), wanted))
    return found


def seed_site_packages(dists: dict[str, metadata.Distribution], site_packages: Path) -> int:
    """Hard-link (or copy) the installed files of ``dists`` into ``site_packages``; returns the file count."""
    count = 0
    for dist in dists.values():
        base = Path(dist.locate_file(""))
        for relative in dist.files or []:
            if relative.parts and relative.parts[0] == "..":
                continue  # console scripts and data outside site-packages
            source = base / relative
            target = site_packages / relative
            if not source.is_file() or target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source, target)
            except OSError:
                shutil.copy2(source, target)
            count += 1
    return count


def has_build_backend() -> bool:
    """The build backend the pyproject files require is importable here (then no isolated build env is made)."""
    try:
        import setuptools
    except ImportError:
        return False
    return int(setuptools.__version__.split(".")[0]) >= 77


def run(command, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=900, **kwargs)


@pytest.fixture(scope="module")
def installed(tmp_path_factory, tiny_model_path):
    """A fresh virtual environment with every wheel installed; returns its paths, environment and timings."""
    work = tmp_path_factory.mktemp("clean-install")
    timings = {}
    started = time.perf_counter()
    source = work / "src"
    source.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns(
                "__pycache__", "*.egg-info", "build", "dist", "tests", "*.pyc"))
        else:
            shutil.copy2(path, source / name)
    wheels = work / "wheels"
    plugin_sources = sorted(str(p.parent) for p in (source / "plugins").glob("*/pyproject.toml"))
    isolation = ["--no-build-isolation"] if has_build_backend() else []  # else pip fetches setuptools
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q", "-w", str(wheels),
                 str(source), *plugin_sources])
    assert built.returncode == 0, built.stderr[-3000:]
    timings["build_wheels_s"] = time.perf_counter() - started

    started = time.perf_counter()
    venv = work / "venv"
    made = run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site_packages = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             cwd=work).stdout.strip())
    project = core_project()
    dists = declared_closure(project["dependencies"] + project["optional-dependencies"]["methods"])
    files = seed_site_packages(dists, site_packages)
    timings["seed_dependencies_s"] = time.perf_counter() - started
    timings["seeded_distributions"] = len(dists)
    timings["seeded_files"] = files

    started = time.perf_counter()
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    install = run([*pip, "install", "-q", "--no-index", "--find-links", str(wheels), "trl-reasoning[methods]"],
                  cwd=work)
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-3000:]
    timings["install_s"] = time.perf_counter() - started
    check = run([*pip, "check"], cwd=work)
    assert check.returncode == 0, f"declared dependencies incomplete:\n{check.stdout}{check.stderr}"

    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    keep = ("HOME", "LANG", "LC_ALL", "TMPDIR", "USER")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env.update({
        "PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin",
        "TRL_REASONING_CACHE": str(Path(tiny_model_path).parent),  # where `tiny` is already built
        "TRL_REASONING_TEST_MODEL": "tiny",
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
    })
    return {"venv": venv, "python": python, "wheels": wheels, "cwd": elsewhere, "env": env, "timings": timings,
            "site_packages": site_packages}


def trl_reason(installed, *args) -> subprocess.CompletedProcess:
    return run([str(installed["venv"] / "bin" / "trl-reason"), *args], cwd=installed["cwd"], env=installed["env"])


def test_every_distribution_is_a_wheel_and_the_package_is_not_the_checkout(installed):
    wheels = sorted(p.name for p in installed["wheels"].glob("*.whl"))
    expected = {"trl-reasoning", *builtin_plugin_names().values()}
    assert {canonicalize_name(name.split("-")[0]) for name in wheels} == {canonicalize_name(n) for n in expected}
    probe = run([str(installed["python"]), "-c", "import json, sys, trl_reasoning; "
                 "print(json.dumps({'file': trl_reasoning.__file__, 'path': sys.path}))"],
                cwd=installed["cwd"], env=installed["env"])
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    assert Path(found["file"]).is_relative_to(installed["site_packages"])
    assert not any(entry and Path(entry).resolve().is_relative_to(ROOT) for entry in found["path"]), found["path"]
    editable = [p.name for p in installed["site_packages"].iterdir() if "__editable__" in p.name]
    assert editable == []


def test_plugins_lists_every_builtin_plugin(installed):
    listed = trl_reason(installed, "plugins", "--json")
    assert listed.returncode == 0, listed.stderr[-3000:]
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    version = core_project()["version"]
    for name in builtin_plugin_names():
        assert name in rows, f"{name} missing from `trl-reason plugins`: {sorted(rows)}"
        assert rows[name]["version"] == version


def test_recipes_lists_every_recipe_from_the_package(installed):
    listed = trl_reason(installed, "recipes", "--json")
    assert listed.returncode == 0, listed.stderr[-3000:]
    rows = json.loads(listed.stdout)
    assert {row["name"] for row in rows} == repository_recipes()
    assert all(Path(row["path"]).is_relative_to(installed["site_packages"] / "trl_reasoning" / "recipes")
               for row in rows)


def test_quickstart_runs_by_name_from_another_directory(installed):
    started = time.perf_counter()
    ran = trl_reason(installed, "run", "quickstart", "--set", "trainer.max_steps=2", "--set", "eval.limit=4",
                     "--output-dir", "qs")
    seconds = time.perf_counter() - started
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-4000:]
    steps = [json.loads(line).get("step") for line in (installed["cwd"] / "qs" / "metrics.jsonl").read_text()
             .splitlines() if "loss" in json.loads(line)]
    assert steps == [1, 2]
    output = ran.stdout + ran.stderr
    assert re.search(r"^step 1/2  reward \S+  correct \S+  step [\d.]+s  elapsed \S+  remaining \S+$", output, re.M)
    assert re.search(r"^step 2/2 ", output, re.M)
    assert "FutureWarning" not in output
    installed["timings"]["quickstart_2_steps_s"] = seconds
    print(f"clean install timings: {json.dumps(installed['timings'])}")
