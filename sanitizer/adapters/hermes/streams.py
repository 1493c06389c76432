"""Model replies on their way back into Hermes: text restored, tool calls left alone.

Only visible text is restored here (secrets stay placeholders: the engine never reveals
them to the user). Tool-call arguments keep their placeholders — Hermes stores the call as
the model made it, and the ``tool_request`` middleware restores arguments just before the
tool runs, where the tool policy and the approval tiers decide. Streams are restored chunk
by chunk, holding back only what could still become a placeholder; the wrappers behave
like the SDK's ``Stream``/``AsyncStream`` (iteration, ``response``, ``close``, context
manager) and expose no ``choices`` (Hermes tells streams from responses by that).
"""

from __future__ import annotations

import copy
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any

from ...tokens import StreamingRestorer

Restore = Callable[[str], str]
NewRestorer = Callable[[], StreamingRestorer]


def restore_completion(response: Any, restore: Restore) -> Any:
    """A whole chat completion, restored in place."""
    for choice in getattr(response, "choices", None) or []:
        message = getattr(choice, "message", None)
        if message is not None and isinstance(getattr(message, "content", None), str):
            message.content = restore(message.content)
    return response


class _Chunks:
    """Per-stream state: one streaming restorer per choice."""

    def __init__(self, new_restorer: NewRestorer) -> None:
        self._new = new_restorer
        self._restorers: dict[int, StreamingRestorer] = {}
        self._finished: set[int] = set()
        self._last: Any = None

    def process(self, chunk: Any) -> Any:
        self._last = chunk
        for choice in getattr(chunk, "choices", None) or []:
            index = getattr(choice, "index", 0) or 0
            delta = getattr(choice, "delta", None)
            restorer = self._restorers.get(index)
            if restorer is None:
                restorer = self._restorers[index] = self._new()
            text = getattr(delta, "content", None) if delta is not None else None
            if delta is not None and isinstance(text, str) and text:
                delta.content = restorer.feed(text)
            if getattr(choice, "finish_reason", None) and index not in self._finished:
                self._finished.add(index)
                tail = restorer.flush()
                if tail and delta is not None:
                    delta.content = (delta.content or "") + tail
        return chunk

    def leftover(self) -> Any:
        """A last chunk for text held back by a stream that ended without finish chunks."""
        pending = {i: r.flush() for i, r in self._restorers.items() if i not in self._finished}
        if self._last is None or not any(pending.values()):
            return None
        chunk = copy.deepcopy(self._last)
        for choice in getattr(chunk, "choices", None) or []:
            delta = getattr(choice, "delta", None)
            if delta is not None:
                delta.content = pending.get(getattr(choice, "index", 0) or 0) or None
                if hasattr(delta, "tool_calls"):
                    delta.tool_calls = None
        return chunk


def _once(function: Callable[[], None]) -> Callable[[], None]:
    called = False

    def run() -> None:
        nonlocal called
        if not called:
            called = True
            function()

    return run


class RestoredStream:
    """Wraps an SDK ``Stream``: restored chunks out, everything else delegated."""

    def __init__(self, stream: Any, new_restorer: NewRestorer,
                 done: Callable[[], None] = lambda: None) -> None:
        self._stream = stream
        self._chunks = _Chunks(new_restorer)
        self._done = _once(done)
        self._iterator = self._iterate()

    def _iterate(self) -> Generator[Any, None, None]:
        try:
            for chunk in self._stream:
                yield self._chunks.process(chunk)
            tail = self._chunks.leftover()
            if tail is not None:
                yield tail
        finally:
            self._done()

    def __iter__(self) -> Generator[Any, None, None]:
        return self._iterator

    def __next__(self) -> Any:
        return next(self._iterator)

    def __enter__(self) -> RestoredStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._iterator.close()
        self._done()
        close = getattr(self._stream, "close", None)
        if callable(close):
            close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class AsyncRestoredStream:
    """Wraps an SDK ``AsyncStream`` the same way."""

    def __init__(self, stream: Any, new_restorer: NewRestorer,
                 done: Callable[[], None] = lambda: None) -> None:
        self._stream = stream
        self._chunks = _Chunks(new_restorer)
        self._done = _once(done)
        self._iterator = self._iterate()

    async def _iterate(self) -> AsyncGenerator[Any, None]:
        try:
            async for chunk in self._stream:
                yield self._chunks.process(chunk)
            tail = self._chunks.leftover()
            if tail is not None:
                yield tail
        finally:
            self._done()

    def __aiter__(self) -> AsyncGenerator[Any, None]:
        return self._iterator

    async def __anext__(self) -> Any:
        return await self._iterator.__anext__()

    async def __aenter__(self) -> AsyncRestoredStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._iterator.aclose()
        self._done()
        close = getattr(self._stream, "close", None)
        if callable(close):
            result = close()
            if hasattr(result, "__await__"):
                await result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
