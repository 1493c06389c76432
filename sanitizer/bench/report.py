"""``report.md``: the tables, how every system was configured, the label maps, the machine
and the versions, and what each dataset was used for while this project was built."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .metrics import MARKER


def _f(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _k(value: Any) -> str:
    return "–" if value is None else f"{value / 1000:,.0f}"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "--:" for i in range(len(header))) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def _headline(dataset: dict[str, Any]) -> list[str]:
    header = ("system", "P", "R", "F1", "strict F1", "covered F1", "leak rate",
              "exposed chars", "benign kept", "kchar/s", "p50 ms", "p95 ms", "peak RSS MiB")
    rows = []
    for name, r in dataset["systems"].items():
        covered = r["micro_covered"]["f1"] if r.get("micro_covered") else None
        rows.append((f"`{name}`", _f(r["micro"]["precision"]), _f(r["micro"]["recall"]),
                     f"**{_f(r['micro']['f1'])}**", _f(r["micro_strict"]["f1"]), _f(covered),
                     _f(r["leak_rate"]), _f(r["exposed_chars"]), _f(r["benign_kept"]),
                     _k(r["chars_per_s"]), _f(r["latency_ms"]["p50"], 1),
                     _f(r["latency_ms"]["p95"], 1), _f(r["peak_rss_delta_mib"], 1)))
    return _table(header, rows)


def _per_label(dataset: dict[str, Any]) -> list[str]:
    systems = list(dataset["systems"])
    header = ("label (gold)", *[f"`{s}`" for s in systems])
    rows = []
    for label in dataset["labels"]:
        gold = next((r["per_label"][label]["gold"] for r in dataset["systems"].values()), 0)
        cells = []
        for s in systems:
            e = dataset["systems"][s]["per_label"][label]
            cells.append(f"{_f(e['f1'])} (P {_f(e['precision'], 2)} R {_f(e['recall'], 2)})")
        rows.append((f"{label} ({gold})", *cells))
    return _table(header, rows)


def _leaks(dataset: dict[str, Any]) -> list[str]:
    labels = sorted({label for r in dataset["systems"].values()
                     for label in r["leak_by_label"]})
    if not labels:
        return []
    rows = [(f"`{s}`", *[_f(r["leak_by_label"].get(label)) for label in labels])
            for s, r in dataset["systems"].items()]
    return _table(("system", *labels), rows)


def _round_trips(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for dname, dataset in results["datasets"].items():
        for sname, r in dataset["systems"].items():
            rt = r.get("round_trip")
            if not rt:
                continue
            if not lines:
                names = list(rt["by_rewrite"])
                lines = _table(("dataset", "system", "restorable", "restored", "records exact",
                                "secret handles kept", *names), [])
            lines.append("| " + " | ".join((
                dname, f"`{sname}`", str(rt["restorable"]), _f(rt["rate"]),
                _f(rt["records_exact"]), _f(rt["secret_handles_kept"]),
                *[_f(v["rate"]) for v in rt["by_rewrite"].values()])) + " |")
    return lines


def _map(mapping: dict[str, str]) -> str:
    return ", ".join(f"{k} → {v}" for k, v in mapping.items()) or "–"


def _code(code: dict[str, Any] | None) -> str:
    if not code:
        return "Code: not from a git checkout."
    note = (" with uncommitted changes to `sanitizer/` or `recognizers/` (work in progress "
            "at the time of the run)" if code["uncommitted_detection_changes"] else "")
    return f"Code: commit `{code['commit'][:12]}`{note}."


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "–"


def render(results: dict[str, Any], plots: Sequence[str] = ()) -> str:
    m = results["machine"]
    mode = "quick subset (`--quick`)" if results["quick"] else "full suite"
    if results.get("limit"):
        mode += f", at most {results['limit']} records per dataset"
    out: list[str] = [
        "# Redaction benchmark: context-sanitizer and its peers",
        "",
        f"{mode}; run {results['created']} with `sanitizer bench "
        f"{' '.join(results.get('argv', []))}`.",
        "",
        f"Machine: {m['cpu'] or '?'}, {m['cpus_usable']} usable of {m['cpus']} CPUs, "
        f"{_f(m['memory_gib'], 1)} GiB RAM; Python {m['python']} on {m['platform']}. "
        "Every system ran in the same process, one after another, after being built and "
        "warmed up; the machine is shared, so wall-clock speed is noisy (CPU seconds are in "
        "`results.json`).",
        "",
        _code(results.get("code")),
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in results.get("packages", {}).items())
        + ".",
        "",
        "## Headline",
        "",
        "Micro figures over the dataset's scored labels, overlap matching; *covered F1* is "
        "the micro F1 over only the labels the system claims to detect. *Leak rate*: share "
        "of planted values still present verbatim in the system's redacted output; *exposed "
        "chars*: share of planted characters no redaction covers; *benign kept*: share of "
        "benign look-alikes left untouched. Speed: one pass over the dataset in chunks of "
        "64 texts; latency one record per call.",
        "",
    ]
    for name, dataset in results["datasets"].items():
        out += [f"### {name} — {dataset['records']} texts, {dataset['chars']:,} chars", "",
                *_headline(dataset), ""]
        if "nospan_texts" in next(iter(dataset["systems"].values()), {}):
            flagged = ", ".join(f"`{s}` {_f(r.get('nospan_flagged'))}"
                                for s, r in dataset["systems"].items())
            out += [f"Texts with a secret but no exact span "
                    f"({next(iter(dataset['systems'].values()))['nospan_texts']}), share "
                    f"flagged: {flagged}.", ""]
    out += ["## F1 per entity", "",
            "Overlap F1 per benchmark label, with precision and recall; the gold count is in "
            "brackets.", ""]
    for name, dataset in results["datasets"].items():
        out += [f"### {name}", "", *_per_label(dataset), ""]
    out += ["## Leak rate per entity", ""]
    for name, dataset in results["datasets"].items():
        table = _leaks(dataset)
        if table:
            out += [f"### {name}", "", *table, ""]
    round_trips = _round_trips(results)
    if round_trips:
        out += ["## Round trip under model rewriting", "",
                "This project's systems only (the peers do not restore): each record is "
                "sanitized with the default policy in its own session, every placeholder is "
                "rewritten as a model might (case, spaces, hyphens, padding, other brackets, "
                "bare), then restored for the user. *Restored*: share of restorable "
                "placeholders (everything but secrets) that come back exactly, each checked "
                "alone; *records exact*: whole texts back exactly with every placeholder "
                "rewritten at once; *secret handles kept*: secrets stay placeholders.", "",
                *round_trips, ""]
    clean = results.get("clean_text", {})
    if clean:
        out += ["## Throughput on clean text", ""]
        for name, c in clean.items():
            out.append(f"`{name}`: {_f(c['mb_per_s'], 1)} MB/s ({_f(c['mb_per_cpu_s'], 1)} MB "
                       f"per CPU-second) over {c['bytes'] / 1e6:.1f} MB of generated prose, "
                       f"code and log lines with nothing to find, in "
                       f"{c['chunk_chars']:,}-char chunks; findings: {c['findings']}.")
        out.append("")
    if plots:
        out += ["## Plots", ""]
        out += [f"![{p}]({p})" for p in plots]
        out.append("")
    out += ["## Datasets", ""]
    for name, d in results["datasets"].items():
        gold = _counts(d["gold_counts"])
        out += [f"### {name}", "",
                f"- {d['description']}; {d['records']} records, {d['chars']:,} chars.",
                f"- Source: {d['source']}.",
                f"- Gold spans: {gold}." + (f" Record kinds: {d['kinds']}." if d["kinds"]
                                             else ""),
                f"- Scored labels: {', '.join(d['labels'])}.",
                f"- Gold label map: {_map(d['label_map'])}.",
                f"- Gold labels not scored (count): {_counts(d['dropped_labels'])}.",
                f"- **Development use: {d['development']}.**", ""]
    out += ["## Systems", "",
            "Each peer is configured the way its documentation recommends; nothing is tuned "
            "per dataset. Spans are what the system replaces in its default redaction; "
            "types outside the benchmark labels map to OTHER (they count for leaks and "
            "benign-kept, not for P/R/F1).", ""]
    for name, s in results["systems"].items():
        out += [f"### `{name}` {s['version']}", "",
                f"- {s['config']}",
                f"- Label map: {_map(s['label_map'])}.",
                f"- Claims to detect: {', '.join(s['covers']) or '–'}.",
                f"- Build and warm-up: {_f(s['load_seconds'], 1)} s, RSS "
                f"+{_f(s['load_rss_delta_mib'], 1)} MiB.", ""]
    for name, reason in results.get("skipped", {}).items():
        out += [f"- `{name}` skipped: {reason}."]
    for key, message in results.get("errors", {}).items():
        out += [f"- error in {key}: {message}"]
    out += ["", "## Method", "",
            "- Matching: a gold span is found when a predicted span of the same label "
            "overlaps it; a prediction is a true positive when it overlaps a gold span of its "
            "label. Strict: identical offsets and label. Predictions of labels a dataset does "
            "not score are neither rewarded nor punished.",
            "- gitleaks_rules: `negative` records (gitleaks' own false-positive samples) count "
            "as one benign look-alike each (benign kept = no redaction anywhere in them) and "
            "any SECRET prediction in them is a false positive; `positive_nospan` records are "
            "scored per text (share flagged).",
            f"- Leak rate: the planted value is searched verbatim in the text with every "
            f"predicted span (any label) replaced by one marker character "
            f"(U+{ord(MARKER):04X}); a value that occurs twice and is redacted once counts as "
            "leaked. This project's `low_risk` findings are allowed by its default policy and "
            "are therefore not redactions here.",
            f"- Memory: {results['memory_method']}.",
            f"- Latency: {results['latency_method']}.",
            "",
            "## Honesty notes", "",
            "- **presidio_synth_v2 was used to develop the NER detector** (backend choice and "
            "context rules) — the `sanitizer` figures on it are not held-out figures.",
            "- **gitleaks_rules was used to develop the secret rules** — `sanitizer-rules` and "
            "`sanitizer` figures on it measure coverage of formats, not generalisation; "
            "gitleaks itself would score ~100% by construction.",
            "- **agent_traffic is written by this project's team**, like the rules; it is not "
            "an independent test set. Its secrets are random strings shaped like real ones "
            "(never real credentials), names and addresses come from small hand-written pools.",
            "- Names and addresses in presidio_synth_v2 come from a Faker-style generator; no "
            "name or address list is used for detection by this project.",
            "", "## Licences of the external data", ""]
    for name, d in results["datasets"].items():
        if d["licence"]:
            out += [f"### {name}", "", "```", d["licence"], "```", ""]
    return "\n".join(out).rstrip() + "\n"
