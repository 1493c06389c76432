"""The CLI round trip of the README on a SQLite vault: keygen → redact (vault + audit) →
restore → audit verify → tamper → vault forget; and the errors a user meets on the way."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from sanitizer.examples import expand

RNG = random.Random("test_cli_vault")
EMAIL, OTHER = expand("{email}", RNG).text, expand("{email}", RNG).text
CARD = expand("{card}", RNG).text
TOKEN = expand("{github_token:ghp}", RNG).text


def run(*args: str, env: dict[str, str], stdin: bytes = b"",
        cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "sanitizer", *args], input=stdin,
                          capture_output=True, timeout=300, env=env, cwd=cwd)


def jsonl(*records: Mapping[str, object]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def read(out: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.decode().splitlines()]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SANITIZER_MASTER_KEY")}
    key = tmp_path / "home" / ".config" / "sanitizer.key"  # a folder that does not exist yet
    made = run("vault", "keygen", str(key), env=clean)
    assert made.returncode == 0, made.stderr
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    return {**clean, "SANITIZER_MASTER_KEY_FILE": str(key)}


def test_readme_round_trip_on_sqlite(tmp_path: Path, env: dict[str, str]) -> None:
    records = [{"id": 1, "text": f"mail {EMAIL} and {OTHER}"},
               {"id": 2, "text": f"again {EMAIL}; card {CARD}; token {TOKEN}"}]
    common = ["--session", "s1", "--vault", "sqlite:///vault.db"]
    red = run("redact", "--jsonl", "--no-ner", *common, "--audit-log", "audit.jsonl",
              env=env, stdin=jsonl(*records), cwd=tmp_path)
    assert red.returncode == 0, red.stderr
    out = read(red.stdout)
    assert out[0]["text"] == "mail <EMAIL_ADDRESS_1> and <EMAIL_ADDRESS_2>"
    assert out[1]["text"] == "again <EMAIL_ADDRESS_1>; card <CREDIT_CARD_1>; token " \
                             "<GITHUB_TOKEN_1>"
    for value in (EMAIL, OTHER, CARD, TOKEN):
        assert value not in red.stdout.decode()

    # another process, same session: the same value keeps its placeholder
    again = run("redact", "--jsonl", "--no-ner", *common, env=env, cwd=tmp_path,
                stdin=jsonl({"text": f"{OTHER} wrote to {EMAIL}"}))
    assert read(again.stdout)[0]["text"] == "<EMAIL_ADDRESS_2> wrote to <EMAIL_ADDRESS_1>"

    back = run("restore", "--jsonl", *common, "--audit-log", "audit.jsonl", env=env,
               cwd=tmp_path, stdin=red.stdout)
    assert back.returncode == 0, back.stderr
    restored = read(back.stdout)
    assert restored[0]["text"] == records[0]["text"]
    assert restored[1]["text"] == f"again {EMAIL}; card {CARD}; token <GITHUB_TOKEN_1>"
    assert restored[1]["id"] == 2  # other fields pass through

    verified = run("audit", "verify", "audit.jsonl", env=env, cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = verified.stdout.decode()
    assert report.startswith("ok: 9 records in 1 file(s); every MAC valid, chain unbroken "
                             "from seq 1 to 9; checkpoint audit.jsonl.head at seq 9 matches")
    assert "key ids tried: k1" in report
    actions = [json.loads(line)["action"] for line in (tmp_path / "audit.jsonl").open()]
    assert actions == ["tokenize"] * 5 + ["restore"] * 4  # the secret is never restored

    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    for value in (EMAIL, OTHER, CARD, TOKEN):
        assert value.encode() not in stored  # neither the vault nor the audit log holds it

    forgot = run("vault", "forget", *common, env=env, cwd=tmp_path)
    assert forgot.returncode == 0 and b"forgot session 's1'" in forgot.stdout
    gone = run("restore", "--jsonl", *common, env=env, cwd=tmp_path, stdin=red.stdout)
    assert gone.returncode == 0
    assert [r["text"] for r in read(gone.stdout)] == [r["text"] for r in out]


def test_audit_verify_names_the_first_bad_record(tmp_path: Path, env: dict[str, str]) -> None:
    stdin = jsonl(*({"text": f"n{i} {expand('{email}', RNG).text}"} for i in range(5)))
    red = run("redact", "--jsonl", "--no-ner", "--audit-log", "audit.jsonl", env=env,
              cwd=tmp_path, stdin=stdin)
    assert red.returncode == 0, red.stderr
    log = tmp_path / "audit.jsonl"
    original = log.read_bytes()
    lines = original.splitlines(keepends=True)
    flipped = bytearray(original)
    flipped[len(lines[0]) + len(lines[1]) + 20] ^= 0x01  # a byte of record 3
    cases = {
        "edit": (bytes(flipped), "BROKEN at record 3: "),
        "swap": (lines[0] + lines[2] + lines[1] + b"".join(lines[3:]), "BROKEN at record 2: "),
        "truncation": (b"".join(lines[:4]), "log truncated"),
        "deletion": (lines[0] + b"".join(lines[2:]), "BROKEN at record 2: "),
    }
    for name, (content, expected) in cases.items():
        log.write_bytes(content)
        result = run("audit", "verify", "audit.jsonl", env=env, cwd=tmp_path)
        assert result.returncode == 1, name
        assert expected in result.stdout.decode(), (name, result.stdout)
    log.write_bytes(original)
    assert run("audit", "verify", "audit.jsonl", env=env, cwd=tmp_path).returncode == 0
    other_key = {**env, "SANITIZER_MASTER_KEY": os.urandom(32).hex()}
    wrong = run("audit", "verify", "audit.jsonl", env=other_key, cwd=tmp_path)
    assert wrong.returncode == 1 and b"MAC does not match" in wrong.stdout


def test_a_custom_placeholder_format_round_trips(tmp_path: Path, env: dict[str, str]) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text('placeholder: {format: "[[{entity}:{n}]]"}\n', encoding="utf-8")
    common = ["--session", "p", "--vault", "sqlite:///v.db", "--policy", str(policy)]
    red = run("redact", "--no-ner", *common, env=env, cwd=tmp_path,
              stdin=f"write {EMAIL}\n".encode())
    assert red.stdout == b"write [[EMAIL_ADDRESS:1]]\n"
    back = run("restore", *common, env=env, cwd=tmp_path, stdin=b"ok [[email_address:1]]!")
    assert back.stdout.decode() == f"ok {EMAIL}!"


@pytest.mark.parametrize(("args", "message"), [
    (["redact", "--no-ner", "--session", "s", "--vault", "sqlite:///v.db"],
     "a persistent vault needs a master key"),
    (["redact", "--no-ner", "--audit-log", "a.jsonl"], "an audit log needs a master key"),
    (["restore", "--session", "s", "--vault", "sqlite:///v.db"],
     "a persistent vault needs a master key"),
    (["vault", "forget", "--session", "s", "--vault", "sqlite:///v.db"],
     "a persistent vault needs a master key"),
    (["redact", "--no-ner", "--session", "s", "--vault", "mysql://x",
      "--key-file", "ok.key"], "unknown vault URL scheme 'mysql'"),
    (["redact", "--no-ner", "--session", "s", "--vault", "sqlite:///v.db",
      "--key-file", "k.key"], "k.key entry 1: a master key must be 32 random bytes"),
    (["audit", "verify", "missing.jsonl"], "missing.jsonl: no such audit log"),
    (["vault", "keygen", "k.key"], "already exists"),
])
def test_user_mistakes_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SANITIZER_MASTER_KEY")}
    (tmp_path / "k.key").write_text("exists")
    (tmp_path / "ok.key").write_text(os.urandom(32).hex())
    result = run(*args, env=clean, cwd=tmp_path, stdin=f"mail {EMAIL}\n".encode())
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert result.stdout == b"" and EMAIL not in err
    assert not (tmp_path / "a.jsonl").exists() and not (tmp_path / "v.db").exists()


def test_audit_verify_without_a_key_says_so(tmp_path: Path) -> None:
    (tmp_path / "audit.jsonl").write_text("{}\n")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SANITIZER_MASTER_KEY")}
    result = run("audit", "verify", "audit.jsonl", env=clean, cwd=tmp_path)
    assert result.returncode == 2
    assert b"needs the master key the log was written with" in result.stderr


def test_help_explains_the_vault_commands() -> None:
    for command in (["restore"], ["vault", "forget"], ["vault", "keygen"], ["audit", "verify"]):
        result = run(*command, "--help", env=dict(os.environ))
        assert result.returncode == 0
        assert b"usage: sanitizer " + " ".join(command).encode() in result.stdout
