"""Typed configuration: build a dataclass from a YAML mapping, or say exactly what is wrong and where.

Used for every recipe section, for TRL's config classes (``GRPOConfig`` fields are checked by name and type) and
for each plugin's ``Config``. Errors carry the dotted key path and, for an unknown key, the nearest valid one::

    >>> build_dataclass(Sampling, {"temprature": 0.7, "top_p": 2}, "eval")
    ConfigErrors: 2 problems:
      eval.temprature: unknown key; did you mean 'temperature'? ...
      eval.top_p: must be > 0 and <= 1, got 2

Every problem of a mapping is reported at once (torchtune's ``ConfigError(errors)``): ``ConfigErrors`` holds them,
``ErrorCollector`` gathers them across checks (``trl-reason validate`` reports a whole recipe's). A range lives in
the field's metadata (``bounds``); a rule between fields lives in the dataclass's ``__post_init__``, which raises
``FieldError(field, why)`` and ``build_dataclass`` adds the path.
"""

from __future__ import annotations

import contextlib
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


class ConfigErrors(ConfigError):
    """Several ``ConfigError`` at once, each with its own path (nested ones flattened), in the order found."""

    def __init__(self, errors: typing.Iterable[ConfigError], where: str = ""):
        self.errors: list[ConfigError] = []
        for error in errors:
            self.errors.extend(error.errors if isinstance(error, ConfigErrors) else [error])
        lines = "\n".join(f"  {error}" for error in self.errors)
        head = f"{where} has {len(self.errors)} problems" if where else f"{len(self.errors)} problems"
        super().__init__("", f"{head}:\n{lines}")
        self.path = self.errors[0].path if self.errors else ""


def raise_all(errors: list[ConfigError], where: str = "") -> None:
    """Nothing for no error, the error itself for one, ``ConfigErrors`` for several."""
    if len(errors) == 1 and not isinstance(errors[0], ConfigErrors):
        raise errors[0]
    if errors:
        raise ConfigErrors(errors, where)


class ErrorCollector:
    """Gathers the ``ConfigError`` of independent checks instead of stopping at the first::

        errors = ErrorCollector()
        with errors.collect():
            check_a()
        with errors.collect():
            check_b()
        errors.raise_if_any()      # one ConfigError, or ConfigErrors naming every problem
    """

    def __init__(self, into: list[ConfigError] | None = None):
        self.errors: list[ConfigError] = into if into is not None else []

    @contextlib.contextmanager
    def collect(self):
        try:
            yield
        except ConfigErrors as exc:
            self.errors.extend(exc.errors)
        except ConfigError as exc:
            self.errors.append(exc)

    def add(self, error: ConfigError) -> None:
        self.errors.extend(error.errors if isinstance(error, ConfigErrors) else [error])

    def __len__(self) -> int:
        return len(self.errors)

    def raise_if_any(self, where: str = "") -> None:
        raise_all(self.errors, where)


