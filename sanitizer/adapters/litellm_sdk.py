"""Drop-ins for ``litellm.completion`` / ``litellm.acompletion`` that sanitize every message
before it leaves and restore the reply (streamed or not) on the way back.

    from sanitizer.adapters.litellm_sdk import SanitizedSession
    chat = SanitizedSession(session="conv-42")
    reply = chat.completion(model="gpt-4o-mini", messages=[...])     # same kwargs as litellm

Fail closed: if sanitizing fails or times out nothing is sent and :class:`Blocked` says why.
Retries (tenacity) wrap only the model call, on transient errors, after sanitizing once;
litellm's own retries are switched off so attempts don't multiply; a stream is never retried
once it has started.
"""

from __future__ import annotations

import concurrent.futures
import copy
import os
from collections.abc import AsyncIterator, Callable, Iterator
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from ..engine import Json, Sanitizer
from ..errors import Blocked, SanitizerError
from ..messages import MessageCache, sanitize_messages
from ..tools import Confirm, ResolvedCall, resolve_tool_call
from .retry import RetrySettings, retrying_kwargs

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch a price list

P = ParamSpec("P")
R = TypeVar("R")


class SanitizedSession:
    """One conversation: its placeholders stay stable across calls, its messages are
    sanitized once (conversation cache), its tool calls pass the tool policy."""

    def __init__(
        self,
        sanitizer: Sanitizer | None = None,
        session: str = "default",
        *,
        confirm: Confirm | None = None,
        retry: RetrySettings | None = None,
        sanitize_timeout: float | None = 30.0,
        cache: MessageCache | None = None,
    ) -> None:
        self.sanitizer = sanitizer or Sanitizer()
        self.id = session
        self.confirm = confirm
        self.retry = retry or RetrySettings()
        self.sanitize_timeout = sanitize_timeout
        self.cache = cache if cache is not None else MessageCache(os.urandom(32))
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    # -- outbound ---------------------------------------------------------------------

    def sanitize_request(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``kwargs`` with sanitized messages and litellm's retries off."""
        if "messages" not in kwargs:
            raise Blocked("no messages to send")

        def work() -> list[dict[str, Any]]:
            return sanitize_messages(self.sanitizer, kwargs["messages"], self.id, self.cache)

        try:
            if self.sanitize_timeout is None:
                messages = work()
            else:
                if self._pool is None:
                    self._pool = concurrent.futures.ThreadPoolExecutor(
                        max_workers=2, thread_name_prefix="sanitize")
                messages = self._pool.submit(work).result(timeout=self.sanitize_timeout)
        except concurrent.futures.TimeoutError:
            raise Blocked(f"sanitizing took longer than {self.sanitize_timeout}s; "
                          "nothing was sent") from None
        except SanitizerError as exc:
            if isinstance(exc, Blocked):
                raise
            raise Blocked(f"sanitizing failed: {exc}") from None
        except Exception as exc:
            raise Blocked(f"sanitizing failed ({type(exc).__name__}); nothing was sent") \
                from None
        out = {k: v for k, v in kwargs.items() if k != "messages"}
        out["messages"] = messages
        out["num_retries"] = 0
        out["max_retries"] = 0
        return out

    # -- calls ------------------------------------------------------------------------

    def completion(self, **kwargs: Any) -> Any:
        """``litellm.completion`` with the same arguments and return types."""
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

        request = self.sanitize_request(kwargs)
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
        for choice in getattr(response, "choices", []):
            message = getattr(choice, "message", None)
            if message is None:
                continue
            if isinstance(message.content, str):
                message.content = self.sanitizer.restore(message.content, session=self.id)
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
        return response

    def restore_stream(self, stream: Any) -> Iterator[Any]:
        state = _StreamState(self)
        for chunk in stream:
            yield state.process(chunk)
        tail = state.leftover()
        if tail is not None:
            yield tail

    async def arestore_stream(self, stream: Any) -> AsyncIterator[Any]:
        state = _StreamState(self)
        async for chunk in stream:
            yield state.process(chunk)
        tail = state.leftover()
        if tail is not None:
            yield tail

    # -- helpers for agent code -------------------------------------------------------

    def sanitize_tool_result(self, value: Json) -> Json:
        """A tool's output, sanitized (and placeholder look-alikes disarmed) before it
        re-enters the context."""
        return self.sanitizer.sanitize(value, surface="tool_result", session=self.id).result

    def tool(self, function: Callable[P, R]) -> Callable[P, Json]:
        """Decorator: the tool's result is sanitized before the agent sees it."""
        @wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Json:
            result: Any = function(*args, **kwargs)
            return self.sanitize_tool_result(result)

        return wrapper

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)


def _refusal(resolved: ResolvedCall) -> str:
    return (f"[sanitizer] tool call {resolved.tool!r} was not run: it needs approval"
            + (" with a reason" if resolved.reason is None else "") + ".")


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
        for choice in getattr(chunk, "choices", []):
            index = getattr(choice, "index", 0) or 0
            delta = choice.delta
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


def completion(*, session: str | SanitizedSession | None = None,
               sanitizer: Sanitizer | None = None, confirm: Confirm | None = None,
               **kwargs: Any) -> Any:
    """``litellm.completion`` behind the sanitizer (one-off; use a SanitizedSession for a
    conversation so its message cache carries over)."""
    return _session(session, sanitizer, confirm).completion(**kwargs)


async def acompletion(*, session: str | SanitizedSession | None = None,
                      sanitizer: Sanitizer | None = None, confirm: Confirm | None = None,
                      **kwargs: Any) -> Any:
    return await _session(session, sanitizer, confirm).acompletion(**kwargs)


def sanitize_memory_write(record: Json, *, sanitizer: Sanitizer | None = None,
                          session: str = "memory") -> Json:
    """The memory-write gate: what an agent is about to remember, sanitized for the
    ``memory_write`` surface (secrets never stored in the clear)."""
    return (sanitizer or Sanitizer()).sanitize(record, surface="memory_write", session=session,
                                               destination="memory").result
