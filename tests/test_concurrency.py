"""Concurrency: 64 sessions at once against one vault, never a value across sessions.

The work is :func:`benchmarks.bench_concurrency.run_backend` (threads, the vault used
directly): CI runs 64 sessions x ``SANITIZER_CONCURRENCY_REQUESTS`` requests (default 40)
on every backend; ``make fuzz`` runs the full 64 x 1,000 against Redis and PostgreSQL.
A second test does the same through the Sanitizer (sanitize, then restore) with a
PostgreSQL vault shared by threads.
"""

from __future__ import annotations

import os
import random
import threading
import uuid
from collections.abc import Iterator

import pytest
from conftest import POSTGRES_URL, VaultBackend, postgres_connection

from benchmarks.bench_concurrency import run_backend
from sanitizer.engine import Sanitizer
from sanitizer.examples import expand
from sanitizer.keys import KeyRing
from sanitizer.vault import open_vault

SESSIONS = 64
REQUESTS = int(os.environ.get("SANITIZER_CONCURRENCY_REQUESTS", "40"))

pytestmark = pytest.mark.timeout(900)


def test_sessions_never_see_each_others_values(vault_backend: VaultBackend) -> None:
    report = run_backend(vault_backend.store, SESSIONS, REQUESTS,
                         forget_every=max(2, REQUESTS // 3))
    assert report["errors"] == 0, report["error_examples"]
    assert report["violations"] == 0, report["violation_examples"]
    assert report["requests"] == SESSIONS * REQUESTS
    assert report["forgets"] >= SESSIONS
    assert report["reveals"] > report["requests"]


@pytest.fixture
def shared_postgres() -> Iterator[Sanitizer]:
    psycopg = pytest.importorskip("psycopg")
    postgres_connection().close()
    table = f"vault_test_{uuid.uuid4().hex[:12]}"
    vault = open_vault(f"{POSTGRES_URL}?table={table}", KeyRing.ephemeral())
    yield Sanitizer(ner=False, known_values_from_env=False, vault=vault)
    vault.close()
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"DROP TABLE IF EXISTS {table}_sessions")


def test_sanitize_and_restore_from_many_threads(shared_postgres: Sanitizer) -> None:
    engine = shared_postgres
    engine.detect("warm-up")
    failures: list[str] = []
    barrier = threading.Barrier(16)

    def conversation(index: int) -> None:
        rng = random.Random(index)
        session = f"thread-{index}"
        barrier.wait()
        for turn in range(15):
            email = expand("{lower:6}@{lower:6}.com", rng).text.replace("@", f"{index}@")
            text = f"turn {turn}: mail {email}"
            done = engine.sanitize(text, session=session)
            result = str(done.result)
            if email in result:
                failures.append(f"{session}: not sanitized")
            if engine.restore(result, session=session) != text:
                failures.append(f"{session}: restored something else")

    threads = [threading.Thread(target=conversation, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
