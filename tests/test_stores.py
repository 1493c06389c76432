"""Memory stores one by one: stable order, writes that touch only what changed,
compare-and-set, resume state, and the memory-write gate. Real SQLite, PostgreSQL and
Redis; unique table and key names, cleaned up."""

from __future__ import annotations

import json
import random
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import POSTGRES_URL, REDIS_URL, postgres_connection, redis_client

from sanitizer.engine import Sanitizer
from sanitizer.errors import ConfigError, InputError
from sanitizer.examples import expand
from sanitizer.policy import Policy
from sanitizer.stores import (
    Change,
    MemoryStore,
    MemoryWriter,
    Record,
    StaleCheckpoint,
    StoreSpec,
    open_store,
)
from sanitizer.stores.fields import get_field, is_missing, parse_path, set_field
from sanitizer.stores.gate import GatedStore

RNG = random.Random("test_stores")


def secret_text(rng: random.Random = RNG) -> str:
    return expand("mail {email} token {github_token:ghp}", rng).text


@pytest.fixture(scope="module")
def rules() -> Sanitizer:
    """Rules only, markers (no vault): shared, so the catalog loads once."""
    sanitizer = Sanitizer(ner=False, policy=Policy().without_tokens())
    assert sanitizer.detectors
    return sanitizer


# -- field paths -------------------------------------------------------------------------

def test_dotted_paths_reach_nested_fields_and_leave_the_rest_alone() -> None:
    record: Any = {"memory": {"content": "x", "tags": ["a"]}, "messages": [{"text": "y"}]}
    assert get_field(record, parse_path("memory.content")) == "x"
    assert get_field(record, parse_path("messages.0.text")) == "y"
    assert is_missing(get_field(record, parse_path("memory.nope")))
    assert is_missing(get_field(record, parse_path("messages.3.text")))
    new: Any = set_field(record, parse_path("messages.0.text"), "z")
    assert new["messages"][0]["text"] == "z" and record["messages"][0]["text"] == "y"
    assert new["memory"] is record["memory"]
    with pytest.raises(ConfigError):
        parse_path("a..b")


# -- JSON Lines --------------------------------------------------------------------------

def test_jsonl_rewrites_only_changed_lines_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    lines = [b'{"id": 1,   "text": "keep  spacing"}\r\n', b"\n",
             b'{"id": 2, "text": "change me"}\n', b"not json\n",
             b'{"id": 3, "text": "tail"}']
    path.write_bytes(b"".join(lines))
    store = open_store(StoreSpec(str(path)))
    store.prepare(None)
    records = list(store.records())
    assert [r.key for r in records] == ["line 1", "line 3", "line 4", "line 5"]
    assert isinstance(records[2].meta, dict) and records[2].meta["error"] == "not valid JSON"
    result = store.commit([Change(records[1], {"id": 2, "text": "<X>"})], records[-1])
    assert result.written == 1
    assert path.read_bytes() == b"".join(lines)  # nothing touched before finish
    store.finish()
    assert path.read_bytes() == b"".join(
        [lines[0], lines[1], b'{"id": 2, "text": "<X>"}\n', lines[3], lines[4]])
    assert not store.temp.exists()  # type: ignore[attr-defined]


def test_jsonl_resumes_from_its_state_and_refuses_a_changed_file(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps({"n": i}) + "\n" for i in range(6)))
    first = open_store(StoreSpec(str(path)))
    first.prepare(None)
    records = list(first.records())
    state = first.commit([Change(records[1], {"n": "one"})], records[2]).state
    first.commit([Change(records[4], {"n": "lost"})], records[5])  # not checkpointed
    again = open_store(StoreSpec(str(path)))
    again.prepare(state)  # truncates the copy back to the checkpoint
    rest = list(again.records(state))
    assert [r.key for r in rest] == ["line 4", "line 5", "line 6"]
    again.commit([Change(rest[1], {"n": "four"})], rest[-1])
    again.finish()
    assert [json.loads(x)["n"] for x in path.read_text().splitlines()] == \
        [0, "one", 2, 3, "four", 5]
    path.write_text(path.read_text() + '{"n": 6}\n')
    with pytest.raises(StaleCheckpoint):
        open_store(StoreSpec(str(path))).prepare(state)


