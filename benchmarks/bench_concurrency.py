"""Concurrency: many sessions at once against one vault, never a value crossing sessions.

Usage (from the repository root; needs the Redis and PostgreSQL of the test set-up)::

    .venv/bin/python -m benchmarks.bench_concurrency                  # 64 x 1000 per backend
    .venv/bin/python -m benchmarks.bench_concurrency --requests 50    # the size CI runs

Each of ``--sessions`` threads is one session. Every request tokenizes a value that names
its session (repeating values, so numbers must stay stable), reveals what it got back and
now and then a number it minted earlier; one request in 250 forgets the session (crypto-
shredding) and starts it afresh. A violation is any reveal that returns a value of another
session, a different value than minted, or a number that changed for the same value. At
the end every number of every live session is revealed once more and checked.

Prints a table and writes ``benchmarks/results/concurrency.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sanitizer.keys import KeyRing
from sanitizer.vault import SealedVault, VaultStore, open_store

RESULTS = Path(__file__).resolve().parent / "results" / "concurrency.json"
REDIS_URL = os.environ.get("SANITIZER_TEST_REDIS", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("SANITIZER_TEST_POSTGRES",
                              "postgresql://postgres@127.0.0.1:5432/test")
ENTITIES = ("EMAIL_ADDRESS", "CREDIT_CARD", "PERSON")
FORGET_EVERY = 250


@dataclass
class Tally:
    requests: int = 0
    reveals: int = 0
    forgets: int = 0
    violations: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _value(session: int, entity: str, k: int) -> str:
    return f"s{session:03d}-{entity}-v{k:03d}"


def _worker(vault: SealedVault, index: int, requests: int, tally: Tally,
            lock: threading.Lock, start: threading.Barrier,
            forget_every: int) -> dict[tuple[str, int], str]:
    rng = random.Random(index)
    session = f"conc-{index:03d}"
    minted: dict[tuple[str, int], str] = {}
    numbers: dict[tuple[str, str], int] = {}
    local = Tally()
    start.wait()
    for step in range(requests):
        try:
            if step and step % forget_every == 0:
                vault.forget(session)
                local.forgets += 1
                if any(vault.reveal(session, e, n) is not None for e, n in list(minted)[:5]):
                    local.violations.append(f"{session}: a forgotten value came back")
                minted.clear()
                numbers.clear()
            entity = rng.choice(ENTITIES)
            value = _value(index, entity, rng.randrange(40))
            number = vault.tokenize(session, entity, value)
            if numbers.setdefault((entity, value), number) != number:
                local.violations.append(f"{session}: {entity} number changed")
            minted[(entity, number)] = value
            checks = [(entity, number)]
            if len(minted) > 1:
                checks.append(rng.choice(list(minted)))
            for check_entity, check_number in checks:
                got = vault.reveal(session, check_entity, check_number)
                local.reveals += 1
                if got != minted[(check_entity, check_number)]:
                    foreign = got is not None and not got.startswith(f"s{index:03d}-")
                    local.violations.append(
                        f"{session}: <{check_entity}_{check_number}> revealed "
                        f"{'another session' if foreign else 'a wrong value'}")
            local.requests += 1
        except Exception as exc:  # counted, never swallowed silently
            local.errors.append(f"{session}: {type(exc).__name__}: {exc}")
            if len(local.errors) > 20:
                break
    with lock:
        tally.requests += local.requests
        tally.reveals += local.reveals
        tally.forgets += local.forgets
        tally.violations += local.violations
        tally.errors += local.errors
    return minted


def run_backend(store: VaultStore, sessions: int, requests: int,
                forget_every: int = FORGET_EVERY) -> dict[str, Any]:
    """``sessions`` threads x ``requests`` each against one store; violations counted."""
    vault = SealedVault(store, KeyRing.ephemeral())
    tally = Tally()
    lock = threading.Lock()
    start = threading.Barrier(sessions)
    results: dict[int, dict[tuple[str, int], str]] = {}

    def target(index: int) -> None:
        results[index] = _worker(vault, index, requests, tally, lock, start, forget_every)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(sessions)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    final = 0
    for index, minted in results.items():  # every live number, once more, at rest
        for (entity, number), value in minted.items():
            final += 1
            if vault.reveal(f"conc-{index:03d}", entity, number) != value:
                tally.violations.append(f"conc-{index:03d}: <{entity}_{number}> at rest")
    return {"sessions": sessions, "requests_per_session": requests,
            "requests": tally.requests, "reveals": tally.reveals + final,
            "forgets": tally.forgets, "violations": len(tally.violations),
            "violation_examples": tally.violations[:5], "errors": len(tally.errors),
            "error_examples": tally.errors[:5], "seconds": round(seconds, 2),
            "requests_per_second": round(tally.requests / seconds, 1) if seconds else None}


def redis_store() -> tuple[VaultStore, Callable[[], None]]:
    import redis

    prefix = f"sanitizer-bench:{uuid.uuid4().hex}:"
    store = open_store(f"{REDIS_URL}?prefix={prefix}")

    def cleanup() -> None:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
        client.close()

    return store, cleanup


def postgres_store() -> tuple[VaultStore, Callable[[], None]]:
    import psycopg

    table = f"vault_bench_{uuid.uuid4().hex[:12]}"
    store = open_store(f"{POSTGRES_URL}?table={table}")

    def cleanup() -> None:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.execute(f"DROP TABLE IF EXISTS {table}_sessions")

    return store, cleanup


BACKENDS: dict[str, Callable[[], tuple[VaultStore, Callable[[], None]]]] = {
    "redis": redis_store, "postgres": postgres_store}


def run(sessions: int, requests: int, backends: Sequence[str]) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for name in backends:
        store, cleanup = BACKENDS[name]()
        try:
            report[name] = run_backend(store, sessions, requests)
        finally:
            store.close()
            cleanup()
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=64)
    parser.add_argument("--requests", type=int, default=1000, help="per session")
    parser.add_argument("--backend", action="append", choices=sorted(BACKENDS),
                        help="repeatable; default: all")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    report = run(args.sessions, args.requests, args.backend or sorted(BACKENDS))
    print(f"{'backend':<10}{'requests':>10}{'reveals':>10}{'forgets':>9}{'violations':>12}"
          f"{'errors':>8}{'seconds':>9}{'req/s':>9}")
    for name, row in report.items():
        print(f"{name:<10}{row['requests']:>10}{row['reveals']:>10}{row['forgets']:>9}"
              f"{row['violations']:>12}{row['errors']:>8}{row['seconds']:>9}"
              f"{row['requests_per_second']:>9}")
    report["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(),
                         "platform": platform.platform()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    bad = any(row["violations"] or row["errors"] for name, row in report.items()
              if name != "machine")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
