"""Progress reporting without printing: library code calls a hook, the CLI draws bars.

Long-running functions take an optional ``progress: ProgressHook``. The default
:data:`NO_PROGRESS` does nothing; the command-line interface passes a hook that drives rich
progress bars (see :mod:`emoclip_clinic.cli.console`).
"""

from __future__ import annotations

from typing import Protocol


class ProgressHook(Protocol):
    """Receives progress events from long-running library functions."""

    def start(self, task: str, total: float | None = None, unit: str = "it") -> None:
        """A task begins; ``total`` steps are expected (None if unknown)."""

    def advance(self, task: str, steps: float = 1, **info: float) -> None:
        """``steps`` more steps of ``task`` are done; ``info`` carries figures such as loss."""

    def end(self, task: str) -> None:
        """The task is finished."""


class _NoProgress:
    def start(self, task: str, total: float | None = None, unit: str = "it") -> None:
        return None

    def advance(self, task: str, steps: float = 1, **info: float) -> None:
        return None

    def end(self, task: str) -> None:
        return None


NO_PROGRESS: ProgressHook = _NoProgress()
