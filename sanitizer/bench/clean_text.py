"""Throughput on text with nothing to find: prose, code and log lines, generated."""

from __future__ import annotations

import random
from typing import Any

from .measure import measure
from .systems import System

_WORDS = ("the", "agent", "reads", "a", "file", "and", "returns", "its", "summary", "to",
          "model", "which", "then", "calls", "tool", "with", "arguments", "from", "previous",
          "step", "result", "is", "cached", "for", "next", "turn", "of", "conversation",
          "when", "request", "fails", "we", "retry", "later", "after", "short", "delay")
_CODE = (
    "def handle(request):\n    items = [x for x in request.items if x.enabled]\n"
    "    return {\"count\": len(items), \"status\": \"ok\"}\n",
    "for index, row in enumerate(rows):\n    total += row.amount * rate\n",
    "class Cache:\n    def __init__(self, size: int) -> None:\n        self.size = size\n",
    "if response.status_code >= 500:\n    raise TransientError(\"upstream failed\")\n",
)
_LOG_LEVELS = ("INFO", "DEBUG", "WARN")


def no_findings_text(size: int, seed: int = 7) -> str:
    """Prose, code and log lines without any secret or personal data, about ``size`` chars."""
    rng = random.Random(seed)
    parts: list[str] = []
    total = 0
    while total < size:
        kind = rng.random()
        if kind < 0.4:
            piece = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 20))) + ".\n"
        elif kind < 0.7:
            piece = rng.choice(_CODE)
        else:
            piece = (f"2026-01-{rng.randint(10, 28)} 12:{rng.randint(10, 59)}:"
                     f"{rng.randint(10, 59)} {rng.choice(_LOG_LEVELS)} worker-{rng.randint(1, 9)}"
                     f" processed batch {rng.randint(1, 999)} in {rng.randint(1, 900)} ms\n")
        parts.append(piece)
        total += len(piece)
    return "".join(parts)


def clean_text_speed(system: System, megabytes: float,
                     chunk_chars: int = 1_000_000) -> dict[str, Any]:
    """MB/s of ``system`` over ``megabytes`` of no-findings text in ``chunk_chars`` chunks;
    ``findings`` should be 0 (anything found is a false positive)."""
    text = no_findings_text(int(megabytes * 1_000_000))
    chunks = [text[i:i + chunk_chars] for i in range(0, len(text), chunk_chars)]
    system.detect_batch(chunks[:1])  # warm-up
    predictions, m = measure(lambda: system.detect_batch(chunks))
    size = len(text.encode("utf-8"))
    return {
        "bytes": size,
        "chunk_chars": chunk_chars,
        "findings": sum(len(p) for p in predictions),
        "seconds": round(m.seconds, 3),
        "mb_per_s": round(size / m.seconds / 1e6, 2) if m.seconds else None,
        "mb_per_cpu_s": round(size / m.cpu_seconds / 1e6, 2) if m.cpu_seconds else None,
        "peak_rss_delta_mib": _round(m.peak_rss_delta_mib),
    }


def _round(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None
