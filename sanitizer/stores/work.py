"""The work done on each record, wherever it runs (this process, a worker process, a Ray
actor): pick the field, sanitize it for the ``memory_write`` surface until it no longer
changes, and say what happened — entity counts, audit facts, a diff that shows placeholders
and never values.

Sanitizing is repeated on its own output until nothing changes (at most ``rounds`` times):
a record is written only at that fixed point, so a second run finds nothing to do even
where a detector needed the context of a first replacement to see a neighbouring value.
"""

from __future__ import annotations

import argparse
import difflib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, SanitizerError, VaultError
from ..findings import JsonPath, marked, masked_keys, public_path
from ..json_paths import leaves
from ..transform import Decision, apply
from .base import Json
from .fields import get_field, is_missing, parse_path, set_field

if TYPE_CHECKING:
    from ..engine import Sanitized, Sanitizer

SURFACE, DESTINATION = "memory_write", "memory"
OLD_MARK = "«{entity}»"


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """Everything a worker needs to build the same sanitizer (picklable, no key material:
    workers read the master key from the environment or the key file themselves)."""

    config: str | None = None
    policy: str | None = None
    no_ner: bool = False
    vault: str | None = None
    key_file: str | None = None
    tenant: str = "default"
    session: str = "memory"
    field: str | None = None
    diff: bool = False
    audit: bool = False
    rounds: int = 3

    def build(self) -> Sanitizer:
        from ..cli.common import make_sanitizer

        args = argparse.Namespace(config=self.config, policy=self.policy, no_ner=self.no_ner,
                                  vault=self.vault, key_file=self.key_file, tenant=self.tenant,
                                  audit_log=None)
        return make_sanitizer(args)


@dataclass(slots=True)
class Outcome:
    """What became of one record. ``value`` is the new whole record when ``changed``."""

    changed: bool = False
    value: Json = None
    entities: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    skipped: str | None = None
    label: str | None = None
    diff: list[str] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outcome:
        return cls(**data)


@dataclass(frozen=True, slots=True)
class Item:
    """A record as the workers see it: no store-private metadata."""

    key: str
    value: Json
    error: str | None = None
    skip: str | None = None


