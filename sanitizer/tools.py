"""Tool sinks and approval tiers: which real values a tool call may carry.

The model only ever sees placeholders. When it asks for a tool call, the arguments get real
values back only where the tool policy allows the entity in that tool and argument:

- tier 0 read-only, tier 1 internal write: PII (contact, financial, government) is restored
  by default; secrets only where a tool or argument names them explicitly;
- tier 2 external write: the same allowances, but the call needs a confirmation callback
  that sees a preview of the call with the values it would carry;
- tier 3 high-impact: the confirmation must also give a reason, which is audited.

Without a callback, tier 2/3 calls are refused (their arguments keep the placeholders, and
nothing is revealed). A tool the policy does not list is least-privileged: it runs at
``default_tier`` but gets no real value back (``default_allow``, empty unless the policy
says otherwise), so an injected call to an unknown sink (``fetch_url``, ``post_webhook``)
can only carry placeholders. Every decision is audited: the call (``allow``, ``restore``,
``refuse``) and every placeholder the sink policy kept back (``withhold``).

A tool policy is a table in the policy file::

    [tools]
    default_tier = 1                       # tools not listed below…
    default_allow = []                     # …and what they get back (nothing by default)
    tier_allow = { "2" = ["contact"] }     # what each tier restores by default
    [tools.search_crm]
    tier = 0
    [tools.send_email]
    tier = 2
    allow = ["contact"]                    # categories or entity names, all arguments
    [tools.deploy]
    tier = 3
    arguments = { api_key = ["secret"], "headers.authorization" = ["AUTH_TOKEN"] }

An argument is a top-level key of the JSON arguments or a dotted path into them; the most
specific entry wins.
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

TIERS = (0, 1, 2, 3)
DEFAULT_ALLOW: frozenset[str] = frozenset({"contact", "financial", "government"})
DEFAULT_TIER_ALLOW: Mapping[int, frozenset[str]] = {tier: DEFAULT_ALLOW for tier in TIERS}


@dataclass(frozen=True, slots=True)
class ToolRule:
    tier: int = 1
    allow: frozenset[str] | None = None          # None: the tier's default
    arguments: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def allowed(self, path: tuple[str | int, ...], tier_default: frozenset[str]
                ) -> frozenset[str]:
        """What may be restored at ``path`` of the arguments: the most specific argument
        entry (dotted path), else the tool's ``allow``, else the tier's default."""
        keys = [str(p) for p in path]
        for length in range(len(keys), 0, -1):
            dotted = ".".join(keys[:length])
            if dotted in self.arguments:
                return self.arguments[dotted]
        return self.allow if self.allow is not None else tier_default


@dataclass(frozen=True, slots=True)
class ToolPolicy:
    tools: Mapping[str, ToolRule] = field(default_factory=dict)
    default_tier: int = 1
    tier_allow: Mapping[int, frozenset[str]] = field(
        default_factory=lambda: dict(DEFAULT_TIER_ALLOW))
    default_allow: frozenset[str] = frozenset()   # for tools the policy does not list

    def rule(self, tool: str) -> ToolRule:
        return self.tools.get(tool) or ToolRule(tier=self.default_tier,
                                                allow=self.default_allow)

    def allows(self, tool: str, path: tuple[str | int, ...], entity: str,
               category: str) -> bool:
        """Whether a value of ``entity`` (``category``) may be restored into ``tool`` at
        argument ``path``. Secrets never, unless named."""
        rule = self.rule(tool)
        allowed = rule.allowed(path, self.tier_allow.get(rule.tier, DEFAULT_ALLOW))
        return entity in allowed or category in allowed


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
    withheld: int = 0
    refusal: str | None = None   # why it was refused, in our words (never the arguments)


def _entries(value: Any, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of categories or entity names")
    for entry in value:
        if entry.islower() and entry not in CATEGORIES:
            raise ConfigError(f"{where}: unknown category {entry!r} (expected one of "
                              f"{list(CATEGORIES)} or an ENTITY name)")
    return frozenset(value)


def _tier(value: Any, where: str) -> int:
    if isinstance(value, bool) or value not in TIERS:
        raise ConfigError(f"{where} must be 0, 1, 2 or 3")
    return int(value)


def parse_tool_policy(table: Mapping[str, Any], source: str) -> ToolPolicy:
    default_tier = _tier(table.get("default_tier", 1), f"{source}: [tools] default_tier")
    tier_allow: dict[int, frozenset[str]] = dict(DEFAULT_TIER_ALLOW)
    raw_tiers = table.get("tier_allow", {})
    if not isinstance(raw_tiers, Mapping):
        raise ConfigError(f"{source}: [tools] tier_allow must be a table")
    for key, entries in raw_tiers.items():
        tier = _tier(int(key) if str(key).isdigit() else key,
                     f"{source}: [tools] tier_allow key {key!r}")
        tier_allow[tier] = _entries(entries, f"{source}: [tools] tier_allow.{key}")
    default_allow = _entries(table.get("default_allow", []),
                             f"{source}: [tools] default_allow")
    tools: dict[str, ToolRule] = {}
    for name, raw in table.items():
        if name in ("default_tier", "tier_allow", "default_allow"):
            continue
        where = f"{source}: [tools.{name}]"
        if not isinstance(raw, Mapping) or set(raw) - {"tier", "allow", "arguments"}:
            raise ConfigError(f"{where} takes 'tier', 'allow' and 'arguments'")
        tier = _tier(raw.get("tier", default_tier), f"{where} tier")
        arguments = raw.get("arguments", {})
        if not isinstance(arguments, Mapping):
            raise ConfigError(f"{where} arguments must be a table")
        tools[name] = ToolRule(
            tier=tier,
            allow=_entries(raw["allow"], f"{where} allow") if "allow" in raw else None,
            arguments={k: _entries(v, f"{where} arguments.{k}") for k, v in arguments.items()},
        )
    return ToolPolicy(tools, default_tier, tier_allow, default_allow)


def _audit_withheld(sanitizer: Sanitizer, session: str, tool: str, argument: str,
                    entity: str) -> None:
    if sanitizer.audit is None:
        return
    from .audit import AuditEvent

    sanitizer.audit.record(AuditEvent(
        session=session, surface="tool_call_args", entity=entity,
        rule_id=f"tool:{tool}:{argument or '*'}", action="withhold", placeholder=None,
        fingerprint=None, start=0, end=0, detector="tools", tenant=sanitizer.tenant,
        reason="sink-policy"))


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
    from .json_paths import leaves, replace_leaves

    policy = sanitizer.tool_policy
    rule = policy.rule(tool)
    try:
        parsed: Json = json.loads(arguments)
    except (json.JSONDecodeError, TypeError):
        parsed = arguments

    def encoded(value: Json) -> str:
        return value if isinstance(value, str) and isinstance(parsed, str) else \
            json.dumps(value, ensure_ascii=False)

    if rule.tier >= 2 and confirm is None:
        # Nothing to ask: refuse without revealing anything.
        sanitizer.audit_tool_call(session, tool, rule.tier, "refuse", None)
        return ResolvedCall(tool, encoded(parsed), 0, refused=True,
                            refusal=f"a tier {rule.tier} call needs approval and no one "
                                    "was asked")

    restored = withheld = 0

    def restore_leaf(text: str, path: tuple[str | int, ...]) -> str:
        nonlocal restored, withheld
        argument = ".".join(str(p) for p in path)

        def allow(entity: str) -> bool:
            nonlocal withheld
            if policy.allows(tool, path, entity, sanitizer.category_of(entity)):
                return True
            withheld += 1
            _audit_withheld(sanitizer, session, tool, argument, entity)
            return False

        result = sanitizer.restore_detailed(text, session=session, destination="tool",
                                            allow=allow)
        restored += result.restored
        return result.text

    restored_leaves: dict[tuple[str | int, ...], Json] = {}
    for path, value in leaves(parsed):
        if isinstance(value, str):
            new = restore_leaf(value, path)
            if new != value:
                restored_leaves[path] = new
    candidate = replace_leaves(parsed, restored_leaves) if restored_leaves else parsed

    reason: str | None = None
    if rule.tier >= 2:
        assert confirm is not None
        approval = confirm(ToolCallPreview(tool, rule.tier, candidate, rule.tier >= 3))
        if isinstance(approval, bool):
            approval = Approval(approval)
        reason = approval.reason
        refusal = "the approver declined it" if not approval.approved else \
            "a tier 3 call needs a reason with its approval" \
            if rule.tier >= 3 and not (reason or "").strip() else None
        if refusal is not None:
            sanitizer.audit_tool_call(session, tool, rule.tier, "refuse", reason)
            return ResolvedCall(tool, encoded(parsed), 0, refused=True, reason=reason,
                                withheld=withheld, refusal=refusal)
    sanitizer.audit_tool_call(session, tool, rule.tier, "restore" if restored else "allow",
                              reason)
    return ResolvedCall(tool, encoded(candidate), restored, reason=reason, withheld=withheld)
