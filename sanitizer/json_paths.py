"""Walking a JSON value by paths: its scalars, its object keys, and copies with some of
them replaced. A path is a tuple of object keys and list indexes (what findings carry)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .errors import InputError
from .findings import JsonPath

Json = str | int | float | bool | None | list["Json"] | dict[str, "Json"]


def leaves(value: Json, path: JsonPath = ()) -> Iterator[tuple[JsonPath, Json]]:
    """Every scalar of ``value`` with its path."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path, value


def object_keys(value: Json, path: JsonPath = ()) -> Iterator[JsonPath]:
    """The path of every object key (the key is the path's last element)."""
    stack: list[tuple[Json, JsonPath]] = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            for key, item in node.items():
                yield (*where, key)
                stack.append((item, (*where, key)))
        elif isinstance(node, list):
            stack.extend((item, (*where, index)) for index, item in enumerate(node))


def rename_keys(root: Json, renames: Mapping[JsonPath, str]) -> Json:
    """``root`` with the object keys at the given paths renamed, deepest first (a rename
    never invalidates the path of one still to come). A new name that clashes with a key
    already there gets `` (2)``, `` (3)``… so no member is ever lost."""
    for path in sorted(renames, key=len, reverse=True):
        parent, old = path[:-1], path[-1]
        node = root
        for step in parent:
            node = node[step]  # type: ignore[index]
        assert isinstance(node, dict) and isinstance(old, str)
        others = set(node) - {old}
        new, suffix = renames[path], 2
        while new in others:
            new, suffix = f"{renames[path]} ({suffix})", suffix + 1
        renamed = {new if k == old else k: v for k, v in node.items()}
        root = replace_leaves(root, {parent: renamed})
    return root


def check_json(data: object, max_depth: int) -> None:
    """Refuse what cannot be sanitized safely: nesting deeper than ``max_depth`` (no
    recursion limit is ever hit) and anything that is not JSON (tuples, bytes, sets,
    objects, non-string keys) — a container the walk would not enter would pass
    unsanitized."""
    stack: list[tuple[object, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
            if not all(isinstance(k, str) for k in value):
                raise InputError("JSON object keys must be strings")
        elif isinstance(value, list):
            children = value
        elif value is None or isinstance(value, str | int | float | bool):
            continue
        else:
            raise InputError(f"cannot sanitize a {type(value).__name__}: expected text or "
                             "JSON (dict, list, str, int, float, bool, None)")
        if depth >= max_depth:
            raise InputError(f"JSON nested deeper than max_json_depth={max_depth}")
        stack.extend((child, depth + 1) for child in children)


def replace_leaves(root: Json, replacements: Mapping[JsonPath, Json]) -> Json:
    """``root`` with the leaves at the given paths replaced, every container on a path
    copied once (linear in the document, however many leaves change)."""
    if () in replacements:
        return replacements[()]
    by_head: dict[str | int, dict[JsonPath, Json]] = {}
    for path, value in replacements.items():
        by_head.setdefault(path[0], {})[path[1:]] = value
    if isinstance(root, dict):
        copy_d = dict(root)
        for head, rest in by_head.items():
            if not isinstance(head, str) or head not in root:
                raise InputError("JSON path does not match the document")
            copy_d[head] = replace_leaves(root[head], rest)
        return copy_d
    if isinstance(root, list):
        copy_l = list(root)
        for head, rest in by_head.items():
            if not isinstance(head, int) or not 0 <= head < len(root):
                raise InputError("JSON path does not match the document")
            copy_l[head] = replace_leaves(root[head], rest)
        return copy_l
    raise InputError("JSON path does not match the document")

