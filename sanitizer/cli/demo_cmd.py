"""``sanitizer demo``: a scripted agent run through the sanitizer, on embedded defaults.

A stub model on 127.0.0.1 (no API key, no network) plays the model; the demo prints, turn by
turn, what the user wrote, what the model saw, what the user got back, what the tools
received, and the audit trail. ``--samples`` shows the detector on sample traffic instead;
``--model NAME`` talks to a real provider through litellm when its key is in the environment.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..examples import expand
from ..findings import findings_to_dicts
from .common import add_engine_options, make_sanitizer

if TYPE_CHECKING:
    from ..stub_model import Reply

# Agent traffic as it really flows. Values come from seeded generators: nothing real.
SAMPLES: tuple[tuple[str, str], ...] = (
    ("user prompt",
     "Hi, I'm Maria Gonzalez. Please deploy with my key OPENAI_API_KEY=sk-proj-{alnum:48}"
     "T3BlbkFJ{alnum:20} and email the report to maria.gonzalez@example.org or call "
     "+1 415-555-{digits:4}."),
    ("tool result (CRM lookup)",
     '{{"customer": {{"name": "John Smith", "email": "j.smith@acme-mail.com", '
     '"phone": "+44 20 7946 0{digits:3}", "card": "{card:visa}", '
     '"address": "1600 Pennsylvania Avenue NW, Washington, DC 20500"}}, '
     '"order_id": "ORD-{digits:6}", "created_at": "2026-11-25T08:15:00Z"}}'),
    ("tool call arguments",
     '{{"tool": "run_sql", "dsn": "postgresql://app:{alnum:16}@db.internal:5432/prod", '
     '"query": "select * from invoices where iban = \'{iban:DE}\'"}}'),
    ("log line",
     "2026-11-25 08:15:02 INFO request id=7f9c2ba4-e88f-11ee-a1b2-0242ac120002 "
     "Authorization: Bearer {github_token:ghp} status=200 "
     "sha=9fceb02d0ae598e95dc970b74767f19372d61af8"),
    ("memory note",
     "User prefers short answers. AWS creds for staging: AKIA{upnum:16} / "
     "{base64:40}. SSN on file: {ssn} (do not share)."),
)

_PLACEHOLDER = re.compile(r"<([A-Z][A-Z_]*?)_(\d+)>")
_STUB_MODEL = "openai/stub"


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "demo", help="run a scripted agent conversation through the sanitizer",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", action="store_true",
                        help="show sample agent traffic before and after instead")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--model", metavar="NAME",
                        help="a real litellm model name, e.g. openai/gpt-4o-mini (needs its "
                             "provider key in the environment); default: a local stub model "
                             "on 127.0.0.1")
    add_engine_options(parser)
    parser.set_defaults(handler=run)


def _generate(template: str, rng: random.Random) -> str:
    return expand(template, rng).text.replace("{{", "{").replace("}}", "}")


def run(args: argparse.Namespace) -> int:
    if args.samples:
        return _samples(args)
    return _agent(args)


def _samples(args: argparse.Namespace) -> int:
    sanitizer = make_sanitizer(args)
    rng = random.Random("context-sanitizer demo")
    samples = [(label, _generate(t, rng)) for label, t in SAMPLES]
    rows: list[dict[str, Any]] = []
    for label, text in samples:
        done = sanitizer.sanitize(text, session="demo")
        acted = findings_to_dicts([d.finding for d in done.decisions if d.action != "allow"])
        kept = findings_to_dicts([d.finding for d in done.decisions if d.action == "allow"])
        rows.append({"surface": label, "before": text, "after": done.result,
                     "findings": acted, "allowed": kept})
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    for row in rows:
        print(f"── {row['surface']} " + "─" * max(0, 60 - len(row["surface"])))
        print(f"  before: {row['before']}")
        print(f"  after:  {row['after']}")
        entities = ", ".join(f"{f['entity']}({f['rule_id']})" for f in row["findings"])
        print(f"  found:  {entities or 'nothing'}")
        if row["allowed"]:
            low = ", ".join(f"{f['entity']}({f['rule_id']})" for f in row["allowed"])
            print(f"  kept:   {low} (low risk: allowed by the policy)")
        print()
    return 0


# -- the scripted agent run -------------------------------------------------------------

TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {
        "name": "lookup_customer", "description": "Read a customer record (read-only).",
        "parameters": {"type": "object", "properties": {"customer_id": {"type": "string"}},
                       "required": ["customer_id"]}}},
    {"type": "function", "function": {
        "name": "create_invoice", "description": "Create an invoice in the billing system.",
        "parameters": {"type": "object", "properties": {
            "customer": {"type": "string"}, "card": {"type": "string"},
            "amount_eur": {"type": "number"}, "api_token": {"type": "string"}},
            "required": ["customer", "card", "amount_eur", "api_token"]}}},
    {"type": "function", "function": {
        "name": "send_email", "description": "Send an e-mail to an external address.",
        "parameters": {"type": "object", "properties": {
            "to": {"type": "string"}, "cc": {"type": "string"},
            "subject": {"type": "string"}, "body": {"type": "string"}},
            "required": ["to", "subject", "body"]}}},
    {"type": "function", "function": {
        "name": "export_customers", "description": "Export the whole customer table.",
        "parameters": {"type": "object", "properties": {"destination": {"type": "string"}},
                       "required": ["destination"]}}},
]
SYSTEM = ("You are a billing assistant. Use the tools. Billing API token (pass it as "
          "api_token): {key}")


def _tool_policy() -> Any:
    from ..tools import ToolPolicy, ToolRule

    return ToolPolicy({
        "lookup_customer": ToolRule(tier=0),                          # read-only
        "create_invoice": ToolRule(tier=1, arguments={"api_token": frozenset({"secret"})}),
        "send_email": ToolRule(tier=2, allow=frozenset({"contact"})),  # external write
        "export_customers": ToolRule(tier=3),                         # high impact
    })


def _found(entity: str, *texts: Any) -> list[str]:
    joined = " ".join(t if isinstance(t, str) else json.dumps(t) for t in texts)
    return [m.group(0) for m in _PLACEHOLDER.finditer(joined) if m.group(1) == entity]


def _script(request: dict[str, Any]) -> Reply:
    """The stub model's part: it only ever sees placeholders, and uses them as a model
    would — in tool calls and in its answers."""
    from ..stub_model import Reply

    messages = request.get("messages") or []
    system = next((m.get("content") for m in messages if m.get("role") == "system"), "")
    user = next((m.get("content") for m in messages if m.get("role") == "user"), "")
    results = [m.get("content") for m in messages if m.get("role") == "tool"]
    customer = results[0] if results else ""
    person = (_found("PERSON", customer) or ["the customer"])[0]
    their = (_found("EMAIL_ADDRESS", customer) or [""])[0]
    mine = (_found("EMAIL_ADDRESS", user) or [""])[0]
    token = (_found("GITHUB_TOKEN", system) or [""])[0]
    if len(results) == 0:
        return Reply(text="Let me look up customer 4411.",
                     tool_calls=(("lookup_customer", {"customer_id": "4411"}),))
    if len(results) == 1:
        card = (_found("CREDIT_CARD", customer) or [""])[0]
        return Reply(text=f"Found {person} ({their}). Creating the invoice.",
                     tool_calls=(("create_invoice", {"customer": person, "card": card,
                                                     "amount_eur": 120.0,
                                                     "api_token": token}),))
    if len(results) == 2:
        return Reply(text=f"Invoice created. Mailing it to {their}, cc {mine}.",
                     tool_calls=(("send_email", {"to": their, "cc": mine,
                                                 "subject": "Your invoice INV-2026-0042",
                                                 "body": f"Dear {person}, please find your "
                                                         "invoice attached."}),
                                 ("export_customers", {"destination": "s3://backup"})))
    return Reply(text=f"Done: invoice INV-2026-0042 went to {person} at {their} (cc {mine}). "
                      f"For the record, I authenticated with {token}.")


class _Printer:
    def __init__(self, quiet: bool, secrets: list[str]) -> None:
        self.quiet = quiet
        self.secrets = secrets

    def __call__(self, text: str = "", end: str = "\n") -> None:
        if not self.quiet:
            for value in self.secrets:  # a real secret is shown shortened, even in a demo
                text = text.replace(value, f"{value[:8]}…[real value]")
            print(text, end=end, flush=True)


def _show(message: dict[str, Any]) -> str:
    content = message.get("content")
    text = content if isinstance(content, str) or content is None else \
        json.dumps(content, ensure_ascii=False)
    calls = [f"{c['function']['name']}({c['function']['arguments']})"
             for c in message.get("tool_calls") or []]
    return " ".join(filter(None, [text, *calls])) or "—"


def _agent(args: argparse.Namespace) -> int:
    import litellm

    from ..adapters.litellm_sdk import SanitizedSession
    from ..audit import AuditLog, FileSink, verify_log
    from ..engine import Sanitizer
    from ..errors import InputError, SanitizerError
    from ..keys import KeyRing
    from ..messages import sanitize_messages
    from ..policy import Policy
    from ..stub_model import StubModel
    from ..tools import Approval, ToolCallPreview

    litellm.suppress_debug_info = True  # this process only: the demo prints its own errors
    rng = random.Random("context-sanitizer agent demo")
    key = _generate("{github_token:ghp}", rng)
    user_email = "maria.gonzalez@example.org"
    customer = {"id": "4411", "name": "John Smith",
                "email": _generate("j.smith{digits:2}@acme-mail.com", rng),
                "phone": "+44 20 7946 0" + _generate("{digits:3}", rng),
                "card": _generate("{card:visa}", rng), "tier": "gold"}
    planted = [key, user_email, customer["email"], customer["card"], customer["phone"]]
    planted += [user_email.split("@")[1], customer["email"].split("@")[1]]  # no partial leak
    say = _Printer(args.json, [key])
    keys = KeyRing.ephemeral()
    audit_path = Path(tempfile.mkdtemp(prefix="sanitizer-demo-")) / "audit.jsonl"
    base = make_sanitizer(args)
    sanitizer = Sanitizer(base.settings, keyring=keys, policy=Policy(tools=_tool_policy()),
                          audit=AuditLog(keys.audit_key(), [FileSink(audit_path)]))
    out: dict[str, Any] = {"turns": [], "approvals": [], "tools": []}
    asked: list[str] = []

    def approve(preview: ToolCallPreview) -> Approval:
        """The human in the loop: yes to the e-mail, no to the bulk export."""
        yes = preview.tool == "send_email"
        out["approvals"].append({"tool": preview.tool, "tier": preview.tier, "approved": yes})
        asked.append(f"  ✋ approval  tier {preview.tier} {preview.tool}("
                     f"{json.dumps(preview.arguments, ensure_ascii=False)}) → "
                     + ("approved: 'customer asked for it'" if yes else "declined"))
        return Approval(yes, "customer asked for it" if yes else None)

    tools: dict[str, Callable[[dict[str, Any]], Any]] = {
        "lookup_customer": lambda a: customer,
        "create_invoice": lambda a: {"invoice": "INV-2026-0042", "status": "created",
                                     "authenticated": a.get("api_token") == key},
        "send_email": lambda a: {"status": "sent", "to": a.get("to")},
        "export_customers": lambda a: {"status": "exported"},
    }
    chat = SanitizedSession(sanitizer, "demo-conversation", confirm=approve)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM.format(key=key)},
        {"role": "user", "content": f"Hi, I'm Maria Gonzalez ({user_email}). Please bill "
                                    "customer 4411 for the gold plan and mail them the "
                                    "invoice, cc me."},
    ]
    sent_all: list[Any] = []
    with StubModel(script=_script) as stub:
        extra = {} if args.model else {"api_base": stub.base_url, "api_key": "sk-stub-local"}
        seen = 0
        for turn in range(1, 6):
            say(f"\n━━ turn {turn} " + "━" * 62)
            for message in messages[seen:]:
                say(f"  {message['role']:<9} real : {_show(message)}")
            asked.clear()
            try:
                stream = chat.completion(model=args.model or _STUB_MODEL, messages=messages,
                                         tools=TOOLS, stream=True, **extra)
            except SanitizerError:
                raise
            except Exception as exc:  # the provider's message may quote the request or key
                raise InputError(f"the model call failed ({type(exc).__name__})"
                                 + ("; is the provider's API key in the environment?"
                                    if args.model else "")) from None
            # Exactly what went out (cache hits: nothing is sanitized or audited twice).
            sent = sanitize_messages(sanitizer, messages, chat.id, chat.cache)
            sent_all.append(sent)
            for message in sent[seen:]:
                say(f"  model saw {message['role']:<9}: {_show(message)}")
            if not args.model:
                reply = stub.replies[-1]
                said = [getattr(reply, "text", "") or ""]
                said += [f"{n}({json.dumps(a)})" for n, a in getattr(reply, "tool_calls", ())]
                say(f"  model said     : {' '.join(said)}")
            seen = len(messages)
            say("  user got back  : ", end="")
            text = ""
            calls: list[Any] = []
            for chunk in stream:  # streamed: placeholders restored as they arrive
                delta = chunk.choices[0].delta if chunk.choices else None
                if delta is not None and delta.content:
                    text += delta.content
                    say(delta.content, end="")
                calls += (delta.tool_calls or []) if delta is not None else []
            say()
            for line in asked:
                say(line)
            out["turns"].append({"reply": text})
            assistant: dict[str, Any] = {"role": "assistant", "content": text or None}
            if calls:
                assistant["tool_calls"] = [
                    {"id": c.id, "type": "function",
                     "function": {"name": c.function.name, "arguments": c.function.arguments}}
                    for c in calls]
            messages.append(assistant)
            for call in calls:
                arguments = json.loads(call.function.arguments or "{}")
                tool = tools.get(call.function.name)
                result = tool(arguments) if tool is not None else {"error": "unknown tool"}
                say(f"  tool received  : {call.function.name}("
                    f"{json.dumps(arguments, ensure_ascii=False)})")
                out["tools"].append({"tool": call.function.name, "arguments": arguments})
                messages.append({"role": "tool", "tool_call_id": call.id,
                                 "content": json.dumps(result, ensure_ascii=False)})
            if not calls:
                break
        wire = json.dumps(stub.requests if not args.model else sent_all)
        leaked = [value for value in planted if value in wire]
        requests = len(sent_all)
    replies = " ".join(t["reply"] for t in out["turns"])
    events = [json.loads(line) for line in audit_path.read_text(encoding="utf-8").splitlines()]
    check = verify_log(audit_path, keys.audit_keys())
    say("\n━━ audit trail (no values, keyed fingerprints only) " + "━" * 20)
    for event in events:
        say(f"  #{event['seq']:<3} {event['surface']:<14} {event['action']:<9} "
            f"{event['entity']:<15} {event.get('placeholder') or '':<19} {event['rule_id']}"
            + (f"  reason={event['reason']!r}" if event.get("reason") else ""))
    say(f"  chain: {'intact' if check.ok else 'BROKEN: ' + str(check.reason)} "
        f"({check.records} records) — {audit_path}")
    secret_back = key in replies
    say(f"\nplanted values that reached the model: {len(leaked)} of {len(planted)}; "
        f"secret in what the user got back: {'YES' if secret_back else 'no'}")
    out.update({"audit_events": len(events), "audit_ok": check.ok, "leaked": len(leaked),
                "secret_returned": secret_back, "model_requests": requests,
                "audit_actions": sorted({e["action"] for e in events})})
    if args.json:
        dumped = json.dumps(out, ensure_ascii=False)
        sys.stdout.write(dumped.replace(key, f"{key[:8]}…[real value]") + "\n")
    return 0 if not leaked and not secret_back and check.ok else 1
