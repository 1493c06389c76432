"""A guardrail for the LiteLLM proxy: every request sanitized before it goes upstream, every
reply (streamed or not) restored on the way back, with the same code as the SDK wrapper.

In the proxy's ``config.yaml``::

    guardrails:
      - guardrail_name: context-sanitizer
        litellm_params:
          guardrail: sanitizer.adapters.litellm_proxy.SanitizerGuardrail
          mode: [pre_call, post_call]
          default_on: true
          # optional: sanitizer_config, sanitizer_policy, sanitizer_vault, sanitizer_audit_log

Session identity (so a conversation keeps its placeholders across requests) comes from the
``x-sanitizer-session`` header, ``litellm_session_id`` or ``metadata.session_id``; without
one, each request is its own session (numbering follows order of appearance, so a resent
history gets the same placeholders again).
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator
from typing import Any

from litellm.integrations.custom_guardrail import CustomGuardrail

from ..engine import Sanitizer
from ..messages import MessageCache
from .litellm_sdk import SanitizedSession

SESSION_HEADER = "x-sanitizer-session"


class SanitizerGuardrail(CustomGuardrail):  # type: ignore[misc]
    def __init__(
        self,
        sanitizer_config: str | None = None,
        sanitizer_policy: str | None = None,
        sanitizer_vault: str | None = None,
        sanitizer_audit_log: str | None = None,
        sanitizer: Sanitizer | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._options = {"config": sanitizer_config or os.environ.get("SANITIZER_CONFIG"),
                         "policy": sanitizer_policy or os.environ.get("SANITIZER_POLICY"),
                         "vault": sanitizer_vault or os.environ.get("SANITIZER_VAULT"),
                         "audit_log": sanitizer_audit_log or os.environ.get("SANITIZER_AUDIT_LOG")}
        self._sanitizer = sanitizer
        self._cache = MessageCache(os.urandom(32))
        self._sessions: OrderedDict[str, SanitizedSession] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def sanitizer(self) -> Sanitizer:
        if self._sanitizer is None:
            from argparse import Namespace

            from ..cli.common import make_sanitizer

            # Same wiring as the CLI: policy file, vault URL, audit log, master key from env.
            self._sanitizer = make_sanitizer(Namespace(
                config=self._options["config"], policy=self._options["policy"], no_ner=False,
                vault=self._options["vault"] or "memory://", audit_log=self._options["audit_log"],
                key_file=None, tenant="default"))
        return self._sanitizer

    def _session(self, data: dict[str, Any]) -> SanitizedSession:
        session_id = _session_id(data)
        with self._lock:
            chat = self._sessions.get(session_id)
            if chat is None:
                chat = SanitizedSession(self.sanitizer, session_id, cache=self._cache,
                                        sanitize_timeout=None)
                self._sessions[session_id] = chat
                while len(self._sessions) > 10_000:
                    self._sessions.popitem(last=False)
            return chat

    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict[str, Any],
                                  call_type: Any) -> dict[str, Any]:
        if "messages" not in data:
            return data
        data.setdefault("metadata", {}).setdefault("sanitizer_session", _session_id(data))
        chat = self._session(data)
        request = await asyncio.to_thread(chat.sanitize_request, {"messages": data["messages"]})
        data["messages"] = request["messages"]
        return data

    async def async_post_call_success_hook(self, data: dict[str, Any], user_api_key_dict: Any,
                                           response: Any) -> Any:
        if getattr(response, "choices", None) is None:
            return response
        return self._session(data).restore_response(response)

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: Any, response: Any, request_data: dict[str, Any],
    ) -> AsyncGenerator[Any, None]:
        async for chunk in self._session(request_data).arestore_stream(response):
            yield chunk


def _session_id(data: dict[str, Any]) -> str:
    metadata = data.get("metadata") or {}
    if metadata.get("sanitizer_session"):
        return str(metadata["sanitizer_session"])
    headers = (data.get("proxy_server_request") or {}).get("headers") or {}
    for name, value in headers.items():
        if name.lower() == SESSION_HEADER and value:
            return str(value)
    for candidate in (data.get("litellm_session_id"), metadata.get("session_id"),
                      (data.get("litellm_metadata") or {}).get("session_id")):
        if candidate:
            return str(candidate)
    return f"request-{uuid.uuid4().hex}"
