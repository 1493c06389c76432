"""``sanitizer audit verify``: check an audit log's MAC chain."""

from __future__ import annotations

import argparse
from typing import Any

from .common import keyring_for


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "audit", help="work with audit logs", description="Work with audit logs.")
    actions = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify", help="check a log's chain: edits, deletions, reordering, truncation",
        description="Check every record's MAC and its link to the one before, across rotated "
                    "files. Exit 0 when intact, 1 at the first break (which it names).")
    verify.add_argument("path", metavar="FILE")
    verify.add_argument("--key-file", metavar="FILE")
    verify.set_defaults(handler=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    from ..audit import verify_log

    keyring = keyring_for(args, vault_url="audit")
    result = verify_log(args.path, keyring.audit_keys())
    files = ", ".join(str(f) for f in result.files) or args.path
    if result.ok:
        print(f"ok: {result.records} records verified in {files}")
        return 0
    print(f"BROKEN at record {result.first_bad}: {result.reason} ({result.records} records "
          f"checked in {files})")
    return 1
