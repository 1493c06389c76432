"""A GitHub token hidden by each evasion technique is still found, at the right place.

The token is generated from the catalog rule's own example templates (seeded), so it
satisfies whatever validators the rule has. Each disguise defeats the rule on the raw
text; the rules engine run over every view of :func:`sanitizer.normalize.views` must find
it and map it back to exactly the disguised span of the original.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable
from functools import cache

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
