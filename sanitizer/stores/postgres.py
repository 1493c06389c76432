"""One column of a PostgreSQL table: ``text``/``varchar``, or ``json``/``jsonb``.

Rows are read in primary-key order (or ``--key`` columns), one page per query. A batch is
one transaction; each row is updated only if its cell still holds what was read
(compare-and-set on the cell's text), otherwise it is reported and left alone. Other
columns and rows are never written.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigError, InputError
from .base import Change, CommitResult, Json, Record, dumps
from .codec import Format
from .sql import cell_record, compare_and_set, jsonable_key, keyset_condition, quote

PAGE = 500
_TEXT_TYPES = ("text", "character varying", "character")
_JSON_TYPES = ("json", "jsonb")


def safe_url(url: str) -> str:
    """The URL without its password (for identities and messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, user + host, parts.path, "", ""))


class PostgresStore:
    def __init__(self, url: str, table: str, column: str, *, key: list[str] | None = None,
                 fmt: Format = "auto", page: int = PAGE) -> None:
        import psycopg

        self.url, self.table, self.column, self.fmt, self.page = url, table, column, fmt, page
        self._t, self._c = quote(table, dotted=True), quote(column)
        try:
            self.conn = psycopg.connect(url, connect_timeout=10, autocommit=True)
        except psycopg.Error as exc:
            raise InputError(f"cannot connect to {safe_url(url)} ({type(exc).__name__})") \
                from None
        schema, _, name = table.rpartition(".")
        row = self.conn.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_name = %s AND "
            "column_name = %s AND table_schema = COALESCE(NULLIF(%s, ''), current_schema())",
            (name, column, schema)).fetchone()
        if row is None:
            raise ConfigError(f"{safe_url(url)}: no column {column!r} in table {table!r}")
        self.data_type = str(row[0])
        if self.data_type not in _TEXT_TYPES + _JSON_TYPES:
            raise ConfigError(f"column {column!r} has type {self.data_type}: only text and "
                              "JSON columns can be scrubbed")
        self.keys = key or self._primary_key()
        self._quoted = [quote(k) for k in self.keys]
        self._k = ", ".join(self._quoted)

    def _primary_key(self) -> list[str]:
        rows = self.conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary "
            "ORDER BY array_position(i.indkey, a.attnum)", (self._t,)).fetchall()
        if not rows:
            raise ConfigError(f"table {self.table!r} has no primary key: pass --key COLUMN")
        return [str(r[0]) for r in rows]

    @property
    def is_json(self) -> bool:
        return self.data_type in _JSON_TYPES

    @property
    def identity(self) -> str:
        return f"postgresql:{safe_url(self.url)}#{self.table}.{self.column}"

    def estimate(self) -> int | None:
        row = self.conn.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
            (self._t,)).fetchone()
        if row is None or row[0] < 0:
            counted = self.conn.execute(f"SELECT count(*) FROM {self._t}").fetchone()  # noqa: S608
            return int(counted[0]) if counted else None
        return int(row[0]) or None

    def records(self, state: Json = None) -> Iterator[Record]:
        after: list[Any] | None = list(state) if isinstance(state, list) else None
        width = len(self.keys)
        cell = f"{self._c}::text" if self.is_json else self._c
        while True:
            where = f"WHERE {keyset_condition(self._quoted, '%s')}" if after is not None else ""
            rows = self.conn.execute(
                f"SELECT {self._k}, {cell} FROM {self._t} {where} "  # noqa: S608
                f"ORDER BY {self._k} LIMIT %s", (*(after or ()), self.page)).fetchall()
            for row in rows:
                yield self._record(jsonable_key(row[:width]), row[width])
            if len(rows) < self.page:
                return
            after = jsonable_key(rows[-1][:width])

    def _record(self, key: list[Json], cell: object) -> Record:
        return cell_record(self.keys, key, cell, "json" if self.is_json else self.fmt)

    def commit(self, changes: Sequence[Change], through: Record) -> CommitResult:
        result = CommitResult(through.position)
        if not changes:
            return result
        match = " AND ".join(f"{k} = %s" for k in self._quoted)
        current = f"{self._c}::text" if self.is_json else self._c
        new_cell = f"%s::{self.data_type}" if self.is_json else "%s"
        sql = (f"UPDATE {self._t} SET {self._c} = {new_cell} "  # noqa: S608
               f"WHERE {match} AND {current} = %s")
        with self.conn.transaction():
            compare_and_set(self.conn.execute, sql, changes, result)
        return result

    def prepare(self, state: Json = None) -> None:
        return None

    def finish(self) -> None:
        return None

    def put(self, key: str | None, value: Json) -> None:
        """Insert a row (``key`` None) or set the column of the row with that key."""
        cell = value if isinstance(value, str) and not self.is_json else dumps(value)
        new_cell = f"%s::{self.data_type}" if self.is_json else "%s"
        with self.conn.transaction():
            if key is None:
                self.conn.execute(f"INSERT INTO {self._t} ({self._c}) "  # noqa: S608
                                  f"VALUES ({new_cell})", (cell,))
                return
            if len(self.keys) != 1:
                raise ConfigError("put by key needs a single key column")
            column = self._quoted[0]
            updated = self.conn.execute(
                f"UPDATE {self._t} SET {self._c} = {new_cell} WHERE {column} = %s",  # noqa: S608
                (cell, key)).rowcount
            if not updated:
                self.conn.execute(
                    f"INSERT INTO {self._t} ({column}, {self._c}) "  # noqa: S608
                    f"VALUES (%s, {new_cell})", (key, cell))

    def close(self) -> None:
        self.conn.close()
