"""The known-values detector matches exact secrets the process holds, and never shows them."""

from __future__ import annotations

import pickle
import random
import string

import pytest

from sanitizer.detect import Detector
from sanitizer.detect.known_values import KnownValuesDetector, plausible_secret

RNG = random.Random("test_known_values")


def secret(length: int = 20) -> str:
    return "".join(RNG.choice(string.ascii_letters + string.digits) for _ in range(length))


def spans(detector: KnownValuesDetector, text: str) -> list[tuple[str, str]]:
    return [(text[f.start:f.end], f.entity) for f in detector.detect(text)]


def test_environment_pickup_keeps_only_secret_names_and_plausible_values() -> None:
    api_key, token, db_password = secret(), secret(), secret(12)
    environ = {
        "OPENAI_API_KEY": api_key,
        "GITHUB_TOKEN": f"  {token}\n",
        "DATABASE_URL": f"postgres://app:{db_password}@db.internal:5432/app",
        "HOME": "/home/agent",
        "PWD": "/home/agent/work",
        "DEBUG_TOKEN": "true",
        "MAX_TOKENS": "4096",
        "SHORT_SECRET": "abc",
        "AUTH_TOKEN_FILE": "/run/secrets/token",
        "SECRET_PIN": "12345678",
        "TOKEN_ENDPOINT": "https://auth.example.com/token",
    }
    detector = KnownValuesDetector.from_environment(environ)
    text = f"env dump: {api_key} {token} {db_password} /home/agent 4096 12345678 abc"
    assert spans(detector, text) == [(api_key, "API_KEY"), (token, "AUTH_TOKEN"),
                                     (db_password, "DSN_PASSWORD")]


def test_registration_and_findings() -> None:
    value = "p@ss (with) *regex* chars.+?"
    detector = KnownValuesDetector()
    assert isinstance(detector, Detector)
    assert detector.detect(f"x {value} y") == []
    detector.register(value, "PASSWORD")
    detector.register("")
    text = f"x {value} y {value}"
    found = detector.detect(text)
    assert [(f.start, f.end) for f in found] == [(2, 2 + len(value)),
                                                 (5 + len(value), 5 + 2 * len(value))]
    assert {(f.entity, f.category, f.rule_id, f.detector, f.score) for f in found} == {
        ("PASSWORD", "secret", "known-value", "known_values", 1.0)}


def test_longest_value_wins_where_values_overlap() -> None:
    short = secret(10)
    long = short + secret(10)
    detector = KnownValuesDetector({short: "SECRET", long: "API_KEY"})
    assert spans(detector, f"[{long}] [{short}]") == [(long, "API_KEY"), (short, "SECRET")]


def test_no_plaintext_in_repr_str_or_pickle() -> None:
    value = secret()
    detector = KnownValuesDetector.from_environment({"API_KEY": value})
    assert len(detector) == 1
    for shown in (repr(detector), str(detector), f"{detector!r}"):
        assert value not in shown
    for finding in detector.detect(f"key={value}"):
        assert value not in repr(finding)
    with pytest.raises(TypeError):
        pickle.dumps(detector)


@pytest.mark.parametrize(("value", "plausible"), [
    (secret(), True), ("short", False), ("true", False), ("12345678", False),
    ("123456789012345", True), ("/etc/secret/key.pem", False), ("C:\\keys\\a.pem", False),
    ("https://example.com/x", False), ("https://u:pw123456@example.com/", True),
])
def test_plausible_secret(value: str, plausible: bool) -> None:
    assert plausible_secret(value) is plausible
