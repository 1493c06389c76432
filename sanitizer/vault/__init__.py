"""Session token vaults: one interface, four backends, chosen by URL.

``open_vault(url, keyring)`` understands::

    memory://                              in-process (demos, tests)
    sqlite:///relative/path.db             embedded default (four slashes: absolute path)
    redis://host:port/db?prefix=…          Redis (also rediss://)
    postgresql://user@host:port/db?table=… PostgreSQL (also postgres://)

Backends load lazily: importing this package pulls in neither redis nor psycopg.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import unquote, urlsplit

from ..errors import ConfigError
from ..keys import KeyRing
from .base import SealedVault, SessionMeta, Vault, VaultStore
from .memory import MemoryStore

__all__ = [
    "MemoryStore",
    "SealedVault",
    "SessionMeta",
    "Vault",
    "VaultStore",
    "open_store",
    "open_vault",
]


def open_store(url: str) -> VaultStore:
    """The storage backend named by ``url`` (no keys involved)."""
    scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    if scheme == "memory":
        return MemoryStore()
    if scheme == "sqlite":
        from .sqlite import SqliteStore

        path = unquote(url.split("://", 1)[1])
        if not path.startswith("/") or path == "/":
            raise ConfigError("a SQLite vault URL is sqlite:///relative/path or sqlite:////abs/path")
        return SqliteStore(path[1:])
    if scheme in ("redis", "rediss", "unix"):
        from .redis import RedisStore

        return RedisStore(url)
    if scheme in ("postgresql", "postgres"):
        from .postgres import PostgresStore

        return PostgresStore(url)
    shown = scheme or "(none)"
    raise ConfigError(
        f"unknown vault URL scheme {shown!r}: use memory://, sqlite:///path, redis://… "
        "or postgresql://…"
    )


def open_vault(
    url: str,
    keyring: KeyRing,
    tenant: str = "default",
    ttl: timedelta | float | None = None,
) -> SealedVault:
    """A :class:`Vault` on the backend named by ``url``; unreachable backends raise VaultError."""
    return SealedVault(open_store(url), keyring, tenant=tenant, ttl=ttl)
