"""Context around NER candidates: what makes a capitalised word a name, and what does not.

Model output is a *candidate*; the words around it decide how much to trust it:

* raised: a title or salutation before it (Mr., Dr., Dear, Hi …), "my name is", "I'm",
  a signature position (the line after ``--`` or after "Regards,"), or a nearby e-mail
  address whose local part contains one of its words;
* lowered: a single capitalised word opening a sentence (every sentence opens with one), a
  common English word, a token that looks like a product or code name (digits, inner
  capitals, all capitals).

The trigger phrases can also *create* a PERSON candidate the models missed ("my name is
Ada Quist", "Dear Ada", a signature line). Nothing here is a list of names or places: the
benchmark data is generated from such lists, so using one would measure the list.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .rampart import PERSON_PARTS, STREET_PARTS, TaggedSpan

PERSON = "PERSON"
STREET_ADDRESS = "STREET_ADDRESS"
LOCATION = "LOCATION"
ORGANIZATION = "ORGANIZATION"
PLACE_LABELS = frozenset({STREET_ADDRESS, LOCATION})

CONTEXT_BOOST = 0.3
SUPPORT_BOOST = 0.1
SENTENCE_START_PENALTY = 0.15
COMMON_WORD_PENALTY = 0.4
CODE_LIKE_PENALTY = 0.4
CREATED_SCORE = 0.7
NUMBER_REACH = 16
EMAIL_REACH = 300
MAX_SPAN = 400  # longest place span the neighbour searches look back for
LOWERCASE_PENALTY = 0.2


@dataclass(frozen=True, slots=True)
class Candidate:
    """A possible entity before it becomes a Finding. ``sources`` names the backends or
    context rules that proposed it."""

    start: int
    end: int
    label: str
    score: float
    sources: frozenset[str]

    def overlaps(self, other: Candidate) -> bool:
        return self.start < other.end and other.start < self.end


class CandidateIndex:
    """Candidates sorted by start, for overlap queries in O(log n + hits)."""

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        self.items = sorted(candidates, key=lambda c: c.start)
        self._starts = [c.start for c in self.items]
        self._longest = max((c.end - c.start for c in self.items), default=0)

    def overlapping(self, start: int, end: int) -> list[Candidate]:
        low = bisect_left(self._starts, start - self._longest)
        high = bisect_left(self._starts, end)
        return [c for c in self.items[low:high] if c.end > start]


# -- joining model parts ------------------------------------------------------------

# Between two parts of one name: white space, a middle initial or a particle the tagger
# leaves out ("Nguyen Van An", "Vincent van Gogh", "Osama bin Laden").
_NAME_GAP = re.compile(r"\s+(?:(?:[A-Z]\.?|[Vv][ao]n|[Dd]e[nlr]?|[Dd]ella|[Dd][aiou]|[Ll][ae]|"
                       r"bin|binti|ibn|[Aa]l|[Ee]l|[Tt]e[nr]|[Dd][ao]s|y)\s+){0,2}")
_ADDRESS_GAP = re.compile(r"[\s,.#\-]{0,4}")


def join_parts(text: str, spans: Sequence[TaggedSpan]) -> list[Candidate]:
    """Join adjacent name parts into PERSON and adjacent address parts into one address
    (STREET_ADDRESS when a street-level part is present, else LOCATION)."""
    groups: list[tuple[int, int, str, list[float], set[str]]] = []
    for span in sorted(spans, key=lambda s: s.start):
        if span.start > 0 and text[span.start - 1].isalnum() and text[span.start].isalnum():
            continue  # a sub-word fragment: the word's first piece was not tagged
        span = _to_word_end(text, span)
        kind = PERSON if span.part in PERSON_PARTS else "ADDRESS"
        if groups:
            start, end, last_kind, scores, parts = groups[-1]
            gap = text[end:span.start]
            pattern = _NAME_GAP if kind == PERSON else _ADDRESS_GAP
            if last_kind == kind and span.start >= end and pattern.fullmatch(gap):
                groups[-1] = (start, span.end, kind, [*scores, span.score], parts | {span.part})
                continue
        groups.append((span.start, span.end, kind, [span.score], {span.part}))
    candidates: list[Candidate] = []
    for start, end, kind, scores, parts in groups:
        if kind == "ADDRESS":
            kind = STREET_ADDRESS if parts & STREET_PARTS else LOCATION
        candidates.append(Candidate(start, end, kind, sum(scores) / len(scores),
                                    frozenset({"rampart"})))
    return candidates


def _to_word_end(text: str, span: TaggedSpan) -> TaggedSpan:
    end = span.end
    while end < len(text) and text[end].isalnum() and text[end - 1].isalnum():
        end += 1
    return span if end == span.end else replace(span, end=end)


def merge_places(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Union overlapping or comma-adjacent place candidates into one span (an address
    whose country came from spaCy and street from Rampart is one address)."""
    places = sorted((c for c in candidates if c.label in PLACE_LABELS), key=lambda c: c.start)
    others = [c for c in candidates if c.label not in PLACE_LABELS]
    merged: list[Candidate] = []
    for place in places:
        if merged and place.start <= merged[-1].end:
            last = merged[-1]
            label = STREET_ADDRESS if STREET_ADDRESS in (last.label, place.label) else LOCATION
            merged[-1] = Candidate(last.start, max(last.end, place.end), label,
                                   max(last.score, place.score), last.sources | place.sources)
        else:
            merged.append(place)
    return [*others, *merged]


