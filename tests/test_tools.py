"""Tool sinks and approval tiers: which real values a model's tool call may carry, who must
approve it, and that every decision is audited (without values)."""

from __future__ import annotations

import io
import json
import random
from typing import Any

import pytest

from sanitizer.audit import AuditLog, StdoutSink
from sanitizer.engine import Sanitizer
from sanitizer.errors import ConfigError
from sanitizer.examples import expand
from sanitizer.keys import KeyRing
from sanitizer.policy import parse_policy
from sanitizer.tools import Approval, ToolCallPreview, resolve_tool_call

RNG = random.Random("test_tools")
EMAIL = expand("{lower:8}@{lower:6}.com", RNG).text
CARD = expand("{card:visa}", RNG).text
TOKEN = expand("{github_token:ghp}", RNG).text

POLICY = {"tools": {
    "default_tier": 1,
    "tier_allow": {"2": ["contact"]},
    "search": {"tier": 0},
    "billing": {"tier": 1, "arguments": {"auth.token": ["secret"], "card": ["CREDIT_CARD"]}},
    "mail": {"tier": 2},
    "wire": {"tier": 3, "allow": ["financial", "contact"]},
}}


class Harness:
    def __init__(self) -> None:
        keys = KeyRing.ephemeral()
        self.log = io.StringIO()
        self.sanitizer = Sanitizer(ner=False, known_values_from_env=False, keyring=keys,
                                   policy=parse_policy(POLICY, "test-policy"),
                                   audit=AuditLog(keys.audit_key(), [StdoutSink(self.log)]))
        done = self.sanitizer.sanitize(f"{EMAIL} pays with {CARD}, key {TOKEN}",
                                       session="s")
        assert done.result == "<EMAIL_ADDRESS_1> pays with <CREDIT_CARD_1>, key " \
                              "<GITHUB_TOKEN_1>"
        self.mark = len(self.log.getvalue())

    def call(self, tool: str, arguments: Any, **kwargs: Any) -> Any:
        text = arguments if isinstance(arguments, str) else json.dumps(arguments)
        return resolve_tool_call(self.sanitizer, tool, text, session="s", **kwargs)

    def events(self) -> list[dict[str, Any]]:
        new = self.log.getvalue()[self.mark:]
        self.mark = len(self.log.getvalue())
        return [json.loads(line) for line in new.splitlines()]


@pytest.fixture(scope="module")
def harness() -> Harness:
    return Harness()


ALL = {"to": "<EMAIL_ADDRESS_1>", "card": "<CREDIT_CARD_1>", "key": "<GITHUB_TOKEN_1>"}


def test_tier0_gets_pii_never_secrets(harness: Harness) -> None:
    call = harness.call("search", ALL)
    assert not call.refused
    assert json.loads(call.arguments) == {"to": EMAIL, "card": CARD, "key": "<GITHUB_TOKEN_1>"}
    events = harness.events()
    assert [(e["action"], e["entity"]) for e in events if e["action"] == "withhold"] == \
        [("withhold", "GITHUB_TOKEN")]
    assert events[-1]["action"] == "restore" and events[-1]["rule_id"] == "tool:search:tier0"
    assert TOKEN not in json.dumps(events) and EMAIL not in json.dumps(events)


def test_a_secret_reaches_only_the_argument_that_names_it(harness: Harness) -> None:
    call = harness.call("billing", {"auth": {"token": "<GITHUB_TOKEN_1>"},
                                    "note": "<GITHUB_TOKEN_1>", "card": "<CREDIT_CARD_1>",
                                    "to": "<EMAIL_ADDRESS_1>"})
    assert json.loads(call.arguments) == {"auth": {"token": TOKEN}, "note": "<GITHUB_TOKEN_1>",
                                          "card": CARD, "to": EMAIL}
    assert call.restored == 3 and call.withheld == 1


def test_an_unlisted_tool_runs_but_gets_no_real_value_by_default(harness: Harness) -> None:
    other = harness.call("unlisted", "mail <EMAIL_ADDRESS_1> key <GITHUB_TOKEN_1>")
    assert not other.refused
    assert other.arguments == "mail <EMAIL_ADDRESS_1> key <GITHUB_TOKEN_1>"  # text kept


