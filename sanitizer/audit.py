"""The audit trail: one chained JSON line per decision, never a value, never the text.

Record format (canonical JSON: sorted keys, no spaces, ASCII)::

    {"action":…,"end":…,"entity":…,"fingerprint":…,"kind":"event","mac":…,"placeholder":…,
     "prev":…,"rule_id":…,"seq":…,"session":…,"start":…,"surface":…,"time":…}

``seq`` counts from 1 across rotated files; ``prev`` is the ``mac`` of the previous record
(64 zeros before the first); ``mac = HMAC-SHA256(audit key, canonical JSON without mac)``.
The key comes from the master key (``KeyRing.audit_key()``), so nobody without it can forge,
re-chain or re-MAC records.

What ``verify_log`` detects, and what it cannot:

* any edit (every single-byte flip: a record must re-encode to exactly its own bytes and
  its MAC must match), reordering and deletion of records (``seq``/``prev`` break), removal
  or reordering of whole rotated files (the chain continues across files);
* deletion of the oldest records: a log must start at seq 1 — unless retention deleted old
  files, and then it writes a ``retention`` record (MAC'd, in the chain) naming the seq and
  prev the log now starts at; any other start is reported;
* truncation of the tail: ``FileSink`` keeps a checkpoint ``<path>.head`` (last seq and mac,
  MAC'd) updated after each append. A log that ends before the checkpoint is truncated; a
  missing checkpoint is reported unless ``require_checkpoint=False``.
* not detectable: an attacker holding an *older* copy of both the log and its checkpoint can
  roll both back together (no keyless check can tell an old state from a current one); ship
  the chain head elsewhere (``LoggingSink``/``StdoutSink`` to a collector) to anchor it.
  The records written by the last process that crashed between append and checkpoint update
  (at most one per crash) are accepted.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

from .errors import AuditError

GENESIS = "0" * 64
_ROTATED = re.compile(r"\.(\d+)$")
_TAIL_CHUNK = 64 * 1024
_HEAD_WINDOW = 64


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    """One policy decision. Positions and a keyed fingerprint only: no field holds a value.

    ``reason`` is a short fixed code (``"allowlisted"``, ``"policy:block"``), never text.
    """

    session: str
    surface: str
    entity: str
    rule_id: str
    action: str
    placeholder: str | None
    fingerprint: str | None
    start: int
    end: int
    detector: str | None = None
    tenant: str | None = None
    reason: str | None = None
    time: str = field(default_factory=utc_now)

    def body(self) -> dict[str, object]:
        """The record fields (optional ones only when set)."""
        data: dict[str, object] = {"kind": "event", **asdict(self)}
        for name in ("detector", "tenant", "reason"):
            if data[name] is None:
                del data[name]
        return data


def canonical(record: Mapping[str, object]) -> str:
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


class Chain:
    """Seals records into the MAC chain (holds the audit key)."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise AuditError("the audit key must be at least 16 bytes")
        self._key = key

    def __repr__(self) -> str:
        return "Chain(<key>)"

    def mac(self, record: Mapping[str, object]) -> str:
        return hmac.new(self._key, canonical(record).encode("ascii"), hashlib.sha256).hexdigest()

    def seal(self, seq: int, prev: str, body: Mapping[str, object]) -> tuple[str, str]:
        """The line (without newline) and mac of the record ``body`` at ``seq`` after ``prev``."""
        record = {**body, "seq": seq, "prev": prev}
        record.pop("mac", None)
        mac = self.mac(record)
        record["mac"] = mac
        return canonical(record), mac


# sinks ---------------------------------------------------------------------------------------
@runtime_checkable
class AuditSink(Protocol):
    """Where finished audit lines go."""

    def write(self, line: str) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class ChainSink(AuditSink, Protocol):
    """A sink that owns a persistent chain (continues it across processes and restarts)."""

    def append(self, chain: Chain, body: Mapping[str, object]) -> str: ...


