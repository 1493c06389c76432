"""The scrub as a Ray Data pipeline, on a local Ray instance: one small case (Ray starts
slowly). It must give exactly what the local runner gives, and never hang."""

from __future__ import annotations

import json
import os
import random
import sqlite3
from pathlib import Path

import pytest

from sanitizer.examples import expand
from sanitizer.stores import StoreSpec, open_store
from sanitizer.stores.scrub import ScrubSettings, scrub
from sanitizer.stores.work import EngineSpec

RNG = random.Random("test_scrub_ray")


@pytest.mark.timeout(900, method="thread")
def test_ray_engine_scrubs_like_the_local_runner(tmp_path: Path) -> None:
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray = pytest.importorskip("ray")
    texts = [expand(f"note {i}: {{email}} uses {{github_token:ghp}}", RNG).text
             for i in range(24)]
    texts[5] = "nothing sensitive"
    path = tmp_path / "m.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE mem (id INTEGER PRIMARY KEY, content TEXT, other TEXT)")
    conn.executemany("INSERT INTO mem (content, other) VALUES (?, ?)",
                     [(json.dumps({"text": t, "n": i}), f"o{i}") for i, t in enumerate(texts)])
    conn.commit()
    spec = StoreSpec(f"sqlite:///{path}", table="mem", column="content")
    engine = EngineSpec(no_ner=True, field="text")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        store = open_store(spec)
        report = scrub(store, spec, engine, ScrubSettings(
            apply=True, engine="ray", workers=2, batch_size=5,
            checkpoint=tmp_path / "ray.checkpoint"))
        store.close()
    finally:
        ray.shutdown()
    assert (report.totals.scanned, report.totals.changed, report.totals.failed) == (24, 23, 0)
    assert report.totals.entities == {"EMAIL_ADDRESS": 23, "GITHUB_TOKEN": 23}
    rows = conn.execute("SELECT content, other FROM mem ORDER BY id").fetchall()
    for i, (content, other) in enumerate(rows):
        doc = json.loads(content)
        assert doc["n"] == i and other == f"o{i}"
        if i == 5:
            assert doc["text"] == "nothing sensitive"
        else:
            assert doc["text"] == f"note {i}: <EMAIL_ADDRESS> uses <GITHUB_TOKEN>"
    assert not (tmp_path / "ray.checkpoint").exists()
    conn.close()
