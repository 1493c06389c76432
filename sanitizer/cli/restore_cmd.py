"""``sanitizer restore``: placeholders of a session back into real values."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .common import add_vault_options, make_sanitizer, write_json
from .inputs import located, read_records, read_texts

_EPILOG = """\
Only placeholders this session minted are restored, tolerating what models do to them
(case, spaces, other brackets); secrets stay placeholders (they are handles for tools, never
shown). Placeholders whose value the vault cannot give back stay as they are and the
command exits 1.

Pass the --policy used by 'sanitizer redact' when it sets its own placeholder format.

example:
  export SANITIZER_MASTER_KEY_FILE=~/.config/sanitizer.key
  sanitizer restore --jsonl --session s1 --vault sqlite:///vault.db < replies.jsonl
"""


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "restore", help="turn a session's placeholders back into real values",
        description="Turn a session's placeholders back into real values.", epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", metavar="FILE", help="input (default: stdin)")
    parser.add_argument("--jsonl", action="store_true", help="JSON Lines; restore the field")
    parser.add_argument("--field", default="text", help="field to restore (default: text)")
    parser.add_argument("--policy", metavar="FILE",
                        help="policy file (TOML or YAML): placeholder format; a broken policy "
                             "fails closed")
    parser.add_argument("--audit-log", metavar="PATH",
                        help="append one chained audit event per restored value here")
    add_vault_options(parser, required=True)
    parser.set_defaults(handler=run, config=None, no_ner=True)


def run(args: argparse.Namespace) -> int:
    sanitizer = make_sanitizer(args)
    failed = False
    try:
        if args.jsonl:
            for record in read_records(args.files, args.field):
                with located(record.where):
                    result = sanitizer.restore_detailed(record.data[args.field],
                                                        session=args.session)
                failed |= result.vault_failed
                write_json({**record.data, args.field: result.text})
        else:
            for _source, text in read_texts(args.files):
                result = sanitizer.restore_detailed(text, session=args.session)
                failed |= result.vault_failed
                sys.stdout.write(result.text)
    finally:
        sanitizer.vault.close()
        if sanitizer.audit is not None:
            sanitizer.audit.close()
    if failed:
        print("sanitizer: warning: the vault could not be reached; some placeholders were "
              "left in place", file=sys.stderr)
        return 1
    return 0
