"""``sanitizer detect`` and ``sanitizer redact``: find, or find and replace, sensitive spans."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..findings import findings_to_dicts
from ..policy import SURFACES
from .common import add_engine_options, add_vault_options, make_sanitizer, write_json
from .inputs import located, read_records, read_texts

_EPILOG_DETECT = """\
Output: one JSON object per finding (text mode) or per input record (--jsonl), with offsets,
entity, rule id and score, never the matched text.

examples:
  echo 'key=ghp_...' | sanitizer detect
  sanitizer detect --jsonl --no-ner traffic.jsonl
"""

_EPILOG_REDACT = """\
Text mode writes the redacted text; --jsonl writes each object back with its text field
redacted and a "findings" list (offsets into the input), other fields untouched.
Without --vault every finding becomes an <ENTITY> marker (or what --policy says); with
--vault and --session values become placeholders like <EMAIL_ADDRESS_1> that
'sanitizer restore' can turn back into the real values.

examples:
  sanitizer redact < prompt.txt
  sanitizer redact --jsonl --field content messages.jsonl > clean.jsonl
  export SANITIZER_MASTER_KEY=...   # or --key-file
  sanitizer redact --jsonl --session s1 --vault sqlite:///vault.db \\
      --audit-log audit.jsonl < traffic.jsonl > clean.jsonl
"""


def register(sub: Any) -> None:
    for name, helptext, epilog, handler in (
        ("detect", "report secrets and PII (positions only)", _EPILOG_DETECT, run_detect),
        ("redact", "replace secrets and PII with <ENTITY> markers", _EPILOG_REDACT, run_redact),
    ):
        parser: argparse.ArgumentParser = sub.add_parser(
            name, help=helptext, description=helptext.capitalize() + ".", epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_argument("files", nargs="*", metavar="FILE",
                            help="input files (default: standard input; '-' also means it)")
        parser.add_argument("--jsonl", action="store_true",
                            help="input is JSON Lines; process the text field of each object")
        parser.add_argument("--field", default="text",
                            help="the field to process with --jsonl (default: text)")
        add_engine_options(parser)
        if name == "redact":
            add_vault_options(parser)
            parser.add_argument("--audit-log", metavar="PATH",
                                help="append one chained audit event per decision here")
            parser.add_argument("--surface", default="prompt", choices=SURFACES,
                                help="where the text is going (policy input; default: prompt)")
        parser.set_defaults(handler=handler)


def run_detect(args: argparse.Namespace) -> int:
    sanitizer = make_sanitizer(args)
    if args.jsonl:
        for record in read_records(args.files, args.field):
            with located(record.where):
                findings = sanitizer.detect(record.data[args.field])
            out = {k: v for k, v in record.data.items() if k != args.field}
            out["findings"] = findings_to_dicts(findings)
            write_json(out)
        return 0
    for source, text in read_texts(args.files):
        with located(source):
            findings = sanitizer.detect(text)
        for row in findings_to_dicts(findings):
            write_json({"source": source, **row})
    return 0


def run_redact(args: argparse.Namespace) -> int:
    sanitizer = make_sanitizer(args)
    session = args.session or "default"
    if args.jsonl:
        for record in read_records(args.files, args.field):
            with located(record.where):
                done = sanitizer.sanitize(record.data[args.field], surface=args.surface,
                                          session=session)
            out = dict(record.data)
            out[args.field] = done.result
            out["findings"] = findings_to_dicts(done.findings)
            write_json(out)
        return 0
    for source, text in read_texts(args.files):
        with located(source):
            result = sanitizer.sanitize(text, surface=args.surface, session=session).result
        assert isinstance(result, str)
        sys.stdout.write(result)
    return 0