def test_jsonl_is_not_replaced_when_it_changed_during_the_scrub(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text('{"t": "a"}\n')
    store = open_store(StoreSpec(str(path)))
    store.prepare(None)
    (record,) = store.records()
    store.commit([Change(record, {"t": "b"})], record)
    with path.open("a") as handle:
        handle.write('{"t": "new memory"}\n')
    with pytest.raises(StaleCheckpoint):
        store.finish()
    assert path.read_text() == '{"t": "a"}\n{"t": "new memory"}\n'


# -- JSON file and folder ----------------------------------------------------------------

def test_json_file_array_elements_are_records_and_layout_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps([{"t": "a"}, {"t": "b"}], indent=4) + "\n")
    store = open_store(StoreSpec(str(path)))
    store.prepare(None)
    records = list(store.records())
    assert [r.key for r in records] == ["[0]", "[1]"]
    store.commit([Change(records[1], {"t": "B"})], records[1])
    store.finish()
    assert path.read_text() == json.dumps([{"t": "a"}, {"t": "B"}], indent=4) + "\n"
    with pytest.raises(StaleCheckpoint):
        open_store(StoreSpec(str(path))).prepare(1)


def test_folder_walks_notes_in_order_and_skips_hidden_and_other_files(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / ".git").mkdir()
    for name, text in [("MEMORY.md", "m"), ("USER.md", "u"), ("b/a.txt", "t"),
                       ("b/c.json", '{"k": "v"}'), ("b/d.jsonl", '{"a": 1}\n\n{"a": 2}\n'),
                       (".git/x.md", "hidden"), ("b/e.bin", "x"), (".hidden.md", "h")]:
        (tmp_path / name).write_text(text)
    store = open_store(StoreSpec(str(tmp_path)))
    records = list(store.records())
    assert [r.key for r in records] == ["MEMORY.md", "USER.md", "b/a.txt", "b/c.json",
                                        "b/d.jsonl"]
    assert records[3].value == {"k": "v"} and records[4].value == [{"a": 1}, {"a": 2}]
    assert [r.key for r in store.records(["b", "a.txt"])] == ["b/c.json", "b/d.jsonl"]
    result = store.commit([Change(records[4], [{"a": 1}, {"a": "<X>"}]),
                           Change(records[0], "M")], records[-1])
    assert result.written == 2
    assert (tmp_path / "b/d.jsonl").read_text() == '{"a": 1}\n\n{"a": "<X>"}\n'
    assert (tmp_path / "MEMORY.md").read_text() == "M"
    (tmp_path / "USER.md").write_text("edited by the agent meanwhile")
    refused = store.commit([Change(records[1], "U")], records[1])
    assert refused.written == 0 and refused.failures[0].reason == "changed since it was read"
    assert (tmp_path / "USER.md").read_text() == "edited by the agent meanwhile"


# -- SQLite ------------------------------------------------------------------------------

