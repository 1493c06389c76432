"""The ``sanitizer`` command line: one module per command, one error line per mistake.

Exit codes: 0 success, 1 findings reported where a command promises it (``scan``),
2 usage or input error (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..errors import SanitizerError
from . import audit_cmd, demo_cmd, detect_cmd, restore_cmd, vault_cmd

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2

COMMANDS = (detect_cmd, restore_cmd, audit_cmd, vault_cmd, demo_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sanitizer",
        description="Keep secrets and personal data out of LLM prompts, tool results, logs "
                    "and agent memory.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
        return code
    except SanitizerError as exc:
        print(f"sanitizer: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("sanitizer: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
