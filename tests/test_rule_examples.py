"""Every rule's own examples: positives are found exactly, negatives are not flagged."""

from __future__ import annotations

from functools import cache

import pytest

from sanitizer.detect.rules_engine import RuleEngine
from sanitizer.examples import expand_all
from sanitizer.rules import Catalog, Rule, load_catalog

CATALOG = load_catalog()
RULES = CATALOG.rules


@cache
def engine_for(rule: Rule) -> RuleEngine:
    return RuleEngine(Catalog((rule,), CATALOG.allowlist))


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_positive_examples_are_found_exactly(rule: Rule) -> None:
    engine = engine_for(rule)
    for example in expand_all(rule.id, "positive", rule.positive):
        assert example.spans, f"{rule.id}: a positive example needs «…» around the secret"
        found = sorted({(f.start, f.end) for f in engine.detect(example.text)})
        assert found == sorted(example.spans), (
            f"{rule.id}: expected {sorted(example.spans)}, found {found} in {example.text!r}")


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_negative_examples_are_not_flagged(rule: Rule) -> None:
    engine = engine_for(rule)
    for example in expand_all(rule.id, "negative", rule.negative):
        found = [(f.start, f.end) for f in engine.detect(example.text)]
        assert not found, f"{rule.id}: flagged {found} in negative {example.text!r}"
