"""Reading what the CLI is given: whole texts, or JSON Lines records, with locations."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, SanitizerError


@dataclass(frozen=True, slots=True)
class Record:
    """One JSON Lines object, with where it came from."""

    source: str
    line: int
    data: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


@contextmanager
def located(where: str) -> Iterator[None]:
    """Errors raised while one input is processed name it: ``file:line: …``."""
    try:
        yield
    except SanitizerError as exc:
        raise type(exc)(f"{where}: {exc}") from None


def _open_sources(paths: Sequence[str]) -> Iterator[tuple[str, Any]]:
    if not paths or list(paths) == ["-"]:
        yield "<stdin>", sys.stdin.buffer
        return
    for name in paths:
        if name == "-":
            yield "<stdin>", sys.stdin.buffer
            continue
        path = Path(name)
        if path.is_dir():
            raise InputError(f"{name}: is a directory (pass files, or use 'sanitizer scan')")
        try:
            handle = path.open("rb")
        except OSError as exc:
            raise InputError(f"{name}: cannot read ({exc.strerror})") from None
        with handle:
            yield name, handle


def read_texts(paths: Sequence[str]) -> Iterator[tuple[str, str]]:
    """Whole inputs as text (UTF-8; invalid bytes are an error naming the offset)."""
    for name, handle in _open_sources(paths):
        try:
            raw = handle.read()
        except OSError as exc:
            raise InputError(f"{name}: cannot read ({exc.strerror})") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: invalid UTF-8 at byte {exc.start}") from None
        yield name, text


def read_records(paths: Sequence[str], field: str) -> Iterator[Record]:
    """JSON Lines objects whose ``field`` holds a string; blank lines are skipped."""
    for name, handle in _open_sources(paths):
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"{name}:{number}: invalid UTF-8 at byte {exc.start}") \
                    from None
            if not line.strip():
                continue
            try:
                data = json.loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as exc:
                raise InputError(f"{name}:{number}: not valid JSON "
                                 f"({exc.msg.removesuffix(' at')} at column {exc.colno})") \
                    from None
            except RecursionError:
                raise InputError(f"{name}:{number}: JSON nested too deeply") from None
            if not isinstance(data, dict):
                raise InputError(f"{name}:{number}: expected a JSON object, got "
                                 f"{type(data).__name__}")
            if field not in data:
                raise InputError(f"{name}:{number}: no {field!r} field")
            if not isinstance(data[field], str):
                raise InputError(f"{name}:{number}: field {field!r} must be a string, got "
                                 f"{type(data[field]).__name__}")
            yield Record(name, number, data)
