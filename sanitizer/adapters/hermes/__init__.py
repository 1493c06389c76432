"""Hermes Agent plugin: keeps secrets and personal data out of everything Hermes sends to a
model, and restores them for the user and for the tools the policy allows.

Install into Hermes' environment (``pip install 'context-sanitizer[hermes]'`` or the
project's ``make install``), then enable it in ``$HERMES_HOME/config.yaml``::

    plugins:
      enabled: [sanitizer]

Settings live under ``plugins.entries.sanitizer`` (see :mod:`.settings`); the master key
comes from ``SANITIZER_MASTER_KEY`` / ``SANITIZER_MASTER_KEY_FILE``. If the plugin cannot
start (no key, broken policy…) it does not step aside: every model request is blocked with
the reason, because a user who enabled it must never leak silently.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

logger = logging.getLogger("sanitizer.hermes")


def _hermes_home() -> Any:
    from hermes_constants import get_hermes_home  # type: ignore[import-not-found]

    return get_hermes_home()


def _plugin_entry(name: str) -> Any:
    from hermes_cli.config import load_config  # type: ignore[import-not-found]

    plugins = (load_config() or {}).get("plugins") or {}
    entries = plugins.get("entries") if isinstance(plugins, dict) else None
    return entries.get(name) if isinstance(entries, dict) else None


def register(ctx: Any) -> None:
    """Hermes' plugin entry point (``hermes_agent.plugins`` group)."""
    from pathlib import Path

    from ...errors import SanitizerError
    from .approvals import make_confirm
    from .boundary import install
    from .hooks import HermesHooks
    from .runtime import Guard
    from .settings import PLUGIN_NAME, parse_settings

    name = str(getattr(getattr(ctx, "manifest", None), "key", "") or PLUGIN_NAME)
    try:
        settings = parse_settings(_plugin_entry(name), Path(_hermes_home()))
        guard = Guard.build(settings, make_confirm(settings.approvals))
    except SanitizerError as exc:
        _unavailable(str(exc))
        return
    except Exception as exc:  # never let Hermes carry on unprotected
        _unavailable(f"{type(exc).__name__} while starting")
        return
    install(guard)
    HermesHooks(guard).register(ctx)
    if _runs_an_agent(sys.argv):
        guard.warm_up_in_background()


_NO_AGENT = frozenset({"plugins", "config", "setup", "doctor", "update", "version", "logs",
                       "status", "sessions", "model", "tools", "skills", "auth", "login",
                       "logout", "uninstall", "backup", "dump", "completion", "insights"})


def _runs_an_agent(argv: list[str]) -> bool:
    """Whether this Hermes command will talk to a model (then the detectors are built in the
    background while Hermes starts); management commands skip that work."""
    words = [a for a in argv[1:] if not a.startswith("-")]
    return not (set(argv[1:]) & {"--help", "-h", "--version"}) and \
        (not words or words[0] not in _NO_AGENT)


def _unavailable(reason: str) -> None:
    from .boundary import install

    install(None, reason)
    message = (f"context-sanitizer: {reason} — every model request is blocked until this "
               "is fixed")
    logger.error("%s", message)
    print(message, file=sys.stderr)
