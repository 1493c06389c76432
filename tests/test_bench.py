"""``sanitizer bench``: a small quick run end to end, its schema, plots and sanity; the
scoring and the peer adapters on hand-made cases; bad --data files."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from sanitizer.bench.agent_corpus import generate, load_agent_corpus, snippet
from sanitizer.bench.datasets import find_data_dir
from sanitizer.bench.labels import BENCH_LABELS, BENIGN, SECRET
from sanitizer.bench.metrics import Exposure, Scorer, percentile
from sanitizer.bench.peers import gitleaks_spans, redacted_spans
from sanitizer.bench.records import Record, Span
from sanitizer.bench.roundtrip import REWRITES, round_trip
from sanitizer.bench.systems import REGISTRY, System
from sanitizer.cli import main

ALWAYS = ("sanitizer", "sanitizer-rules", "presidio", "detect-secrets", "scrubadub")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("bench")
    code = main(["bench", "--quick", "--limit", "24", "--clean-mb", "0.05", "--out", str(out),
                 "--systems", ",".join(ALWAYS)])
    assert code == 0
    return out, json.loads((out / "results.json").read_text(encoding="utf-8"))


def test_quick_run_schema(quick_run: tuple[Path, dict[str, Any]]) -> None:
    _, results = quick_run
    expected = {"agent_traffic"}
    if find_data_dir() is not None:
        expected |= {"presidio_synth_v2", "gitleaks_rules"}
    assert set(results["datasets"]) == expected
    assert set(results["systems"]) == set(ALWAYS)
    for dataset in results["datasets"].values():
        assert set(dataset["systems"]) == set(ALWAYS)
        for result in dataset["systems"].values():
            assert set(result["micro"]) >= {"precision", "recall", "f1"}
            assert set(result["per_label"]) == set(dataset["labels"])
            for key in ("leak_rate", "benign_kept", "chars_per_s", "latency_ms",
                        "peak_rss_delta_mib", "micro_strict"):
                assert key in result
            assert 0 <= result["micro"]["f1"] <= 1
            assert result["chars_per_s"] > 0
            assert result["latency_ms"]["p50"] <= result["latency_ms"]["p95"]
    agent = results["datasets"]["agent_traffic"]
    assert agent["records"] == 24
    for name in ("sanitizer", "sanitizer-rules"):
        trip = agent["systems"][name]["round_trip"]
        assert trip["restorable"] > 0 and trip["rate"] is not None
    assert "round_trip" not in agent["systems"]["presidio"]


def test_quick_run_numbers_are_sane(quick_run: tuple[Path, dict[str, Any]]) -> None:
    _, results = quick_run
    agent = results["datasets"]["agent_traffic"]["systems"]
    ours, ds = agent["sanitizer-rules"], agent["detect-secrets"]
    # Planted secrets: the rules find more of them and let fewer survive than detect-secrets.
    assert ours["per_label"][SECRET]["recall"] > ds["per_label"][SECRET]["recall"]
    assert ours["leak_by_label"][SECRET] < ds["leak_by_label"][SECRET]
    # Look-alikes (hashes, UUIDs, versions…) stay: the rules keep more than the entropy scan.
    assert ours["benign_kept"] > ds["benign_kept"]
    # NER adds names and places: the full cascade beats the rules alone on PERSON.
    assert agent["sanitizer"]["per_label"]["PERSON"]["recall"] > \
        ours["per_label"]["PERSON"]["recall"]
    # A restored placeholder is the value itself: the unmodified form always comes back.
    assert ours["round_trip"]["by_rewrite"]["exact"]["rate"] in (None, 1.0)
    if "gitleaks_rules" in results["datasets"]:
        gitleaks = results["datasets"]["gitleaks_rules"]["systems"]
        assert gitleaks["presidio"]["per_label"][SECRET]["recall"] == 0  # no secret rules


def test_quick_run_plots_and_report(quick_run: tuple[Path, dict[str, Any]]) -> None:
    out, results = quick_run
    pngs = sorted(out.glob("*.png"))
    names = {p.name for p in pngs}
    assert {"speed_vs_quality.png", "leak_rate.png"} <= names
    assert {f"f1_per_entity_{d}.png" for d in results["datasets"]} <= names
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.stat().st_size > 5_000
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "agent_traffic is written by this project's team" in report
    for system in ALWAYS:
        assert f"`{system}`" in report
    if "presidio_synth_v2" in results["datasets"]:
        assert "Copyright (c) Microsoft Corporation" in report
        assert "Copyright (c) 2019 Zachary Rice" in report
        assert "used to develop and choose the defaults of the NER detector" in report


# -- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(("content", "message"), [
    ('{"text": "ok", "spans": []}\n\n{"text": "a", "spans": [}\n', ":3: not valid JSON"),
    ('{"text": "short", "spans": [{"start": 2, "end": 9, "label": "PERSON"}]}\n',
     ":1: spans[0]: offsets 2..9 outside the text"),
    ('{"spans": []}\n', ":1: field 'text' must be a string"),
    ('[1, 2]\n', ":1: expected a JSON object"),
    ('{"text": "abc", "spans": [{"start": "0", "end": 2, "label": "X"}]}\n',
     ":1: spans[0]: start and end must be integers"),
])
def test_bad_data_file_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         content: str, message: str) -> None:
    data = tmp_path / "mine.jsonl"
    data.write_text(content, encoding="utf-8")
    code = main(["bench", "--datasets", "agent_traffic", "--data", str(data), "--systems",
                 "sanitizer-rules", "--clean-mb", "0", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("sanitizer: error:")]
    assert len(lines) == 1 and f"{data}{message}" in lines[0]
    assert "Traceback" not in err


def test_unknown_system_and_missing_file(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--systems", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown system(s) nope" in capsys.readouterr().err
    assert main(["bench", "--data", str(tmp_path / "missing.jsonl"), "--datasets",
                 "agent_traffic", "--out", str(tmp_path)]) == 2
    assert "no such file" in capsys.readouterr().err


def test_user_file_is_scored(tmp_path: Path) -> None:
    text = "mail ann.lee@example.com, build 3.2.1"
    data = tmp_path / "mine.jsonl"
    data.write_text(json.dumps({"text": text, "spans": [
        {"start": 5, "end": 24, "label": "EMAIL_ADDRESS"},
        {"start": 32, "end": 37, "label": "BENIGN"},
        {"start": 0, "end": 4, "label": "VERB"}]}) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["bench", "--datasets", "agent_traffic", "--limit", "5", "--data", str(data),
                 "--systems", "sanitizer-rules", "--no-plots", "--clean-mb", "0", "--out",
                 str(out)]) == 0
    mine = json.loads((out / "results.json").read_text())["datasets"]["mine"]
    assert mine["labels"] == ["EMAIL"] and mine["dropped_labels"] == {"VERB": 1}
    result = mine["systems"]["sanitizer-rules"]
    assert result["micro"]["recall"] == 1.0 and result["leak_rate"] == 0.0
    assert result["benign_kept"] == 1.0


# -- scoring -----------------------------------------------------------------------------


def test_scorer_overlap_and_strict() -> None:
    scorer = Scorer(("PERSON", "EMAIL"))
    gold = [Span(0, 5, "PERSON"), Span(10, 20, "EMAIL")]
    scorer.add(gold, [Span(0, 3, "PERSON"), Span(10, 20, "EMAIL"), Span(30, 35, "PERSON"),
                      Span(0, 5, "IP")])
    overlap, strict = scorer.micro(), scorer.micro(strict=True)
    assert (overlap.gold_found, overlap.gold_total, overlap.pred_tp, overlap.pred_total) == \
        (2, 2, 2, 3)
    assert (strict.gold_found, strict.pred_tp) == (1, 1)
    assert scorer.micro(labels=["EMAIL"]).f1 == 1.0


def test_exposure_counts_verbatim_leaks_partial_cover_and_benign() -> None:
    text = "key AAAABBBBCCCC and AAAABBBBCCCC, sha 1234abcd"
    gold = [Span(4, 16, SECRET), Span(21, 33, SECRET)]
    benign = [Span(39, 47, BENIGN)]
    exposure = Exposure()
    exposure.add(text, gold, benign, [Span(4, 16, "OTHER"), Span(21, 25, SECRET)])
    report = exposure.report()
    # Both copies are cut, so the value no longer appears whole; but 8 of the 24 planted
    # characters stay visible.
    assert report["leak_rate"] == 0.0
    assert report["exposed_chars"] == round(8 / 24, 4)
    assert report["benign_kept"] == 1.0
    leaky = Exposure()
    leaky.add(text, gold, benign, [Span(4, 16, SECRET), Span(40, 42, SECRET)])
    assert leaky.report()["leak_rate"] == 1.0  # the value still appears once
    assert leaky.report()["benign_kept"] == 0.0
    pii_only = Exposure()  # an e-mail in a secret corpus' negative: flagged, not as a secret
    pii_only.add(text, gold, benign, [Span(40, 42, "EMAIL")], labels=(SECRET,))
    assert (pii_only.report()["benign_kept"], pii_only.report()["benign_kept_in_scope"]) == (
        0.0, 1.0)


def test_percentile_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0, 4.0], 50) == 2.0
    assert percentile([float(v) for v in range(1, 101)], 95) == 95.0


# -- peers ---------------------------------------------------------------------------------


def test_detect_secrets_uses_the_cli_verdict() -> None:
    system = REGISTRY["detect-secrets"].factory()
    texts = ["2025-01-01T00:00:00Z INFO worker processed batch from client (attempt 3)",
             'db_password = "Vk7pL2qmZ9xR4tW8"']
    plain, keyed = system.detect_batch(texts)
    assert plain == []  # ad-hoc scanning yields every word; the verdict drops them
    assert [texts[1][s.start:s.end] for s in keyed] == ["Vk7pL2qmZ9xR4tW8"]


def test_redacted_spans_from_a_diff() -> None:
    original = "token=abcdef123456 and more"
    assert redacted_spans(original, "token=****** and more") == [(6, 18)]
    assert redacted_spans(original, original) == []


def test_gitleaks_report_to_spans() -> None:
    texts = ["nothing", "line one\napi_key = 'q8Vx2LmP0s'\n"]
    findings = [{"File": "/tmp/x/0000001.txt", "StartLine": 2, "Secret": "q8Vx2LmP0s"},
                {"File": "/tmp/x/0000009.txt", "StartLine": 1, "Secret": "zzz"},
                {"File": "/tmp/x/notes.txt", "StartLine": 1, "Secret": "x"}]
    spans = gitleaks_spans(texts, findings)
    assert spans[0] == []
    assert [texts[1][s.start:s.end] for s in spans[1]] == ["q8Vx2LmP0s"]


def test_optional_peers_skip_cleanly(tmp_path: Path) -> None:
    from sanitizer.bench.progress import NullProgress
    from sanitizer.bench.runner import build_systems

    progress = NullProgress()
    systems, _info, skipped = build_systems(["gitleaks", "llm-guard-secrets"], progress)
    for name in ("gitleaks", "llm-guard-secrets"):
        assert (name in systems) != (name in skipped)
        if name in skipped:
            assert any(note.startswith(f"{name} skipped") for note in progress.notes)


# -- agent corpus ------------------------------------------------------------------------


def test_agent_corpus_is_deterministic_and_well_formed() -> None:
    first, again = generate(150, seed=7), generate(150, seed=7)
    assert [r.text for r in first] == [r.text for r in again]
    assert [r.text for r in generate(150, seed=8)] != [r.text for r in first]
    labels = {s.label for r in first for s in r.spans}
    assert labels <= {*BENCH_LABELS, BENIGN} and {SECRET, BENIGN, "PERSON"} <= labels
    for record in first:
        ordered = sorted(record.spans, key=lambda s: s.start)
        for left, right in itertools.pairwise(ordered):
            assert left.end <= right.start  # planted values never overlap
        for span in record.spans:
            value = record.text[span.start:span.end]
            assert value and value == value.strip()
    assert {r.surface for r in first} == {"prompt", "tool_result", "memory_write", "log"}
    assert len(load_agent_corpus(limit=40).records) == 40


def test_snippet_labels_follow_the_markers() -> None:
    text, spans = snippet("Hi «PERSON|{p_name}», key «SECRET|sk_live_{alnum:24}».",
                          random.Random(3))
    assert [(s.label, len(text[s.start:s.end].split())) for s in spans] == \
        [("PERSON", 2), (SECRET, 1)]
    assert text[spans[1].start:spans[1].end].startswith("sk_live_")


# -- round trip ----------------------------------------------------------------------------


def _record(text: str) -> Record:
    return Record("r", text, (), {"surface": "prompt"})


def test_round_trip_tolerates_model_rewrites_and_detects_breakage() -> None:
    from sanitizer.engine import Sanitizer
    from sanitizer.validators import GENERATORS

    engine = Sanitizer(ner=False, environ={})
    token = GENERATORS["github_token"](random.Random(1), ["ghp"])
    records = [_record("Write to ann.lee@example.com or call +1 415 823 1947 today."),
               _record(f"Card 4111 1111 1111 1111 and token {token}")]
    result = round_trip(engine, records, seed=0)
    assert result["restorable"] >= 3
    assert result["by_rewrite"]["exact"]["n"] >= 1
    assert result["secret_handles"] >= 1 and result["secret_handles_kept"] == 1.0
    # A rewrite the grammar cannot read must show up as a failure, not pass silently.
    broken = {name: (lambda e, n, f: f"<<{e}~{n}>>") for name in REWRITES}
    failed = round_trip(engine, records, seed=0, rewrites=broken)
    assert failed["rate"] == 0.0 and failed["records_exact"] == 0.0
    assert failed["secret_handles_kept"] == 1.0


def test_every_registered_system_is_a_system() -> None:
    class Fake:
        name = "fake"

        def detect_batch(self, texts: Sequence[str]) -> list[list[Span]]:
            return [[] for _ in texts]

    assert isinstance(Fake(), System)
    assert set(ALWAYS) <= set(REGISTRY)


def test_our_systems_load_their_models_before_the_first_text() -> None:
    from sanitizer.bench.systems import SanitizerSystem
    from sanitizer.detect.ner import NerDetector

    full = SanitizerSystem(ner=True)
    ner = [d for d in full.engine.detectors if isinstance(d, NerDetector)]
    assert len(ner) == 1 and ner[0]._spacy is not None and ner[0]._rampart is not None
    # loaded by the constructor, not by a text that happens to need them (timed runs)
    assert ner[0]._spacy._nlp is not None and ner[0]._rampart._loaded is not None
    rules = SanitizerSystem(ner=False)
    assert not any(isinstance(d, NerDetector) for d in rules.engine.detectors)


def test_a_gitleaks_negative_identical_to_a_positive_is_no_negative(tmp_path: Path) -> None:
    from sanitizer.bench.datasets import GITLEAKS_FILE, load_gitleaks

    same = 'password = "Zq8vLm2Px0"'
    rows = [{"id": "p", "text": same, "spans": [{"start": 12, "end": 22, "label": "SECRET"}],
             "meta": {"kind": "positive"}},
            {"id": "n1", "text": same + "\n", "spans": [], "meta": {"kind": "negative"}},
            {"id": "n2", "text": "password = env.get('P')", "spans": [],
             "meta": {"kind": "negative"}}]
    (tmp_path / GITLEAKS_FILE).write_text("".join(json.dumps(r) + "\n" for r in rows))
    records = {r.id: r for r in load_gitleaks(tmp_path).records}
    assert [s.label for s in records["n1"].spans] == []
    assert [s.label for s in records["n2"].spans] == [BENIGN]
