"""The memory-write gate: new memory never holds plaintext secrets.

    from sanitizer.stores.gate import GatedStore, open_gated
    memory = open_gated(StoreSpec("sqlite:///agent.db", table="memories", column="content"),
                        session="agent-7")
    memory.put("42", {"note": "Ann's card is 4111 1111 1111 1111"})   # stored sanitized

Every ``put`` goes through :func:`sanitizer.adapters.litellm_sdk.sanitize_memory_write`
(surface ``memory_write``, destination ``memory``) before it reaches the store; a record
the policy blocks raises :class:`~sanitizer.errors.Blocked` and nothing is written. Keys
are addresses and are stored as given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import StoreSpec, open_store
from .base import Json, MemoryWriter

if TYPE_CHECKING:
    from ..engine import Sanitizer


class GatedStore:
    """Wraps any :class:`MemoryWriter` (every store kind of this package is one)."""

    def __init__(self, store: MemoryWriter, *, sanitizer: Sanitizer | None = None,
                 session: str = "memory") -> None:
        if sanitizer is None:
            from ..engine import Sanitizer

            sanitizer = Sanitizer()
        self.store = store
        self.sanitizer = sanitizer
        self.session = session

    def sanitize(self, value: Json) -> Json:
        from ..adapters.litellm_sdk import sanitize_memory_write

        return sanitize_memory_write(value, sanitizer=self.sanitizer, session=self.session)

    def put(self, key: str | None, value: Json) -> None:
        self.store.put(key, self.sanitize(value))

    def close(self) -> None:
        close = getattr(self.store, "close", None)
        if callable(close):
            close()


def open_gated(spec: StoreSpec, *, sanitizer: Sanitizer | None = None,
               session: str = "memory") -> GatedStore:
    """A gated writer on the store named by ``spec``."""
    return GatedStore(open_store(spec), sanitizer=sanitizer, session=session)
