"""context-sanitizer: keep secrets and personal data out of LLM context, logs and memory.

Public API (everything else is private)::

    from sanitizer import Sanitizer
    s = Sanitizer()                      # embedded defaults
    s.detect("token ghp_…")              # -> [Finding(start, end, entity, …)]
    s.redact({"password": "hunter2"})    # -> Redaction(result, findings)

    done = s.sanitize(text_or_json, surface="tool_result", session="conv-42")
    done.result                          # placeholders such as <EMAIL_ADDRESS_1>
    s.restore(reply, session="conv-42")  # real values back (never secrets)
    r = s.restorer(session="conv-42")    # streaming: r.feed(chunk) … r.flush()
    s.forget("conv-42")                  # the session's values become unrecoverable
    # the same four as module functions on a default Sanitizer (in-memory vault):
    sanitizer.sanitize(…), sanitizer.restore(…), sanitizer.restorer(…), sanitizer.forget(…)

    import sanitizer                     # litellm drop-ins (litellm loads on first call)
    sanitizer.completion(model=…, messages=[…], session="conv-42")
    await sanitizer.acompletion(model=…, messages=[…], session="conv-42", stream=True)
    chat = sanitizer.SanitizedSession(session="conv-42", confirm=ask_user)
    @sanitizer.sanitized_tool(session=chat)          # tool results sanitized on return
    sanitizer.sanitize_memory_write(note)            # the memory-write gate

``import sanitizer`` is cheap: the engine, the models and the heavy libraries load on
first use.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .errors import AuditError, Blocked, ConfigError, InputError, SanitizerError, VaultError
from .findings import Finding

if TYPE_CHECKING:
    from .adapters.litellm_sdk import (
        RestoredStream,
        SanitizedSession,
        acompletion,
        completion,
        sanitize_memory_write,
        sanitized_tool,
    )
    from .audit import AuditLog, FileSink, LoggingSink, StdoutSink, verify_log
    from .engine import Json, Redaction, Restoration, Sanitized, Sanitizer
    from .keys import KeyRing
    from .policy import Policy, load_policy
    from .tokens import StreamingRestorer
    from .tools import Approval, ToolCallPreview, ToolPolicy, ToolRule
    from .vault import Vault, open_vault

__all__ = [
    "Approval",
    "AuditError",
    "AuditLog",
    "Blocked",
    "ConfigError",
    "FileSink",
    "Finding",
    "InputError",
    "KeyRing",
    "LoggingSink",
    "Policy",
    "Redaction",
    "Restoration",
    "RestoredStream",
    "Sanitized",
    "SanitizedSession",
    "Sanitizer",
    "SanitizerError",
    "StdoutSink",
    "StreamingRestorer",
    "ToolCallPreview",
    "ToolPolicy",
    "ToolRule",
    "Vault",
    "VaultError",
    "acompletion",
    "completion",
    "detect",
    "forget",
    "load_policy",
    "open_vault",
    "redact",
    "restore",
    "restorer",
    "sanitize",
    "sanitize_memory_write",
    "sanitized_tool",
    "verify_log",
]

_SDK = "adapters.litellm_sdk"
_LAZY = {"Sanitizer": "engine", "Redaction": "engine",
         "completion": _SDK, "acompletion": _SDK, "SanitizedSession": _SDK,
         "RestoredStream": _SDK, "sanitized_tool": _SDK, "sanitize_memory_write": _SDK,
         "Approval": "tools", "ToolCallPreview": "tools", "ToolPolicy": "tools",
         "ToolRule": "tools", "Sanitized": "engine", "Restoration": "engine",
         "StreamingRestorer": "tokens", "Policy": "policy", "load_policy": "policy",
         "KeyRing": "keys", "Vault": "vault", "open_vault": "vault", "AuditLog": "audit",
         "FileSink": "audit", "StdoutSink": "audit", "LoggingSink": "audit",
         "verify_log": "audit"}
_default: Sanitizer | None = None
_default_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'sanitizer' has no attribute {name!r}")


def _default_sanitizer() -> Sanitizer:
    """One Sanitizer on embedded defaults, built on first use of the shortcuts below."""
    global _default
    with _default_lock:  # one default, even when threads race to the first call
        if _default is None:
            from .engine import Sanitizer

            _default = Sanitizer()
        return _default


def detect(data: Json) -> list[Finding]:
    """Findings in a text or JSON value, with the embedded defaults."""
    return _default_sanitizer().detect(data)


def redact(data: Json) -> Redaction:
    """``<ENTITY>`` markers in place of every finding, with the embedded defaults."""
    return _default_sanitizer().redact(data)


def sanitize(data: Json, *, surface: str = "prompt", session: str = "default",
             destination: str = "model") -> Sanitized:
    """:meth:`Sanitizer.sanitize` with the embedded defaults (in-memory vault: the
    placeholders restore within this process)."""
    return _default_sanitizer().sanitize(data, surface=surface, session=session,
                                         destination=destination)


def restore(text: str, *, session: str = "default", destination: str = "user") -> str:
    """:meth:`Sanitizer.restore` with the embedded defaults: this session's placeholders back
    into real values (never a secret)."""
    return _default_sanitizer().restore(text, session=session, destination=destination)


def restorer(*, session: str = "default", destination: str = "user") -> StreamingRestorer:
    """:meth:`Sanitizer.restorer`: a streaming restorer (``feed(chunk)`` … ``flush()``)."""
    return _default_sanitizer().restorer(session=session, destination=destination)


def forget(session: str) -> None:
    """:meth:`Sanitizer.forget` with the embedded defaults: the session's values become
    unrecoverable."""
    _default_sanitizer().forget(session)
