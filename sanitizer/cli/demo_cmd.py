"""``sanitizer demo``: realistic agent traffic before and after, on embedded defaults."""

from __future__ import annotations

import argparse
import json
import random
from typing import Any

from ..examples import expand
from .common import add_engine_options, make_sanitizer

# Agent traffic as it really flows: a prompt, a tool result, a tool call, a log line and a
# memory note. Values come from the seeded generators, so no real credential is ever here.
TRAFFIC: tuple[tuple[str, str], ...] = (
    ("user prompt",
     "Hi, I'm Maria Gonzalez. Please deploy with my key OPENAI_API_KEY=sk-proj-{alnum:48}"
     "T3BlbkFJ{alnum:20} and email the report to maria.gonzalez@example.org or call "
     "+1 415-555-{digits:4}."),
    ("tool result (CRM lookup)",
     '{{"customer": {{"name": "John Smith", "email": "j.smith@acme-mail.com", '
     '"phone": "+44 20 7946 0{digits:3}", "card": "4111 1111 1111 1111", '
     '"address": "1600 Pennsylvania Avenue NW, Washington, DC 20500"}}, '
     '"order_id": "ORD-{digits:6}", "created_at": "2026-11-25T08:15:00Z"}}'),
    ("tool call arguments",
     '{{"tool": "run_sql", "dsn": "postgresql://app:{alnum:16}@db.internal:5432/prod", '
     '"query": "select * from invoices where iban = \'DE89 3704 0044 0532 0130 00\'"}}'),
    ("log line",
     "2026-11-25 08:15:02 INFO request id=7f9c2ba4-e88f-11ee-a1b2-0242ac120002 "
     "Authorization: Bearer ghp_{alnum:36} status=200 "
     "sha=9fceb02d0ae598e95dc970b74767f19372d61af8"),
    ("memory note",
     "User prefers short answers. AWS creds for staging: AKIA{upnum:16} / "
     "{base64:40}. SSN on file: 078-05-1120 (do not share)."),
)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "demo", help="show realistic agent traffic before and after sanitizing",
        description="Run the detector over a scripted sample of agent traffic (prompt, tool "
                    "result, tool call, log line, memory note) and print it before and after. "
                    "Needs no API key, network or database.")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_engine_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    sanitizer = make_sanitizer(args)
    rng = random.Random("context-sanitizer demo")
    # Literal braces of the JSON samples are doubled; undo that after generating.
    samples = [(label, expand(t, rng).text.replace("{{", "{").replace("}}", "}"))
               for label, t in TRAFFIC]
    batch = sanitizer.detect_batch([text for _, text in samples])
    from ..engine import replace_spans

    rows = []
    for (label, text), findings in zip(samples, batch, strict=True):
        rows.append({"surface": label, "before": text, "after": replace_spans(text, findings),
                     "findings": [f.to_dict() for f in findings]})
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
