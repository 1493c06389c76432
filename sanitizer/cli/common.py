"""Options and helpers shared by several commands."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from ..engine import Sanitizer
from ..errors import ConfigError

if TYPE_CHECKING:
    from ..keys import KeyRing


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE",
                        help="TOML settings file (default: embedded defaults)")
    parser.add_argument("--policy", metavar="FILE",
                        help="policy file (TOML or YAML); a broken policy fails closed")
    parser.add_argument("--no-ner", action="store_true",
                        help="rules only: skip the NER models for names and places (faster)")


def add_vault_options(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    parser.add_argument("--session", required=required, metavar="ID",
                        help="conversation/session id: same value, same placeholder")
    parser.add_argument("--vault", required=required, metavar="URL",
                        help="token vault: memory://, sqlite:///path, redis://…, postgresql://…")
    parser.add_argument("--key-file", metavar="FILE",
                        help="master key file (default: $SANITIZER_MASTER_KEY or "
                             "$SANITIZER_MASTER_KEY_FILE)")
    parser.add_argument("--tenant", default="default", help="tenant name (default: default)")


def keyring_for(args: argparse.Namespace, *, vault_url: str | None) -> KeyRing:
    """The master key; ephemeral only where nothing outlives the process."""
    from ..keys import KeyRing

    key_file = getattr(args, "key_file", None)
    configured = key_file or os.environ.get("SANITIZER_MASTER_KEY") or \
        os.environ.get("SANITIZER_MASTER_KEY_FILE")
    if not configured:
        if (vault_url is None or vault_url.startswith("memory:")) and \
                not getattr(args, "audit_log", None):
            return KeyRing.ephemeral()
        what = "an audit log" if vault_url is None or vault_url.startswith("memory:") \
            else "a persistent vault"
        raise ConfigError(f"{what} needs a master key: set SANITIZER_MASTER_KEY "
                          "or pass --key-file (create one with 'sanitizer vault keygen FILE')")
    return KeyRing.from_env(os.environ, key_file=key_file)


def make_sanitizer(args: argparse.Namespace) -> Sanitizer:
    from ..policy import Policy, load_policy

    overrides: dict[str, Any] = {}
    if getattr(args, "no_ner", False):
        overrides["ner"] = False
    policy = load_policy(args.policy) if getattr(args, "policy", None) else Policy()
    vault_url = getattr(args, "vault", None)
    audit_path = getattr(args, "audit_log", None)
    kwargs: dict[str, Any] = {"tenant": getattr(args, "tenant", "default")}
    if vault_url or audit_path:
        keyring = keyring_for(args, vault_url=vault_url)
        kwargs["keyring"] = keyring
        if vault_url:
            from ..vault import open_vault

            kwargs["vault"] = open_vault(vault_url, keyring, tenant=kwargs["tenant"])
        if audit_path:
            from ..audit import AuditLog, FileSink

            kwargs["audit"] = AuditLog(keyring.audit_key(), [FileSink(audit_path)])
    if not vault_url:
        policy = policy.without_tokens()
    kwargs["policy"] = policy
    if args.config:
        return Sanitizer.from_config(args.config, **kwargs, **overrides)
    return Sanitizer(**kwargs, **overrides)


def write_json(data: Any) -> None:
    """One JSON line; strings UTF-8 encoding cannot carry (lone surrogates, which JSON
    escapes in the input can produce) are written as ``\\uXXXX`` escapes instead."""
    line = json.dumps(data, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(data)
    sys.stdout.write(line + "\n")