_HOUSE_NUMBER_BEFORE = re.compile(r"(?:^|\s)(\d{1,6}[A-Za-z]?(?:[-/]\d{1,5}[A-Za-z]?)?)[ \t]+$")
_DIRECTION_AFTER = re.compile(r"[ \t]+(?:[NSEW]|N[EW]|S[EW])\b\.?")


def widen_streets(text: str, candidates: Sequence[Candidate]) -> list[Candidate]:
    """A street address takes in the house number right before it and a compass suffix
    right after it, which the tagger may leave out ("1600 Pennsylvania Ave NW")."""
    out: list[Candidate] = []
    for c in candidates:
        if c.label == STREET_ADDRESS:
            number = _HOUSE_NUMBER_BEFORE.search(text, max(0, c.start - 24), c.start)
            direction = _DIRECTION_AFTER.match(text, c.end)
            if number is not None or direction is not None:
                c = replace(c, start=number.start(1) if number else c.start,
                            end=direction.end() if direction else c.end)
        out.append(c)
    return out


def glue_places(text: str, candidates: Sequence[Candidate]) -> list[Candidate]:
    """Join place candidates separated only by address punctuation ("Springfield, IL")."""
    ordered = sorted(candidates, key=lambda c: c.start)
    out: list[Candidate] = []
    for candidate in ordered:
        if (out and candidate.label in PLACE_LABELS and out[-1].label in PLACE_LABELS
                and candidate.start >= out[-1].end
                and _ADDRESS_GAP.fullmatch(text[out[-1].end:candidate.start])):
            last = out[-1]
            label = STREET_ADDRESS if STREET_ADDRESS in (last.label, candidate.label) \
                else LOCATION
            out[-1] = Candidate(last.start, candidate.end, label,
                                max(last.score, candidate.score),
                                last.sources | candidate.sources)
        else:
            out.append(candidate)
    return out


# -- context ------------------------------------------------------------------------

_TITLE_BEFORE = re.compile(
    r"(?:\b(?:mr|mrs|ms|miss|mx|dr|prof|professor|sir|madam|dame|lord|lady|rev|dear|hi|"
    r"hello|hey|attn|attention|thanks|thank you|cc)\.?,?|\bmy name is|\bname\s*[:=]|"
    r"\bi'?m|\bi am|\bthis is|\bsigned|\bcontact|\bcustomer|\bpatient|\bemployee|\buser)"
    r"\s*$",
    re.IGNORECASE,
)
_SIGN_OFF_LINE = re.compile(
    r"(?:^|\n)[ \t]*(?:--|—|(?:best |kind |warm )?regards|best|thanks|thank you|cheers|"
    r"sincerely|yours(?: truly| sincerely)?|best wishes|respectfully)[ \t]*[,.!]?[ \t]*\n[ \t]*$",
    re.IGNORECASE,
)
_CAPITALISED_RUN = re.compile(r"[A-Z][a-z'’\-]+(?:[ \t]+[A-Z][a-z'’\-]+){0,2}")
_TITLES = r"(?:mr|mrs|ms|mx|dr|prof)\.?"
_CREATING_TRIGGER = re.compile(
    rf"(?:\bmy name is|\bname\s*[:=]|\bdear(?:[ \t]+{_TITLES})?|\b{_TITLES})[ \t]+",
    re.IGNORECASE,
)
_SENTENCE_END_BEFORE = re.compile(r"[.!?]\s+$")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]*")

