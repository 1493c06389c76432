"""Faults: every failure fails closed, says so clearly, and loses nothing.

The harness (``test_fault_injection_harness``) drives the litellm drop-in in-process with
one injected fault per request — detector crash or hang, vault down or crashing while
tokenizing or revealing, audit sink down, upstream rate limits, 5xx, connection errors,
4xx, broken streams, malformed replies, forged placeholders — against an upstream that
records every request it receives. It injects at least 10,000 faults (counted when they
fire, not when they are armed) and asserts, per fault and at the end over everything the
upstream saw, that no planted value ever reached it and that nothing was restored wrongly.

The tests after it put the real backends through the same: SQLite locked, Redis and
PostgreSQL stopped mid-run (a throwaway ``redis-server`` and TCP proxies this test owns —
the shared servers are never touched), a Redis that accepts connections and never
answers, and the stub model's HTTP failures.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import POSTGRES_URL, REDIS_URL, unavailable

from sanitizer.adapters.litellm_sdk import SanitizedSession
from sanitizer.adapters.retry import RetrySettings
from sanitizer.audit import AuditLog, FileSink
from sanitizer.detect.rules_engine import RuleEngine
from sanitizer.engine import Sanitizer
from sanitizer.errors import AuditError, Blocked, SanitizerError, VaultError
from sanitizer.examples import expand
from sanitizer.findings import Finding
from sanitizer.keys import KeyRing
from sanitizer.policy import Policy
from sanitizer.rules import load_catalog
from sanitizer.stub_model import Failure, Reply, StubModel
from sanitizer.vault import MemoryStore, SealedVault, open_vault

litellm = pytest.importorskip("litellm")

FAULTS_REQUIRED = 10_000
ITERATIONS = int(os.environ.get("SANITIZER_FAULT_ITERATIONS", "10400"))
NO_WAIT = RetrySettings(attempts=3, total_seconds=30.0, initial_wait=0.0, max_wait=0.0)


# --------------------------------------------------------------------------- fault points

@dataclass
class Faults:
    """One armed fault at a time; ``fired`` counts the faults that really happened."""

    armed: str | None = None
    fired: Counter[str] = field(default_factory=Counter)
    release: threading.Event = field(default_factory=threading.Event)
    only_in: str | None = None  # fire only on a text holding this (for detector faults)

    def take(self, kind: str, text: str | None = None) -> bool:
        if self.armed != kind or (text is not None and self.only_in is not None
                                  and self.only_in not in text):
            return False
        self.armed = None
        self.fired[kind] += 1
        return True


class FaultyDetector:
    """The real rules engine, unless a detector fault is armed: then it crashes (quoting
    the text, as careless libraries do) or hangs until released."""

    name = "rules"

    def __init__(self, inner: RuleEngine, faults: Faults) -> None:
        self.inner = inner
        self.faults = faults

    def detect(self, text: str) -> list[Finding]:
        if self.faults.take("detector-crash", text):
            raise RuntimeError(f"cannot parse {text!r}")
        if self.faults.take("detector-hang", text):
            self.faults.release.wait(10)
        return self.inner.detect(text)


class FaultyVault:
    """A sealed in-memory vault that can be down (VaultError) or crash with a raw error
    that quotes the value (ConnectionResetError) while tokenizing or revealing."""

    def __init__(self, faults: Faults) -> None:
        self.inner = SealedVault(MemoryStore(), KeyRing.ephemeral())
        self.faults = faults

    def tokenize(self, session: str, entity: str, value: str) -> int:
        if self.faults.take("vault-down-tokenize"):
            raise VaultError("the vault is down")
        if self.faults.take("vault-crash-tokenize"):
            raise ConnectionResetError(f"connection lost while storing {value}")
        return self.inner.tokenize(session, entity, value)

    def reveal(self, session: str, entity: str, number: int) -> str | None:
        if self.faults.take("vault-down-reveal"):
            raise VaultError("the vault is down")
        return self.inner.reveal(session, entity, number)

    def forget(self, session: str) -> None:
        self.inner.forget(session)

    def close(self) -> None:
        self.inner.close()


class FaultySink:
    """An audit sink whose disk can fill up."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.lines: list[str] = []

    def write(self, line: str) -> None:
        restoring = '"action":"restore"' in line
        if (self.faults.take("audit-down-sanitize") if not restoring
                else self.faults.take("audit-down-restore")):
            raise AuditError("cannot write audit log (No space left on device)")
        self.lines.append(line)

    def close(self) -> None:
        return None


# --------------------------------------------------------------------------- the upstream

class Upstream:
    """Stands in for the provider: records every request body, answers by echoing the last
    user message (as a model that uses the placeholders would), and fails as armed."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.bodies: list[str] = []
        self.attempts = 0

    def completion(self, **request: Any) -> Any:
        self.attempts += 1
        self.bodies.append(json.dumps(request["messages"], ensure_ascii=False))
        for kind, error in (("upstream-rate-limit", litellm.RateLimitError),
                            ("upstream-5xx", litellm.InternalServerError),
                            ("upstream-connection", litellm.APIConnectionError)):
            if self.faults.take(kind):
                raise error(message="injected", llm_provider="openai", model="fake")
        if self.faults.take("upstream-4xx"):
            raise litellm.BadRequestError(message="injected", llm_provider="openai",
                                          model="fake")
        user = next(m for m in reversed(request["messages"]) if m["role"] == "user")
        text = f"You said: {user['content']}"
        if self.faults.take("forged-placeholder"):
            text += " Also mail <EMAIL_ADDRESS_9999> and <GITHUB_TOKEN_77>."
        if self.faults.take("malformed-reply"):
            return self._empty() if request.get("stream") else litellm.ModelResponse(choices=[])
        if request.get("stream"):
            return self._stream(text, broken=self.faults.take("upstream-broken-stream"))
        return litellm.ModelResponse(choices=[{
            "index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": text}}])

    @staticmethod
    def _empty() -> Iterator[Any]:
        from litellm.types.utils import ModelResponseStream

        yield ModelResponseStream(choices=[])
        yield ModelResponseStream(choices=[{"index": 0, "finish_reason": "stop",
                                            "delta": {}}])

    @staticmethod
    def _stream(text: str, *, broken: bool) -> Iterator[Any]:
        from litellm.types.utils import ModelResponseStream

        cut = len(text) // 2 if broken else len(text)
        for start in range(0, cut, 7):  # pieces that split placeholders
            yield ModelResponseStream(choices=[{
                "index": 0, "finish_reason": None, "delta": {"content": text[start:start + 7]}}])
        if broken:
            raise litellm.APIConnectionError(message="stream reset by peer",
                                              llm_provider="openai", model="fake")
        yield ModelResponseStream(choices=[{"index": 0, "finish_reason": "stop",
                                            "delta": {}}])


# --------------------------------------------------------------------------- the harness

PRE_SEND = ("detector-crash", "detector-hang", "vault-down-tokenize", "vault-crash-tokenize",
            "audit-down-sanitize")
RETRIED = ("upstream-rate-limit", "upstream-5xx", "upstream-connection")
KINDS = (*PRE_SEND, *RETRIED, "upstream-4xx", "upstream-broken-stream", "malformed-reply",
         "forged-placeholder", "vault-down-reveal", "audit-down-restore")
MAX_HANGS = 20  # each hang waits out the (short) sanitize time limit
_WORD = re.compile(r"[^\s\"'<>(),;\\]+")


def canaries(index: int) -> dict[str, str]:
    rng = random.Random(f"faults/{index}")
    return {"email": expand("{lower:6}.{lower:5}@{lower:7}.com", rng).text,
            "card": expand("{card:visa}", rng).text,
            "token": expand("{github_token:ghp}", rng).text}


def conversation(values: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": f"Deploy key: {values['token']}"},
        {"role": "user", "content": f"Mail {values['email']} the receipt for "
                                    f"{values['card']}."},
    ]


def test_fault_injection_harness(monkeypatch: pytest.MonkeyPatch) -> None:
    faults = Faults()
    upstream = Upstream(faults)
    monkeypatch.setattr(litellm, "completion", upstream.completion)
    sink = FaultySink(faults)
    keys = KeyRing.ephemeral()
    vault = FaultyVault(faults)
    sanitizer = Sanitizer(
        detectors=[FaultyDetector(RuleEngine(load_catalog()), faults)],
        vault=vault, keyring=keys, audit=AuditLog(keys.audit_key(), [sink]),
        policy=Policy(), known_values_from_env=False, ner=False)
    sessions = [SanitizedSession(sanitizer, f"s{i}", retry=NO_WAIT, sanitize_timeout=None)
                for i in range(8)]
    # A hung sanitize times out, and its thread carries on in the background once released:
    # it gets a sanitizer (and fault points) of its own, so it can never take a fault armed
    # for a later request.
    slow = Faults()
    hurried = SanitizedSession(
        Sanitizer(detectors=[FaultyDetector(RuleEngine(load_catalog()), slow)],
                  known_values_from_env=False, ner=False),
        "hurried", retry=NO_WAIT, sanitize_timeout=0.05)
    for engine in (sanitizer, hurried.sanitizer):  # warm up before any fault is armed
        warm = SanitizedSession(engine, "warm-up", retry=NO_WAIT, sanitize_timeout=None)
        warm.completion(model="openai/fake", messages=conversation(canaries(-100)))
    upstream.bodies.clear()
    rng = random.Random(20261130)
    planted: set[str] = set()
    outcomes: Counter[str] = Counter()
    hangs = 0
    for index in range(ITERATIONS):
        kind = rng.choice(KINDS)
        if kind == "detector-hang":
            hangs += 1
            if hangs > MAX_HANGS:
                kind = "detector-crash"
        values = canaries(index)
        planted.update(values.values())
        chat = hurried if kind == "detector-hang" else sessions[index % len(sessions)]
        stream = kind == "upstream-broken-stream" or (kind not in PRE_SEND and index % 3 == 0)
        points = slow if kind == "detector-hang" else faults
        slow.only_in = values["token"]  # a released hang finishing late cannot take it
        before = (len(upstream.bodies), upstream.attempts,
                  sum(faults.fired.values()) + sum(slow.fired.values()))
        points.armed = kind
        points.release.clear()
        outcome, text = _call(chat, conversation(values), stream)
        points.release.set()
        fired = sum(faults.fired.values()) + sum(slow.fired.values()) - before[2]
        assert fired == 1 and points.armed is None, f"{kind} did not fire at {index}"
        outcomes[outcome] += 1
        sent = upstream.bodies[before[0]:]
        for body in sent:  # nothing planted ever reaches the upstream
            assert not any(value in body for value in values.values()), (kind, index)
        _check(kind, outcome, text, values, sent, upstream.attempts - before[1], chat)
    faults.fired.update(slow.fired)
    total = sum(faults.fired.values())
    print(f"\ninjected faults: {total} {dict(sorted(faults.fired.items()))}")
    print(f"outcomes: {dict(outcomes)}; upstream requests: {len(upstream.bodies)}")
    assert total >= min(FAULTS_REQUIRED, ITERATIONS)
    assert set(faults.fired) == set(KINDS)
    seen = {word for body in upstream.bodies for word in _WORD.findall(body)}
    assert not planted & seen  # the whole record, once more, word by word
    assert len(upstream.bodies) >= ITERATIONS // 2


def _call(chat: SanitizedSession, messages: list[dict[str, Any]],
          stream: bool) -> tuple[str, str]:
    """(outcome, reply text) — the outcome is the exception type, or "ok"."""
    pieces: list[str] = []
    try:
        response = chat.completion(model="openai/fake", messages=messages, stream=stream)
        if stream:
            for chunk in response:
                for choice in chunk.choices:
                    pieces.append(choice.delta.content or "")
        else:
            pieces = [c.message.content or "" for c in response.choices]
    except SanitizerError as exc:
        _assert_safe_error(exc, messages)
        return type(exc).__name__, "".join(pieces)
    except Exception as exc:  # an upstream error, passed on as the caller would get it
        _assert_safe_error(exc, messages)
        return type(exc).__name__, "".join(pieces)
    return "ok", "".join(pieces)


def _assert_safe_error(exc: BaseException, messages: list[dict[str, Any]]) -> None:
    """The error says what happened in its own words: no planted value in it."""
    import traceback

    shown = str(exc) + "".join(traceback.format_exception(exc))
    for message in messages:
        for word in _WORD.findall(message["content"]):
            if len(word) > 12:
                assert word not in shown


def _check(kind: str, outcome: str, text: str, values: dict[str, str], sent: list[str],
           attempts: int, chat: SanitizedSession) -> None:
    expected = f"You said: Mail {values['email']} the receipt for {values['card']}."
    if kind in PRE_SEND:
        assert outcome == "Blocked" and not sent and attempts == 0, kind
        return
    assert len(sent) == attempts >= 1
    assert all(body == sent[0] for body in sent)  # sanitized once, retried as is
    if kind in RETRIED:
        assert outcome == "ok" and attempts == 2 and text == expected, kind
    elif kind == "upstream-4xx":
        assert outcome == "BadRequestError" and attempts == 1 and not text
    elif kind == "upstream-broken-stream":
        assert outcome == "APIConnectionError" and attempts == 1
        assert expected.startswith(text)  # what came through was restored right
    elif kind == "malformed-reply":
        assert outcome == "ok" and text == ""
    elif kind == "forged-placeholder":
        assert outcome == "ok"
        assert text == expected + " Also mail <EMAIL_ADDRESS_9999> and <GITHUB_TOKEN_77>."
    elif kind == "vault-down-reveal":  # the first reveal fails: that placeholder stays
        assert outcome == "ok" and values["email"] not in text and "<EMAIL_ADDRESS_" in text
        assert _restore(chat, text) == expected  # nothing was lost: back once it is up
    elif kind == "audit-down-restore":
        assert outcome == "AuditError" and values["email"] not in text


def _restore(chat: SanitizedSession, text: str) -> str:
    return chat.sanitizer.restore(text, session=chat.id)


def test_detector_crash_and_timeout_block_before_anything_is_sent(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The same two faults once more, each on its own, with their exact messages."""
    faults = Faults()
    upstream = Upstream(faults)
    monkeypatch.setattr(litellm, "completion", upstream.completion)
    sanitizer = Sanitizer(detectors=[FaultyDetector(RuleEngine(load_catalog()), faults)],
                          known_values_from_env=False, ner=False)
    values = canaries(-1)
    chat = SanitizedSession(sanitizer, "one", retry=NO_WAIT, sanitize_timeout=0.2)
    SanitizedSession(sanitizer, "warm-up", retry=NO_WAIT, sanitize_timeout=None).completion(
        model="openai/fake", messages=conversation(canaries(-3)))  # before any fault
    upstream.bodies.clear()
    faults.armed = "detector-crash"
    with pytest.raises(Blocked, match=r"detector 'rules' failed \(RuntimeError\)"):
        chat.completion(model="openai/fake", messages=conversation(values))
    faults.armed = "detector-hang"
    faults.release.clear()
    with pytest.raises(Blocked, match=r"sanitizing took longer than 0.2s; nothing was sent"):
        chat.completion(model="openai/fake", messages=conversation(values))
    faults.release.set()
    assert upstream.bodies == []
    calm = SanitizedSession(sanitizer, "one", retry=NO_WAIT, sanitize_timeout=None)
    reply = calm.completion(model="openai/fake", messages=conversation(values))
    assert reply.choices[0].message.content == (
        f"You said: Mail {values['email']} the receipt for {values['card']}.")


class HangingStart:
    """A detector whose start-up (model load) never finishes until released."""

    name = "hanging-start"

    def __init__(self) -> None:
        self.release = threading.Event()

    def warm_up(self) -> None:
        self.release.wait(30)

    def detect(self, text: str) -> list[Finding]:
        return []


def test_a_start_up_that_hangs_blocks_the_call_instead_of_hanging_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    upstream = Upstream(Faults())
    monkeypatch.setattr(litellm, "completion", upstream.completion)
    hanging = HangingStart()
    sanitizer = Sanitizer(detectors=[hanging, RuleEngine(load_catalog())],
                          known_values_from_env=False, ner=False)
    chat = SanitizedSession(sanitizer, "start", retry=NO_WAIT, startup_timeout=0.2)
    messages = conversation(canaries(-4))
    with pytest.raises(Blocked, match=r"did not start within 0.2s; nothing was sent"):
        chat.completion(model="openai/fake", messages=messages)
    assert upstream.bodies == []
    hanging.release.set()
    reply = SanitizedSession(sanitizer, "start", retry=NO_WAIT).completion(
        model="openai/fake", messages=messages)
    assert reply.choices[0].message.content.startswith("You said:")
    assert canaries(-4)["email"] not in upstream.bodies[0]


def test_a_reply_restored_while_the_vault_is_down_is_flagged(
        monkeypatch: pytest.MonkeyPatch) -> None:
    faults = Faults()
    monkeypatch.setattr(litellm, "completion", Upstream(faults).completion)
    sanitizer = Sanitizer(detectors=[RuleEngine(load_catalog())], vault=FaultyVault(faults),
                          known_values_from_env=False, ner=False)
    chat = SanitizedSession(sanitizer, "flag", retry=NO_WAIT)
    faults.armed = "vault-down-reveal"
    reply = chat.completion(model="openai/fake", messages=conversation(canaries(-2)))
    assert "<EMAIL_ADDRESS_1>" in reply.choices[0].message.content
    assert reply._hidden_params["sanitizer_vault_failed"] is True


def test_a_stream_restored_while_the_vault_is_down_is_flagged(
        monkeypatch: pytest.MonkeyPatch) -> None:
    faults = Faults()
    monkeypatch.setattr(litellm, "completion", Upstream(faults).completion)
    sanitizer = Sanitizer(detectors=[RuleEngine(load_catalog())], vault=FaultyVault(faults),
                          known_values_from_env=False, ner=False)
    messages = conversation(canaries(-2))
    healthy = SanitizedSession(sanitizer, "flag-stream-ok", retry=NO_WAIT).completion(
        model="openai/fake", messages=messages, stream=True)
    "".join(c.choices[0].delta.content or "" for c in healthy if c.choices)
    assert not healthy.vault_failed
    chat = SanitizedSession(sanitizer, "flag-stream", retry=NO_WAIT)
    faults.armed = "vault-down-reveal"
    stream = chat.completion(model="openai/fake", messages=messages, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "<EMAIL_ADDRESS_1>" in text
    assert stream.vault_failed


# --------------------------------------------------------------------------- real backends

def _engine(vault: Any) -> Sanitizer:
    return Sanitizer(ner=False, known_values_from_env=False, vault=vault)


def test_sqlite_locked_fails_closed_then_recovers(tmp_path: Path) -> None:
    from sanitizer.vault.sqlite import SqliteStore

    keys = KeyRing.ephemeral()
    path = tmp_path / "vault.db"
    vault = SealedVault(SqliteStore(path, busy_timeout=0.3), keys)
    s = _engine(vault)
    first = s.sanitize("mail ann@corp.example", session="lock")
    assert first.result == "mail <EMAIL_ADDRESS_1>"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        with pytest.raises(VaultError, match=r"(?i)locked|busy") as caught:
            s.sanitize("mail bob@corp.example", session="lock")
        assert time.monotonic() - started < 10
        assert "bob@corp.example" not in str(caught.value)
        # readers are not blocked by a writer (WAL): restoring keeps working meanwhile
        assert s.restore("<EMAIL_ADDRESS_1>", session="lock") == "ann@corp.example"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert s.restore("<EMAIL_ADDRESS_1>", session="lock") == "ann@corp.example"  # no loss
    assert s.sanitize("mail bob@corp.example", session="lock").result == \
        "mail <EMAIL_ADDRESS_2>"
    vault.close()


class Proxy:
    """A TCP proxy this test owns, in front of a shared server: stopping it is the server
    going away for us (and only for us); ``stall`` accepts and never answers."""

    def __init__(self, target: tuple[str, int], *, stall: bool = False) -> None:
        self.target = target
        self.stall = stall
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            with self.lock:
                self.sockets.append(client)
            if self.stall:
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets.append(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def stop(self) -> None:
        """Refuse new connections and cut the open ones (the server is 'down')."""
        self.running = False
        with suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self.server.close()
        with self.lock:
            for sock in self.sockets:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.sockets.clear()


def _reachable(url: str) -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 0
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError:
        unavailable(f"{url} is not reachable")
    return host, port


def _with_port(url: str, port: int) -> str:
    return re.sub(r"127\.0\.0\.1:\d+", f"127.0.0.1:{port}", url)


@pytest.mark.parametrize("backend", ["redis", "postgres"])
def test_backend_stopped_mid_run_fails_closed_and_loses_nothing(
        backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    base = REDIS_URL if backend == "redis" else POSTGRES_URL
    target = _reachable(base)
    proxy = Proxy(target)
    unique = uuid.uuid4().hex[:12]
    url = _with_port(base, proxy.port) + (
        f"?prefix=sanitizer-test:{unique}:&socket_timeout=2" if backend == "redis"
        else f"?table=vault_test_{unique}")
    keys = KeyRing.ephemeral()
    vault = open_vault(url, keys)
    faults = Faults()
    upstream = Upstream(faults)
    monkeypatch.setattr(litellm, "completion", upstream.completion)
    s = _engine(vault)
    chat = SanitizedSession(s, "mid-run", retry=NO_WAIT, sanitize_timeout=None)
    try:
        values = canaries(7)
        reply = chat.completion(model="openai/fake", messages=conversation(values))
        expected = reply.choices[0].message.content
        assert values["email"] in expected
        placeholders = upstream.bodies[-1]
        proxy.stop()  # the server goes away mid-run
        down = canaries(8)
        with pytest.raises(Blocked, match="VaultError") as caught:
            chat.completion(model="openai/fake", messages=conversation(down))
        assert down["email"] not in str(caught.value)
        assert len(upstream.bodies) == 1  # nothing was sent while it was down
        left = s.restore_detailed(json.loads(placeholders)[1]["content"], session="mid-run")
        assert left.vault_failed and values["email"] not in left.text
        again = Proxy(target)  # back up, on a new port: reconnect through it
        vault2 = open_vault(_with_port(url, again.port), keys)
        s2 = _engine(vault2)
        assert s2.restore(json.loads(placeholders)[1]["content"], session="mid-run") == \
            conversation(values)[1]["content"]  # nothing was lost
        vault2.close()
        again.stop()
    finally:
        proxy.stop()
        _drop(backend, url, unique)
        with suppress(Exception):
            vault.close()


def _drop(backend: str, url: str, unique: str) -> None:
    if backend == "redis":
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"sanitizer-test:{unique}:*"):
            client.delete(key)
        client.close()
    else:
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS vault_test_{unique}")
            conn.execute(f"DROP TABLE IF EXISTS vault_test_{unique}_sessions")


def test_postgres_connection_killed_mid_run_recovers() -> None:
    psycopg = pytest.importorskip("psycopg")
    _reachable(POSTGRES_URL)
    unique = uuid.uuid4().hex[:12]
    name = f"sanitizer-test-{unique}"  # marks this test's own connections
    url = f"{POSTGRES_URL}?table=vault_test_{unique}&application_name={name}"
    vault = open_vault(url, KeyRing.ephemeral())
    s = _engine(vault)
    try:
        assert s.sanitize("mail ann@corp.example", session="kill").result == \
            "mail <EMAIL_ADDRESS_1>"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            pids = [row[0] for row in admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (name,))]
            assert pids, "the vault holds no connection to kill"
            for pid in pids:  # only the connections of this test's own vault
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        outcomes = []
        for _ in range(3):  # the first use of a killed connection fails closed …
            try:
                outcomes.append(s.restore("<EMAIL_ADDRESS_1>", session="kill"))
            except VaultError:
                outcomes.append("VaultError")
        # … a failed reveal leaves the placeholder; the pool then reconnects
        assert outcomes[-1] == "ann@corp.example"
        assert set(outcomes) <= {"ann@corp.example", "<EMAIL_ADDRESS_1>", "VaultError"}
        assert s.sanitize("mail bob@corp.example", session="kill").result == \
            "mail <EMAIL_ADDRESS_2>"
    finally:
        vault.close()
        _drop("postgres", url, unique)


def test_redis_that_never_answers_times_out_instead_of_hanging() -> None:
    stall = Proxy(("127.0.0.1", 9), stall=True)
    try:
        started = time.monotonic()
        with pytest.raises(VaultError, match="TimeoutError"):
            open_vault(f"redis://127.0.0.1:{stall.port}/0?socket_timeout=0.5",
                       KeyRing.ephemeral())
        assert time.monotonic() - started < 10
    finally:
        stall.stop()
    from sanitizer.vault.redis import DEFAULT_SOCKET_TIMEOUT

    assert 0 < DEFAULT_SOCKET_TIMEOUT <= 30  # without ?socket_timeout=: bounded as well


@contextmanager
def redis_server(directory: Path) -> Iterator[tuple[int, Callable[[], None],
                                                    Callable[[], None]]]:
    """A throwaway redis-server on a free port, persisting to ``directory``: yields the
    port, ``start()`` and ``kill()`` (SIGKILL of the process this test started, by pid)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "",
             "--protected-mode", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill() -> None:
        proc = procs[-1]
        proc.kill()
        proc.wait(10)

    start()
    try:
        yield port, start, kill
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


def test_own_redis_server_killed_mid_run(tmp_path: Path) -> None:
    with redis_server(tmp_path) as (port, start, kill):
        keys = KeyRing.ephemeral()
        url = f"redis://127.0.0.1:{port}/0?socket_timeout=2"
        s = _engine(open_vault(url, keys))
        done = s.sanitize("card 4111 1111 1111 1111 for ann@corp.example", session="k")
        assert "ann@corp.example" not in str(done.result)
        kill()  # SIGKILL mid-run
        with pytest.raises(VaultError):
            s.sanitize("mail bob@corp.example", session="k")
        stuck = s.restore_detailed(str(done.result), session="k")
        assert stuck.vault_failed and "ann@corp.example" not in stuck.text
        start()  # the server comes back with its append-only file
        s2 = _engine(open_vault(url, keys))
        assert s2.restore(str(done.result), session="k") == \
            "card 4111 1111 1111 1111 for ann@corp.example"


def test_audit_log_unwritable_fails_closed(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    faults = Faults()
    upstream = Upstream(faults)
    monkeypatch.setattr(litellm, "completion", upstream.completion)
    keys = KeyRing.ephemeral()
    folder = tmp_path / "audit"
    sink = FileSink(folder / "audit.jsonl")
    s = Sanitizer(ner=False, known_values_from_env=False, keyring=keys,
                  audit=AuditLog(keys.audit_key(), [sink]))
    chat = SanitizedSession(s, "audit", retry=NO_WAIT, sanitize_timeout=None)
    values = canaries(11)
    chat.completion(model="openai/fake", messages=conversation(values))
    sink.close()  # the log can no longer be written (closed, as after a failed rotation)
    with pytest.raises(Blocked, match="AuditError") as caught:
        chat.completion(model="openai/fake", messages=conversation(canaries(12)))
    assert canaries(12)["email"] not in str(caught.value)
    assert len(upstream.bodies) == 1


# --------------------------------------------------------------------------- stub model

def test_stub_model_http_failures_are_retried_or_reported() -> None:
    calls: list[int] = []

    def script(request: dict[str, Any]) -> Reply | Failure:
        calls.append(1)
        if len(calls) == 1:
            return Failure(503)
        if len(calls) == 2:
            return Failure(429)
        if len(calls) == 3:
            return Reply(text="recovered")
        return Failure(400, "bad request")

    s = Sanitizer(ner=False, known_values_from_env=False)
    values = canaries(21)
    with StubModel(script=script) as stub:
        chat = SanitizedSession(s, "stub", retry=NO_WAIT, sanitize_timeout=None)
        reply = chat.completion(model="openai/stub", api_base=stub.base_url,
                                api_key="sk-stub", messages=conversation(values))
        assert reply.choices[0].message.content == "recovered"
        with pytest.raises(litellm.BadRequestError):
            chat.completion(model="openai/stub", api_base=stub.base_url, api_key="sk-stub",
                            messages=conversation(values))
        sent = json.dumps(stub.requests)
    assert len(calls) == 4
    assert not any(v in sent for v in values.values())
