"""Progress reporting for long runs: a rich bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
from typing import Any, Protocol, TextIO


class Progress(Protocol):
    def task(self, description: str, total: int) -> None: ...

    def advance(self, n: int = 1) -> None: ...

    def note(self, message: str) -> None: ...


class NullProgress:
    """Says nothing; keeps the notes (tests, library use)."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def task(self, description: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def note(self, message: str) -> None:
        self.notes.append(message)


class ConsoleProgress:
    """A rich progress bar on stderr when it is a terminal; one line per task otherwise."""

    def __init__(self, stream: TextIO | None = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        self._stream = stream or sys.stderr
        self._console = Console(file=self._stream)
        self._live = self._console.is_terminal
        self._bar: Any = None
        self._task: Any = None
        if self._live:
            self._bar = RichProgress(TextColumn("{task.description}"), BarColumn(),
                                     MofNCompleteColumn(), TimeElapsedColumn(),
                                     console=self._console, transient=False)
            self._bar.start()

    def task(self, description: str, total: int) -> None:
        if self._bar is not None:
            if self._task is not None:
                self._bar.update(self._task, completed=self._bar.tasks[-1].total)
            self._task = self._bar.add_task(description, total=total)
        else:
            print(f"bench: {description} ({total})", file=self._stream, flush=True)

    def advance(self, n: int = 1) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task, n)

    def note(self, message: str) -> None:
        if self._bar is not None:
            self._bar.console.print(f"note: {message}", markup=False, highlight=False)
        else:
            print(f"bench: note: {message}", file=self._stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
