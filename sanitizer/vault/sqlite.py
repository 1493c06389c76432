"""SQLite store: the embedded default, one file, safe across threads and processes.

WAL journal, ``BEGIN IMMEDIATE`` write transactions (one writer at a time, readers never
block) and a busy timeout. ``secure_delete`` overwrites deleted rows and ``forget``
checkpoints and truncates the WAL, so a copy of the file taken after ``forget`` holds no
trace of the session's salt or blobs. The file is created readable by its owner only.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import VaultError
from .base import ConnectionPool, SessionMeta, alive, expiry, needs_refresh

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vault_sessions (
    scope TEXT PRIMARY KEY,
    salt BLOB NOT NULL,
    kid TEXT NOT NULL,
    key_check BLOB NOT NULL,
    expires_at REAL
);
CREATE TABLE IF NOT EXISTS vault_records (
    scope TEXT NOT NULL REFERENCES vault_sessions(scope) ON DELETE CASCADE,
    entity TEXT NOT NULL,
    number INTEGER NOT NULL,
    lookup BLOB NOT NULL,
    blob BLOB NOT NULL,
    PRIMARY KEY (scope, entity, number),
    UNIQUE (lookup, scope, entity)
);
CREATE INDEX IF NOT EXISTS vault_sessions_expiry ON vault_sessions(expires_at);
"""


class SqliteStore:
    """:class:`~sanitizer.vault.base.VaultStore` in one SQLite file."""

    def __init__(self, path: str | os.PathLike[str], busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self._timeout = busy_timeout
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        except OSError as exc:
            reason = exc.strerror
            raise VaultError(f"cannot create the SQLite vault {self.path} ({reason})") from None
        self._pool: ConnectionPool[sqlite3.Connection] = ConnectionPool(self._connect, _close)
        with self._read() as conn:
            conn.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise VaultError(f"cannot open the SQLite vault {self.path} ({_kind(exc)})") from None
        return conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except sqlite3.Error as exc:
            raise VaultError(f"SQLite vault operation failed ({_kind(exc)})") from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back on error."""
        try:
            with self._pool.connection() as conn:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise VaultError(f"SQLite vault operation failed ({_kind(exc)})") from None

    @staticmethod
    def _meta(conn: sqlite3.Connection, scope: str) -> SessionMeta | None:
        row = conn.execute(
            "SELECT salt, kid, key_check, expires_at FROM vault_sessions WHERE scope = ?",
            (scope,),
        ).fetchone()
        if row is None or not alive(row[3]):
            return None
        return SessionMeta(bytes(row[0]), str(row[1]), bytes(row[2]))

    def get_session(self, scope: str) -> SessionMeta | None:
        with self._read() as conn:
            return self._meta(conn, scope)

    def open_session(self, scope: str, new: SessionMeta, ttl: float | None) -> SessionMeta:
        with self._write() as conn:
            conn.execute(
                "DELETE FROM vault_sessions WHERE scope = ? AND expires_at <= ?",
                (scope, time.time()),
            )
            meta = self._meta(conn, scope)
            if meta is None:
                conn.execute(
                    "INSERT INTO vault_sessions (scope, salt, kid, key_check, expires_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (scope, new.salt, new.kid, new.check, expiry(ttl)),
                )
                return new
            if ttl is not None:
                conn.execute(
                    "UPDATE vault_sessions SET expires_at = ? WHERE scope = ?", (expiry(ttl), scope)
                )
            return meta

    def allocate(
        self,
        scope: str,
        meta: SessionMeta,
        entity: str,
        lookup: bytes,
        seal: Callable[[int], bytes],
        ttl: float | None,
    ) -> int | None:
        with self._read() as conn:  # fast path: a known value needs no write lock
            row = conn.execute(
                "SELECT s.salt, s.expires_at, r.number FROM vault_sessions s"
                " LEFT JOIN vault_records r"
                " ON r.scope = s.scope AND r.entity = ? AND r.lookup = ?"
                " WHERE s.scope = ?",
                (entity, lookup, scope),
            ).fetchone()
        if row is None or bytes(row[0]) != meta.salt or not alive(row[1]):
            return None
        if row[2] is not None and not needs_refresh(row[1], ttl):
            return int(row[2])
        with self._write() as conn:
            current = self._meta(conn, scope)
            if current is None or current.salt != meta.salt:
                return None
            if ttl is not None:
                conn.execute(
                    "UPDATE vault_sessions SET expires_at = ? WHERE scope = ?", (expiry(ttl), scope)
                )
            row = conn.execute(
                "SELECT number FROM vault_records WHERE scope = ? AND entity = ? AND lookup = ?",
                (scope, entity, lookup),
            ).fetchone()
            if row is not None:
                return int(row[0])
            (number,) = conn.execute(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM vault_records"
                " WHERE scope = ? AND entity = ?",
                (scope, entity),
            ).fetchone()
            conn.execute(
                "INSERT INTO vault_records (scope, entity, number, lookup, blob)"
                " VALUES (?, ?, ?, ?, ?)",
                (scope, entity, number, lookup, seal(int(number))),
            )
            return int(number)

    def load(self, scope: str, entity: str, number: int) -> tuple[SessionMeta, bytes] | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT s.salt, s.kid, s.key_check, s.expires_at, r.blob"
                " FROM vault_records r JOIN vault_sessions s ON s.scope = r.scope"
                " WHERE r.scope = ? AND r.entity = ? AND r.number = ?",
                (scope, entity, number),
            ).fetchone()
        if row is None or not alive(row[3]):
            return None
        return SessionMeta(bytes(row[0]), str(row[1]), bytes(row[2])), bytes(row[4])

    def delete_session(self, scope: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM vault_records WHERE scope = ?", (scope,))
            conn.execute("DELETE FROM vault_sessions WHERE scope = ?", (scope,))
        self._checkpoint()

    def expire(self, now: float | None = None) -> int:
        with self._write() as conn:
            cursor = conn.execute(
                "DELETE FROM vault_sessions WHERE expires_at <= ?",
                (time.time() if now is None else now,),
            )
            removed = cursor.rowcount
        if removed:
            self._checkpoint()
        return removed

    def _checkpoint(self) -> None:
        """Copy the WAL into the file and truncate it: old page images leave the WAL."""
        with self._read() as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()

    def close(self) -> None:
        self._pool.close()


def _close(conn: sqlite3.Connection) -> None:
    conn.close()


def _kind(exc: sqlite3.Error) -> str:
    """The error class and SQLite's code name: never the message (it may quote a statement)."""
    return getattr(exc, "sqlite_errorname", None) or type(exc).__name__