class StdoutSink:
    """Lines to standard output (or another text stream), flushed each time."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def write(self, line: str) -> None:
        stream = self._stream or sys.stdout
        with self._lock:
            stream.write(line + "\n")
            stream.flush()

    def close(self) -> None:
        """The stream belongs to the caller."""


class LoggingSink:
    """Lines to a :mod:`logging` logger (ships the chain to whatever collects the logs)."""

    def __init__(self, logger: logging.Logger | str = "sanitizer.audit", level: int = logging.INFO):
        self._logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self._level = level

    def write(self, line: str) -> None:
        self._logger.log(self._level, "%s", line)

    def close(self) -> None:
        """Handlers belong to the logging configuration."""


@dataclass(slots=True)
class _State:
    ino: int | None
    size: int
    seq: int
    mac: str
    started: float | None


def _parse_time(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _last_line(path: Path) -> bytes | None:
    """The last complete line of a file (None if empty); a partial last line is an error."""
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return None
        chunk = _TAIL_CHUNK
        while True:
            start = max(0, size - chunk)
            handle.seek(start)
            data = handle.read(size - start)
            if not data.endswith(b"\n"):
                raise AuditError(
                    f"audit log {path} ends with an incomplete record; run `sanitizer audit verify`"
                )
            cut = data.rfind(b"\n", 0, len(data) - 1)
            if cut >= 0 or start == 0:
                return data[cut + 1 : -1]
            chunk *= 2


def _first_line(path: Path) -> bytes | None:
    with path.open("rb") as handle:
        line = handle.readline()
    return line.rstrip(b"\n") or None


def _record(line: bytes, path: Path) -> dict[str, object]:
    try:
        data = json.loads(line)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("seq"), int):
        raise AuditError(f"audit log {path} has an unreadable record; run `sanitizer audit verify`")
    return data


def rotated_files(path: str | os.PathLike[str]) -> list[Path]:
    """Rotated siblings ``path.1``, ``path.2``, … oldest (lowest number) first."""
    base = Path(path)
    found: list[tuple[int, Path]] = []
    if base.parent.is_dir():
        for sibling in base.parent.iterdir():
            if sibling.name.startswith(base.name + "."):
                match = _ROTATED.fullmatch(sibling.name[len(base.name) :])
                if match:
                    found.append((int(match.group(1)), sibling))
    return [p for _, p in sorted(found)]


def log_files(path: str | os.PathLike[str]) -> list[Path]:
    """Every file of a rotated log in chain order: rotated ones, then the live file."""
    base = Path(path)
    return [*rotated_files(base), *([base] if base.exists() else [])]


def checkpoint_path(path: str | os.PathLike[str]) -> Path:
    return Path(f"{os.fspath(path)}.head")


class FileSink:
    """Append-only JSON Lines file with rotation, retention and a chain checkpoint.

    Safe for many threads and processes: ``append`` holds an exclusive ``flock`` on
    ``<path>.lock`` while it reads the chain's last record, rotates if due, appends and
    updates ``<path>.head``. Rotation renames the live file to ``<path>.<n>`` (n grows, old
    names never change); retention deletes the oldest rotated files last written more than
    ``retention_days`` ago, after recording where the log now starts. Lines are written with
    one unbuffered ``write``; ``fsync`` runs at most every ``fsync_interval`` seconds (0: every
    record, None: only on rotation and close).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        max_bytes: int | None = 64 * 1024 * 1024,
        rotate_every: timedelta | None = None,
        retention_days: float | None = None,
        fsync_interval: float | None = 1.0,
    ) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.rotate_every = rotate_every
        self.retention_days = retention_days
        self.fsync_interval = fsync_interval
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise AuditError(f"cannot open audit log {self.path} ({exc.strerror})") from None
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._fd_ino: int | None = None
        self._state: _State | None = None
        self._last_fsync = 0.0

    def __repr__(self) -> str:
        return f"FileSink({str(self.path)!r})"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            if self._lock_fd < 0:
                raise AuditError(f"audit log {self.path} is closed")
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                yield
            except OSError as exc:
                raise AuditError(f"cannot write audit log {self.path} ({exc.strerror})") from None
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    # file handling --------------------------------------------------------------------------
    def _open_live(self) -> int:
        try:
            ino = os.stat(self.path).st_ino
        except FileNotFoundError:
            ino = None
        if self._fd is not None and ino == self._fd_ino:
            return self._fd
        self._close_fd()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._fd_ino = os.fstat(self._fd).st_ino
        return self._fd

    def _close_fd(self, sync: bool = False) -> None:
        if self._fd is not None:
            if sync:
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = self._fd_ino = None

    def _load_state(self) -> _State:
        try:
            st: os.stat_result | None = os.stat(self.path)
        except FileNotFoundError:
            st = None
        cached = self._state
        if cached and st and (cached.ino, cached.size) == (st.st_ino, st.st_size):
            return cached
        if st is not None and st.st_size > 0:
            last = _record(_last_line(self.path) or b"", self.path)
            first = _record(_first_line(self.path) or b"", self.path)
            state = _State(st.st_ino, st.st_size, int(str(last["seq"])), str(last["mac"]),
                           _parse_time(first.get("time")))
        else:
            rotated = rotated_files(self.path)
            line = _last_line(rotated[-1]) if rotated else None
            if line is None:
                seq, mac = 0, GENESIS
            else:
                last = _record(line, rotated[-1])
                seq, mac = int(str(last["seq"])), str(last["mac"])
            state = _State(st.st_ino if st else None, st.st_size if st else 0, seq, mac, None)
        self._state = state
        return state

    def _append_line(self, chain: Chain, state: _State, body: Mapping[str, object]) -> str:
        line, mac = chain.seal(state.seq + 1, state.mac, body)
        fd = self._open_live()
        data = (line + "\n").encode("ascii")
        written = os.write(fd, data)
        if written != len(data):
            raise AuditError(f"short write to audit log {self.path}")
        state.seq, state.mac = state.seq + 1, mac
        state.ino, state.size = self._fd_ino, os.fstat(fd).st_size
        if state.started is None:
            state.started = time.time()
        self._write_checkpoint(chain, state)
        now = time.monotonic()
        if self.fsync_interval is not None and now - self._last_fsync >= self.fsync_interval:
            os.fsync(fd)
            self._last_fsync = now
        return line

    def _write_checkpoint(self, chain: Chain, state: _State) -> None:
        head = {"kind": "head", "seq": state.seq, "mac": state.mac}
        text = canonical({**head, "hmac": chain.mac(head)}) + "\n"
        target = checkpoint_path(self.path)
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, text.encode("ascii"))
        finally:
            os.close(fd)
        os.replace(tmp, target)

    # rotation and retention -----------------------------------------------------------------
    def _rotation_due(self, state: _State, now: float) -> bool:
        if state.size == 0:
            return False
        if self.max_bytes is not None and state.size >= self.max_bytes:
            return True
        return bool(
            self.rotate_every is not None
            and state.started is not None
            and now - state.started >= self.rotate_every.total_seconds()
        )

    def _rotate(self, chain: Chain, state: _State) -> None:
        existing = rotated_files(self.path)
        index = int(existing[-1].name.rsplit(".", 1)[1]) + 1 if existing else 1
        self._open_live()
        self._close_fd(sync=True)
        os.rename(self.path, f"{self.path}.{index}")
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        state.ino, state.size, state.started = None, 0, None
        self._apply_retention(chain, state)

    def _apply_retention(self, chain: Chain, state: _State) -> None:
        if self.retention_days is None:
            return
        cutoff = time.time() - self.retention_days * 86400
        rotated = rotated_files(self.path)
        doomed: list[Path] = []
        for file in rotated:  # only a prefix, so what remains is one unbroken chain
            if file.stat().st_mtime >= cutoff:
                break
            doomed.append(file)
        if not doomed:
            return
        remaining = rotated[len(doomed) :]
        first = _first_line(remaining[0]) if remaining else None
        if first is not None:
            head = _record(first, remaining[0])
            first_seq, first_prev = int(str(head["seq"])), str(head["prev"])
        else:
            first_seq, first_prev = state.seq + 1, state.mac
        marker = {"kind": "retention", "time": utc_now(), "first_seq": first_seq,
                  "first_prev": first_prev, "deleted_files": len(doomed)}
        self._append_line(chain, state, marker)  # the claim is in the chain before the deletion
        for file in doomed:
            file.unlink(missing_ok=True)

    # public ---------------------------------------------------------------------------------
    def append(self, chain: Chain, body: Mapping[str, object]) -> str:
        """Seal ``body`` as the next record of this file's chain and append it."""
        with self._locked():
            state = self._load_state()
            if self._rotation_due(state, time.time()):
                self._rotate(chain, state)
            return self._append_line(chain, state, body)

    def write(self, line: str) -> None:
        """Append an already sealed line verbatim (a mirror; ``AuditLog`` uses ``append``)."""
        with self._locked():
            os.write(self._open_live(), (line + "\n").encode("utf-8"))
            self._state = None

    def close(self) -> None:
        with self._thread_lock:
            if self._lock_fd >= 0:
                self._close_fd(sync=True)
                os.close(self._lock_fd)
                self._lock_fd = -1


