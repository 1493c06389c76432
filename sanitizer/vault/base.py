"""The vault interface, and the sealing layer every backend shares.

``Vault`` is what the engine uses: stable numbers for (session, entity, value), reveal, forget.
``SealedVault`` implements it once, with all the cryptography, on top of a ``VaultStore``: a
small storage protocol that only ever sees opaque bytes (random salts, HMAC lookup keys and
AES-GCM blobs), never a value or a key.

Per session the store keeps a random 32-byte salt, the key id the session was created with
and a short key check. From the master key and that salt come two session keys (HKDF):

* the lookup key: ``lookup = HMAC(lookup_key, entity, value)`` finds an existing number
  without storing the value or a plain hash of it (a guessable value cannot be confirmed
  without the master key);
* the seal key: ``blob = version | kid | nonce | AES-GCM(value, aad)`` with
  ``aad = tenant | session | entity | number | kid``, so a blob moved to another row, session
  or tenant fails authentication.

``forget(session)`` deletes the salt and the records; without the salt neither key can be
derived again. Expired sessions reveal nothing and are purged lazily.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, Protocol, TypeVar, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import ConfigError, VaultError
from ..keys import KeyRing, length_prefixed

BLOB_VERSION = 1
SALT_BYTES = 32
NONCE_BYTES = 12
CHECK_BYTES = 16
MAX_SESSION_CHARS = 512
_ENTITY = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_TENANT = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_ATTEMPTS = 20
_PURGE_EVERY = 60.0


@runtime_checkable
class Vault(Protocol):
    """Reversible, session-scoped tokens: the only thing the engine needs from a vault."""

    def tokenize(self, session: str, entity: str, value: str) -> int:
        """The stable number (≥ 1) of ``value`` for ``entity`` in ``session``."""
        ...

    def reveal(self, session: str, entity: str, number: int) -> str | None:
        """The value behind a number, or None when unknown, expired or forgotten."""
        ...

    def forget(self, session: str) -> None:
        """Crypto-shred a session: its salt and records are deleted."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class SessionMeta:
    """What a store keeps per session: random salt, key id of the lookup key, key check."""

    salt: bytes
    kid: str
    check: bytes

    def __repr__(self) -> str:
        return f"SessionMeta(kid={self.kid!r})"


class VaultStore(Protocol):
    """Storage of sealed records. ``scope`` is ``tenant/session``; all bytes are opaque.

    Implementations must make ``open_session`` and ``allocate`` atomic across threads and
    processes sharing the store, and treat a session whose expiry passed as absent.
    """

    def get_session(self, scope: str) -> SessionMeta | None:
        """The session's metadata, or None when absent or expired."""
        ...

    def open_session(self, scope: str, new: SessionMeta, ttl: float | None) -> SessionMeta:
        """Get-or-create: the existing metadata, else store ``new``; refreshes the expiry."""
        ...

    def allocate(
        self,
        scope: str,
        meta: SessionMeta,
        entity: str,
        lookup: bytes,
        seal: Callable[[int], bytes],
        ttl: float | None,
    ) -> int | None:
        """Atomic get-or-create of the number of ``lookup``; ``seal(n)`` makes the new blob.

        Returns None when the session is gone or its salt differs from ``meta.salt``
        (forgotten or recreated concurrently): the caller starts over.
        """
        ...

    def load(self, scope: str, entity: str, number: int) -> tuple[SessionMeta, bytes] | None:
        """The session metadata and blob of one record, or None."""
        ...

    def delete_session(self, scope: str) -> None: ...

    def expire(self, now: float | None = None) -> int:
        """Purge expired sessions now; returns how many were removed (if known)."""
        ...

    def close(self) -> None: ...


def ttl_seconds(ttl: timedelta | float | None) -> float | None:
    if ttl is None:
        return None
    seconds = ttl.total_seconds() if isinstance(ttl, timedelta) else float(ttl)
    if seconds <= 0:
        raise ConfigError("a vault session TTL must be positive")
    return seconds


