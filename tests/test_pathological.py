"""Hostile input: every rule and the whole engine stay bounded, or refuse clearly.

ReDoS-shaped strings against every catalog rule, 2 MB single tokens of every alphabet the
decoders care about, a 10 MB text (chunked with overlap: a secret across a chunk edge is
still found, once), JSON nested beyond any recursion limit, non-JSON containers, a huge
number of findings. Nothing here hangs or crashes: the worst outcome is an
:class:`InputError` that says which limit was hit. ``pytest-timeout`` is a safety net
against hangs, not a speed target (speed lives in ``benchmarks/``).
"""

from __future__ import annotations

import base64
import itertools
import random
from functools import cache
from typing import Any

import pytest

from sanitizer.config import DetectionSettings, parse_detection
from sanitizer.detect.rules_engine import RuleEngine
from sanitizer.engine import Json, Sanitizer
from sanitizer.errors import ConfigError, InputError
from sanitizer.examples import expand, expand_all
from sanitizer.findings import Finding, _resolve_cluster, resolve_overlaps
from sanitizer.normalize import chunks
from sanitizer.rules import Rule, load_catalog
from sanitizer.tokens import restore_text

pytestmark = pytest.mark.timeout(300)

RNG = random.Random("test_pathological")
TOKENS = [expand("{github_token:ghp}", RNG).text for _ in range(40)]
EMAILS = [expand("{lower:6}.{lower:5}@{lower:7}.com", RNG).text for _ in range(40)]


@cache
def engine() -> Sanitizer:
    return Sanitizer(ner=False, known_values_from_env=False, max_input_chars=12_000_000)


@cache
def rules() -> RuleEngine:
    return RuleEngine(load_catalog())


@cache
def catalog_rules() -> tuple[Rule, ...]:
    return load_catalog().rules


def assert_findings_sane(findings: list[Finding], text: str) -> None:
    for finding in findings:
        assert 0 <= finding.start < finding.end <= len(text)


# --------------------------------------------------------------------------- every rule

