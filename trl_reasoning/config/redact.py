"""Secrets stay out of recipes and out of every file a run writes.

A token is read from the environment (``HF_TOKEN``) or the Hugging Face login (``huggingface-cli login``) only, by
``huggingface_hub`` itself. A recipe travels (the model card carries it, users share it), so a recipe or ``--set``
that carries a token is refused (``secret_problem``), and every text file a run writes goes through ``redact``::

    >>> redact("push with hf_" + "a" * 30)
    'push with hf_***REDACTED***'
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Iterator

# Token shapes: Hugging Face user and organisation tokens, GitHub tokens, OpenAI-style keys.
TOKEN_PATTERNS = (
    re.compile(r"hf_[A-Za-z0-9]{20,}"),
    re.compile(r"api_org_[A-Za-z0-9]{20,}"),
    re.compile(r"(?:ghp|gho|ghs|ghu|ghr)_[A-Za-z0-9]{30,}"),
    re.compile(r"github_pat_[A-Za-z0-9_]{30,}"),
    re.compile(r"sk-[A-Za-z0-9_-]{20,}"),
)
# Keys whose value is a credential whatever it looks like (TrainingArguments.hub_token and the like).
SECRET_KEYS = frozenset({"hub_token", "token", "hf_token", "use_auth_token", "api_key", "wandb_api_key",
                         "access_token", "password"})
REDACTED = "***REDACTED***"
SECRET_HINT = ("a recipe is shared data (the model card, recipe.resolved.yaml and provenance.json carry it), so it "
               "never holds a credential: remove it and set the HF_TOKEN environment variable or run "
               "`huggingface-cli login` instead")


def looks_like_token(text: str) -> bool:
    return any(pattern.search(text) for pattern in TOKEN_PATTERNS)


def redact(text: str) -> str:
    """``text`` with every token-shaped substring replaced by its prefix and ``***REDACTED***``."""
    for pattern in TOKEN_PATTERNS:
        text = pattern.sub(lambda match: _prefix(match.group(0)) + REDACTED, text)
    return text


def _prefix(token: str) -> str:
    """``hf_``, ``ghp_``, ``github_pat_``, ``sk-``: what kind of token it was, without any of its secret part."""
    match = re.match(r"(github_pat_|api_org_|[a-z]+[_-])", token)
    return match.group(1) if match else ""


def redact_data(value: Any) -> Any:
    """A JSON/YAML-shaped value with every token-shaped string redacted (keys and values)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_data(k): redact_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(v) for v in value]
    return value


def secret_problems(data: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """``(key_path, why)`` for every credential in a recipe mapping: a secret key with a value, or a token-shaped
    string anywhere (keys included)."""
    if isinstance(data, dict):
        for key, value in data.items():
            key_path = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and looks_like_token(key):
                yield key_path, "this key looks like an access token"
            if isinstance(key, str) and key.lower() in SECRET_KEYS and isinstance(value, str) and value:
                yield key_path, "holds a credential"
                continue
            yield from secret_problems(value, key_path)
    elif isinstance(data, (list, tuple)):
        for index, value in enumerate(data):
            yield from secret_problems(value, f"{path}[{index}]")
    elif isinstance(data, str) and looks_like_token(data):
        yield path, "this value looks like an access token"


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (redacted) to ``path``; the one way a run writes its text files."""
    path = Path(path)
    path.write_text(redact(text), encoding="utf-8")
    return path


def write_json(path: str | os.PathLike, data: Any, **dump_kwargs) -> Path:
    return write_text(path, json.dumps(data, **dump_kwargs))
