"""Validators and example generators: tokens family (cloud, VCS, LLM providers, dev tools).

Checks here are structural facts of a provider's token format that a regex cannot express:
a checksum the issuer embeds (GitHub and npm tokens end in the base62 CRC32 of their body,
age keys are Bech32 with a BCH checksum), or a payload that must decode to a fixed size
(Azure storage account keys are 64 random bytes). A random string of the right shape fails
them, so rules using them can skip context words without raising false positives.

Generators make *valid* example values for rule examples, so positive examples exercise the
same checks as real keys without a real key ever being committed.
"""

from __future__ import annotations

import base64
import binascii
import random
import string
import uuid
from collections.abc import Sequence

from .basic import Generator, Validator

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_ALNUM = string.ascii_letters + string.digits


# --- base62 CRC32 checksums (GitHub, npm) -----------------------------------------------------

def _base62(number: int, width: int) -> str:
    digits: list[str] = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    return "".join(reversed(digits)).rjust(width, "0")


def _crc32_base62(body: str) -> str:
    return _base62(binascii.crc32(body.encode("ascii")), 6)


def base62_crc32_suffix(token: str) -> bool:
    """``prefix_`` + random body + 6 base62 digits holding the CRC32 of the body.

    The format GitHub introduced in 2021 (``ghp_``, ``gho_``, ``ghu_``, ``ghs_``, ``ghr_``)
    and npm adopted (``npm_``): 30 random base62 characters, then the CRC32 of those 30,
    base62-encoded and left-padded with ``0`` to 6 characters.
    """
    _, sep, rest = token.partition("_")
    if not sep or len(rest) < 7 or not rest.isascii() or not rest.isalnum():
        return False
    return _crc32_base62(rest[:-6]) == rest[-6:]


def _checksummed_token(rng: random.Random, args: Sequence[str]) -> str:
    """``{github_token:ghp}`` / ``{npm_token}``: a token whose checksum holds."""
    prefix = args[0] if args else "ghp"
    body = "".join(rng.choice(_ALNUM) for _ in range(30))
    return f"{prefix}_{body}{_crc32_base62(body)}"


def _npm_token(rng: random.Random, args: Sequence[str]) -> str:
    return _checksummed_token(rng, ["npm"])


# --- Bech32 (age secret keys) -----------------------------------------------------------------

_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _polymod(values: Sequence[int]) -> int:
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i, gen in enumerate(_BECH32_GENERATOR):
            if (top >> i) & 1:
                checksum ^= gen
    return checksum


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def bech32_valid(value: str) -> bool:
    """A Bech32 string (BIP-173, case-insensitive but not mixed) whose checksum holds."""
    if value.lower() != value and value.upper() != value:
        return False
    lowered = value.lower()
    hrp, sep, data = lowered.rpartition("1")
    if not sep or not hrp or len(data) < 6 or any(c not in _BECH32 for c in data):
        return False
    return _polymod(_hrp_expand(hrp) + [_BECH32.index(c) for c in data]) == 1


def _to_5bit(data: bytes) -> list[int]:
    accumulator, bits, out = 0, 0, []
    for byte in data:
        accumulator = accumulator << 8 | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            out.append(accumulator >> bits & 31)
    if bits:
        out.append(accumulator << (5 - bits) & 31)
    return out


def _bech32_encode(hrp: str, payload: bytes) -> str:
    data = _to_5bit(payload)
    polymod = _polymod([*_hrp_expand(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_BECH32[d] for d in data + checksum)


def _age_secret_key(rng: random.Random, args: Sequence[str]) -> str:
    """``{age_secret_key}``: ``AGE-SECRET-KEY-1…`` over 32 random bytes, checksum valid."""
    return _bech32_encode("age-secret-key-", rng.randbytes(32)).upper()


# --- fixed-size base64 payloads ---------------------------------------------------------------

def azure_storage_key(value: str) -> bool:
    """An Azure storage / Cosmos DB account key: canonical standard base64 of exactly 64
    bytes. Canonical means the unused low bits of the last character are zero (it is one of
    ``AQgw``), as every encoder writes them; 86 random characters + ``==`` rarely are."""
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(decoded) == 64 and base64.b64encode(decoded).decode("ascii") == value


def _token_b64(rng: random.Random, args: Sequence[str]) -> str:
    """``{token_b64:N}``: standard base64 (with padding) of N random bytes."""
    count = int(args[0]) if args else 32
    return base64.b64encode(rng.randbytes(count)).decode("ascii")


def _token_b64url(rng: random.Random, args: Sequence[str]) -> str:
    """``{token_b64url:N}``: URL-safe base64 without padding of N random bytes."""
    count = int(args[0]) if args else 32
    return base64.urlsafe_b64encode(rng.randbytes(count)).decode("ascii").rstrip("=")


def _token_uuid(rng: random.Random, args: Sequence[str]) -> str:
    """``{token_uuid}``: a lowercase version-4 UUID (``{token_uuid:upper}`` for uppercase)."""
    value = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return value.upper() if args and args[0] == "upper" else value


# --- character mix ----------------------------------------------------------------------------

def has_digit(value: str) -> bool:
    """A digit present: rejects words and ``snake_case_placeholders`` while accepting values
    a random generator may emit without letters (an all-digit client secret)."""
    return any(c.isdigit() for c in value)


def has_upper_and_lower(value: str) -> bool:
    """Both letter cases present: random mixed-case keys made of letters only (Hugging Face
    ``hf_`` tokens) have them; words, identifiers in one case and hex digests do not."""
    return any(c.isupper() for c in value) and any(c.islower() for c in value)


def mixed_case_and_digit(value: str) -> bool:
    """Upper, lower and a digit all present: what a random base62/base64 key of 20+
    characters nearly always has, and what identifiers, words and hex hashes lack."""
    return (any(c.isupper() for c in value) and any(c.islower() for c in value)
            and any(c.isdigit() for c in value))


_AWS_ID_ALPHABET = string.ascii_uppercase + "234567"


_BASE32_LOWER = string.ascii_lowercase + "234567"


def _base32_lower(rng: random.Random, args: Sequence[str]) -> str:
    """``{b32:N}``: N lowercase RFC 4648 base32 characters (``a-z2-7``), the alphabet of
    Azure DevOps personal access tokens."""
    count = int(args[0]) if args else 52
    return "".join(rng.choice(_BASE32_LOWER) for _ in range(count))


def _aws_key_id(rng: random.Random, args: Sequence[str]) -> str:
    """``{aws_key_id:AKIA}``: prefix + 16 base32 characters, as AWS issues them."""
    prefix = args[0] if args else "AKIA"
    while True:
        body = "".join(rng.choice(_AWS_ID_ALPHABET) for _ in range(16))
        if any(c.isdigit() for c in body):
            return prefix + body


VALIDATORS: dict[str, Validator] = {
    "github_checksum": base62_crc32_suffix,
    "npm_checksum": base62_crc32_suffix,
    "bech32": bech32_valid,
    "azure_storage_key": azure_storage_key,
    "mixed_case_and_digit": mixed_case_and_digit,
    "has_upper_and_lower": has_upper_and_lower,
    "has_digit": has_digit,
}

GENERATORS: dict[str, Generator] = {
    "github_token": _checksummed_token,
    "npm_token": _npm_token,
    "age_secret_key": _age_secret_key,
    "token_b64": _token_b64,
    "token_b64url": _token_b64url,
    "token_uuid": _token_uuid,
    "aws_key_id": _aws_key_id,
    "b32": _base32_lower,
}
