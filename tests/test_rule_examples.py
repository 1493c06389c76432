"""Every rule's own examples: positives are found exactly, negatives are not flagged."""

from __future__ import annotations

import base64
import hashlib
import random
import uuid
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


def _benign_texts() -> list[str]:
    """Identifier-like text an agent handles all day that holds no credential: UUIDs, git
    SHAs, digests, base64 of ordinary text, versions, timestamps, order ids, paths, ids."""
    rng = random.Random("benign")
    texts: list[str] = []
    for i in range(60):
        request_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        sha1 = hashlib.sha1(str(i).encode(), usedforsecurity=False).hexdigest()
        sha256 = hashlib.sha256(str(i).encode()).hexdigest()
        md5 = hashlib.md5(str(i).encode(), usedforsecurity=False).hexdigest()
        sri = base64.b64encode(hashlib.sha512(str(i).encode()).digest()).decode()
        prose = base64.b64encode(f"hello world number {i} from the agent".encode()).decode()
        texts += [
            f"request_id={request_id} completed in {i} ms", f"commit {sha1}",
            f"Merge: {sha1[:7]} {sha1[7:14]}", f"image: ghcr.io/acme/app@sha256:{sha256}",
            f'etag: "{md5}"', f"integrity sha512-{sri}", f"data: {prose}",
            f"version 1.{i}.3-rc.{i % 7}+build.{i * 13}",
            f"2024-05-{i % 28 + 1:02d}T12:34:56.789Z",
            f"order #{rng.randrange(10**9, 10**10)} shipped",
            f"user_id: {rng.randrange(10**17, 10**19)}",
            f"/home/dev/projects/app/src/module_{i}/handler.py",
            f"docker pull acme/app:{sha1[:12]}",
            f"trace_id={md5}{md5[:16]} span_id={md5[:16]}", f'ObjectId("{md5[:24]}")',
            f"tx 0x{sha256}", f"token_count={i * 31} max_tokens=4096",
            f'{{"id": "{request_id}", "object": "chat.completion", "created": 1700000000}}',
        ]
    return texts


def test_secret_rules_leave_benign_identifiers_alone() -> None:
    engine = RuleEngine(CATALOG.select(["secret"]))
    flagged = [(f.rule_id, text[f.start:f.end]) for text in _benign_texts()
               for f in engine.detect(text)]
    assert not flagged, flagged[:10]