def expiry(ttl: float | None, now: float | None = None) -> float | None:
    return None if ttl is None else (time.time() if now is None else now) + ttl


def alive(expires_at: float | None, now: float | None = None) -> bool:
    return expires_at is None or expires_at > (time.time() if now is None else now)


def needs_refresh(expires_at: float | None, ttl: float | None) -> bool:
    """A sliding expiry is pushed forward at most every tenth of the TTL (saves writes)."""
    if ttl is None:
        return False
    return expires_at is None or expires_at - time.time() < ttl * 0.9


C = TypeVar("C")


class ConnectionPool(Generic[C]):
    """A tiny thread-safe pool: a connection serves one thread at a time; broken ones go."""

    def __init__(self, connect: Callable[[], C], close: Callable[[C], None], size: int = 8):
        self._connect, self._close, self._size = connect, close, size
        self._idle: list[C] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[C]:
        with self._lock:
            if self._closed:
                raise VaultError("the vault is closed")
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._connect()
        try:
            yield conn
        except BaseException:
            self._discard(conn)
            raise
        with self._lock:
            if not self._closed and len(self._idle) < self._size:
                self._idle.append(conn)
                return
        self._discard(conn)

    def _discard(self, conn: C) -> None:
        with suppress(Exception):  # closing a broken connection may fail; nothing to keep
            self._close(conn)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            self._discard(conn)


