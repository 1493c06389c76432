"""``sanitizer scrub`` as a user meets it: dry run and diff without values, apply and
apply again, tokens that 'sanitizer restore' turns back, worker processes, a killed run
that resumes, one-line usage errors."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from sanitizer.examples import expand

RNG = random.Random("test_scrub_cli")
EMAILS = [expand("{email}", RNG).text for _ in range(5)]


def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("SANITIZER_MASTER_KEY", "SANITIZER_MASTER_KEY_FILE")}
    return {**clean, "XDG_STATE_HOME": str(tmp_path / "state")}


def scrub(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sanitizer", "scrub", *args, "--no-ner"],
                          capture_output=True, text=True, timeout=600, env=env(tmp_path))


def notes(count: int, seed: str) -> list[str]:
    rng = random.Random(seed)
    return [expand(f"note {i}: write to {rng.choice(EMAILS)} with {{github_token:ghp}}",
                   rng).text for i in range(count)]


def test_dry_run_diff_then_apply_then_nothing_left_to_do(tmp_path: Path) -> None:
    root = tmp_path / "hermes" / "memories"
    root.mkdir(parents=True)
    texts = notes(2, "hermes")
    (root / "MEMORY.md").write_text(f"# Memory\n\n- {texts[0]}\n- likes tea\n")
    (root / "USER.md").write_text(f"# User\n\n{texts[1]}\n")
    (root / "plain.txt").write_text("nothing sensitive\n")
    before = {p.name: p.read_bytes() for p in root.iterdir()}

    dry = scrub(tmp_path, str(root), "--diff")
    assert dry.returncode == 0, dry.stderr
    assert {p.name: p.read_bytes() for p in root.iterdir()} == before
    out = dry.stdout
    assert "dry run" in out and "records scanned      3" in out and "would change 2" in out
    assert "+- note 0: write to <EMAIL_ADDRESS> with <GITHUB_TOKEN>" in out
    assert "-- note 0: write to «EMAIL_ADDRESS» with «GITHUB_TOKEN»" in out
    assert not any(e in out for e in EMAILS) and "ghp_" not in out

    applied = scrub(tmp_path, str(root), "--apply", "--backup", str(tmp_path / "bk"), "--json")
    assert applied.returncode == 0, applied.stderr
    report = json.loads(applied.stdout)
    assert (report["scanned"], report["changed"]) == (3, 2)
    assert report["entities"] == {"EMAIL_ADDRESS": 2, "GITHUB_TOKEN": 2}
    memory = (root / "MEMORY.md").read_text()
    assert memory == "# Memory\n\n- note 0: write to <EMAIL_ADDRESS> with <GITHUB_TOKEN>\n" \
                     "- likes tea\n"
    assert (root / "plain.txt").read_bytes() == before["plain.txt"]
    after = {p.name: p.read_bytes() for p in root.iterdir()}

    again = scrub(tmp_path, str(root), "--apply", "--json")
    assert json.loads(again.stdout)["changed"] == 0
    assert {p.name: p.read_bytes() for p in root.iterdir()} == after
    assert not list((tmp_path / "state").rglob("*.json"))  # finished runs leave no checkpoint


def test_tokens_are_restored_for_authorised_users(tmp_path: Path) -> None:
    key = tmp_path / "master.key"
    subprocess.run([sys.executable, "-m", "sanitizer", "vault", "keygen", str(key)],
                   check=True, capture_output=True, timeout=120)
    source = tmp_path / "m.jsonl"
    texts = notes(4, "tokens")
    source.write_text("".join(json.dumps({"memory": {"content": t}, "id": i}) + "\n"
                              for i, t in enumerate(texts)))
    vault = f"sqlite:///{tmp_path / 'vault.db'}"
    common = ["--vault", vault, "--session", "mem-1", "--key-file", str(key)]
    result = scrub(tmp_path, str(source), "--field", "memory.content", "--apply", *common)
    assert result.returncode == 0, result.stderr
    stored = [json.loads(x) for x in source.read_text().splitlines()]
    assert [s["id"] for s in stored] == [0, 1, 2, 3]
    assert stored[0]["memory"]["content"].startswith("note 0: write to <EMAIL_ADDRESS_")
    restored = subprocess.run(
        [sys.executable, "-m", "sanitizer", "restore", "--jsonl", "--field", "text", *common],
        input="".join(json.dumps({"text": s["memory"]["content"]}) + "\n" for s in stored),
        capture_output=True, text=True, timeout=300, env=env(tmp_path))
    assert restored.returncode == 0, restored.stderr
    for line, original in zip(restored.stdout.splitlines(), texts, strict=True):
        text = json.loads(line)["text"]
        assert text.split(" with ")[0] == original.split(" with ")[0]  # e-mail back
        assert text.endswith("<GITHUB_TOKEN_" + text.rsplit("_", 1)[1])  # secrets stay handles
    dry = scrub(tmp_path, str(source), "--field", "memory.content", *common)
    assert "would change 0" in dry.stdout


def test_two_workers_give_the_same_result_as_one(tmp_path: Path) -> None:
    texts = notes(40, "workers")
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    for path in (one, two):
        path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    first = scrub(tmp_path, str(one), "--apply", "--batch-size", "3")
    second = scrub(tmp_path, str(two), "--apply", "--batch-size", "3", "--workers", "2")
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    assert "records changed      40" in second.stdout
    assert one.read_text() == two.read_text()
    assert "ghp_" not in two.read_text()


def test_a_killed_run_resumes_where_it_stopped(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    texts = notes(600, "killed")
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE mem (id INTEGER PRIMARY KEY, content TEXT, other TEXT)")
    conn.executemany("INSERT INTO mem (content, other) VALUES (?, ?)",
                     [(t, f"o{i}") for i, t in enumerate(texts)])
    conn.commit()
    checkpoint = tmp_path / "run.checkpoint"
    args = [sys.executable, "-m", "sanitizer", "scrub", f"sqlite:///{db}", "--table", "mem",
            "--column", "content", "--no-ner", "--apply", "--batch-size", "2",
            "--checkpoint", str(checkpoint)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env=env(tmp_path))
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert process.stderr is not None
    process.stderr.close()
    done_before = json.loads(checkpoint.read_text())["totals"]["scanned"]
    assert 0 < done_before < 600

    resumed = subprocess.run([*args, "--json"], capture_output=True, text=True, timeout=600,
                             env=env(tmp_path))
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    # A kill between a batch's commit and its checkpoint leaves that batch (2 rows) to be
    # read again: already clean, so it is scanned, not changed, a second time.
    assert report["resumed"] and report["scanned"] == 600
    assert 600 - 2 <= report["changed"] <= 600
    rows = conn.execute("SELECT content, other FROM mem ORDER BY id").fetchall()
    expected = [t.split(" write to ")[0] + " write to <EMAIL_ADDRESS> with <GITHUB_TOKEN>"
                for t in texts]
    assert rows == [(e, f"o{i}") for i, e in enumerate(expected)]
    conn.close()


def test_usage_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "m.jsonl").write_text("{}\n")
    (tmp_path / "m.db").write_bytes(b"")
    cases = [
        [f"sqlite:///{tmp_path / 'm.db'}"],                          # no --table/--column
        [str(tmp_path / "m.jsonl"), "--match", "x*"],                # Redis-only option
        ["ftp://host/x"],                                            # unknown scheme
        [str(tmp_path / "missing.jsonl")],                           # no such file
        [str(tmp_path / "m.jsonl"), "--workers", "0"],
        [str(tmp_path / "m.jsonl"), "--apply", "--vault", f"sqlite:///{tmp_path / 'v.db'}"],
    ]
    for args in cases:
        result = scrub(tmp_path, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("sanitizer: error: "), (args, lines)
    (tmp_path / "bad.jsonl").write_text('{"text": "fine"}\nnot json\n')
    failed = scrub(tmp_path, str(tmp_path / "bad.jsonl"), "--apply")
    assert failed.returncode == 1 and "failed: line 2: not valid JSON" in failed.stdout
    assert (tmp_path / "bad.jsonl").read_text() == '{"text": "fine"}\nnot json\n'
