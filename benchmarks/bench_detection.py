"""Detection benchmark: the quick loop for rule and NER work, on ``sanitizer.bench``.

Usage (from the repository root)::

    .venv/bin/python -m benchmarks.bench_detection            # full run
    .venv/bin/python -m benchmarks.bench_detection --quick    # small subsets

A thin wrapper over the framework behind ``sanitizer bench`` (``sanitizer/bench/``): it runs
``sanitizer``, ``sanitizer-rules`` and vanilla ``presidio`` on presidio_synth_v2,
``sanitizer-rules`` on gitleaks_rules, and the rules-only throughput on clean text, prints a
summary and writes ``benchmarks/results/detection.json`` (same layout as before). The full
comparison with every peer, the agent-traffic corpus, the report and the plots is
``sanitizer bench`` (``make bench``). See README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sanitizer.bench.clean_text import clean_text_speed
from sanitizer.bench.datasets import GITLEAKS, PRESIDIO
from sanitizer.bench.progress import ConsoleProgress
from sanitizer.bench.runner import BenchConfig, build_systems, evaluate, load_datasets, machine
from sanitizer.errors import SanitizerError

RESULTS = Path(__file__).resolve().parent / "results" / "detection.json"


def _throughput(r: dict[str, Any]) -> dict[str, Any]:
    return {"texts": r["texts"], "seconds": r["seconds"], "texts_per_s": r["texts_per_s"],
            "chars_per_s": r["chars_per_s"], "cpu_seconds": r["cpu_seconds"],
            "texts_per_cpu_s": round(r["texts"] / r["cpu_seconds"], 1)
            if r["cpu_seconds"] else None,
            "latency_ms": r["latency_ms"]}


def _presidio_entry(r: dict[str, Any]) -> dict[str, Any]:
    overlap = {k: {m: v[m] for m in ("precision", "recall", "f1", "pred", "gold")}
               for k, v in r["per_label"].items()}
    return {"overlap": {"micro": r["micro"], "per_label": overlap},
            "strict": {"micro": r["micro_strict"], "per_label": r["per_label_strict"]},
            "leak_rate": r["leak_rate"], "throughput": _throughput(r)}


def _gitleaks_entry(r: dict[str, Any]) -> dict[str, Any]:
    secret, strict = r["per_label"]["SECRET"], r["per_label_strict"]["SECRET"]
    negatives = r["benign"]
    flagged = negatives - round((r["benign_kept"] or 0) * negatives) if negatives else 0
    as_secret = negatives - round((r["benign_kept_in_scope"] or 0) * negatives)
    return {
        "positive_spans": secret["gold"],
        "secret_recall_overlap": secret["recall"],
        "secret_recall_strict": strict["recall"],
        "secret_precision_overlap": secret["precision"],
        "positive_nospan_texts": r.get("nospan_texts", 0),
        "positive_nospan_flagged": r.get("nospan_flagged"),
        "negatives": negatives,
        "negatives_flagged": flagged,  # negatives with any redaction in them
        "negatives_flagged_share": round(flagged / negatives, 4) if negatives else None,
        # … with a secret redacted in them (an e-mail address is PII, rightly redacted)
        "negatives_flagged_as_secret": as_secret,
        "negatives_flagged_as_secret_share": round(as_secret / negatives, 4)
        if negatives else None,
        "leak_rate": r["leak_rate"],
        "seconds": r["seconds"],
    }


def summary(report: dict[str, Any]) -> str:
    def fmt(c: dict[str, Any]) -> str:
        return f"P {c['precision']:.3f}  R {c['recall']:.3f}  F1 {c['f1']:.3f}"

    lines = [f"presidio_synth_v2 ({report['presidio_synth_v2_texts']} texts), overlap matching"]
    for name, result in report["presidio_synth_v2"].items():
        t = result["throughput"]
        lines.append(f"  {name:16s} micro {fmt(result['overlap']['micro'])}   strict micro F1 "
                     f"{result['strict']['micro']['f1']:.3f}   {t['texts_per_s']:.0f} texts/s "
                     f"({t['texts_per_cpu_s']} texts/CPU-s)")
        for label, counts in result["overlap"]["per_label"].items():
            if counts["gold"] or counts["pred"]:
                lines.append(f"      {label:12s} {fmt(counts)}  (gold {counts['gold']}, "
                             f"pred {counts['pred']})")
    for name, g in report["gitleaks"].items():
        lines.append(f"gitleaks {name}: secret recall {g['secret_recall_overlap']:.4f} "
                     f"(strict {g['secret_recall_strict']:.4f}) on {g['positive_spans']} "
                     f"spans; no-span positives flagged {g['positive_nospan_flagged']}; "
                     f"negatives flagged {g['negatives_flagged']}/{g['negatives']} "
                     f"({g['negatives_flagged_as_secret']} as a secret)")
    speed = report.get("rules_only_no_findings")
    if speed:
        lines.append(f"rules only, no-findings text: {speed['mb_per_s']} MB/s "
                     f"({speed['bytes'] / 1e6:.1f} MB, {speed['findings']} findings)")
    if "ner_speedup_vs_presidio" in report:
        lines.append(f"NER throughput vs presidio: {report['ner_speedup_vs_presidio']:.1f}x "
                     f"wall, {report['ner_speedup_vs_presidio_cpu']:.1f}x per CPU-second")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict[str, Any]:
    names = ["sanitizer", "sanitizer-rules"] + ([] if args.no_presidio else ["presidio"])
    config = BenchConfig(quick=args.quick, data_dir=args.data, datasets=[PRESIDIO, GITLEAKS],
                         round_trip=False, latency_sample=30 if args.quick else 100)
    progress = ConsoleProgress()
    try:
        datasets = {d.name: d for d in load_datasets(config, progress)}
        if PRESIDIO not in datasets or GITLEAKS not in datasets:
            raise SanitizerError("both labelled corpora are needed (see --data)")
        systems, info, _skipped = build_systems(names, progress)
        report: dict[str, Any] = {
            "machine": machine(),
            "systems": {n: f"{i['config']} ({i['version']})" for n, i in info.items()},
            "quick": args.quick,
            "presidio_synth_v2_texts": len(datasets[PRESIDIO].records),
            "presidio_synth_v2": {n: _presidio_entry(evaluate(s, datasets[PRESIDIO], config,
                                                              progress))
                                  for n, s in systems.items()},
            "gitleaks": {"sanitizer-rules": _gitleaks_entry(
                evaluate(systems["sanitizer-rules"], datasets[GITLEAKS], config, progress))},
        }
        megabytes = args.megabytes or (1.0 if args.quick else 8.0)
        report["rules_only_no_findings"] = clean_text_speed(systems["sanitizer-rules"],
                                                            megabytes)
    finally:
        progress.close()
    results = report["presidio_synth_v2"]
    if "presidio" in results:
        ours, theirs = results["sanitizer"]["throughput"], results["presidio"]["throughput"]
        report["ner_speedup_vs_presidio"] = round(ours["texts_per_s"] / theirs["texts_per_s"], 2)
        report["ner_speedup_vs_presidio_cpu"] = round(
            ours["texts_per_cpu_s"] / theirs["texts_per_cpu_s"], 2)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data", type=Path,
                        help="folder holding the JSONL corpora (default: ../shared/data)")
    parser.add_argument("--quick", action="store_true", help="150 + 400 texts, 1 MB")
    parser.add_argument("--no-presidio", action="store_true", help="skip the Presidio reference")
    parser.add_argument("--megabytes", type=float, default=None,
                        help="size of the no-findings text (default 8, quick 1)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON report path")
    args = parser.parse_args(argv)
    try:
        report = run(args)
    except SanitizerError as exc:
        print(f"bench_detection: error: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(summary(report))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
