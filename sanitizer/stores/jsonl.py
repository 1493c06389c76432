"""A JSON Lines file: one record per non-blank line.

An applied run never touches the original until the end: each commit appends the batch
(changed lines re-encoded, the other bytes copied as they are) to ``.<name>.scrub.tmp``
next to it, and ``finish`` renames that over the original in one atomic step — unless the
original changed meanwhile, in which case nothing is replaced. A resumed run truncates the
temporary file to the last checkpoint and carries on from the same byte of the original.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from ..errors import InputError
from .base import (
    Change,
    CommitResult,
    Json,
    Record,
    StaleCheckpoint,
    dumps,
    file_signature,
    fsync_dir,
)

_COPY_CHUNK = 1 << 20


class JsonlStore:
    """Records of a ``.jsonl`` file; ``put`` appends a line (the memory-write gate)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: no such file")
        self.temp = self.path.with_name(f".{self.path.name}.scrub.tmp")
        self._signature: list[int] | None = None
        self._copied = 0          # bytes of the original already in the temporary file
        self._changed = False

    @property
    def identity(self) -> str:
        return f"jsonl:{self.path.resolve()}"

    def estimate(self) -> int | None:
        count = 0
        with self.path.open("rb") as handle:
            while chunk := handle.read(_COPY_CHUNK):
                count += chunk.count(b"\n")
        return count

    # -- reading ----------------------------------------------------------------------

    def prepare(self, state: Json = None) -> None:
        if isinstance(state, dict):
            self._resume(state)
        else:
            self._signature = file_signature(self.path)
            self._copied, self._changed = 0, False

    def records(self, state: Json = None) -> Iterator[Record]:
        offset, line = 0, 0
        if isinstance(state, dict):
            offset, line = int(state["offset"]), int(state["line"])  # type: ignore[arg-type]
        with self.path.open("rb") as handle:
            handle.seek(offset)
            position = offset
            for raw in handle:
                start, position = position, position + len(raw)
                line += 1
                text = raw.rstrip(b"\r\n")
                if not text.strip():
                    continue
                meta: dict[str, Json] = {"start": start, "end": position,
                                         "crlf": raw.endswith(b"\r\n")}
                where: dict[str, Json] = {"offset": position, "line": line}
                try:
                    value: Json = json.loads(text.decode("utf-8"))
                except UnicodeDecodeError:
                    yield Record(f"line {line}", where, None, {**meta, "error": "not UTF-8"})
                    continue
                except json.JSONDecodeError:
                    yield Record(f"line {line}", where, None,
                                 {**meta, "error": "not valid JSON"})
                    continue
                yield Record(f"line {line}", where, value, meta)

    def _resume(self, state: dict[str, Any]) -> None:
        signature = state.get("source")
        fits = isinstance(signature, list) and signature == file_signature(self.path) and \
            self.temp.exists() and self.temp.stat().st_size >= int(state["temp_size"])
        if not fits:
            raise StaleCheckpoint(f"{self.path}: changed since the checkpoint")
        with self.temp.open("r+b") as handle:
            handle.truncate(int(state["temp_size"]))
        self._signature = signature
        self._copied = int(state["offset"])
        self._changed = bool(state.get("changed"))

    # -- writing ----------------------------------------------------------------------

    def _copy(self, out: IO[bytes], source: IO[bytes], end: int) -> None:
        source.seek(self._copied)
        remaining = end - self._copied
        while remaining > 0:
            chunk = source.read(min(_COPY_CHUNK, remaining))
            if not chunk:
                raise StaleCheckpoint(f"{self.path}: shorter than when it was read")
            out.write(chunk)
            remaining -= len(chunk)
        self._copied = end

    def commit(self, changes: Sequence[Change], through: Record) -> CommitResult:
        assert isinstance(through.meta, dict)
        mode = "ab" if self._copied else "wb"  # a fresh run starts a fresh copy
        with self.path.open("rb") as source, self.temp.open(mode) as out:
            for change in sorted(changes, key=lambda c: _meta(c.record)["start"]):
                meta = _meta(change.record)
                self._copy(out, source, int(meta["start"]))
                ending = b"\r\n" if meta.get("crlf") else b"\n"
                out.write(dumps(change.value).encode("utf-8") + ending)
                source.seek(int(meta["end"]))
                self._copied = int(meta["end"])
                self._changed = True
            self._copy(out, source, int(through.meta["end"]))  # type: ignore[arg-type]
            out.flush()
            os.fsync(out.fileno())
            size = out.tell()
        assert isinstance(through.position, dict)
        state: dict[str, Json] = {
            "offset": self._copied, "line": through.position["line"], "temp_size": size,
            "source": list(self._signature or []), "changed": self._changed}
        return CommitResult(state, written=len(changes))

    def finish(self) -> None:
        if not self._changed:
            self.temp.unlink(missing_ok=True)
            return
        if file_signature(self.path) != self._signature:
            raise StaleCheckpoint(f"{self.path}: changed during the scrub; not replaced "
                                  f"(the scrubbed copy is {self.temp.name})")
        with self.path.open("rb") as source, self.temp.open("ab") as out:
            end = self.path.stat().st_size
            if self._copied < end:
                self._copy(out, source, end)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(self.temp, self.path.stat().st_mode & 0o7777)
        os.replace(self.temp, self.path)
        fsync_dir(self.path.parent)

    def put(self, key: str | None, value: Json) -> None:
        """Append one record (``key`` is ignored: lines have no keys)."""
        line = dumps(value).encode("utf-8") + b"\n"
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        return None


def _meta(record: Record) -> dict[str, Any]:
    assert isinstance(record.meta, dict)
    return record.meta
