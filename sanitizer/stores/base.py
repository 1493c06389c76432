"""What every agent-memory store offers the scrub runner and the memory-write gate.

A store yields its records in a stable order, each with a *position* (where a resumed run
starts again) and a value (text or JSON). ``commit`` writes the changes of one batch
durably — a database transaction, or an append to a temporary file that ``finish`` moves
over the original in one atomic rename — and returns the state to checkpoint.

Every part of a :class:`Record` is plain JSON, so records travel to worker processes and Ray
actors and come back unchanged; a store keeps whatever it needs to write a record back
(the original text for a compare-and-set, a byte range) in ``meta``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..errors import SanitizerError

Json = str | int | float | bool | None | list["Json"] | dict[str, "Json"]


@dataclass(frozen=True, slots=True)
class Record:
    """One memory record: printable ``key`` (``line 12``, ``id=7``, ``notes/a.md``), the
    ``position`` a resumed run continues after, the ``value`` and store-private ``meta``."""

    key: str
    position: Json
    value: Json
    meta: Json = None

    def to_json(self) -> dict[str, Json]:
        return {"key": self.key, "position": self.position, "value": self.value,
                "meta": self.meta}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        return cls(data["key"], data["position"], data["value"], data.get("meta"))


@dataclass(frozen=True, slots=True)
class Change:
    """The new value of a record (the whole value, other fields untouched by the runner)."""

    record: Record
    value: Json


@dataclass(frozen=True, slots=True)
class Failure:
    """A record that could not be processed or written; it was left as it was. ``reason``
    names an error type or a condition, never a value."""

    key: str
    reason: str


@dataclass(slots=True)
class CommitResult:
    """What a commit wrote, what it refused (changed underneath us) and the state that a
    resumed run starts from."""

    state: Json
    written: int = 0
    failures: list[Failure] = field(default_factory=list)


class StaleCheckpoint(SanitizerError):
    """The saved position no longer fits the store (e.g. the file was replaced already):
    the run starts again from the top, which is safe because scrubbing is idempotent."""


@runtime_checkable
class MemoryStore(Protocol):
    """One kind of agent memory: read in order, write back batch by batch."""

    @property
    def identity(self) -> str:
        """Names the store and what is scrubbed in it, without credentials (checkpoints
        are matched on it)."""
        ...

    def estimate(self) -> int | None:
        """How many records there are (for the progress bar), or None when unknown."""
        ...

    def prepare(self, state: Json = None) -> None:
        """Get ready to write, continuing from ``state`` (raises :class:`StaleCheckpoint`
        when the store no longer fits it). Called once before an applied run."""
        ...

    def records(self, state: Json = None) -> Iterator[Record]:
        """Every record in a stable order; after ``state`` (from a commit) if given. May
        run in another process than ``prepare``/``commit`` (Ray reads where it computes)."""
        ...

    def commit(self, changes: Sequence[Change], through: Record) -> CommitResult:
        """Durably write ``changes`` (records up to and including ``through`` are done)."""
        ...

    def finish(self) -> None:
        """End of an applied run (files: the atomic replace); nothing for databases."""
        ...

    def put(self, key: str | None, value: Json) -> None:
        """Write one new record (what the memory-write gate wraps)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class MemoryWriter(Protocol):
    """Where an agent writes new memory: one method, wrapped by the memory-write gate."""

    def put(self, key: str | None, value: Json) -> None:
        """Store ``value`` under ``key`` (None: append a new record, where that exists)."""
        ...


def dumps(value: Json) -> str:
    return json.dumps(value, ensure_ascii=False)


def fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``path``, fsync, rename over ``path``:
    readers see the old file or the new one, never half of either. Permissions are kept."""
    mode = path.stat().st_mode & 0o7777 if path.exists() else None
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def file_signature(path: Path) -> list[int]:
    """Size, modification time and inode: tells whether a file changed since it was read."""
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns, stat.st_ino]
