"""The rule engine's own behaviour, beyond each rule's examples."""

from __future__ import annotations

import random

import pytest

from sanitizer.detect.rules_engine import RuleEngine
from sanitizer.examples import expand
from sanitizer.rules import load_catalog

RNG = random.Random("test_rules_engine")
CARD = expand("{card:visa}", RNG).text


@pytest.fixture(scope="module")
def engine() -> RuleEngine:
    return RuleEngine(load_catalog())


def spans(engine: RuleEngine, text: str, rule_id: str) -> list[str]:
    return [text[f.start:f.end] for f in engine.detect(text) if f.rule_id == rule_id]


@pytest.mark.parametrize("after", [" 178.107.22.106", " 12", " 178", " 7 items"])
def test_a_value_followed_by_more_digits_is_still_found(engine: RuleEngine, after: str) -> None:
    text = f"card {CARD}{after}"
    assert spans(engine, text, "payment-card-number") == [CARD]


def test_no_shorter_value_is_invented_inside_an_unbroken_number(engine: RuleEngine) -> None:
    for digits in range(20, 26):
        number = expand(f"{{digits:{digits}}}", RNG).text
        assert not spans(engine, f"id {number} done", "payment-card-number")


def test_a_spaced_value_is_only_cut_at_its_spaces(engine: RuleEngine) -> None:
    grouped = " ".join(CARD[i:i + 4] for i in range(0, 16, 4))
    text = f"pan {grouped} 999"
    assert spans(engine, text, "payment-card-number") == [grouped]
