"""``sanitizer scrub``: clean an existing agent memory store (dry run unless --apply)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import EXIT_FOUND, EXIT_OK
from .common import add_engine_options, add_vault_options, keyring_for

if TYPE_CHECKING:
    from rich.progress import Progress, Task, TaskID
    from rich.text import Text

    from ..stores.scrub import ScrubReport

_EPILOG = """\
SOURCE is a .jsonl or .json file, a folder of notes (.md .txt .json .jsonl, recursively),
sqlite:///path.db or postgresql://user@host/db (with --table and --column), or
redis://host:6379/0 (with --match).

Dry run by default: a summary of records scanned, records that would change and findings
per entity; --diff adds a diff in which replaced values show as «ENTITY» and the new text
shows placeholders — never a value. --apply writes: database batches in transactions,
files by atomic replace. An interrupted --apply resumes from its checkpoint; running
--apply again changes nothing. Without --vault findings become <ENTITY> markers (or what
--policy says for the memory_write surface); with --vault and --session they become
placeholders that 'sanitizer restore' turns back into values for authorised users.

exit codes: 0 done, 1 some records failed (reported, left as they were), 2 usage error.

examples:
  sanitizer scrub memories.jsonl --field memory.content --diff
  sanitizer scrub ~/.hermes/memories --apply --backup ./scrub-backup
  sanitizer scrub sqlite:///agent.db --table memories --column content --apply --workers 2
  sanitizer scrub postgresql://app@db/agent --table notes --column body --apply \\
      --vault postgresql://app@db/agent --session scrub-2025 --key-file master.key
  sanitizer scrub redis://localhost:6379/0 --match 'mem:*' --apply --engine ray
