"""A guardrail for the LiteLLM proxy: every request sanitized before it goes upstream, every
reply (streamed or not) restored on the way back, with the same code as the SDK wrapper.

In the proxy's ``config.yaml`` (see ``examples/litellm-proxy/``)::

    guardrails:
      - guardrail_name: context-sanitizer
        litellm_params:
          guardrail: sanitizer.adapters.litellm_proxy.SanitizerGuardrail
          mode: [pre_call, post_call]
          default_on: true
          # optional, each also from the environment:
          # sanitizer_config: settings.toml         SANITIZER_CONFIG
          # sanitizer_policy: policy.toml           SANITIZER_POLICY   (tool tiers live here)
          # sanitizer_vault: redis://…              SANITIZER_VAULT    (default memory://)
          # sanitizer_audit_log: audit.jsonl        SANITIZER_AUDIT_LOG
          # sanitizer_ner: false                    SANITIZER_NER=0    (rules only)
          # sanitizer_confirm: mypkg.approvals:ask  SANITIZER_CONFIRM  (tier 2/3 approvals)
          # sanitizer_timeout: 30                   SANITIZER_TIMEOUT  (seconds, then 400)

Hooks: ``async_pre_call_hook`` (sanitize ``messages``; ``prompt``/``input`` of other routes
as JSON), ``async_post_call_success_hook`` (restore), ``async_post_call_streaming_iterator_hook``
(restore chunk by chunk, holding back only a possible placeholder prefix). A request the
sanitizer cannot clean is refused with HTTP 400 and a reason that quotes nothing.

Session identity — so a conversation keeps its placeholders across requests — comes from
``metadata.sanitizer_session``, the ``x-sanitizer-session`` header, ``litellm_session_id`` or
``metadata.session_id``; it is scoped by the caller's API key, so one key can never restore
another key's values. Without one, each request is its own session (numbering follows order
of appearance, so a resent history gets the same placeholders), forgotten when it ends.
Tier 2/3 tool calls are refused unless ``sanitizer_confirm`` names an approval function.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncGenerator, Mapping
from importlib import import_module
from typing import Any

from litellm.integrations.custom_guardrail import CustomGuardrail

from ..engine import Json, Sanitizer
from ..errors import Blocked, ConfigError, SanitizerError
from ..tools import Confirm
from .litellm_sdk import SanitizedSession, _blocked

SESSION_HEADER = "x-sanitizer-session"
_EPHEMERAL = "request-"


def _flag(value: Any) -> bool:
    return str(value).strip().lower() not in ("0", "false", "no", "off", "")


def _load_confirm(path: str | None) -> Confirm | None:
    """``module:function`` (or ``module.function``) → the approval callback."""
    if not path:
        return None
    module, _, name = path.partition(":") if ":" in path else path.rpartition(".")
    try:
        found = getattr(import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        raise ConfigError(f"sanitizer_confirm: cannot import {path!r}") from None
    if not callable(found):
        raise ConfigError(f"sanitizer_confirm: {path!r} is not callable")
    confirm: Confirm = found
    return confirm


class SanitizerGuardrail(CustomGuardrail):  # type: ignore[misc]
    def __init__(
        self,
        sanitizer_config: str | None = None,
        sanitizer_policy: str | None = None,
        sanitizer_vault: str | None = None,
        sanitizer_audit_log: str | None = None,
        sanitizer_ner: bool | str | None = None,
        sanitizer_confirm: str | None = None,
        sanitizer_timeout: float | str | None = None,
        sanitizer: Sanitizer | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        env = os.environ
        self._options = {"config": sanitizer_config or env.get("SANITIZER_CONFIG"),
                         "policy": sanitizer_policy or env.get("SANITIZER_POLICY"),
                         "vault": sanitizer_vault or env.get("SANITIZER_VAULT"),
                         "audit_log": sanitizer_audit_log or env.get("SANITIZER_AUDIT_LOG")}
        ner = sanitizer_ner if sanitizer_ner is not None else env.get("SANITIZER_NER", "1")
        self._ner = _flag(ner)
        self._confirm = _load_confirm(sanitizer_confirm or env.get("SANITIZER_CONFIRM"))
        timeout = sanitizer_timeout if sanitizer_timeout is not None else \
            env.get("SANITIZER_TIMEOUT", "30")
        try:
            self._timeout: float | None = float(timeout) if float(timeout) > 0 else None
        except ValueError:
            raise ConfigError(f"sanitizer_timeout must be a number, got {timeout!r}") from None
        self._sanitizer = sanitizer
        if sanitizer is None:
            # Build and warm up now: a broken policy stops the proxy at start-up (fail
            # closed), and the first request does not pay for compiling rules and models.
            self.sanitizer.warm_up()

    @property
    def sanitizer(self) -> Sanitizer:
        if self._sanitizer is None:
            from argparse import Namespace

            from ..cli.common import make_sanitizer

            # Same wiring as the CLI: policy file, vault URL, audit log, master key from env.
            self._sanitizer = make_sanitizer(Namespace(
                config=self._options["config"], policy=self._options["policy"],
                no_ner=not self._ner, vault=self._options["vault"] or "memory://",
                audit_log=self._options["audit_log"], key_file=None, tenant="default"))
        return self._sanitizer

    # -- sessions ---------------------------------------------------------------------

    def _chat(self, data: dict[str, Any], user_api_key_dict: Any) -> SanitizedSession:
        session = f"{_key_scope(user_api_key_dict)}/{_session_id(data)}"
        return SanitizedSession(self.sanitizer, session, confirm=self._confirm,
                                sanitize_timeout=self._timeout)

    def _end(self, data: dict[str, Any], user_api_key_dict: Any) -> None:
        """A request without a session id is its own session: forget it when it ends."""
        if _session_id(data).startswith(_EPHEMERAL):
            self._chat(data, user_api_key_dict).forget()

    # -- hooks ------------------------------------------------------------------------

    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict[str, Any],
                                  call_type: Any) -> dict[str, Any]:
        metadata = data.get("metadata")
        if not isinstance(metadata, dict):
            metadata = data["metadata"] = {}
        metadata["sanitizer_session"] = _session_id(data)
        chat = self._chat(data, user_api_key_dict)
        try:
            if "messages" in data:
                request = await chat.asanitize_request({"messages": data["messages"]})
                data["messages"] = request["messages"]
            for key in ("prompt", "input"):
                if key in data and "messages" not in data:
                    data[key] = await self._sanitize_json(chat, data[key])
        except Blocked as exc:
            self._end(data, user_api_key_dict)
            raise _refuse(exc) from None
        _scrub_logged_body(data)
        return data

    async def _sanitize_json(self, chat: SanitizedSession, value: Json) -> Json:
        def work() -> Json:
            return chat.sanitizer.sanitize(value, surface="prompt", session=chat.id).result

        try:
            return await asyncio.wait_for(asyncio.to_thread(work), timeout=self._timeout)
        except Exception as exc:
            raise _blocked(exc, self._timeout) from None

    async def async_post_call_success_hook(self, data: dict[str, Any], user_api_key_dict: Any,
                                           response: Any) -> Any:
        try:
            if getattr(response, "choices", None) is None:
                return response
            return self._chat(data, user_api_key_dict).restore_response(response)
        finally:
            self._end(data, user_api_key_dict)

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: Any, response: Any, request_data: dict[str, Any],
    ) -> AsyncGenerator[Any, None]:
        try:
            async for chunk in self._chat(request_data, user_api_key_dict).arestore_stream(
                    response):
                yield chunk
        finally:
            self._end(request_data, user_api_key_dict)

    async def async_post_call_failure_hook(self, request_data: dict[str, Any],
                                           original_exception: Exception,
                                           user_api_key_dict: Any,
                                           traceback_str: str | None = None) -> None:
        self._end(request_data, user_api_key_dict)


def _refuse(exc: SanitizerError) -> Exception:
    from fastapi import HTTPException

    return HTTPException(status_code=400, detail={"error": f"context-sanitizer: {exc}"})


def _scrub_logged_body(data: dict[str, Any]) -> None:
    """The proxy keeps a copy of the raw request body for its logs and callbacks: it gets
    the sanitized version too."""
    body = (data.get("proxy_server_request") or {}).get("body")
    if isinstance(body, dict):
        for key in ("messages", "prompt", "input"):
            if key in body and key in data:
                body[key] = data[key]


def _key_scope(user_api_key_dict: Any) -> str:
    """A short digest of the caller's (already hashed) API key: the sessions of one key are
    invisible to every other key."""
    token = getattr(user_api_key_dict, "token", None) or \
        getattr(user_api_key_dict, "api_key", None) or \
        getattr(user_api_key_dict, "user_id", None) or "anonymous"
    return hashlib.sha256(str(token).encode()).hexdigest()[:16]


def _session_id(data: dict[str, Any]) -> str:
    metadata = data.get("metadata") or {}
    if metadata.get("sanitizer_session"):
        return str(metadata["sanitizer_session"])
    headers = (data.get("proxy_server_request") or {}).get("headers") or {}
    if isinstance(headers, Mapping):
        for name, value in headers.items():
            if str(name).lower() == SESSION_HEADER and value:
                return str(value)
    for candidate in (data.get("litellm_session_id"), metadata.get("session_id"),
                      (data.get("litellm_metadata") or {}).get("session_id")):
        if candidate:
            return str(candidate)
    return f"{_EPHEMERAL}{uuid.uuid4().hex}"
