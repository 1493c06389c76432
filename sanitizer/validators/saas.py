"""Validators and example generators: SaaS, observability and productivity tools.

Several SaaS tokens carry structure a regex cannot check cheaply: a base64 JSON payload
(Sentry org tokens, Grafana legacy API keys, Supabase JWTs) or a base64 body (Kubernetes
Secret data). The validators here decode that structure so a random look-alike of the right
length is not reported; the generators build well-formed, obviously synthetic values for
the rule examples (never real credentials).
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from .basic import Generator, Validator, b64decode

_B64URL = string.ascii_letters + string.digits + "-_"
_ALNUM = string.ascii_letters + string.digits
_LOWNUM = string.ascii_lowercase + string.digits

# Longest run of consecutive code points (abcdef, 123456, fedcba) or repeats (aaaaaa) a
# random key plausibly contains; placeholders like 0123456789abcdef… exceed it.
_MAX_RUN = 5


def _json_object(data: bytes | None) -> dict[str, Any] | None:
    if data is None:
        return None
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def not_placeholder(value: str) -> bool:
    """Rejects keyboard/sequence placeholders: a run of more than five characters that
    ascend, descend or repeat (``0123456789abcdef``, ``aaaaaaaa``, ``fedcba``)."""
    for step in (1, -1, 0):
        run = 1
        for previous, current in pairwise(value):
            run = run + 1 if ord(current) - ord(previous) == step else 1
            if run > _MAX_RUN:
                return False
    return True


def base64_value(value: str) -> bool:
    """A Kubernetes Secret ``data`` value: canonical padded base64 of at least 3 bytes."""
    value = value.strip("'\"")
    if len(value) % 4:
        return False
    decoded = b64decode(value, urlsafe=False)
    return decoded is not None and len(decoded) >= 3


def sentry_org_token(value: str) -> bool:
    """``sntrys_<base64 JSON with iat>_<secret>``: the JSON part must decode."""
    if not value.startswith("sntrys_"):
        return False
    body = value[len("sntrys_"):]
    payload, _, secret = body.rpartition("_")
    claims = _json_object(b64decode(payload.rstrip("="), urlsafe=False))
    return claims is not None and "iat" in claims and len(secret) >= 32


def grafana_api_key(value: str) -> bool:
    """Legacy Grafana API key: base64 of ``{"k": key, "n": name, "id": org}``."""
    claims = _json_object(b64decode(value.rstrip("="), urlsafe=False))
    return claims is not None and isinstance(claims.get("k"), str) and "n" in claims


def elastic_api_key(value: str) -> bool:
    """Elasticsearch encoded API key: base64 of ``id:api_key`` (both parts 10+ chars)."""
    decoded = b64decode(value.rstrip("="), urlsafe=False)
    if decoded is None:
        return False
    try:
        text = decoded.decode("ascii")
    except UnicodeDecodeError:
        return False
    key_id, sep, key = text.partition(":")
    return bool(sep) and len(key_id) >= 10 and len(key) >= 10 and text.isprintable()


def jwt_payload(value: str) -> dict[str, Any] | None:
    parts = value.split(".")
    if len(parts) != 3:
        return None
    return _json_object(b64decode(parts[1], urlsafe=True))


def saas_jwt_shape(value: str) -> bool:
    """A JWT whose header and payload both decode to JSON objects."""
    parts = value.split(".")
    return (len(parts) == 3 and _json_object(b64decode(parts[0], urlsafe=True)) is not None
            and jwt_payload(value) is not None)


def supabase_service_role_jwt(value: str) -> bool:
    """A Supabase ``service_role`` key: a JWT whose ``role`` claim is ``service_role``
    (the ``anon`` key is public by design and is not reported)."""
    claims = jwt_payload(value)
    return claims is not None and claims.get("role") == "service_role"


# --- generators ------------------------------------------------------------------------

def _pick(rng: random.Random, alphabet: str, count: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(count))


def _b64json(claims: dict[str, Any], *, urlsafe: bool) -> str:
    raw = json.dumps(claims, separators=(",", ":")).encode()
    encoded = base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)
    return encoded.decode().rstrip("=")


def _sentry_org_token(rng: random.Random, _args: Sequence[str]) -> str:
    claims = {"iat": rng.randint(1_650_000_000, 1_800_000_000) + rng.random(),
              "url": f"https://{_pick(rng, string.ascii_lowercase, 8)}.sentry.io",
              "region_url": "https://us.sentry.io",
              "org": _pick(rng, string.ascii_lowercase, 10)}
    return f"sntrys_{_b64json(claims, urlsafe=False)}_{_pick(rng, _ALNUM + '+/', 43)}"


def _grafana_api_key(rng: random.Random, _args: Sequence[str]) -> str:
    claims = {"k": _pick(rng, _ALNUM, 32), "n": _pick(rng, string.ascii_lowercase, 8),
              "id": rng.randint(1, 999)}
    return _b64json(claims, urlsafe=False)


def _grafana_cloud_token(rng: random.Random, _args: Sequence[str]) -> str:
    claims = {"o": str(rng.randint(100_000, 9_999_999)),
              "n": f"stack-{rng.randint(100_000, 999_999)}-hm-read-"
                   f"{_pick(rng, string.ascii_lowercase, 6)}",
              "k": _pick(rng, _ALNUM, 24), "m": {"r": rng.choice(["us", "eu", "prod-us-east-0"])}}
    return "glc_" + _b64json(claims, urlsafe=False)


def _jwt(header: dict[str, Any], claims: dict[str, Any], rng: random.Random) -> str:
    return ".".join((_b64json(header, urlsafe=True), _b64json(claims, urlsafe=True),
                     _pick(rng, _B64URL, 43)))


def _supabase_jwt(rng: random.Random, args: Sequence[str]) -> str:
    """``{supabase_jwt:service_role}`` or ``{supabase_jwt:anon}``."""
    role = args[0] if args else "service_role"
    issued = rng.randint(1_650_000_000, 1_750_000_000)
    claims = {"iss": "supabase", "ref": _pick(rng, string.ascii_lowercase, 20), "role": role,
              "iat": issued, "exp": issued + 315_360_000}
    return _jwt({"alg": "HS256", "typ": "JWT"}, claims, rng)


def _saas_jwt(rng: random.Random, args: Sequence[str]) -> str:
    """``{saas_jwt:first_claim}``: an HS256 JWT whose payload starts with that claim."""
    first = args[0] if args else "sub"
    claims = {first: rng.randint(10_000_000, 999_999_999), "uid": rng.randint(1_000, 99_999_999),
              "iat": rng.randint(1_650_000_000, 1_750_000_000),
              "scope": _pick(rng, string.ascii_lowercase, 6)}
    header = {"alg": "HS256"} if first == "tid" else {"alg": "HS256", "typ": "JWT"}
    return _jwt(header, claims, rng)


def _elastic_api_key(rng: random.Random, _args: Sequence[str]) -> str:
    raw = f"{_pick(rng, _B64URL, 20)}:{_pick(rng, _B64URL, 22)}".encode()
    return base64.b64encode(raw).decode()


def _saas_letters(rng: random.Random, args: Sequence[str]) -> str:
    """``{saas_letters:N}``: N random ASCII letters (tokens that are letters only; the
    basic ``alpha`` generator refuses all-letter values so examples never look like words)."""
    count = int(args[0]) if args else 32
    return _pick(rng, string.ascii_letters, count)


def _k8s_b64(rng: random.Random, args: Sequence[str]) -> str:
    """``{k8s_b64:N}``: standard base64 of N random printable bytes (a Secret value)."""
    count = int(args[0]) if args else 18
    raw = _pick(rng, _ALNUM + "!@#%&*", count).encode()
    return base64.b64encode(raw).decode()


VALIDATORS: dict[str, Validator] = {
    "not_placeholder": not_placeholder,
    "base64_value": base64_value,
    "sentry_org_token": sentry_org_token,
    "grafana_api_key": grafana_api_key,
    "saas_jwt_shape": saas_jwt_shape,
    "elastic_api_key": elastic_api_key,
    "supabase_service_role_jwt": supabase_service_role_jwt,
}

GENERATORS: dict[str, Generator] = {
    "sentry_org_token": _sentry_org_token,
    "grafana_api_key": _grafana_api_key,
    "grafana_cloud_token": _grafana_cloud_token,
    "supabase_jwt": _supabase_jwt,
    "saas_jwt": _saas_jwt,
    "k8s_b64": _k8s_b64,
    "saas_letters": _saas_letters,
    "elastic_api_key": _elastic_api_key,
}
