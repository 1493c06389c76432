"""Fuzzing with Hypothesis: sanitize, restore, the streaming restorer, chat messages and the
audit verifier on generated input.

CI runs a few hundred examples per target; ``make fuzz`` (``SANITIZER_FUZZ_EXAMPLES``)
runs thousands. Each target states what must hold whatever the input:

* sanitize raises nothing but :class:`SanitizerError`, keeps the JSON shape, leaves no
  planted value in its output, and restore gives the input back;
* the streaming restorer, fed any chunking (text or UTF-8 bytes split anywhere), emits
  exactly what restoring the whole text gives;
* chat messages of any shape come out with the same roles and structure, no planted value
  in them, or are refused with a clear error;
* an audit log verifies; any single edit, deletion, swap or truncation is reported, and
  the verifier never raises on garbage.
"""

from __future__ import annotations

import itertools
import json
import os
import random
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sanitizer.audit import AuditEvent, AuditLog, FileSink, verify_log
from sanitizer.engine import Json, Sanitizer
from sanitizer.errors import SanitizerError
from sanitizer.examples import expand
from sanitizer.keys import KeyRing
from sanitizer.messages import sanitize_messages
from sanitizer.tokens import restore_text

EXAMPLES = int(os.environ.get("SANITIZER_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get(
    "SANITIZER_FUZZ_EXAMPLES"), suppress_health_check=[HealthCheck.too_slow,
                                                        HealthCheck.data_too_large,
                                                        HealthCheck.function_scoped_fixture])

_RNG = random.Random("test_fuzz")
PII = [expand(t, _RNG).text for t in ("{lower:6}.{lower:4}@{lower:7}.com", "{card:visa}",
                                      "{iban:DE}", "{lower:5}@{lower:6}.org",
                                      "{card:mastercard}", "{iban:GB}") for _ in range(3)]
SECRETS = [expand("{github_token:ghp}", _RNG).text for _ in range(4)]


@cache
def engine() -> Sanitizer:
    return Sanitizer(ner=False, known_values_from_env=False)


# --------------------------------------------------------------------------- strategies

noise = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
hostile = st.text(max_size=40)  # lone surrogates, controls, anything
words = st.sampled_from(["hello", "the", "send", "to", "card", "id", "2026-11-25", "v1.2",
                         "é", "日本", "%41", "\\n", "\u200b", "ＡＢＣ", "=", ":", "{", '"'])


def _planted(values: list[str], filler: st.SearchStrategy[str] = noise
             ) -> st.SearchStrategy[str]:
    """Text that holds planted values between words and noise."""
    piece = st.one_of(st.sampled_from(values), words, filler)
    return st.lists(piece, min_size=1, max_size=10).flatmap(
        lambda parts: st.sampled_from([" ", "\n", ", ", " | "]).map(lambda sep: sep.join(parts)))


pii_text = _planted(PII)
hostile_pii_text = _planted(PII, hostile)  # lone surrogates next to real findings
secret_text = _planted(PII + SECRETS)
json_values: st.SearchStrategy[Json] = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              pii_text, noise),
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.one_of(st.sampled_from(["email", "note", "password", "api_key",
                                                   "id", "card", "k1", "k2"]), noise),
                        children, max_size=5)),
    max_leaves=25)


def _no_placeholders(text: str) -> bool:
    return not any(True for _ in engine().grammar.finditer(text))


def _strings(value: Json) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    return []


def _same_shape(result: Json, value: Json) -> bool:
    """Same containers, keys and lengths; a leaf keeps its type or became a string (a
    number under a secret-naming key is replaced by its placeholder)."""
    if isinstance(value, dict):
        return isinstance(result, dict) and list(result) == list(value) and all(
            _same_shape(result[k], v) for k, v in value.items())
    if isinstance(value, list):
        return isinstance(result, list) and len(result) == len(value) and all(
            _same_shape(r, v) for r, v in zip(result, value, strict=True))
    return isinstance(result, str) or type(result) is type(value)


# --------------------------------------------------------------------------- sanitize

@FUZZ
@given(text=pii_text, session=st.sampled_from(["a", "b"]))
def test_sanitize_then_restore_is_identity(text: str, session: str) -> None:
    assume(_no_placeholders(text))
    done = engine().sanitize(text, session=session)
    assert isinstance(done.result, str)
    for value in PII:
        if value in text:
            assert value not in done.result
    assert engine().restore(done.result, session=session) == text


