"""In-process store: dicts behind one lock. Nothing survives the process (demos, tests)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .base import SessionMeta, alive, expiry


@dataclass(slots=True)
class _Session:
    meta: SessionMeta
    expires_at: float | None
    lookups: dict[tuple[str, bytes], int] = field(default_factory=dict)
    blobs: dict[str, list[bytes]] = field(default_factory=dict)


class MemoryStore:
    """Thread-safe in-memory :class:`~sanitizer.vault.base.VaultStore`."""

    def __init__(self) -> None:
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "MemoryStore()"

    def _live(self, scope: str) -> _Session | None:
        entry = self._sessions.get(scope)
        if entry is not None and not alive(entry.expires_at):
            del self._sessions[scope]
            return None
        return entry

    def get_session(self, scope: str) -> SessionMeta | None:
        with self._lock:
            entry = self._live(scope)
            return None if entry is None else entry.meta

    def open_session(self, scope: str, new: SessionMeta, ttl: float | None) -> SessionMeta:
        with self._lock:
            entry = self._live(scope)
            if entry is None:
                entry = self._sessions[scope] = _Session(new, expiry(ttl))
            elif ttl is not None:
                entry.expires_at = expiry(ttl)
            return entry.meta

    def allocate(
        self,
        scope: str,
        meta: SessionMeta,
        entity: str,
        lookup: bytes,
        seal: Callable[[int], bytes],
        ttl: float | None,
    ) -> int | None:
        with self._lock:
            entry = self._live(scope)
            if entry is None or entry.meta.salt != meta.salt:
                return None
            if ttl is not None:
                entry.expires_at = expiry(ttl)
            number = entry.lookups.get((entity, lookup))
            if number is None:
                blobs = entry.blobs.setdefault(entity, [])
                number = len(blobs) + 1
                blobs.append(seal(number))
                entry.lookups[(entity, lookup)] = number
            return number

    def load(self, scope: str, entity: str, number: int) -> tuple[SessionMeta, bytes] | None:
        with self._lock:
            entry = self._live(scope)
            blobs = None if entry is None else entry.blobs.get(entity)
            if entry is None or blobs is None or not 1 <= number <= len(blobs):
                return None
            return entry.meta, blobs[number - 1]

    def delete_session(self, scope: str) -> None:
        with self._lock:
            self._sessions.pop(scope, None)

    def expire(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        with self._lock:
            dead = [s for s, e in self._sessions.items() if not alive(e.expires_at, now)]
            for scope in dead:
                del self._sessions[scope]
            return len(dead)

    def close(self) -> None:
        """Nothing to release; the data lives as long as this object."""
