"""NER detector: names and addresses in generated sentences, backends, batching, no leaks."""

from __future__ import annotations

import logging
import random

import pytest

from sanitizer.detect import BatchDetector, Detector
from sanitizer.detect.ner import NerDetector, split_long
from sanitizer.detect.ner_context import (
    PERSON,
    Candidate,
    EmailIndex,
    adjust,
    created_by_context,
    drop_lone_numbers,
)
from sanitizer.findings import Finding

# Tiny made-up lists for templates; not detection dictionaries.
GIVEN = ("Ada", "Borislav", "Ingrid", "Tomasz", "Amara", "Henrik")
FAMILY = ("Quist", "Tanev", "Holm", "Wojcik", "Okafor", "Lindqvist")
STREETS = ("Baker Street", "Elm Avenue", "Harbour Road", "Mill Lane")
CITIES = ("Springfield", "Leeds", "Tampere", "Ghent")

NAME_TEMPLATES = (
    "Please send the signed contract to {name} before Friday.",
    "Yesterday {name} reported that the deployment failed twice.",
    "Dear {given}, thank you for your order.",
    "My name is {name} and I cannot log in to my account.",
    "The ticket was reassigned from {name} to the platform team.",
    "Can you ask {name} whether the invoice was paid?",
)
ADDRESS_TEMPLATES = (
    "Ship the replacement to {number} {street}, {city}.",
    "Our new office is at {number} {street} in {city}.",
    "Billing address: {number} {street}, {city}",
)


def _name_cases(count: int, seed: int = 1234) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        given, family = rng.choice(GIVEN), rng.choice(FAMILY)
        template = rng.choice(NAME_TEMPLATES)
        name = given if "{given}" in template else f"{given} {family}"
        cases.append((template.format(name=name, given=given), name))
    return cases


def _address_cases(count: int, seed: int = 99) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        street = f"{rng.randint(2, 240)} {rng.choice(STREETS)}"
        text = rng.choice(ADDRESS_TEMPLATES).format(
            number=street.split()[0], street=street.split(" ", 1)[1], city=rng.choice(CITIES))
        cases.append((text, street))
    return cases


def _covered(text: str, value: str, findings: list[Finding], entities: set[str]) -> bool:
    start = text.index(value)
    end = start + len(value)
    return any(f.entity in entities and f.start < end and start < f.end for f in findings)


@pytest.fixture(scope="module")
def detector() -> NerDetector:
    return NerDetector()


def test_is_a_batch_detector(detector: NerDetector) -> None:
    assert isinstance(detector, Detector)
    assert isinstance(detector, BatchDetector)
    assert detector.name == "ner"


def test_finds_names_in_generated_sentences(detector: NerDetector) -> None:
    cases = _name_cases(12)
    results = detector.detect_batch([text for text, _ in cases])
    missed = [name for (text, name), found in zip(cases, results, strict=True)
              if not _covered(text, name, found, {PERSON})]
    assert not missed, f"names missed: {missed}"
    for (_, _), found in zip(cases, results, strict=True):
        for finding in found:
            if finding.entity == PERSON:
                assert finding.category == "contact"
                assert finding.detector == "ner"
                assert finding.rule_id == "ner-person"


def test_finds_addresses_in_generated_sentences(detector: NerDetector) -> None:
    cases = _address_cases(8)
    results = detector.detect_batch([text for text, _ in cases])
    for (text, street), found in zip(cases, results, strict=True):
        assert _covered(text, street, found, {"STREET_ADDRESS", "LOCATION"}), street
        assert all(f.category == "contact" for f in found if f.entity != "ORGANIZATION")


def test_address_parts_are_merged_into_one_span(detector: NerDetector) -> None:
    text = "Deliver it to 42 Harbour Road, Tampere please."
    places = [f for f in detector.detect(text) if f.entity in ("STREET_ADDRESS", "LOCATION")]
    assert len(places) == 1
    assert text[places[0].start:places[0].end].startswith("42 Harbour Road")
    assert places[0].entity == "STREET_ADDRESS"


def test_name_after_long_prefix_keeps_offsets(detector: NerDetector) -> None:
    filler = "The nightly build ran all integration suites without errors. " * 20
    text = filler + "Afterwards Ingrid Holm approved the release."
    found = detector.detect(text)
    assert _covered(text, "Ingrid Holm", found, {PERSON})


def test_signature_and_salutation(detector: NerDetector) -> None:
    text = "Hi team,\nthe report is attached.\n\nRegards,\nAmara Okafor"
    assert _covered(text, "Amara Okafor", detector.detect(text), {PERSON})


def test_organisations_are_low_risk(detector: NerDetector) -> None:
    text = "She moved from Microsoft to the United Nations last year."
    orgs = [f for f in detector.detect(text) if f.entity == "ORGANIZATION"]
    assert orgs
    assert all(f.category == "low_risk" for f in orgs)


def test_entities_filter(detector: NerDetector) -> None:
    only_people = NerDetector(entities=("PERSON",))
    only_people._spacy, only_people._rampart = detector._spacy, detector._rampart
    text = "Tomasz Wojcik moved from Microsoft to 12 Mill Lane, Leeds."
    assert {f.entity for f in only_people.detect(text)} == {PERSON}


def test_batch_equals_single(detector: NerDetector) -> None:
    texts = [t for t, _ in _name_cases(4, seed=5)] + [t for t, _ in _address_cases(3, seed=6)]
    texts.append("")
    texts.append("nothing to see here")
    assert detector.detect_batch(texts) == [detector.detect(t) for t in texts]
    assert detector.detect_batch([]) == []


