"""A GitHub token hidden by each evasion technique is still found, at the right place.

The token is generated from the catalog rule's own example templates (seeded), so it
satisfies whatever validators the rule has. Each disguise defeats the rule on the raw
text; the rules engine run over every view of :func:`sanitizer.normalize.views` must find
it and map it back to exactly the disguised span of the original.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest

from sanitizer.detect.rules_engine import RuleEngine
from sanitizer.examples import expand
from sanitizer.normalize import views
from sanitizer.rules import load_catalog

RULE_ID = "github-pat-classic"
CYRILLIC = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441",
            "x": "\u0445", "y": "\u0443", "A": "\u0410", "B": "\u0412", "E": "\u0415",
            "H": "\u041d", "K": "\u041a", "M": "\u041c", "O": "\u041e", "P": "\u0420",
            "C": "\u0421", "T": "\u0422", "X": "\u0425"}


@cache
def engine() -> RuleEngine:
    return RuleEngine(load_catalog())


def github_token(seed: int) -> str:
    """``ghp_`` + 36 alphanumerics, made by the rule's own example generator."""
    rule = next(r for r in load_catalog().rules if r.id == RULE_ID)
    rng = random.Random(seed)
    for template in rule.positive:
        example = expand(template, rng)
        for start, end in example.spans:
            value = example.text[start:end]
            if value.startswith("ghp_"):
                return value
    raise AssertionError(f"{RULE_ID} has no ghp_ example to generate a token from")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def zero_width(token: str) -> str:
    return token[:6] + "\u200b" + token[6:20] + "\u2060\u200d" + token[20:]


def fullwidth(token: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) for c in token)


def cyrillic(token: str) -> str:
    """Look-alikes for every letter that has one, the ``p`` of the prefix included."""
    return "gh\u0440_" + "".join(CYRILLIC.get(c, c) for c in token[4:])


def percent(token: str) -> str:
    return "".join(f"%{b:02X}" for b in token.encode())


def json_double(token: str) -> str:
    return "".join(f"\\\\u{ord(c):04x}" for c in token)


def continuation(token: str) -> str:
    return token[:15] + "\\\n" + token[15:30] + "\\\n\t" + token[30:]


TECHNIQUES: dict[str, Callable[[str], str]] = {
    "zero-width inside": zero_width,
    "fullwidth": fullwidth,
    "cyrillic confusables": cyrillic,
    "base64": b64,
    "double base64": lambda t: b64(b64(t)),
    "percent-encoding": percent,
    "json double escaping": json_double,
    "hex": lambda t: t.encode().hex(),
    "backslash continuation": continuation,
}


def found_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for view in views(text):
        for finding in engine().detect(view.text):
            if finding.rule_id == RULE_ID:
                spans.append(view.to_original(finding.start, finding.end))
    return spans


@pytest.mark.parametrize("technique", list(TECHNIQUES))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hidden_token_is_found_and_mapped_to_its_disguise(technique: str, seed: int) -> None:
    token = github_token(seed)
    hidden = TECHNIQUES[technique](token)
    assert hidden != token
    prefix = 'log line: {"env": "GITHUB_TOKEN='
    text = f'{prefix}{hidden}", "user": "octocat"}} done'
    expected = (len(prefix), len(prefix) + len(hidden))

    raw = [(f.start, f.end) for f in engine().detect(text) if f.rule_id == RULE_ID]
    assert not raw, f"{technique}: the disguise should defeat the raw rule"
    spans = found_spans(text)
    assert expected in spans, f"{technique}: found {spans}, expected {expected}"


@pytest.mark.parametrize("technique", list(TECHNIQUES))
def test_hidden_token_in_a_long_text_is_found(technique: str) -> None:
    token = github_token(7)
    hidden = TECHNIQUES[technique](token)
    filler = "The quick brown fox jumps over the lazy dog. " * 200
    text = f"{filler}export GITHUB_TOKEN={hidden}\n{filler}"
    start = len(filler) + len("export GITHUB_TOKEN=")
    assert (start, start + len(hidden)) in found_spans(text)


def test_plain_token_is_found_once_in_the_original_view() -> None:
    token = github_token(11)
    text = f"token {token} end"
    assert found_spans(text) == [(6, 6 + len(token))]


# --------------------------------------------------------------------------- whole engine
#
# The evasion corpus of benchmarks/bench_evasion.py (seeded), at a size that runs in
# seconds: every technique must catch at least 95% of the values, and the harmless
# look-alikes put through the same techniques must stay untouched.

from benchmarks import bench_evasion  # noqa: E402
from sanitizer.engine import Json, Sanitizer  # noqa: E402

CORPUS_PER_KIND = 2


@cache
def full_engine() -> Sanitizer:
    return Sanitizer(ner=False, known_values_from_env=False)


@cache
def corpus_report() -> dict[str, Any]:
    return bench_evasion.run(CORPUS_PER_KIND, full_engine())


def test_every_corpus_value_is_caught_in_plain_form() -> None:
    report = corpus_report()
    assert report["plain_not_caught"] == []
    assert report["values"] == len(bench_evasion.VALUES) * CORPUS_PER_KIND


@pytest.mark.parametrize("technique", bench_evasion.TECHNIQUES)
def test_each_technique_catches_at_least_95_percent(technique: str) -> None:
    row = corpus_report()["per_technique"][technique]
    assert row["cases"] == len(bench_evasion.VALUES) * CORPUS_PER_KIND
    assert row["catch_rate"] >= 0.95, f"{technique}: missed {row['missed']}"


def test_harmless_look_alikes_survive_every_technique() -> None:
    report = corpus_report()
    assert report["controls"] == len(bench_evasion.CONTROLS) * CORPUS_PER_KIND * len(
        bench_evasion.TECHNIQUES)
    assert report["over_redacted"] == 0


def test_disguised_cases_are_really_disguised() -> None:
    """The raw rule must miss each disguise (else the corpus tests nothing)."""
    rng = random.Random(3)
    token = github_token(5)
    for technique in bench_evasion.TECHNIQUES:
        case = bench_evasion.disguise(technique, "github-pat", "x {v} y", token, rng)
        text = case.text if isinstance(case.text, str) else json.dumps(case.text)
        assert token not in text, technique


# --------------------------------------------------------------------------- split values

def sanitized(text: Json, **kwargs: str) -> Json:
    return full_engine().sanitize(text, session="evasion", **kwargs).result


def test_split_over_json_fields_in_text_is_replaced_piece_by_piece() -> None:
    token = github_token(21)
    text = json.dumps({"user": "octocat", "k1": token[:17], "k2": token[17:]})
    result = sanitized(text)
    assert isinstance(result, str)
    assert token[:17] not in result and token[17:] not in result
    parsed = json.loads(result)  # still valid JSON: the keys between pieces are untouched
    assert parsed["user"] == "octocat"
    assert parsed["k1"].startswith("<GITHUB") and parsed["k2"].startswith("<GITHUB")


def test_split_over_lines_is_replaced_piece_by_piece() -> None:
    token = github_token(22)
    text = f"deploy key {token[:20]}\n    {token[20:]}\nthanks"
    result = sanitized(text)
    assert isinstance(result, str)
    assert token[:20] not in result and token[20:] not in result
    assert result.endswith("\nthanks") and result.count("\n") == 2


def test_split_over_sibling_fields_of_a_document_restores() -> None:
    engine = full_engine()
    email = "ann.lee@corp.example"
    doc: dict[str, Json] = {"user": "octocat", "a": email[:7], "b": email[7:]}
    done = engine.sanitize(doc, session="split-doc")
    assert isinstance(done.result, dict)
    assert email[:7] not in json.dumps(done.result) and email[7:] not in json.dumps(done.result)
    restored = {k: engine.restore(v, session="split-doc") if isinstance(v, str) else v
                for k, v in done.result.items()}
    assert restored == doc


@pytest.mark.parametrize("text", [
    # a value found on its own: the next line / field is not glued onto it
    "DB_PASSWORD=s3cr3tP4ssw0rd\nQ3Report2026\n",
    '{"password": "abcd1234efgh", "user_id": "u12345678"}',
    # prose, and words next to a token
    "The deployment\nfinished\nsuccessfully",
    '{"user": "octocat", "repo": "hello-world", "ref": "release-2026"}',
    '["alpha", "beta", "gamma", "delta"]',
    "sha1 9fceb02d0ae598e95dc970b74767f19372d61af8\n3f786850e387550fdab836ed7e6dc881de23001b\n",
])
def test_joining_never_redacts_a_neighbour(text: str) -> None:
    engine = full_engine()
    kept = [(f.start, f.end) for f in engine.detect(text)]
    import sanitizer.normalize as normalize

    original = normalize._joined
    normalize._joined = lambda view, context: None
    try:
        plain = [(f.start, f.end) for f in engine.detect(text)]
    finally:
        normalize._joined = original
    assert kept == plain
