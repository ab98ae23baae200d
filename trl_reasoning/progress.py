"""The one rich console every part of trl-reasoning prints through (stderr, so stdout stays machine-readable)."""

from rich.console import Console

console = Console(stderr=True)