def test_spacy_only_backend() -> None:
    spacy_only = NerDetector(backends=("spacy",))
    assert spacy_only._rampart is None
    text = "Yesterday Henrik Lindqvist flew to Norway."
    found = spacy_only.detect(text)
    assert _covered(text, "Norway", found, {"LOCATION"})


def test_rampart_only_backend(detector: NerDetector) -> None:
    rampart_only = NerDetector(backends=("rampart",))
    assert rampart_only._spacy is None
    rampart_only._rampart = detector._rampart  # reuse the loaded model
    text = "Tomasz Wojcik moved from Microsoft to 12 Mill Lane, Leeds."
    found = rampart_only.detect(text)
    assert _covered(text, "Tomasz Wojcik", found, {PERSON})
    assert not any(f.entity == "ORGANIZATION" for f in found)  # organisations need spaCy


def test_unknown_backend_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown NER backends"):
        NerDetector(backends=("spacy", "bert"))


def test_no_text_in_logs_or_reprs(detector: NerDetector,
                                  caplog: pytest.LogCaptureFixture) -> None:
    secret_name = "Borislav Tanev"
    text = f"Please call {secret_name} at home, he lives at 7 Elm Avenue, Ghent."
    with caplog.at_level(logging.DEBUG):
        found = detector.detect(text)
    assert found
    for fragment in ("Borislav", "Tanev", "Elm Avenue", "Ghent"):
        assert fragment not in caplog.text
        assert fragment not in repr(detector)
        assert fragment not in repr(found)
        assert fragment not in repr(detector._rampart)


# -- context rules (no model needed) -------------------------------------------------


def _candidate(text: str, value: str, score: float = 0.45) -> Candidate:
    start = text.index(value)
    return Candidate(start, start + len(value), PERSON, score, frozenset({"spacy"}))


@pytest.mark.parametrize("text", [
    "Dear Mr. Quist, your parcel is late.",
    "Hi Quist, the build is green.",
    "my name is Quist and I need a refund",
    "Contact: quist.ada@example.org -- Quist will reply",
])
def test_context_raises_a_weak_name(text: str) -> None:
    candidate = _candidate(text, "Quist", 0.45)
    assert adjust(text, candidate, EmailIndex(text)).score >= 0.5


@pytest.mark.parametrize(("text", "value"), [
    ("Thanks for the quick fix.", "Thanks"),
    ("Monday works for me.", "Monday"),
    ("Upgrade to GPT4 before the demo.", "GPT4"),
    ("Ping the AWS folks.", "AWS"),
])
def test_context_lowers_common_and_code_like_words(text: str, value: str) -> None:
    candidate = _candidate(text, value, 0.85)
    assert adjust(text, candidate, EmailIndex(text)).score < 0.5


def test_sentence_start_lowers_single_words_a_little() -> None:
    text = "Okafor said yes."
    inner = "We asked Okafor twice."
    at_start = adjust(text, _candidate(text, "Okafor", 0.85), EmailIndex(text))
    inside = adjust(inner, _candidate(inner, "Okafor", 0.85), EmailIndex(inner))
    assert at_start.score < inside.score


@pytest.mark.parametrize(("text", "name"), [
    ("Hello, my name is Ada Quist and I ordered a lamp.", "Ada Quist"),
    ("Dear Dr. Okafor, please find the results attached.", "Okafor"),
    ("All done.\n\nBest regards,\nHenrik Lindqvist", "Henrik Lindqvist"),
    ("Patch attached.\n-- \nTomasz Wojcik\n", "Tomasz Wojcik"),
])
def test_context_creates_names(text: str, name: str) -> None:
    created = created_by_context(text)
    assert any(text[c.start:c.end] == name for c in created)


def test_context_does_not_create_from_titles_or_common_words() -> None:
    assert created_by_context("Dear Mr.") == []
    assert created_by_context("Dear Customer, your order shipped.") == []


def test_lone_numbers_are_not_addresses() -> None:
    text = "Order 4711 was packed and shipped to 12 Mill Lane."

    def at(value: str, label: str) -> Candidate:
        start = text.index(value)
        return Candidate(start, start + len(value), label, 0.9, frozenset({"rampart"}))

    number, house, street = at("4711", "LOCATION"), at("12", "LOCATION"), \
        at("Mill Lane", "STREET_ADDRESS")
    kept = drop_lone_numbers(text, [number, house, street])
    assert number not in kept
    assert house in kept and street in kept


def test_long_texts_are_split_for_spacy_at_whitespace() -> None:
    text = ("word " * 50 + "\n") * 40
    pieces = split_long(text, limit=1000)
    assert "".join(piece for _, piece in pieces) == text
    assert all(len(piece) <= 1000 for _, piece in pieces)
    for offset, piece in pieces:
        assert text[offset:offset + len(piece)] == piece
        assert piece.endswith(("\n", " ")) or offset + len(piece) == len(text)


def test_rampart_as_presidio_recognizer(detector: NerDetector) -> None:
    from presidio_analyzer import EntityRecognizer

    from sanitizer.detect.rampart import presidio_recognizer

    recognizer = presidio_recognizer(detector._rampart)
    assert isinstance(recognizer, EntityRecognizer)
    text = "Please forward this to Henrik Lindqvist at 9 Mill Lane, Ghent."
    results = recognizer.analyze(text, ["PERSON", "STREET_ADDRESS", "LOCATION"])
    people = [r for r in results if r.entity_type == "PERSON"]
    assert any(text[r.start:r.end] == "Henrik Lindqvist" for r in people)


def test_names_inside_email_addresses_are_left_to_the_rules(detector: NerDetector) -> None:
    text = "Write to AdaQuist@example.org or to ada.quist@example.org today."
    for finding in detector.detect(text):
        assert "@" not in text[finding.start:finding.end]
        assert not (text.index("AdaQuist") <= finding.start < text.index(" or"))
