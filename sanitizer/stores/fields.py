"""Dotted field paths (``memory.content``, ``messages.0.text``) into JSON records."""

from __future__ import annotations

from ..errors import ConfigError
from .base import Json

_MISSING = object()

Path = tuple[str, ...]


def parse_path(text: str | None) -> Path:
    """``"a.b.0"`` → ``("a", "b", "0")``; None or ``""`` means the whole record."""
    if not text:
        return ()
    parts = tuple(text.split("."))
    if any(not p for p in parts):
        raise ConfigError(f"--field {text!r}: empty part in a dotted path")
    return parts


def get_field(value: Json, path: Path) -> object:
    """The value at ``path``, or the module's ``MISSING`` marker."""
    node: object = value
    for part in path:
        if isinstance(node, dict):
            if part not in node:
                return _MISSING
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def is_missing(found: object) -> bool:
    return found is _MISSING


def set_field(value: Json, path: Path, new: Json) -> Json:
    """A copy of ``value`` with ``new`` at ``path`` (the path must exist); every other field
    is the same object as before."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: set_field(value[head], rest, new)}
    if isinstance(value, list):
        copy = list(value)
        copy[int(head)] = set_field(copy[int(head)], rest, new)
        return copy
    raise ConfigError("field path does not match the record")
