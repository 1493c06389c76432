"""Named checks that rules refer to by name, and example generators for rule tests.

A validator takes the secret group's text and returns whether it is plausible
(a checksum holds, an issuer range matches, …). A generator makes a valid example value
for rule examples (``{name:arg:arg}`` in a template) from a seeded ``random.Random``.
Each family module exports ``VALIDATORS`` and ``GENERATORS``; this module only joins them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from . import basic, financial, government, saas, services, tokens
from .basic import Generator, Validator, shannon_entropy

__all__ = ["GENERATORS", "VALIDATORS", "Generator", "Validator", "shannon_entropy"]

_FAMILIES = (basic, tokens, services, saas, financial, government)


def _join(attribute: str) -> dict[str, object]:
    joined: dict[str, object] = {}
    for module in _FAMILIES:
        table: Mapping[str, object] = getattr(module, attribute)
        clash = joined.keys() & table.keys()
        if clash:
            raise RuntimeError(f"{module.__name__} redefines {sorted(clash)}")
        joined.update(table)
    return joined


VALIDATORS: Mapping[str, Validator] = MappingProxyType(_join("VALIDATORS"))  # type: ignore[arg-type]
GENERATORS: Mapping[str, Generator] = MappingProxyType(_join("GENERATORS"))  # type: ignore[arg-type]
