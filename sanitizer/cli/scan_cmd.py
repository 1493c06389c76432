"""``sanitizer scan``: audit skills, crons, prompt templates and configs for hardcoded keys."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from . import EXIT_FOUND, EXIT_OK

if TYPE_CHECKING:
    from ..keys import KeyRing
    from ..scan import ScanFinding, ScanResult

_EPILOG = """\
Recursive; honours .gitignore (also those of parent folders up to the repository root),
skips .git, symbolic links, binary files and files over --max-bytes. Each finding shows
file:line:column, the rule and a masked preview of the line (<ENTITY> where the value was):
never the value itself.

A baseline accepts known findings by keyed fingerprint (HMAC of rule and value with a key
derived from the master key when one is configured, else with a random salt kept in the
baseline) — it holds no value. Run from the repository root so paths match.

exit codes: 0 nothing found (or everything baselined), 1 findings, 2 usage error.

examples:
  sanitizer scan ~/.hermes/skills ~/.hermes/cron
  sanitizer scan . --format sarif --output scan.sarif
  sanitizer scan . --write-baseline .sanitizer-baseline.json   # accept what is there now
  sanitizer scan . --baseline .sanitizer-baseline.json         # report only new findings
"""


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "scan", help="find hardcoded credentials in files (skills, crons, prompts, configs)",
        description="Find hardcoded credentials in files: skills, cron definitions, prompt "
                    "templates, config files.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or folders to scan")
    parser.add_argument("--format", default="text", choices=("text", "json", "sarif"),
                        help="output format (default: text)")
    parser.add_argument("--output", metavar="FILE", help="write the report here (default: "
                                                         "standard output)")
    parser.add_argument("--baseline", metavar="FILE",
                        help="accept the findings listed in this baseline file")
    parser.add_argument("--write-baseline", metavar="FILE",
                        help="write every current finding to this baseline and exit 0")
    parser.add_argument("--include-pii", action="store_true",
                        help="report personal data too (cards, IBAN, e-mails…), not only "
                             "credentials")
    parser.add_argument("--no-gitignore", action="store_true",
                        help="scan files that .gitignore excludes as well")
    parser.add_argument("--max-bytes", type=int, default=5 * 1024 * 1024, metavar="N",
                        help="skip files larger than this (default: 5 MiB)")
    parser.add_argument("--config", metavar="FILE",
                        help="TOML settings file (extra rule folders, thresholds)")
    parser.add_argument("--key-file", metavar="FILE",
                        help="master key file for baseline fingerprints (default: "
                             "$SANITIZER_MASTER_KEY / $SANITIZER_MASTER_KEY_FILE)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_scan)


def _keyring(args: argparse.Namespace) -> KeyRing | None:
    from ..keys import KeyRing

    if args.key_file or os.environ.get("SANITIZER_MASTER_KEY") or \
            os.environ.get("SANITIZER_MASTER_KEY_FILE"):
        return KeyRing.from_env(os.environ, key_file=args.key_file)
    return None


def run_scan(args: argparse.Namespace) -> int:
    from ..engine import Sanitizer
    from ..scan import Baseline, Fingerprinter, scan_paths

    if args.max_bytes < 1:
        raise ConfigError("--max-bytes must be positive")
    if args.baseline and args.write_baseline:
        raise ConfigError("--baseline and --write-baseline do not go together")
    for path in args.paths:
        if not Path(path).exists():
            raise ConfigError(f"{path}: no such file or folder")
    keyring = _keyring(args)
    baseline = Baseline.load(Path(args.baseline)) if args.baseline else None
    if baseline is not None:
        fingerprint = baseline.fingerprinter(keyring)
    elif keyring is not None:
        fingerprint = Fingerprinter.from_keyring(keyring)
    else:
        fingerprint = Fingerprinter.from_salt()
    kwargs: dict[str, Any] = {"ner": False, "known_values_from_env": False}
    sanitizer = Sanitizer.from_config(args.config, **kwargs) if args.config else \
        Sanitizer(**kwargs)
    categories = frozenset({"secret", "financial", "government", "contact"}
                           if args.include_pii else {"secret"})
    with _Progress(not args.no_progress and sys.stderr.isatty()) as tick:
        result = scan_paths(sanitizer, args.paths, fingerprint, categories=categories,
                            gitignore=not args.no_gitignore, max_bytes=args.max_bytes,
                            on_file=tick)
    if args.write_baseline:
        Baseline.write(Path(args.write_baseline), fingerprint, result.findings)
        print(f"sanitizer: wrote {len(result.findings)} finding(s) to {args.write_baseline}",
              file=sys.stderr)
        return EXIT_OK
    if baseline is not None:
        kept = [f for f in result.findings if not baseline.accepts(f)]
        result.baselined = len(result.findings) - len(kept)
        result.findings = kept
    _emit(args, result, sanitizer)
    return EXIT_FOUND if result.findings else EXIT_OK


def _emit(args: argparse.Namespace, result: ScanResult, sanitizer: Any) -> None:
    if args.format == "sarif":
        from ..sarif import to_sarif

        descriptions = {rule.id: rule.description for rule in sanitizer.catalog.rules}
        text = json.dumps(to_sarif(result.findings, descriptions, Path.cwd()), indent=2) + "\n"
    elif args.format == "json":
        text = json.dumps({"findings": [f.to_dict() for f in result.findings],
                           "files_scanned": result.files_scanned, "skipped": result.skipped,
                           "baselined": result.baselined}, ensure_ascii=False) + "\n"
    else:
        text = "".join(_line(f) for f in result.findings) + _summary(result)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def _line(finding: ScanFinding) -> str:
    return (f"{finding.path}:{finding.line}:{finding.column}: {finding.entity} "
            f"[{finding.rule_id}] {finding.preview}\n")


def _summary(result: ScanResult) -> str:
    parts = [f"{len(result.findings)} finding(s) in {result.files_scanned} file(s)"]
    if result.baselined:
        parts.append(f"{result.baselined} accepted by the baseline")
    if result.skipped:
        parts.append("skipped: " + ", ".join(f"{n} {reason}"
                                             for reason, n in sorted(result.skipped.items())))
    return "; ".join(parts) + "\n"


class _Progress:
    """Files done, on standard error (only on a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._progress = Progress(SpinnerColumn(), TextColumn("scan {task.completed} files"),
                                      TimeElapsedColumn(), console=Console(stderr=True),
                                      transient=True)
            self._progress.start()
            self._task = self._progress.add_task("scan", total=None)
        return self

    def __call__(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