"""


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "scrub", help="clean secrets and PII out of an existing agent memory store",
        description="Clean secrets and PII out of an existing agent memory store.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", metavar="SOURCE", help="file, folder or store URL")
    where = parser.add_argument_group("what to scrub")
    where.add_argument("--field", metavar="PATH",
                       help="only this field of each JSON record (dotted: memory.content, "
                            "messages.0.text); default: every string of the record")
    where.add_argument("--table", help="SQL table (schema.table for PostgreSQL)")
    where.add_argument("--column", help="SQL column holding text or JSON")
    where.add_argument("--key", metavar="COLS",
                       help="SQL key column(s), comma-separated (default: rowid / primary key)")
    where.add_argument("--match", metavar="PATTERN", help="Redis key pattern (default: *)")
    where.add_argument("--format", default="auto", choices=("auto", "text", "json"),
                       help="SQL cells and Redis strings: JSON when they parse as an object "
                            "or array (auto), always text, or always JSON")
    run = parser.add_argument_group("how")
    run.add_argument("--apply", action="store_true", help="write the changes (default: dry run)")
    run.add_argument("--diff", action="store_true",
                     help="print a diff of each change (placeholders, never values)")
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    run.add_argument("--backup", metavar="DIR",
                     help="before writing, append the original records to DIR/scrub-*.jsonl "
                          "(plaintext: keep it safe)")
    run.add_argument("--checkpoint", metavar="FILE",
                     help="checkpoint file (default: under $XDG_STATE_HOME/sanitizer/scrub)")
    run.add_argument("--restart", action="store_true",
                     help="ignore an existing checkpoint and start from the first record")
    run.add_argument("--workers", type=int, default=1, metavar="N",
                     help="worker processes (or Ray actors), one model load each (default: 1)")
    run.add_argument("--engine", default="local", choices=("local", "ray"),
                     help="local processes, or a Ray Data pipeline (default: local)")
    run.add_argument("--ray-address", metavar="ADDR",
                     help="Ray cluster to join (auto, ray://head:10001); default: a local "
                          "Ray instance with --workers CPUs")
    run.add_argument("--batch-size", type=int, default=100, metavar="N",
                     help="records per batch, transaction and checkpoint (default: 100)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_engine_options(parser)
    add_vault_options(parser)
    parser.add_argument("--audit-log", metavar="PATH",
                        help="append one chained audit event per applied decision here")
    parser.set_defaults(handler=run_scrub)


def run_scrub(args: argparse.Namespace) -> int:
    from ..stores import StoreSpec, open_store
    from ..stores.scrub import ScrubSettings, scrub
    from ..stores.work import EngineSpec

    store_spec = StoreSpec(args.source, table=args.table, column=args.column, key=args.key,
                           match=args.match, format=args.format)
    store_spec.check()
    settings = ScrubSettings(
        apply=args.apply, batch_size=args.batch_size, workers=args.workers,
        engine=args.engine, ray_address=args.ray_address,
        checkpoint=Path(args.checkpoint) if args.checkpoint else None, restart=args.restart,
        backup=Path(args.backup) if args.backup else None)
    settings.check()
    engine = EngineSpec(config=args.config, policy=args.policy, no_ner=args.no_ner,
                        vault=args.vault, key_file=args.key_file, tenant=args.tenant,
                        session=args.session or "memory", field=args.field)
    if args.vault and args.apply:
        keyring_for(args, vault_url=args.vault)  # a missing master key is a usage error now
    audit = _audit_log(args) if args.audit_log and args.apply else None
    store = open_store(store_spec)
    progress = None if args.no_progress or not sys.stderr.isatty() else _RichProgress()
    try:
        report = scrub(store, store_spec, engine, settings, on_diff=_print_diff
                       if args.diff else None, progress=progress, audit=audit)
    finally:
        store.close()
    if args.json:
        sys.stdout.write(json.dumps(report.to_json(), ensure_ascii=False) + "\n")
    else:
        _print_summary(report)
    return EXIT_FOUND if report.totals.failed else EXIT_OK


def _audit_log(args: argparse.Namespace) -> Any:
    from ..audit import AuditLog, FileSink

    keyring = keyring_for(args, vault_url=args.vault)
    return AuditLog(keyring.audit_key(), [FileSink(args.audit_log)])


def _print_diff(lines: list[str]) -> None:
    sys.stdout.write("\n".join(lines) + "\n")


def _print_summary(report: ScrubReport) -> None:
    totals = report.totals
    verb = "changed" if report.applied else "would change"
    out = sys.stdout
    mode = "applied" if report.applied else "dry run (nothing written; --apply to write)"
    out.write(f"scrub {report.store}: {mode}\n")
    if report.resumed:
        out.write("  resumed from checkpoint\n")
    if report.started_over:
        out.write("  checkpoint no longer matched the store: started over\n")
    rows = [("records scanned", totals.scanned), (f"records {verb}", totals.changed)]
    if totals.skipped:
        rows.append(("records skipped", totals.skipped))
    if totals.failed:
        rows.append(("records failed", totals.failed))
    for name, count in rows:
        out.write(f"  {name:<20} {count}\n")
    if totals.skipped:
        out.write("  (skipped: empty, not text, no such field, or a type that is not scrubbed)\n")
    if totals.failed:
        out.write("  (failed records were left as they were)\n")
    if totals.entities:
        out.write("  findings per entity:\n")
        for entity, count in sorted(totals.entities.items(), key=lambda x: (-x[1], x[0])):
            out.write(f"    {entity:<24}{count}\n")
    for failure in report.failures:
        out.write(f"  failed: {failure.key}: {failure.reason}\n")
    if report.seconds > 0:
        out.write(f"  {report.records_this_run} records in {report.seconds:.1f}s "
                  f"({report.rate:.0f}/s)\n")


class _RichProgress:
    """Records done, rate and time left, on standard error."""

    def __init__(self) -> None:
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def start(self, total: int | None, completed: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class RateColumn(ProgressColumn):
            def render(self, task: Task) -> Text:
                speed = task.finished_speed or task.speed
                return Text(f"{speed:,.0f} rec/s" if speed else "- rec/s")

        self._progress = Progress(
            TextColumn("scrub"), BarColumn(), MofNCompleteColumn(), RateColumn(),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            console=Console(stderr=True), transient=False)
        self._progress.start()
        self._task = self._progress.add_task("scrub", total=total, completed=completed)

    def advance(self, count: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, count)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
