"""The permissions a command line grants a recipe (``--allow-imports``, ``--trust-remote-code``), as the
environment variables ``run.validate`` reads, for the duration of one command."""

from __future__ import annotations

import contextlib
import os

from trl_reasoning.config.recipe import ALLOW_IMPORTS_ENV, TRUST_REMOTE_CODE_ENV


@contextlib.contextmanager
def granted_environment(args):
    """Set the granted variables (read by prepare, in this process and in every relaunched one) and restore them
    afterwards: the permission is this command's, not the next one's (in-process callers, tests)."""
    granted = {ALLOW_IMPORTS_ENV: getattr(args, "allow_imports", None),
               TRUST_REMOTE_CODE_ENV: "1" if getattr(args, "trust_remote_code", False) else None}
    granted = {name: value for name, value in granted.items() if value}
    before = {name: os.environ.get(name) for name in granted}
    os.environ.update(granted)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