# the log -------------------------------------------------------------------------------------
class AuditLog:
    """Records events into every sink. Chain sinks (files) each continue their own chain
    across processes; the other sinks receive the first chain sink's lines (or, without a
    file, a chain kept in memory for this object's lifetime).
    """

    def __init__(self, key: bytes, sinks: Sequence[AuditSink]) -> None:
        self._chain = Chain(key)
        self._sinks = list(sinks)
        self._lock = threading.Lock()
        self._seq, self._prev = 0, GENESIS

    def __repr__(self) -> str:
        return f"AuditLog(sinks={self._sinks!r})"

    def record(self, event: AuditEvent) -> None:
        body = event.body()
        with self._lock:
            line: str | None = None
            for sink in self._sinks:
                if isinstance(sink, ChainSink):
                    written = sink.append(self._chain, body)
                    line = line or written
            if line is None:
                self._seq += 1
                line, self._prev = self._chain.seal(self._seq, self._prev, body)
            for sink in self._sinks:
                if not isinstance(sink, ChainSink):
                    sink.write(line)

    def close(self) -> None:
        for sink in self._sinks:
            sink.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# verification --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    records: int
    files: list[str]
    first_bad: int | None  # 1-based position of the first bad record across all files
    reason: str


class _Bad(Exception):
    def __init__(self, position: int, reason: str) -> None:
        super().__init__(reason)
        self.position, self.reason = position, reason


