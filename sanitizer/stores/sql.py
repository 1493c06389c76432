"""What the SQL stores share: identifiers, key labels, keyset pages."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import ConfigError
from .base import Change, CommitResult, Failure, Json, Record
from .codec import Format, decode, encode

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,62}")


def quote(name: str, *, dotted: bool = False) -> str:
    """A safely quoted identifier (``schema.table`` when ``dotted``); anything that is not
    a plain identifier is refused rather than escaped."""
    parts = name.split(".") if dotted else [name]
    if len(parts) > 2 or not all(_IDENT.fullmatch(p) for p in parts):
        raise ConfigError(f"{name!r} is not a valid table or column name")
    return ".".join(f'"{p}"' for p in parts)


def key_columns(text: str | None) -> list[str] | None:
    """``--key a,b`` → ``["a", "b"]``."""
    if not text:
        return None
    columns = [c.strip() for c in text.split(",")]
    for column in columns:
        quote(column)
    return columns


def label(columns: Sequence[str], values: Sequence[Json]) -> str:
    pairs = ", ".join(f"{c}={v}" for c, v in zip(columns, values, strict=True))
    return pairs


def keyset_condition(quoted: Sequence[str], placeholder: str) -> str:
    """``('"a"', '"b"')`` → ``("a", "b") > (?, ?)``: the rows after a key, in key order."""
    marks = ", ".join(placeholder for _ in quoted)
    return f"({', '.join(quoted)}) > ({marks})"


def jsonable_key(values: Sequence[object]) -> list[Json]:
    """Key values as JSON (numbers and strings as they are, anything else as text): they
    go into checkpoints and come back as query parameters."""
    out: list[Json] = []
    for value in values:
        if isinstance(value, bool) or value is None:
            raise ConfigError("key columns must not be NULL or boolean")
        if isinstance(value, int | float | str):
            out.append(value)
        elif isinstance(value, bytes | bytearray | memoryview):
            raise ConfigError("binary key columns are not supported; pass --key")
        else:
            out.append(str(value))
    return out


def cell_record(columns: Sequence[str], key: list[Json], cell: object, fmt: Format) -> Record:
    """One row's cell as a record: text (or JSON text, kept raw for compare-and-set), or a
    skip / error that leaves the row alone."""
    name = label(columns, key)
    if not isinstance(cell, str):
        return Record(name, key, None, {"skip": "empty" if cell is None else "not text"})
    try:
        value, is_json = decode(cell, fmt)
    except ValueError as exc:
        return Record(name, key, None, {"error": str(exc)})
    return Record(name, key, value, {"json": is_json, "raw": cell} if is_json else
                  {"json": False})


def compare_and_set(execute: Callable[..., Any], sql: str, changes: Sequence[Change],
                    result: CommitResult) -> None:
    """Each change through ``sql`` (``new, *key, old``), inside the caller's transaction: a
    row is written only if its cell still holds what was read, else it is a failure."""
    for change in changes:
        record = change.record
        meta: dict[str, Any] = record.meta  # type: ignore[assignment]
        raw = str(meta["raw"] if meta["json"] else record.value)
        new = encode(change.value, raw, meta["json"])
        if execute(sql, (new, *record.position, raw)).rowcount == 1:  # type: ignore[misc]
            result.written += 1
        else:
            result.failures.append(Failure(record.key, "changed since it was read"))
