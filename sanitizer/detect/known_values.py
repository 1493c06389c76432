"""The known-values detector: exact secrets this process holds, matched as literals.

Whatever shape a secret has, if the process knows it (a secret-named environment variable,
a value the application registered) it can be found verbatim in any text: a tool result
that echoes ``env``, a stack trace, a model that repeats a key it was shown.

All values are compiled into one RE2 alternation of escaped literals (linear time in the
text, whatever the number of values), rebuilt only when the set changes. The values are
kept in memory only as long as the detector lives and never appear in its ``repr``, in a
log line or in an exception message.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ..findings import Finding
from .structure import secret_key_name

MIN_LENGTH = 8
RULE_ID = "known-value"
_NON_SECRET = frozenset({"true", "false", "yes", "no", "on", "off", "none", "null", "nil",
                         "undefined", "enabled", "disabled"})


def plausible_secret(value: str) -> bool:
    """Whether an environment value is worth matching: long enough, and not a boolean, a
    short number, a file path or a URL without credentials."""
    v = value.strip()
    if len(v) < MIN_LENGTH or v.lower() in _NON_SECRET:
        return False
    if v.isdigit() and len(v) < 12:
        return False
    if v.startswith(("/", "~/", "./", "../")) or (len(v) > 2 and v[1:3] in (":\\", ":/")):
        return False
    if "://" in v:
        try:
            return urlsplit(v).password is not None
        except ValueError:
            return True
    return True


class KnownValuesDetector:
    """Finds registered literal values. ``register`` is thread-safe; ``detect`` sees a
    consistent compiled set."""

    name = "known_values"
    __slots__ = ("_compiled", "_lock", "_values")

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values: dict[str, str] = {}
        self._lock = threading.Lock()
        self._compiled: tuple[Any, dict[str, str]] | None = None
        for value, entity in (values or {}).items():
            self.register(value, entity)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> KnownValuesDetector:
        """Every variable whose name reads as a secret (see
        :func:`~sanitizer.detect.structure.secret_key_name`) with a plausible value, and
        every URL with a password whatever the variable's name: the URL whole and its
        password alone."""
        import os

        detector = cls()
        for name, raw in (os.environ if environ is None else environ).items():
            value = raw.strip()
            entity = secret_key_name(name)
            password = _url_password(value) if "://" in value else None
            if password:
                # DATABASE_URL=postgres://app:pw@db holds a secret whatever its name.
                entity = entity or "DSN_PASSWORD"
                if len(password) >= MIN_LENGTH:
                    detector.register(password, entity)
            if entity is None or not plausible_secret(value):
                continue
            detector.register(value, entity)
        return detector

    def register(self, value: str, entity: str = "SECRET") -> None:
        """Add one exact value (empty values are ignored)."""
        if not value:
            return
        with self._lock:
            if self._values.get(value) != entity:
                self._values[value] = entity
                self._compiled = None

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"KnownValuesDetector({len(self._values)} values)"

    __str__ = __repr__

    def __getstate__(self) -> None:
        raise TypeError("KnownValuesDetector holds secrets and cannot be pickled")

    def _matcher(self) -> tuple[Any, dict[str, str]] | None:
        compiled = self._compiled
        if compiled is not None or not self._values:
            return compiled
        import re2

        with self._lock:
            if self._compiled is None and self._values:
                entities = dict(self._values)
                # Longest first: at one position the longest known value wins.
                literals = sorted(entities, key=len, reverse=True)
                options = re2.Options()
                options.max_mem = 64 << 20
                pattern = "|".join(re2.escape(v) for v in literals)
                self._compiled = (re2.compile(pattern, options), entities)
            return self._compiled

    def detect(self, text: str) -> list[Finding]:
        matcher = self._matcher() if text else None
        if matcher is None:
            return []
        regex, entities = matcher
        findings: list[Finding] = []
        for match in regex.finditer(text):
            start, end = match.span()
            if end > start:
                findings.append(Finding(start, end, entities.get(match.group(), "SECRET"),
                                        "secret", RULE_ID, self.name, 1.0))
        return findings


def _url_password(value: str) -> str | None:
    try:
        return urlsplit(value).password
    except ValueError:
        return None

