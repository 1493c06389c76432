"""A local OpenAI-compatible model stub on 127.0.0.1, for demos and tests (never a real
provider). It records every request it receives, answers ``/v1/chat/completions`` (plain
and streamed, in small chunks that split placeholders) and can be scripted to return tool
calls.

    with StubModel() as stub:                 # stub.base_url → http://127.0.0.1:PORT/v1
        ... call it ...
        stub.requests                         # every JSON body it received
        stub.replies                          # what it answered to each

Default reply: ``"You said: " + <last user or tool message>`` — echoing placeholders back,
as a model that uses them would.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer: text, tool calls, or both. ``fail_after``: a streamed answer
    breaks off with an error event after that many content chunks. ``call_ids``: ids of
    the tool calls (default ``call_0``, ``call_1`` …; agents that keep a history, such as
    Hermes, need ids unique across replies)."""

    text: str | None = None
    tool_calls: tuple[tuple[str, dict[str, Any]], ...] = ()
    fail_after: int | None = None
    call_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Failure:
    """A scripted HTTP error (429, 500, 503 …) instead of an answer."""

    status: int
    message: str = "stub failure"


Script = Callable[[dict[str, Any]], "Reply | Failure"]


def echo(request: dict[str, Any]) -> Reply:
    messages = request.get("messages") or []
    for message in reversed(messages):
        if message.get("role") in ("user", "tool"):
            content = message.get("content")
            if isinstance(content, list):
                content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return Reply(text=f"You said: {content}")
    return Reply(text="Hello.")


@dataclass
class StubModel:
    script: Script = echo
    chunk_size: int = 3
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    replies: list[Reply | Failure] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the stub first"
        return f"http://{self.host}:{self._server.server_address[1]}/v1"

    def start(self) -> StubModel:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return  # silent: requests carry (sanitized) prompts

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/_requests"):
                    with stub._lock:
                        body = json.dumps(stub.requests).encode()
                    self._send(200, body, "application/json")
                elif self.path.rstrip("/").endswith("/models"):
                    self._send(200, b'{"object":"list","data":[{"id":"stub","object":"model"}]}',
                               "application/json")
                else:
                    self._send(404, b"{}", "application/json")

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                try:
                    request = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    self._send(400, b'{"error":{"message":"bad json"}}', "application/json")
                    return
                with stub._lock:
                    stub.requests.append(request)
                reply = stub.script(request)
                with stub._lock:
                    stub.replies.append(reply)
                if isinstance(reply, Failure):
                    error = {"error": {"message": reply.message, "type": "stub_error"}}
                    self._send(reply.status, json.dumps(error).encode(), "application/json")
                    return
                if request.get("stream"):
                    self.send_response(200)
                    self.send_header("content-type", "text/event-stream")
                    self.end_headers()
                    for event in stub._events(request, reply):
                        self.wfile.write(b"data: " + event.encode() + b"\n\n")
                        self.wfile.flush()
                    if reply.fail_after is None:
                        self.wfile.write(b"data: [DONE]\n\n")
                        self.wfile.flush()
                else:
                    self._send(200, json.dumps(stub._completion(request, reply)).encode(),
                               "application/json")

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StubModel:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- wire format ------------------------------------------------------------------

    @staticmethod
    def _calls(reply: Reply) -> list[dict[str, Any]]:
        return [{"id": reply.call_ids[i] if i < len(reply.call_ids) else f"call_{i}",
                 "type": "function",
                 "function": {"name": name, "arguments": json.dumps(args)}}
                for i, (name, args) in enumerate(reply.tool_calls)]

    def _completion(self, request: dict[str, Any], reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if reply.tool_calls:
            message["tool_calls"] = self._calls(reply)
        return {
            "id": "chatcmpl-stub", "object": "chat.completion", "created": int(time.time()),
            "model": request.get("model", "stub"),
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "tool_calls" if reply.tool_calls else "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }

    def _events(self, request: dict[str, Any], reply: Reply) -> Iterator[str]:
        base = {"id": "chatcmpl-stub", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": request.get("model", "stub")}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            return json.dumps({**base, "choices": [{"index": 0, "delta": delta,
                                                    "finish_reason": finish}]})

        yield chunk({"role": "assistant", "content": ""})
        text = reply.text or ""
        for number, start in enumerate(range(0, len(text), self.chunk_size)):
            if reply.fail_after is not None and number >= reply.fail_after:
                yield json.dumps({"error": {"message": "stub stream broke off",
                                            "type": "server_error", "code": 500}})
                return
            yield chunk({"content": text[start:start + self.chunk_size]})
        for index, call in enumerate(self._calls(reply)):
            arguments = call["function"]["arguments"]
            yield chunk({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                         "function": {"name": call["function"]["name"],
                                                      "arguments": ""}}]})
            for start in range(0, len(arguments), self.chunk_size):
                yield chunk({"tool_calls": [{"index": index, "function": {
                    "arguments": arguments[start:start + self.chunk_size]}}]})
        yield chunk({}, "tool_calls" if reply.tool_calls else "stop")
