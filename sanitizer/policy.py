"""What happens to each finding: entity class × surface × destination → action.

The defaults of DESIGN.md are built in; a policy file (TOML or YAML) overrides them::

    [defaults]                 # by category: secret, financial, government, contact, low_risk
    contact = "tokenize"
    [surfaces.log]             # by surface, then category
    contact = "redact"
    [destinations.memory]      # by destination, then category
    secret = "redact"
    [entities]                 # by entity, whatever the surface
    EMAIL_ADDRESS = "mask"
    [allowlist]                # values that are never touched
    values = ["support@example.com"]
    patterns = ['''@example\\.com$''']
    [placeholder]
    format = "<{entity}_{n}>"
    [tools.send_email]         # tool sinks and approval tiers: see sanitizer/tools.py
    tier = 2

Precedence: entity, then surface, then destination, then the category default.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast, get_args

from .errors import ConfigError
from .findings import CATEGORIES, Category
from .tools import ToolPolicy, parse_tool_policy

Action = Literal["allow", "mask", "redact", "hash", "tokenize", "block"]
Surface = Literal["system", "prompt", "tool_call_args", "tool_result", "memory_write", "log"]
Destination = Literal["model", "user", "tool", "memory", "log"]

ACTIONS: tuple[Action, ...] = get_args(Action)
SURFACES: tuple[Surface, ...] = get_args(Surface)
DESTINATIONS: tuple[Destination, ...] = get_args(Destination)
# Text from these surfaces comes from outside the conversation (web pages, e-mails, files):
# placeholder look-alikes in it are neutralised so they can never be restored.
UNTRUSTED_SURFACES: frozenset[str] = frozenset({"tool_result"})

DEFAULT_ACTIONS: Mapping[str, Action] = {
    "secret": "tokenize",      # an opaque handle; never restored into visible text
    "financial": "tokenize",
    "government": "tokenize",
    "contact": "tokenize",
    "low_risk": "allow",
}
DEFAULT_PLACEHOLDER = "<{entity}_{n}>"


@dataclass(frozen=True, slots=True)
class Policy:
    defaults: Mapping[str, Action] = field(default_factory=lambda: dict(DEFAULT_ACTIONS))
    surfaces: Mapping[str, Mapping[str, Action]] = field(default_factory=dict)
    destinations: Mapping[str, Mapping[str, Action]] = field(default_factory=dict)
    entities: Mapping[str, Action] = field(default_factory=dict)
    allow_values: frozenset[str] = frozenset()
    allow_patterns: tuple[str, ...] = ()
    placeholder: str = DEFAULT_PLACEHOLDER
    tools: ToolPolicy = field(default_factory=ToolPolicy)
    source: str = "<built-in>"

    def action(self, entity: str, category: Category, surface: str = "prompt",
               destination: str = "model") -> Action:
        if entity in self.entities:
            return self.entities[entity]
        by_surface = self.surfaces.get(surface, {})
        if category in by_surface:
            return by_surface[category]
        by_destination = self.destinations.get(destination, {})
        if category in by_destination:
            return by_destination[category]
        return self.defaults.get(category, "redact")

    def needs(self, categories: set[str], surface: str, destination: str = "model") -> bool:
        """Whether any of these categories is acted on (not allowed) on this surface."""
        return any(self.action("", cast(Category, c), surface, destination) != "allow"
                   for c in categories)

    def without_tokens(self) -> Policy:
        """The same policy with ``tokenize`` turned into ``redact``: for runs without a
        vault, where a placeholder could never be restored."""
        def swap(table: Mapping[str, Action]) -> dict[str, Action]:
            return {k: ("redact" if v == "tokenize" else v) for k, v in table.items()}

        return replace(
            self,
            defaults=swap(self.defaults),
            surfaces={k: swap(v) for k, v in self.surfaces.items()},
            destinations={k: swap(v) for k, v in self.destinations.items()},
            entities=swap(self.entities),
        )

    def allows_value(self, value: str) -> bool:
        if value in self.allow_values:
            return True
        if not self.allow_patterns:
            return False
        import re2

        return any(re2.search(p, value) for p in self.allow_patterns)


def _actions(table: Any, where: str, keys: tuple[str, ...] | None) -> dict[str, Action]:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    out: dict[str, Action] = {}
    for key, value in table.items():
        if keys is not None and key not in keys:
            raise ConfigError(f"{where}: unknown key {key!r} (expected one of {list(keys)})")
        if value not in ACTIONS:
            raise ConfigError(f"{where}.{key}: unknown action {value!r} (expected one of "
                              f"{list(ACTIONS)})")
        out[key] = value
    return out


def _nested(table: Any, where: str, names: tuple[str, ...]) -> dict[str, dict[str, Action]]:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    out = {}
    for name, inner in table.items():
        if name not in names:
            raise ConfigError(f"{where}: unknown {where.strip('[]')} {name!r} (expected one of "
                              f"{list(names)})")
        out[name] = _actions(inner, f"{where}.{name}", CATEGORIES)
    return out


def parse_policy(data: Mapping[str, Any], source: str) -> Policy:
    known = {"defaults", "surfaces", "destinations", "entities", "allowlist", "placeholder",
             "tools"}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{source}: unknown sections {sorted(unknown)}")
    defaults: dict[str, Action] = dict(DEFAULT_ACTIONS)
    defaults.update(_actions(data.get("defaults", {}), f"{source}: [defaults]", CATEGORIES))
    allow = data.get("allowlist", {})
    if not isinstance(allow, dict) or set(allow) - {"values", "patterns"}:
        raise ConfigError(f"{source}: [allowlist] takes 'values' and 'patterns'")
    values, patterns = allow.get("values", []), allow.get("patterns", [])
    for name, items in (("values", values), ("patterns", patterns)):
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            raise ConfigError(f"{source}: [allowlist] {name} must be a list of strings")
    import re2

    for pattern in patterns:
        try:
            re2.compile(pattern)
        except re2.error:
            raise ConfigError(f"{source}: [allowlist] pattern #{patterns.index(pattern) + 1} "
                              "is not valid RE2 syntax") from None
    placeholder_table = data.get("placeholder", {})
    if not isinstance(placeholder_table, dict) or set(placeholder_table) - {"format"}:
        raise ConfigError(f"{source}: [placeholder] takes only 'format'")
    placeholder = placeholder_table.get("format", DEFAULT_PLACEHOLDER)
    from .tokens import PlaceholderFormat

    PlaceholderFormat.parse(placeholder, source)
    return Policy(
        defaults=defaults,
        surfaces=_nested(data.get("surfaces", {}), f"{source}: [surfaces]", SURFACES),
        destinations=_nested(data.get("destinations", {}), f"{source}: [destinations]",
                             DESTINATIONS),
        entities=_actions(data.get("entities", {}), f"{source}: [entities]", None),
        allow_values=frozenset(values),
        allow_patterns=tuple(patterns),
        placeholder=placeholder,
        tools=parse_tool_policy(_table(data.get("tools", {}), f"{source}: [tools]"), source),
        source=source,
    )


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a table")
    return value


def load_policy(path: str | Path) -> Policy:
    """Read a TOML (``.toml``) or YAML (``.yaml``/``.yml``) policy; any flaw is one clear
    ConfigError, so a broken policy fails closed."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{source}: policy file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot read policy ({type(exc).__name__})") from None
    if source.endswith((".yaml", ".yml")):
        import yaml

        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{source}: invalid YAML{where}") from None
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: invalid TOML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a policy must be a table/mapping")
    return parse_policy(data, source)
