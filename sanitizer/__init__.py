"""context-sanitizer: keep secrets and personal data out of LLM context, logs and memory.

Public API (everything else is private)::

    from sanitizer import Sanitizer
    s = Sanitizer()                      # embedded defaults
    s.detect("token ghp_…")              # -> [Finding(start, end, entity, …)]
    s.redact({"password": "hunter2"})    # -> Redaction(result, findings)

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
    from .engine import Json, Redaction, Sanitizer
    from .tools import Approval, ToolCallPreview, ToolPolicy, ToolRule

__all__ = [
    "Approval",
    "AuditError",
    "Blocked",
    "ConfigError",
    "Finding",
    "InputError",
    "Redaction",
    "RestoredStream",
    "SanitizedSession",
    "Sanitizer",
    "SanitizerError",
    "ToolCallPreview",
    "ToolPolicy",
    "ToolRule",
    "VaultError",
    "acompletion",
    "completion",
    "detect",
    "redact",
    "sanitize_memory_write",
    "sanitized_tool",
]

_SDK = "adapters.litellm_sdk"
_LAZY = {"Sanitizer": "engine", "Redaction": "engine",
         "completion": _SDK, "acompletion": _SDK, "SanitizedSession": _SDK,
         "RestoredStream": _SDK, "sanitized_tool": _SDK, "sanitize_memory_write": _SDK,
         "Approval": "tools", "ToolCallPreview": "tools", "ToolPolicy": "tools",
         "ToolRule": "tools"}
_default: Sanitizer | None = None


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'sanitizer' has no attribute {name!r}")


def _default_sanitizer() -> Sanitizer:
    """One Sanitizer on embedded defaults, built on first use of the shortcuts below."""
    global _default
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
