"""Terminal output of the CLI: logging setup, error lines and rich progress bars."""

from __future__ import annotations

import logging
from typing import Any

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)
stdout = Console()


def setup_logging(verbosity: int) -> None:
    """Send log records to the terminal: warnings by default, info with -v, debug with -vv."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(
        level=level,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, show_time=False)],
        force=True,
    )
    # open_clip logs routine notices ("model initialized randomly") on the root logger.
    if verbosity <= 1:
        logging.getLogger().setLevel(max(level, logging.WARNING))
        logging.getLogger("emoclip_clinic").setLevel(level)


def error_line(message: str) -> None:
    """Print one error line (no traceback) to standard error."""
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)


class RichProgress:
    """A :class:`emoclip_clinic.progress.ProgressHook` drawing rich progress bars."""

    def __init__(self, disable: bool = False) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            disable=disable,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.__exit__(*exc)

    def start(self, task: str, total: float | None = None, unit: str = "it") -> None:
        """Add a bar for ``task``."""
        self._tasks[task] = self._progress.add_task(task, total=total, info="")

    def advance(self, task: str, steps: float = 1, **info: float) -> None:
        """Advance the bar of ``task`` and show ``info`` figures beside it."""
        if task not in self._tasks:
            self.start(task)
        text = "  ".join(f"{k} {v:.4g}" for k, v in info.items())
        self._progress.update(self._tasks[task], advance=steps, info=text)

    def end(self, task: str) -> None:
        """Replace the finished bar by one line saying what was done and how long it took."""
        task_id = self._tasks.pop(task, None)
        if task_id is None:
            return
        state = next(t for t in self._progress.tasks if t.id == task_id)
        elapsed = state.elapsed or 0.0
        self._progress.remove_task(task_id)
        done = f"{state.completed:g}" + (f"/{state.total:g}" if state.total is not None else "")
        self._progress.console.print(f"[green]done[/] {task} ({done}, {elapsed:.1f} s)",
                                     highlight=False)  # fmt: skip
