"""Tool sinks and approval tiers: which real values a tool call may carry.

The model only ever sees placeholders. When it asks for a tool call, the arguments get real
values back only where the tool policy allows the entity in that tool and argument:

- tier 0 read-only, tier 1 internal write: PII may be restored (by default), secrets only
  where a tool/argument explicitly allows them;
- tier 2 external write: additionally needs a confirmation callback that sees a preview of
  the call with the values it would carry;
- tier 3 high-impact: the confirmation must also give a reason, which is audited.

Without a callback, tier 2/3 calls are refused (their arguments keep the placeholders).
A tool policy is a table in the policy file::

    [tools]
    default_tier = 1
    [tools.search_crm]
    tier = 0
    [tools.send_email]
    tier = 2
    allow = ["contact"]                    # categories or entity names, all arguments
    [tools.deploy]
    tier = 3
    arguments = { api_key = ["secret"] }   # per argument
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .findings import CATEGORIES

if TYPE_CHECKING:
    from .engine import Json, Sanitizer

DEFAULT_ALLOW: frozenset[str] = frozenset({"contact", "financial", "government"})


@dataclass(frozen=True, slots=True)
class ToolRule:
    tier: int = 1
    allow: frozenset[str] | None = None          # None: the tier's default
    arguments: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def allows(self, argument: str | None, entity: str, category: str) -> bool:
        if argument is not None and argument in self.arguments:
            allowed = self.arguments[argument]
        elif self.allow is not None:
            allowed = self.allow
        else:
            allowed = DEFAULT_ALLOW  # never secrets unless named
        return entity in allowed or category in allowed


@dataclass(frozen=True, slots=True)
class ToolPolicy:
    tools: Mapping[str, ToolRule] = field(default_factory=dict)
    default_tier: int = 1

    def rule(self, tool: str) -> ToolRule:
        return self.tools.get(tool) or ToolRule(tier=self.default_tier)


@dataclass(frozen=True, slots=True)
class ToolCallPreview:
    """What a tier 2/3 call would do, with the real values it would carry. Handed only to
    the confirmation callback — never logged."""

    tool: str
    tier: int
    arguments: Json
    reason_required: bool


@dataclass(frozen=True, slots=True)
class Approval:
    approved: bool
    reason: str | None = None


Confirm = Callable[[ToolCallPreview], "Approval | bool"]


@dataclass(frozen=True, slots=True)
class ResolvedCall:
    """Arguments to hand the tool; ``refused`` when approval was needed and not given."""

    tool: str
    arguments: str
    restored: int
    refused: bool = False
    reason: str | None = None


def _entries(value: Any, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of categories or entity names")
    return frozenset(value)


def parse_tool_policy(table: Mapping[str, Any], source: str) -> ToolPolicy:
    default_tier = table.get("default_tier", 1)
    if default_tier not in (0, 1, 2, 3):
        raise ConfigError(f"{source}: [tools] default_tier must be 0, 1, 2 or 3")
    tools: dict[str, ToolRule] = {}
    for name, raw in table.items():
        if name == "default_tier":
            continue
        where = f"{source}: [tools.{name}]"
        if not isinstance(raw, Mapping) or set(raw) - {"tier", "allow", "arguments"}:
            raise ConfigError(f"{where} takes 'tier', 'allow' and 'arguments'")
        tier = raw.get("tier", default_tier)
        if tier not in (0, 1, 2, 3):
            raise ConfigError(f"{where} tier must be 0, 1, 2 or 3")
        arguments = raw.get("arguments", {})
        if not isinstance(arguments, Mapping):
            raise ConfigError(f"{where} arguments must be a table")
        tools[name] = ToolRule(
            tier=tier,
            allow=_entries(raw["allow"], f"{where} allow") if "allow" in raw else None,
            arguments={k: _entries(v, f"{where} arguments.{k}") for k, v in arguments.items()},
        )
    for rule in tools.values():
        for allowed in (rule.allow or frozenset(), *rule.arguments.values()):
            for entry in allowed:
                if entry.islower() and entry not in CATEGORIES:
                    raise ConfigError(f"{source}: [tools] unknown category {entry!r}")
    return ToolPolicy(tools, default_tier)


def resolve_tool_call(
    sanitizer: Sanitizer,
    tool: str,
    arguments: str,
    *,
    session: str,
    confirm: Confirm | None = None,
) -> ResolvedCall:
    """Restore the placeholders of a model's tool call where the tool policy allows them,
    asking ``confirm`` for tier 2/3 calls; every decision is audited."""
    from .engine import _leaves, _set_leaf

    rule = sanitizer.tool_policy.rule(tool)
    try:
        parsed: Json = json.loads(arguments)
    except (json.JSONDecodeError, TypeError):
        parsed = arguments
    restored = 0

    def restore_leaf(text: str, argument: str | None) -> str:
        nonlocal restored

        def allow(entity: str) -> bool:
            return rule.allows(argument, entity, sanitizer.category_of(entity))

        result = sanitizer.restore_detailed(text, session=session, destination="tool",
                                            allow=allow)
        restored += result.restored
        return result.text

    if isinstance(parsed, str):
        candidate: Json = restore_leaf(parsed, None)
    else:
        candidate = parsed
        for path, value in _leaves(parsed):
            if isinstance(value, str):
                argument = str(path[0]) if path else None
                new = restore_leaf(value, argument)
                if new != value:
                    candidate = _set_leaf(candidate, path, new)

    def encoded(value: Json) -> str:
        return value if isinstance(value, str) and isinstance(parsed, str) else \
            json.dumps(value, ensure_ascii=False)

    reason: str | None = None
    if rule.tier >= 2:
        approval: Approval | bool = False
        if confirm is not None:
            approval = confirm(ToolCallPreview(tool, rule.tier, candidate, rule.tier >= 3))
        if isinstance(approval, bool):
            approval = Approval(approval)
        reason = approval.reason
        if not approval.approved or (rule.tier >= 3 and not (reason or "").strip()):
            sanitizer.audit_tool_call(session, tool, rule.tier, "refuse", reason)
            return ResolvedCall(tool, encoded(parsed), 0, refused=True, reason=reason)
    sanitizer.audit_tool_call(session, tool, rule.tier, "restore" if restored else "allow",
                              reason)
    return ResolvedCall(tool, encoded(candidate), restored, reason=reason)
