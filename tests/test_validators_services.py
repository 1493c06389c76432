"""Validators and generators for payments and messaging rules (sanitizer.validators.services)."""

from __future__ import annotations

import base64
import random
import uuid

import pytest

from sanitizer.validators import GENERATORS, VALIDATORS
from sanitizer.validators.services import (
    base64_64_bytes,
    discord_bot_token,
    no_sequence_run,
    tail_random,
    url_tail_random,
)


def _rng(seed: str) -> random.Random:
    return random.Random(seed)


def test_validators_and_generators_are_registered() -> None:
    for name in ("discord_bot_token", "no_sequence_run", "url_tail_random", "tail_random",
                 "base64_64_bytes"):
        assert name in VALIDATORS
    for name in ("discord_bot_token", "svc_uuid", "svc_b64bytes"):
        assert name in GENERATORS


@pytest.mark.parametrize("seed", ["a", "b", "c", "d", "e"])
def test_generated_discord_bot_tokens_validate(seed: str) -> None:
    token = GENERATORS["discord_bot_token"](_rng(seed), [])
    head, middle, tail = token.split(".")
    assert head[0] in "MNO"
    assert len(middle) == 6
    assert len(tail) == 38
    assert discord_bot_token(token)


def test_discord_bot_token_rejects_random_head() -> None:
    rng = _rng("discord-negative")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    head = "M" + "".join(rng.choice(alphabet) for _ in range(23))
    assert not discord_bot_token(f"{head}.abcdef.{'x' * 38}")
    assert not discord_bot_token("not base64 at all!.aaaaaa.bbb")


def test_discord_bot_token_rejects_non_snowflake_digits() -> None:
    short = base64.urlsafe_b64encode(b"1234").decode().rstrip("=")
    assert not discord_bot_token(f"{short}.abcdef.{'y' * 38}")
    leading_zero = base64.urlsafe_b64encode(b"012345678901234567").decode().rstrip("=")
    assert not discord_bot_token(f"{leading_zero}.abcdef.{'y' * 38}")


@pytest.mark.parametrize("value", ["sk_live_1234567890", "abcdefgh", "zyxwvu", "k9FEDCBAx"])
def test_no_sequence_run_rejects_runs(value: str) -> None:
    assert not no_sequence_run(value)


@pytest.mark.parametrize("value", ["sk_live_4eC39HqLyjWDarjt", "a1b2c3d4e5", "xoxb-1357-2468"])
def test_no_sequence_run_accepts_random_looking(value: str) -> None:
    assert no_sequence_run(value)


def test_tail_random_checks_the_part_after_the_last_separator() -> None:
    rng = _rng("tail")
    random_tail = "".join(rng.choice("0123456789abcdef") for _ in range(32))
    assert tail_random(f"shpat_{random_tail}")
    assert tail_random(f"access_token$production$q8w2e7r4t6y1u3i9${random_tail}")
    assert not tail_random("shpat_00000000000000000000000000000000")
    assert not tail_random("sk_live_xxxxxxxxxxxxxxxxxxxxxxxx")
    assert not tail_random("rzp_live_abcdefghijklmn")
    assert not tail_random("FLWSECK-abc")  # too short to judge: not a key


def test_url_tail_random() -> None:
    rng = _rng("url")
    secret = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
                     for _ in range(24))
    assert url_tail_random(f"https://hooks.slack.com/services/T0ABCDEFG/B0HIJKLMN/{secret}")
    assert not url_tail_random(
        "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX")
    assert not url_tail_random("https://hooks.slack.com/services/YOUR/WEBHOOK/URL")
    assert url_tail_random(f"https://example.invalid/path/{secret}?query=1")


def test_base64_64_bytes_requires_canonical_encoding() -> None:
    value = GENERATORS["svc_b64bytes"](_rng("kraken"), ["64"])
    assert len(value) == 88
    assert base64_64_bytes(value)
    assert not base64_64_bytes(GENERATORS["svc_b64bytes"](_rng("kraken"), ["48"]))
    # 86 characters whose last one carries non-zero padding bits: not an encoder's output
    assert not base64_64_bytes("A" * 85 + "B==")
    assert not base64_64_bytes("!" * 88)


def test_uuid_generator_makes_version_4_uuids() -> None:
    lower = GENERATORS["svc_uuid"](_rng("u"), [])
    upper = GENERATORS["svc_uuid"](_rng("u"), ["upper"])
    assert uuid.UUID(lower).version == 4
    assert upper == lower.upper()
