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
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..examples import expand
from .common import add_engine_options, make_sanitizer

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
     "Authorization: Bearer ghp_{alnum:36} status=200 "
     "sha=9fceb02d0ae598e95dc970b74767f19372d61af8"),
    ("memory note",
     "User prefers short answers. AWS creds for staging: AKIA{upnum:16} / "
     "{base64:40}. SSN on file: {ssn} (do not share)."),
)

_PLACEHOLDER = re.compile(r"<([A-Z][A-Z_]*?)_(\d+)>")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "demo", help="run a scripted agent conversation through the sanitizer",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", action="store_true",
                        help="show sample agent traffic before and after instead")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--model", metavar="NAME",
                        help="a real litellm model name (needs its provider key in the "
                             "environment); default: the local stub")
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
        rows.append({"surface": label, "before": text, "after": done.result,
                     "findings": [f.to_dict() for f in done.findings]})
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    for row in rows:
        print(f"── {row['surface']} " + "─" * max(0, 60 - len(row["surface"])))
        print(f"  before: {row['before']}")
        print(f"  after:  {row['after']}")
        entities = ", ".join(f"{f['entity']}({f['rule_id']})" for f in row["findings"])
        print(f"  found:  {entities or 'nothing'}\n")
    return 0


def _script(request: dict[str, Any]) -> Any:
    """The stub model's part: it only ever sees placeholders and uses them as a model would."""
    from ..stub_model import Reply

    messages = request.get("messages") or []
    last = messages[-1] if messages else {}
    seen = " ".join(str(m.get("content") or "") for m in messages)
    emails = [m.group(0) for m in _PLACEHOLDER.finditer(seen)
              if m.group(1) == "EMAIL_ADDRESS"]
    if last.get("role") == "user" and emails:
        return Reply(text="Let me look that customer up.",
                     tool_calls=(("lookup_customer", {"email": emails[0]}),))
    if last.get("role") == "tool" and "send_email" not in json.dumps(messages):
        found = [m.group(0) for m in _PLACEHOLDER.finditer(str(last.get("content")))]
        person = next((p for p in found if p.startswith("<PERSON")), "the customer")
        to = next((p for p in found if p.startswith("<EMAIL")), emails[0] if emails else "")
        return Reply(text=f"Found {person}. Sending the invoice to {to}.",
                     tool_calls=(("send_email", {"to": to, "subject": "Your invoice"}),))
    return Reply(text="Done: the invoice went out. Anything else?")


def _agent(args: argparse.Namespace) -> int:
    from ..adapters.litellm_sdk import SanitizedSession
    from ..audit import AuditLog, FileSink, verify_log
    from ..keys import KeyRing
    from ..policy import Policy
    from ..stub_model import StubModel
    from ..tools import Approval, ToolCallPreview, ToolPolicy, ToolRule

    rng = random.Random("context-sanitizer agent demo")
    key = _generate("ghp_{alnum:36}", rng)
    user_email = "maria.gonzalez@example.org"
    customer = {"name": "John Smith", "email": _generate("j.smith{digits:2}@acme-mail.com", rng),
                "phone": "+44 20 7946 0" + _generate("{digits:3}", rng),
                "card": _generate("{card:visa}", rng), "tier": "gold"}
    keys = KeyRing.ephemeral()
    workdir = Path(tempfile.mkdtemp(prefix="sanitizer-demo-"))
    audit_path = workdir / "audit.jsonl"
    policy = Policy(tools=ToolPolicy({"lookup_customer": ToolRule(tier=0),
                                      "send_email": ToolRule(tier=2)}))
    base = make_sanitizer(args)
    from ..engine import Sanitizer

    sanitizer = Sanitizer(base.settings, keyring=keys, policy=policy,
                          audit=AuditLog(keys.audit_key(), [FileSink(audit_path)]))
    out: dict[str, Any] = {"turns": []}

    def approve(preview: ToolCallPreview) -> Approval:
        out.setdefault("approvals", []).append({"tool": preview.tool, "tier": preview.tier})
        print(f"  ✋ approval asked for tier {preview.tier} call {preview.tool}("
              f"{json.dumps(preview.arguments, ensure_ascii=False)}) → approved")
        return Approval(True, "demo user approved")

    chat = SanitizedSession(sanitizer, "demo-conversation", confirm=approve)
    tools: dict[str, Callable[[dict[str, Any]], Any]] = {
             "lookup_customer": lambda a: customer,
             "send_email": lambda a: {"status": "sent", "to": a.get("to")}}
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": f"You are a billing assistant. Internal API token: {key}"},
        {"role": "user", "content": f"Hi, I'm Maria Gonzalez ({user_email}). Please send the "
                                    "customer j.smith their invoice."},
    ]
    with StubModel(script=_script) as stub:
        model = args.model or "openai/stub"
        extra = {} if args.model else {"api_base": stub.base_url, "api_key": "sk-stub-local"}
        for turn in range(1, 5):
            print(f"\n━━ turn {turn} " + "━" * 60)
            print(f"  {messages[-1]['role']:>9} (real) : {_show(messages[-1])}")
            response = chat.completion(model=model, messages=messages, **extra)
            if stub.requests and not args.model:
                print(f"  model saw      : {_show(stub.requests[-1]['messages'][-1])}")
            message = response.choices[0].message
            print(f"  user got back  : {message.content}")
            record: dict[str, Any] = {"reply": message.content, "tools": []}
            assistant: dict[str, Any] = {"role": "assistant", "content": message.content}
            calls = message.tool_calls or []
            if calls:
                assistant["tool_calls"] = [
                    {"id": c.id, "type": "function",
                     "function": {"name": c.function.name, "arguments": c.function.arguments}}
                    for c in calls]
            messages.append(assistant)
            for call in calls:
                arguments = json.loads(call.function.arguments)
                result = tools[call.function.name](arguments)
                print(f"  tool received  : {call.function.name}("
                      f"{json.dumps(arguments, ensure_ascii=False)})")
                record["tools"].append({"tool": call.function.name, "arguments": arguments})
                messages.append({"role": "tool", "tool_call_id": call.id,
                                 "content": json.dumps(result, ensure_ascii=False)})
            out["turns"].append(record)
            if not calls:
                break
        planted = [key, user_email, customer["email"], customer["card"], customer["phone"]]
        leaked = [p for p in planted if p in json.dumps(stub.requests)]
    events = [json.loads(line) for line in audit_path.read_text(encoding="utf-8").splitlines()]
    check = verify_log(audit_path, keys.audit_keys())
    print("\n━━ audit trail " + "━" * 56)
    for event in events[:12]:
        print(f"  #{event['seq']:<3} {event['action']:<9} {event['entity']:<16} "
              f"{event.get('placeholder') or '':<22} {event['rule_id']}")
    if len(events) > 12:
        print(f"  … {len(events) - 12} more in {audit_path}")
    print(f"  chain: {'intact' if check.ok else 'BROKEN: ' + check.reason} "
          f"({check.records} records)")
    print(f"\nplanted values that reached the model: {len(leaked)} of {len(planted)}")
    out.update({"audit_events": len(events), "audit_ok": check.ok, "leaked": len(leaked),
                "model_requests": len(stub.requests)})
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    return 0 if not leaked and check.ok else 1


def _show(message: dict[str, Any]) -> str:
    content = message.get("content")
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    if message.get("tool_calls"):
        text += " " + json.dumps([c["function"] for c in message["tool_calls"]],
                                 ensure_ascii=False)
    return text if len(text) < 240 else text[:237] + "…"
