"""``sanitizer bench``: this project and its peers side by side, with a report and plots."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from ..errors import InputError

_EPILOG = """\
Datasets: presidio_synth_v2 and gitleaks_rules (JSON Lines in ../shared/data beside the
checkout, or --data-dir), agent_traffic (generated here from templates with a fixed seed),
and any --data FILE in the same format: one object a line,
  {"id": "...", "text": "...", "spans": [{"start": 0, "end": 5, "label": "PERSON"}]}
labels PERSON, LOCATION, EMAIL, PHONE, CREDIT_CARD, SSN, IBAN, IP, SECRET, or BENIGN for a
look-alike that should be left alone (presidio's label names work too).

Systems: sanitizer, sanitizer-rules, presidio, detect-secrets, scrubadub; llm-guard-secrets
and gitleaks when installed (skipped with a note otherwise).

Writes results.json, report.md and PNG plots into --out.

examples:
  sanitizer bench --quick --out /tmp/bench
  sanitizer bench --out benchmarks/results/bench
  sanitizer bench --datasets agent_traffic --data mine.jsonl --systems sanitizer-rules,presidio
"""


def _names(value: str) -> list[str]:
    names = [part.strip() for part in value.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list of names")
    return names


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _megabytes(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 <= number <= 1000:
        raise argparse.ArgumentTypeError("must be between 0 and 1000")
    return number


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "bench", help="benchmark redaction quality and speed against peers",
        description="Run this project and its peers on labelled corpora; write results.json, "
                    "report.md and plots.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("bench-results"), metavar="DIR",
                        help="output folder (default: ./bench-results)")
    parser.add_argument("--quick", action="store_true",
                        help="a representative subset (150 + 400 + 200 texts; about a minute "
                             "on 2 cores)")
    parser.add_argument("--limit", type=_positive, metavar="N",
                        help="at most N records per dataset, evenly spread")
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="folder holding presidio_synth_v2.jsonl and gitleaks_rules.jsonl "
                             "(default: ../shared/data beside the checkout)")
    parser.add_argument("--data", type=Path, action="append", default=[], metavar="FILE",
                        help="an extra labelled JSON Lines file (repeatable)")
    parser.add_argument("--datasets", type=_names, metavar="A,B",
                        help="built-in datasets to run (default: all found): "
                             "presidio_synth_v2, gitleaks_rules, agent_traffic")
    parser.add_argument("--systems", type=_names, metavar="A,B",
                        help="systems to run (default: all installed)")
    parser.add_argument("--agent-records", type=_positive, metavar="N",
                        help="size of the generated agent corpus before --quick/--limit "
                             "(default 1200)")
    parser.add_argument("--seed", type=int, help="seed of the generated corpus")
    parser.add_argument("--clean-mb", type=_megabytes, metavar="MB",
                        help="size of the no-findings text for the rules-only throughput "
                             "figure (default 8, quick 1; 0 skips it)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--no-round-trip", action="store_true",
                        help="skip the sanitize/restore round trip")
    parser.set_defaults(handler=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    # Nothing downloads at run time (tldextract, litellm's cost map).
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from ..bench.agent_corpus import DEFAULT_SEED, DEFAULT_SIZE
    from ..bench.progress import ConsoleProgress
    from ..bench.runner import BenchConfig, print_summary, run, write_outputs

    if args.out.exists() and not args.out.is_dir():
        raise InputError(f"--out {args.out}: exists and is not a folder")
    config = BenchConfig(
        quick=args.quick, limit=args.limit, data_dir=args.data_dir,
        data_files=list(args.data), systems=args.systems, datasets=args.datasets,
        agent_size=args.agent_records or DEFAULT_SIZE,
        seed=DEFAULT_SEED if args.seed is None else args.seed,
        round_trip=not args.no_round_trip, clean_text_mb=args.clean_mb, argv=_argv(args))
    progress = ConsoleProgress()
    try:
        results = run(config, progress)
        written = write_outputs(results, args.out, plots=not args.no_plots)
    finally:
        progress.close()
    print_summary(results)
    print(f"written: {', '.join(str(p) for p in written)}")
    return 0


def _argv(args: argparse.Namespace) -> list[str]:
    """The options of this run, for the report (paths as given)."""
    out: list[str] = []
    for flag in ("quick", "no_plots", "no_round_trip"):
        if getattr(args, flag):
            out.append("--" + flag.replace("_", "-"))
    for flag in ("limit", "data_dir", "agent_records", "seed", "clean_mb"):
        value = getattr(args, flag)
        if value is not None:
            out += ["--" + flag.replace("_", "-"), str(value)]
    for flag in ("datasets", "systems"):
        value = getattr(args, flag)
        if value:
            out += ["--" + flag, ",".join(value)]
    for path in args.data:
        out += ["--data", str(path)]
    out += ["--out", str(args.out)]
    return out
