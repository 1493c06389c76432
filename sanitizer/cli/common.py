"""Options and helpers shared by several commands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..engine import Sanitizer


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE",
                        help="TOML settings file (default: embedded defaults)")
    parser.add_argument("--no-ner", action="store_true",
                        help="rules only: skip the NER models for names and places (faster)")


def make_sanitizer(args: argparse.Namespace) -> Sanitizer:
    overrides: dict[str, Any] = {}
    if getattr(args, "no_ner", False):
        overrides["ner"] = False
    if args.config:
        return Sanitizer.from_config(args.config, **overrides)
    return Sanitizer(**overrides)


def write_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
