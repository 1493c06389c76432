"""Overlap resolution: one finding per region, the most informative one, nothing left bare."""

from __future__ import annotations

import pytest

from sanitizer.findings import Category, Finding, resolve_overlaps


def finding(start: int, end: int, entity: str, category: Category = "secret",
            score: float = 0.9, rule_id: str = "r") -> Finding:
    return Finding(start, end, entity, category, rule_id, "rules", score)


def test_findings_refuse_empty_or_negative_spans() -> None:
    with pytest.raises(ValueError, match="invalid finding span"):
        finding(3, 3, "SECRET")


def test_dangerous_category_wins_over_a_higher_score() -> None:
    card = finding(0, 16, "CREDIT_CARD", "financial", score=0.6)
    phone = finding(0, 16, "PHONE_NUMBER", "contact", score=1.0)
    assert resolve_overlaps([phone, card]) == [card]


@pytest.mark.parametrize("generic", ["SECRET", "PASSWORD", "API_KEY", "AUTH_TOKEN"])
def test_format_rule_names_the_value_over_a_generic_key_rule(generic: str) -> None:
    specific = finding(7, 47, "GITHUB_TOKEN", score=0.9)
    by_key = finding(7, 47, generic, score=0.95)
    assert resolve_overlaps([by_key, specific]) == [specific]
    assert resolve_overlaps([specific, by_key]) == [specific]


def test_a_sensitive_loser_that_sticks_out_widens_the_winner() -> None:
    winner = finding(10, 20, "GITHUB_TOKEN")
    wider = finding(5, 25, "SECRET", score=0.5)
    (kept,) = resolve_overlaps([winner, wider])
    assert (kept.start, kept.end, kept.entity) == (5, 25, "GITHUB_TOKEN")


def test_a_low_risk_loser_is_dropped_without_widening() -> None:
    email = finding(10, 30, "EMAIL_ADDRESS", "contact")
    org = finding(0, 40, "ORGANIZATION", "low_risk", score=1.0)
    assert resolve_overlaps([org, email]) == [email]


def test_disjoint_findings_are_all_kept_in_order() -> None:
    found = [finding(30, 40, "EMAIL_ADDRESS", "contact"), finding(0, 5, "SECRET")]
    assert [f.start for f in resolve_overlaps(found)] == [0, 30]
