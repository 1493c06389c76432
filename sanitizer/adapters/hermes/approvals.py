"""Tier 2/3 confirmation through Hermes' own approval gate — refused where nobody can answer.

Hermes calls its one-shot mode (``hermes chat -q …``) "non-interactive"; cron jobs and
pipelines without a terminal are too. There a tier 2/3 tool call is refused outright —
whatever ``--yolo`` or ``approvals.cron_mode`` say, because nobody confirmed the data
leaving. In an interactive CLI or gateway session the call goes to Hermes'
``[o]nce/[s]ession/[a]lways/[d]eny`` prompt (or the gateway's approval flow). Hermes' prompt
has no free-text field, so a tier 3 approval is audited with a fixed reason naming the gate.
The prompt text names the tool and tier only, never a value: Hermes logs it.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from ...tools import Approval, ToolCallPreview
from .settings import Approvals

TIER3_REASON = "approved at the Hermes approval prompt"


def _hermes(function: str, default: Any) -> Any:
    """Call a zero-argument function of Hermes' ``tools.approval`` (private API, may move)."""
    try:
        return getattr(importlib.import_module("tools.approval"), function)()
    except Exception:
        return default


def single_query_mode(argv: Sequence[str]) -> bool:
    """Whether Hermes was started with ``-q``/``--query`` (its non-interactive mode)."""
    for arg in argv[1:]:
        if arg == "--":
            break
        if arg == "--query" or arg.startswith("--query="):
            return True
        if arg.startswith("-") and not arg.startswith("--") and "q" in arg[1:]:
            return True
    return False


def human_present(argv: Sequence[str] | None = None, stdin: TextIO | None = None,
                  environ: dict[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    if env.get("HERMES_CRON_SESSION", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    if _hermes("_is_gateway_approval_context", False):
        return True
    if single_query_mode(sys.argv if argv is None else argv):
        return False
    stream = sys.stdin if stdin is None else stdin
    try:
        if stream is None or not stream.isatty():
            return False
    except (OSError, ValueError):
        return False
    return bool(_hermes("_is_interactive_cli", False))


def make_confirm(mode: Approvals,
                 present: Callable[[], bool] = human_present) -> Callable[[ToolCallPreview],
                                                                           Approval]:
    def confirm(preview: ToolCallPreview) -> Approval:
        if mode == "deny" or not present():
            return Approval(False)
        try:
            gate = importlib.import_module("tools.approval").request_tool_approval
            result = gate(
                preview.tool,
                f"context-sanitizer: '{preview.tool}' is a tier {preview.tier} tool (external "
                "or high-impact); allow this call, with the values it needs restored?",
                rule_key=f"context-sanitizer:{preview.tool}:tier{preview.tier}")
        except Exception:
            return Approval(False)  # a broken gate refuses
        approved = isinstance(result, dict) and result.get("approved") is True
        return Approval(approved, TIER3_REASON if approved and preview.reason_required
                        else None)

    return confirm
