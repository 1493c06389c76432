"""PostgreSQL store (psycopg 3): two tables, created if missing, row locks for allocation.

``<table>_sessions`` holds one row per session (salt, key id, key check, expiry);
``<table>`` holds the records, deleted with their session (``ON DELETE CASCADE``).
Allocation locks the session row (``SELECT … FOR UPDATE``) so concurrent writers of one
session take turns; other sessions proceed in parallel. Choose the table with
``postgresql://…?table=sanitizer_vault``.

Deleted rows stay on disk as dead tuples until VACUUM: ``forget`` guarantees that no
logical copy (dump, replica, query) taken afterwards can recover the session; a raw copy of
the data directory taken before VACUUM may still hold the salt.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, LiteralString
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import ConfigError, VaultError
from .base import ConnectionPool, SessionMeta, alive, expiry, needs_refresh

if TYPE_CHECKING:
    import psycopg

DEFAULT_TABLE = "sanitizer_vault"
_TABLE = re.compile(r"[a-z_][a-z0-9_]{0,48}")


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class PostgresStore:
    """:class:`~sanitizer.vault.base.VaultStore` in PostgreSQL."""

    def __init__(self, url: str, table: str | None = None, pool_size: int = 8) -> None:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        self.table = table or query.pop("table", DEFAULT_TABLE)
        if not _TABLE.fullmatch(self.table):
            raise ConfigError("a vault table name is 1-49 characters of a-z 0-9 _")
        self._conninfo = urlunsplit(parts._replace(query=urlencode(query)))
        self._where = _redacted(url)
        self._records, self._sessions = self.table, f"{self.table}_sessions"
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            self._connect, _close, pool_size
        )
        with self._tx() as conn:
            self._exec(conn, "SELECT pg_advisory_xact_lock(hashtext(%s))", (self._sessions,))
            self._exec(
                conn,
                "CREATE TABLE IF NOT EXISTS {s} ("
                " scope text PRIMARY KEY, salt bytea NOT NULL, kid text NOT NULL,"
                " key_check bytea NOT NULL, expires_at double precision)",
            )
            self._exec(
                conn,
                "CREATE TABLE IF NOT EXISTS {r} ("
                " scope text NOT NULL REFERENCES {s}(scope) ON DELETE CASCADE,"
                " entity text NOT NULL, number integer NOT NULL, lookup bytea NOT NULL,"
                " blob bytea NOT NULL, PRIMARY KEY (scope, entity, number),"
                " UNIQUE (lookup, scope, entity))",
            )

    def __repr__(self) -> str:
        return f"PostgresStore({self._where!r}, table={self.table!r})"

    def _exec(
        self, conn: psycopg.Connection[Any], template: LiteralString, params: tuple[Any, ...] = ()
    ) -> psycopg.Cursor[Any]:
        """Run a statement whose ``{s}``/``{r}`` are the (validated, quoted) table names."""
        from psycopg import sql

        query = sql.SQL(template).format(
            s=sql.Identifier(self._sessions), r=sql.Identifier(self._records)
        )
        return conn.execute(query, params)

    def _connect(self) -> psycopg.Connection[Any]:
        import psycopg

        try:
            # Bounded everywhere: connecting, a statement (server side: lock waits, slow
            # queries) and a peer that stops acknowledging (tcp_user_timeout, keepalives).
            # A URL's own settings win over these defaults.
            from psycopg.conninfo import conninfo_to_dict, make_conninfo

            bounds: dict[str, Any] = {
                "connect_timeout": 10, "options": "-c statement_timeout=10000",
                "tcp_user_timeout": 10000, "keepalives": 1, "keepalives_idle": 10,
                "keepalives_interval": 3, "keepalives_count": 3}
            given = conninfo_to_dict(self._conninfo)
            conninfo = make_conninfo(self._conninfo,
                                     **{k: v for k, v in bounds.items() if k not in given})
            return psycopg.connect(conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise VaultError(
                f"cannot reach the PostgreSQL vault at {self._where} ({type(exc).__name__})"
            ) from None

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Connection[Any]]:
        import psycopg

        try:
            with self._pool.connection() as conn, conn.transaction():
                yield conn
        except psycopg.Error as exc:
            raise VaultError(f"PostgreSQL vault operation failed ({type(exc).__name__})") from None

    @contextmanager
    def _query(self) -> Iterator[psycopg.Connection[Any]]:
        """A single statement in autocommit: one round trip, no transaction."""
        import psycopg

        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise VaultError(f"PostgreSQL vault operation failed ({type(exc).__name__})") from None

    def _meta(
        self, conn: psycopg.Connection[Any], scope: str, lock: bool = False
    ) -> SessionMeta | None:
        template: LiteralString = (
            "SELECT salt, kid, key_check, expires_at FROM {s} WHERE scope = %s FOR UPDATE"
            if lock
            else "SELECT salt, kid, key_check, expires_at FROM {s} WHERE scope = %s"
        )
        row = self._exec(conn, template, (scope,)).fetchone()
        if row is None or not alive(row[3]):
            return None
        return SessionMeta(bytes(row[0]), str(row[1]), bytes(row[2]))

    def get_session(self, scope: str) -> SessionMeta | None:
        with self._query() as conn:
            return self._meta(conn, scope)

    def open_session(self, scope: str, new: SessionMeta, ttl: float | None) -> SessionMeta:
        with self._tx() as conn:
            self._exec(
                conn,
                "DELETE FROM {s} WHERE scope = %s AND expires_at <= %s",
                (scope, time.time()),
            )
            row = self._exec(
                conn,
                "INSERT INTO {s} (scope, salt, kid, key_check, expires_at)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (scope) DO UPDATE SET expires_at ="
                " COALESCE(EXCLUDED.expires_at, {s}.expires_at)"
                " RETURNING salt, kid, key_check",
                (scope, new.salt, new.kid, new.check, expiry(ttl)),
            ).fetchone()
        if row is None:
            raise VaultError("the PostgreSQL vault lost a session while creating it")
        return SessionMeta(bytes(row[0]), str(row[1]), bytes(row[2]))

    def allocate(
        self,
        scope: str,
        meta: SessionMeta,
        entity: str,
        lookup: bytes,
        seal: Callable[[int], bytes],
        ttl: float | None,
    ) -> int | None:
        with self._query() as conn:  # fast path: a known value needs no lock and no commit
            row = self._exec(
                conn,
                "SELECT s.salt, s.expires_at, r.number FROM {s} s LEFT JOIN {r} r"
                " ON r.scope = s.scope AND r.entity = %s AND r.lookup = %s WHERE s.scope = %s",
                (entity, lookup, scope),
            ).fetchone()
        if row is None or bytes(row[0]) != meta.salt or not alive(row[1]):
            return None
        if row[2] is not None and not needs_refresh(row[1], ttl):
            return int(row[2])
        with self._tx() as conn:
            current = self._meta(conn, scope, lock=True)
            if current is None or current.salt != meta.salt:
                return None
            if ttl is not None:
                self._exec(
                    conn,
                    "UPDATE {s} SET expires_at = %s WHERE scope = %s",
                    (expiry(ttl), scope),
                )
            row = self._exec(
                conn,
                "SELECT number FROM {r} WHERE scope = %s AND entity = %s AND lookup = %s",
                (scope, entity, lookup),
            ).fetchone()
            if row is not None:
                return int(row[0])
            found = self._exec(
                conn,
                "SELECT COALESCE(MAX(number), 0) + 1 FROM {r} WHERE scope = %s AND entity = %s",
                (scope, entity),
            ).fetchone()
            number = int(found[0]) if found else 1
            self._exec(
                conn,
                "INSERT INTO {r} (scope, entity, number, lookup, blob) VALUES (%s, %s, %s, %s, %s)",
                (scope, entity, number, lookup, seal(number)),
            )
            return number

    def load(self, scope: str, entity: str, number: int) -> tuple[SessionMeta, bytes] | None:
        with self._query() as conn:
            row = self._exec(
                conn,
                "SELECT s.salt, s.kid, s.key_check, s.expires_at, r.blob"
                " FROM {r} r JOIN {s} s ON s.scope = r.scope"
                " WHERE r.scope = %s AND r.entity = %s AND r.number = %s",
                (scope, entity, number),
            ).fetchone()
        if row is None or not alive(row[3]):
            return None
        return SessionMeta(bytes(row[0]), str(row[1]), bytes(row[2])), bytes(row[4])

    def delete_session(self, scope: str) -> None:
        with self._tx() as conn:
            self._exec(conn, "DELETE FROM {s} WHERE scope = %s", (scope,))

    def expire(self, now: float | None = None) -> int:
        with self._tx() as conn:
            cursor = self._exec(
                conn,
                "DELETE FROM {s} WHERE expires_at <= %s",
                (time.time() if now is None else now,),
            )
            return cursor.rowcount

    def drop(self) -> None:
        """Drop both tables (tests, teardown of a deployment)."""
        with self._tx() as conn:
            self._exec(conn, "DROP TABLE IF EXISTS {r}")
            self._exec(conn, "DROP TABLE IF EXISTS {s}")

    def close(self) -> None:
        self._pool.close()


def _close(conn: psycopg.Connection[Any]) -> None:
    conn.close()
