"""The process boundary: every chat completion the OpenAI SDK sends from Hermes.

Hermes' middleware sees the main agent loop only. The summary it requests when a turn hits
its tool-iteration limit (``agent/chat_completion_helpers.py``) and every auxiliary call
(``agent/auxiliary_client.py``: titles, compression, vision, web extraction, smart
approvals, plugin ``ctx.llm`` calls, subagents) build their own requests. All of them end
in ``openai…Completions.create`` (sync or async), so the plugin wraps that method on the
SDK class — once per process, for every client, whenever it was created:

* the messages are sanitized before anything is sent; if that fails or times out the call
  raises :class:`~sanitizer.errors.Blocked` and nothing leaves (fail closed);
* the reply's text is restored (streams chunk by chunk), tool calls are left alone.

SDK entry points the plugin cannot sanitize raise ``Blocked`` instead of sending: the
Responses API (Hermes' ``codex_responses`` transport), ``chat.completions.parse``, legacy
text completions, Anthropic's native Messages API when the ``anthropic`` package is
present, and Hermes' Copilot ACP client.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...errors import Blocked
from .runtime import Guard
from .streams import AsyncRestoredStream, RestoredStream, restore_completion

# The request key the llm_request middleware adds (the Hermes session of the call). The
# wrapper removes it; any other SDK receiving it rejects the unknown argument, so a
# transport the wrapper does not cover fails instead of sending unsanitized text.
MARKER = "_context_sanitizer_session"
_CHAT = "openai.resources.chat.completions.completions"
_BLOCKED: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (_CHAT, "Completions", ("parse",)),
    (_CHAT, "AsyncCompletions", ("parse",)),
    ("openai.resources.responses.responses", "Responses", ("create", "stream", "parse")),
    ("openai.resources.responses.responses", "AsyncResponses", ("create", "stream", "parse")),
    ("openai.resources.completions", "Completions", ("create",)),
    ("openai.resources.completions", "AsyncCompletions", ("create",)),
    ("anthropic.resources.messages.messages", "Messages", ("create", "stream")),
    ("anthropic.resources.messages.messages", "AsyncMessages", ("create", "stream")),
    ("agent.copilot_acp_client", "_ACPChatCompletions", ("create",)),
)


@dataclass
class _Installation:
    """What the wrapped SDK methods consult: the process's guard, or why there is none."""

    guard: Guard | None = None
    error: str | None = "the plugin is not active"
    originals: dict[tuple[type, str], Any] = field(default_factory=dict)

    def ready(self) -> Guard:
        if self.guard is None:
            raise Blocked(f"context-sanitizer is enabled but not working: {self.error}. "
                          "Nothing was sent to the model.")
        return self.guard


# Patching an SDK class is process-wide by nature; this one object holds that state.
_INSTALLED = _Installation()


def _restore(guard: Guard, session: str, ephemeral: bool, result: Any) -> Any:
    def done() -> None:
        if ephemeral:
            guard.forget(session)

    def new_restorer() -> Any:
        return guard.sanitizer.restorer(session=session)

    if hasattr(result, "choices"):
        try:
            return restore_completion(result, lambda text: guard.restore(session, text))
        finally:
            done()
    if hasattr(result, "__aiter__"):
        return AsyncRestoredStream(result, new_restorer, done)
    if hasattr(result, "__iter__"):
        return RestoredStream(result, new_restorer, done)
    done()
    return result


def _sync_create(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        marker = kwargs.pop(MARKER, None)
        guard = _INSTALLED.ready()
        session, ephemeral = guard.call_session(marker)
        try:
            kwargs["messages"] = guard.sanitize_messages(session, kwargs.get("messages"))
            result = original(self, *args, **kwargs)
        except BaseException:
            if ephemeral:
                guard.forget(session)
            raise
        return _restore(guard, session, ephemeral, result)

    create.__context_sanitizer__ = True  # type: ignore[attr-defined]
    return create


def _async_create(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        marker = kwargs.pop(MARKER, None)
        guard = _INSTALLED.ready()
        session, ephemeral = guard.call_session(marker)
        try:
            kwargs["messages"] = guard.sanitize_messages(session, kwargs.get("messages"))
            result = await original(self, *args, **kwargs)
        except BaseException:
            if ephemeral:
                guard.forget(session)
            raise
        return _restore(guard, session, ephemeral, result)

    create.__context_sanitizer__ = True  # type: ignore[attr-defined]
    return create


def _refuse(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise Blocked(f"context-sanitizer cannot sanitize {name}, so it is blocked; use an "
                      "OpenAI-compatible chat-completions endpoint (for example the "
                      "project's LiteLLM proxy). Nothing was sent.")

    refuse.__context_sanitizer__ = True  # type: ignore[attr-defined]
    return refuse


def _class(module: str, name: str) -> type | None:
    root = module.split(".", 1)[0]
    try:
        if importlib.util.find_spec(root) is None:
            return None
        found = getattr(importlib.import_module(module), name, None)
    except Exception:
        return None
    return found if isinstance(found, type) else None


def _patch(cls: type, method: str, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]
           ) -> None:
    current = cls.__dict__.get(method)
    if current is None or getattr(current, "__context_sanitizer__", False):
        return
    _INSTALLED.originals[(cls, method)] = current
    setattr(cls, method, wrap(current))


def install(guard: Guard | None, error: str | None = None) -> None:
    """Route every covered SDK call through ``guard`` (or block them all, with ``error``
    as the reason, when the plugin could not start). Idempotent; the latest guard wins."""
    _INSTALLED.guard, _INSTALLED.error = guard, error
    sync_cls, async_cls = _class(_CHAT, "Completions"), _class(_CHAT, "AsyncCompletions")
    if sync_cls is None or async_cls is None:
        raise ImportError("the openai package has no chat completions resource")
    _patch(sync_cls, "create", _sync_create)
    _patch(async_cls, "create", _async_create)
    for module, name, methods in _BLOCKED:
        cls = _class(module, name)
        for method in methods if cls is not None else ():
            assert cls is not None
            _patch(cls, method, functools.partial(_refuse, f"{name}.{method}"))


def uninstall() -> None:
    """Put the SDK back as it was (tests)."""
    for (cls, method), original in _INSTALLED.originals.items():
        setattr(cls, method, original)
    _INSTALLED.originals.clear()
    _INSTALLED.guard, _INSTALLED.error = None, "the plugin is not active"


def installed_guard() -> Guard | None:
    return _INSTALLED.guard
