"""PhoneDetector: libphonenumber over digit windows, with agent look-alikes filtered out."""

from __future__ import annotations

import random
from typing import Any

import pytest

from sanitizer.detect import Detector
from sanitizer.detect.phones import PhoneDetector


@pytest.fixture(scope="module")
def detector() -> PhoneDetector:
    return PhoneDetector()


def spans(detector: PhoneDetector, text: str) -> list[str]:
    return [text[f.start:f.end] for f in detector.detect(text)]


def test_is_a_detector_with_contact_findings(detector: PhoneDetector) -> None:
    assert isinstance(detector, Detector)
    [finding] = detector.detect("call me at +1 415-555-2671 tomorrow")
    assert (finding.entity, finding.category, finding.rule_id, finding.detector) == (
        "PHONE_NUMBER", "contact", "phone-number", "phones")
    assert finding.score >= 0.85


@pytest.mark.parametrize(("text", "expected"), [
    ("Call me at +1 415-555-2671 or (415) 555-2671", ["+1 415-555-2671", "(415) 555-2671"]),
    ("UK office: 020 7946 0958, mobile 07700 900123", ["020 7946 0958", "07700 900123"]),
    ("Paris +33 1 42 68 53 00 / 01 42 68 53 00", ["+33 1 42 68 53 00", "01 42 68 53 00"]),
    ("Berlin: +49 30 901820", ["+49 30 901820"]),
    ("Mumbai +91 98765 43210", ["+91 98765 43210"]),
    ("Sydney (02) 9374 4000", ["(02) 9374 4000"]),
    ("desk +1 (415) 555-2671 ext. 123", ["+1 (415) 555-2671 ext. 123"]),
    ("Fax: 415.555.2671x459", ["415.555.2671x459"]),
    ('{"name": "Jane Roe", "phone": "+14155552671", "email": "j@example.com"}',
     ["+14155552671"]),
    ("Phone: 467 3395", ["467 3395"]),
])
def test_finds_phone_numbers(detector: PhoneDetector, text: str, expected: list[str]) -> None:
    assert spans(detector, text) == expected


def test_bare_digit_run_needs_its_own_phone_word(detector: PhoneDetector) -> None:
    assert spans(detector, '{"phone": "4155552671", "id": 4155552671}') == ["4155552671"]
    assert spans(detector, "user id 4155552671 created") == []
    assert spans(detector, '{"id": 4155552671, "phone": null}') == []


@pytest.mark.parametrize("text", [
    "ts=2024-05-01T10:22:13.123456Z", "2024-05-01 10:22:13+05:30 started",
    "epoch 1714557733 and 1714557733123 and 1714557733.123456",
    "dates 05/01/2024, 01.05.2024, 2024/05/01, 20240501T102213",
    "uuid 3f2b9c1e-8a4d-4e5f-9b6a-2c3d4e5f6a7b",
    "commit 4155552671abcdef0123456789abcdef01234567",
    "version 10.0.19045.3803, v4.15.555.2671",
    "order ORD-4155552671, invoice INV-2024-000123, ticket #4155552671",
    "invoice 2024-0001234 paid",
    "card 4111 1111 1111 1111 and 4111111111111111",
    "hosts 192.168.100.200 and 2001:db8:85a3::8a2e:370:7334",
    "SSN 123-45-6789",
    "price 1,234,567.89 EUR, pi 3.14159265358979",
    "listening on 0.0.0.0:8080, error at line 4155552",
])
def test_lookalikes_not_flagged(detector: PhoneDetector, text: str) -> None:
    assert spans(detector, text) == []