def test_default_allow_opens_unlisted_tools_to_what_it_names() -> None:
    keys = KeyRing.ephemeral()
    policy = parse_policy({"tools": {"default_allow": ["contact"]}}, "open-policy")
    sanitizer = Sanitizer(ner=False, known_values_from_env=False, keyring=keys, policy=policy)
    sanitizer.sanitize(f"{EMAIL} pays with {CARD}, key {TOKEN}", session="o")
    call = resolve_tool_call(sanitizer, "unlisted",
                             "<EMAIL_ADDRESS_1> <CREDIT_CARD_1> <GITHUB_TOKEN_1>", session="o")
    assert call.arguments == f"{EMAIL} <CREDIT_CARD_1> <GITHUB_TOKEN_1>"


def test_tier2_without_a_callback_is_refused_and_reveals_nothing(harness: Harness) -> None:
    harness.events()
    call = harness.call("mail", ALL)
    assert call.refused and "no one was asked" in (call.refusal or "")
    assert json.loads(call.arguments) == ALL
    events = harness.events()
    assert [e["action"] for e in events] == ["refuse"]  # nothing was revealed


def test_tier2_preview_and_tier_allowances(harness: Harness) -> None:
    previews: list[ToolCallPreview] = []

    def confirm(preview: ToolCallPreview) -> bool:
        previews.append(preview)
        return True

    call = harness.call("mail", ALL, confirm=confirm)
    # tier_allow "2" = contact: the card stays a placeholder even with approval.
    assert json.loads(call.arguments) == {"to": EMAIL, "card": "<CREDIT_CARD_1>",
                                          "key": "<GITHUB_TOKEN_1>"}
    (preview,) = previews
    assert preview.arguments == json.loads(call.arguments)  # the values it would carry
    assert preview.tier == 2 and not preview.reason_required

    declined = harness.call("mail", ALL, confirm=lambda _p: Approval(False))
    assert declined.refused and declined.refusal == "the approver declined it"
    assert json.loads(declined.arguments) == ALL


def test_tier3_needs_a_reason_which_is_audited_without_values(harness: Harness) -> None:
    harness.events()
    no_reason = harness.call("wire", ALL, confirm=lambda _p: True)
    assert no_reason.refused and "reason" in (no_reason.refusal or "")
    assert harness.events()[-1]["action"] == "refuse"

    approved = harness.call("wire", ALL, confirm=lambda p: Approval(
        p.reason_required, f"refund agreed with {EMAIL} by phone"))
    assert not approved.refused
    assert json.loads(approved.arguments) == {"to": EMAIL, "card": CARD,
                                              "key": "<GITHUB_TOKEN_1>"}
    last = harness.events()[-1]
    assert last["action"] == "restore" and last["rule_id"] == "tool:wire:tier3"
    assert "refund agreed with" in last["reason"] and EMAIL not in last["reason"]


@pytest.mark.parametrize(("table", "message"), [
    ({"x": {"tier": 4}}, "tier must be 0, 1, 2 or 3"),
    ({"default_tier": True}, "default_tier must be"),
    ({"x": {"allow": ["secrets"]}}, "unknown category 'secrets'"),
    ({"x": {"allow": "contact"}}, "must be a list"),
    ({"x": {"tier": 1, "sink": []}}, "takes 'tier', 'allow' and 'arguments'"),
    ({"tier_allow": {"5": ["contact"]}}, "tier_allow key '5'"),
])
def test_tool_policy_errors_are_one_clear_line(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_policy({"tools": table}, "p.toml")


def test_tool_policy_from_yaml_keys() -> None:
    policy = parse_policy({"tools": {"tier_allow": {3: []}, "t": {"tier": 3},
                                     "u": {"tier": 1}}}, "p.yaml")
    assert not policy.tools.allows("t", ("to",), "EMAIL_ADDRESS", "contact")
    assert policy.tools.allows("u", ("to",), "EMAIL_ADDRESS", "contact")
    assert not policy.tools.allows("u", ("to",), "API_KEY", "secret")
    assert not policy.tools.allows("other", ("to",), "EMAIL_ADDRESS", "contact")


def test_the_proxy_example_policy_loads() -> None:
    from pathlib import Path

    from sanitizer.policy import load_policy

    path = Path(__file__).resolve().parent.parent / "examples" / "litellm-proxy" / "policy.toml"
    policy = load_policy(path)
    assert policy.tools.rule("deploy").tier == 3
    assert policy.tools.allows("deploy", ("api_key",), "API_KEY", "secret")
    assert not policy.tools.allows("search_crm", ("q",), "API_KEY", "secret")
