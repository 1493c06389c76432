"""A JSON file: the elements of a top-level array are the records, any other document is
one record. The file is one document, read whole and replaced in one atomic rename at the
end of an applied run: an interrupted run has written nothing and starts again (use JSON
Lines for stores too large to hold in memory)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..errors import InputError
from .base import (
    Change,
    CommitResult,
    Json,
    Record,
    StaleCheckpoint,
    atomic_write,
    file_signature,
)


def json_layout(text: str) -> tuple[int | str | None, bool]:
    """The indentation (None: one line) and ASCII escaping the document was written with."""
    lines = text.splitlines()
    indent: int | str | None = None
    if len(lines) > 1:
        second = lines[1]
        lead = second[: len(second) - len(second.lstrip())]
        indent = "\t" if lead.startswith("\t") else (len(lead) or None)
    return indent, "\\u" in text


def render_json(value: Json, original: str) -> str:
    indent, ascii_only = json_layout(original)
    text = json.dumps(value, ensure_ascii=ascii_only, indent=indent)
    return text + "\n" if original.endswith("\n") else text


def read_json(path: Path) -> tuple[Json, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return json.loads(text), text
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON (line {exc.lineno})") from None


class JsonFileStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: no such file")
        self._document: Json = None
        self._text = ""
        self._signature: list[int] | None = None
        self._changed = False

    @property
    def identity(self) -> str:
        return f"json:{self.path.resolve()}"

    def estimate(self) -> int | None:
        return None

    def prepare(self, state: Json = None) -> None:
        if state is not None:
            raise StaleCheckpoint(f"{self.path}: a JSON file is rewritten whole; starting over")
        self._signature = file_signature(self.path)
        self._document, self._text = read_json(self.path)
        self._changed = False

    def records(self, state: Json = None) -> Iterator[Record]:
        if self._signature is None:
            self._signature = file_signature(self.path)
            self._document, self._text = read_json(self.path)
        if isinstance(self._document, list):
            for index, item in enumerate(self._document):
                yield Record(f"[{index}]", index, item, index)
        else:
            yield Record("$", 0, self._document, None)

    def commit(self, changes: Sequence[Change], through: Record) -> CommitResult:
        for change in changes:
            if isinstance(change.record.meta, int) and isinstance(self._document, list):
                self._document[change.record.meta] = change.value
            else:
                self._document = change.value
            self._changed = True
        # Nothing is durable before finish(): a resumed run must start over (prepare says so).
        return CommitResult({"in_memory_through": through.position}, written=len(changes))

    def finish(self) -> None:
        if not self._changed:
            return
        if file_signature(self.path) != self._signature:
            raise StaleCheckpoint(f"{self.path}: changed during the scrub; not replaced")
        atomic_write(self.path, render_json(self._document, self._text).encode("utf-8"))

    def put(self, key: str | None, value: Json) -> None:
        """Append to a top-level array (``key`` None) or set a top-level key of an object."""
        document, text = read_json(self.path)
        if isinstance(document, list) and key is None:
            document.append(value)
        elif isinstance(document, dict) and key is not None:
            document[key] = value
        else:
            raise InputError(f"{self.path}: put needs a key for an object and none for an "
                             "array")
        atomic_write(self.path, render_json(document, text).encode("utf-8"))

    def close(self) -> None:
        return None
