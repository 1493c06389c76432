"""Evasion benchmark: secrets and PII in disguise, caught per technique.

Usage (from the repository root)::

    .venv/bin/python -m benchmarks.bench_evasion             # 25 values per kind
    .venv/bin/python -m benchmarks.bench_evasion --per-kind 2 # the size tests/ runs

Every value comes from a seeded generator (:mod:`sanitizer.examples`), is checked to be
caught in plain form first, then hidden by each technique inside a carrier text (or a JSON
document for ``split-json-fields``). A value counts as **caught** when the findings of
``Sanitizer(ner=False).detect`` cover every character of its disguise (all pieces of a
split value). **Controls** are harmless look-alikes (UUIDs, git SHAs, versions, paths,
timestamps) put through the same techniques: any finding touching one is over-redaction.

Prints a table and writes ``benchmarks/results/evasion.json``.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import platform
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from sanitizer.engine import Json, Sanitizer
from sanitizer.examples import expand

RESULTS = Path(__file__).resolve().parent / "results" / "evasion.json"
SEED = "context-sanitizer evasion corpus v1"

# (kind, carrier, value template): the carrier holds {v} where the disguise goes.
VALUES: tuple[tuple[str, str, str], ...] = (
    ("github-pat", "export GITHUB_TOKEN={v}", "{github_token:ghp}"),
    ("github-oauth", "token for the bot: {v}", "{github_token:gho}"),
    ("gitlab-pat", "GITLAB_TOKEN={v} # ci", "glpat-{alnum:20}"),
    ("aws-key-id", "aws_access_key_id = {v}", "{aws_key_id}"),
    ("slack-bot", "SLACK_BOT_TOKEN={v}", "xoxb-{digits:12}-{digits:13}-{alnum:24}"),
    ("stripe-live", "stripe.api_key = '{v}'", "sk_live_{alnum:24}"),
    ("openai-project", "OPENAI_API_KEY={v}", "sk-proj-{alnum:48}T3BlbkFJ{alnum:20}"),
    ("anthropic", "ANTHROPIC_API_KEY={v}", "sk-ant-api03-{b64url:93}AA"),
    ("huggingface", "HF_TOKEN={v}", "hf_{alpha:34}"),
    ("npm", "//registry.npmjs.org/:_authToken={v}", "{npm_token}"),
    ("sendgrid", "sendgrid key {v}", "SG.{b64url:22}.{b64url:43}"),
    ("google-api", "GOOGLE_API_KEY={v}", "AIza{b64url:35}"),
    ("email", "Please write to {v} about the invoice.", "{email}"),
    ("credit-card", "card on file: {v}", "{card:visa}"),
    ("iban", "IBAN for the refund: {v}", "{iban:DE}"),
    ("us-ssn", "SSN {v} (do not share)", "{ssn}"),
)

# Harmless values of token-like shape that must never be redacted, whatever the disguise.
CONTROLS: tuple[tuple[str, str, str], ...] = (
    ("uuid", "request id {v} done", "{hex:8}-{hex:4}-4{hex:3}-a{hex:3}-{hex:12}"),
    ("git-sha", "commit {v} merged", "{hex:40}"),
    ("version", "upgraded to {v} today", "v{digits:1}.{digits:2}.{digits:1}-rc{digits:1}"),
    ("path", "see {v} for details", "/srv/app/releases/build_{digits:6}/config.yaml"),
    ("timestamp", "started at {v} UTC", "2026-11-{digits:1}5T0{digits:1}:1{digits:1}:00Z"),
    ("identifier", "call {v} next", "quarterly_report_{digits:4}_final"),
)

ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad")
# Look-alikes of ASCII letters (Cyrillic and Greek) that NFKC leaves alone.
CONFUSABLES = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441",
               "x": "\u0445", "y": "\u0443", "i": "\u0456", "s": "\u0455", "A": "\u0391",
               "B": "\u0392", "E": "\u0395", "H": "\u0397", "K": "\u039a", "M": "\u039c",
               "O": "\u039f", "P": "\u03a1", "T": "\u03a4", "X": "\u03a7", "C": "\u0421"}


@dataclass(frozen=True, slots=True)
class Case:
    """One disguised value: the text (or JSON document) and where the disguise sits.

    ``spans`` are character spans in ``text`` (plain techniques) or, for a JSON document,
    ``(path, start, end)`` triples in its string leaves."""

    technique: str
    kind: str
    text: Json
    spans: tuple[tuple[int, int], ...] = ()
    leaf_spans: tuple[tuple[tuple[str | int, ...], int, int], ...] = ()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _cuts(value: str, rng: random.Random) -> list[str]:
    """Two or three pieces of at least five characters (two for short values)."""
    count = 3 if len(value) >= 30 and rng.random() < 0.5 else 2
    while count > 1:
        lowest = 5
        room = len(value) - lowest * count
        if room >= 0:
            cuts = sorted(rng.sample(range(room + 1), count - 1)) if room else [0] * (count - 1)
            bounds = [0, *(c + lowest * (i + 1) for i, c in enumerate(cuts)), len(value)]
            return [value[a:b] for a, b in itertools.pairwise(bounds)]
        count -= 1
    return [value]


def zero_width(value: str, rng: random.Random) -> str:
    chars = list(value)
    for _ in range(rng.randint(2, 4)):
        chars.insert(rng.randint(1, len(chars) - 1), rng.choice(ZERO_WIDTH))
    return "".join(chars)


def fullwidth(value: str, rng: random.Random) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in value)


def confusable(value: str, rng: random.Random) -> str:
    options = [i for i, c in enumerate(value) if c in CONFUSABLES]
    if not options:
        return value
    chosen = {i for i in options if rng.random() < 0.7} or {rng.choice(options)}
    return "".join(CONFUSABLES[c] if i in chosen else c for i, c in enumerate(value))


def base64_once(value: str, rng: random.Random) -> str:
    return _b64(value)


def base64_nested(value: str, rng: random.Random) -> str:
    return _b64(_b64(value)) if rng.random() < 0.7 else _b64(_b64(_b64(value)))


def percent(value: str, rng: random.Random) -> str:
    return "".join(f"%{b:02X}" for b in value.encode())


def json_double(value: str, rng: random.Random) -> str:
    """JSON ``\\uXXXX`` escapes, escaped once more (a JSON string inside a JSON string)."""
    return "".join(f"\\\\u{ord(c):04x}" for c in value)


def hex_encoded(value: str, rng: random.Random) -> str:
    return value.encode().hex()


def continuation(value: str, rng: random.Random) -> str:
    pieces = _cuts(value, rng)
    return "".join(piece + ("\\\n" + rng.choice(["", "  ", "\t"]) if i < len(pieces) - 1
                            else "") for i, piece in enumerate(pieces))


Disguise = Callable[[str, random.Random], str]
TEXT_TECHNIQUES: dict[str, Disguise] = {
    "zero-width": zero_width,
    "fullwidth": fullwidth,
    "confusables": confusable,
    "base64": base64_once,
    "base64-nested": base64_nested,
    "percent": percent,
    "json-double-escape": json_double,
    "hex": hex_encoded,
    "backslash-continuation": continuation,
}
TECHNIQUES: tuple[str, ...] = (*TEXT_TECHNIQUES, "split-lines", "split-json-text",
                               "split-json-fields")


def disguise(technique: str, kind: str, carrier: str, value: str,
             rng: random.Random) -> Case:
    """``value`` hidden by ``technique`` in ``carrier`` (spans locate the disguise)."""
    prefix, _, suffix = carrier.partition("{v}")
    if technique in TEXT_TECHNIQUES:
        hidden = TEXT_TECHNIQUES[technique](value, rng)
        return Case(technique, kind, prefix + hidden + suffix,
                    ((len(prefix), len(prefix) + len(hidden)),))
    pieces = _cuts(value, rng)
    if technique == "split-lines":
        indent = rng.choice(["", "    "])
        text = prefix + pieces[0]
        spans = [(len(prefix), len(text))]
        for piece in pieces[1:]:
            text += "\n" + indent
            spans.append((len(text), len(text) + len(piece)))
            text += piece
        return Case(technique, kind, text + "\n" + suffix.strip(), tuple(spans))
    names = [f"{rng.choice(['part', 'k', 'seg'])}{i + 1}" for i in range(len(pieces))]
    if technique == "split-json-text":
        text = '{"user": "octocat", '
        spans = []
        for name, piece in zip(names, pieces, strict=True):
            text += f'"{name}": "'
            spans.append((len(text), len(text) + len(piece)))
            text += piece + '", '
        return Case(technique, kind, text.rstrip(", ") + "}", tuple(spans))
    if technique == "split-json-fields":
        doc: dict[str, Json] = {"user": "octocat"}
        doc.update(zip(names, pieces, strict=True))
        leaf = tuple(((name,), 0, len(piece)) for name, piece in zip(names, pieces,
                                                                      strict=True))
        return Case(technique, kind, doc, leaf_spans=leaf)
    raise ValueError(f"unknown technique {technique!r}")


def values(table: Sequence[tuple[str, str, str]], per_kind: int,
           seed: str = SEED) -> list[tuple[str, str, str]]:
    """``(kind, carrier, value)`` for ``per_kind`` generated values of every kind."""
    rng = random.Random(seed)
    return [(kind, carrier, expand(template, rng).text)
            for kind, carrier, template in table for _ in range(per_kind)]


def corpus(per_kind: int, seed: str = SEED,
           table: Sequence[tuple[str, str, str]] = VALUES) -> list[Case]:
    rng = random.Random(seed + "/disguise")
    return [disguise(technique, kind, carrier, value, rng)
            for kind, carrier, value in values(table, per_kind, seed)
            for technique in TECHNIQUES]


def _covered(spans: Sequence[tuple[int, int]], found: Sequence[tuple[int, int]]) -> bool:
    """Every character of every span lies in some finding."""
    for start, end in spans:
        position = start
        for low, high in sorted(found):
            if low <= position < high:
                position = high
            if position >= end:
                break
        if position < end:
            return False
    return True


def _touched(spans: Sequence[tuple[int, int]], found: Sequence[tuple[int, int]]) -> bool:
    return any(low < end and start < high for start, end in spans for low, high in found)


def judge(sanitizer: Sanitizer, case: Case) -> tuple[bool, bool]:
    """``(every character covered, any character touched)`` for one case."""
    findings = sanitizer.detect(case.text)
    if not case.leaf_spans:
        found = [(f.start, f.end) for f in findings]
        return _covered(case.spans, found), _touched(case.spans, found)
    covered = touched = True
    touched = False
    for path, start, end in case.leaf_spans:
        found = [(f.start, f.end) for f in findings if f.path == path]
        covered = covered and _covered([(start, end)], found)
        touched = touched or _touched([(start, end)], found)
    return covered, touched


def plain_caught(sanitizer: Sanitizer, carrier: str, value: str) -> bool:
    prefix = carrier.partition("{v}")[0]
    found = [(f.start, f.end) for f in sanitizer.detect(carrier.replace("{v}", value))]
    return _covered([(len(prefix), len(prefix) + len(value))], found)


def run(per_kind: int, sanitizer: Sanitizer | None = None,
        progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Catch rate per technique (and per kind), and the over-redaction of controls."""
    sanitizer = sanitizer or Sanitizer(ner=False, known_values_from_env=False)
    generated = values(VALUES, per_kind)
    missed_plain = sorted({kind for kind, carrier, value in generated
                           if not plain_caught(sanitizer, carrier, value)})
    cases = corpus(per_kind)
    controls = corpus(per_kind, SEED + "/controls", CONTROLS)
    total = len(cases) + len(controls)
    per_technique: dict[str, dict[str, Any]] = {
        t: {"cases": 0, "caught": 0, "missed": [], "controls": 0, "over_redacted": 0}
        for t in TECHNIQUES}
    per_kind_caught: dict[str, list[int]] = {}
    started = time.perf_counter()
    for done, case in enumerate([*cases, *controls], start=1):
        caught, touched = judge(sanitizer, case)
        row = per_technique[case.technique]
        if done <= len(cases):
            row["cases"] += 1
            row["caught"] += caught
            tally = per_kind_caught.setdefault(case.kind, [0, 0])
            tally[0] += caught
            tally[1] += 1
            if not caught and case.kind not in row["missed"]:
                row["missed"].append(case.kind)
        else:
            row["controls"] += 1
            row["over_redacted"] += touched
        if progress is not None:
            progress(done, total)
    seconds = time.perf_counter() - started
    for row in per_technique.values():
        row["catch_rate"] = round(row["caught"] / row["cases"], 4) if row["cases"] else None
        row["over_redaction_rate"] = (round(row["over_redacted"] / row["controls"], 4)
                                      if row["controls"] else None)
    caught_all = sum(r["caught"] for r in per_technique.values())
    return {
        "seed": SEED,
        "per_kind": per_kind,
        "values": len(generated),
        "plain_not_caught": missed_plain,
        "cases": len(cases),
        "caught": caught_all,
        "catch_rate": round(caught_all / len(cases), 4),
        "controls": len(controls),
        "over_redacted": sum(r["over_redacted"] for r in per_technique.values()),
        "per_technique": per_technique,
        "per_kind_catch_rate": {k: round(c / n, 4) for k, (c, n) in sorted(
            per_kind_caught.items())},
        "seconds": round(seconds, 2),
    }


def summary(report: dict[str, Any]) -> str:
    lines = [f"evasion corpus: {report['values']} values x {len(TECHNIQUES)} techniques = "
             f"{report['cases']} cases, {report['controls']} controls "
             f"({report['seconds']} s)",
             f"{'technique':<24}{'caught':>10}{'rate':>9}{'over-redacted':>16}  missed kinds"]
    for technique, row in report["per_technique"].items():
        lines.append(f"{technique:<24}{row['caught']:>5}/{row['cases']:<4}"
                     f"{row['catch_rate']:>9.1%}{row['over_redacted']:>10}/{row['controls']:<5}"
                     f"  {', '.join(row['missed']) or '-'}")
    lines.append(f"{'all':<24}{report['caught']:>5}/{report['cases']:<4}"
                 f"{report['catch_rate']:>9.1%}{report['over_redacted']:>10}/"
                 f"{report['controls']:<5}")
    if report["plain_not_caught"]:
        lines.append("not caught even in plain form: " + ", ".join(report["plain_not_caught"]))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-kind", type=int, default=25,
                        help="generated values per kind of secret or PII (default: 25)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args(argv)
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("evasion", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = run(args.per_kind, progress=progress)
    report["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(),
                         "platform": platform.platform()}
    print(summary(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
