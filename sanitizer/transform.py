"""Applying policy actions to the findings of one text."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .findings import Finding
from .policy import Action


@dataclass(frozen=True, slots=True)
class Decision:
    """What was done to one finding; carries the replacement, never the value."""

    finding: Finding
    action: Action
    replacement: str | None  # None for "allow"
    fingerprint: str
    reason: str | None = None  # a short fixed code for the audit trail ("allowlisted")


def mask(value: str) -> str:
    """Stars, keeping the last four characters of long values (cards, accounts)."""
    keep = 4 if len(value) >= 12 else 0
    return "*" * (len(value) - keep) + value[len(value) - keep:]


def apply(
    text: str,
    findings: Sequence[Finding],
    decide: Callable[[Finding, str], Decision],
) -> tuple[str, list[Decision]]:
    """Replace each finding as ``decide`` says (findings must not overlap)."""
    out: list[str] = []
    decisions: list[Decision] = []
    position = 0
    for finding in sorted(findings, key=lambda f: f.start):
        decision = decide(finding, text[finding.start:finding.end])
        decisions.append(decision)
        if decision.replacement is None:
            continue
        out.append(text[position:finding.start])
        out.append(decision.replacement)
        position = finding.end
    out.append(text[position:])
    return "".join(out), decisions