def redos_shapes(rule: Rule) -> list[str]:
    """Inputs shaped to make a backtracking engine explode on this rule: its keyword
    repeated, its example value's characters repeated without an end, near-misses glued
    together, and the value with one character dropped, thousands of times."""
    examples = expand_all(rule.id, "positive", rule.positive)
    values = [ex.text[s:e] for ex in examples for s, e in ex.spans] or [rule.id]
    value = max(values, key=len)
    keyword = (rule.keywords or (value[:4] or "key",))[0]
    head, tail = value[: max(1, len(value) // 2)], value[len(value) // 2:] or "a"
    return [
        keyword * 3000,
        keyword + tail[-1] * 20_000,
        (head + " ") * 800 + keyword,
        (value[:-1] + "\n") * 400,
        keyword + "=" + "\"'" * 5000,
        (keyword + "-") * 2000 + value,
        value[:1] + (value[1:2] or "a") * 20_000 + "!",
    ]


@pytest.mark.parametrize("rule_id", [r.id for r in catalog_rules()])
def test_every_rule_is_bounded_on_redos_shapes(rule_id: str) -> None:
    rule = next(r for r in catalog_rules() if r.id == rule_id)
    for text in redos_shapes(rule):
        assert_findings_sane(rules().detect(text), text)


def test_whole_engine_on_every_rules_redos_shapes() -> None:
    """The same shapes, all detectors and every view, in one 2 MB-ish concatenation."""
    text = "\n".join(shape[:700] for rule in catalog_rules() for shape in redos_shapes(rule))
    assert len(text) > 500_000
    assert_findings_sane(engine().detect(text), text)


# --------------------------------------------------------------------------- big inputs

TWO_MB = 2_000_000


def _random(alphabet: str, size: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choices(alphabet, k=size))


@pytest.mark.parametrize("name", [
    "letter", "base64", "hex", "digits", "percent", "backslashes", "unicode-escapes",
    "zero-width", "fullwidth", "keyword", "quotes", "newlines", "tags",
])
def test_two_megabyte_single_token_is_bounded(name: str) -> None:
    text = {
        "letter": lambda: "A" * TWO_MB,
        "base64": lambda: _random("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                  "0123456789+/", TWO_MB, 1),
        "hex": lambda: _random("0123456789abcdef", TWO_MB, 2),
        "digits": lambda: _random("0123456789", TWO_MB, 3),
        "percent": lambda: "%41" * (TWO_MB // 3),
        "backslashes": lambda: "\\" * TWO_MB,
        "unicode-escapes": lambda: "\\u0041" * (TWO_MB // 6),
        "zero-width": lambda: "a\u200b" * (TWO_MB // 2),
        "fullwidth": lambda: "\uff21" * TWO_MB,
        "keyword": lambda: "ghp_" * (TWO_MB // 4),
        "quotes": lambda: '"ab12",' * (TWO_MB // 7),
        "newlines": lambda: "ab12CD34ef\n" * (TWO_MB // 11),
        "tags": lambda: "\U000e0041" * (TWO_MB // 4),
    }[name]()
    done = engine().sanitize(text, session="big")
    assert isinstance(done.result, str)
    assert_findings_sane(done.findings, text)


@pytest.mark.parametrize("encoding", ["base64", "hex"])
@pytest.mark.parametrize("shift", [0, 1, 2])
def test_a_blob_longer_than_a_chunk_is_decoded_chunk_by_chunk(encoding: str,
                                                              shift: int) -> None:
    """A 2 MB blob spans many chunks; each chunk holds a piece that starts anywhere in
    the blob's 4-character (or 2-digit) groups, and still decodes."""
    email = EMAILS[shift]
    inner = "x" * shift + ("lorem ipsum " * 40_000) + f" mail {email} " + "dolor " * 70_000
    blob = (base64.b64encode(inner.encode()).decode() if encoding == "base64"
            else inner.encode().hex())
    assert len(blob) > 700_000
    prefix = "attachment: "
    done = engine().redact(f"{prefix}{blob} end")
    # where the address sits in the blob: it must lie inside a redacted piece
    at = inner.index(email)
    if encoding == "base64":
        low, high = 4 * (at // 3), 4 * ((at + len(email)) // 3 + 1)
    else:
        low, high = 2 * at, 2 * (at + len(email))
    low, high = low + len(prefix), high + len(prefix)
    assert any(f.start <= low and high <= f.end for f in done.findings)
    assert isinstance(done.result, str) and blob[low - len(prefix):high - len(prefix)] \
        not in done.result


def _prose(size: int, seed: int) -> str:
    words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "and", "then",
             "some", "more", "words", "follow", "here", "2026-11-25", "v1.2.3", "OK."]
    rng = random.Random(seed)
    out: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(words)
        out.append(word)
        length += len(word) + 1
    return " ".join(out)[:size]


def plant_on_edges(size: int, overlap: int, total: int,
                   values: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """Minified JSON (no white space, so chunk edges cannot move) of ``total`` characters,
    with a quoted value written across the end of every chunk but the last."""
    record = '{"id":1234,"note":"abcdefgh","ok":true},'
    text = (record * (total // len(record) + 1))[:total]
    spans: list[tuple[int, int]] = []
    end = size
    index = 0
    while end < total - 200:
        value = values[index % len(values)]
        start = end - 3 - (index * 7) % (len(value) - 5)  # cut somewhere inside the value
        text = text[:start - 1] + '"' + value + '"' + text[start + len(value) + 1:]
        spans.append((start, start + len(value)))
        index += 1
        end += size - overlap
    assert len(text) == total
    cuts = chunks(text, size, overlap)
    assert all(any(s < hi < e for _lo, hi in cuts) for s, e in spans)  # really cut
    return text, spans


def test_ten_megabyte_text_is_scanned_in_chunks_and_every_value_found() -> None:
    settings = engine().detection
    text, spans = plant_on_edges(settings.chunk_chars, settings.chunk_overlap, 10_000_000,
                                 TOKENS)
    assert len(spans) > 30
    findings = engine().detect(text)
    assert sorted((f.start, f.end) for f in findings) == spans  # each once, nothing else
    assert {f.entity for f in findings} == {"GITHUB_TOKEN"} or findings


def test_ten_megabytes_over_the_default_limit_is_refused_clearly() -> None:
    default = Sanitizer(ner=False, known_values_from_env=False)
    text = "x" * 10_000_000
    with pytest.raises(InputError, match=r"exceeds max_input_chars=5000000"):
        default.detect(text)
    with pytest.raises(InputError, match="max_input_chars"):
        default.sanitize({"doc": text})


def test_secret_on_every_chunk_boundary_is_found_exactly_once() -> None:
    small = Sanitizer(ner=False, known_values_from_env=False, chunk_chars=2048,
                      chunk_overlap=256)
    text, spans = plant_on_edges(2048, 256, 60_000, EMAILS)
    assert len(spans) > 25
    done = small.sanitize(text, session="edges")
    assert sorted((f.start, f.end) for f in done.findings) == spans
    assert isinstance(done.result, str)
    assert not any(email in done.result for email in EMAILS)
    assert small.restore(done.result, session="edges") == text


def test_chunked_and_whole_scans_agree() -> None:
    rng = random.Random(5)
    whole = Sanitizer(ner=False, known_values_from_env=False)
    chunked = Sanitizer(ner=False, known_values_from_env=False, chunk_chars=1024,
                        chunk_overlap=128)
    for trial in range(20):
        parts = [_prose(rng.randint(50, 400), trial * 100 + i) for i in range(20)]
        for i in range(0, len(parts), 3):
            parts[i] += " " + rng.choice([*TOKENS, *EMAILS])
        text = "\n".join(parts)
        assert [(f.start, f.end, f.entity) for f in chunked.detect(text)] == \
            [(f.start, f.end, f.entity) for f in whole.detect(text)]


@pytest.mark.parametrize(("size", "overlap"), [(64, 0), (100, 50), (1000, 10), (4096, 2048)])
def test_chunks_cover_the_text_and_overlap(size: int, overlap: int) -> None:
    rng = random.Random(size)
    for length in (0, 1, size, size + 1, 10 * size + 7):
        text = "".join(rng.choice("ab \n") for _ in range(length))
        cuts = chunks(text, size, overlap)
        assert cuts[0][0] == 0 and cuts[-1][1] == length
        for (a, b), (c, d) in itertools.pairwise(cuts):
            assert a < c <= b - overlap < d
        # any span of ``overlap`` characters lies whole inside one chunk
        for start in range(0, max(0, length - overlap), max(1, overlap // 3 or 1)):
            assert any(lo <= start and start + overlap <= hi for lo, hi in cuts)


# --------------------------------------------------------------------------- JSON

def _nested(depth: int, kind: str) -> Json:
    value: Json = "ann@corp.example"
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


@pytest.mark.parametrize("kind", ["list", "dict"])
def test_json_deeper_than_the_limit_is_refused_without_recursion(kind: str) -> None:
    deep = _nested(100_000, kind)  # far past Python's recursion limit
    for call in (lambda: engine().detect(deep), lambda: engine().redact(deep),
                 lambda: engine().sanitize(deep, session="deep"),
                 lambda: engine().sanitize(deep, session="deep", surface="tool_result")):
        with pytest.raises(InputError, match="max_json_depth=100"):
            call()


def test_json_at_the_depth_limit_is_sanitized() -> None:
    doc = _nested(99, "dict")
    done = engine().sanitize(doc, session="deep-ok")
    assert "ann@corp.example" not in repr(done.result)
    assert len(done.findings) == 1


def test_deeply_nested_json_as_text_is_just_text() -> None:
    text = "[" * 200_000 + '"ann@corp.example"' + "]" * 200_000
    done = engine().sanitize(text, session="deep-text")
    assert isinstance(done.result, str) and "ann@corp.example" not in done.result


@pytest.mark.parametrize("value", [
    ("ann@corp.example",), {"ann@corp.example"}, b"ann@corp.example",
    {"emails": ("ann@corp.example",)}, {1: "ann@corp.example"}, [object()],
    {"ok": [1, 2.5, None, True, {"x": bytearray(b"ann@corp.example")}]},
])
def test_non_json_containers_are_refused_not_passed_through(value: object) -> None:
    hostile: Any = value
    with pytest.raises(InputError):
        engine().detect(hostile)
    with pytest.raises(InputError):
        engine().redact(hostile)
    with pytest.raises(InputError):
        engine().sanitize(hostile, session="types")
    with pytest.raises(InputError):
        engine().sanitize(hostile, session="types", surface="tool_result")


def test_wide_json_with_many_findings_is_linear() -> None:
    doc: Any = [{"email": EMAILS[i % len(EMAILS)], "n": i, "note": "ok"}
                for i in range(5_000)]
    result: Any = engine().redact(doc).result
    assert len(result) == 5_000
    assert all(item["email"] == "<EMAIL_ADDRESS>" for item in result)
    assert doc[0]["email"] in EMAILS  # the input is untouched


# --------------------------------------------------------------------------- many findings

def test_many_findings_in_one_text_are_tokenized() -> None:
    text = " ".join(f"{EMAILS[i % 40].split('@')[0]}{i}@example.com" for i in range(5000))
    done = engine().sanitize(text, session="many")
    assert isinstance(done.result, str)
    assert "@example.com" not in done.result
    assert len(done.findings) == 5000
    assert engine().restore(done.result, session="many") == text


def test_more_findings_than_the_limit_are_refused() -> None:
    capped = Sanitizer(ner=False, known_values_from_env=False, max_findings=100)
    text = " ".join(f"user{i}@example.com" for i in range(101))
    with pytest.raises(InputError, match="max_findings=100"):
        capped.detect(text)
    assert len(capped.detect(" ".join(f"user{i}@example.com" for i in range(100)))) == 100


def test_overlap_resolution_by_clusters_equals_resolving_all_at_once() -> None:
    rng = random.Random(9)
    categories = ["secret", "financial", "government", "contact", "low_risk"]
    for _ in range(3000):
        findings = []
        for _ in range(rng.randint(0, 14)):
            start = rng.randint(0, 80)
            findings.append(Finding(start, start + rng.randint(1, 20),
                                    rng.choice(["EMAIL_ADDRESS", "SECRET", "GITHUB_TOKEN"]),
                                    rng.choice(categories), "r", "d",  # type: ignore[arg-type]
                                    rng.choice([0.5, 0.9])))
        assert resolve_overlaps(findings) == _resolve_cluster(list(findings))


def test_overlap_resolution_of_100k_findings_is_bounded() -> None:
    findings = [Finding(i * 10, i * 10 + 6, "EMAIL_ADDRESS", "contact", "r", "d", 0.9)
                for i in range(100_000)]
    assert len(resolve_overlaps(reversed(findings))) == 100_000


def test_restore_and_stream_with_30k_placeholders() -> None:
    s = engine()
    text = " ".join(f"<EMAIL_ADDRESS_{i}>" for i in range(1, 30_001))
    calls = 0

    def resolve(match: object) -> str | None:
        nonlocal calls
        calls += 1
        return None

    assert restore_text(text, s.grammar, resolve) == text
    assert calls == 30_000
    restorer = s.restorer(session="nobody-minted-these")
    out = [restorer.feed(text[i:i + 7]) for i in range(0, 21_000, 7)]  # placeholders split
    out.append(restorer.feed(text[21_000:]))  # then one huge chunk
    out.append(restorer.flush())
    assert "".join(out) == text


# --------------------------------------------------------------------------- limits config

@pytest.mark.parametrize(("section", "message"), [
    ({"chunk_chars": 0}, "chunk_chars must be positive"),
    ({"chunk_chars": 100, "chunk_overlap": 51}, "chunk_overlap"),
    ({"chunk_overlap": -1}, "chunk_overlap"),
    ({"max_json_depth": 0}, "max_json_depth must be positive"),
    ({"max_findings": -5}, "max_findings must be positive"),
    ({"max_input_chars": "10"}, "wrong type"),
])
def test_bad_limits_are_config_errors(section: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_detection(section, "limits.toml")


def test_bad_limits_as_keyword_arguments_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="chunk_overlap"):
        Sanitizer(chunk_chars=1000, chunk_overlap=900)
    assert DetectionSettings().chunk_overlap * 2 <= DetectionSettings().chunk_chars