def _check_mac(record: Mapping[str, object], mac: str, keys: Sequence[bytes]) -> bool:
    data = canonical(record).encode("ascii")
    return any(
        hmac.compare_digest(hmac.new(k, data, hashlib.sha256).hexdigest(), mac) for k in keys
    )


def _parse_line(raw: bytes, keys: Sequence[bytes]) -> dict[str, object] | str:
    """The verified record, or why it is bad."""
    try:
        text = raw.decode("ascii")
        record = json.loads(text)
    except ValueError:
        return "not a JSON record"
    if not isinstance(record, dict) or canonical(record) != text:
        return "not in canonical form (edited)"
    mac = record.pop("mac", None)
    if not isinstance(mac, str) or not _check_mac(record, mac, keys):
        return "MAC does not match (edited, or a different key)"
    if not isinstance(record.get("seq"), int) or not isinstance(record.get("prev"), str):
        return "seq or prev missing"
    record["mac"] = mac
    return record


def verify_log(
    paths_or_path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    key: bytes | Sequence[bytes],
    *,
    require_checkpoint: bool = True,
) -> VerifyResult:
    """Check a log's chain across its files (a path: its rotated siblings are found too).

    ``key`` may be a list (a log spanning a master key rotation verifies with all audit keys).
    """
    keys = [key] if isinstance(key, bytes | bytearray) else list(key)
    if isinstance(paths_or_path, str | os.PathLike):
        files, checkpoint = log_files(paths_or_path), checkpoint_path(paths_or_path)
    else:
        files = [Path(p) for p in paths_or_path]
        checkpoint = checkpoint_path(files[-1]) if files else Path("/nonexistent.head")
    names = [str(f) for f in files]
    if not files:
        return VerifyResult(False, 0, names, 1, "no audit log file found")
    count = 0
    try:
        count, summary = _verify_files(files, keys, checkpoint, require_checkpoint)
    except _Bad as bad:
        return VerifyResult(False, bad.position - 1, names, bad.position, bad.reason)
    except OSError as exc:
        reason = f"cannot read the log ({exc.strerror})"
        return VerifyResult(False, count, names, count + 1, reason)
    return VerifyResult(True, count, names, None, summary)


