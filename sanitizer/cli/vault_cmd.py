"""``sanitizer vault forget|keygen``: end a session for good, or make a master key."""

from __future__ import annotations

import argparse
from typing import Any

from .common import keyring_for

_FORGET_EPILOG = """\
example:
  export SANITIZER_MASTER_KEY_FILE=~/.config/sanitizer.key
  sanitizer vault forget --session s1 --vault sqlite:///vault.db
"""


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "vault", help="manage the token vault", description="Manage the token vault.")
    actions = parser.add_subparsers(dest="vault_command", metavar="ACTION", required=True)
    forget = actions.add_parser(
        "forget", help="make every value of a session unrecoverable",
        description="Delete a session's salt and records: its placeholders can never be "
                    "restored again, even from a copy of the old store.",
        epilog=_FORGET_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    forget.add_argument("--session", required=True, metavar="ID")
    forget.add_argument("--vault", required=True, metavar="URL",
                        help="memory://, sqlite:///path, redis://…, postgresql://…")
    forget.add_argument("--key-file", metavar="FILE",
                        help="master key file (default: $SANITIZER_MASTER_KEY or "
                             "$SANITIZER_MASTER_KEY_FILE)")
    forget.add_argument("--tenant", default="default")
    forget.add_argument("--policy", metavar="FILE",
                        help="accepted like on every command and checked (a broken policy "
                             "fails closed); forgetting does not depend on it")
    forget.set_defaults(handler=run_forget)
    keygen = actions.add_parser(
        "keygen", help="write a new random master key file (mode 0600)",
        description="Write a new random master key file (mode 0600). Keep it away from the "
                    "vault's data; point SANITIZER_MASTER_KEY_FILE or --key-file at it.")
    keygen.add_argument("path", metavar="FILE")
    keygen.add_argument("--kid", default="k1",
                        help="key id recorded with every sealed value (default: k1); to rotate,"
                             " put a new kid:key entry first and keep the old ones")
    keygen.set_defaults(handler=run_keygen)


def run_forget(args: argparse.Namespace) -> int:
    from ..policy import load_policy
    from ..vault import open_vault

    if args.policy:
        load_policy(args.policy)
    vault = open_vault(args.vault, keyring_for(args, vault_url=args.vault), tenant=args.tenant)
    try:
        vault.forget(args.session)
    finally:
        vault.close()
    print(f"forgot session {args.session!r}: its values can no longer be restored")
    return 0


def run_keygen(args: argparse.Namespace) -> int:
    from ..keys import KeyRing

    path = KeyRing.generate_key_file(args.path, kid=args.kid)
    print(f"wrote a new master key (key id {args.kid!r}) to {path}")
    return 0