@FUZZ
@given(text=hostile_pii_text, surface=st.sampled_from(["prompt", "tool_result"]))
def test_hostile_characters_next_to_values_round_trip(text: str, surface: str) -> None:
    assume(_no_placeholders(text))
    done = engine().sanitize(text, surface=surface, session="fuzz-hostile")
    assert isinstance(done.result, str)
    for value in PII:
        if value in text:
            assert value not in done.result
    assert engine().restore(done.result, session="fuzz-hostile") == text
    restorer = engine().restorer(session="fuzz-hostile")
    streamed = "".join(restorer.feed(done.result[i:i + 5])
                       for i in range(0, len(done.result), 5))
    assert streamed + restorer.flush() == text


@FUZZ
@given(text=secret_text)
def test_secrets_never_come_back_into_text(text: str) -> None:
    assume(_no_placeholders(text))
    done = engine().sanitize(text, session="fuzz-secrets")
    assert isinstance(done.result, str)
    restored = engine().restore(done.result, session="fuzz-secrets")
    for value in SECRETS:
        assert value not in done.result and value not in restored


@FUZZ
@given(value=json_values, surface=st.sampled_from(["prompt", "tool_result", "memory_write"]))
def test_sanitize_json_keeps_its_shape_and_leaks_nothing(value: Json, surface: str) -> None:
    try:
        done = engine().sanitize(value, surface=surface, session="fuzz-json")
    except SanitizerError:
        return
    assert _same_shape(done.result, value)
    out = json.dumps(done.result, ensure_ascii=False)
    for planted in PII:
        if any(planted in s for s in _strings(value)):
            assert planted not in out


@FUZZ
@given(text=hostile, surface=st.sampled_from(["prompt", "tool_result", "log"]))
def test_any_text_is_sanitized_or_refused_clearly(text: str, surface: str) -> None:
    try:
        done = engine().sanitize(text, surface=surface, session="fuzz-any")
    except SanitizerError as exc:
        message = str(exc)
    else:
        assert isinstance(done.result, str)
        engine().restore(done.result, session="fuzz-any")  # never raises
        return
    assert text not in message or len(text) < 4


# --------------------------------------------------------------------------- restore

placeholder = st.builds(
    lambda o, e, sep, n, c: f"{o}{e}{sep}{n}{c}",
    st.sampled_from(["<", "[", "{", "(", "", "< "]),
    st.sampled_from(["EMAIL_ADDRESS", "email_address", "CREDIT_CARD", "Email Address",
                     "GITHUB_TOKEN", "IBAN_CODE", "EMAIL"]),
    st.sampled_from(["_", " ", "-", ""]), st.integers(0, 12),
    st.sampled_from([">", "]", "}", ")", "", " >"]))
reply_text = st.lists(st.one_of(placeholder, noise, words), max_size=12).map("".join)


@cache
def restoring_session() -> str:
    engine().sanitize(" ".join(PII[:8]), session="fuzz-restore")
    return "fuzz-restore"


@FUZZ
@given(text=reply_text, cuts=st.lists(st.integers(0, 400), max_size=12),
       as_bytes=st.booleans())
def test_streaming_restore_equals_whole_restore(text: str, cuts: list[int],
                                                as_bytes: bool) -> None:
    session = restoring_session()
    whole = engine().restore(text, session=session)
    data: str | bytes = text.encode() if as_bytes else text
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    restorer = engine().restorer(session=session)
    pieces = [restorer.feed(data[a:b]) for a, b in itertools.pairwise(bounds)]
    assert "".join(pieces) + restorer.flush() == whole


@FUZZ
@given(text=reply_text)
def test_restore_only_gives_this_sessions_values(text: str) -> None:
    session = restoring_session()
    other = engine().restore(text, session="fuzz-nobody")
    assert other == text  # a session that minted nothing restores nothing
    mine = engine().restore(text, session=session)
    for value in set(PII) - set(PII[:8]):
        assert value not in mine or value in text

    def refuse(match: Any) -> None:
        return None

    assert restore_text(text, engine().grammar, refuse) == text


# --------------------------------------------------------------------------- messages

content = st.one_of(st.none(), pii_text,
                    st.lists(st.fixed_dictionaries({"type": st.just("text"),
                                                    "text": pii_text}), max_size=3))
