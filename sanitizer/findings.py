"""Findings: where something sensitive is, never what it is."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

Category = Literal["secret", "financial", "government", "contact", "low_risk"]
CATEGORIES: tuple[Category, ...] = ("secret", "financial", "government", "contact", "low_risk")

# Which finding wins when two overlap: the more dangerous class first.
_CATEGORY_RANK: dict[str, int] = {
    "secret": 4,
    "financial": 3,
    "government": 3,
    "contact": 2,
    "low_risk": 0,
}

JsonPath = tuple[str | int, ...]

# Names that say only "some secret" (key-name and header rules, structure). When one of
# these and a format rule (GITHUB_TOKEN, STRIPE_SECRET_KEY, …) cover the same value, the
# format rule names it: audit events and placeholders then say what it really is.
GENERIC_ENTITIES = frozenset({"SECRET", "PASSWORD", "API_KEY", "AUTH_TOKEN"})


@dataclass(frozen=True, slots=True)
class Finding:
    """One sensitive span: offsets into the text it was found in (end exclusive).

    ``path`` locates the string inside a JSON document (empty for plain text); with
    ``in_key`` the span is in the object key that ends ``path``, not in its value.
    A finding deliberately has no field for the matched text.
    """

    start: int
    end: int
    entity: str
    category: Category
    rule_id: str
    detector: str
    score: float
    path: JsonPath = ()
    in_key: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(f"invalid finding span {self.start}..{self.end} ({self.rule_id})")

    @property
    def length(self) -> int:
        return self.end - self.start

    def shifted(self, offset: int) -> Finding:
        return replace(self, start=self.start + offset, end=self.end + offset)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not self.in_key:
            del data["in_key"]
        if not self.path:
            del data["path"]
        else:
            data["path"] = list(self.path)
        data["score"] = round(self.score, 3)
        return data


def _priority(finding: Finding) -> tuple[int, bool, float, int]:
    return (_CATEGORY_RANK[finding.category], finding.entity not in GENERIC_ENTITIES,
            finding.score, finding.length)


def resolve_overlaps(findings: Iterable[Finding]) -> list[Finding]:
    """Keep one finding per region, sorted by position (see :func:`_resolve_cluster`).

    Findings are first split into clusters that overlap nothing outside themselves (one
    sort and one sweep), and each cluster is resolved on its own: the result is the same
    as resolving all at once — a winner only ever widens within its cluster — but the
    cost grows as n log n with the number of findings, not n² (a log with 100,000 e-mail
    addresses)."""
    items = list(findings)
    if len(items) < 2:
        return items
    order = sorted(range(len(items)), key=lambda i: items[i].start)
    cluster_of = [0] * len(items)
    cluster, reach = 0, items[order[0]].end
    for i in order:
        if items[i].start >= reach:
            cluster += 1
        reach = max(reach, items[i].end) if items[i].start < reach else items[i].end
        cluster_of[i] = cluster
    members: list[list[Finding]] = [[] for _ in range(cluster + 1)]
    for i, finding in enumerate(items):  # input order within a cluster: ties stay stable
        members[cluster_of[i]].append(finding)
    return [kept for group in members for kept in _resolve_cluster(group)]


def _resolve_cluster(findings: list[Finding]) -> list[Finding]:
    """Keep one finding per region, sorted by position.

    The more dangerous category wins, then a specific entity over a generic one
    (:data:`GENERIC_ENTITIES`), then the higher score, then the longer span. A
    sensitive loser that sticks out of the winner widens the winner, so that no part of
    a sensitive value is left in the clear; a low-risk loser is simply dropped.
    """
    accepted: list[Finding] = []
    for candidate in sorted(findings, key=_priority, reverse=True):
        merged = False
        for index, kept in enumerate(accepted):
            if candidate.start < kept.end and kept.start < candidate.end:
                merged = True
                if candidate.category != "low_risk" and (
                    candidate.start < kept.start or candidate.end > kept.end
                ):
                    accepted[index] = replace(
                        kept,
                        start=min(kept.start, candidate.start),
                        end=max(kept.end, candidate.end),
                    )
                break
        if not merged:
            accepted.append(candidate)
    # Widening can make two kept findings touch; one more pass settles it.
    accepted.sort(key=lambda f: (f.start, -f.end))
    settled: list[Finding] = []
    for finding in accepted:
        if settled and finding.start < settled[-1].end:
            last = settled[-1]
            winner = max(last, finding, key=_priority)
            settled[-1] = replace(winner, start=last.start, end=max(last.end, finding.end))
        else:
            settled.append(finding)
    return settled


def masked_keys(findings: Iterable[Finding], mark: str = "<{entity}>") -> dict[JsonPath, str]:
    """For every object key that is itself sensitive (``{"ann@corp.example": {...}}``), the
    key with its findings shown as ``mark`` (``{entity}`` filled in), by the key's path."""
    by_key: dict[JsonPath, list[Finding]] = {}
    for finding in findings:
        if finding.in_key:
            by_key.setdefault(finding.path, []).append(finding)
    return {path: marked(str(path[-1]), found, mark) for path, found in by_key.items()}


def marked(text: str, findings: Iterable[Finding], mark: str = "<{entity}>") -> str:
    """``text`` with every finding's span shown as ``mark`` (``{entity}`` filled in); a
    finding overlapping one before it is left out."""
    out: list[str] = []
    position = 0
    for finding in sorted(findings, key=lambda f: f.start):
        if finding.start >= position:
            out += [text[position:finding.start], mark.format(entity=finding.entity)]
            position = finding.end
    return "".join(out) + text[position:]


def public_path(path: JsonPath, masked: Mapping[JsonPath, str]) -> list[str | int]:
    """``path`` with each key that ``masked`` has a name for (by the key's path) renamed:
    a sensitive key shown in its :func:`masked_keys` form, or as it was stored."""
    return [masked.get(path[:i + 1], part) for i, part in enumerate(path)]


def findings_to_dicts(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    """:meth:`Finding.to_dict` of each finding, for output. A path must not spell out a key
    that is itself sensitive: such a key is shown with ``<ENTITY>`` markers."""
    masked = masked_keys(findings)
    rows = []
    for finding in findings:
        row = finding.to_dict()
        if masked and finding.path:
            row["path"] = public_path(finding.path, masked)
        rows.append(row)
    return rows
