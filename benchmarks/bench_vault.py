"""Vault benchmark: tokenize and restore throughput per backend, one thread and a few.

Usage (from the repository root; Redis and PostgreSQL as in tests/conftest.py)::

    .venv/bin/python -m benchmarks.bench_vault            # full run
    .venv/bin/python -m benchmarks.bench_vault --quick    # small counts

For each backend (memory, sqlite, redis, postgres; one that is not running is reported as
skipped) and each thread count, on one shared ``SealedVault`` and one session:

* ``tokenize_new``   — first sight of a value: HMAC lookup, AES-GCM seal, atomic allocation;
* ``tokenize_known`` — a value seen before (the common case in a conversation resent every
  turn): the lookup path only;
* ``reveal``         — a placeholder back to its value (what restore does per placeholder);
* ``restore_text``   — ``Sanitizer.restore`` of a reply holding 10 placeholders (texts/s).

Operations are split evenly over the threads; ops/s is total operations over wall time.
Figures are printed and written to ``benchmarks/results/vault.json``. Timings depend on the
machine and its load: compare runs on one machine, never assert them in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sanitizer.errors import SanitizerError
from sanitizer.keys import KeyRing
from sanitizer.vault import SealedVault, open_store

RESULTS = Path(__file__).resolve().parent / "results" / "vault.json"
REDIS_URL = os.environ.get("SANITIZER_TEST_REDIS", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("SANITIZER_TEST_POSTGRES",
                              "postgresql://postgres@127.0.0.1:5432/test")
ENTITY = "EMAIL_ADDRESS"


@contextmanager
def backend(name: str, workdir: Path) -> Iterator[str]:
    """A vault URL of a fresh, private store of that backend; cleaned up afterwards."""
    if name == "memory":
        yield "memory://"
    elif name == "sqlite":
        yield f"sqlite:///{workdir / f'vault-{uuid.uuid4().hex}.db'}"
    elif name == "redis":
        prefix = f"sanitizer-bench:{uuid.uuid4().hex}:"
        try:
            yield f"{REDIS_URL}?prefix={prefix}"
        finally:
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(match=prefix + "*"):
                client.delete(key)
            client.close()
    elif name == "postgres":
        from sanitizer.vault.postgres import PostgresStore

        table = f"vault_bench_{uuid.uuid4().hex[:12]}"
        url = f"{POSTGRES_URL}?table={table}"
        try:
            yield url
        finally:
            try:
                store = PostgresStore(url)
                store.drop()
                store.close()
            except SanitizerError:
                pass
    else:
        raise ValueError(f"unknown backend {name}")


def run_threads(threads: int, total: int, work: Callable[[int, int], None]) -> float:
    """Run ``work(start, stop)`` over ``range(total)`` split across threads; wall seconds."""
    bounds = [(total * i // threads, total * (i + 1) // threads) for i in range(threads)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads + 1)

    def body(start: int, stop: int) -> None:
        barrier.wait()
        try:
            work(start, stop)
        except BaseException as exc:  # reported after the run
            errors.append(exc)

    workers = [threading.Thread(target=body, args=b) for b in bounds]
    for worker in workers:
        worker.start()
    barrier.wait()
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    return elapsed


def figure(ops: int, seconds: float) -> dict[str, Any]:
    return {"ops": ops, "seconds": round(seconds, 4),
            "ops_per_s": round(ops / seconds, 1) if seconds else None,
            "us_per_op": round(seconds / ops * 1e6, 1) if ops else None}


def bench_backend(url: str, keyring: KeyRing, ops: int, thread_counts: Sequence[int],
                  restorer: Callable[[SealedVault], Callable[[str, str], str]]
                  ) -> dict[str, Any]:
    store = open_store(url)
    vault = SealedVault(store, keyring)
    restore_text = restorer(vault)
    out: dict[str, Any] = {}
    try:
        for threads in thread_counts:
            session = f"bench-{uuid.uuid4().hex}"
            values = [f"user{i}.{uuid.uuid4().hex[:8]}@example.test" for i in range(ops)]
            vault.tokenize(session, ENTITY, "warm-up@example.test")  # the session exists
            numbers: dict[int, int] = {}

            def tokenize(start: int, stop: int, session: str = session,
                         values: list[str] = values, numbers: dict[int, int] = numbers
                         ) -> None:
                for i in range(start, stop):
                    numbers[i] = vault.tokenize(session, ENTITY, values[i])

            new = run_threads(threads, ops, tokenize)
            known = run_threads(threads, ops, tokenize)

            def reveal(start: int, stop: int, session: str = session,
                       values: list[str] = values, numbers: dict[int, int] = numbers
                       ) -> None:
                for i in range(start, stop):
                    if vault.reveal(session, ENTITY, numbers[i]) != values[i]:
                        raise AssertionError("reveal returned another value")

            revealed = run_threads(threads, ops, reveal)
            if sorted(numbers.values()) != list(range(2, ops + 2)):
                raise AssertionError("allocation lost or duplicated a number")
            texts = max(1, ops // 10)
            reply = " ".join(f"see <{ENTITY}_{n}> now" for n in range(2, 12))

            def restore(start: int, stop: int, session: str = session,
                        reply: str = reply) -> None:
                for _ in range(start, stop):
                    if "<" in restore_text(reply, session):
                        raise AssertionError("a placeholder was not restored")

            restored = run_threads(threads, texts, restore)
            out[f"threads_{threads}"] = {
                "tokenize_new": figure(ops, new),
                "tokenize_known": figure(ops, known),
                "reveal": figure(ops, revealed),
                "restore_text": {**figure(texts, restored), "placeholders_per_text": 10},
            }
            vault.forget(session)
    finally:
        vault.close()
    return out


def make_restorer() -> Callable[[SealedVault], Callable[[str, str], str]]:
    """For a vault, ``Sanitizer.restore`` over it (the catalog is loaded once)."""
    from sanitizer.engine import Sanitizer

    base = Sanitizer(ner=False, known_values_from_env=False)

    def for_vault(vault: SealedVault) -> Callable[[str, str], str]:
        engine = Sanitizer(ner=False, known_values_from_env=False, catalog=base.catalog,
                           detectors=[], vault=vault)
        engine.grammar  # noqa: B018 - build the placeholder grammar before timing

        def restore(text: str, session: str) -> str:
            return engine.restore(text, session=session)

        return restore

    return for_vault


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "load_average": list(os.getloadavg())}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true", help="small counts (a smoke run)")
    parser.add_argument("--ops", type=int, help="operations per measurement")
    parser.add_argument("--threads", default="1,4", help="thread counts (default: 1,4)")
    parser.add_argument("--backends", default="memory,sqlite,redis,postgres")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    ops = args.ops or (300 if args.quick else 3000)
    thread_counts = [int(t) for t in args.threads.split(",")]
    keyring = KeyRing({"bench": os.urandom(32)}, "bench")
    restorer = make_restorer()
    results: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bench-vault-") as tmp:
        for name in args.backends.split(","):
            try:
                with backend(name, Path(tmp)) as url:
                    results[name] = bench_backend(url, keyring, ops, thread_counts, restorer)
            except SanitizerError as exc:
                skipped[name] = str(exc)
                print(f"{name}: skipped ({exc})")
    report = {"config": {"ops": ops, "threads": thread_counts, "entity": ENTITY},
              "machine": machine(), "backends": results, "skipped": skipped}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    header = f"{'backend':9} {'threads':>7} {'tokenize new/s':>15} {'known/s':>10} " \
             f"{'reveal/s':>10} {'restore texts/s':>16}"
    print(header)
    print("-" * len(header))
    for name, per_threads in results.items():
        for key, row in per_threads.items():
            print(f"{name:9} {key.split('_')[1]:>7} {row['tokenize_new']['ops_per_s']:>15,.0f} "
                  f"{row['tokenize_known']['ops_per_s']:>10,.0f} "
                  f"{row['reveal']['ops_per_s']:>10,.0f} "
                  f"{row['restore_text']['ops_per_s']:>16,.0f}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
