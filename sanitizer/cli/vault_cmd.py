"""``sanitizer vault forget|keygen``: end a session for good, or make a master key."""

from __future__ import annotations

import argparse
from typing import Any

from .common import keyring_for


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "vault", help="manage the token vault", description="Manage the token vault.")
    actions = parser.add_subparsers(dest="vault_command", metavar="ACTION", required=True)
    forget = actions.add_parser(
        "forget", help="make every value of a session unrecoverable",
        description="Delete a session's salt and records: its placeholders can never be "
                    "restored again, even from a copy of the old store.")
    forget.add_argument("--session", required=True, metavar="ID")
    forget.add_argument("--vault", required=True, metavar="URL")
    forget.add_argument("--key-file", metavar="FILE")
    forget.add_argument("--tenant", default="default")
    forget.set_defaults(handler=run_forget)
    keygen = actions.add_parser(
        "keygen", help="write a new random master key file (mode 0600)",
        description="Write a new random master key file (mode 0600). Keep it away from the "
                    "vault's data; point SANITIZER_MASTER_KEY_FILE or --key-file at it.")
    keygen.add_argument("path", metavar="FILE")
    keygen.set_defaults(handler=run_keygen)


def run_forget(args: argparse.Namespace) -> int:
    from ..vault import open_vault

    vault = open_vault(args.vault, keyring_for(args, vault_url=args.vault), tenant=args.tenant)
    try:
        vault.forget(args.session)
    finally:
        vault.close()
    print(f"forgot session {args.session!r}")
    return 0


def run_keygen(args: argparse.Namespace) -> int:
    from ..keys import KeyRing

    path = KeyRing.generate_key_file(args.path)
    print(f"wrote a new master key to {path}")
    return 0