def make_sqlite(path: Path, rows: list[tuple[Any, ...]], *, without_rowid: bool = False
                ) -> str:
    conn = sqlite3.connect(path)
    suffix = " WITHOUT ROWID" if without_rowid else ""
    conn.execute("CREATE TABLE mem (user TEXT, n INTEGER, content, other TEXT, "
                 f"PRIMARY KEY (user, n)){suffix}")
    conn.executemany("INSERT INTO mem VALUES (?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()
    return f"sqlite:///{path}"


@pytest.mark.parametrize("without_rowid", [False, True])
def test_sqlite_pages_in_key_order_and_sets_only_the_column(tmp_path: Path,
                                                            without_rowid: bool) -> None:
    rows = [("bob", 2, "b2", "o1"), ("ann", 1, '{"text": "a1"}', "o2"),
            ("ann", 2, None, "o3"), ("bob", 1, 7, "o4"), ("cy", 1, "c1", "o5")]
    url = make_sqlite(tmp_path / "m.db", rows, without_rowid=without_rowid)
    store = open_store(StoreSpec(url, table="mem", column="content", page=2))
    records = list(store.records())
    if without_rowid:
        assert [r.key for r in records] == ["user=ann, n=1", "user=ann, n=2", "user=bob, n=1",
                                            "user=bob, n=2", "user=cy, n=1"]
    else:
        assert [r.key for r in records] == [f"rowid={i}" for i in range(1, 6)]
    by_value = {json.dumps(r.value): r for r in records if r.value is not None}
    skips = sorted(str(dict(r.meta)["skip"]) for r in records  # type: ignore[arg-type]
                   if r.value is None)
    assert skips == ["empty", "not text"]
    doc = by_value[json.dumps({"text": "a1"})]
    result = store.commit([Change(doc, {"text": "<A>"}), Change(by_value['"c1"'], "<C>")],
                          records[-1])
    assert result.written == 2 and result.state == records[-1].position
    conn = sqlite3.connect(tmp_path / "m.db")
    got = sorted(conn.execute("SELECT user, n, content, other FROM mem").fetchall(),
                 key=lambda r: (r[0], r[1]))
    assert got == [("ann", 1, '{"text": "<A>"}', "o2"), ("ann", 2, None, "o3"),
                   ("bob", 1, 7, "o4"), ("bob", 2, "b2", "o1"), ("cy", 1, "<C>", "o5")]
    middle = list(store.records(records[1].position))
    assert [r.key for r in middle] == [r.key for r in records[2:]]
    conn.execute("UPDATE mem SET content = 'agent wrote this' WHERE user = 'bob' AND n = 2")
    conn.commit()
    late = by_value['"b2"']
    refused = store.commit([Change(late, "<B>")], late)
    assert refused.written == 0 and refused.failures[0].key == late.key
    assert conn.execute("SELECT content FROM mem WHERE user = 'bob' AND n = 2").fetchone() == \
        ("agent wrote this",)
    store.close()


def test_sqlite_options_are_checked(tmp_path: Path) -> None:
    url = make_sqlite(tmp_path / "m.db", [])
    with pytest.raises(ConfigError, match="no column"):
        open_store(StoreSpec(url, table="mem", column="nope"))
    with pytest.raises(ConfigError, match="no table"):
        open_store(StoreSpec(url, table="nope", column="content"))
    with pytest.raises(ConfigError, match="not a valid"):
        open_store(StoreSpec(url, table='mem"; DROP TABLE mem; --', column="content"))
    with pytest.raises(ConfigError, match="--table and --column"):
        open_store(StoreSpec(url))
    with pytest.raises(InputError):
        open_store(StoreSpec(f"sqlite:///{tmp_path}/missing.db", table="t", column="c"))


# -- PostgreSQL --------------------------------------------------------------------------

@pytest.fixture
def pg_table() -> Iterator[tuple[str, Any]]:
    conn = postgres_connection()
    table = f"scrub_test_{uuid.uuid4().hex[:12]}"
    conn.execute(f"CREATE TABLE {table} (id uuid PRIMARY KEY, body text, doc jsonb, "
                 "other text)")
    try:
        yield table, conn
    finally:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.close()


def test_postgres_text_and_jsonb_columns_with_compare_and_set(
        pg_table: tuple[str, Any]) -> None:
    table, conn = pg_table
    from psycopg.types.json import Jsonb

    ids = sorted(str(uuid.UUID(int=RNG.getrandbits(128))) for _ in range(3))
    for index, key in enumerate(ids):
        conn.execute(f"INSERT INTO {table} VALUES (%s, %s, %s, %s)",  # noqa: S608
                     (key, f"body {index}", Jsonb({"t": f"doc {index}", "n": index}),
                      f"other {index}"))
    text = open_store(StoreSpec(POSTGRES_URL, table=table, column="body", page=2))
    records = list(text.records())
    assert [r.key for r in records] == [f"id={k}" for k in ids]
    assert [r.key for r in text.records(records[0].position)] == [f"id={k}" for k in ids[1:]]
    assert "postgres@127.0.0.1" in text.identity and table in text.identity
    result = text.commit([Change(records[1], "body <X>")], records[-1])
    assert result.written == 1
    docs = open_store(StoreSpec(POSTGRES_URL, table=table, column="doc"))
    drecords = list(docs.records())
    assert drecords[2].value == {"t": "doc 2", "n": 2}
    docs.commit([Change(drecords[2], {"t": "<Y>", "n": 2})], drecords[-1])
    conn.execute(f"UPDATE {table} SET body = 'changed underneath' WHERE id = %s",  # noqa: S608
                 (ids[0],))
    refused = text.commit([Change(records[0], "body <Z>")], records[0])
    assert refused.written == 0 and refused.failures
    rows = conn.execute(f"SELECT id::text, body, doc, other FROM {table} ORDER BY id"  # noqa: S608
                        ).fetchall()
    assert rows == [(ids[0], "changed underneath", {"t": "doc 0", "n": 0}, "other 0"),
                    (ids[1], "body <X>", {"t": "doc 1", "n": 1}, "other 1"),
                    (ids[2], "body 2", {"t": "<Y>", "n": 2}, "other 2")]
    text.close()
    docs.close()


def test_postgres_refuses_other_column_types_and_tables_without_key(
        pg_table: tuple[str, Any]) -> None:
    table, conn = pg_table
    conn.execute(f"CREATE TABLE {table}_nokey (body text)")
    try:
        with pytest.raises(ConfigError, match="only text and JSON"):
            open_store(StoreSpec(POSTGRES_URL, table=table, column="id"))
        with pytest.raises(ConfigError, match="no primary key"):
            open_store(StoreSpec(POSTGRES_URL, table=f"{table}_nokey", column="body"))
        store = open_store(StoreSpec(POSTGRES_URL, table=f"{table}_nokey", column="body",
                                     key="body"))
        store.close()
    finally:
        conn.execute(f"DROP TABLE {table}_nokey")


# -- Redis -------------------------------------------------------------------------------

@pytest.fixture
def redis_prefix() -> Iterator[tuple[str, Any]]:
    client = redis_client()
    prefix = f"scrub-test:{uuid.uuid4().hex}:"
    try:
        yield prefix, client
    finally:
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
        client.close()


def test_redis_strings_hashes_and_skipped_types(redis_prefix: tuple[str, Any]) -> None:
    prefix, client = redis_prefix
    client.set(prefix + "s", "plain note", ex=1000)
    client.set(prefix + "j", json.dumps({"t": "json note"}))
    client.hset(prefix + "h", mapping={"content": "hash note", "meta": '{"a": 1}'})
    client.rpush(prefix + "l", "a list")
    client.set(prefix + "b", b"\xff\xfe binary")
    store = open_store(StoreSpec(REDIS_URL, match=prefix + "*", page=2))
    records = {r.key: r for r in store.records()}
    assert set(records) == {prefix + k for k in "sjhlb"}
    assert records[prefix + "j"].value == {"t": "json note"}
    assert records[prefix + "h"].value == {"content": "hash note", "meta": {"a": 1}}
    assert dict(records[prefix + "l"].meta)["skip"]  # type: ignore[arg-type]
    assert dict(records[prefix + "b"].meta)["skip"] == "not text"  # type: ignore[arg-type]
    result = store.commit([
        Change(records[prefix + "s"], "<S>"),
        Change(records[prefix + "j"], {"t": "<J>"}),
        Change(records[prefix + "h"], {"content": "<H>", "meta": {"a": 1}}),
    ], records[prefix + "s"])
    assert result.written == 3
    assert client.get(prefix + "s") == b"<S>" and client.ttl(prefix + "s") > 900
    assert json.loads(client.get(prefix + "j")) == {"t": "<J>"}
    assert client.hgetall(prefix + "h") == {b"content": b"<H>", b"meta": b'{"a": 1}'}
    client.set(prefix + "s", "agent rewrote it")
    refused = store.commit([Change(records[prefix + "s"], "<S2>")], records[prefix + "s"])
    assert refused.written == 0 and client.get(prefix + "s") == b"agent rewrote it"
    store.close()


def test_redis_checkpoint_is_a_scan_cursor(redis_prefix: tuple[str, Any]) -> None:
    prefix, client = redis_prefix
    for i in range(40):
        client.set(f"{prefix}{i}", f"note {i}")
    store = open_store(StoreSpec(REDIS_URL, match=prefix + "*", page=7))
    records = list(store.records())
    assert sorted(r.key for r in records) == sorted(f"{prefix}{i}" for i in range(40))
    assert records[-1].position == {"cursor": 0, "done": True}
    assert list(store.records(records[-1].position)) == []
    middle = records[len(records) // 2]
    resumed = {r.key for r in store.records(middle.position)}
    seen_before = {r.key for r in records[: len(records) // 2 + 1]}  # through the middle
    assert resumed | seen_before == {r.key for r in records}  # nothing is lost
    store.close()


# -- the memory-write gate ----------------------------------------------------------------

def gate_targets(tmp_path: Path, pg: bool, redis_prefix: str | None) -> list[tuple[str, Any]]:
    (tmp_path / "notes").mkdir()
    (tmp_path / "m.jsonl").write_text("")
    (tmp_path / "m.json").write_text("[]")
    sqlite_url = make_sqlite(tmp_path / "g.db", [])
    conn = sqlite3.connect(tmp_path / "g.db")
    conn.execute("CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT)")
    conn.commit()
    conn.close()
    targets: list[tuple[str, Any]] = [
        ("jsonl", StoreSpec(str(tmp_path / "m.jsonl"))),
        ("json", StoreSpec(str(tmp_path / "m.json"))),
        ("folder", StoreSpec(str(tmp_path / "notes"))),
        ("sqlite", StoreSpec(sqlite_url, table="notes", column="body", key="id")),
    ]
    if redis_prefix is not None:
        targets.append(("redis", StoreSpec(REDIS_URL, match=redis_prefix + "*")))
    return targets


def test_gate_sanitizes_every_write_on_every_store_kind(
        tmp_path: Path, rules: Sanitizer, redis_prefix: tuple[str, Any]) -> None:
    prefix, _client = redis_prefix
    secret = secret_text()
    for kind, spec in gate_targets(tmp_path, False, prefix):
        store = open_store(spec)
        assert isinstance(store, MemoryWriter)
        gated = GatedStore(store, sanitizer=rules)
        key = {"jsonl": None, "json": None, "folder": "MEMORY.md", "sqlite": "n1",
               "redis": prefix + "n1"}[kind]
        gated.put(key, {"note": secret} if kind != "folder" else secret)
        stored = [r.value for r in open_store(spec).records()]
        assert len(stored) == 1, kind
        dumped = json.dumps(stored)
        assert "@" not in dumped and "ghp_" not in dumped, kind
        assert "<EMAIL_ADDRESS>" in dumped and "<GITHUB_TOKEN>" in dumped, kind
        gated.close()


def test_gate_on_postgres_and_idempotent_writes(pg_table: tuple[str, Any],
                                                rules: Sanitizer) -> None:
    table, conn = pg_table
    conn.execute(f"CREATE TABLE {table}_g (id text PRIMARY KEY, doc jsonb)")
    try:
        spec = StoreSpec(POSTGRES_URL, table=f"{table}_g", column="doc")
        gated = GatedStore(open_store(spec), sanitizer=rules, session="agent")
        gated.put("a", {"password": "hunter2-hunter2", "text": secret_text()})
        (row,) = conn.execute(f"SELECT doc FROM {table}_g").fetchall()  # noqa: S608
        assert row[0]["password"] == "<PASSWORD>" and "ghp_" not in row[0]["text"]
        gated.put("a", row[0])  # the sanitized record written again stays as it is
        assert conn.execute(f"SELECT doc FROM {table}_g").fetchall() == [row]  # noqa: S608
        gated.close()
    finally:
        conn.execute(f"DROP TABLE {table}_g")


def test_every_store_satisfies_the_protocol(tmp_path: Path) -> None:
    (tmp_path / "m.jsonl").write_text("")
    store = open_store(StoreSpec(str(tmp_path / "m.jsonl")))
    assert isinstance(store, MemoryStore)
    assert isinstance(Record("k", 1, "v").to_json(), dict)
    with pytest.raises(ConfigError, match="unknown store scheme"):
        open_store(StoreSpec("ftp://x/y"))
    with pytest.raises(ConfigError, match="Redis stores only"):
        open_store(StoreSpec(str(tmp_path / "m.jsonl"), match="*"))
