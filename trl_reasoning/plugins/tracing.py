"""Hook tracing through pluggy: every hook call with its plugins, its arguments' values (shortened) and its result.

``TRL_REASONING_TRACE_PLUGINS=1 trl-reason run recipe.yaml`` prints to stderr, for each call::

    [trl-reasoning] hook on_rewards -> [hapo, core:records] trainer=<ReasoningGRPOTrainer> batch=RolloutBatch(step=0,
        num_generations=4, ...) round=GenerationRound(step=0, round_index=0, is_refill=False, generation=0)
    [trl-reasoning] hook on_rewards <- [None, None]

It is pluggy's call monitoring (as datasette prints ``kwargs``), so it sees every call made through pluggy: the
broadcast hooks, and the per-plugin and chained calls the manager makes through ``subset_hook_caller``
(``call_each``, ``call_one``, ``call_chain``: one line per plugin). Tensors print as their shape, dtype and first
values; long values are cut to ``MAX_VALUE`` characters, a line to ``MAX_LINE``.
"""

from __future__ import annotations

import dataclasses
import os
import reprlib
import sys
from typing import Any, Callable, TextIO

TRACE_ENV = "TRL_REASONING_TRACE_PLUGINS"
PREFIX = "[trl-reasoning]"
MAX_VALUE = 300  # characters of one argument or result
MAX_LINE = 1200  # characters of one trace line
TENSOR_VALUES = 6  # values of a tensor shown


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.split(".")[0] == "torch" and hasattr(value, "shape") and hasattr(value, "dtype")


def _tensor(value: Any) -> str:
    shape = tuple(value.shape)
    dtype = str(value.dtype).removeprefix("torch.")
    try:
        flat = value.detach().reshape(-1)[:TENSOR_VALUES].tolist()
        head = ", ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in flat)
        more = ", ..." if value.numel() > TENSOR_VALUES else ""
        return f"tensor{list(shape)} {dtype} [{head}{more}]"
    except Exception:  # a meta or sparse tensor: shape and dtype only
        return f"tensor{list(shape)} {dtype}"


class _Short(reprlib.Repr):
    """``reprlib`` with tensors as shape + first values, dataclasses as their fields, other objects as their type."""

    def __init__(self):
        super().__init__()
        self.maxstring = 60
        self.maxother = 60
        self.maxlist = self.maxtuple = self.maxset = self.maxdict = 6
        self.maxlevel = 3

    def repr1(self, x: Any, level: int) -> str:
        if _is_tensor(x):
            return _tensor(x)
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            if level <= 0:
                return f"{type(x).__name__}(...)"
            fields = [f"{f.name}={self._field(getattr(x, f.name, None), level - 1)}" for f in dataclasses.fields(x)]
            return f"{type(x).__name__}({', '.join(fields)})"
        if isinstance(x, (str, bytes, int, float, bool, type(None), list, tuple, dict, set, frozenset)):
            return super().repr1(x, level)
        text = repr(x) if type(x).__repr__ is not object.__repr__ else ""
        if not text or len(text) > self.maxother or "\n" in text:
            return f"<{type(x).__name__}>"
        return text


    def _field(self, value: Any, level: int) -> str:
        """A dataclass field, more compact still: a long sequence as its length, a tensor without its values."""
        if _is_tensor(value):
            return f"tensor{list(value.shape)}"
        if isinstance(value, (list, tuple)) and (len(value) > 4 or not all(
                isinstance(v, (int, float, bool)) or (isinstance(v, str) and len(v) <= 24) for v in value)):
            return f"<{len(value)} items>"
        if isinstance(value, str) and len(value) > 24:
            return repr(value[:21] + "...")
        return self.repr1(value, level)


_SHORT = _Short()


def short(value: Any, limit: int = MAX_VALUE) -> str:
    """A one-line, shortened repr of ``value`` for a trace line."""
    try:
        text = _SHORT.repr(value)
    except Exception as exc:  # never let tracing break a run
        text = f"<{type(value).__name__}: repr failed: {type(exc).__name__}>"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _line(text: str) -> str:
    return text if len(text) <= MAX_LINE else text[:MAX_LINE - 3] + "..."


def tracing_enabled() -> bool:
    return os.environ.get(TRACE_ENV, "") not in ("", "0")


def install_tracing(pm, stream: TextIO | None = None, enabled: bool | None = None) -> Callable[[], None] | None:
    """Trace every hook call of the pluggy manager ``pm`` to ``stream`` (stderr at the time of each call).

    ``enabled``: ``None`` reads ``TRL_REASONING_TRACE_PLUGINS`` (set and not ``0``). Returns the function that stops
    the tracing, or ``None`` when it is off.
    """
    if enabled is None:
        enabled = tracing_enabled()
    if not enabled:
        return None

    def out() -> TextIO:
        return stream if stream is not None else sys.stderr

    def before(hook_name: str, hook_impls, kwargs: dict) -> None:
        names = ", ".join(impl.plugin_name for impl in hook_impls)
        args = " ".join(f"{key}={short(value)}" for key, value in kwargs.items())
        print(_line(f"{PREFIX} hook {hook_name} -> [{names}] {args}".rstrip()), file=out())

    def after(outcome, hook_name: str, hook_impls, kwargs: dict) -> None:
        exception = getattr(outcome, "exception", None)
        if exception is not None:
            shown = f"raised {type(exception).__name__}: {str(exception)[:MAX_VALUE]}"
        else:
            try:
                shown = short(outcome.get_result())
            except BaseException as exc:  # pluggy re-raises it to the caller
                shown = f"raised {type(exc).__name__}: {str(exc)[:MAX_VALUE]}"
        print(_line(f"{PREFIX} hook {hook_name} <- {shown}"), file=out())

    return pm.add_hookcall_monitoring(before, after)
