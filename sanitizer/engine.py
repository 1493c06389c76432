"""The Sanitizer: the one place where catalog, detectors and normalisation meet."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .config import DetectionSettings, Settings, load_settings
from .detect import BatchDetector, Detector
from .errors import Blocked, InputError, SanitizerError
from .findings import Finding, JsonPath, resolve_overlaps
from .normalize import views
from .rules import Catalog, builtin_catalog_dir, load_catalog

Json = str | int | float | bool | None | list["Json"] | dict[str, "Json"]


@dataclass(frozen=True, slots=True)
class Redaction:
    """The sanitized text (or JSON value) and the findings in the *input*."""

    result: Json
    findings: list[Finding]


def _marker(finding: Finding) -> str:
    return f"<{finding.entity}>"


def replace_spans(text: str, findings: Sequence[Finding],
                  replacement: Callable[[Finding], str] = _marker) -> str:
    """Replace non-overlapping findings (sorted or not) in ``text``."""
    out: list[str] = []
    position = 0
    for finding in sorted(findings, key=lambda f: f.start):
        out.append(text[position:finding.start])
        out.append(replacement(finding))
        position = finding.end
    out.append(text[position:])
    return "".join(out)


def _leaves(value: Json, path: JsonPath = ()) -> Iterator[tuple[JsonPath, Json]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path, value


def _set_leaf(root: Json, path: JsonPath, value: Json) -> Json:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(root, dict) and isinstance(head, str):
        return {**root, head: _set_leaf(root[head], rest, value)}
    if isinstance(root, list) and isinstance(head, int):
        copy = list(root)
        copy[head] = _set_leaf(copy[head], rest, value)
        return copy
    raise InputError("JSON path does not match the document")


class Sanitizer:
    """Detects secrets and PII in text or JSON and redacts them.

    ``Sanitizer()`` runs on embedded defaults; ``Sanitizer.from_config(path)`` reads a TOML
    file. Detectors can be replaced or extended with any object that has ``name`` and
    ``detect(text) -> list[Finding]``.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        detectors: Sequence[Detector] | None = None,
        catalog: Catalog | None = None,
        environ: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> None:
        settings = settings or Settings()
        if overrides:
            settings = replace(settings, detection=replace(settings.detection, **overrides))
        self.settings = settings
        self._environ = os.environ if environ is None else environ
        self._catalog = catalog
        self._detectors = list(detectors) if detectors is not None else None

    @classmethod
    def from_config(cls, path: str | Path, **kwargs: Any) -> Sanitizer:
        return cls(load_settings(path), **kwargs)

    # -- composition --------------------------------------------------------------

    @property
    def detection(self) -> DetectionSettings:
        return self.settings.detection

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            extra = [Path(p) for p in self.detection.rules]
            self._catalog = load_catalog([builtin_catalog_dir(), *extra])
        return self._catalog

    @property
    def detectors(self) -> list[Detector]:
        """Cheapest first: rules, structure, phones, known values, then NER if enabled."""
        if self._detectors is None:
            from .detect.known_values import KnownValuesDetector
            from .detect.phones import PhoneDetector
            from .detect.rules_engine import RuleEngine
            from .detect.structure import StructureDetector

            detectors: list[Detector] = [
                RuleEngine(self.catalog, min_score=self.detection.min_score),
                StructureDetector(),
                PhoneDetector(),
            ]
            if self.detection.known_values_from_env:
                detectors.append(KnownValuesDetector.from_environment(self._environ))
            if self.detection.ner:
                from .detect.ner import NerDetector

                detectors.append(NerDetector(backends=self.detection.ner_backends,
                                             spacy_model=self.detection.spacy_model))
            self._detectors = detectors
        return self._detectors

    # -- detection ----------------------------------------------------------------

    def _check_size(self, text: str) -> None:
        if len(text) > self.detection.max_input_chars:
            raise InputError(
                f"input of {len(text)} characters exceeds max_input_chars="
                f"{self.detection.max_input_chars}")

    def _run(self, detector: Detector, text: str) -> list[Finding]:
        try:
            return detector.detect(text)
        except SanitizerError:
            raise
        except Exception as exc:  # fail closed, without echoing the text
            raise Blocked(f"detector {detector.name!r} failed ({type(exc).__name__})") from None

    def _detect_text(self, text: str, ner: Sequence[Finding] = ()) -> list[Finding]:
        """Every non-batch detector over every view of ``text``, plus the batched NER
        findings of the original text, mapped to the original and de-overlapped."""
        found: list[Finding] = list(ner)
        for view in views(text):
            for detector in self.detectors:
                if isinstance(detector, BatchDetector):
                    continue
                for finding in self._run(detector, view.text):
                    if view.layer == "original":
                        found.append(finding)
                        continue
                    start, end = view.to_original(finding.start, finding.end)
                    if start < end:
                        found.append(replace(finding, start=start, end=end))
        return resolve_overlaps(found)

    def _batch_ner(self, texts: Sequence[str]) -> list[list[Finding]]:
        batchers = [d for d in self.detectors if isinstance(d, BatchDetector)]
        results: list[list[Finding]] = [[] for _ in texts]
        for detector in batchers:
            try:
                batch = detector.detect_batch(texts)
            except SanitizerError:
                raise
            except Exception as exc:
                raise Blocked(f"detector {detector.name!r} failed ({type(exc).__name__})") \
                    from None
            for slot, findings in zip(results, batch, strict=True):
                slot.extend(findings)
        return results

    def detect(self, data: Json) -> list[Finding]:
        """Findings in a text, or in every string of a JSON value (with ``path`` set)."""
        if isinstance(data, str):
            return self.detect_batch([data])[0]
        return self._detect_json(data)

    def detect_batch(self, texts: Sequence[str]) -> list[list[Finding]]:
        for text in texts:
            if not isinstance(text, str):
                raise InputError(f"expected text, got {type(text).__name__}")
            self._check_size(text)
        ner = self._batch_ner(texts)
        return [self._detect_text(text, found) for text, found in zip(texts, ner, strict=True)]

    def _detect_json(self, data: Json) -> list[Finding]:
        """Scalars under a secret-naming key are secrets whatever their shape; every other
        string is scanned as text."""
        from .detect.structure import secret_key_name

        findings: list[Finding] = []
        strings: list[tuple[JsonPath, str]] = []
        for path, value in _leaves(data):
            key = next((p for p in reversed(path) if isinstance(p, str)), None)
            entity = secret_key_name(key) if key is not None else None
            text = value if isinstance(value, str) else None
            if entity is not None and value is not None and not isinstance(value, bool):
                length = len(text) if text is not None else len(str(value))
                if length:
                    findings.append(Finding(0, length, entity, "secret", "structure-json-key",
                                            "structure", 0.9, path))
                    continue
            if text:
                strings.append((path, text))
        per_text = self.detect_batch([text for _, text in strings])
        for (path, _text), found in zip(strings, per_text, strict=True):
            findings.extend(replace(f, path=path) for f in found)
        return findings

    # -- redaction ----------------------------------------------------------------

    def redact(self, data: Json) -> Redaction:
        """Replace every finding with an ``<ENTITY>`` marker (policy-free redaction)."""
        findings = self.detect(data)
        if isinstance(data, str):
            return Redaction(replace_spans(data, findings), findings)
        result: Json = data
        by_path: dict[JsonPath, list[Finding]] = {}
        for finding in findings:
            by_path.setdefault(finding.path, []).append(finding)
        leaves = dict(_leaves(data))
        for path, found in by_path.items():
            leaf = leaves[path]
            if isinstance(leaf, str):
                result = _set_leaf(result, path, replace_spans(leaf, found))
            else:
                result = _set_leaf(result, path, _marker(found[0]))
        return Redaction(result, findings)
