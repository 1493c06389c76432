"""What happens to each finding: entity class × surface × destination → action.

The defaults of DESIGN.md are built in; a policy file (TOML or YAML) overrides them::

    [defaults]                 # by category: secret, financial, government, contact, low_risk
    contact = "tokenize"
    [surfaces.log]             # by surface: categories, or entity names for one entity
    contact = "redact"
    PERSON = "allow"
    [destinations.memory]      # by destination (model, user, tool, memory, log), the same
    secret = "redact"
    [entities]                 # by entity, whatever the surface
    EMAIL_ADDRESS = "mask"
    [allowlist]                # values that are never touched
    values = ["support@example.com"]          # whole values
    patterns = ['''@example\\.com$''']        # RE2, searched in each value
    [placeholder]
    format = "<{entity}_{n}>"                 # brackets, {entity}, one separator, {n}
    neutralize_on = ["tool_result"]           # surfaces whose forged look-alikes are disarmed
    [tools.send_email]         # tool sinks and approval tiers: see sanitizer/tools.py
    tier = 2

YAML takes the same structure. Precedence, most specific first: the entity on this surface,
the entity for this destination, the entity anywhere (``[entities]``), the category on this
surface, the category for this destination, the category default.

Whatever a policy says, a secret is never restored into text a model or a user sees: a
tokenized secret is an opaque handle that only a tool argument the tool policy allows can
resolve (``Sanitizer.restore_detailed`` with an ``allow`` filter). ``hash`` is a keyed
fingerprint (HMAC under a key derived from the master key), never a plain hash.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
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
# placeholder look-alikes in it that the session did not mint are neutralised, so they can
# never be restored.
UNTRUSTED_SURFACES: frozenset[str] = frozenset({"tool_result"})

DEFAULT_ACTIONS: Mapping[str, Action] = {
    "secret": "tokenize",      # an opaque handle; never restored into visible text
    "financial": "tokenize",
    "government": "tokenize",
    "contact": "tokenize",
    "low_risk": "allow",
}
DEFAULT_PLACEHOLDER = "<{entity}_{n}>"
_ENTITY_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")


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
    untrusted_surfaces: frozenset[str] = UNTRUSTED_SURFACES
    _compiled: tuple[Any, ...] | None = field(default=None, init=False, repr=False,
                                               compare=False)

    def action(self, entity: str, category: Category, surface: str = "prompt",
               destination: str = "model") -> Action:
        by_surface = self.surfaces.get(surface, {})
        by_destination = self.destinations.get(destination, {})
        for table, key in ((by_surface, entity), (by_destination, entity),
                           (self.entities, entity), (by_surface, category),
                           (by_destination, category)):
            if key and key in table:
                return table[key]
        return self.defaults.get(category, "redact")

    def needs(self, categories: set[str], surface: str, destination: str = "model",
              entities: Iterable[str] = ()) -> bool:
        """Whether any of these categories, or any of these entities a rule names, is acted
        on (not allowed) on this surface: the engine skips detectors nobody needs."""
        if any(self.action("", cast(Category, c), surface, destination) != "allow"
               for c in categories):
            return True
        named = {*self.entities, *self.surfaces.get(surface, {}),
                 *self.destinations.get(destination, {})}
        return any(e in named and self.action(e, "low_risk", surface, destination) != "allow"
                   for e in entities)

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
        compiled = self._compiled
        if compiled is None:
            import re2

            compiled = tuple(re2.compile(p) for p in self.allow_patterns)
            object.__setattr__(self, "_compiled", compiled)
        return any(p.search(value) for p in compiled)


def _actions(table: Any, where: str, *, categories_only: bool) -> dict[str, Action]:
    """``key = action`` pairs; keys are categories or (unless ``categories_only``) entity
    names in upper case."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    out: dict[str, Action] = {}
    for key, value in table.items():
        entity_ok = not categories_only and isinstance(key, str) and _ENTITY_NAME.fullmatch(key)
        if key not in CATEGORIES and not entity_ok:
            expected = f"one of {list(CATEGORIES)}"
            if not categories_only:
                expected += " or an upper-case entity name such as EMAIL_ADDRESS"
            raise ConfigError(f"{where}: unknown key {key!r} (expected {expected})")
        if not isinstance(value, str) or value not in ACTIONS:
            shown = repr(value) if isinstance(value, str) else f"of type {type(value).__name__}"
            raise ConfigError(f"{where}.{key}: unknown action {shown} (expected one of "
                              f"{list(ACTIONS)})")
        out[key] = value
    return out


