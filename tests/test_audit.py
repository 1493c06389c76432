"""The audit chain: verifies when intact, catches every edit, cut, swap and deletion."""

from __future__ import annotations

import io
import itertools
import json
import logging
import multiprocessing
import os
import random
import threading
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from sanitizer.audit import (
    GENESIS,
    AuditEvent,
    AuditLog,
    FileSink,
    LoggingSink,
    StdoutSink,
    checkpoint_path,
    log_files,
    verify_log,
)
from sanitizer.errors import AuditError
from sanitizer.keys import KeyRing

KEY = bytes(range(32))
RNG = random.Random("test_audit")


def event(i: int, session: str = "s1", fingerprint: str | None = None) -> AuditEvent:
    return AuditEvent(
        session=session,
        surface="prompt",
        entity="EMAIL_ADDRESS",
        rule_id="email",
        action="tokenize",
        placeholder=f"<EMAIL_ADDRESS_{i}>",
        fingerprint=fingerprint or f"{RNG.getrandbits(128):032x}",
        start=i * 10,
        end=i * 10 + 7,
        detector="rules",
    )


def write_log(path: Path, count: int, **sink_options: object) -> None:
    with AuditLog(KEY, [FileSink(path, **sink_options)]) as log:  # type: ignore[arg-type]
        for i in range(count):
            log.record(event(i))


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_records_chain_and_verify(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 5)
    result = verify_log(path, KEY)
    assert result.ok, result.reason
    assert (result.records, result.first_bad, result.files) == (5, None, [str(path)])
    records = [json.loads(line) for line in lines(path)]
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
    assert records[0]["prev"] == GENESIS
    assert all(b["prev"] == a["mac"] for a, b in itertools.pairwise(records))
    assert set(records[0]) == {
        "kind", "seq", "prev", "mac", "time", "session", "surface", "entity", "rule_id",
        "action", "placeholder", "fingerprint", "start", "end", "detector",
    }
    assert not verify_log(path, bytes(32)).ok  # another key


def test_a_new_log_continues_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 3)
    write_log(path, 2)
    result = verify_log(path, KEY)
    assert result.ok and result.records == 5


def test_every_single_byte_flip_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 4)
    original = path.read_bytes()
    assert verify_log(path, KEY).ok
    for file in (path, checkpoint_path(path)):
        content = file.read_bytes()
        fd = os.open(file, os.O_RDWR)  # patch in place: one byte out, one byte back
        try:
            for position in range(len(content)):
                for mask in (0x01, 0x20):
                    os.pwrite(fd, bytes([content[position] ^ mask]), position)
                    result = verify_log(path, KEY)
                    assert not result.ok, f"{file.name}: flip {mask:#x} at {position} unnoticed"
                    assert result.first_bad is not None
                    os.pwrite(fd, content[position : position + 1], position)
        finally:
            os.close(fd)
    assert path.read_bytes() == original
    assert verify_log(path, KEY).ok


def test_truncation_swap_deletion_insertion(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 6)
    original = lines(path)

    def check(new: list[bytes], first_bad: int | None = None) -> str:
        path.write_bytes(b"".join(new))
        result = verify_log(path, KEY)
        assert not result.ok
        if first_bad is not None:
            assert result.first_bad == first_bad, result.reason
        return result.reason

    assert "truncated" in check(original[:-1])  # tail cut: the checkpoint says more
    assert "truncated" in check(original[:2])
    check([*original[:-1], original[-1][:-10]])  # cut inside the last record
    check([original[0], original[2], original[1], *original[3:]], first_bad=2)  # swap
    check([*original[:3], *original[4:]], first_bad=4)  # deletion in the middle
    check(original[1:], first_bad=1)  # deletion of the head
    check([*original[:3], original[2], *original[3:]], first_bad=4)  # duplicate
    check([*original, b"\n"])  # an empty line
    path.write_bytes(b"".join(original))
    assert verify_log(path, KEY).ok
    checkpoint_path(path).unlink()
    missing = verify_log(path, KEY)
    assert not missing.ok and "missing" in missing.reason
    assert verify_log(path, KEY, require_checkpoint=False).ok


