"""Master keys and everything derived from them.

The master key never sits in code or in a vault store: it comes from the environment
(``SANITIZER_MASTER_KEY``) or from a key file (``SANITIZER_MASTER_KEY_FILE`` or an explicit
path). Both hold the same format::

    <key>                                  one key, key id "default"
    <kid1>:<key1>,<kid2>:<key2>            several keys; the first is the primary

A key is 32 random bytes written as 64 hex digits or as (url-safe) base64. In a file,
entries may also be separated by newlines and ``#`` starts a comment.

Rotation: put a new primary in front and keep the old entries. Vault records carry the key id
they were sealed with, so old records stay readable and new ones use the primary; sessions
keep looking values up with the key id they were created with, so a value keeps its number.

Every derived key comes from HKDF-SHA256 with a purpose label, so a leak of one derived key
(a session key, the audit key) reveals neither the master key nor any other derived key.
Error messages name the source and the entry number, never key material.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import ConfigError

ENV_KEY = "SANITIZER_MASTER_KEY"
ENV_KEY_FILE = "SANITIZER_MASTER_KEY_FILE"
DEFAULT_KID = "default"
KEY_BYTES = 32
FINGERPRINT_HEX_CHARS = 32

_KID = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def length_prefixed(*parts: str | bytes) -> bytes:
    """Join parts unambiguously (each prefixed by its length): no separator can be forged."""
    out = bytearray()
    for part in parts:
        raw = part.encode("utf-8") if isinstance(part, str) else part
        out += len(raw).to_bytes(4, "big") + raw
    return bytes(out)


def _decode_key(text: str, where: str) -> bytes:
    text = text.strip()
    if _HEX64.fullmatch(text):
        return bytes.fromhex(text)
    try:
        padded = text + "=" * (-len(text) % 4)
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise ConfigError(
            f"{where}: a master key must be 32 random bytes as 64 hex digits or base64 "
            "(generate one with `sanitizer vault keygen FILE`)"
        )
    return raw


def _parse(text: str, source: str) -> tuple[str, dict[str, bytes]]:
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    entries = [e.strip() for line in lines for e in line.split(",") if e.strip()]
    if not entries:
        raise ConfigError(f"{source} is empty: it must hold a master key")
    keys: dict[str, bytes] = {}
    primary = ""
    for index, entry in enumerate(entries, start=1):
        where = f"{source} entry {index}"
        if ":" in entry:
            kid, _, key_text = entry.partition(":")
            kid = kid.strip()
            if not _KID.fullmatch(kid):
                raise ConfigError(f"{where}: a key id is 1-32 characters of A-Z a-z 0-9 _ . -")
        elif len(entries) == 1:
            kid, key_text = DEFAULT_KID, entry
        else:
            raise ConfigError(f"{where}: with several keys each entry must be kid:key")
        if kid in keys:
            raise ConfigError(f"{where}: key id {kid!r} appears twice")
        keys[kid] = _decode_key(key_text, where)
        primary = primary or kid
    return primary, keys


class KeyRing:
    """The master keys of one deployment, and the HKDF derivations the vault and audit use."""

    __slots__ = ("_derived", "_keys", "_primary", "source")

    def __init__(self, keys: Mapping[str, bytes], primary: str, source: str = "<memory>") -> None:
        if primary not in keys:
            raise ConfigError("the primary key id is not in the key ring")
        for kid, key in keys.items():
            if not _KID.fullmatch(kid) or len(key) != KEY_BYTES:
                raise ConfigError("every master key must have a valid id and be 32 bytes")
        self._keys = dict(keys)
        self._primary = primary
        self.source = source
        self._derived: dict[tuple[str, ...], bytes] = {}  # fingerprint and audit keys

    # construction ---------------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str, source: str = ENV_KEY) -> KeyRing:
        """Read the ``kid:key,…`` format; ``source`` only names where the text came from."""
        primary, keys = _parse(text, source)
        return cls(keys, primary, source)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> KeyRing:
        file = Path(path).expanduser()
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"master key file {file} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            kind = type(exc).__name__
            raise ConfigError(f"cannot read master key file {file} ({kind})") from None
        return cls.parse(text, source=f"key file {file}")

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        key_file: str | os.PathLike[str] | None = None,
    ) -> KeyRing:
        """An explicit ``key_file`` wins, then ``SANITIZER_MASTER_KEY``, then its ``_FILE`` twin."""
        env = os.environ if environ is None else environ
        if key_file is not None:
            return cls.from_file(key_file)
        if env.get(ENV_KEY, "").strip():
            return cls.parse(env[ENV_KEY], source=ENV_KEY)
        if env.get(ENV_KEY_FILE, "").strip():
            return cls.from_file(env[ENV_KEY_FILE])
        raise ConfigError(
            f"no master key: set {ENV_KEY} or {ENV_KEY_FILE} (a persistent vault needs one; "
            "memory:// works without)"
        )

    @classmethod
    def ephemeral(cls) -> KeyRing:
        """A random key for ``memory://`` vaults and demos: nothing survives the process."""
        return cls({"ephemeral": secrets.token_bytes(KEY_BYTES)}, "ephemeral", "<ephemeral>")

    @staticmethod
    def generate_key_file(path: str | os.PathLike[str], kid: str = "k1") -> Path:
        """Write a new random key as ``kid:base64`` to a new file readable only by its owner."""
        if not _KID.fullmatch(kid):
            raise ConfigError("a key id is 1-32 characters of A-Z a-z 0-9 _ . -")
        file = Path(path).expanduser()
        key = base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")
        try:
            file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise ConfigError(f"master key file {file} already exists; not overwriting") from None
        except OSError as exc:
            raise ConfigError(f"cannot create master key file {file} ({exc.strerror})") from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"{kid}:{key}\n")
        os.chmod(file, 0o600)
        return file

    # inspection -----------------------------------------------------------------------------
    @property
    def primary_kid(self) -> str:
        return self._primary

    @property
    def kids(self) -> tuple[str, ...]:
        """Key ids, primary first."""
        return (self._primary, *(k for k in self._keys if k != self._primary))

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def __repr__(self) -> str:
        return f"KeyRing(kids={list(self.kids)!r}, source={self.source!r})"

    # derivations ----------------------------------------------------------------------------
    def _master(self, kid: str) -> bytes:
        try:
            return self._keys[kid]
        except KeyError:
            raise ConfigError(f"key id {kid!r} is not in the key ring") from None

    def derive(self, kid: str, purpose: str, *context: str, salt: bytes | None = None) -> bytes:
        """HKDF-SHA256(master[kid], salt, info = purpose + context) → 32 bytes."""
        info = length_prefixed("context-sanitizer/v1", purpose, *context)
        hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=info)
        return hkdf.derive(self._master(kid))

    def session_key(
        self, kid: str, tenant: str, session: str, salt: bytes, purpose: str = "seal"
    ) -> bytes:
        """The key of one session for one purpose (``seal`` or ``lookup``), salted per session.

        Deleting the session's random salt from the store makes this key impossible to
        derive again: that is how ``forget`` shreds a session.
        """
        return self.derive(kid, f"session-{purpose}", tenant, session, salt=salt)

    def _cached(self, kid: str, purpose: str, *context: str) -> bytes:
        """A long-lived derived key, derived once (HKDF costs more than the HMAC it keys)."""
        cache_key = (kid, purpose, *context)
        key = self._derived.get(cache_key)
        if key is None:
            key = self.derive(kid, purpose, *context)
            if len(self._derived) < 1024:
                self._derived[cache_key] = key
        return key

    def fingerprint_key(self, tenant: str = "default") -> bytes:
        """Key of the keyed value fingerprints of a tenant (primary key: rotation changes them)."""
        return self._cached(self._primary, "fingerprint", tenant)

    def fingerprint(self, entity: str, value: str, tenant: str = "default") -> str:
        """HMAC-SHA256 of (entity, value), 32 hex chars: correlates equal values, reveals none."""
        mac = hmac.new(self.fingerprint_key(tenant), length_prefixed(entity, value), hashlib.sha256)
        return mac.hexdigest()[:FINGERPRINT_HEX_CHARS]

    def audit_key(self, kid: str | None = None) -> bytes:
        """MAC key of the audit chain (primary unless a kid is given)."""
        return self._cached(kid or self._primary, "audit")

    def audit_keys(self) -> list[bytes]:
        """Audit keys of every kid, primary first: a log that spans a rotation verifies."""
        return [self.audit_key(kid) for kid in self.kids]
