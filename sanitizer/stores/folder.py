"""A folder of notes (``.md``, ``.txt``, ``.json``, ``.jsonl``, recursively): one record per
file, the layout agents such as Hermes use for ``MEMORY.md`` / ``USER.md``.

Files are visited in a stable order (names sorted at every level; hidden entries and
symbolic links are skipped). A changed file is replaced atomically, and only if it has not
changed since it was read; the checkpoint is the last file done. Markdown and text are
records as they are; a ``.json`` file is its document, a ``.jsonl`` file the list of its
lines (only changed lines are rewritten).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError
from .base import (
    Change,
    CommitResult,
    Failure,
    Json,
    Record,
    atomic_write,
    dumps,
    file_signature,
)
from .json_file import render_json

SUFFIXES = (".md", ".txt", ".json", ".jsonl")
MAX_FILE_BYTES = 32 * 1024 * 1024


def walk(root: Path, after: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Relative paths (as parts) of the note files under ``root``, sorted, after ``after``."""
    def visit(directory: Path, prefix: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith(".") or entry.is_symlink():
                continue
            parts = (*prefix, entry.name)
            if entry.is_dir():
                # Skip whole directories that sort before the checkpoint.
                if after and parts < after[: len(parts)]:
                    continue
                yield from visit(Path(entry.path), parts)
            elif entry.is_file() and entry.name.endswith(SUFFIXES) and parts > after:
                yield parts

    yield from visit(root, ())


def _jsonl_lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


class FolderStore:
    def __init__(self, root: str | Path, max_bytes: int = MAX_FILE_BYTES) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"{self.root}: not a folder")
        self.max_bytes = max_bytes

    @property
    def identity(self) -> str:
        return f"folder:{self.root.resolve()}"

    def estimate(self) -> int | None:
        return sum(1 for _ in walk(self.root))

    def records(self, state: Json = None) -> Iterator[Record]:
        after = tuple(str(p) for p in state) if isinstance(state, list) else ()
        for parts in walk(self.root, after):
            yield self._read(parts)

    def _read(self, parts: tuple[str, ...]) -> Record:
        path = self.root.joinpath(*parts)
        key = "/".join(parts)
        position: Json = list(parts)
        try:
            signature = file_signature(path)
            if signature[0] > self.max_bytes:
                return Record(key, position, None, {"error": f"larger than {self.max_bytes} "
                                                             "bytes"})
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            return Record(key, position, None, {"error": "not UTF-8"})
        except OSError as exc:
            return Record(key, position, None, {"error": f"cannot read ({exc.strerror})"})
        meta: dict[str, Json] = {"sig": list[Json](signature)}
        try:
            if path.suffix == ".json":
                return Record(key, position, json.loads(text), meta)
            if path.suffix == ".jsonl":
                lines = [json.loads(line) for line in _jsonl_lines(text) if line.strip()]
                return Record(key, position, lines, meta)
        except json.JSONDecodeError:
            return Record(key, position, None, {"error": "not valid JSON"})
        return Record(key, position, text, meta)

    def _render(self, path: Path, value: Json, text: str) -> str:
        if path.suffix == ".json":
            return render_json(value, text)
        if path.suffix == ".jsonl":
            assert isinstance(value, list)
            out: list[str] = []
            items = iter(value)
            for line in _jsonl_lines(text):
                if not line.strip():
                    out.append(line)
                    continue
                new = next(items)
                ending = line[len(line.rstrip("\r\n")):]
                out.append(line if json.loads(line) == new else dumps(new) + ending)
            return "".join(out)
        assert isinstance(value, str)
        return value

    def commit(self, changes: Sequence[Change], through: Record) -> CommitResult:
        result = CommitResult(list(through.position))  # type: ignore[arg-type]
        for change in changes:
            record = change.record
            path = self.root.joinpath(*record.key.split("/"))
            meta: dict[str, Any] = record.meta  # type: ignore[assignment]
            try:
                if file_signature(path) != meta["sig"]:
                    result.failures.append(Failure(record.key, "changed since it was read"))
                    continue
                text = path.read_text(encoding="utf-8")
                atomic_write(path, self._render(path, change.value, text).encode("utf-8"))
            except OSError as exc:
                result.failures.append(Failure(record.key, f"cannot write ({exc.strerror})"))
                continue
            result.written += 1
        return result

    def prepare(self, state: Json = None) -> None:
        return None

    def finish(self) -> None:
        return None

    def put(self, key: str | None, value: Json) -> None:
        """Write one note (``key`` is its path under the folder; ``.json`` keys get JSON)."""
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise InputError("a note key is a relative path inside the folder")
        path = self.root.joinpath(*key.split("/"))
        if not path.name.endswith(SUFFIXES):
            raise InputError(f"a note is one of {', '.join(SUFFIXES)}")
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".json":
            text = json.dumps(value, ensure_ascii=False, indent=2) + "\n"
        elif path.suffix == ".jsonl":
            items = value if isinstance(value, list) else [value]
            text = "".join(dumps(item) + "\n" for item in items)
        else:
            text = value if isinstance(value, str) else dumps(value)
        atomic_write(path, text.encode("utf-8"))

    def close(self) -> None:
        return None
