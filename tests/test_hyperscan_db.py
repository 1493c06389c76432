"""The compiled rule database is cached on disk and survives a corrupt or unwritable cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hyperscan
import pytest

from sanitizer.detect import hyperscan_db
from sanitizer.detect.rules_engine import RuleEngine
from sanitizer.rules import load_catalog

FLAGS = hyperscan.HS_FLAG_PREFILTER | hyperscan.HS_FLAG_SINGLEMATCH


def matches(database: Any, data: bytes) -> set[int]:
    hits: set[int] = set()

    def on_match(pattern_id: int, *_: object) -> None:
        hits.add(pattern_id)

    database.scan(data, match_event_handler=on_match,
                  scratch=hyperscan.Scratch(database))
    return hits


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SANITIZER_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(hyperscan_db, "_MEMO", {})
    return tmp_path


def test_a_compiled_database_is_stored_and_loaded_again(cache: Path) -> None:
    expressions = [rb"ghp_[0-9A-Za-z]{36}", rb"AKIA[0-9A-Z]{16}"]
    database, always = hyperscan_db.compile_database(hyperscan, expressions, [FLAGS] * 2)
    assert always == ()
    (stored,) = cache.glob("rules-*.hsdb")
    hyperscan_db._MEMO.clear()
    reloaded, _ = hyperscan_db.compile_database(hyperscan, expressions, [FLAGS] * 2)
    assert reloaded is not database
    assert matches(reloaded, b"id AKIAABCDEFGHIJKLMNOP") == {1}
    assert list(cache.glob("rules-*.hsdb")) == [stored]


def test_a_corrupt_cache_file_is_compiled_again(cache: Path) -> None:
    expressions = [rb"xoxb-[0-9]{10}"]
    hyperscan_db.compile_database(hyperscan, expressions, [FLAGS])
    (stored,) = cache.glob("rules-*.hsdb")
    data = bytearray(stored.read_bytes())
    data[-10] ^= 0xFF
    stored.write_bytes(bytes(data))
    hyperscan_db._MEMO.clear()
    database, _ = hyperscan_db.compile_database(hyperscan, expressions, [FLAGS])
    assert matches(database, b"xoxb-1234567890") == {0}


def test_an_unwritable_cache_folder_is_not_an_error(cache: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = cache / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("SANITIZER_CACHE_DIR", str(blocker))
    database, _ = hyperscan_db.compile_database(hyperscan, [rb"sk_live_[0-9a-z]{24}"], [FLAGS])
    assert matches(database, b"sk_live_" + b"a1" * 12) == {0}


def test_engines_over_the_same_catalog_share_one_compilation(cache: Path) -> None:
    catalog = load_catalog()
    first, second = RuleEngine(catalog), RuleEngine(catalog)
    assert first._db is second._db
    assert len(list(cache.glob("rules-*.hsdb"))) == 1