class SealedVault:
    """A :class:`Vault` over any :class:`VaultStore`: HMAC lookups, AES-GCM sealed values."""

    def __init__(
        self,
        store: VaultStore,
        keyring: KeyRing,
        tenant: str = "default",
        ttl: timedelta | float | None = None,
    ) -> None:
        if not _TENANT.fullmatch(tenant):
            raise ConfigError("a tenant name is 1-64 characters of A-Z a-z 0-9 _ . -")
        self.store = store
        self._keyring = keyring
        self.tenant = tenant
        self.ttl = ttl_seconds(ttl)
        self._keys: dict[tuple[str, str, str, bytes], bytes] = {}
        self._sessions: dict[str, SessionMeta] = {}  # verified metadata; stores re-check salt
        self._lock = threading.Lock()
        self._last_purge = -_PURGE_EVERY

    def __repr__(self) -> str:
        return f"SealedVault(store={self.store!r}, tenant={self.tenant!r}, ttl={self.ttl!r})"

    # Vault ----------------------------------------------------------------------------------
    def tokenize(self, session: str, entity: str, value: str) -> int:
        scope = self._scope(session)
        _check_entity(entity)
        for _ in range(_ATTEMPTS):
            meta = self._sessions.get(scope) or self._session(scope, session)
            lookup_key = self._key(meta.kid, "lookup", session, meta.salt)
            lookup = hmac.digest(lookup_key, length_prefixed(entity, value), hashlib.sha256)

            def seal(number: int, meta: SessionMeta = meta) -> bytes:
                return self._seal(session, entity, number, value, meta)

            number = self.store.allocate(scope, meta, entity, lookup, seal, self.ttl)
            if number is not None:
                return number
            self._sessions.pop(scope, None)  # forgotten or recreated meanwhile: look again
        raise VaultError("the vault session kept changing while tokenizing (concurrent forget?)")

    def reveal(self, session: str, entity: str, number: int) -> str | None:
        scope = self._scope(session)
        if not _ENTITY.fullmatch(entity) or not isinstance(number, int) or number < 1:
            return None
        found = self.store.load(scope, entity, number)
        if found is None:
            return None
        meta, blob = found
        return self._open(session, entity, number, blob, meta)

    def forget(self, session: str) -> None:
        scope = self._scope(session)
        self.store.delete_session(scope)
        self._sessions.pop(scope, None)
        with self._lock:
            for cache_key in [k for k in self._keys if k[2] == session]:
                del self._keys[cache_key]

    def close(self) -> None:
        with self._lock:
            self._keys.clear()
            self._sessions.clear()
        self.store.close()

    def __enter__(self) -> SealedVault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def expire(self) -> int:
        """Purge expired sessions now (reads already ignore them)."""
        return self.store.expire()

    # internals ------------------------------------------------------------------------------
    def _scope(self, session: str) -> str:
        if not isinstance(session, str) or not session or len(session) > MAX_SESSION_CHARS:
            raise VaultError(f"a session id is a non-empty string of at most {MAX_SESSION_CHARS}")
        return f"{self.tenant}/{session}"

    def _key(self, kid: str, purpose: str, session: str, salt: bytes) -> bytes:
        cache_key = (kid, purpose, session, salt)
        key = self._keys.get(cache_key)
        if key is None:
            if kid not in self._keyring:
                raise VaultError(f"vault data uses key id {kid!r}, which is not in the key ring")
            key = self._keyring.session_key(kid, self.tenant, session, salt, purpose)
            with self._lock:
                if len(self._keys) >= 4096:
                    self._keys.clear()
                self._keys[cache_key] = key
        return key

    def _check_value(self, kid: str, session: str, salt: bytes) -> bytes:
        lookup_key = self._key(kid, "lookup", session, salt)
        return hmac.digest(lookup_key, b"key-check", hashlib.sha256)[:CHECK_BYTES]

    def _session(self, scope: str, session: str) -> SessionMeta:
        meta = self.store.get_session(scope)
        if meta is None:
            self._purge_expired()
            kid = self._keyring.primary_kid
            salt = os.urandom(SALT_BYTES)
            new = SessionMeta(salt, kid, self._check_value(kid, session, salt))
            meta = self.store.open_session(scope, new, self.ttl)
        if not hmac.compare_digest(meta.check, self._check_value(meta.kid, session, meta.salt)):
            raise VaultError(
                f"the master key for key id {meta.kid!r} does not match the one this vault "
                "session was created with"
            )
        with self._lock:
            if len(self._sessions) >= 4096:
                self._sessions.clear()
            self._sessions[scope] = meta
        return meta

    def _purge_expired(self) -> None:
        """Lazy purge: when a session is created, at most once a minute per vault object."""
        if self.ttl is None or time.monotonic() - self._last_purge < _PURGE_EVERY:
            return
        self._last_purge = time.monotonic()
        self.store.expire()

    def _aad(self, session: str, entity: str, number: int, kid: str) -> bytes:
        return length_prefixed("vault/v1", self.tenant, session, entity, str(number), kid)

    def _seal(self, session: str, entity: str, number: int, value: str, meta: SessionMeta) -> bytes:
        kid = self._keyring.primary_kid
        key = self._key(kid, "seal", session, meta.salt)
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(key).encrypt(
            nonce, value.encode("utf-8"), self._aad(session, entity, number, kid)
        )
        kid_raw = kid.encode("ascii")
        return bytes([BLOB_VERSION, len(kid_raw)]) + kid_raw + nonce + sealed

    def _open(self, session: str, entity: str, number: int, blob: bytes, meta: SessionMeta) -> str:
        bad = VaultError("a vault record failed authentication (wrong master key or tampered data)")
        if len(blob) < 2 or blob[0] != BLOB_VERSION:
            raise bad
        end = 2 + blob[1]
        try:
            kid = blob[2:end].decode("ascii")
        except UnicodeDecodeError:
            raise bad from None
        nonce, sealed = blob[end : end + NONCE_BYTES], blob[end + NONCE_BYTES :]
        if len(nonce) != NONCE_BYTES or not _TENANT.fullmatch(kid):
            raise bad
        if kid not in self._keyring:
            raise VaultError(f"a vault record uses key id {kid!r}, which is not in the key ring")
        key = self._key(kid, "seal", session, meta.salt)
        try:
            plain = AESGCM(key).decrypt(nonce, sealed, self._aad(session, entity, number, kid))
        except InvalidTag:
            raise bad from None
        return plain.decode("utf-8")


def _check_entity(entity: str) -> None:
    if not isinstance(entity, str) or not _ENTITY.fullmatch(entity):
        raise VaultError("an entity name is 1-64 characters of A-Z a-z 0-9 _ . -")
