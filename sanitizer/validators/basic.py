"""Generic checks (entropy, character classes) and the plain random generators."""

from __future__ import annotations

import base64
import binascii
import math
import random
import string
from collections import Counter
from collections.abc import Callable, Sequence

Validator = Callable[[str], bool]
Generator = Callable[[random.Random, Sequence[str]], str]


def shannon_entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    if not value:
        return 0.0
    length = len(value)
    return -sum(n / length * math.log2(n / length) for n in Counter(value).values())


def b64decode(text: str, *, urlsafe: bool) -> bytes | None:
    """Decode base64 with or without padding; ``None`` when it is not base64."""
    padded = text + "=" * (-len(text) % 4)
    try:
        if urlsafe:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def has_digit_and_letter(value: str) -> bool:
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def not_repetitive(value: str) -> bool:
    """Rejects runs like ``aaaaaaaa`` or ``abcabcabc`` that no generator of keys makes."""
    if len(set(value)) <= 2:
        return False
    for period in range(1, min(8, len(value) // 3) + 1):
        if all(value[i] == value[i % period] for i in range(len(value))):
            return False
    return True


def _charset(alphabet: str) -> Generator:
    def generate(rng: random.Random, args: Sequence[str]) -> str:
        count = int(args[0]) if args else 32
        while True:
            value = "".join(rng.choice(alphabet) for _ in range(count))
            # Examples stand for real keys: make them look like keys, never like words.
            if count < 8 or len(alphabet) <= 16 or alphabet.isalpha() or not value.isalpha():
                return value

    return generate


def _choice(rng: random.Random, args: Sequence[str]) -> str:
    """``{choice:a:b:c}`` picks one of its arguments."""
    return rng.choice(list(args))


_B64 = string.ascii_letters + string.digits + "+/"
_B64URL = string.ascii_letters + string.digits + "-_"

VALIDATORS: dict[str, Validator] = {
    "has_digit_and_letter": has_digit_and_letter,
    "not_repetitive": not_repetitive,
}

GENERATORS: dict[str, Generator] = {
    "alnum": _charset(string.ascii_letters + string.digits),
    "alpha": _charset(string.ascii_letters),
    "upper": _charset(string.ascii_uppercase),
    "lower": _charset(string.ascii_lowercase),
    "upnum": _charset(string.ascii_uppercase + string.digits),
    "lownum": _charset(string.ascii_lowercase + string.digits),
    "digits": _charset(string.digits),
    "hex": _charset("0123456789abcdef"),
    "HEX": _charset("0123456789ABCDEF"),
    "base64": _charset(_B64),
    "b64url": _charset(_B64URL),
    "choice": _choice,
}
