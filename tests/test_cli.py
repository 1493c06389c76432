"""The command line as a user meets it: JSON Lines in and out, one clear line per mistake."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from sanitizer.examples import expand

RNG = random.Random("test_cli")
TOKEN = expand("{github_token:ghp}", RNG).text
AWS = expand("AKIA{upnum:16}", RNG).text


def run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "sanitizer", *args], input=stdin,
                          capture_output=True, timeout=300)


def test_redact_jsonl_rewrites_only_the_text_field(tmp_path: Path) -> None:
    lines = [
        {"id": 1, "text": f"export GITHUB_TOKEN={TOKEN}", "meta": {"keep": TOKEN[:4]}},
        {"id": 2, "text": "nothing to see here", "tags": ["a", "b"]},
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    result = run("redact", "--jsonl", "--no-ner", str(source))
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [o["id"] for o in out] == [1, 2]
    assert TOKEN not in result.stdout.decode()
    assert out[0]["text"] == "export GITHUB_TOKEN=<GITHUB_TOKEN>"
    assert out[0]["meta"] == {"keep": TOKEN[:4]}
    (finding,) = out[0]["findings"]
    assert (finding["start"], finding["end"]) == (20, 20 + len(TOKEN))
    assert finding["entity"] == "GITHUB_TOKEN" and finding["rule_id"] == "github-pat-classic"
    assert out[1]["text"] == "nothing to see here" and out[1]["findings"] == []
    assert out[1]["tags"] == ["a", "b"]


def test_redact_text_from_stdin() -> None:
    result = run("redact", "--no-ner", stdin=f"aws id {AWS} ok\n".encode())
    assert result.returncode == 0, result.stderr
    assert AWS not in result.stdout.decode()
    assert result.stdout.decode().startswith("aws id <")


def test_detect_reports_positions_never_values() -> None:
    result = run("detect", "--no-ner", stdin=f"token: {TOKEN}".encode())
    assert result.returncode == 0, result.stderr
    assert TOKEN not in result.stdout.decode()
    (finding,) = [json.loads(x) for x in result.stdout.decode().splitlines()]
    assert finding["source"] == "<stdin>" and finding["entity"] == "GITHUB_TOKEN"


def test_detect_jsonl_drops_the_text_and_keeps_other_fields() -> None:
    line = json.dumps({"id": "x", "text": f"key {TOKEN}"}) + "\n"
    result = run("detect", "--jsonl", "--no-ner", stdin=line.encode())
    out = json.loads(result.stdout)
    assert "text" not in out and out["id"] == "x" and len(out["findings"]) == 1


@pytest.mark.parametrize(("content", "message"), [
    (b'{"text": "ok"}\n{not json}\n', "in.jsonl:2: not valid JSON"),
    (b'{"text": "ok"}\n{"body": "x"}\n', "in.jsonl:2: no 'text' field"),
    (b'{"text": 42}\n', "in.jsonl:1: field 'text' must be a string, got int"),
    (b'["text"]\n', "in.jsonl:1: expected a JSON object, got list"),
    (b'{"text": "ok"}\n{"text": "\xff\xfe"}\n', "in.jsonl:2: invalid UTF-8"),
])
def test_bad_jsonl_gets_one_clear_line(tmp_path: Path, content: bytes, message: str) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(content.replace(b"SECRET", TOKEN.encode()))
    result = run("redact", "--jsonl", "--no-ner", str(source))
    assert result.returncode == 2
    err = result.stderr.decode()
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_unsanitized_text_never_reaches_stdout_on_error(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"text": f"t {TOKEN}"}) + "\n{broken\n", encoding="utf-8")
    result = run("redact", "--jsonl", "--no-ner", str(source))
    assert result.returncode == 2
    assert TOKEN not in result.stdout.decode() + result.stderr.decode()


def test_missing_file_and_directory_are_usage_errors(tmp_path: Path) -> None:
    missing = run("redact", str(tmp_path / "nope.txt"))
    assert missing.returncode == 2 and b"cannot read" in missing.stderr
    folder = run("detect", str(tmp_path))
    assert folder.returncode == 2 and b"is a directory" in folder.stderr


def test_broken_config_fails_closed(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[detection]\nner = 'yes'\n", encoding="utf-8")
    result = run("redact", "--config", str(config), stdin=b"hello")
    assert result.returncode == 2
    assert b"ner has the wrong type" in result.stderr and result.stdout == b""


def test_help_explains_every_command() -> None:
    for command in ("detect", "redact", "demo"):
        result = run(command, "--help")
        assert result.returncode == 0 and b"usage: sanitizer " + command.encode() in result.stdout


def test_demo_shows_before_and_after() -> None:
    result = run("demo", "--samples", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {r["surface"] for r in rows} >= {"user prompt", "tool result (CRM lookup)"}
    entities = {f["entity"] for r in rows for f in r["findings"]}
    assert {"OPENAI_API_KEY", "EMAIL_ADDRESS", "GITHUB_TOKEN", "CREDIT_CARD"} <= entities
    for row in rows:
        for finding in row["findings"]:
            value = row["before"][finding["start"]:finding["end"]]
            assert value not in row["after"]