class FieldError(ValueError):
    """Raised by a config dataclass's ``__post_init__`` about one of its fields (a rule between fields);
    ``build_dataclass`` turns it into a ``ConfigError`` at ``<section path>.<field>``."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def nearest(key: str, valid: typing.Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(str(key), sorted(map(str, valid)), n=1, cutoff=0.6)
    return matches[0] if matches else None


def unknown_key_error(path: str, key: str, valid: typing.Iterable[str]) -> ConfigError:
    valid = sorted(map(str, valid))
    if not isinstance(key, str):
        return ConfigError(f"{path}.{key}" if path else str(key),
                           f"keys are names, not {type(key).__name__}s ({key!r}); valid keys: {', '.join(valid[:40])}")
    close = nearest(key, valid)
    hint = f"did you mean {close!r}? " if close else ""
    shown = ", ".join(valid[:40]) + (" ..." if len(valid) > 40 else "")
    return ConfigError(f"{path}.{key}" if path else key, f"unknown key; {hint}valid keys: {shown}")


def field_help(cls: type) -> dict[str, str]:
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls)}


def config_fields(cls: type) -> list[dict[str, Any]]:
    """The fields of a config dataclass as ``trl-reason plugins NAME`` shows them: name, type, default (``None``
    for a required field, ``required`` then True), range (``bounds`` metadata) and help text."""
    hints = _resolved_hints(cls)
    helps = field_help(cls)
    rows = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        default = None if required else (f.default if f.default is not dataclasses.MISSING else f.default_factory())
        spec = f.metadata.get("bounds") or {}
        rows.append({"name": f.name, "type": _type_name(hints.get(f.name, f.type)), "default": to_dict(default),
                     "required": required, "range": range_text(spec) if spec else "", "help": helps[f.name]})
    return rows


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
        arms = [arg for arg in args if arg is not type(None)]
        if len(arms) == 1 or (isinstance(value, dict) and sum(dataclasses.is_dataclass(a) for a in arms) == 1):
            # one way to read the value (`LoraSection | None` given a mapping): its own error names the inner key
            arm = arms[0] if len(arms) == 1 else next(a for a in arms if dataclasses.is_dataclass(a))
            return check_type(value, arm, path)
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
        if len(args) == 2:
            return {check_type(k, args[0], path): check_type(v, args[1], f"{path}.{k}") for k, v in value.items()}
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
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace("NoneType", "None")


def _resolved_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:
        return {f.name: f.type for f in dataclasses.fields(cls)}


def validate_fields(cls: type, raw: dict, path: str) -> dict:
    """Check keys, value types and ranges of ``raw`` against the dataclass ``cls`` (every problem at once); return
    the coerced mapping."""
    if not isinstance(raw, dict):
        raise ConfigError(path, f"expected a mapping, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = _resolved_hints(cls)
    out = {}
    errors = ErrorCollector()
    for key, value in raw.items():
        if key not in fields:
            errors.add(unknown_key_error(path, str(key), fields))
            continue
        key_path = f"{path}.{key}" if path else key
        with errors.collect():
            checked = check_type(value, hints.get(key, Any), key_path)
            check_bounds(checked, fields[key].metadata, key_path)
            out[key] = checked
    missing = [name for name, f in fields.items() if f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING and name not in out and name not in raw]
    if missing:
        errors.add(ConfigError(path, f"missing required key(s): {', '.join(missing)}"))
    errors.raise_if_any()
    return out


# -- ranges ----------------------------------------------------------------------------------------------------------
#
# A field declares its range in its metadata, next to its help text::
#
#     r: int = field(default=16, metadata={"help": "LoRA rank.", **bounds(ge=1)})
#     max_steps: int = field(..., metadata={**bounds(gt=0, also=(-1,))})      # -1 or a positive count
#     band: list[float] = field(..., metadata={**bounds(check=ordered_unit_interval)})
#
# ``validate_fields`` (so every recipe section and every plugin ``Config``) checks it; TRL's config classes cannot
# carry our metadata, so their fields' ranges live in ``TRL_FIELD_BOUNDS`` (checked by ``run.prepare``).


def bounds(*, ge: float | None = None, gt: float | None = None, le: float | None = None, lt: float | None = None,
           also: tuple = (), check: typing.Callable[[Any], str | None] | None = None) -> dict:
    """Field metadata for a range: ``ge``/``gt``/``le``/``lt`` bound a number (or each number of a list), ``also``
    lists values accepted outside it (``None`` is always accepted), ``check(value)`` returns what is wrong or None."""
    spec = {name: limit for name, limit in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt)) if limit is not None}
    if also:
        spec["also"] = tuple(also)
    if check is not None:
        spec["check"] = check
    return {"bounds": spec}


_BOUND_TEXT = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
_BOUND_TEST = {"ge": lambda v, b: v >= b, "gt": lambda v, b: v > b, "le": lambda v, b: v <= b,
               "lt": lambda v, b: v < b}


def range_text(spec: dict) -> str:
    """``"> 0 (or -1)"``: the range a bounds spec allows, for messages and docs."""
    parts = [f"{_BOUND_TEXT[name]} {spec[name] if isinstance(spec[name], int) else format(spec[name], 'g')}"
             for name in ("gt", "ge", "lt", "le") if name in spec]
    text = " and ".join(parts)
    if spec.get("also"):
        text += " (or " + ", ".join(map(repr, spec["also"])) + ")"
    return text


def check_bounds(value: Any, metadata: typing.Mapping | dict, path: str) -> None:
    """Raise ``ConfigError`` when ``value`` lies outside the range that ``metadata["bounds"]`` declares."""
    spec = (metadata or {}).get("bounds")
    if not spec or value is None:
        return
    check = spec.get("check")
    if check is not None:
        problem = check(value)
        if problem:
            raise ConfigError(path, f"{problem}, got {value!r}")
    if value in spec.get("also", ()):
        return
    numbers = value if isinstance(value, (list, tuple)) else [value]
    for index, number in enumerate(numbers):
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            continue
        for name, test in _BOUND_TEST.items():
            if name in spec and not test(number, spec[name]):
                where = f"{path}[{index}]" if numbers is value else path
                raise ConfigError(where, f"must be {range_text(spec)}, got {number!r}")


def ordered_unit_interval(value: Any) -> str | None:
    """``[lo, hi]`` with ``0 <= lo <= hi <= 1`` (a pass-rate band)."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return "expected [lo, hi], two numbers"
    lo, hi = value
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return "expected [lo, hi], two numbers"
    if not (0 <= lo <= hi <= 1):
        return "expected [lo, hi] with 0 <= lo <= hi <= 1"
    return None


