"""Scoring: span P/R/F1 (overlap and strict), leak rate, benign-kept rate, percentiles.

Overlap matching (the headline figures, as the data README asks):

* a gold span is *found* when a predicted span of the same label overlaps it (recall);
* a predicted span is a *true positive* when it overlaps a gold span of the same label,
  and a *false positive* when it overlaps none (precision).

Strict matching requires identical offsets and label on both sides. Precision and recall are
counted on their own sides, so one long prediction covering two gold names counts once for
precision and twice for recall — the usual convention for redaction, where what matters is
that every gold span is covered and every prediction hides something real. Predictions of a
label the dataset does not score are neither rewarded nor punished.

Output-level figures ignore labels — what matters is what survives the redacted text:

* **leak rate** — share of planted values (gold spans) that still appear verbatim in the
  output, the system's spans replaced by a marker; **exposed chars** — share of the planted
  values' characters no redaction covers (catches partial redaction, e.g. only the header
  line of a private key);
* **benign kept** — share of benign look-alikes (``BENIGN`` spans) that no redaction touches.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .records import Span

MARKER = "\x00"


@dataclass(slots=True)
class Counts:
    """Per-label counters on both sides."""

    pred_tp: int = 0
    pred_total: int = 0
    gold_found: int = 0
    gold_total: int = 0

    def add(self, other: Counts) -> None:
        self.pred_tp += other.pred_tp
        self.pred_total += other.pred_total
        self.gold_found += other.gold_found
        self.gold_total += other.gold_total

    @property
    def precision(self) -> float:
        return self.pred_tp / self.pred_total if self.pred_total else 0.0

    @property
    def recall(self) -> float:
        return self.gold_found / self.gold_total if self.gold_total else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "pred": self.pred_total,
            "gold": self.gold_total,
        }


@dataclass(slots=True)
class Scorer:
    """Accumulates counts over many texts, for overlap and strict matching at once."""

    labels: Sequence[str]
    overlap: dict[str, Counts] = field(default_factory=dict)
    strict: dict[str, Counts] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for label in self.labels:
            self.overlap.setdefault(label, Counts())
            self.strict.setdefault(label, Counts())

    def add(self, gold: Iterable[Span], predicted: Iterable[Span]) -> None:
        gold_list = [g for g in gold if g.label in self.overlap]
        pred_list = [p for p in predicted if p.label in self.overlap]
        for label in self.labels:
            g = [s for s in gold_list if s.label == label]
            p = [s for s in pred_list if s.label == label]
            o, s = self.overlap[label], self.strict[label]
            o.gold_total += len(g)
            s.gold_total += len(g)
            o.pred_total += len(p)
            s.pred_total += len(p)
            o.gold_found += sum(1 for x in g if any(x.overlaps(y) for y in p))
            o.pred_tp += sum(1 for y in p if any(x.overlaps(y) for x in g))
            exact = {(x.start, x.end) for x in g} & {(y.start, y.end) for y in p}
            s.gold_found += len(exact)
            s.pred_tp += len(exact)

    def micro(self, strict: bool = False, labels: Iterable[str] | None = None) -> Counts:
        table = self.strict if strict else self.overlap
        chosen = set(table) if labels is None else set(labels) & set(table)
        total = Counts()
        for label in chosen:
            total.add(table[label])
        return total

    def report(self) -> dict[str, Any]:
        return {
            "overlap": {"micro": self.micro().to_dict(),
                        "per_label": {k: v.to_dict() for k, v in self.overlap.items()}},
            "strict": {"micro": self.micro(strict=True).to_dict(),
                       "per_label": {k: v.to_dict() for k, v in self.strict.items()}},
        }


def merged(spans: Iterable[Span]) -> list[tuple[int, int]]:
    """The union of the spans' ranges, sorted and disjoint."""
    ranges = sorted((s.start, s.end) for s in spans if s.end > s.start)
    out: list[tuple[int, int]] = []
    for start, end in ranges:
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def redact(text: str, spans: Iterable[Span]) -> str:
    """``text`` with each redacted stretch replaced by one marker character."""
    parts: list[str] = []
    position = 0
    for start, end in merged(spans):
        parts.append(text[position:start])
        parts.append(MARKER)
        position = end
    parts.append(text[position:])
    return "".join(parts)


def covered_chars(span: Span, ranges: Sequence[tuple[int, int]]) -> int:
    return sum(max(0, min(span.end, end) - max(span.start, start)) for start, end in ranges)


@dataclass(slots=True)
class Exposure:
    """Leak and benign-kept counters over many texts, per gold label."""

    planted: Counter[str] = field(default_factory=Counter)
    leaked: Counter[str] = field(default_factory=Counter)
    chars: Counter[str] = field(default_factory=Counter)
    exposed: Counter[str] = field(default_factory=Counter)
    benign: int = 0
    benign_kept: int = 0
    benign_kept_in_scope: int = 0  # by redactions of the corpus's own labels

    def add(self, text: str, gold: Iterable[Span], benign: Iterable[Span],
            predicted: Sequence[Span], labels: Collection[str] = ()) -> None:
        ranges = merged(predicted)
        in_scope = merged([s for s in predicted if s.label in labels])
        output = redact(text, predicted)
        for span in gold:
            value = text[span.start:span.end]
            self.planted[span.label] += 1
            self.leaked[span.label] += value in output
            self.chars[span.label] += len(value)
            self.exposed[span.label] += len(value) - covered_chars(span, ranges)
        for span in benign:
            self.benign += 1
            self.benign_kept += covered_chars(span, ranges) == 0
            self.benign_kept_in_scope += covered_chars(span, in_scope) == 0

    def report(self) -> dict[str, Any]:
        planted, chars = sum(self.planted.values()), sum(self.chars.values())
        return {
            "leak_rate": _ratio(sum(self.leaked.values()), planted),
            "leaked": sum(self.leaked.values()),
            "planted": planted,
            "exposed_chars": _ratio(sum(self.exposed.values()), chars),
            "leak_by_label": {label: _ratio(self.leaked[label], n)
                              for label, n in sorted(self.planted.items())},
            "benign_kept": _ratio(self.benign_kept, self.benign),
            "benign_kept_in_scope": _ratio(self.benign_kept_in_scope, self.benign),
            "benign": self.benign,
        }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]
