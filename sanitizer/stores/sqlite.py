"""One column of a SQLite table (text, or JSON held as text).

Rows are read in key order (the rowid, or ``--key`` columns), one page per query, so the
memory used does not grow with the table. A batch is written in one ``BEGIN IMMEDIATE``
transaction; each row is updated only if its cell still holds what was read
(compare-and-set), otherwise it is reported and left alone. Other columns and other rows
are never written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, InputError
from .base import Change, CommitResult, Json, Record, dumps
from .codec import Format
from .sql import cell_record, compare_and_set, jsonable_key, keyset_condition, quote

PAGE = 500


def sqlite_path(url: str) -> Path:
    """``sqlite:///relative.db`` or ``sqlite:////abs/path.db`` (the vault's convention)."""
    rest = url.split("://", 1)[1] if "://" in url else ""
    if not rest.startswith("/") or rest == "/":
        raise ConfigError("a SQLite URL is sqlite:///relative/path.db or sqlite:////abs/path.db")
    return Path(rest[1:])


class SqliteStore:
    def __init__(self, url: str, table: str, column: str, *, key: list[str] | None = None,
                 fmt: Format = "auto", page: int = PAGE) -> None:
        self.path = sqlite_path(url)
        if not self.path.is_file():
            raise InputError(f"{self.path}: no such SQLite database")
        self.table, self.column, self.fmt, self.page = table, column, fmt, page
        self._t, self._c = quote(table), quote(column)
        self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
        try:
            info = self.conn.execute(f"PRAGMA table_info({self._t})").fetchall()
        except sqlite3.Error as exc:
            raise InputError(f"{self.path}: cannot read ({type(exc).__name__})") from None
        if not info:
            raise ConfigError(f"{self.path}: no table {table!r}")
        names = {row[1] for row in info}
        if column not in names:
            raise ConfigError(f"{self.path}: table {table!r} has no column {column!r}")
        if key:
            missing = [k for k in key if k not in names]
            if missing:
                raise ConfigError(f"{self.path}: table {table!r} has no column {missing[0]!r}")
            self.keys = key
        elif self._has_rowid():
            self.keys = ["rowid"]
        else:
            self.keys = [row[1] for row in sorted(info, key=lambda r: r[5]) if row[5]]
        self._quoted = ["rowid" if k == "rowid" else quote(k) for k in self.keys]
        self._k = ", ".join(self._quoted)

    def _has_rowid(self) -> bool:
        try:
            self.conn.execute(f"SELECT rowid FROM {self._t} LIMIT 0")  # noqa: S608
        except sqlite3.OperationalError:
            return False
        return True

    @property
    def identity(self) -> str:
        return f"sqlite:{self.path.resolve()}#{self.table}.{self.column}"

    def estimate(self) -> int | None:
        row = self.conn.execute(f"SELECT count(*) FROM {self._t}").fetchone()  # noqa: S608
        return int(row[0])

    def records(self, state: Json = None) -> Iterator[Record]:
        after: list[Any] | None = list(state) if isinstance(state, list) else None
        width = len(self.keys)
        while True:
            where = f"WHERE {keyset_condition(self._quoted, '?')}" if after is not None else ""
            rows = self.conn.execute(
                f"SELECT {self._k}, {self._c} FROM {self._t} {where} "  # noqa: S608
                f"ORDER BY {self._k} LIMIT ?", (*(after or ()), self.page)).fetchall()
            for row in rows:
                key = jsonable_key(row[:width])
                yield self._record(key, row[width])
            if len(rows) < self.page:
                return
            after = list(rows[-1][:width])

    def _record(self, key: list[Json], cell: object) -> Record:
        return cell_record(self.keys, key, cell, self.fmt)

    def commit(self, changes: Sequence[Change], through: Record) -> CommitResult:
        result = CommitResult(through.position)
        if not changes:
            return result
        match = " AND ".join(f"{k} = ?" for k in self._quoted)
        sql = f"UPDATE {self._t} SET {self._c} = ? WHERE {match} AND {self._c} = ?"  # noqa: S608
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            compare_and_set(self.conn.execute, sql, changes, result)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return result

    def prepare(self, state: Json = None) -> None:
        return None

    def finish(self) -> None:
        return None

    def put(self, key: str | None, value: Json) -> None:
        """Insert a row (``key`` None) or set the column of the row with that key."""
        cell = value if isinstance(value, str) else dumps(value)
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            if key is not None:
                if len(self.keys) != 1:
                    raise ConfigError("put by key needs a single key column")
                column = self._quoted[0]
                updated = self.conn.execute(
                    f"UPDATE {self._t} SET {self._c} = ? WHERE {column} = ?",  # noqa: S608
                    (cell, key)).rowcount
                if not updated:
                    self.conn.execute(
                        f"INSERT INTO {self._t} ({column}, {self._c}) VALUES (?, ?)",  # noqa: S608
                        (key, cell))
            else:
                self.conn.execute(f"INSERT INTO {self._t} ({self._c}) VALUES (?)",  # noqa: S608
                                  (cell,))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.conn.close()