class Scrubber:
    """One per process: the sanitizer (and its models) is built once and reused."""

    def __init__(self, spec: EngineSpec, sanitizer: Sanitizer | None = None) -> None:
        self.spec = spec
        self.sanitizer = sanitizer or spec.build()
        self.path = parse_path(spec.field)

    def warm_up(self) -> None:
        """Load the detectors (and NER models) now rather than in the first batch."""
        ner = self.sanitizer.policy.needs({"contact"}, SURFACE, DESTINATION)
        self.sanitizer.detect("Warm up the detectors before the first batch.", ner=ner)

    def run(self, items: Sequence[Item]) -> list[Outcome]:
        return [self.one(item) for item in items]

    def one(self, item: Item) -> Outcome:
        if item.error is not None:
            return Outcome(error=item.error, label=self.label(item.key))
        if item.skip is not None:
            return Outcome(skipped=item.skip)
        found = get_field(item.value, self.path)
        if is_missing(found):
            return Outcome(skipped="no such field")
        sub: Json = found  # type: ignore[assignment]
        if sub is None:
            return Outcome(skipped="empty")
        try:
            rounds = self._fixed_point(sub)
        except (ConfigError, VaultError):
            raise  # the same for every record: stop the run (it resumes once fixed)
        except SanitizerError as exc:
            return Outcome(error=f"{type(exc).__name__}: {exc}", label=self.label(item.key))
        except Exception as exc:  # a broken record must not stop the run, nor leak
            return Outcome(error=type(exc).__name__, label=self.label(item.key))
        final = rounds[-1][1].result if rounds else sub
        acted = [d for _, done in rounds for d in done.decisions if d.action != "allow"]
        entities = dict(Counter(d.finding.entity for d in acted))
        if final == sub:
            return Outcome(entities=entities)
        outcome = Outcome(changed=True, value=set_field(item.value, self.path, final),
                          entities=entities, label=self.label(item.key))
        if self.spec.diff:
            outcome.diff = self._diff(outcome.label or "", rounds)
        if self.spec.audit:
            outcome.events = [_event(d) for d in acted]
        return outcome

    def _fixed_point(self, value: Json) -> list[tuple[Json, Sanitized]]:
        rounds: list[tuple[Json, Sanitized]] = []
        current = value
        for _ in range(max(1, self.spec.rounds)):
            done = self.sanitizer.sanitize(current, surface=SURFACE, session=self.spec.session,
                                           destination=DESTINATION)
            if done.result == current:
                if not rounds:
                    rounds.append((current, done))  # unchanged: keep its (allowed) findings
                break
            rounds.append((current, done))
            current = done.result
        return rounds

    def label(self, key: str) -> str:
        """The record's key with anything sensitive in it replaced (keys can hold e-mails)."""
        return marked(key, self.sanitizer.detect(key, ner=False))

    def _diff(self, label: str, rounds: list[tuple[Json, Sanitized]]) -> list[str]:
        """Unified diff per changed string: the old side has every replaced value shown as
        ``«ENTITY»``, the new side is the stored text (placeholders, markers)."""
        lines: list[str] = []
        for before, done in rounds:
            if done.result == before:
                continue
            by_path: dict[tuple[JsonPath, bool], list[Any]] = {}
            made: dict[Any, Decision] = {}
            for decision in done.decisions:
                if decision.action != "allow":
                    finding = decision.finding
                    by_path.setdefault((finding.path, finding.in_key), []).append(finding)
                    made[finding] = decision
            old_leaves = dict(leaves(before))
            new_leaves = dict(leaves(done.result))
            key_names = masked_keys(made, OLD_MARK)
            renamed = {path: apply(str(path[-1]), found, _replay(made))[0]
                       for (path, in_key), found in by_path.items() if in_key}
            for (path, in_key), found in by_path.items():
                if in_key:  # a sensitive object key, renamed in place
                    old_text, new_text = str(path[-1]), renamed[path]
                else:
                    old = old_leaves.get(path)
                    old_text = old if isinstance(old, str) else json.dumps(old)
                    new = new_leaves.get(tuple(public_path(path, renamed)))
                    new_text = new if isinstance(new, str) else json.dumps(new)
                masked = marked(old_text, found, OLD_MARK)
                where = ".".join(str(p) for p in public_path(path, key_names))
                where += " (key)" if in_key else ""
                name = f"{label} {where}".rstrip()
                lines.extend(line.rstrip("\n") for line in difflib.unified_diff(
                    masked.splitlines(), new_text.splitlines(), f"a: {name}", f"b: {name}",
                    n=1, lineterm=""))
        return lines


def _replay(made: dict[Any, Decision]) -> Callable[[Any, str], Decision]:
    """A ``decide`` that gives each finding the decision already taken for it."""
    return lambda finding, _value: made[finding]


def _event(decision: Any) -> dict[str, Any]:
    finding = decision.finding
    return {"entity": finding.entity, "rule_id": finding.rule_id, "action": decision.action,
            "placeholder": decision.replacement if decision.action in ("tokenize", "hash")
            else None, "fingerprint": decision.fingerprint, "start": finding.start,
            "end": finding.end, "detector": finding.detector}


# -- worker processes -------------------------------------------------------------------

_WORKER: Scrubber | None = None


def init_worker(spec: EngineSpec) -> None:
    """Pool initializer: one sanitizer per worker process, models loaded once."""
    global _WORKER
    _WORKER = Scrubber(spec)
    _WORKER.warm_up()


def run_in_worker(items: list[Item]) -> list[Outcome]:
    assert _WORKER is not None, "init_worker was not called"
    return _WORKER.run(items)
