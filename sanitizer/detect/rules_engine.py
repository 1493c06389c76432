"""The rules detector: every catalog rule compiled once into one multi-pattern matcher.

Cascade per text, cheapest first:
1. one Hyperscan pass over the UTF-8 bytes (all rule regexes in prefilter mode plus the
   rules' keywords as caseless literals) says which rules can match at all;
2. only those rules run their RE2 regex (linear time, no backtracking) for exact spans
   and the secret group;
3. entropy floor, allowlists and named validators drop implausible matches; context words
   near the match raise the score of weak patterns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..findings import Finding
from ..rules import Allowlist, Catalog, Rule
from ..validators import VALIDATORS, shannon_entropy
from .hyperscan_db import compile_database

DEFAULT_MIN_SCORE = 0.5
CONTEXT_BOOST = 0.35
CONTEXT_BEFORE = 100
CONTEXT_AFTER = 40
SHORTER_RETRIES = 3  # cuts at a space tried when a spaced value fails its checks


def _hs_literal(word: str) -> bytes:
    """A Hyperscan pattern that matches ``word`` literally (every other byte escaped)."""
    return b"".join(bytes([b]) if chr(b).isalnum() and b < 128 else b"\\x%02x" % b
                    for b in word.encode("utf-8"))


class _Allow:
    """Compiled allowlist: RE2 regexes searched in the secret, and lowercase stopwords."""

    def __init__(self, allowlist: Allowlist) -> None:
        import re2

        self._regexes = [re2.compile(p) for p in allowlist.regexes]
        self._stopwords = allowlist.stopwords

    def allows(self, value: str) -> bool:
        if any(r.search(value) for r in self._regexes):
            return True
        lowered = value.lower()
        return any(word in lowered for word in self._stopwords)


@dataclass(slots=True)
class _Compiled:
    rule: Rule
    regex: Any
    group: int | str
    allow: _Allow
    checks: tuple[Callable[[str], bool], ...]
    keyword_ids: frozenset[int]


class RuleEngine:
    """Detector over a :class:`~sanitizer.rules.Catalog`."""

    name = "rules"

    def __init__(self, catalog: Catalog, *, min_score: float = DEFAULT_MIN_SCORE) -> None:
        import hyperscan
        import re2

        self.catalog = catalog
        self.min_score = min_score
        self._global_allow = _Allow(catalog.allowlist)
        self._compiled: list[_Compiled] = []
        expressions: list[bytes] = []
        flags: list[int] = []
        keyword_index: dict[str, int] = {}
        for rule in catalog.rules:
            for word in rule.keywords:
                keyword_index.setdefault(word, -1)  # id assigned below
            self._compiled.append(_Compiled(
                rule=rule,
                regex=re2.compile(rule.regex),
                group=rule.secret_group,
                allow=_Allow(rule.allowlist),
                checks=tuple(VALIDATORS[name] for name in rule.validators),
                keyword_ids=frozenset(),
            ))
            expressions.append(rule.regex.encode("utf-8"))
            flags.append(hyperscan.HS_FLAG_PREFILTER | hyperscan.HS_FLAG_SINGLEMATCH
                         | hyperscan.HS_FLAG_ALLOWEMPTY)
        base = len(expressions)
        for offset, word in enumerate(keyword_index):
            keyword_index[word] = base + offset
            expressions.append(_hs_literal(word))
            flags.append(hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SINGLEMATCH)
        for compiled in self._compiled:
            compiled.keyword_ids = frozenset(keyword_index[w] for w in compiled.rule.keywords)
        # Rules Hyperscan cannot prefilter (none today) always run their RE2 regex.
        self._db: Any = None
        self._always: tuple[int, ...] = ()
        if expressions:
            self._db, self._always = compile_database(hyperscan, expressions, flags)
        self._local = threading.local()

    def _candidates(self, data: bytes) -> list[_Compiled]:
        if self._db is None:
            return []
        import hyperscan

        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(self._db)
        hits: set[int] = set(self._always)

        def on_match(pattern_id: int, _from: int, _to: int, _flags: int, _ctx: object) -> None:
            hits.add(pattern_id)

        self._db.scan(data, match_event_handler=on_match, scratch=scratch)
        if not hits:
            return []
        return [c for i, c in enumerate(self._compiled)
                if i in hits and (not c.keyword_ids or not c.keyword_ids.isdisjoint(hits))]

    def detect(self, text: str) -> list[Finding]:
        if not text:
            return []
        data = text.encode("utf-8", "surrogatepass")
        candidates = self._candidates(data)
        if not candidates:
            return []
        if len(data) != len(text) and any(0xD800 <= ord(c) <= 0xDFFF for c in text):
            text = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
        findings: list[Finding] = []
        lowered: str | None = None
        for compiled in candidates:
            rule = compiled.rule
            for match in compiled.regex.finditer(text):
                span = self._plausible_span(compiled, text, match)
                if span is None:
                    continue
                start, end = span
                score = rule.score
                if rule.context:
                    if lowered is None:
                        lowered = text.lower()
                    window = lowered[max(0, start - CONTEXT_BEFORE):end + CONTEXT_AFTER]
                    if any(word in window for word in rule.context):
                        score = min(1.0, score + CONTEXT_BOOST)
                if score < self.min_score:
                    continue
                findings.append(Finding(start, end, rule.entity, rule.category, rule.id,
                                        self.name, score))
        return findings

    def _plausible_span(self, compiled: _Compiled, text: str, match: Any
                        ) -> tuple[int, int] | None:
        """The secret group's span if its value passes entropy, allowlists and validators.

        RE2 never backtracks into a validator: ``4473115838820641 178`` is one 19-digit
        candidate that fails Luhn, and the card before the space is lost. So a failing
        value with spaces in it is tried again, up to :data:`SHORTER_RETRIES` times, cut at
        its last space — a real boundary in the text, so no new token edge is invented."""
        for _ in range(SHORTER_RETRIES + 1):
            start, end = match.span(compiled.group)
            if start < 0 or end <= start:
                return None
            value = text[start:end]
            if self._passes(compiled, value):
                return start, end
            cut = value.rfind(" ")
            if cut <= 0:
                return None
            match = compiled.regex.search(text, match.start(), start + cut)
            if match is None or match.span(compiled.group)[0] != start:
                return None
        return None

    def _passes(self, compiled: _Compiled, value: str) -> bool:
        rule = compiled.rule
        if rule.entropy is not None and shannon_entropy(value) < rule.entropy:
            return False
        if compiled.allow.allows(value) or self._global_allow.allows(value):
            return False
        return all(check(value) for check in compiled.checks)

    @property
    def rules(self) -> Sequence[Rule]:
        return self.catalog.rules