# Ranges of TRL / transformers config fields that recipes pass through (by TRL name; applied when the algorithm's
# config class has the field). TRL itself checks some of these only after the model has loaded, or not at all.
TRL_FIELD_BOUNDS: dict[str, dict] = {
    "learning_rate": bounds(gt=0)["bounds"],
    "temperature": bounds(gt=0)["bounds"],
    "top_p": bounds(gt=0, le=1)["bounds"],
    "top_k": bounds(ge=0)["bounds"],
    "min_p": bounds(ge=0, le=1)["bounds"],
    "repetition_penalty": bounds(gt=0)["bounds"],
    "num_generations": bounds(ge=1)["bounds"],
    "num_generations_eval": bounds(ge=1)["bounds"],
    "max_completion_length": bounds(ge=1)["bounds"],
    "max_prompt_length": bounds(ge=1)["bounds"],
    "max_length": bounds(ge=1)["bounds"],
    "gradient_accumulation_steps": bounds(ge=1)["bounds"],
    "per_device_train_batch_size": bounds(ge=1)["bounds"],
    "per_device_eval_batch_size": bounds(ge=1)["bounds"],
    "steps_per_generation": bounds(ge=1)["bounds"],
    "generation_batch_size": bounds(ge=1)["bounds"],
    "num_iterations": bounds(ge=1)["bounds"],
    "max_steps": bounds(gt=0, check=lambda v: None if v != -1 else (
        "-1 is TRL's 'no step limit: train num_train_epochs epochs', easy to set by mistake in a recipe: give a "
        "positive step count, or leave max_steps out and set num_train_epochs"))["bounds"],
    "num_train_epochs": bounds(gt=0)["bounds"],
    "logging_steps": bounds(gt=0)["bounds"],
    "save_steps": bounds(gt=0)["bounds"],
    "eval_steps": bounds(gt=0)["bounds"],
    "save_total_limit": bounds(ge=1)["bounds"],
    "warmup_ratio": bounds(ge=0, le=1)["bounds"],
    "warmup_steps": bounds(ge=0)["bounds"],
    "weight_decay": bounds(ge=0)["bounds"],
    "max_grad_norm": bounds(ge=0)["bounds"],
    "adam_beta1": bounds(ge=0, lt=1)["bounds"],
    "adam_beta2": bounds(ge=0, lt=1)["bounds"],
    "adam_epsilon": bounds(gt=0)["bounds"],
    "beta": bounds(ge=0)["bounds"],
    "epsilon": bounds(ge=0)["bounds"],
    "epsilon_high": bounds(ge=0)["bounds"],
    "dataloader_num_workers": bounds(ge=0)["bounds"],
}


def build_dataclass(cls: type, raw: dict | None, path: str):
    """Instantiate ``cls`` from ``raw`` after validation; errors from ``__post_init__`` keep the path."""
    values = validate_fields(cls, dict(raw or {}), path)
    try:
        return cls(**values)
    except ConfigError:
        raise
    except FieldError as exc:
        raise ConfigError(f"{path}.{exc.field}" if path else exc.field, exc.message) from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(path, str(exc)) from None


def build_partial(cls: type, raw: dict | None, path: str, errors: ErrorCollector):
    """``build_dataclass`` that records its errors in ``errors`` and still returns an instance where it can: the
    keys named by an error are left at their defaults (``None`` when a required key is missing or wrong), so the
    checks after it (``trl-reason validate``) see the rest of the mapping."""
    raw = dict(raw or {})
    try:
        return build_dataclass(cls, raw, path)
    except ConfigError as exc:
        errors.add(exc)
        failed = exc.errors if isinstance(exc, ConfigErrors) else [exc]
    prefix = f"{path}." if path else ""
    bad = set()
    for error in failed:
        if error.path.startswith(prefix) and error.path != path:
            bad.add(_first_key(error.path[len(prefix):]))
    try:
        return build_dataclass(cls, {k: v for k, v in raw.items() if str(k) not in bad}, path)
    except ConfigError:
        return None


def _first_key(rest: str) -> str:
    for index, char in enumerate(rest):
        if char in ".[":
            return rest[:index]
    return rest


def to_dict(obj: Any) -> Any:
    """A dataclass tree as plain YAML-safe data."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj
