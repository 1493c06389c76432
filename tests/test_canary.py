"""Canary: plant generated values, run everything with debug logging, and look for them in
every place that must never hold one — log records, stdout/stderr, audit files, vault
files, reprs, exception messages and tracebacks (Python API and CLI)."""

from __future__ import annotations

import json
import logging
import os
import random
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

from sanitizer.audit import AuditLog, FileSink, LoggingSink, StdoutSink, verify_log
from sanitizer.engine import Json, Sanitizer
from sanitizer.errors import SanitizerError
from sanitizer.examples import expand
from sanitizer.findings import Finding
from sanitizer.keys import KeyRing
from sanitizer.policy import Policy, load_policy, parse_policy
from sanitizer.tools import resolve_tool_call
from sanitizer.vault import SealedVault, open_vault

RNG = random.Random(os.urandom(8))  # fresh values every run: nothing can be cached
TAG = os.urandom(4).hex()
CANARIES = {
    "email": f"canary.{TAG}@example.org",
    "card": expand("{card}", RNG).text,
    "iban": expand("{iban}", RNG).text,
    "ssn": expand("{ssn}", RNG).text,
    "token": expand("{github_token:ghp}", RNG).text,
    "password": f"Canary-{TAG}-Pw!x",
}
TEXT = (f"Customer {CANARIES['email']} paid with {CANARIES['card']} from "
        f"{CANARIES['iban']}; SSN {CANARIES['ssn']}. Deploy with token {CANARIES['token']}.")
DOCUMENT: Json = {"user": {"email": CANARIES["email"], "password": CANARIES["password"]},
            "note": f"card {CANARIES['card']}"}


def _forms() -> list[bytes]:
    """Every planted value as text in the encodings a leak could take."""
    out = []
    for value in CANARIES.values():
        out += [value.encode(), value.lower().encode(), value.encode().hex().encode(),
                json.dumps(value).encode()]
    return out


def _assert_clean(where: str, data: str | bytes) -> None:
    raw = data.encode() if isinstance(data, str) else data
    for form in _forms():
        assert form not in raw, f"a planted value leaked into {where}"


def _failure(action: Callable[[], object]) -> str:
    """The message and the formatted traceback of the error ``action`` raises."""
    with pytest.raises(SanitizerError) as caught:
        action()
    return str(caught.value) + "\n" + "".join(traceback.format_exception(caught.value))


class _Exploding:
    name = "exploding"

    def detect(self, text: str) -> list[Finding]:
        raise RuntimeError(f"cannot parse {text!r}")  # quotes the text, like many libraries


def test_no_planted_value_escapes_the_python_api(
        tmp_path: Path, caplog: pytest.LogCaptureFixture,
        capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, every level
    ring = KeyRing({"k1": os.urandom(32)}, "k1")
    vault_url = f"sqlite:///{tmp_path / 'vault' / 'tokens.db'}"
    audit = AuditLog(ring.audit_key(), [FileSink(tmp_path / "audit" / "audit.jsonl"),
                                        StdoutSink(), LoggingSink("sanitizer.audit")])
    policy = parse_policy({"tools": {"deploy": {"tier": 1,
                                                "arguments": {"token": ["secret"]}}}}, "p")
    s = Sanitizer(ner=False, known_values_from_env=False, keyring=ring, audit=audit,
                  vault=open_vault(vault_url, ring), policy=policy)
    seen: list[tuple[str, str]] = []

    prompt = s.sanitize(TEXT, surface="prompt", session="canary")
    tool = s.sanitize(DOCUMENT, surface="tool_result", session="canary")
    memory = s.sanitize(f"remember {CANARIES['email']}", surface="memory_write",
                        session="canary")
    for name, done in (("prompt", prompt), ("tool", tool), ("memory", memory)):
        seen += [(f"{name} result", json.dumps(done.result)), (f"{name} repr", repr(done))]
    assert s.restore(str(prompt.result), session="canary").count(CANARIES["email"]) == 1
    restorer = s.restorer(session="canary")
    raw = str(prompt.result).encode()
    streamed = "".join(restorer.feed(raw[i:i + 3]) for i in range(0, len(raw), 3))
    streamed += restorer.flush()
    assert CANARIES["card"] in streamed and CANARIES["token"] not in streamed
    call = resolve_tool_call(s, "deploy", json.dumps({"token": "<GITHUB_TOKEN_1>"}),
                             session="canary")
    assert CANARIES["token"] in call.arguments  # the one place a secret may come back
    seen += [("reprs", repr(s.vault) + repr(s.keyring) + repr(s.audit) + repr(s.policy))]

    blocking = Sanitizer(ner=False, known_values_from_env=False, keyring=ring,
                         policy=Policy(defaults={"secret": "block"}), catalog=s.catalog,
                         detectors=s.detectors)
    exploding = Sanitizer(ner=False, known_values_from_env=False, keyring=ring,
                          detectors=[_Exploding()], catalog=s.catalog)
    small = Sanitizer(ner=False, known_values_from_env=False, keyring=ring,
                      max_input_chars=10, catalog=s.catalog)
    wrong_key = SealedVault(open_vault(vault_url, ring).store,
                            KeyRing({"k1": os.urandom(32)}, "k1"))
    bad_policy = tmp_path / "bad.toml"
    bad_policy.write_text(f"[allowlist]\npatterns = ['{CANARIES['email']}(']\n"
                          f"values = {CANARIES['password']!r}\n")
    bad_toml = tmp_path / "bad2.toml"
    bad_toml.write_text(f"[entities]\nEMAIL_ADDRESS = {CANARIES['email']}\n")
    failures: dict[str, Callable[[], object]] = {
        "policy block": lambda: blocking.sanitize(TEXT),
        "detector crash": lambda: exploding.sanitize(TEXT),
        "input too large": lambda: small.sanitize(TEXT),
        "wrong master key": lambda: wrong_key.reveal("canary", "EMAIL_ADDRESS", 1),
        "wrong key tokenize": lambda: wrong_key.tokenize("canary", "EMAIL_ADDRESS",
                                                         CANARIES["email"]),
        "bad policy": lambda: load_policy(bad_policy),
        "bad toml": lambda: load_policy(bad_toml),
        "unreachable redis": lambda: open_vault(
            f"redis://:{CANARIES['password']}@127.0.0.1:1/0", ring),
        "unreachable postgres": lambda: open_vault(
            f"postgresql://u:{CANARIES['password']}@127.0.0.1:1/db", ring),
        "bad key": lambda: KeyRing.parse(CANARIES["password"] * 3),
    }
    for name, action in failures.items():
        seen.append((f"error: {name}", _failure(action)))

    s.forget("canary")
    assert s.restore(str(prompt.result), session="canary") == prompt.result
    audit.close()
    s.vault.close()
    assert verify_log(tmp_path / "audit" / "audit.jsonl", ring.audit_keys()).ok

    captured = capfd.readouterr()
    seen += [("stdout", captured.out), ("stderr", captured.err), ("log text", caplog.text)]
    seen += [(f"log record {r.name}", r.getMessage() + repr(r.args)) for r in caplog.records]
    assert any(r.name == "sanitizer.audit" for r in caplog.records)  # logging was on
    assert captured.out.count('"kind":"event"') >= 10  # so was the stdout sink
    for file in tmp_path.rglob("*"):
        if file.is_file() and file.suffix != ".toml":  # the policy files hold them on purpose
            seen.append((str(file.relative_to(tmp_path)), file.read_bytes().decode("latin-1")))
    assert any("tokens.db" in where for where, _ in seen)
    for where, data in seen:
        _assert_clean(where, data)


def test_no_planted_value_escapes_the_cli(tmp_path: Path) -> None:
    key = tmp_path / "master.key"
    KeyRing.generate_key_file(key)
    env = {**os.environ, "SANITIZER_MASTER_KEY_FILE": str(key)}
    debug = ("import logging, sys; logging.basicConfig(level=logging.DEBUG); "
             "from sanitizer.cli import main; sys.exit(main(sys.argv[1:]))")

    def cli(*args: str, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-c", debug, *args], input=stdin, env=env,
                              capture_output=True, timeout=300, cwd=tmp_path)

    good = json.dumps({"text": TEXT}).encode() + b"\n"
    vault = ["--session", "c", "--vault", "sqlite:///v.db", "--audit-log", "audit.jsonl"]
    redacted = cli("redact", "--jsonl", "--no-ner", *vault, stdin=good)
    assert redacted.returncode == 0, redacted.stderr
    restored = cli("restore", "--jsonl", *vault, stdin=redacted.stdout)
    assert CANARIES["email"] in restored.stdout.decode()
    broken = cli("redact", "--jsonl", "--no-ner", *vault,
                 stdin=good + b'{"text": "' + TEXT.encode() + b'" oops}\n')
    assert broken.returncode == 2
    verified = cli("audit", "verify", "audit.jsonl", stdin=b"")
    assert verified.returncode == 0, verified.stdout
    forgot = cli("vault", "forget", "--session", "c", "--vault", "sqlite:///v.db", stdin=b"")
    assert forgot.returncode == 0
    for name, result in (("redact", redacted), ("restore", restored), ("broken", broken),
                         ("verify", verified), ("forget", forgot)):
        _assert_clean(f"{name} stderr", result.stderr)
    for name, result in (("redact", redacted), ("verify", verified), ("forget", forgot)):
        _assert_clean(f"{name} stdout", result.stdout)
    for file in tmp_path.iterdir():
        if file.name != "master.key":
            _assert_clean(file.name, file.read_bytes())
