"""Redis store: one hash per session, atomic allocation in Lua, TTL as key expiry.

Hash fields: ``salt``, ``kid``, ``check``; ``c:<entity>`` the last number;
``l:<entity>:<lookup hex>`` → number; ``r:<entity>:<number>`` → sealed blob. One key per
session makes ``forget`` a single ``DEL`` and expiry a single ``PEXPIRE``.

Allocation is optimistic: a script returns the existing number or the current counter; the
client seals the value for counter + 1 and a second script writes it only if the counter has
not moved (else it retries). The sealing needs the number (it is in the associated data), and
the master key never goes to Redis, so the sealing cannot run inside the script.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import ConfigError, VaultError
from .base import SessionMeta

if TYPE_CHECKING:
    import redis as redis_lib

DEFAULT_PREFIX = "sanitizer:vault:"
# A stalled server must fail the operation (VaultError: fail closed), never hang it; the URL
# may override either (``?socket_timeout=…&socket_connect_timeout=…``).
DEFAULT_SOCKET_TIMEOUT = 10.0

_OPEN = """
if redis.call('HSETNX', KEYS[1], 'salt', ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'kid', ARGV[2], 'check', ARGV[3])
end
if ARGV[4] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return redis.call('HMGET', KEYS[1], 'salt', 'kid', 'check')
"""

# ARGV: salt, lookup field, counter field, ttl ms or '', expected counter or '',
#       record field prefix, blob
_ALLOCATE = """
if redis.call('HGET', KEYS[1], 'salt') ~= ARGV[1] then return {-1, 0} end
if ARGV[4] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
local n = redis.call('HGET', KEYS[1], ARGV[2])
if n then return {1, tonumber(n)} end
local c = tonumber(redis.call('HGET', KEYS[1], ARGV[3]) or '0')
if ARGV[5] == '' or tonumber(ARGV[5]) ~= c then return {0, c} end
local nn = c + 1
redis.call('HSET', KEYS[1], ARGV[3], nn, ARGV[2], nn, ARGV[6] .. nn, ARGV[7])
return {1, nn}
"""

_MAX_RETRIES = 10_000


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class RedisStore:
    """:class:`~sanitizer.vault.base.VaultStore` in Redis (``redis://host:port/db?prefix=…``)."""

    def __init__(self, url: str, prefix: str | None = None) -> None:
        import redis as redis_lib

        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        self.prefix = prefix or query.pop("prefix", DEFAULT_PREFIX)
        clean = urlunsplit(parts._replace(query=urlencode(query)))
        self._where = _redacted(url)
        try:
            self._client: redis_lib.Redis = redis_lib.Redis.from_url(
                clean, socket_timeout=DEFAULT_SOCKET_TIMEOUT,
                socket_connect_timeout=DEFAULT_SOCKET_TIMEOUT)
            self._client.ping()
        except ValueError:
            raise ConfigError(f"invalid Redis vault URL {self._where}") from None
        except redis_lib.RedisError as exc:
            raise VaultError(
                f"cannot reach the Redis vault at {self._where} ({type(exc).__name__})"
            ) from None
        self._open = self._client.register_script(_OPEN)
        self._allocate = self._client.register_script(_ALLOCATE)

    def __repr__(self) -> str:
        return f"RedisStore({self._where!r}, prefix={self.prefix!r})"

    @contextmanager
    def _errors(self) -> Iterator[None]:
        import redis as redis_lib

        try:
            yield
        except redis_lib.RedisError as exc:
            raise VaultError(f"Redis vault operation failed ({type(exc).__name__})") from None

    def _key(self, scope: str) -> str:
        return self.prefix + scope

    @staticmethod
    def _meta(values: list[Any]) -> SessionMeta | None:
        salt, kid, check = values
        if salt is None or kid is None or check is None:
            return None
        return SessionMeta(bytes(salt), bytes(kid).decode("ascii"), bytes(check))

    def get_session(self, scope: str) -> SessionMeta | None:
        with self._errors():
            return self._meta(self._client.hmget(self._key(scope), ["salt", "kid", "check"]))

    def open_session(self, scope: str, new: SessionMeta, ttl: float | None) -> SessionMeta:
        ttl_ms = "" if ttl is None else str(max(1, int(ttl * 1000)))
        with self._errors():
            args: list[bytes | str] = [new.salt, new.kid, new.check, ttl_ms]
            values = self._open(keys=[self._key(scope)], args=args)
        meta = self._meta(values)
        if meta is None:
            raise VaultError("the Redis vault lost a session while creating it")
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
        key = self._key(scope)
        ttl_ms = "" if ttl is None else str(max(1, int(ttl * 1000)))
        fields = [f"l:{entity}:{lookup.hex()}", f"c:{entity}"]
        expected, blob = "", b""
        with self._errors():
            for _ in range(_MAX_RETRIES):
                status, number = self._allocate(
                    keys=[key],
                    args=[meta.salt, *fields, ttl_ms, expected, f"r:{entity}:", blob],
                )
                if status == -1:
                    return None
                if status == 1:
                    return int(number)
                expected, blob = str(number), seal(int(number) + 1)
        raise VaultError("the Redis vault stayed contended while allocating a token")

    def load(self, scope: str, entity: str, number: int) -> tuple[SessionMeta, bytes] | None:
        with self._errors():
            salt, kid, check, blob = self._client.hmget(
                self._key(scope), ["salt", "kid", "check", f"r:{entity}:{number}"]
            )
        meta = self._meta([salt, kid, check])
        if meta is None or blob is None:
            return None
        return meta, blob if isinstance(blob, bytes) else str(blob).encode("latin-1")

    def delete_session(self, scope: str) -> None:
        with self._errors():
            self._client.delete(self._key(scope))

    def expire(self, now: float | None = None) -> int:
        """Redis expires session keys itself."""
        del now
        return 0

    def close(self) -> None:
        self._client.close()
