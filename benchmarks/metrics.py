"""Span-level scoring: overlap and strict matching, per-label and micro P/R/F1.

Overlap matching (the headline figure, as in the data README):

* a gold span is *found* when a predicted span of the same label overlaps it (recall);
* a predicted span is a *true positive* when it overlaps a gold span of the same label,
  and a *false positive* when it overlaps none (precision).

Strict matching requires identical offsets and label on both sides. Precision and recall are
counted on their own sides, so one long prediction covering two gold names counts once for
precision and twice for recall — the usual convention for redaction, where what matters is
that every gold span is covered and every prediction hides something real.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .corpora import Span


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
            o.gold_found += sum(1 for x in g if any(_overlaps(x, y) for y in p))
            o.pred_tp += sum(1 for y in p if any(_overlaps(x, y) for x in g))
            exact_gold = {(x.start, x.end) for x in g}
            exact_pred = {(y.start, y.end) for y in p}
            s.gold_found += len(exact_gold & exact_pred)
            s.pred_tp += len(exact_gold & exact_pred)

    def micro(self, strict: bool = False) -> Counts:
        total = Counts()
        for counts in (self.strict if strict else self.overlap).values():
            total.add(counts)
        return total

    def report(self) -> dict[str, object]:
        return {
            "overlap": {
                "micro": self.micro().to_dict(),
                "per_label": {k: v.to_dict() for k, v in self.overlap.items()},
            },
            "strict": {
                "micro": self.micro(strict=True).to_dict(),
                "per_label": {k: v.to_dict() for k, v in self.strict.items()},
            },
        }


def _overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end