def test_rotation_keeps_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "audit.jsonl"
    write_log(path, 40, max_bytes=2000)
    files = log_files(path)
    assert len(files) > 3
    assert [f.name for f in files[:2]] == ["audit.jsonl.1", "audit.jsonl.2"]
    write_log(path, 10, max_bytes=2000)  # a restart continues across the rotated files
    result = verify_log(path, KEY)
    assert result.ok, result.reason
    assert result.records == 50 and len(result.files) == len(log_files(path))
    assert verify_log(log_files(path), KEY).ok  # an explicit list in order
    swapped = log_files(path)
    swapped[0], swapped[1] = swapped[1], swapped[0]
    assert not verify_log(swapped, KEY).ok
    middle = log_files(path)[1]
    middle_bytes = middle.read_bytes()
    middle.unlink()  # a whole rotated file deleted
    assert not verify_log(path, KEY).ok
    middle.write_bytes(middle_bytes)
    oldest = log_files(path)[0]
    oldest.write_bytes(b"".join(lines(oldest)[:-1]))  # a rotated file's tail cut
    assert not verify_log(path, KEY).ok


def test_time_rotation(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(KEY, [FileSink(path, rotate_every=timedelta(hours=1))]) as log:
        log.record(replace(event(0), time="2000-01-01T00:00:00.000000Z"))  # began long ago
    with AuditLog(KEY, [FileSink(path, rotate_every=timedelta(hours=1))]) as log:
        log.record(event(1))  # due: the live file is older than an hour
        log.record(event(2))  # not due: the new file is fresh
    assert [len(lines(f)) for f in log_files(path)] == [1, 2]
    assert verify_log(path, KEY).ok


def test_retention_deletes_old_files_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 30, max_bytes=1500)
    rotated = log_files(path)[:-1]
    assert len(rotated) >= 4
    long_ago = time.time() - 100 * 86400
    for file in rotated[:3]:
        os.utime(file, (long_ago, long_ago))
    write_log(path, 15, max_bytes=1500, retention_days=30)
    remaining = log_files(path)
    assert not any(f in remaining for f in rotated[:3])
    assert rotated[3] in remaining
    result = verify_log(path, KEY)
    assert result.ok, result.reason
    kinds = [json.loads(line)["kind"] for f in remaining for line in lines(f)]
    assert kinds.count("retention") == 1
    rotated[3].unlink()  # deleting beyond what retention recorded is caught
    result = verify_log(path, KEY)
    assert not result.ok and "deleted" in result.reason


def test_retention_may_remove_every_rotated_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 12, max_bytes=1000)
    for file in log_files(path)[:-1]:
        os.utime(file, (0, 0))
    write_log(path, 12, max_bytes=1000, retention_days=1)
    assert verify_log(path, KEY).ok


def _process_writer(args: tuple[str, int, int]) -> None:
    path, seed, count = args
    with AuditLog(KEY, [FileSink(path, max_bytes=4000, fsync_interval=None)]) as log:
        for i in range(count):
            log.record(event(i, session=f"proc{seed}"))


def test_threads_and_processes_share_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(KEY, [FileSink(path, max_bytes=4000)])
    def work() -> None:
        for i in range(50):
            log.record(event(i))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        pool.map(_process_writer, [(str(path), seed, 40) for seed in range(3)])
    result = verify_log(path, KEY)
    assert result.ok, result.reason
    assert result.records == 200 + 120


def test_stdout_and_logging_sinks_get_the_same_lines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stream = io.StringIO()
    path = tmp_path / "audit.jsonl"
    with caplog.at_level(logging.INFO, logger="test.audit"):
        log = AuditLog(KEY, [FileSink(path), StdoutSink(stream), LoggingSink("test.audit")])
        for i in range(3):
            log.record(event(i))
        log.close()
    file_lines = path.read_text().splitlines()
    assert stream.getvalue().splitlines() == file_lines
    assert [r.getMessage() for r in caplog.records] == file_lines
    captured = tmp_path / "stdout.jsonl"
    captured.write_text(stream.getvalue())
    assert verify_log(captured, KEY, require_checkpoint=False).ok
    memory_only = io.StringIO()
    AuditLog(KEY, [StdoutSink(memory_only)]).record(event(1))
    assert json.loads(memory_only.getvalue())["seq"] == 1