def _verify_files(
    files: Sequence[Path], keys: Sequence[bytes], checkpoint: Path, require_checkpoint: bool
) -> tuple[int, str]:
    """The number of records and a summary of what was checked; raises ``_Bad``."""
    count = 0
    start: tuple[int, str] | None = None
    last_seq, last_mac = 0, GENESIS
    claims: set[tuple[int, str]] = set()
    recent: deque[tuple[int, str]] = deque(maxlen=_HEAD_WINDOW)
    for file in files:
        data = file.read_bytes()
        lines = data.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        for number, raw in enumerate(lines, start=1):
            count += 1
            where = f"{file}:{number}"
            if number == len(lines) and not data.endswith(b"\n"):
                raise _Bad(count, f"{where}: incomplete last record (truncated or edited)")
            parsed = _parse_line(raw, keys)
            if isinstance(parsed, str):
                raise _Bad(count, f"{where}: {parsed}")
            seq, prev, mac = int(str(parsed["seq"])), str(parsed["prev"]), str(parsed["mac"])
            if start is None:
                start = (seq, prev)
            elif seq != last_seq + 1 or prev != last_mac:
                raise _Bad(
                    count,
                    f"{where}: chain broken (expected seq {last_seq + 1} after the previous "
                    f"record, found seq {seq}): records deleted, reordered or inserted",
                )
            if parsed.get("kind") == "retention":
                claims.add((int(str(parsed.get("first_seq"))), str(parsed.get("first_prev"))))
            last_seq, last_mac = seq, mac
            recent.append((seq, mac))
    if start is not None and start != (1, GENESIS) and start not in claims:
        raise _Bad(
            1,
            f"log starts at seq {start[0]} but no retention record says old records were "
            "removed: the beginning of the log was deleted",
        )
    head = _verify_checkpoint(checkpoint, keys, count, last_seq, recent, require_checkpoint)
    first = start[0] if start is not None else 0
    parts = [f"{count} records in {len(files)} file(s)"]
    if count:
        parts.append(f"every MAC valid, chain unbroken from seq {first} to {last_seq}")
        if first != 1:
            parts.append(f"seq 1-{first - 1} removed by retention (recorded in the chain)")
    parts.append(f"checkpoint {checkpoint.name} at seq {head} matches" if head is not None
                 else "no checkpoint (tail truncation not checked)")
    return count, "; ".join(parts)


def _verify_checkpoint(
    checkpoint: Path,
    keys: Sequence[bytes],
    count: int,
    last_seq: int,
    recent: deque[tuple[int, str]],
    required: bool,
) -> int | None:
    """The checkpoint's seq (None when there is none and none is required)."""
    if not checkpoint.exists():
        if required and count:
            raise _Bad(
                count + 1,
                f"checkpoint {checkpoint} is missing, so truncation of the tail cannot be ruled "
                "out (use require_checkpoint=False for logs written without one)",
            )
        return None
    try:
        head = json.loads(checkpoint.read_bytes().decode("ascii"))
        mac = head.pop("hmac")
        seq, head_mac = int(head["seq"]), str(head["mac"])
        valid = _check_mac(head, mac, keys)
    except (ValueError, KeyError, TypeError, AttributeError):
        valid = False
    if not valid:
        raise _Bad(count + 1, f"checkpoint {checkpoint} is damaged or forged")
    if seq > last_seq:
        raise _Bad(
            count + 1,
            f"log truncated: checkpoint says seq {seq}, the log ends at seq {last_seq}",
        )
    if (seq, head_mac) not in recent and not (seq == 0 and count == 0):
        raise _Bad(
            count,
            f"the last records do not match checkpoint seq {seq}: the tail was replaced or the "
            "checkpoint is stale",
        )
    return seq