class _Recorder:
    """Stands in for the phonenumbers module and records the text each matcher sees."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.Leniency = real.Leniency
        self.seen: list[str] = []

    def PhoneNumberMatcher(self, text: str, region: str, leniency: Any) -> Any:
        self.seen.append(text)
        return self.real.PhoneNumberMatcher(text, region, leniency=leniency)


def test_short_texts_never_reach_the_matcher() -> None:
    detector = PhoneDetector(["US"])
    recorder = _Recorder(detector._phonenumbers)
    detector._phonenumbers = recorder
    assert detector.detect("order 123456 shipped at 10:22") == []
    assert detector.detect("x" * 10_000) == []
    assert recorder.seen == []


def test_matcher_runs_on_windows_not_the_whole_text() -> None:
    detector = PhoneDetector(["US", "GB"])
    recorder = _Recorder(detector._phonenumbers)
    detector._phonenumbers = recorder
    filler = "lorem ipsum dolor sit amet " * 400
    text = filler + "call +1 415-555-2671 now" + filler
    found = detector.detect(text)
    assert [text[f.start:f.end] for f in found] == ["+1 415-555-2671"]
    assert recorder.seen and all(len(window) < 200 for window in recorder.seen)


def test_lone_digit_runs_without_a_phone_word_never_reach_the_matcher() -> None:
    detector = PhoneDetector(["US"])
    recorder = _Recorder(detector._phonenumbers)
    detector._phonenumbers = recorder
    ids = " ".join(f"x_{n:09d}" for n in range(500))
    assert detector.detect(ids) == []
    assert recorder.seen == []
    assert spans(detector, "4155550123 ext. 7") == ["4155550123 ext. 7"]  # still judged


def test_a_flood_of_numbers_is_reported_past_the_validation_budget() -> None:
    from sanitizer.detect import phones

    detector = PhoneDetector(["GB"])
    recorder = _Recorder(detector._phonenumbers)
    detector._phonenumbers = recorder
    lines = [f"tel +44 20 7946 0{n % 1000:03d}" for n in range(4000)]
    found = spans(detector, "\n".join(lines))
    assert found == [line[4:] for line in lines]  # every one, validated or not
    assert sum(map(len, set(recorder.seen))) < phones._VALIDATED_CHARS + 2 * 1024


def test_regions_are_configurable() -> None:
    text = "Rome office 06 6982 0000"
    assert spans(PhoneDetector(["US"]), text) == []
    assert spans(PhoneDetector(["IT"]), text) == ["06 6982 0000"]
    with pytest.raises(ValueError, match="unknown phone regions"):
        PhoneDetector(["XX"])


def test_a_number_right_after_a_date_in_one_run_is_still_read(detector: PhoneDetector) -> None:
    assert spans(detector, "2026-01-15 (415) 555-2671 called back") == ["(415) 555-2671"]
    assert spans(detector, "2026-01-15 12:34:56 INFO worker-3 batch 1234567 in 12 ms\n"
                           * 200) == []


def _phoneish_text(rng: random.Random) -> str:
    pieces = [
        lambda: f"+{rng.randint(1, 99)} {rng.randint(100, 999)} {rng.randint(100, 9999)}",
        lambda: f"({rng.randint(200, 999)}) {rng.randint(200, 999)}-{rng.randint(0, 9999):04}",
        lambda: f"20{rng.randint(10, 39)}-{rng.randint(1, 12):02}-{rng.randint(1, 28):02}",
        lambda: f"{rng.randint(0, 23):02}:{rng.randint(0, 59):02}:{rng.randint(0, 59):02}",
        lambda: str(rng.randint(10 ** 5, 10 ** 12)),
        lambda: "".join(rng.choice("0123456789 -./()+") for _ in range(rng.randint(1, 14))),
        lambda: rng.choice(["phone", "tel:", "call", "id", "order", "ext.", "x", "v1.2.3",
                            "ORD-", "\n", "  ", ", ", "T", "Z", "a1b2"]),
    ]
    return "".join(rng.choice(["", " ", "-", "\n", "/"]) + rng.choice(pieces)()
                   for _ in range(rng.randint(1, 40)))


def test_reading_only_the_regions_around_seven_digit_runs_finds_what_a_full_read_does(
        detector: PhoneDetector) -> None:
    """The prescan skips text that cannot hold a number: never a finding."""
    rng = random.Random(11)
    for _ in range(400):
        text = _phoneish_text(rng)
        assert detector.detect(text) == detector._detect(text, [10 ** 9]), text
