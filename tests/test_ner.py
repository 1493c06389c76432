"""NER detector: names and addresses in generated sentences, backends, batching, no leaks."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from typing import Any

import pytest

from sanitizer.detect import BatchDetector, Detector
from sanitizer.detect.ner import NerDetector, propagate, split_long
from sanitizer.detect.ner_context import (
    PERSON,
    Candidate,
    EmailIndex,
    adjust,
    created_by_context,
    drop_lone_numbers,
    join_parts,
)
from sanitizer.detect.ner_prefilter import Window, plan, triggers, windows
from sanitizer.detect.rampart import RampartTagger, TaggedSpan
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


# -- prefilter (no model needed) ------------------------------------------------------

PREFILTER_TEMPLATES = (
    "{name} approved the release.",
    "{family} said the tests pass.",
    "Yesterday {name} reported that the deployment failed twice.",
    "Dear {given}, thank you for your order.",
    "Mr. {family} flew to {city} on Monday.",
    "What's your last name? {family}",
    "The build is green.\n\nRegards,\n{name}",
    '{{"customer": {{"name": "{name}", "city": "{city}"}}}}',
    '{{"owner": "{family}", "status": "active"}}',
    "order_id,customer\n4711,{name}",
    "2024-05-01T10:00:00Z INFO [http] password reset requested by {name}",
    "2024-05-01T10:00:00Z INFO user={family} action=login",
    "quota resets at 10:15:00. {given} asked us to call back.",
    "ship it to {number} {street}, {city}",
    "my name is {lower_name} and i live in {lower_city}",
    "# Maintainer: {name}",
)


def _prefilter_cases(count: int, seed: int = 321) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    cases = []
    for index in range(count):
        template = PREFILTER_TEMPLATES[index % len(PREFILTER_TEMPLATES)]
        given, family, city = rng.choice(GIVEN), rng.choice(FAMILY), rng.choice(CITIES)
        values = {"given": given, "family": family, "name": f"{given} {family}", "city": city,
                  "street": rng.choice(STREETS), "number": str(rng.randint(2, 240)),
                  "lower_name": f"{given} {family}".lower(), "lower_city": city.lower()}
        text = template.format(**values)
        for key in ("name", "family", "given", "lower_name", "street"):
            if "{" + key + "}" in template:
                cases.append((text, values[key]))
                break
    return cases


@pytest.mark.parametrize(("text", "value"), _prefilter_cases(48))
def test_prefilter_never_skips_a_name_in_common_contexts(text: str, value: str) -> None:
    start = text.index(value)
    end = start + len(value)
    assert any(w.start <= start and end <= w.end for w in windows(text)), text


NO_NAME_TEXTS = (
    "\n".join(f"2024-05-01T10:00:{i:02d}Z INFO  [worker-{i % 3}] Health check passed for "
              f"service payments-api ({i} checks)" for i in range(20)),
    '{"ok": true, "items": [{"id": 42, "status": "active", "sku": "SKU-9F2A"}], '
    '"next": "https://api.example.com/v1/items?cursor=abc"}',
    "class ConfigLoader:\n    \"\"\"Loads settings from disk.\"\"\"\n\n"
    "    def load(self, path: Path) -> dict[str, Any]:\n"
    "        return json.loads(path.read_text())\n",
    "$ git status\nOn branch main\nChanges not staged for commit:\n  modified:   src/app.py\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: payments-api\n",
    "HTTP/1.1 200 OK\nContent-Type: application/json\nX-Request-Id: 7f3a\n",
    "SELECT id, status FROM orders WHERE created_at > NOW() - INTERVAL '1 day';",
)


@pytest.mark.parametrize("text", NO_NAME_TEXTS)
def test_prefilter_skips_code_logs_and_json(text: str) -> None:
    assert windows(text) == []


def test_prefilter_windows_are_word_aligned_and_merged() -> None:
    filler = "the nightly job copied every table without errors and then it slept. " * 12
    text = filler + "Then Ingrid Holm approved it. " + filler + "Later Tomasz Wojcik agreed."
    found = windows(text)
    assert len(found) == 2  # one window per name: their contexts do not touch
    for window, name in zip(found, ("Ingrid Holm", "Tomasz Wojcik"), strict=True):
        start = text.index(name)
        assert window.start <= start - 60 and start + len(name) <= window.end
        assert window.start == 0 or text[window.start - 1] == " "
        assert window.end == len(text) or text[window.end] == " "
    short = "We asked Ingrid Holm twice."
    assert windows(short) == [Window(0, len(short))]  # mostly covered: the whole text
    assert windows("") == [] and windows("   \n") == []


def test_prefilter_trigger_rules() -> None:
    def words(text: str) -> list[str]:
        return [text[s:e] for s, e in triggers(text)]

    assert words("Okafor met McDonald and O'Brien in Zürich.") == [
        "Okafor", "McDonald", "O'Brien", "Zürich"]
    assert words("The HttpClient calls getUser() on Base64 data via HTTP.") == []
    assert words('config.Loader(x); "Name": 1; os.Path; --Verbose; <Widget/>') == []
    assert words("Please note: Monday and Error are common words.") == []
    assert words("all lower case text about henrik holm") == [
        "lower", "case", "text", "henrik", "holm"]  # caseless: no word is ruled out by case
    assert words("SHIP TO ADA QUIST") == ["SHIP", "ADA", "QUIST"]  # one case: the same
    assert words("We moved here from ESPOO last year.") == ["ESPOO"]
    assert words("The API returns JSON over HTTPS; see the FAQ.") == []
    assert words("2024-05-01 10:00:00 WARN [db] SLOW QUERY on orders") == []
    assert words("I'm sure Thanks and Summarise are no names.") == []


def test_prefilter_repeats_open_no_window_and_findings_are_copied() -> None:
    lines = [f"2024-05-01T10:00:{i:02d}Z INFO  [http] reset requested by Ada Quist "
             f"for account {4000 + i}" for i in range(12)]
    text = "\n".join(lines)
    layout = plan(text)
    assert layout.repeats  # later lines are not read by the models
    assert sum(w.end - w.start for w in layout.windows) < len(text) / 2
    read = [  # what the models find: the name wherever a window holds it
        Finding(at, at + len("Ada Quist"), PERSON, "contact", "ner-person", "ner", 0.9)
        for line in range(12)
        if any(w.start <= (at := text.index("Ada Quist", len("\n".join(lines[:line]))))
               and at + len("Ada Quist") <= w.end for w in layout.windows)]
    assert 0 < len(read) < 12
    copied = propagate(text, read, layout.repeats)
    assert [text[f.start:f.end] for f in copied] == ["Ada Quist"] * 12
    assert all(f.entity == PERSON and f.score == 0.9 for f in copied)
    assert propagate(text, [], layout.repeats) == []


def test_prefilter_is_linear_on_adversarial_text() -> None:
    # Many distinct capitalised words, many repeats, no spaces: must finish, not hang.
    text = " ".join(f"Word{chr(97 + i % 26)}x Ab" for i in range(20_000)) + "A" * 50_000
    layout = plan(text)
    assert layout.windows or layout.repeats is not None


# -- cascade and int8 (models) --------------------------------------------------------


def _spy(detector: NerDetector, monkeypatch: pytest.MonkeyPatch, backend: str,
         method: str) -> tuple[NerDetector, list[str]]:
    """A detector sharing ``detector``'s models, and the texts its ``backend`` is given
    through ``method``."""
    read: list[str] = []
    spy = NerDetector()
    spy._spacy, spy._rampart = detector._spacy, detector._rampart
    model = getattr(spy, backend)
    assert model is not None
    real = getattr(model, method)

    def recording(pieces: Sequence[str]) -> Any:
        read.extend(pieces)
        return real(pieces)

    monkeypatch.setattr(model, method, recording)
    return spy, read


def test_models_do_not_read_texts_without_triggers(detector: NerDetector,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    spy, read = _spy(detector, monkeypatch, "_rampart", "tag_batch")
    assert spy.detect_batch(list(NO_NAME_TEXTS)) == [[] for _ in NO_NAME_TEXTS]
    assert read == []
    text = NO_NAME_TEXTS[0] + "\nescalated by Henrik Lindqvist"
    found = spy.detect(text)
    assert _covered(text, "Henrik Lindqvist", found, {PERSON})
    assert read and sum(map(len, read)) < len(text) / 2


def test_spacy_reads_only_what_rampart_leaves_open(detector: NerDetector,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    spy, read = _spy(detector, monkeypatch, "_spacy", "candidates")
    spy.detect("Please ask Tomasz Wojcik about the invoice.")
    assert read == []  # a two-word name Rampart found: nothing left for spaCy
    text = "Tomasz Wojcik moved from Microsoft to the United Nations."
    found = spy.detect(text)
    # Organisations are no Rampart label: spaCy decides them, reading the words around
    # them and not the name Rampart settled.
    assert len(read) == 1 and read[0].endswith(" from Microsoft to the United Nations.")
    assert "Tomasz" not in read[0]
    assert _covered(text, "Microsoft", found, {"ORGANIZATION"})
    assert _covered(text, "Tomasz Wojcik", found, {PERSON})
    read.clear()
    whole = NerDetector(spacy_context=None)
    whole._spacy, whole._rampart = spy._spacy, spy._rampart
    assert [(f.start, f.end, f.entity) for f in whole.detect(text)] == \
        [(f.start, f.end, f.entity) for f in found]
    assert read == [text]  # spacy_context=None: the whole window


def test_spacy_reads_each_open_place_with_a_little_context() -> None:
    text = ("Borislav Tanev joined Siemens last spring; " + "the rollout took a while. " * 6
            + "Ingrid Holm now works for Nokia.")

    def name(value: str, score: float = 0.99) -> list[TaggedSpan]:
        given = value.split()[0]
        start = text.index(value)
        return [TaggedSpan(start, start + len(given), "GIVEN_NAME", score),
                TaggedSpan(start + len(given) + 1, start + len(value), "SURNAME", score)]

    spans = name("Borislav Tanev") + name("Ingrid Holm")
    found = triggers(text)
    narrow = NerDetector(spacy_context=16)  # reads models only through detect
    reads = narrow._spacy_spans(text, 0, len(text), spans, found, {}, 0)
    # the words Rampart left open (Siemens, Nokia), 16 characters each way, cut at spaces
    assert [text[s:e] for s, e in reads] == ["Tanev joined Siemens last spring;",
                                             "now works for Nokia."]
    assert narrow._spacy_spans(text, 0, 20, spans, found, {}, 0) == []  # names only
    places = [TaggedSpan(text.index(p), text.index(p) + len(p), "CITY", 0.9)
              for p in ("Siemens", "Nokia")]
    settled = [*spans, *places]
    assert narrow._spacy_spans(text, 0, len(text), settled, found, {}, 0) == []
    # a name just under min_score: spaCy's agreement could lift it, so spaCy reads it
    doubtful = [*name("Borislav Tanev", 0.42), *name("Ingrid Holm"), *places]
    assert [text[s:e] for s, e in narrow._spacy_spans(
        text, 0, len(text), doubtful, found, {}, 0)] == ["Borislav Tanev joined Siemens"]


def test_prefilter_off_reads_whole_texts_with_the_same_result(detector: NerDetector) -> None:
    whole = NerDetector(prefilter=False)
    whole._spacy, whole._rampart = detector._spacy, detector._rampart
    texts = [t for t, _ in _name_cases(6, seed=11)] + [t for t, _ in _address_cases(4, seed=12)]
    assert whole.detect_batch(texts) == detector.detect_batch(texts)


def test_int8_model_rewrite() -> None:
    from pathlib import Path

    from sanitizer.detect.onnx_int8 import int8_model
    from sanitizer.detect.rampart import model_dir

    original = (Path(model_dir()) / "onnx" / "model_q4.onnx").read_bytes()
    rewritten = int8_model(original)
    assert rewritten is not None and rewritten != original
    assert b"DynamicQuantizeMatMul" in rewritten and b"MatMulNBits" not in rewritten
    assert int8_model(b"") is None
    assert int8_model(b"\xff\xff\xff") is None
    assert int8_model(original[:1000]) is None  # truncated


def test_fused_int8_model() -> None:
    from pathlib import Path

    from sanitizer.detect.onnx_bert import fused_int8_model
    from sanitizer.detect.rampart import model_dir

    original = (Path(model_dir()) / "onnx" / "model_q4.onnx").read_bytes()
    fused = fused_int8_model(original, heads=12, labels=35)
    assert fused is not None
    for op in (b"EmbedLayerNormalization", b"QAttention", b"SkipLayerNormalization",
               b"DynamicQuantizeMatMul", b"BiasGelu"):
        assert op in fused
    assert b"MatMulNBits" not in fused and b"Transpose" not in fused
    assert fused_int8_model(original, heads=12, labels=7) is None  # another classifier
    assert fused_int8_model(b"", heads=12, labels=35) is None
    assert fused_int8_model(b"\xff\xff\xff", heads=12, labels=35) is None
    assert fused_int8_model(original[:1000], heads=12, labels=35) is None


def test_the_node_by_node_int8_model_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    import sanitizer.detect.rampart as rampart

    monkeypatch.setattr(rampart, "fused_int8_model", lambda *args: None)
    tagger = RampartTagger(workers=1)
    session = tagger._load()[0]
    assert {i.type for i in session.get_inputs()} == {"tensor(int64)"}  # the export's
    text = "Please ask Tomasz Wojcik about the invoice."
    assert [text[c.start:c.end] for c in join_parts(text, tagger.tag(text))] == \
        ["Tomasz Wojcik"]


def test_workers_find_what_one_thread_finds() -> None:
    texts = ([t for t, _ in _name_cases(10, seed=31)] + [t for t, _ in _address_cases(6, seed=32)]
             + ["", "no names here", "Ship it to " + "Harbour Road, Ghent. " * 40])
    alone = RampartTagger(workers=1)
    together = RampartTagger(workers=3)
    expected = alone.tag_batch(texts)
    assert any(expected) and not expected[texts.index("")]
    assert together.tag_batch(texts) == expected
    assert list(together.tag_each(texts)) == expected
    assert list(alone.tag_each(texts)) == expected
    assert together._pool is not None and alone._pool is None
    with pytest.raises(ValueError, match="workers"):
        RampartTagger(workers=0)


def test_int8_and_q4_find_the_same_names(detector: NerDetector) -> None:
    q4 = RampartTagger(precision="q4")
    assert detector._rampart is not None and detector._rampart.precision == "int8"
    texts = [t for t, _ in _name_cases(8, seed=21)] + [t for t, _ in _address_cases(4, seed=22)]
    for text, fast, exact in zip(texts, detector._rampart.tag_batch(texts), q4.tag_batch(texts),
                                 strict=True):
        assert [c.label for c in join_parts(text, fast)] == \
            [c.label for c in join_parts(text, exact)], text
    with pytest.raises(ValueError, match="precision"):
        RampartTagger(precision="fp8")


def test_warm_up_loads_both_models_before_any_text() -> None:
    fresh = NerDetector()
    assert fresh._spacy is not None and fresh._rampart is not None
    assert fresh._spacy._nlp is None and fresh._rampart._loaded is None
    fresh.warm_up()
    assert fresh._spacy._nlp is not None and fresh._rampart._loaded is not None


def test_the_engine_warms_up_ner_only_when_the_policy_needs_names() -> None:
    from sanitizer.engine import Sanitizer
    from sanitizer.policy import parse_policy

    quiet = parse_policy({"defaults": {"contact": "allow"}}, "no-names")
    for policy, loaded in ((quiet, False), (None, True)):
        engine = Sanitizer(known_values_from_env=False, policy=policy)
        engine.warm_up()
        ner = engine._detector_kinds[1][0]
        assert isinstance(ner, NerDetector) and ner._spacy is not None
        assert (ner._spacy._nlp is not None) is loaded


@pytest.mark.parametrize("text", [
    "request 3f2a1b4c finished, sha 9f86d081884c7d659a2f",
    "peer fe80::1ff:fe23:4567:890a%eth0",
    "Set-Cookie: JSESSIONID=abc; Path=/; Secure",
    "the sha is wrong",
])
def test_machine_text_is_not_a_name_or_a_place(detector: NerDetector, text: str) -> None:
    assert detector.detect(text) == []


def test_technical_shapes() -> None:
    from sanitizer.detect.ner_context import looks_technical

    assert looks_technical("Path=/", "LOCATION") and looks_technical("eth0", "LOCATION")
    assert looks_technical("fe80::1", "PERSON") and looks_technical("${USER}", "PERSON")
    assert not looks_technical("Flat 4B", "STREET_ADDRESS")
    assert not looks_technical("London NW1", "LOCATION")
    assert not looks_technical("Anne-Marie O'Neil", "PERSON")


def test_a_name_written_with_json_escapes_is_covered_whole(detector: NerDetector) -> None:
    text = json.dumps({"text": "can you ping Ingrid Bergstr\u00f6m about the Q3 deck?"})
    names = [text[f.start:f.end] for f in detector.detect(text) if f.entity == "PERSON"]
    assert names == ["Ingrid Bergstr\\u00f6m"]


@pytest.mark.parametrize(("text", "whole"), [
    ("Hi team, Nguyen Van An from accounting will join.", "Nguyen Van An"),
    ("Deliver to 1600 Pennsylvania Ave NW, Washington, DC 20500 by noon",
     "1600 Pennsylvania Ave NW, Washington, DC 20500"),
])
def test_parts_the_tagger_leaves_out_stay_inside(detector: NerDetector, text: str,
                                                 whole: str) -> None:
    """A name particle between two name parts, a house number before a street and its
    compass suffix after it: none is left in the clear between or beside the parts."""
    spans = [text[f.start:f.end] for f in detector.detect(text)]
    assert any(whole in s for s in spans), spans
