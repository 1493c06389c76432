"""No plaintext anywhere, on the failure paths and through the middleware.

``tests/test_canary.py`` plants values and checks the Python API's and the CLI's outputs,
logs, files and errors. This module covers what that one does not reach:

* every failure path of the hardening work (detector crash that quotes its input, a vault
  that crashes quoting the value, audit sink down, input limits, JSON depth, non-JSON
  containers, policy blocks, CLI located errors) — the error's message, its formatted
  traceback *and* every exception chained to it (``__cause__`` / ``__context__``), since
  error trackers walk the chain;
* a whole agent turn through the litellm drop-in and the stub model (plain, streamed, with
  a tool call and a tool result) with *every* logger at DEBUG, litellm's own included.

Across the whole suite, ``conftest.py`` additionally scans every record of the
``sanitizer`` loggers (at DEBUG) for anything the rules detect.
"""

from __future__ import annotations

import json
import logging
import os
import random
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sanitizer.adapters.litellm_sdk import SanitizedSession
from sanitizer.adapters.retry import RetrySettings
from sanitizer.audit import AuditLog, FileSink, LoggingSink
from sanitizer.engine import Sanitizer
from sanitizer.errors import AuditError, SanitizerError, VaultError
from sanitizer.examples import expand
from sanitizer.findings import Finding
from sanitizer.keys import KeyRing
from sanitizer.policy import Policy
from sanitizer.stub_model import Reply, StubModel
from sanitizer.tools import ToolPolicy, ToolRule
from sanitizer.vault import MemoryStore, SealedVault, open_vault

RNG = random.Random(os.urandom(8))
TAG = os.urandom(4).hex()
PLANTED = {
    "email": f"plain.{TAG}@example.org",
    "card": expand("{card:visa}", RNG).text,
    "token": expand("{github_token:ghp}", RNG).text,
    "iban": expand("{iban:DE}", RNG).text,
}
TEXT = (f"mail {PLANTED['email']}, card {PLANTED['card']}, iban {PLANTED['iban']}, "
        f"token {PLANTED['token']}")


def forms() -> list[str]:
    out = []
    for value in PLANTED.values():
        out += [value, value.lower(), value.encode().hex(), json.dumps(value)[1:-1]]
    return out


def assert_clean(where: str, data: str | bytes) -> None:
    text = data.decode("latin-1") if isinstance(data, bytes) else data
    for form in forms():
        assert form not in text, f"a planted value leaked into {where}"


def chain(exc: BaseException) -> list[BaseException]:
    """The exception and everything chained to it, suppressed context included."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [current.__cause__, current.__context__]
    return seen


class Quoting:
    """A detector that crashes quoting its input, as careless libraries do."""

    name = "quoting"

    def detect(self, text: str) -> list[Finding]:
        raise ValueError(f"cannot parse {text!r}")


class LeakyVault:
    """A vault whose driver crashes quoting the value it was given."""

    def __init__(self, fail: str) -> None:
        self.inner = SealedVault(MemoryStore(), KeyRing.ephemeral())
        self.fail = fail

    def tokenize(self, session: str, entity: str, value: str) -> int:
        if self.fail == "tokenize":
            raise ConnectionResetError(f"lost connection while storing {value!r}")
        if self.fail == "vault-error":
            raise VaultError("the vault is down")
        return self.inner.tokenize(session, entity, value)

    def reveal(self, session: str, entity: str, number: int) -> str | None:
        return self.inner.reveal(session, entity, number)

    def forget(self, session: str) -> None:
        self.inner.forget(session)

    def close(self) -> None:
        self.inner.close()


class FullDisk:
    def write(self, line: str) -> None:
        raise AuditError("cannot write audit log (No space left on device)")

    def close(self) -> None:
        return None


def _rules_only(**kwargs: Any) -> Sanitizer:
    return Sanitizer(ner=False, known_values_from_env=False, **kwargs)


FAILURES: dict[str, Callable[[], object]] = {
    "detector quotes its input": lambda: _rules_only(detectors=[Quoting()]).sanitize(TEXT),
    "vault driver quotes the value": lambda: _rules_only(
        vault=LeakyVault("tokenize")).sanitize(TEXT),
    "vault down": lambda: _rules_only(vault=LeakyVault("vault-error")).sanitize(TEXT),
    "audit disk full": lambda: _rules_only(
        audit=AuditLog(KeyRing.ephemeral().audit_key(), [FullDisk()])).sanitize(TEXT),
    "input too large": lambda: _rules_only(max_input_chars=20).sanitize(TEXT),
    "too many findings": lambda: _rules_only(max_findings=2).sanitize(TEXT),
    "json too deep": lambda: _rules_only(max_json_depth=2).sanitize({"a": {"b": {"c": TEXT}}}),
    "not json": lambda: _rules_only().sanitize({"x": (TEXT,)}),  # type: ignore[dict-item]
    "policy blocks": lambda: _rules_only(policy=Policy(defaults={
        "secret": "block", "financial": "block", "contact": "block",
        "government": "block", "low_risk": "allow"})).sanitize(TEXT),
    "bad key for the vault": lambda: SealedVault(MemoryStore(), KeyRing.ephemeral()).tokenize(
        "s", f"bad entity {PLANTED['email']}", PLANTED["email"]),
}


@pytest.mark.parametrize("name", list(FAILURES))
def test_every_failure_path_holds_no_value(name: str) -> None:
    with pytest.raises(SanitizerError) as caught:
        FAILURES[name]()
    error = caught.value
    assert_clean(f"{name}: message", str(error))
    assert_clean(f"{name}: traceback", "".join(traceback.format_exception(error)))
    for linked in chain(error):  # what an error tracker walking the chain would see
        assert_clean(f"{name}: chained {type(linked).__name__}", str(linked) + repr(linked))


def test_middleware_errors_hold_no_value(monkeypatch: pytest.MonkeyPatch) -> None:
    litellm = pytest.importorskip("litellm")
    monkeypatch.setattr(litellm, "completion", lambda **kw: pytest.fail("sent"))
    for name in ("detector quotes its input", "vault driver quotes the value"):
        engine = _rules_only(detectors=[Quoting()]) if name.startswith("detector") else \
            _rules_only(vault=LeakyVault("tokenize"))
        chat = SanitizedSession(engine, "leak", sanitize_timeout=None)
        with pytest.raises(SanitizerError) as caught:
            chat.completion(model="openai/x", messages=[{"role": "user", "content": TEXT}])
        for linked in chain(caught.value):
            assert_clean(f"middleware {name}", str(linked) + repr(linked) + "".join(
                traceback.format_exception(linked)))


def test_a_whole_agent_turn_at_debug_level_logs_no_value(
        tmp_path: Path, caplog: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("litellm")
    caplog.set_level(logging.DEBUG)  # every logger …
    caplog.set_level(logging.DEBUG, logger="LiteLLM")  # … litellm's own too (restored after)
    keys = KeyRing({"k1": os.urandom(32)}, "k1")
    audit_path = tmp_path / "audit" / "audit.jsonl"
    engine = Sanitizer(
        ner=False, known_values_from_env=False, keyring=keys,
        vault=open_vault(f"sqlite:///{tmp_path / 'vault.db'}", keys),
        audit=AuditLog(keys.audit_key(), [FileSink(audit_path),
                                         LoggingSink("sanitizer.audit", logging.DEBUG)]),
        policy=Policy(tools=ToolPolicy({"lookup": ToolRule(tier=0)})))

    def script(request: dict[str, Any]) -> Reply:
        last = request["messages"][-1]
        if last["role"] == "user":
            return Reply(text="Looking it up: " + last["content"],
                         tool_calls=(("lookup", {"query": last["content"]}),))
        return Reply(text="Done: " + str(last["content"]))

    with StubModel(script=script) as stub:
        chat = SanitizedSession(engine, "debug-run", retry=RetrySettings(attempts=1),
                                sanitize_timeout=None)
        common = {"model": "openai/stub", "api_base": stub.base_url, "api_key": "sk-stub"}
        messages: list[dict[str, Any]] = [{"role": "user", "content": TEXT}]
        reply = chat.completion(messages=messages, **common)
        call = reply.choices[0].message.tool_calls[0]
        assert PLANTED["email"] in call.function.arguments  # tier 0: restored for the tool
        messages += [{"role": "assistant", "content": reply.choices[0].message.content,
                      "tool_calls": [{"id": call.id, "type": "function", "function": {
                          "name": "lookup", "arguments": call.function.arguments}}]},
                     {"role": "tool", "tool_call_id": call.id,
                      "content": chat.sanitize_tool_result({"found": TEXT})}]
        streamed = "".join(chunk.choices[0].delta.content or ""
                           for chunk in chat.completion(messages=messages, stream=True,
                                                        **common))
        assert PLANTED["email"] in streamed and PLANTED["token"] not in streamed
        sent = json.dumps(stub.requests)
    engine.audit.close() if engine.audit is not None else None
    engine.vault.close()
    assert_clean("what the model received", sent)
    captured = capfd.readouterr()
    assert any(r.name.startswith("LiteLLM") for r in caplog.records)  # debug was on
    assert any(r.name == "sanitizer.audit" for r in caplog.records)
    assert_clean("stdout", captured.out)
    assert_clean("stderr", captured.err)
    assert_clean("log text", caplog.text)
    for record in caplog.records:
        assert_clean(f"log record {record.name}", record.getMessage() + repr(record.args))
    for file in tmp_path.rglob("*"):
        if file.is_file():
            assert_clean(str(file.relative_to(tmp_path)), file.read_bytes())
