"""Expand rule example templates into concrete texts with their expected spans.

``{name:arg:arg}`` calls a generator from :mod:`sanitizer.validators`; ``«…»`` marks a span
the rule must report (the markers are removed). The random source is seeded from the rule
id and the example's position, so every run and every machine sees the same texts and no
real credential is ever committed.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .validators import GENERATORS, Generator

_CALL = re.compile(r"\{([a-z][a-z0-9_]*)(?::([^{}\s\"']*))?\}")
OPEN, CLOSE = "«", "»"


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    spans: tuple[tuple[int, int], ...]


def expand(template: str, rng: random.Random,
           generators: Mapping[str, Generator] = GENERATORS) -> Example:
    def call(match: re.Match[str]) -> str:
        name, args = match.group(1), match.group(2)
        if name not in generators:
            raise KeyError(f"unknown example generator {{{name}}}")
        return generators[name](rng, args.split(":") if args else [])

    text = _CALL.sub(call, template)
    spans: list[tuple[int, int]] = []
    out: list[str] = []
    position = 0
    start: int | None = None
    for char in text:
        if char == OPEN:
            if start is not None:
                raise ValueError("nested «")
            start = position
        elif char == CLOSE:
            if start is None:
                raise ValueError("» without «")
            spans.append((start, position))
            start = None
        else:
            out.append(char)
            position += 1
    if start is not None:
        raise ValueError("« without »")
    return Example("".join(out), tuple(spans))


def seeded(rule_id: str, kind: str, index: int) -> random.Random:
    return random.Random(f"{rule_id}/{kind}/{index}")


def expand_all(rule_id: str, kind: str, templates: tuple[str, ...]) -> list[Example]:
    return [expand(t, seeded(rule_id, kind, i)) for i, t in enumerate(templates)]
