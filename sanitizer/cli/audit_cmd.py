"""``sanitizer audit verify``: check an audit log's MAC chain."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..errors import ConfigError
from .common import keyring_for

_EPILOG = """\
It checks, for the log and its rotated files (FILE.1, FILE.2, … then FILE): that every line
is a canonical record with a valid MAC under the audit key (derived from the master key;
every key id of the key ring is tried, so logs spanning a rotation verify), that seq and
prev chain each record to the one before across files, that the log starts at seq 1 or
where a retention record says, and that it reaches the checkpoint FILE.head (truncation).

exit codes: 0 intact, 1 broken (the first bad record is named), 2 usage error.

example:
  export SANITIZER_MASTER_KEY_FILE=~/.config/sanitizer.key
  sanitizer audit verify audit.jsonl
"""


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "audit", help="work with audit logs", description="Work with audit logs.")
    actions = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify", help="check a log's chain: edits, deletions, reordering, truncation",
        description="Check every record's MAC and its link to the one before, across rotated "
                    "files. Exit 0 when intact, 1 at the first break (which it names).",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    verify.add_argument("path", metavar="FILE")
    verify.add_argument("--key-file", metavar="FILE",
                        help="master key file (default: $SANITIZER_MASTER_KEY or "
                             "$SANITIZER_MASTER_KEY_FILE)")
    verify.add_argument("--no-checkpoint", action="store_true",
                        help="the log was captured without its FILE.head checkpoint (a stdout "
                             "or logging sink): truncation of the tail cannot be checked")
    verify.add_argument("--policy", metavar="FILE",
                        help="accepted like on every command and checked (a broken policy "
                             "fails closed); verification does not depend on it")
    verify.set_defaults(handler=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    from ..audit import log_files, verify_log
    from ..policy import load_policy

    if args.policy:
        load_policy(args.policy)
    if not log_files(args.path):
        raise ConfigError(f"{args.path}: no such audit log")
    if not (args.key_file or os.environ.get("SANITIZER_MASTER_KEY")
            or os.environ.get("SANITIZER_MASTER_KEY_FILE")):
        raise ConfigError("audit verify needs the master key the log was written with: set "
                          "SANITIZER_MASTER_KEY or SANITIZER_MASTER_KEY_FILE, or pass "
                          "--key-file")
    keyring = keyring_for(args, vault_url="audit")
    result = verify_log(args.path, keyring.audit_keys(),
                        require_checkpoint=not args.no_checkpoint)
    files = ", ".join(str(f) for f in result.files) or args.path
    kids = ", ".join(keyring.kids)
    if result.ok:
        print(f"ok: {result.reason}; files: {files}; key ids tried: {kids}")
        return 0
    print(f"BROKEN at record {result.first_bad}: {result.reason} ({result.records} records "
          f"verified before it; files: {files}; key ids tried: {kids})")
    return 1