# Capitalised words that open sentences or headings and that NER models often call names or
# places. Common English words only — not names, not places.
_COMMON_WORDS = frozenset("""
thanks thank hello hi hey dear please sorry yes no okay ok sure great good well hope
welcome congratulations cheers regards best sincerely note update reminder warning error
info debug todo fixme summary subject re fwd meeting agenda invoice order account customer
user admin support team manager director president doctor nurse patient client guest
monday tuesday wednesday thursday friday saturday sunday january february march april may
june july august september october november december today tomorrow yesterday morning
evening night week month year street road avenue city state country north south east west
sha md5 hash digest checksum commit branch tag repo path url uri host port pid uuid id env
token key header cookie session request response status build release version config
""".split())
# Characters no name, place or organisation is written with; where they stand in a span it
# is a path, a header, an address of a machine or markup the tagger misread.
_TECHNICAL_CHARS = frozenset("=%\\{}<>|")


def looks_technical(raw: str, label: str) -> bool:
    """A span no person or place name looks like: holding ``=``, ``%``, ``::`` or markup,
    or (but for a street address: "Flat 4B") one word of letters and digits (``eth0``)."""
    if "::" in raw or not _TECHNICAL_CHARS.isdisjoint(raw):
        return True
    word = raw.strip()
    return (label != STREET_ADDRESS and " " not in word and any(ch.isdigit() for ch in word)
            and any(ch.isalpha() for ch in word))


def _is_code_like(word: str) -> bool:
    """Digits, inner capitals (iPhone, GitHub) or all capitals: product or code names."""
    if any(ch.isdigit() for ch in word):
        return True
    letters = [ch for ch in word if ch.isalpha()]
    if len(letters) >= 2 and all(ch.isupper() for ch in letters):
        return True
    return any(ch.isupper() for ch in word[1:]) and not ("-" in word or "'" in word)


def _at_sentence_start(text: str, start: int) -> bool:
    return start == 0 or bool(_SENTENCE_END_BEFORE.search(text[max(0, start - 4):start]))


def _has_person_context(text: str, candidate: Candidate, emails: EmailIndex) -> bool:
    before = text[max(0, candidate.start - 40):candidate.start]
    if _TITLE_BEFORE.search(before) or _SIGN_OFF_LINE.search(
            text[max(0, candidate.start - 60):candidate.start]):
        return True
    nearby = emails.near(candidate.start, candidate.end, EMAIL_REACH)
    if not nearby:
        return False
    words = [w.lower() for w in _WORD.findall(text[candidate.start:candidate.end])]
    return any(len(w) >= 3 and w in local for w in words for local in nearby)


_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_DOMAIN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")


class EmailIndex:
    """E-mail addresses of a text, found around each ``@`` in linear time (no regex that
    could backtrack on a long run of letters), sorted by position."""

    def __init__(self, text: str) -> None:
        self.spans: list[tuple[int, int, str]] = []  # start, end, lowercased local part
        at = text.find("@")
        while at != -1:
            start = at
            while start > 0 and at - start < 64 and text[start - 1] in _LOCAL_CHARS:
                start -= 1
            end = at + 1
            while end < len(text) and end - at < 255 and text[end] in _DOMAIN_CHARS:
                end += 1
            domain = text[at + 1:end].rstrip(".-")
            end = at + 1 + len(domain)
            tld = domain.rsplit(".", 1)[-1] if "." in domain else ""
            if start < at and len(tld) >= 2 and tld.isalpha():
                self.spans.append((start, end, text[start:at].lower()))
            at = text.find("@", max(at + 1, end))
        self._starts = [s for s, _, _ in self.spans]

    def near(self, start: int, end: int, reach: int) -> list[str]:
        """Local parts of the addresses within ``reach`` characters of ``start..end``."""
        low = bisect_left(self._starts, start - reach - 320)
        return [local for s, e, local in self.spans[low:]
                if s <= end + reach and e >= start - reach][:16]

    def overlaps(self, start: int, end: int) -> bool:
        low = bisect_left(self._starts, start - 320)
        for s, e, _ in self.spans[low:]:
            if s >= end:
                return False
            if start < e:
                return True
        return False


