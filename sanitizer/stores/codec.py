"""Cells and strings that hold text or JSON: decoded for the scrub, encoded back alike."""

from __future__ import annotations

import json
from typing import Literal

from ..errors import ConfigError
from .base import Json

Format = Literal["auto", "text", "json"]
FORMATS: tuple[Format, ...] = ("auto", "text", "json")


def check_format(name: str) -> Format:
    for fmt in FORMATS:
        if name == fmt:
            return fmt
    raise ConfigError(f"unknown format {name!r} (expected one of {list(FORMATS)})")


def decode(raw: str, fmt: Format) -> tuple[Json, bool]:
    """``(value, is_json)``: with ``auto`` a string that parses as an object or array is
    JSON, anything else is text; with ``json`` a string that does not parse raises
    ValueError (the record is reported and left alone)."""
    if fmt == "text":
        return raw, False
    head = raw.lstrip()[:1]
    if fmt == "auto" and head not in ("{", "["):
        return raw, False
    try:
        value: Json = json.loads(raw)
    except json.JSONDecodeError:
        if fmt == "json":
            raise ValueError("not valid JSON") from None
        return raw, False
    if fmt == "auto" and not isinstance(value, dict | list):
        return raw, False
    return value, True


def encode(value: Json, original: str, is_json: bool) -> str:
    """Text back as it is; JSON in the spacing the original used (compact or not)."""
    if not is_json:
        if not isinstance(value, str):
            raise ConfigError("a text record must stay text")
        return value
    compact = '": ' not in original and '", ' not in original and ", " not in original
    separators = (",", ":") if compact else (", ", ": ")
    ascii_only = "\\u" in original
    return json.dumps(value, ensure_ascii=ascii_only, separators=separators)
