"""The ``sanitizer`` command line: one module per command, one error line per mistake.

Exit codes: 0 success, 1 findings reported where a command promises it (``scan``),
2 usage or input error (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import pkgutil
import sys
from collections.abc import Sequence
from importlib import import_module
from types import ModuleType

from ..errors import SanitizerError

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2

# Listed first, in this order, in ``--help``; every other ``*_cmd`` module follows by name.
_FIRST = ("detect_cmd", "redact_cmd", "restore_cmd")


def command_modules() -> list[ModuleType]:
    """Every ``sanitizer/cli/*_cmd.py``: a command is one module with ``register(sub)``."""
    names = [m.name for m in pkgutil.iter_modules(__path__) if m.name.endswith("_cmd")]
    names.sort(key=lambda n: (_FIRST.index(n) if n in _FIRST else len(_FIRST), n))
    return [import_module(f"{__name__}.{name}") for name in names]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sanitizer",
        description="Keep secrets and personal data out of LLM prompts, tool results, logs "
                    "and agent memory.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in command_modules():
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
