"""Validators and example generators: payments, commerce and messaging services.

Validators see only the secret group's text and answer "is this plausibly a real
credential?"; they never log or keep the value. Generators make structurally valid
example values for rule tests (``{name:args}`` in a template) from a seeded RNG, so no
real key is ever committed.
"""

from __future__ import annotations

import base64
import itertools
import math
import random
import re
import string
import uuid
from collections.abc import Sequence

from .basic import Generator, Validator, b64decode, not_repetitive, shannon_entropy

_B64URL = string.ascii_letters + string.digits + "-_"
_SEQUENCE_RUN = 6


def discord_bot_token(value: str) -> bool:
    """A Discord bot token's first segment is the bot's user id (a 17-20 digit snowflake)
    in base64; random base64 almost never decodes to digits only."""
    head = value.split(".", 1)[0]
    decoded = b64decode(head, urlsafe=True)
    if decoded is None:
        return False
    return 17 <= len(decoded) <= 20 and decoded.isdigit() and not decoded.startswith(b"0")


def no_sequence_run(value: str) -> bool:
    """Rejects documentation placeholders such as ``sk_live_1234567890abcdef…``: a run of
    six or more consecutive ascending or descending characters (``abcdef``, ``123456``)
    essentially never occurs in a randomly generated key."""
    run_up = run_down = 1
    for previous, current in itertools.pairwise(value):
        step = ord(current) - ord(previous)
        run_up = run_up + 1 if step == 1 and current.isalnum() else 1
        run_down = run_down + 1 if step == -1 and current.isalnum() else 1
        if run_up >= _SEQUENCE_RUN or run_down >= _SEQUENCE_RUN:
            return False
    return True


def url_tail_random(value: str) -> bool:
    """For webhook URLs the credential is the last path segment: it must look random
    (rejects ``…/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX`` style docs)."""
    path = value.split("?", 1)[0].rstrip("/")
    tail = path.rsplit("/", 1)[-1]
    return (len(tail) >= 8 and shannon_entropy(tail) >= 3.0 and not_repetitive(tail)
            and no_sequence_run(tail))


def tail_random(value: str) -> bool:
    """The random part of a prefixed token (after the last ``_ - $ .`` separator) must
    look random: rejects ``sk_live_xxxx…``, ``shpat_0000…`` and ``…_1234567890abcdef``."""
    tail = re.split(r"[_$.-]", value)[-1]
    if len(tail) < 8:
        return False
    floor = min(3.0, math.log2(len(tail)) - 1.5)
    return shannon_entropy(tail) >= floor and not_repetitive(tail) and no_sequence_run(tail)


def base64_64_bytes(value: str) -> bool:
    """Kraken API private keys are 64 random bytes in canonical standard base64 (the
    unused low bits of the last character are zero, which random text rarely has)."""
    decoded = b64decode(value, urlsafe=False)
    return (decoded is not None and len(decoded) == 64
            and base64.b64encode(decoded).decode() == value)


def _gen_discord_bot_token(rng: random.Random, args: Sequence[str]) -> str:
    """``{discord_bot_token}``: base64(snowflake) . 6 chars . 38 chars."""
    snowflake = str(rng.randrange(10**17, 10**19))
    head = base64.urlsafe_b64encode(snowflake.encode()).decode().rstrip("=")
    middle = "".join(rng.choice(_B64URL) for _ in range(6))
    tail = "".join(rng.choice(_B64URL) for _ in range(38))
    return f"{head}.{middle}.{tail}"


def _gen_uuid(rng: random.Random, args: Sequence[str]) -> str:
    """``{svc_uuid}`` lowercase, ``{svc_uuid:upper}`` uppercase random UUID v4."""
    text = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return text.upper() if args and args[0] == "upper" else text


def _gen_b64bytes(rng: random.Random, args: Sequence[str]) -> str:
    """``{svc_b64bytes:N}``: N random bytes in standard, padded base64."""
    count = int(args[0]) if args else 32
    return base64.b64encode(bytes(rng.getrandbits(8) for _ in range(count))).decode()


VALIDATORS: dict[str, Validator] = {
    "discord_bot_token": discord_bot_token,
    "no_sequence_run": no_sequence_run,
    "url_tail_random": url_tail_random,
    "tail_random": tail_random,
    "base64_64_bytes": base64_64_bytes,
}

GENERATORS: dict[str, Generator] = {
    "discord_bot_token": _gen_discord_bot_token,
    "svc_uuid": _gen_uuid,
    "svc_b64bytes": _gen_b64bytes,
}