def _nested(table: Any, where: str, kind: str, names: tuple[str, ...]
            ) -> dict[str, dict[str, Action]]:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    out = {}
    for name, inner in table.items():
        if name not in names:
            raise ConfigError(f"{where}: unknown {kind} {name!r} (expected one of "
                              f"{list(names)})")
        out[name] = _actions(inner, f"{where}.{name}", categories_only=False)
    return out


def _entities(table: Any, where: str) -> dict[str, Action]:
    actions = _actions(table, where, categories_only=False)
    for key in actions:
        if key in CATEGORIES:
            raise ConfigError(f"{where}: {key!r} is a category; set it under [defaults]")
    return actions


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings")
    return value


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a table")
    return value


def parse_policy(data: Mapping[str, Any], source: str) -> Policy:
    """A :class:`Policy` from parsed TOML/YAML. Every flaw is one :class:`ConfigError` line
    naming the file and the key, never quoting an allowlisted value."""
    known = {"defaults", "surfaces", "destinations", "entities", "allowlist", "placeholder",
             "tools"}
    unknown = {str(k) for k in data} - known
    if unknown:
        raise ConfigError(f"{source}: unknown sections {sorted(unknown)} (expected some of "
                          f"{sorted(known)})")
    defaults: dict[str, Action] = dict(DEFAULT_ACTIONS)
    defaults.update(_actions(data.get("defaults", {}), f"{source}: [defaults]",
                             categories_only=True))
    allow = data.get("allowlist", {})
    if not isinstance(allow, dict) or set(allow) - {"values", "patterns"}:
        raise ConfigError(f"{source}: [allowlist] takes 'values' and 'patterns'")
    values = _strings(allow.get("values", []), f"{source}: [allowlist] values")
    patterns = _strings(allow.get("patterns", []), f"{source}: [allowlist] patterns")
    import re2

    for index, pattern in enumerate(patterns, start=1):
        try:
            re2.compile(pattern)
        except re2.error:
            raise ConfigError(f"{source}: [allowlist] pattern #{index} is not valid RE2 "
                              "syntax") from None
    placeholder_table = data.get("placeholder", {})
    if not isinstance(placeholder_table, dict) or \
            set(placeholder_table) - {"format", "neutralize_on"}:
        raise ConfigError(f"{source}: [placeholder] takes 'format' and 'neutralize_on'")
    placeholder = placeholder_table.get("format", DEFAULT_PLACEHOLDER)
    from .tokens import PlaceholderFormat

    PlaceholderFormat.parse(placeholder, f"{source}: [placeholder]")
    untrusted = _strings(placeholder_table.get("neutralize_on", sorted(UNTRUSTED_SURFACES)),
                         f"{source}: [placeholder] neutralize_on")
    for surface in untrusted:
        if surface not in SURFACES:
            raise ConfigError(f"{source}: [placeholder] neutralize_on: unknown surface "
                              f"{surface!r} (expected some of {list(SURFACES)})")
    return Policy(
        defaults=defaults,
        surfaces=_nested(data.get("surfaces", {}), f"{source}: [surfaces]", "surface",
                         SURFACES),
        destinations=_nested(data.get("destinations", {}), f"{source}: [destinations]",
                             "destination", DESTINATIONS),
        entities=_entities(data.get("entities", {}), f"{source}: [entities]"),
        allow_values=frozenset(values),
        allow_patterns=tuple(patterns),
        placeholder=placeholder,
        tools=parse_tool_policy(_table(data.get("tools", {}), f"{source}: [tools]"), source),
        source=source,
        untrusted_surfaces=frozenset(untrusted),
    )


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
            # tomllib names the line and column, never the text
            reason = str(exc).splitlines()[0] if str(exc) else "syntax error"
            raise ConfigError(f"{source}: invalid TOML ({reason})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a policy must be a table/mapping")
    return parse_policy(data, source)
