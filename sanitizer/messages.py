"""Chat messages: every position an agent's conversation can carry text in.

System, user, assistant and tool messages; string content and content-part lists;
``tool_calls[].function.arguments`` (JSON-aware, kept valid JSON). Each message is
sanitized once per session: the result is cached under a keyed MAC of the message (never
the message itself), so an agent that resends its whole history pays only for new turns.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .errors import InputError

if TYPE_CHECKING:
    from .engine import Json, Sanitizer
    from .transform import Decision

Message = dict[str, Any]

# Which surface each role's content is; tool output comes from outside and is untrusted.
ROLE_SURFACES: Mapping[str, str] = {
    "system": "system", "developer": "system", "user": "prompt", "assistant": "prompt",
    "tool": "tool_result", "function": "tool_result",
}


Probe = tuple[str, int, str]  # entity, number, keyed fingerprint of the value


# Canonical form of a message for its MAC (built once: per-call encoder set-up is half the
# cost of serialising a message).
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str,
                              check_circular=False)


def _copy(value: Any) -> Any:
    """A deep copy of a JSON-shaped value (several times faster than ``copy.deepcopy``)."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


class MessageCache:
    """Sanitized messages per session, keyed by a MAC (keyed BLAKE2b) of the original message
    (the message itself is never a key). An entry may carry a probe — one placeholder it uses,
    with the keyed fingerprint of its value — so a caller can check that the vault still
    maps it (a forgotten or expired session must not reuse old placeholders)."""

    def __init__(self, key: bytes, max_entries: int = 10_000) -> None:
        if not 16 <= len(key) <= 64:
            raise ValueError("a message cache key is 16 to 64 random bytes")
        self._key = key
        self._max = max_entries
        self._entries: OrderedDict[tuple[str, bytes], tuple[Message, Probe | None]] = \
            OrderedDict()
        self._lock = threading.Lock()

    def _mac(self, session: str, message: Message) -> tuple[str, bytes]:
        canonical = _CANONICAL.encode(message)
        mac = hashlib.blake2b(canonical.encode(), key=self._key, digest_size=32,
                              person=b"sanitizer-msgs")
        mac.update(b"\0" + session.encode())
        return session, mac.digest()

    def lookup(self, session: str, message: Message) -> tuple[Message, Probe | None] | None:
        key = self._mac(session, message)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
        return (_copy(found[0]), found[1]) if found is not None else None

    def get(self, session: str, message: Message) -> Message | None:
        found = self.lookup(session, message)
        return found[0] if found is not None else None

    def put(self, session: str, message: Message, sanitized: Message,
            probe: Probe | None = None) -> None:
        key = self._mac(session, message)
        with self._lock:
            self._entries[key] = (_copy(sanitized), probe)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def forget(self, session: str) -> None:
        with self._lock:
            for key in [k for k in self._entries if k[0] == session]:
                del self._entries[key]

    def count(self, session: str) -> int:
        """How many messages of ``session`` are cached."""
        with self._lock:
            return sum(1 for key in self._entries if key[0] == session)

    def __len__(self) -> int:
        return len(self._entries)


class _Probes:
    """Collects the first tokenized value of a message as its cache probe."""

    def __init__(self, sanitizer: Sanitizer) -> None:
        self.sanitizer = sanitizer
        self.probe: Probe | None = None

    def note(self, decisions: Sequence[Decision]) -> None:
        if self.probe is not None:
            return
        fmt = self.sanitizer.placeholder_format
        for decision in decisions:
            if decision.action == "tokenize" and decision.replacement:
                entity = decision.finding.entity
                digits = decision.replacement[len(fmt.prefix) + len(entity)
                                              + len(fmt.separator):]
                digits = digits[:len(digits) - len(fmt.suffix)] if fmt.suffix else digits
                if digits.isdigit():
                    self.probe = (entity, int(digits), decision.fingerprint)
                    return


def probe_holds(sanitizer: Sanitizer, session: str, probe: Probe) -> bool:
    """Whether the vault still maps the probe's placeholder to the same value."""
    entity, number, fingerprint = probe
    value = sanitizer.vault.reveal(session, entity, number)
    return value is not None and \
        sanitizer.keyring.fingerprint(entity, value, sanitizer.tenant) == fingerprint


