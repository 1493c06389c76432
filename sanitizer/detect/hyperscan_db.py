"""Compiling the rule catalog into one Hyperscan database, once per catalog, not per process.

Compiling ~400 rule regexes in prefilter mode costs seconds of CPU; loading a serialized
database costs about a millisecond. So a compiled database is memoised in the process and
kept on disk under the user's cache folder (``$SANITIZER_CACHE_DIR``, else
``$XDG_CACHE_HOME/context-sanitizer``, else ``~/.cache/context-sanitizer``), named by a
SHA-256 of everything that decides its content: the Hyperscan version, the expressions and
their flags. The file holds compiled patterns only — never text that was scanned. A file
that is missing, unreadable, corrupt (its own SHA-256 is checked) or built for another CPU
is simply compiled again; a cache folder that cannot be written is not an error.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_MEMO: dict[str, tuple[Any, tuple[int, ...]]] = {}
_MEMO_LOCK = threading.Lock()
_MAGIC = b"sanitizer-hsdb-1\n"


def cache_dir() -> Path:
    configured = os.environ.get("SANITIZER_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "context-sanitizer"


def _digest(hyperscan: Any, expressions: Sequence[bytes], flags: Sequence[int]) -> str:
    h = hashlib.sha256()
    h.update(str(getattr(hyperscan, "__version__", "")).encode())
    for expression, flag in zip(expressions, flags, strict=True):
        h.update(len(expression).to_bytes(4, "big") + expression + flag.to_bytes(8, "big"))
    return h.hexdigest()


def compile_database(hyperscan: Any, expressions: Sequence[bytes], flags: Sequence[int]
                     ) -> tuple[Any, tuple[int, ...]]:
    """The database for ``expressions`` (ids are their positions) and the ids Hyperscan
    cannot compile (the caller must treat those as always matching)."""
    key = _digest(hyperscan, expressions, flags)
    with _MEMO_LOCK:
        if key in _MEMO:
            return _MEMO[key]
        path = cache_dir() / f"rules-{key[:32]}.hsdb"
        loaded = _load(hyperscan, path)
        if loaded is None:
            loaded = _compile(hyperscan, expressions, flags)
            _store(hyperscan, path, *loaded)
        _MEMO[key] = loaded
        return loaded


def _compile(hyperscan: Any, expressions: Sequence[bytes], flags: Sequence[int]
             ) -> tuple[Any, tuple[int, ...]]:
    ids = list(range(len(expressions)))
    try:
        return _database(hyperscan, expressions, flags, ids), ()
    except hyperscan.error:
        pass
    usable: list[int] = []
    always: list[int] = []
    for i in ids:
        try:
            _database(hyperscan, [expressions[i]], [flags[i]], [i])
            usable.append(i)
        except hyperscan.error:
            always.append(i)
    database = _database(hyperscan, [expressions[i] for i in usable],
                         [flags[i] for i in usable], usable)
    return database, tuple(always)


def _database(hyperscan: Any, expressions: Sequence[bytes], flags: Sequence[int],
              ids: Sequence[int]) -> Any:
    database = hyperscan.Database()
    database.compile(expressions=list(expressions), ids=list(ids), elements=len(ids),
                     flags=list(flags))
    return database


def _load(hyperscan: Any, path: Path) -> tuple[Any, tuple[int, ...]] | None:
    try:
        data = path.read_bytes()
        if not data.startswith(_MAGIC):
            return None
        header, blob = data[len(_MAGIC):].split(b"\n", 1)
        digest, always = header.decode("ascii").split(" ", 1)
        if hashlib.sha256(blob).hexdigest() != digest:
            return None
        ids = tuple(int(i) for i in always.split(",") if i)
        return hyperscan.loadb(blob, hyperscan.HS_MODE_BLOCK), ids
    except (OSError, ValueError, UnicodeDecodeError, hyperscan.error):
        return None


def _store(hyperscan: Any, path: Path, database: Any, always: tuple[int, ...]) -> None:
    try:
        blob = hyperscan.dumpb(database)
        header = f"{hashlib.sha256(blob).hexdigest()} {','.join(map(str, always))}\n"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".rules-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(_MAGIC + header.encode("ascii") + blob)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except (OSError, hyperscan.error):
        return  # a read-only cache folder only costs the next process a compile
