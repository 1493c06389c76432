"""Shared fixtures.

Vault backends: ``vault_backend`` runs a test once per backend (memory, SQLite in tmp_path,
Redis at 127.0.0.1:6379 under a unique key prefix, PostgreSQL at 127.0.0.1:5432/test in a
unique table). Each is cleaned up afterwards; a server that is not running skips its case.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import secrets
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

import pytest

from sanitizer.keys import KeyRing
from sanitizer.vault import MemoryStore, SealedVault, VaultStore, open_store

REDIS_URL = os.environ.get("SANITIZER_TEST_REDIS", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("SANITIZER_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["memory", "sqlite", "redis", "postgres"]


@dataclass
class VaultBackend:
    """One storage backend for one test: vaults over the same store, raw access for checks."""

    name: str
    url: str
    store: VaultStore
    dump: Callable[[], bytes]
    set_blob: Callable[[str, str, int, bytes], None]
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    @property
    def shared_across_processes(self) -> bool:
        return self.name != "memory"

    def vault(
        self, keyring: KeyRing, *, tenant: str = "default", ttl: timedelta | float | None = None
    ) -> SealedVault:
        """A vault over this test's store (do not close it: the fixture closes the store)."""
        return SealedVault(self.store, keyring, tenant=tenant, ttl=ttl)


def random_keyring(kid: str = "k1") -> KeyRing:
    return KeyRing({kid: secrets.token_bytes(32)}, kid)


@pytest.fixture
def keyring() -> KeyRing:
    return random_keyring()


def _memory() -> VaultBackend:
    store = MemoryStore()

    def dump() -> bytes:
        return repr(store._sessions).encode()

    def set_blob(scope: str, entity: str, number: int, blob: bytes) -> None:
        store._sessions[scope].blobs[entity][number - 1] = blob

    return VaultBackend("memory", "memory://", store, dump, set_blob)


def _sqlite(tmp_path: Path) -> VaultBackend:
    path = tmp_path / "vault" / "tokens.db"
    url = f"sqlite:///{path}"  # an absolute path gives sqlite:////…
    store = open_store(url)

    def dump() -> bytes:
        return b"".join(p.read_bytes() for p in path.parent.iterdir() if p.is_file())

    def set_blob(scope: str, entity: str, number: int, blob: bytes) -> None:
        with sqlite3.connect(path) as conn:
            conn.execute(
                "UPDATE vault_records SET blob = ? WHERE scope = ? AND entity = ? AND number = ?",
                (blob, scope, entity, number),
            )

    return VaultBackend("sqlite", url, store, dump, set_blob)


def unavailable(message: str) -> NoReturn:
    """CI machines run Redis and PostgreSQL: there a missing server is a failure, not a
    reason to skip the tests that need it."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def postgres_connection() -> Any:
    """An autocommit connection to the test database (the caller closes it); without a
    running server the test is skipped (failed on CI)."""
    psycopg = pytest.importorskip("psycopg")
    try:
        return psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5)
    except psycopg.Error:
        unavailable(f"PostgreSQL is not running at {POSTGRES_URL}")


def redis_client() -> Any:
    """A client of the test Redis; without a running server the test is skipped (failed
    on CI)."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError:
        unavailable(f"Redis is not running at {REDIS_URL}")
    return client


def _redis() -> VaultBackend:
    prefix = f"sanitizer-test:{uuid.uuid4().hex}:"
    client = redis_client()
    url = f"{REDIS_URL}?prefix={prefix}"
    store = open_store(url)

    def keys() -> list[bytes]:
        return list(client.scan_iter(match=prefix + "*"))

    def dump() -> bytes:
        out = bytearray()
        for key in keys():
            out += key
            for name, value in client.hgetall(key).items():
                out += name + b"=" + value + b"\n"
        return bytes(out)

    def set_blob(scope: str, entity: str, number: int, blob: bytes) -> None:
        client.hset(prefix + scope, f"r:{entity}:{number}", blob)

    def cleanup() -> None:
        for key in keys():
            client.delete(key)
        client.close()

    return VaultBackend("redis", url, store, dump, set_blob, [cleanup])


def _postgres() -> VaultBackend:
    psycopg = pytest.importorskip("psycopg")
    postgres_connection().close()
    table = f"vault_test_{uuid.uuid4().hex[:12]}"
    url = f"{POSTGRES_URL}?table={table}"
    store = open_store(url)

    def dump() -> bytes:
        out = bytearray()
        with psycopg.connect(POSTGRES_URL) as conn:
            for name in (table, f"{table}_sessions"):
                for row in conn.execute(f"SELECT * FROM {name}"):  # noqa: S608 - test table
                    for cell in row:
                        out += cell if isinstance(cell, bytes) else str(cell).encode()
        return bytes(out)

    def set_blob(scope: str, entity: str, number: int, blob: bytes) -> None:
        with psycopg.connect(POSTGRES_URL) as conn:
            conn.execute(
                f"UPDATE {table} SET blob = %s"  # noqa: S608 - test table
                " WHERE scope = %s AND entity = %s AND number = %s",
                (blob, scope, entity, number),
            )

    def cleanup() -> None:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute(f"DROP TABLE IF EXISTS {table}_sessions")

    return VaultBackend("postgres", url, store, dump, set_blob, [cleanup])


@pytest.fixture(params=BACKENDS)
def vault_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VaultBackend]:
    name = request.param
    backend = {
        "memory": _memory,
        "sqlite": lambda: _sqlite(tmp_path),
        "redis": _redis,
        "postgres": _postgres,
    }[name]()
    try:
        yield backend
    finally:
        backend.store.close()
        for step in backend.cleanup:
            step()


# No plaintext in the sanitizer's own logs: during every test the ``sanitizer`` loggers run
# at DEBUG and each record they emit is scanned by the rules; a secret or personal value in
# one fails the test (see tests/test_no_plaintext.py for errors and the middleware).

class _Collect(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@functools.cache
def _log_scanner() -> Callable[[str], list[str]]:
    from sanitizer.engine import Sanitizer

    scanner = Sanitizer(ner=False, known_values_from_env=False)

    def scan(text: str) -> list[str]:
        try:  # a JSON record (the audit log's) is scanned as the document it is
            data = json.loads(text)
        except ValueError:
            data = text
        return [f.entity for f in scanner.detect(data) if f.category != "low_risk"]

    return scan


@pytest.fixture(autouse=True)
def _sanitizer_logs_hold_no_values() -> Iterator[None]:
    records: list[logging.LogRecord] = []
    handler = _Collect(records)
    logger = logging.getLogger("sanitizer")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    for record in records:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        found = _log_scanner()(text)
        assert not found, f"log record of {record.name!r} holds {sorted(set(found))}"
