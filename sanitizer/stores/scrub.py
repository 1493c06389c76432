"""The scrub runner: stream a store's records through the sanitizer, batch by batch.

Dry run (the default) reads and reports. ``apply`` writes each batch through the store
(transaction or temporary file) and then saves the checkpoint, in that order, so a crash
leaves at most the last batch committed but not checkpointed: a resumed run reads it again
and finds it already scrubbed — a scrubbed value scrubs to itself — so nothing is applied
twice. A store that cannot continue from its checkpoint starts over, for the same reason.

Where the work runs is a *pipeline*: this process (``workers=1``), a pool of worker
processes (records stream through at most ``2 × workers`` batches in flight, so memory
stays flat), or a Ray Data pipeline (``engine="ray"``, see :mod:`.ray_runner`). Reading,
writing and checkpointing always happen here, in order.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ..errors import ConfigError
from . import StoreSpec
from .base import Change, Failure, MemoryStore, Record, StaleCheckpoint
from .checkpoint import Checkpoint, Totals, default_path
from .work import DESTINATION, SURFACE, EngineSpec, Item, Outcome, Scrubber

if TYPE_CHECKING:
    from ..audit import AuditLog

Batch = tuple[list[Record], list[Outcome]]
Pipeline = Callable[[Any], Iterator[Batch]]
MAX_LISTED_FAILURES = 1000


class ProgressSink(Protocol):
    def start(self, total: int | None, completed: int) -> None: ...
    def advance(self, count: int) -> None: ...
    def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ScrubSettings:
    apply: bool = False
    batch_size: int = 100
    workers: int = 1
    engine: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    checkpoint: Path | None = None
    restart: bool = False
    backup: Path | None = None

    def check(self) -> None:
        if self.batch_size < 1:
            raise ConfigError("--batch-size must be at least 1")
        if self.workers < 1:
            raise ConfigError("--workers must be at least 1")


@dataclass
class ScrubReport:
    store: str
    applied: bool
    totals: Totals
    failures: list[Failure] = field(default_factory=list)
    resumed: bool = False
    started_over: bool = False
    seconds: float = 0.0
    records_this_run: int = 0

    @property
    def rate(self) -> float:
        return self.records_this_run / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"store": self.store, "applied": self.applied, **asdict(self.totals),
                "failures": [asdict(f) for f in self.failures], "resumed": self.resumed,
                "started_over": self.started_over, "seconds": round(self.seconds, 3),
                "records_per_second": round(self.rate, 1)}


def settings_digest(engine: EngineSpec, store: StoreSpec) -> str:
    """What decides the output of a run: a checkpoint only continues the same settings."""
    policy = ""
    if engine.policy:
        try:
            policy = hashlib.sha256(Path(engine.policy).read_bytes()).hexdigest()
        except OSError:
            policy = "unreadable"
    data = {"field": engine.field, "policy": policy, "config": engine.config,
            "no_ner": engine.no_ner, "vault": engine.vault, "tenant": engine.tenant,
            "session": engine.session, "rounds": engine.rounds, "format": store.format,
            "key": store.key}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]


def item(record: Record) -> Item:
    meta = record.meta if isinstance(record.meta, dict) else {}
    error, skip = meta.get("error"), meta.get("skip")
    return Item(record.key, record.value, error if isinstance(error, str) else None,
                skip if isinstance(skip, str) else None)


def batched(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# -- pipelines ---------------------------------------------------------------------------

def inline_pipeline(store: MemoryStore, scrubber: Scrubber, size: int) -> Pipeline:
    def run(state: Any) -> Iterator[Batch]:
        for batch in batched(store.records(state), size):
            yield batch, scrubber.run([item(r) for r in batch])

    return run


def pool_pipeline(store: MemoryStore, spec: EngineSpec, workers: int, size: int) -> Pipeline:
    """Worker processes (spawned, one sanitizer each); results come back in order."""
    def run(state: Any) -> Iterator[Batch]:
        import multiprocessing

        from .work import init_worker, run_in_worker

        context = multiprocessing.get_context("spawn")
        with context.Pool(workers, initializer=init_worker, initargs=(spec,)) as pool:
            pending: deque[tuple[list[Record], Any]] = deque()
            for batch in batched(store.records(state), size):
                pending.append((batch, pool.apply_async(run_in_worker,
                                                        ([item(r) for r in batch],))))
                if len(pending) >= 2 * workers:
                    done, result = pending.popleft()
                    yield done, result.get()
            while pending:
                done, result = pending.popleft()
                yield done, result.get()

    return run


# -- the run -----------------------------------------------------------------------------

class _Backup:
    """Original values of the records about to change, appended (JSON Lines, owner-only)
    and fsynced before each commit. It holds plaintext: keep it somewhere safe."""

    def __init__(self, directory: Path, run_id: str, identity: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"scrub-{run_id}.jsonl"
        self.identity = identity

    def write(self, changes: Sequence[Change]) -> None:
        lines = "".join(json.dumps({"store": self.identity, "key": c.record.key,
                                    "position": c.record.position, "value": c.record.value},
                                   ensure_ascii=False) + "\n" for c in changes)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, lines.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)


def _audit(audit: AuditLog, spec: EngineSpec, tenant: str,
           events: Sequence[dict[str, Any]]) -> None:
    from ..audit import AuditEvent

    for event in events:
        audit.record(AuditEvent(session=spec.session, surface=SURFACE, tenant=tenant,
                                reason="scrub", **event))


def scrub(
    store: MemoryStore,
    store_spec: StoreSpec,
    engine: EngineSpec,
    settings: ScrubSettings,
    *,
    on_diff: Callable[[list[str]], None] | None = None,
    progress: ProgressSink | None = None,
    audit: AuditLog | None = None,
    scrubber: Scrubber | None = None,
) -> ScrubReport:
    """Scrub ``store``; see the module docstring for the guarantees."""
    settings.check()
    if settings.apply and engine.vault and engine.vault.startswith("memory:"):
        raise ConfigError("a memory:// vault dies with the process: tokens written to the "
                          "store could never be restored (use a persistent vault)")
    if not settings.apply and engine.vault:
        # A dry run never writes to the vault: placeholders are previewed in memory.
        engine = replace(engine, vault="memory://", key_file=None)
    engine = replace(engine, diff=on_diff is not None, audit=audit is not None)
    identity = store.identity
    digest = settings_digest(engine, store_spec)
    checkpoint_path = settings.checkpoint or default_path(identity, digest)
    report = ScrubReport(identity, settings.apply, Totals())
    checkpoint: Checkpoint | None = None
    if settings.apply:
        if settings.restart:
            checkpoint_path.unlink(missing_ok=True)
        checkpoint = Checkpoint.load(checkpoint_path, identity, digest)
        report.resumed = checkpoint is not None
        checkpoint = checkpoint or Checkpoint(identity, digest)
        try:
            store.prepare(checkpoint.state)
        except StaleCheckpoint:
            report.resumed, report.started_over = False, True
            checkpoint = Checkpoint(identity, digest)
            store.prepare(None)
        report.totals = checkpoint.totals
    pipeline = _pipeline(store, store_spec, engine, settings, scrubber)
    backup = _Backup(settings.backup, checkpoint.run_id, identity) \
        if settings.backup and checkpoint is not None else None
    totals = report.totals
    started = time.perf_counter()
    if progress is not None:
        progress.start(store.estimate(), totals.scanned)
    try:
        for records, outcomes in pipeline(checkpoint.state if checkpoint else None):
            changes, labels, events = _tally(records, outcomes, report, on_diff)
            if checkpoint is not None:
                if backup is not None and changes:
                    backup.write(changes)
                result = store.commit(changes, records[-1])
                refused = {f.key for f in result.failures}
                for failure in result.failures:
                    _fail(report, Failure(labels.get(failure.key, "?"), failure.reason))
                totals.changed += result.written
                if audit is not None:
                    _audit(audit, engine, engine.tenant,
                           [e for key, evs in events for e in evs if key not in refused])
                checkpoint.state, checkpoint.totals = result.state, totals
                checkpoint.save(checkpoint_path)
            else:
                totals.changed += len(changes)
            report.records_this_run += len(records)
            if progress is not None:
                progress.advance(len(records))
        if checkpoint is not None:
            store.finish()
            checkpoint_path.unlink(missing_ok=True)
    finally:
        report.seconds = time.perf_counter() - started
        if progress is not None:
            progress.stop()
    return report


def _fail(report: ScrubReport, failure: Failure) -> None:
    report.totals.failed += 1
    if len(report.failures) < MAX_LISTED_FAILURES:
        report.failures.append(failure)


def _tally(records: Sequence[Record], outcomes: Sequence[Outcome], report: ScrubReport,
           on_diff: Callable[[list[str]], None] | None
           ) -> tuple[list[Change], dict[str, str], list[tuple[str, list[dict[str, Any]]]]]:
    changes: list[Change] = []
    labels: dict[str, str] = {}
    events: list[tuple[str, list[dict[str, Any]]]] = []
    totals = report.totals
    for record, outcome in zip(records, outcomes, strict=True):
        totals.scanned += 1
        if outcome.error is not None:
            _fail(report, Failure(outcome.label or "?", outcome.error))
            continue
        if outcome.skipped is not None:
            totals.skipped += 1
            continue
        totals.add_entities(outcome.entities)
        if outcome.changed:
            changes.append(Change(record, outcome.value))
            labels[record.key] = outcome.label or "?"
            events.append((record.key, outcome.events))
            if on_diff is not None and outcome.diff:
                on_diff(outcome.diff)
    return changes, labels, events


def _pipeline(store: MemoryStore, store_spec: StoreSpec, engine: EngineSpec,
              settings: ScrubSettings, scrubber: Scrubber | None) -> Pipeline:
    if settings.engine == "ray":
        from .ray_runner import ray_pipeline

        return ray_pipeline(store_spec, engine, workers=settings.workers,
                            size=settings.batch_size, address=settings.ray_address)
    if settings.workers > 1:
        return pool_pipeline(store, engine, settings.workers, settings.batch_size)
    scrubber = Scrubber(engine, scrubber.sanitizer if scrubber is not None else None)
    return inline_pipeline(store, scrubber, settings.batch_size)


__all__ = ["DESTINATION", "SURFACE", "ScrubReport", "ScrubSettings", "scrub"]