def _sanitize_text(sanitizer: Sanitizer, text: str, surface: str, session: str,
                   probes: _Probes) -> str:
    done = sanitizer.sanitize(text, surface=surface, session=session)
    probes.note(done.decisions)
    assert isinstance(done.result, str)
    return done.result


def _sanitize_arguments(sanitizer: Sanitizer, arguments: str, session: str,
                        probes: _Probes) -> str:
    """Tool-call arguments: sanitized as JSON when they are JSON (and kept valid JSON)."""
    try:
        parsed: Json = json.loads(arguments)
    except (json.JSONDecodeError, TypeError):
        return _sanitize_text(sanitizer, arguments, "tool_call_args", session, probes)
    done = sanitizer.sanitize(parsed, surface="tool_call_args", session=session)
    probes.note(done.decisions)
    return json.dumps(done.result, ensure_ascii=False)


def sanitize_message(sanitizer: Sanitizer, message: Mapping[str, Any], session: str,
                     probes: _Probes | None = None) -> Message:
    """One message with every text position sanitized: content (string or parts), tool
    calls' arguments (JSON-aware), legacy ``function_call``. Tool output is untrusted:
    placeholder look-alikes in it are neutralised."""
    if not isinstance(message, Mapping):
        raise InputError(f"a message must be a mapping, got {type(message).__name__}")
    probes = probes if probes is not None else _Probes(sanitizer)
    out: Message = dict(message)
    surface = ROLE_SURFACES.get(str(message.get("role", "user")), "prompt")
    content = message.get("content")
    if isinstance(content, str):
        out["content"] = _sanitize_text(sanitizer, content, surface, session, probes)
    elif isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                part = {**part, "text": _sanitize_text(sanitizer, part["text"], surface,
                                                       session, probes)}
            parts.append(part)
        out["content"] = parts
    tool_calls = message.get("tool_calls")
    if isinstance(tool_calls, list):
        calls = []
        for call in tool_calls:
            call = copy.deepcopy(call)
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                function["arguments"] = _sanitize_arguments(sanitizer, function["arguments"],
                                                            session, probes)
            calls.append(call)
        out["tool_calls"] = calls
    function_call = message.get("function_call")
    if isinstance(function_call, Mapping) and isinstance(function_call.get("arguments"), str):
        out["function_call"] = {**function_call, "arguments": _sanitize_arguments(
            sanitizer, function_call["arguments"], session, probes)}
    return out


def as_dict(message: Any) -> Any:
    """Plain dicts from pydantic message objects (a previous response put into history)."""
    if hasattr(message, "model_dump"):
        return message.model_dump(exclude_none=True)
    return dict(message) if isinstance(message, Mapping) else message


def sanitize_messages(sanitizer: Sanitizer, messages: Sequence[Mapping[str, Any]],
                      session: str, cache: MessageCache | None = None) -> list[Message]:
    """Every message sanitized, from the cache where this session saw it before; one vault
    look-up per call checks that cached placeholders still mean what they meant (else the
    session's cache is dropped and everything is sanitized afresh)."""
    if not isinstance(messages, Sequence) or isinstance(messages, str | bytes):
        raise InputError("messages must be a list of message objects")
    plain = [as_dict(message) for message in messages]
    hits: list[tuple[Message, Probe | None] | None] = [
        cache.lookup(session, m) if cache is not None and isinstance(m, dict) else None
        for m in plain]
    probe = next((hit[1] for hit in reversed(hits) if hit is not None and hit[1] is not None),
                 None)
    if cache is not None and probe is not None and not probe_holds(sanitizer, session, probe):
        cache.forget(session)
        hits = [None] * len(plain)
    out: list[Message] = []
    for message, hit in zip(plain, hits, strict=True):
        if hit is not None:
            out.append(hit[0])
            continue
        probes = _Probes(sanitizer)
        sanitized = sanitize_message(sanitizer, message, session, probes)
        if cache is not None:
            cache.put(session, message, sanitized, probes.probe)
        out.append(sanitized)
    return out
