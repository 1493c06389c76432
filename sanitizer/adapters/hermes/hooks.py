"""Hermes middleware and hooks: where the agent loop and its tools meet the sanitizer.

* ``llm_request`` middleware — sanitizes the request's messages (so observers and request
  dumps see no values), tags it with its session (read and removed by the SDK wrapper,
  which sanitizes again and fails closed, see :mod:`.boundary`) and binds the session to
  the agent's thread.
* ``tool_request`` middleware — restores the placeholders of a tool call where the tool
  policy allows (tier 2/3 after confirmation); memory-tool arguments are sanitized for the
  memory destination instead.
* ``pre_tool_call`` hook — blocks a call whose confirmation was refused.
* ``tool_execution`` middleware — sanitizes the tool's output before it enters the history.
* ``on_session_start`` hook — notes the session (for calls made outside the agent loop).

Hermes isolates callbacks: an exception is logged and the call goes on *unchanged*. So
every callback here handles its own errors and fails towards less restored data: a broken
restore leaves placeholders, a broken tool-result sanitize withholds the result.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

from ...errors import SanitizerError
from .boundary import MARKER
from .runtime import Guard

logger = logging.getLogger("sanitizer.hermes")
SOURCE = "context-sanitizer"
COVERED_API_MODES = frozenset({"chat_completions", ""})


class HermesHooks:
    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self._warned: set[str] = set()

    def register(self, ctx: Any) -> None:
        ctx.register_middleware("llm_request", self.llm_request)
        ctx.register_middleware("tool_request", self.tool_request)
        ctx.register_middleware("tool_execution", self.tool_execution)
        ctx.register_hook("pre_tool_call", self.pre_tool_call)
        ctx.register_hook("on_session_start", self.on_session_start)

    def _session(self, kwargs: dict[str, Any]) -> str:
        return self.guard.vault_session(str(kwargs.get("session_id") or "hermes-default"))

    # -- model requests ---------------------------------------------------------------

    def llm_request(self, **kwargs: Any) -> dict[str, Any] | None:
        request = kwargs.get("request")
        if not isinstance(request, dict):
            return None
        session = self._session(kwargs)
        Guard.bind(session)  # stays bound in the agent thread: summary and aux calls
        mode = str(kwargs.get("api_mode") or "")
        if mode not in COVERED_API_MODES and mode not in self._warned:
            self._warned.add(mode)
            logger.warning("context-sanitizer does not cover Hermes' %r transport: its "
                           "requests are blocked (use an OpenAI-compatible endpoint)", mode)
        changed = {**request, MARKER: session}
        if mode in COVERED_API_MODES and isinstance(request.get("messages"), list):
            # Sanitized here too, so that what Hermes shows its observers (pre_api_request
            # hooks such as Langfuse, request dumps) holds no values. The SDK boundary
            # sanitizes again (a no-op on sanitized text) and fails closed if this failed.
            with contextlib.suppress(Exception):
                changed["messages"] = self.guard.sanitize_messages(session,
                                                                   request["messages"])
        return {"request": changed, "source": SOURCE, "reason": "sanitized"}

    def on_session_start(self, **kwargs: Any) -> None:
        if kwargs.get("session_id"):
            self._session(kwargs)

    # -- tools ------------------------------------------------------------------------

    def tool_request(self, **kwargs: Any) -> dict[str, Any] | None:
        args = kwargs.get("args")
        tool = str(kwargs.get("tool_name") or "")
        if not isinstance(args, dict) or not tool:
            return None
        session = self._session(kwargs)
        try:
            changed = self.guard.tool_arguments(session, tool,
                                                str(kwargs.get("tool_call_id") or ""), args)
        except SanitizerError as exc:
            logger.warning("context-sanitizer left %r's arguments as the model wrote them "
                           "(%s)", tool, exc)
            return None
        if changed is None:
            return None
        return {"args": changed, "source": SOURCE, "reason": "placeholders resolved"}

    def pre_tool_call(self, **kwargs: Any) -> dict[str, Any] | None:
        tool = str(kwargs.get("tool_name") or "")
        session = self._session(kwargs)
        message = self.guard.refusal(session, tool, str(kwargs.get("tool_call_id") or ""))
        return {"action": "block", "message": message} if message else None

    def tool_execution(self, **kwargs: Any) -> Any:
        next_call = kwargs["next_call"]
        session = self._session(kwargs)
        token = Guard.bind(session)  # auxiliary calls the tool makes find their session
        try:
            result = next_call(kwargs.get("args"))
        finally:
            Guard.unbind(token)
        try:
            return self.guard.tool_result(session, result)
        except Exception as exc:
            reason = str(exc) if isinstance(exc, SanitizerError) else type(exc).__name__
            logger.warning("context-sanitizer withheld a %r result (%s)",
                           kwargs.get("tool_name"), reason)
            return json.dumps({"error": "[context-sanitizer] the tool's output could not be "
                                        f"sanitized ({reason}), so it was withheld."})
