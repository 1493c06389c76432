"""Bad input at the command line: one clear line naming the place, a non-zero exit, no
traceback, and nothing unsanitized on stdout.

Most cases run ``sanitizer.cli.main`` in-process with real byte streams behind stdin and
stdout (UTF-8, strict — as a terminal or a pipe would be); a few run the real command to
check what a user sees end to end.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sanitizer.cli import main
from sanitizer.examples import expand

TOKEN = expand("{github_token:ghp}", random.Random("cli-bad")).text
EMAIL = "ann.lee@corp.example"
GOOD = json.dumps({"id": 1, "text": f"mail {EMAIL} key {TOKEN}"})


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def error_line(self) -> str:
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, f"expected one line on stderr, got: {self.err!r}"
        assert lines[0].startswith("sanitizer: error: "), lines[0]
        return lines[0]


Cli = Callable[..., Run]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    def run(*args: str, stdin: bytes = b"") -> Run:
        out, err = io.BytesIO(), io.BytesIO()
        streams = {name: io.TextIOWrapper(buffer, encoding="utf-8", errors="strict",
                                          write_through=True)
                   for name, buffer in (("stdout", out), ("stderr", err))}
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin),
                                                           encoding="utf-8"))
        monkeypatch.setattr(sys, "stdout", streams["stdout"])
        monkeypatch.setattr(sys, "stderr", streams["stderr"])
        code = main(list(args))
        streams["stdout"].flush()
        streams["stderr"].flush()
        result = Run(code, out.getvalue().decode("utf-8"), err.getvalue().decode("utf-8"))
        assert "Traceback" not in result.err
        assert TOKEN not in result.out + result.err
        assert EMAIL not in result.out + result.err
        return result

    yield run
    monkeypatch.undo()


def jsonl(tmp_path: Path, *lines: str | bytes) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n"
                              for line in lines))
    return path


@pytest.mark.parametrize(("line", "message"), [
    ('{"id": 2, "text": "unterminated', r"in\.jsonl:2: not valid JSON \(Unterminated string"),
    ('{"id": 2 "text": "x"}', r"in\.jsonl:2: not valid JSON \(Expecting ',' delimiter"),
    ("[1, 2, 3]", r"in\.jsonl:2: expected a JSON object, got list"),
    ('"just a string"', r"in\.jsonl:2: expected a JSON object, got str"),
    ('{"id": 2}', r"in\.jsonl:2: no 'text' field"),
    ('{"id": 2, "text": 42}', r"in\.jsonl:2: field 'text' must be a string, got int"),
    ('{"id": 2, "text": null}', r"in\.jsonl:2: field 'text' must be a string, got NoneType"),
    ('{"id": 2, "text": ["a"]}', r"in\.jsonl:2: field 'text' must be a string, got list"),
    ("[" * 100_000 + "]" * 100_000, r"in\.jsonl:2: .*nested too deeply"),
    ('{"text": "' + "x" * 5_000_001 + '"}', r"in\.jsonl:2: .*max_input_chars"),
])
@pytest.mark.parametrize("command", ["redact", "detect"])
def test_bad_json_lines_name_the_line(cli: Cli, tmp_path: Path, line: str, message: str,
                                      command: str) -> None:
    path = jsonl(tmp_path, GOOD, line, GOOD)
    run = cli(command, "--jsonl", "--no-ner", str(path))
    assert run.code == 2
    assert re.search(message, run.error_line), run.error_line
    out = [json.loads(x) for x in run.out.splitlines()]
    assert [o.get("id") for o in out] == [1]  # the good line before, nothing after


def test_invalid_utf8_is_an_error_with_the_offset(cli: Cli, tmp_path: Path) -> None:
    path = jsonl(tmp_path, GOOD, b'{"text": "caf\xe9 \xff"}')
    run = cli("redact", "--jsonl", "--no-ner", str(path))
    assert run.code == 2
    assert run.error_line.endswith("in.jsonl:2: invalid UTF-8 at byte 13")
    text = tmp_path / "in.txt"
    text.write_bytes(f"mail {EMAIL}\n".encode() + b"\xc3\x28 broken")
    run = cli("redact", "--no-ner", str(text))
    assert run.code == 2 and "in.txt: invalid UTF-8 at byte" in run.error_line
    assert run.out == ""
    run = cli("redact", "--no-ner", stdin=b"\xfe\xff")
    assert run.code == 2 and "<stdin>: invalid UTF-8 at byte 0" in run.error_line


def test_unreadable_inputs(cli: Cli, tmp_path: Path) -> None:
    cases = {
        str(tmp_path / "missing.jsonl"): "No such file or directory",
        str(tmp_path): "is a directory",
        str(tmp_path / "file.txt" / "below"): "Not a directory",
    }
    (tmp_path / "file.txt").write_text("x")
    for path, reason in cases.items():
        for args in (["redact", "--no-ner", path], ["detect", "--jsonl", path],
                     ["restore", "--session", "s", "--vault", "memory://", path]):
            run = cli(*args)
            assert run.code == 2, args
            assert path in run.error_line and reason in run.error_line, run.error_line


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied(cli: Cli, tmp_path: Path) -> None:
    secret = tmp_path / "locked.txt"
    secret.write_text("x")
    secret.chmod(0)
    run = cli("redact", str(secret))
    assert run.code == 2 and "Permission denied" in run.error_line


@pytest.mark.parametrize(("option", "content", "message"), [
    ("--policy", "[defaults]\nsecret = 'publish'\n", "publish"),
    ("--policy", "[defaults\nsecret = 'redact'\n", "invalid TOML"),
    ("--policy", "[entities]\nEMAIL_ADDRESS = 3\n", "EMAIL_ADDRESS"),
    ("--policy", "[allowlist]\npatterns = ['(unclosed']\n", "allowlist"),
    ("--policy", "[tools.deploy]\ntier = 9\n", "tier"),
    ("--policy", "[surfaces.nowhere]\nsecret = 'redact'\n", "nowhere"),
    ("--config", "[detection]\nmax_input_chars = 'big'\n", "wrong type"),
    ("--config", "[detection]\nchunk_chars = 100\nchunk_overlap = 90\n", "chunk_overlap"),
    ("--config", "[detection]\nunknown = 1\n", "unknown keys"),
    ("--config", "not toml at all [", "invalid TOML"),
])
def test_broken_policy_or_config_fails_closed_with_its_file(cli: Cli, tmp_path: Path,
                                                            option: str, content: str,
                                                            message: str) -> None:
    path = tmp_path / f"{option.removeprefix('--')}.toml"
    path.write_text(content)
    run = cli("redact", "--no-ner", option, str(path), stdin=f"mail {EMAIL}".encode())
    assert run.code == 2
    assert path.name in run.error_line and message in run.error_line, run.error_line
    assert run.out == ""


def test_missing_policy_and_config_files(cli: Cli, tmp_path: Path) -> None:
    for option in ("--policy", "--config"):
        run = cli("redact", "--no-ner", option, str(tmp_path / "nope.toml"),
                  stdin=b"x")
        assert run.code == 2 and "nope.toml" in run.error_line


def test_lone_surrogates_in_json_lines_come_out_as_valid_json(cli: Cli,
                                                              tmp_path: Path) -> None:
    path = jsonl(tmp_path, json.dumps({"id": 1, "text": f"\ud800 mail {EMAIL}",
                                       "note": "\udfff"}))
    run = cli("redact", "--jsonl", "--no-ner", str(path))
    assert run.code == 0, run.err
    (record,) = [json.loads(line) for line in run.out.splitlines()]
    assert record["text"] == "\ud800 mail <EMAIL_ADDRESS>"
    assert record["note"] == "\udfff"


def test_vault_and_key_mistakes(cli: Cli, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SANITIZER_MASTER_KEY", raising=False)
    monkeypatch.delenv("SANITIZER_MASTER_KEY_FILE", raising=False)
    run = cli("redact", "--no-ner", "--session", "s",
              "--vault", f"sqlite:///{tmp_path}/v.db", stdin=f"mail {EMAIL}".encode())
    assert run.code == 2 and "master key" in run.error_line and run.out == ""
    key = tmp_path / "bad.key"
    key.write_text("too short")
    run = cli("redact", "--no-ner", "--session", "s",
              "--vault", f"sqlite:///{tmp_path}/v.db", "--key-file", str(key),
              stdin=f"mail {EMAIL}".encode())
    assert run.code == 2 and run.out == ""
    run = cli("redact", "--no-ner", "--session", "s", "--vault",
              "ftp://nowhere", stdin=f"mail {EMAIL}".encode())
    assert run.code == 2 and "vault" in run.error_line and run.out == ""


def test_the_real_command_shows_one_line_and_no_traceback(tmp_path: Path) -> None:
    path = jsonl(tmp_path, GOOD, '{"text": ', GOOD)
    result = subprocess.run([sys.executable, "-m", "sanitizer", "redact", "--jsonl",
                             "--no-ner", str(path)], capture_output=True, timeout=300)
    assert result.returncode == 2
    err = result.stderr.decode()
    assert err.count("\n") == 1 and err.startswith("sanitizer: error: ")
    assert "in.jsonl:2: not valid JSON" in err and "Traceback" not in err
    out = result.stdout.decode()
    assert TOKEN not in out and EMAIL not in out and len(out.splitlines()) == 1
    deep = jsonl(tmp_path, "[" * 200_000 + "]" * 200_000)
    result = subprocess.run([sys.executable, "-m", "sanitizer", "detect", "--jsonl",
                             "--no-ner", str(deep)], capture_output=True, timeout=300)
    assert result.returncode == 2 and b"Traceback" not in result.stderr
    assert result.stderr.count(b"\n") == 1