def test_a_log_spanning_a_key_rotation_verifies_with_all_keys(tmp_path: Path) -> None:
    old, new = os.urandom(32), os.urandom(32)
    before = KeyRing({"old": old}, "old")
    after = KeyRing({"new": new, "old": old}, "new")
    path = tmp_path / "audit.jsonl"
    with AuditLog(before.audit_key(), [FileSink(path)]) as log:
        log.record(event(1))
    with AuditLog(after.audit_key(), [FileSink(path)]) as log:
        log.record(event(2))
    assert not verify_log(path, after.audit_key()).ok
    assert verify_log(path, after.audit_keys()).ok


def test_planted_value_never_reaches_the_audit_trail(tmp_path: Path) -> None:
    ring = KeyRing({"k1": os.urandom(32)}, "k1")
    value = f"CANARY-{os.urandom(8).hex()}@example.test"
    path = tmp_path / "audit.jsonl"
    stream = io.StringIO()
    with AuditLog(ring.audit_key(), [FileSink(path), StdoutSink(stream)]) as log:
        log.record(event(1, fingerprint=ring.fingerprint("EMAIL_ADDRESS", value)))
    everything = b"".join(p.read_bytes() for p in tmp_path.iterdir()) + stream.getvalue().encode()
    assert value.encode() not in everything
    assert ring.fingerprint("EMAIL_ADDRESS", value).encode() in everything


def test_incomplete_tail_stops_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 2)
    with path.open("ab") as handle:
        handle.write(b'{"seq":3')
    with pytest.raises(AuditError, match="incomplete"):
        write_log(path, 1)


def test_verify_says_what_it_checked(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_log(path, 3)
    result = verify_log(path, KEY)
    assert result.reason == ("3 records in 1 file(s); every MAC valid, chain unbroken from "
                             "seq 1 to 3; checkpoint audit.jsonl.head at seq 3 matches")
    copy = tmp_path / "captured.jsonl"  # e.g. a stdout capture: no checkpoint
    copy.write_bytes(path.read_bytes())
    relaxed = verify_log(copy, KEY, require_checkpoint=False)
    assert relaxed.ok and relaxed.reason.endswith("no checkpoint (tail truncation not checked)")
    missing = verify_log(tmp_path / "none.jsonl", KEY)
    assert not missing.ok and missing.first_bad == 1


def test_sanitize_and_restore_record_one_event_per_decision(tmp_path: Path) -> None:
    from sanitizer.engine import Sanitizer
    from sanitizer.examples import expand
    from sanitizer.policy import Policy

    rng = random.Random("engine-audit")
    email, allowed = expand("{email}", rng).text, expand("{email}", rng).text
    card = expand("{card}", rng).text
    ring = KeyRing({"k1": os.urandom(32)}, "k1")
    path = tmp_path / "audit.jsonl"
    log = AuditLog(ring.audit_key(), [FileSink(path)])
    s = Sanitizer(ner=False, known_values_from_env=False, keyring=ring, audit=log,
                  policy=Policy(allow_values=frozenset({allowed}),
                                entities={"CREDIT_CARD": "hash"}))
    text = f"mail {email}, card {card}, cc {allowed}"
    done = s.sanitize(text, surface="tool_result", session="conv-1")
    restored = s.restore(str(done.result), session="conv-1")
    log.close()
    assert verify_log(path, ring.audit_keys()).ok
    records = [json.loads(line) for line in lines(path)]
    events = [(r["action"], r["entity"], r["surface"]) for r in records]
    assert events == [("tokenize", "EMAIL_ADDRESS", "tool_result"),
                      ("hash", "CREDIT_CARD", "tool_result"),
                      ("allow", "EMAIL_ADDRESS", "tool_result"),
                      ("restore", "EMAIL_ADDRESS", "user")]
    first = records[0]
    assert (first["start"], first["end"]) == (text.index(email), text.index(email) + len(email))
    assert first["placeholder"] == "<EMAIL_ADDRESS_1>" and first["session"] == "conv-1"
    assert first["rule_id"] == "email-address" and first["time"]
    assert first["fingerprint"] == ring.fingerprint("EMAIL_ADDRESS", email)
    assert records[1]["placeholder"].startswith("<CREDIT_CARD#")
    assert records[2]["reason"] == "allowlisted" and records[2]["placeholder"] is None
    everything = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for value in (email, card, allowed):
        assert value in text and value.encode() not in everything
    assert email in restored
