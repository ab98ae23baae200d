"""Typed configuration: build a dataclass from a YAML mapping, or say exactly what is wrong and where.

Used for every recipe section, for TRL's config classes (``GRPOConfig`` fields are checked by name and type) and
for each plugin's ``Config``. Errors carry the dotted key path and, for an unknown key, the nearest valid one::

    >>> build_dataclass(Sampling, {"temprature": 0.7}, "eval")
    ConfigError: eval.temprature: unknown key; did you mean 'temperature'? ...
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any, Literal, Union


class ConfigError(Exception):
    """A recipe or plugin config value is wrong. ``path`` is the dotted key, e.g. ``trainer.learning_rate``."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def nearest(key: str, valid: typing.Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(key, sorted(valid), n=1, cutoff=0.6)
    return matches[0] if matches else None


def unknown_key_error(path: str, key: str, valid: typing.Iterable[str]) -> ConfigError:
    valid = sorted(valid)
    close = nearest(key, valid)
    hint = f"did you mean {close!r}? " if close else ""
    shown = ", ".join(valid[:40]) + (" ..." if len(valid) > 40 else "")
    return ConfigError(f"{path}.{key}" if path else key, f"unknown key; {hint}valid keys: {shown}")


def field_help(cls: type) -> dict[str, str]:
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls)}


def check_type(value: Any, annotation: Any, path: str) -> Any:
    """Check (and lightly coerce: int -> float, list -> tuple) ``value`` against a type annotation."""
    if annotation is Any or annotation is typing.Any or annotation is None:
        return value
    if isinstance(annotation, str):  # unresolved forward reference: accept
        return value
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return check_type(value, arg, path)
            except ConfigError as exc:
                errors.append(exc.message)
        raise ConfigError(path, f"expected {_type_name(annotation)}, got {value!r}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(path, f"expected one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if origin in (list, typing.List, tuple, typing.Tuple, set):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(path, f"expected a list, got {value!r}")
        item_type = args[0] if args else Any
        if origin in (tuple, typing.Tuple) and args and args[-1] is not Ellipsis:
            return tuple(check_type(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        items = [check_type(v, item_type, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin in (tuple, typing.Tuple) else items
    if origin in (dict, typing.Dict):
        if not isinstance(value, dict):
            raise ConfigError(path, f"expected a mapping, got {value!r}")
        return value
    if dataclasses.is_dataclass(annotation):
        if isinstance(value, annotation):
            return value
        if not isinstance(value, dict):
            raise ConfigError(path, f"expected a mapping, got {value!r}")
        return build_dataclass(annotation, value, path)
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if isinstance(value, str):
                try:
                    return float(value)  # YAML 1.1 reads 1e-6 as a string
                except ValueError:
                    pass
            raise ConfigError(path, f"expected a number, got {value!r}")
        return float(value)
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(path, f"expected an integer, got {value!r}")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(path, f"expected true or false, got {value!r}")
        return value
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(path, f"expected a string, got {value!r}")
        return value
    if isinstance(annotation, type):
        if isinstance(value, annotation):
            return value
        try:  # enums and small value classes (TRL uses str enums for e.g. lr_scheduler_type)
            return annotation(value)
        except Exception:
            raise ConfigError(path, f"expected {_type_name(annotation)}, got {value!r}") from None
    return value


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _resolved_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:
        return {f.name: f.type for f in dataclasses.fields(cls)}


def validate_fields(cls: type, raw: dict, path: str) -> dict:
    """Check keys and value types of ``raw`` against the dataclass ``cls``; return the coerced mapping."""
    if not isinstance(raw, dict):
        raise ConfigError(path, f"expected a mapping, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = _resolved_hints(cls)
    out = {}
    for key, value in raw.items():
        if key not in fields:
            raise unknown_key_error(path, str(key), fields)
        out[key] = check_type(value, hints.get(key, Any), f"{path}.{key}" if path else key)
    missing = [name for name, f in fields.items()
               if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and name not in out]
    if missing:
        raise ConfigError(path, f"missing required key(s): {', '.join(missing)}")
    return out


def build_dataclass(cls: type, raw: dict | None, path: str):
    """Instantiate ``cls`` from ``raw`` after validation; errors from ``__post_init__`` keep the path."""
    values = validate_fields(cls, dict(raw or {}), path)
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(path, str(exc)) from None


def to_dict(obj: Any) -> Any:
    """A dataclass tree as plain YAML-safe data."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj
