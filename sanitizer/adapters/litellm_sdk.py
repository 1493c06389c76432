"""Drop-ins for ``litellm.completion`` / ``litellm.acompletion`` that sanitize every message
before it leaves and restore the reply (streamed or not) on the way back.

    import sanitizer
    reply = sanitizer.completion(model="gpt-4o-mini", messages=[...], session="conv-42")

    chat = sanitizer.SanitizedSession(session="conv-42", confirm=ask_the_user)
    reply = chat.completion(model="gpt-4o-mini", messages=[...])   # same kwargs as litellm
    for chunk in chat.completion(model=..., messages=[...], stream=True): ...

Every message position is sanitized (see :mod:`sanitizer.messages`), once per session: the
conversation cache is shared by every session object of one :class:`Sanitizer`, keyed by a
MAC of the message. Replies are restored: message text for the user (secrets stay hidden),
streamed deltas through the streaming restorer (only a possible placeholder prefix is held
back), tool calls through the tool sinks and approval tiers (:mod:`sanitizer.tools`).

Fail closed: if sanitizing fails or times out nothing is sent and :class:`Blocked` says why
(never quoting content). Retries (tenacity) wrap only the model call, on transient errors,
after sanitizing once; litellm's own retries are switched off so attempts don't multiply; a
stream is never retried once it has started.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import inspect
import json
import logging
import os
import threading
import weakref
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar, overload

from ..engine import Json, Sanitizer
from ..errors import Blocked, SanitizerError
from ..messages import MessageCache, sanitize_messages
from ..tools import Confirm, ResolvedCall, resolve_tool_call
from .retry import RetrySettings, retrying_kwargs

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch a price list

log = logging.getLogger(__name__)
STARTUP_TIMEOUT = 300.0  # seconds for rules and models to load before a call is refused
P = ParamSpec("P")
R = TypeVar("R")


class _Shared:
    """What every session over one Sanitizer shares: the conversation cache (entries are
    per session id) and the threads sanitizing runs in (for its time limit)."""

    def __init__(self) -> None:
        self.cache = MessageCache(os.urandom(32))
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=4,
                                                          thread_name_prefix="sanitize")
        self.warm = False
        self.warming = threading.Lock()
        self.startup: concurrent.futures.Future[None] | None = None

    def warm_up(self, sanitizer: Sanitizer, timeout: float | None = STARTUP_TIMEOUT) -> None:
        """Compile the rules and load the models once (:meth:`Sanitizer.warm_up`), outside
        the sanitizing time limit — which is for the work a message causes — but bounded by
        its own: a start-up that hangs blocks the call (nothing is sent) instead of hanging
        it. Concurrent first calls wait for the same start-up; a failed one is retried."""
        if self.warm:
            return
        with self.warming:
            if self.startup is None:
                self.startup = _in_daemon_thread(sanitizer.warm_up)
            startup = self.startup
        try:
            startup.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            raise Blocked(f"the sanitizer did not start within {timeout}s; nothing was "
                          "sent") from None
        except BaseException:
            with self.warming:
                if self.startup is startup:
                    self.startup = None
            raise
        self.warm = True


def _in_daemon_thread(function: Callable[[], None]) -> concurrent.futures.Future[None]:
    """``function()`` in a daemon thread (a hung start-up must not keep the process alive)."""
    future: concurrent.futures.Future[None] = concurrent.futures.Future()

    def run() -> None:
        try:
            function()
        except BaseException as exc:
            future.set_exception(exc)
        else:
            future.set_result(None)

    threading.Thread(target=run, name="sanitizer-start-up", daemon=True).start()
    return future


_SHARED: weakref.WeakKeyDictionary[Sanitizer, _Shared] = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def _shared(sanitizer: Sanitizer) -> _Shared:
    with _SHARED_LOCK:
        found = _SHARED.get(sanitizer)
        if found is None:
            found = _SHARED[sanitizer] = _Shared()
        return found


def _default() -> Sanitizer:
    from .. import _default_sanitizer

    return _default_sanitizer()


def _blocked(exc: BaseException, timeout: float | None) -> Blocked:
    """Why a request was not sent — from the error's type and our own words only."""
    if isinstance(exc, concurrent.futures.TimeoutError | asyncio.TimeoutError):
        return Blocked(f"sanitizing took longer than {timeout}s; nothing was sent")
    if isinstance(exc, Blocked):
        return exc
    if isinstance(exc, SanitizerError):
        return Blocked(f"sanitizing failed ({type(exc).__name__}: {exc}); nothing was sent")
    return Blocked(f"sanitizing failed ({type(exc).__name__}); nothing was sent")


def _jsonable(value: Any) -> Json:
    """A tool result or memory record as JSON (objects by their fields or text), so that no
    value slips past the detectors inside an object the walker cannot see into."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    result: Json = json.loads(json.dumps(value, ensure_ascii=False, default=str))
    return result


class SanitizedSession:
    """One conversation: its placeholders stay stable across calls, its messages are
    sanitized once (conversation cache), its tool calls pass the tool policy.

    ``confirm`` is asked before a tier 2/3 tool call gets real values (without it such calls
    are refused); ``sanitize_timeout`` bounds sanitizing a request and ``startup_timeout``
    loading the rules and models before the first (past either, nothing is sent)."""

    def __init__(
        self,
        sanitizer: Sanitizer | None = None,
        session: str = "default",
        *,
        confirm: Confirm | None = None,
        retry: RetrySettings | None = None,
        sanitize_timeout: float | None = 30.0,
        cache: MessageCache | None = None,
        startup_timeout: float | None = STARTUP_TIMEOUT,
    ) -> None:
        self.sanitizer = sanitizer if sanitizer is not None else _default()
        self.id = session
        self.confirm = confirm
        self.retry = retry or RetrySettings()
        self.sanitize_timeout = sanitize_timeout
        self.startup_timeout = startup_timeout
        shared = self._shared = _shared(self.sanitizer)
        self.cache = cache if cache is not None else shared.cache
        self._pool = shared.pool

    # -- outbound ---------------------------------------------------------------------

    def _work(self, kwargs: dict[str, Any]) -> Callable[[], list[dict[str, Any]]]:
        if "messages" not in kwargs:
            raise Blocked("no messages to send")
        messages = kwargs["messages"]
        return lambda: sanitize_messages(self.sanitizer, messages, self.id, self.cache)

    def _request(self, kwargs: dict[str, Any], messages: list[dict[str, Any]]
                 ) -> dict[str, Any]:
        out = {k: v for k, v in kwargs.items() if k != "messages"}
        out["messages"] = messages
        out["num_retries"] = 0   # retries are ours, around the call only
        out["max_retries"] = 0
        return out

    def sanitize_request(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``kwargs`` with sanitized messages and litellm's retries off; raises
        :class:`Blocked` (and nothing may be sent) when sanitizing fails or times out."""
        work = self._work(kwargs)
        try:
            self._shared.warm_up(self.sanitizer, self.startup_timeout)
            if self.sanitize_timeout is None:
                messages = work()
            else:
                messages = self._pool.submit(work).result(timeout=self.sanitize_timeout)
        except Exception as exc:
            raise _blocked(exc, self.sanitize_timeout) from None
        return self._request(kwargs, messages)

    async def asanitize_request(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """:meth:`sanitize_request` without blocking the event loop."""
        work = self._work(kwargs)
        try:
            if not self._shared.warm:
                await asyncio.to_thread(self._shared.warm_up, self.sanitizer,
                                        self.startup_timeout)
            future = asyncio.wrap_future(self._pool.submit(work))
            messages = await asyncio.wait_for(future, timeout=self.sanitize_timeout)
        except Exception as exc:
            raise _blocked(exc, self.sanitize_timeout) from None
        return self._request(kwargs, messages)

    # -- calls ------------------------------------------------------------------------

    def completion(self, **kwargs: Any) -> Any:
        """``litellm.completion`` with the same arguments and return types (a stream is
        a :class:`RestoredStream` over litellm's)."""
        import litellm
        from tenacity import Retrying

        request = self.sanitize_request(kwargs)
        response = Retrying(**retrying_kwargs(self.retry))(litellm.completion, **request)
        if request.get("stream"):
            return self.restore_stream(response)
        return self.restore_response(response)

    async def acompletion(self, **kwargs: Any) -> Any:
        """``litellm.acompletion`` with the same arguments and return types."""
        import litellm
        from tenacity import AsyncRetrying

        request = await self.asanitize_request(kwargs)
        response: Any = await AsyncRetrying(**retrying_kwargs(self.retry))(
            litellm.acompletion, **request)
        if request.get("stream"):
            return self.arestore_stream(response)
        return self.restore_response(response)

    # -- inbound ----------------------------------------------------------------------

    def resolve_tool_call(self, tool: str, arguments: str) -> ResolvedCall:
        return resolve_tool_call(self.sanitizer, tool, arguments, session=self.id,
                                 confirm=self.confirm)

    def restore_response(self, response: Any) -> Any:
        """Real values back into the reply's text; tool calls through the tool policy
        (refused tier 2/3 calls are taken out and named in the text)."""
        vault_failed = False

        def restore(text: str) -> str:
            nonlocal vault_failed
            restored = self.sanitizer.restore_detailed(text, session=self.id)
            vault_failed |= restored.vault_failed
            return restored.text

        for choice in getattr(response, "choices", None) or []:
            text = getattr(choice, "text", None)   # text completions
            if isinstance(text, str):
                choice.text = restore(text)
            message = getattr(choice, "message", None)
            if message is None:
                continue
            if isinstance(message.content, str):
                message.content = restore(message.content)
            calls = getattr(message, "tool_calls", None)
            if calls:
                kept, notes = [], []
                for call in calls:
                    resolved = self.resolve_tool_call(call.function.name,
                                                      call.function.arguments)
                    if resolved.refused:
                        notes.append(_refusal(resolved))
                        continue
                    call.function.arguments = resolved.arguments
                    kept.append(call)
                message.tool_calls = kept or None
                if notes:
                    message.content = "\n".join(filter(None, [message.content, *notes]))
                    if not kept:
                        choice.finish_reason = "stop"
        if vault_failed:
            flag_vault_failed(response)
        return response

    def restore_stream(self, stream: Any) -> RestoredStream:
        """A stream (sync or async) restored chunk by chunk."""
        return RestoredStream(stream, _StreamState(self))

    arestore_stream = restore_stream

    # -- helpers for agent code -------------------------------------------------------

    def sanitize_tool_result(self, value: Any) -> Json:
        """A tool's output, sanitized (and placeholder look-alikes disarmed) before it
        re-enters the context."""
        return self.sanitizer.sanitize(_jsonable(value), surface="tool_result",
                                       session=self.id).result

    def tool(self, function: Callable[P, Any]) -> Callable[P, Any]:
        """Decorator: the tool's result (sync or async tool) is sanitized before the agent
        sees it."""
        if inspect.iscoroutinefunction(function):
            @wraps(function)
            async def awrapper(*args: P.args, **kwargs: P.kwargs) -> Json:
                return self.sanitize_tool_result(await function(*args, **kwargs))

            return awrapper

        @wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Json:
            return self.sanitize_tool_result(function(*args, **kwargs))

        return wrapper

    def forget(self) -> None:
        """End the conversation: its values become unrecoverable, its cache is dropped."""
        self.sanitizer.forget(self.id)
        self.cache.forget(self.id)


def flag_vault_failed(response: Any) -> None:
    """Mark a reply whose placeholders stayed because the vault could not be reached:
    ``response._hidden_params["sanitizer_vault_failed"]`` (litellm's place for extras)."""
    log.warning("vault unreachable while restoring a reply: placeholders left in place")
    hidden = getattr(response, "_hidden_params", None)
    if not isinstance(hidden, dict):
        hidden = {}
        try:
            response._hidden_params = hidden
        except (AttributeError, TypeError, ValueError):
            return
    hidden["sanitizer_vault_failed"] = True


def _refusal(resolved: ResolvedCall) -> str:
    return (f"[sanitizer] tool call {resolved.tool!r} was not run: "
            f"{resolved.refusal or 'it was refused'}.")


class RestoredStream:
    """What ``litellm.completion(stream=True)`` returns, restored chunk by chunk. Iterate
    it (``for`` or ``async for``, as the wrapped stream allows); any other attribute is the
    wrapped stream's. Nothing is buffered but a possible placeholder prefix and tool-call
    arguments (released, resolved, with their choice's finish chunk)."""

    def __init__(self, stream: Any, state: _StreamState) -> None:
        self._stream = stream
        self._state = state
        self._iterator: Any = None
        self._done = False

    @property
    def vault_failed(self) -> bool:
        """Whether a placeholder stayed in what was streamed so far because the vault
        could not be reached."""
        return any(r.vault_failed for r in self._state.restorers.values())

    def __iter__(self) -> RestoredStream:
        return self

    def __next__(self) -> Any:
        if self._done:
            raise StopIteration
        if self._iterator is None:
            self._iterator = iter(self._stream)
        try:
            chunk = next(self._iterator)
        except StopIteration:
            self._done = True
            tail = self._state.leftover()
            if tail is None:
                raise
            return tail
        return self._state.process(chunk)

    def __aiter__(self) -> RestoredStream:
        return self

    async def __anext__(self) -> Any:
        if self._done:
            raise StopAsyncIteration
        if self._iterator is None:
            self._iterator = self._stream.__aiter__()
        try:
            chunk = await self._iterator.__anext__()
        except StopAsyncIteration:
            self._done = True
            tail = self._state.leftover()
            if tail is None:
                raise
            return tail
        return self._state.process(chunk)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._stream, name)


class _StreamState:
    """Per-stream restoring: content through a streaming restorer per choice, tool-call
    deltas buffered and released (resolved) with the choice's finish chunk."""

    def __init__(self, owner: SanitizedSession) -> None:
        self.owner = owner
        self.restorers: dict[int, Any] = {}
        self.tools: dict[int, dict[int, dict[str, Any]]] = {}
        self.finished: set[int] = set()
        self.last: Any = None

    def process(self, chunk: Any) -> Any:
        self.last = chunk
        for choice in getattr(chunk, "choices", None) or []:
            index = getattr(choice, "index", 0) or 0
            delta = getattr(choice, "delta", None)
            if delta is None:
                continue
            restorer = self.restorers.get(index)
            if restorer is None:
                restorer = self.restorers[index] = self.owner.sanitizer.restorer(
                    session=self.owner.id)
            if isinstance(delta.content, str) and delta.content:
                delta.content = restorer.feed(delta.content)
            for call in getattr(delta, "tool_calls", None) or []:
                slot = self.tools.setdefault(index, {}).setdefault(
                    call.index or 0, {"id": None, "name": "", "arguments": "", "call": call})
                slot["id"] = slot["id"] or call.id
                if call.function is not None:
                    slot["name"] += call.function.name or ""
                    slot["arguments"] += call.function.arguments or ""
            if getattr(delta, "tool_calls", None):
                delta.tool_calls = None
            if choice.finish_reason:
                self._finish(index, choice)
        return chunk

    def _finish(self, index: int, choice: Any) -> None:
        self.finished.add(index)
        delta = choice.delta
        tail = self.restorers[index].flush() if index in self.restorers else ""
        calls, notes = [], []
        for slot in self.tools.pop(index, {}).values():
            resolved = self.owner.resolve_tool_call(slot["name"], slot["arguments"])
            if resolved.refused:
                notes.append(_refusal(resolved))
                continue
            call = copy.deepcopy(slot["call"])
            call.id = slot["id"]
            call.function.name = slot["name"]
            call.function.arguments = resolved.arguments
            calls.append(call)
        text = "".join(filter(None, [delta.content, tail, *("\n" + n for n in notes)]))
        delta.content = text or None
        if calls:
            delta.tool_calls = calls
        elif notes and choice.finish_reason == "tool_calls":
            choice.finish_reason = "stop"

    def leftover(self) -> Any:
        """A final chunk for what a stream without finish chunks left held back."""
        if self.last is None:
            return None
        pending = {i: r.flush() for i, r in self.restorers.items() if i not in self.finished}
        if not any(pending.values()):
            return None
        chunk = copy.deepcopy(self.last)
        for choice in chunk.choices:
            choice.delta.content = pending.get(getattr(choice, "index", 0) or 0) or None
            choice.delta.tool_calls = None
        return chunk


def _session(session: str | SanitizedSession | None, sanitizer: Sanitizer | None,
             confirm: Confirm | None) -> SanitizedSession:
    if isinstance(session, SanitizedSession):
        return session
    return SanitizedSession(sanitizer, session or "default", confirm=confirm)


def _call_kwargs(model: str | None, messages: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    if model is not None:
        kwargs["model"] = model
    if messages is not None:
        kwargs["messages"] = messages
    return kwargs


def completion(model: str | None = None, messages: Any = None, *,
               session: str | SanitizedSession | None = None,
               sanitizer: Sanitizer | None = None, confirm: Confirm | None = None,
               **kwargs: Any) -> Any:
    """``litellm.completion`` behind the sanitizer: same arguments, same return types.
    ``session`` (an id or a :class:`SanitizedSession`) keeps placeholders stable across
    calls; without ``sanitizer`` the package default (embedded settings) is used."""
    return _session(session, sanitizer, confirm).completion(
        **_call_kwargs(model, messages, kwargs))


async def acompletion(model: str | None = None, messages: Any = None, *,
                      session: str | SanitizedSession | None = None,
                      sanitizer: Sanitizer | None = None, confirm: Confirm | None = None,
                      **kwargs: Any) -> Any:
    """``litellm.acompletion`` behind the sanitizer (see :func:`completion`)."""
    return await _session(session, sanitizer, confirm).acompletion(
        **_call_kwargs(model, messages, kwargs))


@overload
def sanitized_tool(function: Callable[P, Any], *,
                   session: str | SanitizedSession | None = None,
                   sanitizer: Sanitizer | None = None) -> Callable[P, Any]: ...


@overload
def sanitized_tool(function: None = None, *, session: str | SanitizedSession | None = None,
                   sanitizer: Sanitizer | None = None
                   ) -> Callable[[Callable[P, Any]], Callable[P, Any]]: ...


def sanitized_tool(function: Callable[P, Any] | None = None, *,
                   session: str | SanitizedSession | None = None,
                   sanitizer: Sanitizer | None = None) -> Any:
    """Decorator: a tool's result is sanitized (untrusted: placeholder look-alikes
    disarmed) before it re-enters the context. ``@sanitized_tool`` or
    ``@sanitized_tool(session=chat)`` — use the conversation's session so placeholders
    match the ones the model already knows."""
    chat = _session(session, sanitizer, None)
    return chat.tool if function is None else chat.tool(function)


def sanitize_memory_write(record: Any, *, sanitizer: Sanitizer | None = None,
                          session: str | SanitizedSession = "memory") -> Json:
    """The memory-write gate: what an agent is about to remember, sanitized for the
    ``memory_write`` surface and the ``memory`` destination (secrets never stored in the
    clear). Placeholders belong to ``session`` in the sanitizer's vault: use a persistent
    vault to keep them restorable across processes."""
    if isinstance(session, SanitizedSession):
        sanitizer, session = session.sanitizer, session.id
    engine = sanitizer if sanitizer is not None else _default()
    return engine.sanitize(_jsonable(record), surface="memory_write", session=session,
                           destination="memory").result
