"""Redis keys matching a pattern: strings (text or JSON text), hashes (each field) and
RedisJSON values (``JSON.GET``/``JSON.SET``, when the module is loaded).

Keys are visited with ``SCAN`` (no blocking ``KEYS``); the checkpoint is a SCAN cursor
between pages, so a resumed run re-reads at most one page, which is harmless because a
scrubbed value scrubs to itself. Every key is written in its own ``WATCH``/``MULTI``
transaction, only if it still holds what was read; a string keeps its TTL (``KEEPTTL``),
a hash gets only its changed fields set. Lists, sets, sorted sets and streams are skipped
and counted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import InputError
from .base import Change, CommitResult, Failure, Json, Record, dumps
from .codec import Format, decode, encode

PAGE = 500


def _text(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


class RedisStore:
    def __init__(self, url: str, match: str = "*", *, fmt: Format = "auto",
                 page: int = PAGE) -> None:
        import redis

        from .postgres import safe_url

        self.url, self.match, self.fmt, self.page = url, match, fmt, page
        self._shown = safe_url(url)
        self.client = redis.Redis.from_url(url, socket_timeout=30)
        try:
            self.client.ping()
        except redis.RedisError as exc:
            raise InputError(f"cannot connect to {self._shown} ({type(exc).__name__})") \
                from None

    @property
    def identity(self) -> str:
        return f"redis:{self._shown}#{self.match}"

    def estimate(self) -> int | None:
        return int(self.client.dbsize()) if self.match == "*" else None

    # -- reading ----------------------------------------------------------------------

    def records(self, state: Json = None) -> Iterator[Record]:
        cursor = 0
        if isinstance(state, dict):
            if state.get("done"):
                return
            cursor = int(state["cursor"])  # type: ignore[arg-type]
        while True:
            following, found = self.client.scan(cursor, match=self.match, count=self.page)
            keys = sorted(k if isinstance(k, bytes) else str(k).encode() for k in found)
            kinds = self._types(keys)
            for index, (key, kind) in enumerate(zip(keys, kinds, strict=True)):
                last = index == len(keys) - 1
                position: Json = {"cursor": following if last else cursor,
                                  "done": last and following == 0}
                yield self._read(key, kind, position)
            if following == 0:
                return
            cursor = following

    def _types(self, keys: list[bytes]) -> list[str]:
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.type(key)
        return [k.decode() if isinstance(k, bytes) else str(k) for k in pipe.execute()]

    def _read(self, key: bytes, kind: str, position: Json) -> Record:
        name = key.decode("utf-8", "backslashreplace")
        meta: dict[str, Json] = {"k": key.hex(), "type": kind}
        if kind == "string":
            raw: Any = self.client.get(key)
            text = _text(raw) if isinstance(raw, bytes) else None
            if text is None:
                return Record(name, position, None, {**meta, "skip": "not text"})
            try:
                value, is_json = decode(text, self.fmt)
            except ValueError as exc:
                return Record(name, position, None, {**meta, "error": str(exc)})
            return Record(name, position, value, {**meta, "raw": text, "json": is_json})
        if kind == "hash":
            fields: dict[str, Json] = {}
            raws: dict[str, Json] = {}
            flags: dict[str, Json] = {}
            stored: Any = self.client.hgetall(key)
            for field, raw in stored.items():
                field_name, text = _text(field), _text(raw)
                if field_name is None or text is None:
                    continue  # binary fields are left alone
                try:
                    fields[field_name], flags[field_name] = decode(text, self.fmt)
                except ValueError:
                    fields[field_name], flags[field_name] = text, False
                raws[field_name] = text
            return Record(name, position, fields, {**meta, "raw": raws, "json": flags})
        if kind == "ReJSON-RL":
            text = self.client.execute_command("JSON.GET", key, "$")  # type: ignore[no-untyped-call]
            raw_text = text.decode("utf-8") if isinstance(text, bytes) else str(text)
            found = json.loads(raw_text)
            value = found[0] if isinstance(found, list) and found else None
            return Record(name, position, value, {**meta, "raw": raw_text})
        return Record(name, position, None, {**meta, "skip": f"{kind} values are not scrubbed"})

    # -- writing ----------------------------------------------------------------------

    def commit(self, changes: Sequence[Change], through: Record) -> CommitResult:
        import redis

        result = CommitResult(through.position)
        for change in changes:
            meta: dict[str, Any] = change.record.meta  # type: ignore[assignment]
            key = bytes.fromhex(meta["k"])
            try:
                with self.client.pipeline(transaction=True) as pipe:
                    pipe.watch(key)  # type: ignore[no-untyped-call]
                    if not self._unchanged(pipe, key, meta):
                        pipe.unwatch()
                        result.failures.append(Failure(change.record.key,
                                                       "changed since it was read"))
                        continue
                    pipe.multi()
                    self._write(pipe, key, meta, change.value)
                    pipe.execute()
            except redis.WatchError:
                result.failures.append(Failure(change.record.key, "changed since it was read"))
                continue
            result.written += 1
        return result

    def _unchanged(self, pipe: Any, key: bytes, meta: dict[str, Any]) -> bool:
        kind = meta["type"]
        if kind == "string":
            raw = pipe.get(key)
            return raw is not None and _text(raw) == meta["raw"]
        if kind == "hash":
            now = {(_text(f)): _text(v) for f, v in pipe.hgetall(key).items()}
            return all(now.get(f) == v for f, v in meta["raw"].items())
        text = pipe.execute_command("JSON.GET", key, "$")
        return bool((text.decode("utf-8") if isinstance(text, bytes) else str(text))
                    == meta["raw"])

    def _write(self, pipe: Any, key: bytes, meta: dict[str, Any], value: Json) -> None:
        kind = meta["type"]
        if kind == "string":
            pipe.set(key, encode(value, meta["raw"], meta["json"]).encode("utf-8"),
                     keepttl=True)
        elif kind == "hash":
            assert isinstance(value, dict)
            changed = {f: encode(v, meta["raw"][f], meta["json"][f])
                       for f, v in value.items() if v != decode_field(meta, f)}
            if changed:
                pipe.hset(key, mapping=changed)
        else:
            pipe.execute_command("JSON.SET", key, "$", dumps(value))

    def prepare(self, state: Json = None) -> None:
        return None

    def finish(self) -> None:
        return None

    def put(self, key: str | None, value: Json) -> None:
        """Set a string (text, or JSON text) or, for an object of strings, a hash."""
        if key is None:
            raise InputError("a Redis memory write needs a key")
        if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
            self.client.hset(key, mapping={k: str(v) for k, v in value.items()})
        else:
            self.client.set(key, value if isinstance(value, str) else dumps(value),
                            keepttl=True)

    def close(self) -> None:
        self.client.close()


def decode_field(meta: dict[str, Any], field: str) -> Json:
    value, _ = decode(meta["raw"][field], "json" if meta["json"][field] else "text")
    return value
