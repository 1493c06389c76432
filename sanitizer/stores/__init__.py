"""Agent memory stores: one :class:`MemoryStore` per kind, the scrub runner, the gate.

``open_store(StoreSpec(source, …))`` understands::

    notes.jsonl                          JSON Lines, one record per line
    memory.json                          JSON (array elements, or the whole document)
    ~/.hermes/memories/                  a folder of .md/.txt/.json/.jsonl notes
    sqlite:///path/to.db  + table/column SQLite (text or JSON in the column)
    postgresql://…        + table/column PostgreSQL (text, varchar, json, jsonb)
    redis://host:6379/0   + match         Redis strings, hashes, RedisJSON values

Adding a store means writing one class with the :class:`MemoryStore` methods and one
branch here. Backends load lazily: importing this package pulls in neither psycopg nor
redis.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import ConfigError, InputError
from .base import (
    Change,
    CommitResult,
    Failure,
    Json,
    MemoryStore,
    MemoryWriter,
    Record,
    StaleCheckpoint,
)
from .codec import check_format

__all__ = [
    "Change",
    "CommitResult",
    "Failure",
    "Json",
    "MemoryStore",
    "MemoryWriter",
    "Record",
    "StaleCheckpoint",
    "StoreSpec",
    "open_store",
]

SQL_SCHEMES = ("sqlite", "postgresql", "postgres")
REDIS_SCHEMES = ("redis", "rediss", "unix")


@dataclass(frozen=True, slots=True)
class StoreSpec:
    """What to open (picklable: workers and Ray tasks open their own connection)."""

    source: str
    table: str | None = None
    column: str | None = None
    key: str | None = None
    match: str | None = None
    format: str = "auto"
    page: int = 500

    @property
    def scheme(self) -> str:
        return urlsplit(self.source).scheme.lower() if "://" in self.source else ""

    @property
    def kind(self) -> str:
        scheme = self.scheme
        if scheme in SQL_SCHEMES:
            return "sqlite" if scheme == "sqlite" else "postgres"
        if scheme in REDIS_SCHEMES:
            return "redis"
        if scheme:
            raise ConfigError(f"unknown store scheme {scheme!r}: use a file or folder path, "
                              "sqlite:///…, postgresql://… or redis://…")
        path = Path(self.source)
        if path.is_dir():
            return "folder"
        if path.suffix == ".jsonl":
            return "jsonl"
        if path.suffix == ".json":
            return "json"
        if not path.exists():
            raise InputError(f"{self.source}: no such file or folder")
        raise ConfigError(f"{self.source}: a file store is .jsonl or .json (or pass a folder)")

    def check(self) -> None:
        """Options that do not fit the kind of store are usage errors."""
        kind = self.kind
        check_format(self.format)
        sql = kind in ("sqlite", "postgres")
        if sql and not (self.table and self.column):
            raise ConfigError(f"a {kind} store needs --table and --column")
        if not sql and (self.table or self.column or self.key):
            raise ConfigError("--table, --column and --key apply to SQL stores only")
        if kind != "redis" and self.match:
            raise ConfigError("--match applies to Redis stores only")
        if self.page < 1:
            raise ConfigError("the page size must be positive")


def open_store(spec: StoreSpec) -> MemoryStore:
    spec.check()
    kind, fmt = spec.kind, check_format(spec.format)
    if kind == "sqlite":
        from .sql import key_columns
        from .sqlite import SqliteStore

        assert spec.table and spec.column
        return SqliteStore(spec.source, spec.table, spec.column, key=key_columns(spec.key),
                           fmt=fmt, page=spec.page)
    if kind == "postgres":
        from .postgres import PostgresStore
        from .sql import key_columns

        assert spec.table and spec.column
        return PostgresStore(spec.source, spec.table, spec.column, key=key_columns(spec.key),
                             fmt=fmt, page=spec.page)
    if kind == "redis":
        from .redis import RedisStore

        return RedisStore(spec.source, spec.match or "*", fmt=fmt, page=spec.page)
    if kind == "folder":
        from .folder import FolderStore

        return FolderStore(spec.source)
    if kind == "jsonl":
        from .jsonl import JsonlStore

        return JsonlStore(spec.source)
    from .json_file import JsonFileStore

    return JsonFileStore(spec.source)
