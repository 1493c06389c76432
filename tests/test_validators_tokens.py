"""Validators and generators for token formats (sanitizer.validators.tokens).

Checksum validators are tested against an independent implementation written from the
format's public description (GitHub: CRC32 of the random part, base62 with the alphabet
0-9 A-Z a-z, left-padded to 6; age: Bech32 per BIP-173), so the validator and the example
generator cannot agree on a shared mistake.
"""

from __future__ import annotations

import base64
import random
import string
import zlib

import pytest

from sanitizer.validators import GENERATORS, VALIDATORS
from sanitizer.validators.tokens import (
    azure_storage_key,
    base62_crc32_suffix,
    bech32_valid,
    has_digit,
    has_upper_and_lower,
    mixed_case_and_digit,
)

_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase


def _reference_checksum(body: str) -> str:
    number = zlib.crc32(body.encode("ascii"))
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = _ALPHABET[rest] + digits
    return digits.rjust(6, "0")


def test_new_validators_and_generators_are_registered() -> None:
    for name in ("github_checksum", "npm_checksum", "bech32", "azure_storage_key",
                 "mixed_case_and_digit", "has_upper_and_lower", "has_digit"):
        assert name in VALIDATORS
    for name in ("github_token", "npm_token", "age_secret_key", "b32"):
        assert name in GENERATORS


@pytest.mark.parametrize("prefix", ["ghp", "gho", "ghu", "ghs", "ghr"])
def test_github_tokens_carry_the_reference_checksum(prefix: str) -> None:
    rng = random.Random(prefix)
    for _ in range(20):
        token = GENERATORS["github_token"](rng, [prefix])
        body = token[len(prefix) + 1:]
        assert len(body) == 36
        assert body[-6:] == _reference_checksum(body[:-6])
        assert base62_crc32_suffix(token)


def test_github_checksum_rejects_any_single_change() -> None:
    token = GENERATORS["github_token"](random.Random("flip"), ["ghp"])
    for position in range(4, len(token)):
        replacement = "A" if token[position] != "A" else "B"
        assert not base62_crc32_suffix(token[:position] + replacement + token[position + 1:])


def test_github_checksum_needs_a_prefix_and_base62_body() -> None:
    body = "".join(random.Random("x").choice(string.ascii_letters) for _ in range(30))
    good = f"{body}{_reference_checksum(body)}"
    assert base62_crc32_suffix(f"ghp_{good}")
    assert not base62_crc32_suffix(good)                 # no prefix separator
    assert not base62_crc32_suffix(f"ghp_{good[:-1]}-")  # not base62
    assert not base62_crc32_suffix("ghp_abc")            # too short


def test_random_look_alikes_fail_the_checksum() -> None:
    rng = random.Random("random")
    alnum = string.ascii_letters + string.digits
    fails = sum(not base62_crc32_suffix("ghp_" + "".join(rng.choice(alnum) for _ in range(36)))
                for _ in range(500))
    assert fails == 500


def test_npm_tokens_use_the_same_checksum() -> None:
    token = GENERATORS["npm_token"](random.Random("npm"), [])
    assert token.startswith("npm_") and len(token) == 40
    assert VALIDATORS["npm_checksum"](token)
    assert not VALIDATORS["npm_checksum"](token[:-1] + ("0" if token[-1] != "0" else "1"))


@pytest.mark.parametrize("value", [
    "A12UEL5L", "a12uel5l",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
])
def test_bech32_accepts_bip173_vectors(value: str) -> None:
    assert bech32_valid(value)


@pytest.mark.parametrize("value", [
    "A12UEL5l",                                       # mixed case
    "a12uel5m",                                       # checksum
    "AGE-SECRET-KEY-1" + "Q" * 58,                    # all zero data, checksum wrong
    "nosep", "a1b",
])
def test_bech32_rejects(value: str) -> None:
    assert not bech32_valid(value)


def test_generated_age_keys_are_valid_bech32() -> None:
    rng = random.Random("age")
    for _ in range(10):
        key = GENERATORS["age_secret_key"](rng, [])
        assert key.startswith("AGE-SECRET-KEY-1") and len(key) == 74
        assert bech32_valid(key)


def test_azure_storage_key_requires_canonical_64_bytes() -> None:
    key = base64.b64encode(random.Random("az").randbytes(64)).decode()
    assert azure_storage_key(key)
    # same length and padding, but the last character sets bits the decoder drops
    last = key[-3]
    other = next(c for c in "BCDEFGHIJKLMNOP" if c != last)
    assert not azure_storage_key(key[:-3] + other + "==")
    assert not azure_storage_key(base64.b64encode(random.Random("az").randbytes(48)).decode())
    assert not azure_storage_key("not base64 at all")


@pytest.mark.parametrize(("value", "expected"), [
    ("hfAbCdEfGhIj", True), ("lowercaseonly", False), ("UPPERCASEONLY", False),
    ("12345", False),
])
def test_has_upper_and_lower(value: str, expected: bool) -> None:
    assert has_upper_and_lower(value) is expected


@pytest.mark.parametrize(("value", "expected"), [
    ("11913527962096700021699185010760", True), ("a1", True),
    ("your_discord_client_secret_here", False), ("", False),
])
def test_has_digit(value: str, expected: bool) -> None:
    assert has_digit(value) is expected


def test_mixed_case_and_digit() -> None:
    assert mixed_case_and_digit("aB3")
    assert not mixed_case_and_digit("ab3")
    assert not mixed_case_and_digit("aBc")


def test_b32_generator_uses_the_rfc4648_lowercase_alphabet() -> None:
    value = GENERATORS["b32"](random.Random("b32"), ["52"])
    assert len(value) == 52
    assert set(value) <= set(string.ascii_lowercase + "234567")