def outside_emails(candidates: Sequence[Candidate], emails: EmailIndex) -> list[Candidate]:
    """Drop candidates that overlap an e-mail address: the address is the rules' finding,
    and a name inside it must not turn the whole address into a PERSON."""
    if not emails.spans:
        return list(candidates)
    return [c for c in candidates if not emails.overlaps(c.start, c.end)]


def adjust(text: str, candidate: Candidate, emails: EmailIndex) -> Candidate:
    """Raise or lower one candidate's score from the words around it."""
    score = candidate.score
    words = _WORD.findall(text[candidate.start:candidate.end])
    single = len(words) <= 1
    raw = text[candidate.start:candidate.end]
    if candidate.label == PERSON and not any(ch.isupper() for ch in raw):
        score -= LOWERCASE_PENALTY
    if candidate.label == PERSON and _has_person_context(text, candidate, emails):
        score += CONTEXT_BOOST
    elif single and words:
        if words[0].lower() in _COMMON_WORDS:
            score -= COMMON_WORD_PENALTY
        if candidate.label == PERSON:
            if _at_sentence_start(text, candidate.start):
                score -= SENTENCE_START_PENALTY
            if _is_code_like(raw.strip()):
                score -= CODE_LIKE_PENALTY
    return replace(candidate, score=max(0.0, min(1.0, score)))


def drop_lone_numbers(text: str, candidates: Sequence[Candidate],
                      reach: int = NUMBER_REACH) -> list[Candidate]:
    """A place made only of digits (a house number, a postcode) counts only next to another
    place part: alone it is more often a quantity, a phone fragment or an id."""

    def numeric(c: Candidate) -> bool:
        return not any(ch.isalpha() for ch in text[c.start:c.end])

    worded = sorted((c.start, c.end) for c in candidates
                    if c.label in PLACE_LABELS and not numeric(c))
    starts = [s for s, _ in worded]
    kept: list[Candidate] = []
    for c in candidates:
        if c.label in PLACE_LABELS and numeric(c):
            low = bisect_left(starts, c.start - reach - MAX_SPAN)
            if not any(s - reach <= c.end and c.start <= e + reach
                       for s, e in worded[low:bisect_right(starts, c.end + reach)]):
                continue
        kept.append(c)
    return kept


# Possessive quantifiers: a long run of blanks after "regards" cannot make it backtrack.
_SIGN_OFF_ANYWHERE = re.compile(
    r"(?:^|\n)[ \t]*+(?:--|(?:best |kind |warm )?regards|cheers|sincerely|thanks|"
    r"best wishes)[ \t]*+[,.!]?[ \t]*+\n[ \t]*+",
    re.IGNORECASE,
)
_TITLE_WORDS = frozenset({"mr", "mrs", "ms", "mx", "dr", "prof", "miss", "sir", "madam"})


def _is_title_or_common(run: str) -> bool:
    first = run.split()[0].lower()
    return first in _TITLE_WORDS or first in _COMMON_WORDS


def created_by_context(text: str) -> list[Candidate]:
    """PERSON candidates that only context proposes: the capitalised words right after "my
    name is", a title, "Dear", or on a signature line."""
    found: list[Candidate] = []
    for trigger in _CREATING_TRIGGER.finditer(text):
        run = _CAPITALISED_RUN.match(text, trigger.end())
        if run and not _is_title_or_common(run.group(0)):
            found.append(Candidate(run.start(), run.end(), PERSON, CREATED_SCORE,
                                   frozenset({"context"})))
    for sign_off in _SIGN_OFF_ANYWHERE.finditer(text):
        run = _CAPITALISED_RUN.match(text, sign_off.end())
        if run and not _is_title_or_common(run.group(0)) and (
                run.end() == len(text) or text[run.end()] in "\n\r,"):
            found.append(Candidate(run.start(), run.end(), PERSON, CREATED_SCORE,
                                   frozenset({"context"})))
    return found
