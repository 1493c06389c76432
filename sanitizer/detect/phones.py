"""Phone numbers via libphonenumber (``phonenumbers``), the one reliable judge of what is a
valid number in which country.

libphonenumber is thorough but slow and, across many regions, generous: in some country
almost any 8-12 digit run is a valid number. So the detector:

1. reads only the regions around runs of seven or more digits that are not a log line's
   timestamp or a decimal number, found by one Hyperscan prescan (:func:`_regions`);
2. runs ``PhoneNumberMatcher`` (leniency VALID, once per configured region) only over small
   windows around digit runs, never over the whole text;
3. drops matches that overlap things agents pass around that are *not* phone numbers:
   ISO timestamps, dates, clock times, epoch seconds/millis, UUIDs and hex digests, tokens
   mixing letters and digits, versions and dotted numbers, IP addresses, order/invoice ids
   (``ORD-123456``, ``INV-2024-000123``), Luhn-valid card numbers and dashed SSNs;
4. accepts a bare digit run (no ``+``, no separators) only with a phone word nearby,
   because unformatted numeric ids are far more common than unformatted phone numbers.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cache
from typing import Any

import re2

from ..findings import Finding
from ..validators.financial import luhn_ok
from .prescan import Prescan, to_white_space, widened

DEFAULT_REGIONS: tuple[str, ...] = ("US", "GB", "DE", "FR", "IN", "CA", "AU", "BR", "ES", "IT",
                                    "NL", "MX")
PHONE_CONTEXT: tuple[str, ...] = (
    "phone", "tel", "mobile", "cell", "call", "fax", "sms", "whatsapp", "contact", "dial",
    "mob", "ph:", "ph.", "telefon", "téléphone", "teléfono", "número", "numero", "handy",
)
RULE_ID = "phone-number"
ENTITY = "PHONE_NUMBER"
MIN_DIGITS = 7
_MIN_INTERNATIONAL_DIGITS = 9
_WINDOW_PAD = 24
_CONTEXT_BEFORE = 60
_CONTEXT_AFTER = 20
_FIELD_END = frozenset(",;\n{}[]")  # a phone word after one of these belongs to the next field
_SCORE_STRONG = 0.9  # international prefix or a phone word nearby
_SCORE_PLAIN = 0.75  # valid national number, no phone word
_SCORE_LABELLED = 0.6  # not valid in any configured region, but labelled as a phone
# Candidate kinds, best first.
_INTERNATIONAL, _NATIONAL, _LABELLED_ONLY = 0, 1, 2

# Runs of digits with the separators phone numbers use.
# ``re``, not RE2: listing many short matches costs ~20x less, and the pattern is linear
# (after a digit, the class run can only backtrack to the run's last digit).
_CHUNK = re.compile(r"[+(]*[0-9][0-9\t ().\-/]*[0-9]")

# Look-alikes a phone match must not overlap. RE2: linear time on any input.
_PROTECTED = re2.compile("|".join((
    # ISO 8601 date / timestamp (with optional time, fraction and offset)
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?",
    r"\d{4}\d{2}\d{2}T\d{2}\d{2}\d{2}",
    # dates with a four-digit year, day-month or month-day, / . or - separated
    r"\b\d{1,2}[./-]\d{1,2}[./-](?:19|20)\d{2}\b",
    r"\b(?:19|20)\d{2}[./]\d{1,2}[./]\d{1,2}\b",
    # clock times
    r"\b\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\b",
    # epoch seconds / millis / micros (2001-2033), optionally with a fraction
    r"\b1\d{9}(?:\d{3}){0,2}(?:\.\d+)?\b",
    # UUID, and tokens mixing letters and digits (hashes, ids, SHAs)
    r"\b[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\b",
    r"\b[0-9A-Za-z]*(?:[A-Za-z][0-9]|[0-9][A-Za-z])[0-9A-Za-z]*\b",
    # IPv6-ish (two or more colons between hex groups)
    r"[0-9A-Fa-f]*:[0-9A-Fa-f]*:[0-9A-Fa-f:.]*",
    # order / invoice / ticket ids: letters then - _ # then digits; year-prefixed ids
    r"\b[A-Za-z]{2,}[-_#]+\d[\d\-]*",
    r"\b(?:19|20)\d{2}-\d{4,}\b",
    # dashed SSN
    r"\b\d{3}-\d{2}-\d{4}\b",
)))
# A phone label right before a phone-shaped digit group: local numbers without an area code
# ("Phone: 467 3395") that no region's metadata can validate.
_LABELLED = re2.compile(
    r"(?i)(?:phone|tel|telephone|mobile|mob|cell|fax|call me (?:on|at))\b[\s:#.=\"']{0,4}"
    r"(\(?\d{2,5}\)?(?:[ .\-]\d{2,6}){1,4})(?:$|[^\w.\-/:])")
_DOTTED = re2.compile(r"\d+(?:\.\d+)+")
_CARD = re2.compile(r"\b\d{4}(?:[ -]?\d{4}){2}[ -]?\d{1,4}(?:[ -]?\d{1,3})?\b"
                    r"|\b\d{4}[ -]?\d{6}[ -]?\d{4,5}\b|\b\d{13,19}\b")
_EXTENSION = re.compile(r"\s*(?:x|ext\.?|#)\s*\d", re.IGNORECASE)  # after a number
_EXTENSION_TOKEN = re2.compile(r"(?i)^\d*(?:x|ext)\d+$")  # 3560x4587: number + extension


def _dotted_is_not_phone(run: str) -> bool:
    """Dotted numbers that are versions, decimals or IPs rather than 01.23.45.67.89."""
    parts = run.split(".")
    if len(parts) == 2:
        return True  # a decimal number
    if len(parts) == 4 and all(len(p) <= 3 for p in parts) and all(int(p) <= 255 for p in parts):
        return True  # IPv4
    return any(len(p) == 1 for p in parts)  # 10.0.19045.3803, 1.234.567


def _protected_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for match in _PROTECTED.finditer(text):
        value = match.group(0)
        if value and not _EXTENSION_TOKEN.match(value):
            spans.append(match.span())
    for match in _DOTTED.finditer(text):
        if _dotted_is_not_phone(match.group(0)):
            spans.append(match.span())
    for match in _CARD.finditer(text):
        digits = "".join(c for c in match.group(0) if c.isdigit())
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            spans.append(match.span())
    return spans


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, disjoint spans covering the same characters."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _overlaps_sorted(start: int, end: int, merged: Sequence[tuple[int, int]]) -> bool:
    """Whether ``start..end`` overlaps any of ``merged`` (sorted and disjoint)."""
    index = bisect_left(merged, (end, end)) - 1
    return index >= 0 and merged[index][1] > start


def _blank(text: str, merged: Sequence[tuple[int, int]]) -> str:
    """``text`` with every character of ``merged`` replaced by a space (offsets kept)."""
    parts: list[str] = []
    position = 0
    for start, end in merged:
        parts.append(text[position:start])
        parts.append(" " * (end - start))
        position = end
    parts.append(text[position:])
    return "".join(parts)


_EXTENSION_REACH = 12  # how far after a number _EXTENSION may match
_MAX_RUN = 64  # a longer run of digits and separators is a numeric dump, not a number
_MAX_PIECES = 16  # pieces of one numeric dump looked at (its ends and its "+" numbers)
_VALIDATED_CHARS = 50_000  # of windows per text that libphonenumber judges; see detect()
_MAX_WINDOW = 1024  # windows stop merging at this size (the matcher is slow on long text)


def _runs(text: str) -> Iterator[tuple[int, int]]:
    """Digit runs worth a look: not glued to a letter (``a1234567b`` is part of a hash or
    an id, never a phone number — ``1234x56`` may be one with its extension). Of a long
    run (a table of numbers separated by spaces) only its two ends and the international
    numbers (``+…``) in it are looked at, at most :data:`_MAX_PIECES` pieces: the matcher
    costs about a millisecond per region and window, and a dump must not cost minutes."""
    length = len(text)
    for match in _CHUNK.finditer(text):
        start, end = match.span()
        if (start and text[start - 1].isalpha()) or (
                end < length and text[end].isalpha() and text[end] not in "xXeE"):
            continue
        if end - start <= _MAX_RUN:
            yield start, end
            continue
        yield start, start + _MAX_RUN
        plus = text.find("+", start + 1, end - _MAX_RUN)
        for _ in range(_MAX_PIECES - 2):
            if plus == -1:
                break
            yield plus, plus + _MAX_RUN // 2
            plus = text.find("+", plus + _MAX_RUN // 2, end - _MAX_RUN)
        yield end - _MAX_RUN, end


def _windows(text: str, skip: Callable[[int, int], bool] | None = None
             ) -> list[tuple[int, int]]:
    """Slices of ``text`` around digit runs holding at least MIN_DIGITS digits (and not
    ``skip(start, end)``), widened to whole whitespace-separated tokens (so ``ORD-`` or
    ``+`` stay with their digits)."""
    windows: list[tuple[int, int]] = []
    length = len(text)
    for start, end in _runs(text):
        if sum(c.isdigit() for c in text[start:end]) < MIN_DIGITS:
            continue
        if skip is not None and skip(start, end):
            continue
        start, end = to_white_space(text, start, end, _WINDOW_PAD)
        # one more token on each side: "ext. 12", "tel: …"
        start = max(0, start - _WINDOW_PAD // 2)
        end = min(length, end + _WINDOW_PAD // 2)
        if windows and start <= windows[-1][1] and end - windows[-1][0] <= _MAX_WINDOW:
            windows[-1] = (windows[-1][0], max(end, windows[-1][1]))
        else:
            windows.append((start, end))
    return windows


def _unvalidated(window: str) -> list[tuple[tuple[int, int], int]]:
    """Phone-shaped runs of ``window`` (7-15 digits), as national candidates."""
    return [(span, _INTERNATIONAL if window[span[0]] == "+" else _NATIONAL)
            for span in _runs(window)
            if MIN_DIGITS <= sum(c.isdigit() for c in window[span[0]:span[1]]) <= 15]


_REGION_PAD = 128  # text around a candidate read with it: look-alikes, phone words, windows
_REGION_SLACK = 64  # how far a region edge may move to reach white space
_RUN_TAIL = re.compile(r"(?:[0-9\t ().\-/+]*[0-9])?")
_DECIMAL = re.compile(r"\D*[0-9]+\.[0-9]+")  # a candidate run that is one decimal number


def _seven_digits() -> str:
    """Where a phone number may start (Hyperscan syntax, for the prescan): seven digits with
    nothing but separators between them, not glued to a digit or to the run before — and
    not the start of a log line's timestamp, the commonest such run by far. Spelled out:
    the run's first seven digits differ somewhere from ``YYYY-MM-DD`` (each alternative
    below is one place they can differ), or seven more digits follow the date in the run
    (``2026-01-15 12:34`` is no candidate, ``2026-01-15 555 0199 12`` is)."""
    sep, digit = r"[\t ().\-/]", "[0-9]"
    other = rf"(?:[\t ()./]{sep}*|-{sep}+)"  # a separator run other than one "-"

    def more(count: int) -> str:
        return f"(?:{sep}*{digit}){{{count}}}"

    starts = (
        f"{digit}{sep}+{digit}{more(5)}",              # groups of 1, 2 or 3 digits first
        f"{digit}{{2}}{sep}+{digit}{more(4)}",
        f"{digit}{{3}}{sep}+{digit}{more(3)}",
        f"{digit}{{5}}{more(2)}",                      # five or more
        f"{digit}{{4}}{other}{digit}{more(2)}",        # four, then not "-"
        f"{digit}{{4}}-{digit}{sep}+{digit}{more(1)}",  # YYYY-M…
        f"{digit}{{4}}-{digit}{{3}}",                  # YYYY-MMM
        f"{digit}{{4}}-{digit}{{2}}{other}{digit}",    # YYYY-MM then not "-"
        f"{digit}{{4}}-{digit}{{2}}-{digit}(?:[^0-9]|$)",  # YYYY-MM-D
        f"{digit}{{4}}-{digit}{{2}}-{digit}{{2}}{more(7)}",  # a date, then a number
    )
    return rf"(?:^|[^0-9\t ().\-/]){sep}*[+(]*(?:{'|'.join(starts)})"


@cache
def _candidate_scan() -> Prescan:
    return Prescan([_seven_digits()])


def _regions(text: str) -> list[tuple[int, int]]:
    """Disjoint spans of ``text`` that hold every run of seven or more digits (the whole
    run) that could be a phone number (not a decimal number) with
    :data:`_REGION_PAD` characters of context, edges moved out to white space.
    A text of nothing but such runs is one region, and every finding the detector could
    make lies in some region."""
    runs: list[tuple[int, int]] = []
    for start, end in _candidate_scan().spans(text):
        end = _RUN_TAIL.match(text, end).end()  # type: ignore[union-attr]
        if _DECIMAL.fullmatch(text, start, end):
            continue  # a decimal number: a look-alike whole (_DOTTED), never a phone number
        runs.append((max(0, start - _REGION_PAD), min(len(text), end + _REGION_PAD)))
    return widened(text, runs, _REGION_SLACK)


class PhoneDetector:
    """Detector (``name = "phones"``) for phone numbers in national and international form."""

    name = "phones"

    def __init__(self, regions: Sequence[str] = DEFAULT_REGIONS, *,
                 context_words: Sequence[str] = PHONE_CONTEXT) -> None:
        import phonenumbers

        unknown = [r for r in regions if r.upper() not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"unknown phone regions: {unknown}")
        self.regions = tuple(r.upper() for r in regions)
        self.context_words = tuple(w.lower() for w in context_words)
        self._phonenumbers: Any = phonenumbers

    def detect(self, text: str) -> list[Finding]:
        findings: list[Finding] = []
        budget = [_VALIDATED_CHARS]
        for low, high in _regions(text):
            part = text if (low, high) == (0, len(text)) else text[low:high]
            findings.extend(f.shifted(low) if low else f for f in self._detect(part, budget))
        return findings

    def _detect(self, text: str, budget: list[int]) -> list[Finding]:
        """Phone numbers in ``text``; ``budget[0]``: characters libphonenumber may still
        judge (shared by the regions of one text)."""
        # Look-alikes (timestamps, hashes, versions, …) are found once, in linear time, and
        # blanked before windows are chosen: libphonenumber (about a millisecond per region
        # and window) then only sees digits that could still be a phone number.
        protected = _merge(_protected_spans(text))
        lowered = text.lower()

        def bare_id(start: int, end: int) -> bool:
            """A lone run of digits — no ``+``, separator or extension, no phone word near —
            is never reported (see below), so libphonenumber need not see it."""
            return (text[start:end].isdigit() and (start == 0 or text[start - 1] != "+")
                    and not _EXTENSION.match(text, end, end + _EXTENSION_REACH)
                    and not self._has_context(lowered, start, end))

        windows = _windows(_blank(text, protected) if protected else text, bare_id)
        candidates: dict[tuple[int, int], int] = {}  # span -> kind (_INTERNATIONAL, …)
        for start, end in windows:
            window = text[start:end]
            # libphonenumber costs tens of microseconds per character and region: past
            # _VALIDATED_CHARS of windows (a flood of numbers, hostile or a dump) a
            # phone-shaped run is taken unvalidated — over-redaction, never a leak, and a
            # bounded time whatever the input.
            found = self._match(window) if budget[0] > 0 else _unvalidated(window)
            budget[0] -= len(window)
            for span, kind in found:
                key = (start + span[0], start + span[1])
                if _overlaps_sorted(key[0], key[1], protected):
                    continue
                candidates[key] = min(candidates.get(key, kind), kind)
        for match in _LABELLED.finditer(text):
            value = match.group(1)
            if MIN_DIGITS <= sum(c.isdigit() for c in value) <= 12 and not _protected_spans(value):
                candidates.setdefault(match.span(1), _LABELLED_ONLY)
        findings: list[Finding] = []
        for (start, end), kind in self._longest_first(candidates):
            if kind == _INTERNATIONAL:
                score = _SCORE_STRONG
            elif kind == _LABELLED_ONLY:
                score = _SCORE_LABELLED
            else:
                near = self._has_context(lowered, start, end)
                if text[start:end].isdigit() and not near:
                    continue  # bare digit run: an id far more often than a phone number
                score = _SCORE_STRONG if near else _SCORE_PLAIN
            findings.append(Finding(start, end, ENTITY, "contact", RULE_ID, self.name, score))
        return findings

    def _has_context(self, lowered: str, start: int, end: int) -> bool:
        """A phone word shortly before the number but not before an earlier number (in
        ``{"phone": "…", "id": 415…}`` the id has no phone context), or right after it in
        the same field (``415… (mobile)``, not ``415…, "phone": null``)."""
        before = lowered[max(0, start - _CONTEXT_BEFORE):start]
        last_digit = max((i for i, c in enumerate(before) if c.isdigit()), default=-1)
        before = before[last_digit + 1:]
        after = lowered[end:end + _CONTEXT_AFTER]
        after = after[:next((i for i, c in enumerate(after) if c.isdigit() or c in _FIELD_END),
                            len(after))]
        return any(word in before or word in after for word in self.context_words)

    def _match(self, window: str) -> list[tuple[tuple[int, int], int]]:
        pn = self._phonenumbers
        found: list[tuple[tuple[int, int], int]] = []
        # A number written with its country code parses the same in every region: a window
        # whose every candidate run is one such number ("+" first, at most 15 digits — no
        # room for a national number after it) needs one region, not all of them.
        national = False
        for start, end in _runs(window):
            digits = sum(c.isdigit() for c in window[start:end])
            if digits >= MIN_DIGITS and (
                    digits > 15 or not window[start:end].lstrip("(").startswith("+")):
                national = True
                break
        for region in self.regions if national else self.regions[:1]:
            for match in pn.PhoneNumberMatcher(window, region, leniency=pn.Leniency.VALID):
                kind = _INTERNATIONAL if _is_international(match.raw_string) else _NATIONAL
                found.append(((match.start, match.end), kind))
        if "+" in window:
            # "+CC …" written out in full is a phone number even when its block is not (yet)
            # in libphonenumber's metadata: accept possible-length international numbers.
            for match in pn.PhoneNumberMatcher(window, self.regions[0],
                                               leniency=pn.Leniency.POSSIBLE):
                raw: str = match.raw_string
                digits = sum(c.isdigit() for c in raw)
                if _is_international(raw) and digits >= _MIN_INTERNATIONAL_DIGITS:
                    found.append(((match.start, match.end), _INTERNATIONAL))
        return found

    @staticmethod
    def _longest_first(candidates: dict[tuple[int, int], int]
                       ) -> list[tuple[tuple[int, int], int]]:
        """Overlapping matches (different regions, labelled fallback): keep the longest.
        The kept spans are disjoint and sorted, so a candidate is checked against its two
        neighbours only (n log n, however many numbers a text holds)."""
        starts: list[int] = []
        kept: list[tuple[tuple[int, int], int]] = []
        for span, kind in sorted(candidates.items(),
                                 key=lambda item: (item[0][0] - item[0][1], item[1], item[0])):
            at = bisect_left(starts, span[0])
            if (at and kept[at - 1][0][1] > span[0]) or \
                    (at < len(kept) and kept[at][0][0] < span[1]):
                continue
            starts.insert(at, span[0])
            kept.insert(at, (span, kind))
        return kept


def _is_international(raw: str) -> bool:
    return raw.lstrip("(").startswith("+")
