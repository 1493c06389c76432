"""Spans, records and datasets, and the JSON Lines format they are read from.

One JSON object a line: ``{"id", "text", "spans": [{"start", "end", "label"}], "meta"}``;
offsets are Python string indices into ``text``, end exclusive. ``id`` and ``meta`` are
optional. A broken line is an :class:`~sanitizer.errors.InputError` naming the file and the
line number — never the text, which may hold the very values being benchmarked.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from .labels import BENIGN


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    label: str

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class Record:
    id: str
    text: str
    spans: tuple[Span, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """``positive`` / ``negative`` / ``positive_nospan`` (gitleaks), else ``""``.
        A ``positive_nospan`` record holds a secret whose exact span is unknown."""
        return str(self.meta.get("kind", ""))

    @property
    def surface(self) -> str:
        """Where the text travels in an agent (policy input); ``prompt`` if unsaid."""
        return str(self.meta.get("surface", "prompt"))

    @property
    def gold(self) -> tuple[Span, ...]:
        """Planted sensitive values: every span but the benign look-alikes."""
        return tuple(s for s in self.spans if s.label != BENIGN)

    @property
    def benign(self) -> tuple[Span, ...]:
        return tuple(s for s in self.spans if s.label == BENIGN)


@dataclass(frozen=True, slots=True)
class Dataset:
    """Records plus everything the report must say about them."""

    name: str
    records: list[Record]
    labels: tuple[str, ...]                 # scored benchmark labels
    description: str
    source: str
    development: str                        # how this project used it while being built
    licence: str = ""
    label_map: Mapping[str, str] = field(default_factory=dict)   # gold label → bench label
    dropped: Mapping[str, int] = field(default_factory=dict)     # unscored gold labels
    round_trip: bool = False                # run the restore round trip on it

    @property
    def chars(self) -> int:
        return sum(len(r.text) for r in self.records)


def _fail(path: Path, line: int, message: str) -> InputError:
    return InputError(f"{path}:{line}: {message}")


def parse_line(raw: str, path: Path, line: int, label_map: Mapping[str, str],
               dropped: Counter[str]) -> Record:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _fail(path, line, f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict):
        raise _fail(path, line, "expected a JSON object")
    text = data.get("text")
    if not isinstance(text, str):
        raise _fail(path, line, "field 'text' must be a string")
    raw_spans = data.get("spans", [])
    if not isinstance(raw_spans, list):
        raise _fail(path, line, "field 'spans' must be a list")
    spans: list[Span] = []
    for index, item in enumerate(raw_spans):
        where = f"spans[{index}]"
        if not isinstance(item, dict):
            raise _fail(path, line, f"{where} must be an object with start, end, label")
        start, end, label = item.get("start"), item.get("end"), item.get("label")
        if type(start) is not int or type(end) is not int:
            raise _fail(path, line, f"{where}: start and end must be integers")
        if not isinstance(label, str) or not label:
            raise _fail(path, line, f"{where}: label must be a non-empty string")
        if not 0 <= start < end <= len(text):
            raise _fail(path, line, f"{where}: offsets {start}..{end} outside the text "
                                    f"(length {len(text)}) or empty")
        mapped = label_map.get(label)
        if mapped is None:
            dropped[label] += 1
            continue
        spans.append(Span(start, end, mapped))
    meta = data.get("meta", {})
    if not isinstance(meta, dict):
        raise _fail(path, line, "field 'meta' must be an object")
    record_id = data.get("id", f"line-{line}")
    return Record(str(record_id), text, tuple(spans), meta)


def read_jsonl(path: Path, label_map: Mapping[str, str]) -> tuple[list[Record], Counter[str]]:
    """Every record of a file, gold labels mapped; the unmapped ones counted, not kept."""
    dropped: Counter[str] = Counter()
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or type(exc).__name__})") from None
    records: list[Record] = []
    with handle:
        try:
            for number, raw in enumerate(handle, start=1):
                if raw.strip():
                    records.append(parse_line(raw, path, number, label_map, dropped))
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8 text") from None
    return records, dropped


def spread(records: list[Record], limit: int | None) -> list[Record]:
    """At most ``limit`` records, evenly spread over the file (keeps every kind and
    template family in a subset)."""
    if limit is None or limit >= len(records):
        return records
    step = len(records) / limit
    return [records[int(i * step)] for i in range(limit)]
