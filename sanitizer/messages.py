"""Chat messages: every position an agent's conversation can carry text in.

System, user, assistant and tool messages; string content and content-part lists;
``tool_calls[].function.arguments`` (JSON-aware, kept valid JSON). Each message is
sanitized once per session: the result is cached under a keyed MAC of the message (never
the message itself), so an agent that resends its whole history pays only for new turns.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .errors import InputError

if TYPE_CHECKING:
    from .engine import Json, Sanitizer

Message = dict[str, Any]

# Which surface each role's content is; tool output comes from outside and is untrusted.
ROLE_SURFACES: Mapping[str, str] = {
    "system": "system", "developer": "system", "user": "prompt", "assistant": "prompt",
    "tool": "tool_result", "function": "tool_result",
}


class MessageCache:
    """Sanitized messages per session, keyed by an HMAC of the original message."""

    def __init__(self, key: bytes, max_entries: int = 10_000) -> None:
        self._key = key
        self._max = max_entries
        self._entries: OrderedDict[tuple[str, bytes], Message] = OrderedDict()
        self._lock = threading.Lock()

    def _mac(self, session: str, message: Message) -> tuple[str, bytes]:
        canonical = json.dumps(message, sort_keys=True, ensure_ascii=False, default=str)
        mac = hmac.new(self._key, session.encode() + b"\0" + canonical.encode(), hashlib.sha256)
        return session, mac.digest()

    def get(self, session: str, message: Message) -> Message | None:
        key = self._mac(session, message)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
        return copy.deepcopy(found) if found is not None else None

    def put(self, session: str, message: Message, sanitized: Message) -> None:
        key = self._mac(session, message)
        with self._lock:
            self._entries[key] = copy.deepcopy(sanitized)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def forget(self, session: str) -> None:
        with self._lock:
            for key in [k for k in self._entries if k[0] == session]:
                del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)


def _sanitize_text(sanitizer: Sanitizer, text: str, surface: str, session: str) -> str:
    result = sanitizer.sanitize(text, surface=surface, session=session).result
    assert isinstance(result, str)
    return result


def _sanitize_arguments(sanitizer: Sanitizer, arguments: str, session: str) -> str:
    """Tool-call arguments: sanitized as JSON when they are JSON (and kept valid JSON)."""
    try:
        parsed: Json = json.loads(arguments)
    except (json.JSONDecodeError, TypeError):
        return _sanitize_text(sanitizer, arguments, "tool_call_args", session)
    result = sanitizer.sanitize(parsed, surface="tool_call_args", session=session).result
    return json.dumps(result, ensure_ascii=False)


def sanitize_message(sanitizer: Sanitizer, message: Mapping[str, Any], session: str) -> Message:
    if not isinstance(message, Mapping):
        raise InputError(f"a message must be a mapping, got {type(message).__name__}")
    out: Message = dict(message)
    surface = ROLE_SURFACES.get(str(message.get("role", "user")), "prompt")
    content = message.get("content")
    if isinstance(content, str):
        out["content"] = _sanitize_text(sanitizer, content, surface, session)
    elif isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                part = {**part, "text": _sanitize_text(sanitizer, part["text"], surface,
                                                       session)}
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
                                                            session)
            calls.append(call)
        out["tool_calls"] = calls
    function_call = message.get("function_call")
    if isinstance(function_call, Mapping) and isinstance(function_call.get("arguments"), str):
        out["function_call"] = {**function_call, "arguments": _sanitize_arguments(
            sanitizer, function_call["arguments"], session)}
    return out


def as_dict(message: Any) -> Any:
    """Plain dicts from pydantic message objects (a previous response put into history)."""
    if hasattr(message, "model_dump"):
        return message.model_dump(exclude_none=True)
    return dict(message) if isinstance(message, Mapping) else message


def sanitize_messages(sanitizer: Sanitizer, messages: Sequence[Mapping[str, Any]],
                      session: str, cache: MessageCache | None = None) -> list[Message]:
    """Every message sanitized (from the cache where this session saw it before)."""
    if not isinstance(messages, Sequence) or isinstance(messages, str | bytes):
        raise InputError("messages must be a list of message objects")
    out: list[Message] = []
    for message in messages:
        plain = as_dict(message)
        cached = cache.get(session, plain) if cache is not None and isinstance(plain, dict) \
            else None
        if cached is None:
            cached = sanitize_message(sanitizer, plain, session)
            if cache is not None:
                cache.put(session, plain, cached)
        out.append(cached)
    return out