arguments = st.one_of(json_values.map(lambda v: json.dumps(v, ensure_ascii=False)), noise)
tool_call = st.fixed_dictionaries({
    "id": st.text("abc123", min_size=1, max_size=6), "type": st.just("function"),
    "function": st.fixed_dictionaries({"name": st.sampled_from(["lookup", "send_email"]),
                                       "arguments": arguments})})
message = st.one_of(
    st.fixed_dictionaries({"role": st.sampled_from(["system", "user", "assistant", "tool",
                                                    "developer"]), "content": content}),
    st.fixed_dictionaries({"role": st.just("assistant"), "content": st.none(),
                           "tool_calls": st.lists(tool_call, min_size=1, max_size=3)}),
)


@FUZZ
@given(messages=st.lists(message, max_size=6))
def test_chat_messages_keep_their_structure_and_leak_nothing(
        messages: list[dict[str, Any]]) -> None:
    try:
        out = sanitize_messages(engine(), messages, "fuzz-messages")
    except SanitizerError:
        return
    assert [m.get("role") for m in out] == [m.get("role") for m in messages]
    sent = json.dumps(out, ensure_ascii=False)
    for planted in PII:
        if planted in json.dumps(messages, ensure_ascii=False):
            assert planted not in sent
    for before, after in zip(messages, out, strict=True):
        for call_in, call_out in zip(before.get("tool_calls") or [],
                                     after.get("tool_calls") or [], strict=True):
            try:
                json.loads(call_in["function"]["arguments"])
            except json.JSONDecodeError:
                continue
            json.loads(call_out["function"]["arguments"])  # JSON stays JSON


# --------------------------------------------------------------------------- audit

@pytest.fixture(scope="module")
def audit_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, KeyRing]:
    keys = KeyRing.ephemeral()
    path = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    log = AuditLog(keys.audit_key(), [FileSink(path, fsync_interval=None)])
    rng = random.Random(5)
    for i in range(12):
        log.record(AuditEvent(session=f"s{i % 3}", surface="prompt", entity="EMAIL_ADDRESS",
                              rule_id="email-address", action="tokenize",
                              placeholder=f"<EMAIL_ADDRESS_{i}>",
                              fingerprint=f"{rng.getrandbits(128):032x}", start=i, end=i + 5))
    log.close()
    assert verify_log(path, keys.audit_keys()).ok
    return path, keys


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("delete"), st.integers(0, 100), st.just(0)),
    st.tuples(st.just("swap"), st.integers(0, 100), st.integers(1, 100)),
    st.tuples(st.just("truncate"), st.integers(1, 10**6), st.just(0)),
    st.tuples(st.just("duplicate"), st.integers(0, 100), st.just(0)),
)


@FUZZ
@given(change=mutation)
def test_any_single_change_to_the_audit_log_is_reported(
        audit_log: tuple[Path, KeyRing], change: tuple[str, int, int], tmp_path: Path) -> None:
    source, keys = audit_log
    data = source.read_bytes()
    lines = data.splitlines(keepends=True)
    kind, a, b = change
    if kind == "flip":
        at = a % len(data)
        changed = data[:at] + bytes([data[at] ^ b]) + data[at + 1:]
    elif kind == "delete":
        changed = b"".join(lines[:a % len(lines)] + lines[a % len(lines) + 1:])
    elif kind == "swap":
        i, j = a % len(lines), (a + b) % len(lines)
        assume(lines[i] != lines[j])
        lines[i], lines[j] = lines[j], lines[i]
        changed = b"".join(lines)
    elif kind == "duplicate":
        changed = b"".join(lines[:a % len(lines) + 1] + lines[a % len(lines):])
    else:
        changed = data[:len(data) - 1 - a % (len(data) - 1)]
    assume(changed != data)
    target = tmp_path / "audit.jsonl"
    target.write_bytes(changed)
    head = source.with_name(source.name + ".head")
    (tmp_path / "audit.jsonl.head").write_bytes(head.read_bytes())
    result = verify_log(target, keys.audit_keys())
    assert not result.ok and result.first_bad is not None


@FUZZ
@given(garbage=st.binary(max_size=400), head=st.binary(max_size=100))
def test_the_verifier_never_raises_on_garbage(garbage: bytes, head: bytes,
                                               tmp_path: Path) -> None:
    target = tmp_path / "audit.jsonl"
    target.write_bytes(garbage)
    (tmp_path / "audit.jsonl.head").write_bytes(head)
    result = verify_log(target, [KeyRing.ephemeral().audit_key()])
    if garbage.strip():
        assert not result.ok and result.reason
