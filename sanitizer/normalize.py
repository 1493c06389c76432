"""Normalisation: the texts detectors scan, and how their offsets map back.

Evasion hides a value from pattern matching without hiding it from a model: fullwidth or
Cyrillic look-alike letters, zero-width characters inside a token, base64, %-escapes, JSON
escapes, hex, backslash-continued lines. :func:`views` returns the original text first and
then *derived views* in which those disguises are undone; the engine runs every detector on
every view and maps each finding back with :meth:`View.to_original`.

Derived views
-------------
``shadow``
    NFKC per character, invisible / bidi / tag characters removed, Zalgo marks on ASCII
    dropped, non-ASCII decimal digits as ASCII, lone surrogates as U+FFFD, and confusable
    letters (Cyrillic, Greek, Armenian, Cherokee look-alikes) folded to ASCII inside words
    that also hold ASCII letters or digits (a pure Russian word is left alone). Mapped
    exactly: a span maps to the smallest original span covering its source characters.
decoded layers (``base64``, ``hex``, ``percent``, ``unescape``, ``tags``)
    Blobs are replaced in place by their decoding; each layer makes one view, nested up to
    ``max_depth``. A finding inside a base64 / hex blob maps to the whole blob; %-escapes,
    string escapes and line continuations are local, so they map escape by escape. Views of
    a long text hold only windows of ``context`` characters around what changed.

Performance: pure-ASCII text without ``%XX``, backslashes or a 16-character base64/hex run
returns ``[View(text)]`` after ``str.isascii``, two ``in`` checks and one RE2 search (~200-400
M chars/s). Whole-text scans are RE2 (DFA, linear time). Matches are then listed with
``re``, whose per-match cost is ~20x lower than through the RE2 wrapper, only with patterns
that are linear by construction: one character class, or fixed-width alternatives after a
literal. Unicode tables are built once, lazily (~0.1 s), from :mod:`unicodedata`: no data
files, nothing downloaded.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import re
import unicodedata
from bisect import bisect_right
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import re2

from .detect.prescan import Prescan, line_spans, widened

__all__ = ["View", "views"]

# --------------------------------------------------------------------------- offset maps


class OffsetMap:
    """Piecewise map from a view's characters to spans of its parent text.

    Segments are *linear* (view char ``v + k`` comes from parent char ``o + k``) or *blocks*
    (every view char of the segment comes from the whole parent span ``o..o_end``).
    Deleted parent characters belong to no segment; a span across them still covers them.
    """

    __slots__ = ("_linear", "_oends", "_ostarts", "_vstarts", "length")

    def __init__(self, vstarts: list[int], ostarts: list[int], oends: list[int],
                 linear: bytearray, length: int) -> None:
        self._vstarts = vstarts
        self._ostarts = ostarts
        self._oends = oends
        self._linear = linear
        self.length = length

    def _char(self, index: int) -> tuple[int, int]:
        k = bisect_right(self._vstarts, index) - 1
        if self._linear[k]:
            start = self._ostarts[k] + index - self._vstarts[k]
            return start, start + 1
        return self._ostarts[k], self._oends[k]

    def span(self, start: int, end: int) -> tuple[int, int]:
        if not self._vstarts:
            return 0, 0
        start = max(0, min(start, self.length))
        end = max(start, min(end, self.length))
        if end == start:
            point = self._char(start)[0] if start < self.length else self._char(start - 1)[1]
            return point, point
        return self._char(start)[0], self._char(end - 1)[1]


class _MapBuilder:
    """Accumulates segments while a view's text is assembled left to right."""

    __slots__ = ("length", "linear", "oends", "ostarts", "vstarts")

    def __init__(self) -> None:
        self.vstarts: list[int] = []
        self.ostarts: list[int] = []
        self.oends: list[int] = []
        self.linear = bytearray()
        self.length = 0

    def copy(self, ostart: int, count: int) -> None:
        """``count`` characters taken one for one from ``ostart`` on."""
        if count <= 0:
            return
        if self.linear and self.linear[-1] and self.oends[-1] == ostart:
            self.oends[-1] += count
        else:
            self._add(ostart, ostart + count, 1)
        self.length += count

    def block(self, ostart: int, oend: int, count: int) -> None:
        """``count`` characters that all come from the parent span ``ostart..oend``."""
        if count <= 0:
            return
        if count == 1 and oend - ostart == 1:
            self.copy(ostart, 1)
            return
        self._add(ostart, oend, 0)
        self.length += count

    def _add(self, ostart: int, oend: int, linear: int) -> None:
        self.vstarts.append(self.length)
        self.ostarts.append(ostart)
        self.oends.append(oend)
        self.linear.append(linear)

    def build(self) -> OffsetMap | None:
        """The map, or ``None`` when it is the identity."""
        if len(self.vstarts) == 1 and self.linear[0] and self.ostarts[0] == 0:
            return None
        return OffsetMap(self.vstarts, self.ostarts, self.oends, self.linear, self.length)


# --------------------------------------------------------------------------- views


@dataclass(frozen=True, slots=True, repr=False)
class View:
    """A text derived from the original, with a map of its offsets back to it.

    ``offsets`` maps into ``parent``'s text (``None``: identity); the chain of parents ends
    at the original. ``depth`` counts decoding layers. The repr never shows the text.
    """

    text: str
    layer: str = "original"
    depth: int = 0
    offsets: OffsetMap | None = field(default=None, compare=False)
    parent: View | None = field(default=None, compare=False)
    gaps: tuple[tuple[int, int], ...] = field(default=(), compare=False)

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The smallest span of the original text that holds everything ``start..end``
        of this view was made from."""
        view: View | None = self
        while view is not None:
            if view.offsets is not None:
                start, end = view.offsets.span(start, end)
            view = view.parent
        return start, end

    def original_spans(self, start: int, end: int) -> list[tuple[int, int]]:
        """Like :meth:`to_original`, but a span across the separators a ``join`` view
        removed comes back as its pieces: a value split over two JSON fields is replaced
        field by field, the key between them untouched."""
        low, high = self.to_original(start, end)
        gaps: list[tuple[int, int]] = []
        view: View | None = self
        while view is not None:
            gaps.extend(g for g in view.gaps if low < g[0] and g[1] < high)
            view = view.parent
        if not gaps:
            return [(low, high)] if low < high else []
        spans: list[tuple[int, int]] = []
        position = low
        for gap_start, gap_end in sorted(gaps):
            if gap_start > position:
                spans.append((position, gap_start))
            position = max(position, gap_end)
        if position < high:
            spans.append((position, high))
        return spans

    def __repr__(self) -> str:
        return f"View(layer={self.layer!r}, depth={self.depth}, chars={len(self.text)})"


def _child(parent: View, name: str, text: str, offsets: OffsetMap | None,
           depth: int) -> View:
    layer = name if parent.layer == "original" else f"{parent.layer}/{name}"
    return View(text, layer, depth, offsets, parent)


# --------------------------------------------------------------------------- Unicode tables

# Default-ignorable and bidi controls: removed from the shadow.
_INVISIBLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
    (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)
# Combining marks used for "Zalgo" text: dropped when they sit on an ASCII character.
_ZALGO = ((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF),
          (0xFE20, 0xFE2F))
# Look-alikes of ASCII letters and digits that NFKC leaves alone (a curated subset of
# Unicode's confusables.txt for the scripts used in practice): pairs of (look-alike, ASCII).
_CONFUSABLE_PAIRS = (
    # Cyrillic
    "\u0430a\u0410A\u0412B\u0415E\u0435e\u0405S\u0455s\u0406I\u0456i\u0408J\u0458j"
    "\u041aK\u043ak\u041cM\u041dH\u041eO\u043eo\u0420P\u0440p\u0421C\u0441c\u0422T"
    "\u0423Y\u0443y\u0425X\u0445x\u04baH\u04bbh\u04aeY\u04afy\u0501d\u051aQ\u051bq"
    "\u051cW\u051dw\u04c0I\u04cfl\u04173\u04316"
    # Greek
    "\u0391A\u0392B\u0395E\u0396Z\u0397H\u0399I\u039aK\u039cM\u039dN\u039fO\u03a1P"
    "\u03a4T\u03a5Y\u03a7X\u03bfo\u03bdv\u03b1a\u03b9i\u03bak\u03c1p\u03c5u\u03b3y"
    "\u03f3j\u03dcF"
    # Latin IPA / African letters, Armenian
    "\u0131i\u0251a\u0261g\u0269i\u01c0l\u0585o\u057du\u0578n\u0570h\u0581g\u0566q"
    "\u0555O\u054dU\u054fS"
    # Cherokee capitals
    "\u13a0D\u13a2T\u13aaA\u13abJ\u13acE\u13b3W\u13b7M\u13bbH\u13c0G\u13c3Z\u13d2R"
    "\u13d9V\u13daS\u13deL\u13dfC\u13e2P\u13e6K\u13f4B"
)
_MAX_EXPANSION = 8  # NFKC can turn one character into 18; longer results stay unfolded
_SCANNED_PLANES = ((0x0000, 0x30000), (0xE0000, 0xE1000))  # where NFKC changes anything


_INVISIBLE_SET = frozenset(cp for lo, hi in _INVISIBLE for cp in range(lo, hi + 1))


def _fold_char(char: str) -> str:
    """The shadow of one character, out of context."""
    cp = ord(char)
    if 0xD800 <= cp <= 0xDFFF:
        return "\ufffd"
    if cp in _INVISIBLE_SET:
        return ""
    folded = unicodedata.normalize("NFKC", char)
    out: list[str] = []
    for ch in folded:
        if ch.isascii():
            out.append(ch)
        elif ord(ch) not in _INVISIBLE_SET:
            digit = unicodedata.decimal(ch, None)
            out.append(ch if digit is None else str(digit))
    result = "".join(out)
    return char if len(result) > _MAX_EXPANSION else result


def _class(cps: list[int], *, python: bool = False) -> str:
    """A character class for the sorted code points ``cps`` (RE2, or ``re`` syntax)."""
    def char(cp: int) -> str:
        return f"\\U{cp:08x}" if python else f"\\x{{{cp:x}}}"

    parts: list[str] = []
    start = prev = cps[0]
    for cp in [*cps[1:], -1]:
        if cp == prev + 1:
            prev = cp
            continue
        parts.append(char(start) if start == prev else f"{char(start)}-{char(prev)}")
        start = prev = cp
    return "[" + "".join(parts) + "]"


@dataclass(frozen=True, slots=True)
class _Tables:
    """Lookup tables of the shadow, built once from this Python's Unicode database.

    Runs of changed characters are found with ``re`` for the BMP (its BIGCHARSET scans
    ~50 M chars/s and matches cost far less than through the RE2 wrapper) and with RE2
    for the rare astral ones; both patterns are single classes, linear by construction.
    """

    fold: dict[int, str]            # every character the shadow changes, out of context
    zalgo: frozenset[str]
    bmp_runs: re.Pattern[str]       # runs of changed BMP characters
    astral: Any                     # RE2: runs of changed astral characters
    irregular: re.Pattern[str]      # BMP characters not changed one for one
    confusables: dict[int, str]     # str.translate table, one char for one char
    mixed_word: Any                 # RE2: a word holding a confusable and an ASCII alnum


_WORD = re.compile(r"\S+")
_ASCII_ALNUM = re.compile(r"[A-Za-z0-9_]")


@cache
def _tables() -> _Tables:
    """Built on first use (~0.1 s)."""
    fold: dict[int, str] = {}
    zalgo = frozenset(chr(cp) for lo, hi in _ZALGO for cp in range(lo, hi + 1))
    for lo, hi in _SCANNED_PLANES:
        for cp in range(lo, hi):
            if 0xD800 <= cp <= 0xDFFF:
                continue
            char = chr(cp)
            if (unicodedata.is_normalized("NFKC", char) and cp not in _INVISIBLE_SET
                    and (cp < 0x80 or unicodedata.decimal(char, None) is None)):
                continue
            folded = _fold_char(char)
            if folded != char:
                fold[cp] = folded
    changed = sorted(set(fold) | {ord(c) for c in zalgo})
    irregular = sorted({cp for cp, f in fold.items() if len(f) != 1 and cp < 0x10000}
                       | {ord(c) for c in zalgo})
    pairs = _CONFUSABLE_PAIRS
    confusables = {ord(pairs[i]): pairs[i + 1] for i in range(0, len(pairs), 2)}
    conf = _class(sorted(confusables))
    alnum = "[A-Za-z0-9_]"
    options = re2.Options()
    options.max_mem = 64 << 20
    return _Tables(
        fold=fold,
        zalgo=zalgo,
        bmp_runs=re.compile(_class([c for c in changed if c < 0x10000], python=True) + "+"),
        astral=re2.compile(_class([c for c in changed if c >= 0x10000]) + "+", options),
        irregular=re.compile(_class(irregular, python=True)),
        confusables=confusables,
        mixed_word=re2.compile(rf"(?:{conf}[^\s]*{alnum}|{alnum}[^\s]*{conf})", options),
    )


def _has_astral(text: str) -> bool:
    """Any character beyond the BMP? (UTF-16 encoding runs at ~300 M chars/s.)"""
    return len(text.encode("utf-16-le", "surrogatepass")) != 2 * len(text)


def _utf8_clean(text: str) -> bool:
    """RE2 needs valid UTF-8: false when ``text`` holds lone surrogates."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _without_surrogates(text: str) -> str:
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)


def scannable(text: str) -> str:
    """``text`` with lone surrogates (which JSON escapes such as ``"\\ud800"`` produce) as
    U+FFFD, one for one: same length, same offsets, and valid UTF-8 for RE2 and Hyperscan.
    Returns ``text`` itself when it has none (one C-speed encode)."""
    return text if _utf8_clean(text) else _without_surrogates(text)


def _changed_runs(text: str, tables: _Tables) -> Iterator[tuple[int, int]]:
    """Spans of the runs of characters the shadow changes, in order."""
    bmp = (m.span() for m in tables.bmp_runs.finditer(text))
    if not _has_astral(text):
        yield from bmp
        return
    astral = (m.span() for m in tables.astral.finditer(text))
    yield from heapq.merge(bmp, astral)


def _fold_confusables(text: str, tables: _Tables) -> str:
    """Fold look-alike letters inside words that also hold ASCII letters or digits."""
    if tables.mixed_word.search(text) is None:
        return text
    pieces: list[str] = []
    last = 0
    for match in _WORD.finditer(text):
        word = match.group()
        folded = word.translate(tables.confusables)
        if folded != word and _ASCII_ALNUM.search(word):
            start = match.start()
            pieces.append(text[last:start])
            pieces.append(folded)
            last = match.end()
    pieces.append(text[last:])
    return "".join(pieces)


def shadow(text: str) -> tuple[str, OffsetMap | None] | None:
    """The shadow of ``text`` and its map, or ``None`` when it equals ``text``."""
    if text.isascii():
        return None
    tables = _tables()
    source = text if _utf8_clean(text) else _without_surrogates(text)  # one for one
    fold = tables.fold
    offsets: OffsetMap | None = None
    if tables.irregular.search(source) is None and not _has_astral(source):
        # Every change is one character for one: the map is the identity.
        folded = tables.bmp_runs.sub(lambda m: m.group().translate(fold), source)
    else:
        folded, offsets = _shadow_mapped(source, tables)
    folded = _fold_confusables(folded, tables)  # one for one as well
    if folded == text or not folded:
        return None
    return folded, offsets


def _shadow_mapped(source: str, tables: _Tables) -> tuple[str, OffsetMap | None]:
    """The shadow when some characters vanish or expand: the map records where."""
    fold, zalgo, irregular = tables.fold, tables.zalgo, tables.irregular
    parts: list[str] = []
    builder = _MapBuilder()
    last = 0
    stretch = 0  # output mirrors source[stretch:] one for one since the last irregular char
    for start, end in _changed_runs(source, tables):
        parts.append(source[last:start])
        run = source[start:end]
        last = end
        if ord(run[0]) < 0x10000 and irregular.search(run) is None:
            parts.append(run.translate(fold))
            continue
        prev = source[start - 1] if start else " "
        for index in range(start, end):
            char = source[index]
            if char in zalgo and prev.isascii() and not prev.isspace():
                piece = ""  # a mark stacked on an ASCII character
            else:
                piece = fold.get(ord(char), char)
                if len(piece) == 1:
                    parts.append(piece)
                    prev = piece
                    continue
            builder.copy(stretch, index - stretch)
            if piece:
                parts.append(piece)
                builder.block(index, index + 1, len(piece))
                prev = piece[-1]
            stretch = index + 1
    parts.append(source[last:])
    builder.copy(stretch, len(source) - stretch)
    return "".join(parts), builder.build()


# --------------------------------------------------------------------------- decoding layers

Edit = tuple[int, int, str]  # replace text[start:end] by the string

# RE2 answers "is there any?" over the whole text (a DFA scan); ``re`` then lists the
# matches, because each match through the RE2 wrapper costs ~9 us against ~0.5 us. The
# ``re`` patterns are single classes or fixed-width alternatives: linear on any input.
_BLOB_HINT = re2.compile(r"[A-Za-z0-9+/_-]{16}|[A-Za-z0-9+/]{11}=")
_PERCENT_HINT = re2.compile(r"%[0-9A-Fa-f]{2}")
# A shorter run counts only with "=" padding: base64 of 8 to 11 bytes (an SSN).
_BLOB = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}|[A-Za-z0-9+/]{11,15}={1,2}")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}(?:%[0-9A-Fa-f]{2})*")
_ESCAPE = re.compile(r"\\(?:u[0-9A-Fa-f]{4}|x[0-9A-Fa-f]{2}|[\\\"'/bfnrt]|\r?\n[ \t]*)")
_TAGS = re.compile("[\U000e0020-\U000e007e]{4,}")
_SIMPLE_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "/": "/", "b": "\b", "f": "\f",
                   "n": "\n", "r": "\r", "t": "\t"}
_URL_SEPARATORS = re.compile(r"[_-]")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
MIN_BLOB = 16
_WHOLE_TEXT_BELOW = 1024  # decoded views of shorter texts keep the whole text
_WINDOW_SLACK = 64  # how far a window edge may move to reach whitespace


_B64_SET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_BLOB_SET = _B64_SET | {"_", "-"}


@cache
def _blob_scans() -> tuple[tuple[Prescan, frozenset[str]], ...]:
    """Where a :data:`_BLOB` match may start, with the characters it starts with: a run of
    16 blob characters, or of 11 to 15 (standard alphabet) before ``=``, each right after
    a character that cannot precede it in such a match. (``re`` alone would try every
    position of every run of letters: ~20x slower.)"""
    return ((Prescan([r"(?:^|[^A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{16}"]), _BLOB_SET),
            (Prescan([r"(?:^|[^A-Za-z0-9+/])[A-Za-z0-9+/]{11,15}="]), _B64_SET))


def _blob_starts(text: str) -> list[int]:
    starts: set[int] = set()
    for scan, first in _blob_scans():
        starts.update(0 if start == 0 and text[0] in first else start + 1
                      for start, _ in scan.spans(text))
    return sorted(starts)


def _blob_matches(text: str) -> Iterator[re.Match[str]]:
    """``_BLOB.finditer(text)``, tried only where the prescan found a run."""
    position = 0
    for start in _blob_starts(text):
        match = _BLOB.match(text, start) if start >= position else None
        if match is not None:
            position = match.end()
            yield match


def _may_decode(text: str) -> bool:
    """Cheap test: could any decoding layer fire on ``text``?"""
    return (("%" in text and _PERCENT_HINT.search(text) is not None) or "\\" in text
            or _BLOB_HINT.search(text) is not None)


def _printable(data: bytes) -> str | None:
    """``data`` as text when it is UTF-8 and (almost) all printable, else ``None``.

    Whitespace and invisible characters count as printable (the shadow removes the
    latter); a short text must be clean, a long one may hold 5% of other characters.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text:
        return None
    stripped = text.replace("\n", "").replace("\r", "").replace("\t", "")
    if stripped.isprintable():
        return text
    bad = sum(1 for ch in stripped if not ch.isprintable() and ord(ch) not in _INVISIBLE_SET)
    return text if bad == 0 or (len(text) >= 64 and bad * 20 <= len(text)) else None


# A blob longer than this may be a piece cut out of a larger one (a chunk of a long text
# starts or ends inside it): its decoding is also tried shifted to the other alignments.
_REALIGN_ABOVE = 256


def _decode_hex(run: str) -> str | None:
    if run[:2] in ("0x", "0X"):
        run = run[2:]
    if len(run) < MIN_BLOB or not _HEX_DIGITS.issuperset(run):
        return None
    if len(run) % 2 == 0:
        decoded = _printable(bytes.fromhex(run))
        if decoded is not None or len(run) <= _REALIGN_ABOVE:
            return decoded
        return _printable(bytes.fromhex(run[1:-1]))
    return _printable(bytes.fromhex(run[1:])) if len(run) > _REALIGN_ABOVE else None


def _b64(core: str, urlsafe: bool) -> str | None:
    padded = core + "=" * (-len(core) % 4)
    try:
        data = (base64.urlsafe_b64decode(padded) if urlsafe
                else base64.b64decode(padded, validate=True))
    except (binascii.Error, ValueError):
        return None
    return _printable(data)


def _decode_base64(run: str) -> str | None:
    core = run.rstrip("=")
    urlsafe = "-" in core or "_" in core
    if urlsafe and ("+" in core or "/" in core):
        return None
    if len(core) % 4 != 1:
        decoded = _b64(core, urlsafe)
        if decoded is not None or len(core) <= _REALIGN_ABOVE:
            return decoded
    elif len(core) <= _REALIGN_ABOVE:
        return None
    for shift in (1, 2, 3):  # a piece of a longer blob: try the other alignments
        piece = core[shift:]
        decoded = _b64(piece[:len(piece) - len(piece) % 4], urlsafe)
        if decoded is not None:
            return decoded
    return None


def _decode_blob(run: str) -> tuple[str, str] | None:
    """``(kind, text)`` when ``run`` is hex or base64 of printable text."""
    decoded = _decode_hex(run)
    if decoded is not None:
        return "hex", decoded
    decoded = _decode_base64(run)
    if decoded is not None:
        return "base64", decoded
    return None


def _blob_edits(text: str, max_blobs: int, kinds: set[str]) -> list[Edit]:
    edits: list[Edit] = []
    for match in _blob_matches(text):
        run = match.group()
        if run.islower() and not any(c in run for c in "0123456789+/"):
            continue  # a word or identifier: encoded text nearly always mixes these in
        found = _decode_blob(run)
        if found is not None:
            kinds.add(found[0])
            edits.append((match.start(), match.end(), found[1]))
        elif "_" in run or "-" in run:  # a blob glued to an identifier: name_Z2hw…
            offset = match.start()
            for piece in _URL_SEPARATORS.split(run):
                found = _decode_blob(piece) if len(piece) >= MIN_BLOB else None
                if found is not None:
                    kinds.add(found[0])
                    edits.append((offset, offset + len(piece), found[1]))
                offset += len(piece) + 1
        if len(edits) >= max_blobs:
            break
    return edits


def _percent_edits(text: str) -> list[Edit]:
    if "%" not in text:
        return []
    edits: list[Edit] = []
    for match in _PERCENT.finditer(text):
        position = match.start()
        raw = bytes.fromhex(match.group().replace("%", ""))
        for char in raw.decode("utf-8", "surrogateescape"):
            width = 1 if 0xDC80 <= ord(char) <= 0xDCFF else len(char.encode("utf-8"))
            edits.append((position, position + 3 * width, char))
            position += 3 * width
    return edits


def _escape_edits(text: str) -> list[Edit]:
    if "\\" not in text:
        return []
    edits: list[Edit] = []
    for match in _ESCAPE.finditer(text):
        start, end = match.span()
        body = match.group()[1:]
        kind = body[0]
        if kind == "u":
            code = int(body[1:], 16)
            if (0xDC00 <= code <= 0xDFFF and edits and edits[-1][1] == start
                    and len(edits[-1][2]) == 1 and 0xD800 <= ord(edits[-1][2]) <= 0xDBFF):
                high = ord(edits.pop()[2])
                pair = 0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00)
                edits.append((start - 6, end, chr(pair)))
                continue
            edits.append((start, end, chr(code)))
        elif kind == "x":
            edits.append((start, end, chr(int(body[1:], 16))))
        elif kind in _SIMPLE_ESCAPES:
            edits.append((start, end, _SIMPLE_ESCAPES[kind]))
        else:  # backslash-newline: a continued line
            edits.append((start, end, ""))
    return edits


def _tag_edits(text: str) -> list[Edit]:
    """Unicode tag characters that spell ASCII ("ASCII smuggling")."""
    return [(m.start(), m.end(), "".join(chr(ord(c) - 0xE0000) for c in m.group()))
            for m in _TAGS.finditer(text)]


def _windows(text: str, edits: list[Edit], context: int) -> list[tuple[int, int]]:
    """Spans of ``text`` within ``context`` characters of an edit, merged, their edges
    moved out to white space where it is near: a window that starts inside a word could
    make a pattern anchored on ``\\b`` match where the original has no boundary. Edges
    are moved once per window, not once per edit (dense edits stay linear)."""
    size = len(text)
    raw: list[tuple[int, int]] = []
    for start, end, _ in edits:
        lo, hi = max(0, start - context), min(size, end + context)
        if raw and lo <= raw[-1][1] + 2 * _WINDOW_SLACK:
            raw[-1] = (raw[-1][0], max(raw[-1][1], hi))
        else:
            raw.append((lo, hi))
    return widened(text, raw, _WINDOW_SLACK)


def _splice(text: str, edits: list[Edit], context: int) -> tuple[str, OffsetMap | None]:
    """Apply sorted, disjoint ``edits``; keep only ``context`` characters around them when
    that saves most of a long text (windows are joined by a newline)."""
    size = len(text)
    windows: list[tuple[int, int]] = []
    if size > _WHOLE_TEXT_BELOW:
        windows = _windows(text, edits, context)
    if size <= _WHOLE_TEXT_BELOW or 4 * sum(hi - lo for lo, hi in windows) >= 3 * size:
        windows = [(0, size)]
    parts: list[str] = []
    builder = _MapBuilder()
    index = 0
    previous_end: int | None = None
    for lo, hi in windows:
        if previous_end is not None:
            parts.append("\n")
            builder.block(previous_end, lo, 1)
        position = lo
        while index < len(edits) and edits[index][0] < hi:
            start, end, replacement = edits[index]
            parts.append(text[position:start])
            builder.copy(position, start - position)
            parts.append(replacement)
            builder.block(start, end, len(replacement))
            position = end
            index += 1
        parts.append(text[position:hi])
        builder.copy(position, hi - position)
        previous_end = hi
    return "".join(parts), builder.build()


# --------------------------------------------------------------------------- joined pieces
#
# A value split over adjacent lines (``ghp_AbC…`` wrapped, the rest alone on the next line)
# or over adjacent JSON / code strings (``"a": "ghp_AbC…", "b": "…xyz"``, ``"…" + "…"``) is
# joined in a ``join`` view: the separators are deleted, and their spans are kept as the
# view's ``gaps`` so that a finding across them maps back to the pieces only. A piece must
# look like part of a token (a digit, mixed case, or a symbol next to letters): prose is
# never joined. Every pattern below is fixed-width or a single class: linear.

_TOKEN_CHARS = "A-Za-z0-9+/=_.@\\-"  # noqa: S105 - a character class
_TOKEN_SET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_.@-")
_LINE_JOIN = re.compile(rf"[{_TOKEN_CHARS}]{{5}}(\r?\n[ \t]{{0,16}})"
                        rf"(?=[{_TOKEN_CHARS}]{{5,512}}[ \t]*(?:\r?\n|\Z))")
# Two neighbouring quoted values (neither one a key): array items, concatenated literals,
# or the values of adjacent fields with the second one's key between them.


def _quoted_value(group: int) -> str:
    return rf"([\"'])([{_TOKEN_CHARS}]{{4,512}})\{group}(?![ \t\r\n]{{0,8}}:)"


_QUOTED_PAIR = re.compile(
    _quoted_value(1) + r"(?=[ \t\r\n]{0,8}(?:[,+][ \t\r\n]{0,8})?"
    r"(?:([\"'])[A-Za-z0-9_.\- ]{1,64}\3[ \t\r\n]{0,8}:[ \t\r\n]{0,8})?"
    + _quoted_value(4) + ")")


@cache
def _join_scans() -> tuple[Prescan, Prescan]:
    """Where :data:`_LINE_JOIN` and :data:`_QUOTED_PAIR` may match (looser patterns, in
    Hyperscan syntax): a token then a line holding nothing but another, and two quoted
    values in a row. Prose and code lines go on after their first word: no match."""
    token = f"[{_TOKEN_CHARS}]"
    space = r"[ \t\r\n]*"
    return (Prescan([rf"{token}{{5}}\r?\n[ \t]{{0,16}}{token}{{5,}}[ \t]*(?:\r?\n|$)"]),
            Prescan([rf"[\"']{token}{{4,}}[\"']{space}[,+]?{space}"
                     rf"(?:[\"'][A-Za-z0-9_.\- ]+[\"']{space}:{space})?[\"']{token}{{4}}"]))


# Cheap test (RE2, a DFA: no per-match cost): could :func:`_join_scans` match at all?
_JOIN_HINT = re2.compile(
    rf"[{_TOKEN_CHARS}]{{5}}\r?\n[ \t]{{0,16}}[{_TOKEN_CHARS}]{{5,}}[ \t]*(?:\r?\n|\z)"
    rf"|[\"'][{_TOKEN_CHARS}]{{4}}[^\"'\n]*[\"'][ \t\r\n]*[,+]?[ \t\r\n]*"
    rf"(?:[\"'][A-Za-z0-9_.\- ]+[\"'][ \t\r\n]*:[ \t\r\n]*)?[\"'][{_TOKEN_CHARS}]{{4}}")


def _may_join(text: str) -> bool:
    return _JOIN_HINT.search(text) is not None


def _matches_near(pattern: re.Pattern[str], scan: Prescan, text: str
                  ) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)``, run only over the lines where ``scan`` matched and the
    line after each: a match of either join pattern starts on such a line and consumes no
    line break but its own. Its lookaheads may peek :data:`_PEEK` characters further (past
    blank lines to a ``:``), so the scan reads on to the end of that line (``\\Z`` must not
    match at a cut) and keeps what starts before."""
    size = len(text)
    for low, high in line_spans(text, scan.spans(text), after=1):
        stop = text.find("\n", min(size, high + _PEEK))
        for match in pattern.finditer(text, low, size if stop == -1 else stop + 1):
            if match.start() >= high:
                break
            yield match


_PEEK = 16  # longest lookahead past a match's line: up to 8 blanks, then ":"


MIN_LINE_PIECE = 5
_SEPARATORS = frozenset("-_@.:/+=")
MAX_PIECE = 512
MAX_PIECES = 32


def token_like(piece: str) -> bool:
    """Whether ``piece`` could be part of a key, token or identifier rather than a word:
    a digit, upper and lower case mixed, or a symbol (``_-+/=@.``) next to letters."""
    has_lower = has_upper = has_symbol = False
    for char in piece:
        if char.isdigit():
            return True
        if char.islower():
            has_lower = True
        elif char.isupper():
            has_upper = True
        elif char in "_-+/=@.":
            has_symbol = True
    return (has_lower and has_upper) or (has_symbol and (has_lower or has_upper))


def _run_back(text: str, end: int) -> int:
    start = end
    stop = max(0, end - MAX_PIECE)
    while start > stop and text[start - 1] in _TOKEN_SET:
        start -= 1
    return start


def _run_forward(text: str, start: int) -> int:
    end = start
    stop = min(len(text), start + MAX_PIECE)
    while end < stop and text[end] in _TOKEN_SET:
        end += 1
    return end


def _line_gaps(text: str) -> list[tuple[int, int]]:
    """Line breaks inside a token: the line before ends in a run of token characters, the
    next line holds nothing but one (each at least :data:`MIN_LINE_PIECE` long), and the
    two may be pieces of one value (:func:`_joinable`: ``AKIA…`` then ``ANXVOE`` may, a
    token then ``thanks`` may not)."""
    gaps: list[tuple[int, int]] = []
    chain = 0
    for match in _matches_near(_LINE_JOIN, _join_scans()[0], text):
        gap_start, gap_end = match.span(1)
        left = text[_run_back(text, gap_start):gap_start]
        right = text[gap_end:_run_forward(text, gap_end)]  # alone on its line
        if not (len(left) >= MIN_LINE_PIECE and _joinable(left, right)):
            chain = 0
            continue
        chain = chain + 1 if gaps and gaps[-1][1] == _run_back(text, gap_start) else 1
        if chain < MAX_PIECES:
            gaps.append((gap_start, gap_end))
    return gaps


def _joinable(first: str, second: str) -> bool:
    """Whether two adjacent strings may be pieces of one value: both token-like or upper
    case (``AKIA…`` + ``ANXVOE``), or a word cut off right before a separator (``glpat`` +
    ``-x2…``, ``ann.lee`` + ``@corp.example``). A plain word is not glued onto a token
    otherwise (``"octocat"``, ``"ghp_…"``): it would bury the token's word boundary. An
    assignment is no piece (``API_KEY=sk-…``: ``=`` is base64's padding, at a piece's end
    only); of one on the first line, its value is (``TOKEN=ghp_ab`` + ``cd…``)."""
    core = first.rstrip("=")
    if "=" in core:
        first = first[core.rindex("=") + 1:]
    if not first or "=" in second.rstrip("="):
        return False
    return ((token_like(first) or first.isupper() or second[:1] in _SEPARATORS)
            and (token_like(second) or second.isupper()))


def _string_gaps(text: str) -> list[tuple[int, int]]:
    """Between adjacent quoted strings that may be pieces of one value (values of
    neighbouring JSON fields or array items, concatenated literals): from the closing
    quote to the opening quote."""
    gaps: list[tuple[int, int]] = []
    chain = 0
    for pair in _matches_near(_QUOTED_PAIR, _join_scans()[1], text):
        if not _joinable(pair.group(2), pair.group(5)):
            chain = 0
            continue
        chain = chain + 1 if gaps and gaps[-1][1] == pair.start() + 1 else 1
        if chain < MAX_PIECES:
            gaps.append((pair.end() - 1, pair.start(4) + 1))
    return gaps


def _joined(view: View, context: int) -> View | None:
    """The ``join`` child of ``view``, or ``None`` when nothing in it is split."""
    text = view.text
    gaps = sorted(_line_gaps(text) + _string_gaps(text))
    edits: list[Edit] = []
    for start, end in gaps:
        if not edits or start >= edits[-1][1]:
            edits.append((start, end, ""))
    if not edits:
        return None
    joined, offsets = _splice(text, edits, context)
    mapped = tuple(view.to_original(start, end) for start, end, _ in edits)
    layer = "join" if view.layer == "original" else f"{view.layer}/join"
    return View(joined, layer, view.depth + 1, offsets, view, mapped)


def fragments(texts: list[str]) -> list[tuple[int, int]]:
    """Runs ``[i, j)`` of two or more consecutive ``texts`` that may be pieces of one value
    (4 to 512 token characters each, every neighbour pair :func:`_joinable`): the sibling
    string values of a JSON object or array that a value may have been split across."""
    runs: list[tuple[int, int]] = []
    start = 0
    for index in range(1, len(texts) + 1):
        if index < len(texts) and index - start < MAX_PIECES and all(
                4 <= len(t) <= MAX_PIECE and _TOKEN_SET.issuperset(t)
                for t in texts[index - 1:index + 1]) and _joinable(texts[index - 1],
                                                                   texts[index]):
            continue
        if index - start >= 2:
            runs.append((start, index))
        start = index
    return runs


@dataclass(frozen=True, slots=True)
class _Limits:
    max_depth: int
    max_views: int
    max_blobs: int
    context: int


def _layer_edits(layer: str, text: str, limits: _Limits) -> tuple[str, list[Edit]]:
    """The edits one decoding layer makes to ``text``, and the layer's name."""
    if layer == "blob":
        kinds: set[str] = set()
        edits = _blob_edits(text, limits.max_blobs, kinds)
        return "+".join(sorted(kinds)), edits
    if layer == "percent":
        return layer, _percent_edits(text)
    return layer, _escape_edits(text)


def _decoded_children(view: View, limits: _Limits) -> Iterator[View]:
    """One child view per layer that changes ``view``, each shadowed when that helps."""
    text = view.text
    if not _utf8_clean(text):
        return
    for layer in ("blob", "percent", "unescape"):
        name, edits = _layer_edits(layer, text, limits)
        if edits:
            decoded, offsets = _splice(text, edits, limits.context)
            child = _child(view, name, decoded, offsets, view.depth + 1)
            yield _shadowed(child) or child
    if "join" not in view.layer:
        joined = _joined(view, limits.context)
        if joined is not None:
            yield joined


def _shadowed(view: View) -> View | None:
    result = shadow(view.text)
    if result is None:
        return None
    text, offsets = result
    return View(text, view.layer + "+shadow" if view.depth else "shadow", view.depth,
                offsets, view)


def views(text: str, *, max_depth: int = 3, max_views: int = 16, max_blobs: int = 256,
          max_total_chars: int | None = None, context: int = 100) -> list[View]:
    """The original text first, then normalised and decoded views of it.

    Limits bound the work on hostile input: ``max_depth`` nested decodings,
    ``max_views`` derived views, ``max_blobs`` base64/hex blobs decoded per view, and
    ``max_total_chars`` characters across all derived views (default: four times the
    text plus 64 KiB). ``context`` characters around each decoded spot are kept in
    decoded views of long texts.
    """
    original = View(text)
    result = [original]
    if not text:
        return result
    plain = text.isascii()
    if plain and not _may_decode(text) and not _may_join(text):
        return result
    budget = 4 * len(text) + (64 << 10) if max_total_chars is None else max_total_chars
    seen = {text}
    root = original
    if not plain:
        shadowed = _shadowed(original)
        if shadowed is not None and len(shadowed.text) <= budget and max_views > 0:
            result.append(shadowed)
            budget -= len(shadowed.text)
            seen.add(shadowed.text)
            root = shadowed
    limits = _Limits(max_depth, max_views, max_blobs, context)
    queue: deque[View] = deque()
    if plain or _may_decode(root.text) or _may_join(root.text):  # plain: tested above
        queue.append(root)
    if not plain and _has_astral(text) and _TAGS.search(text) is not None:
        decoded, offsets = _splice(text, _tag_edits(text), context)
        tagged = _child(original, "tags", decoded, offsets, 1)
        admitted = _admit(_shadowed(tagged) or tagged, result, seen, limits, budget)
        if admitted is not None:
            budget -= len(admitted.text)
            queue.append(admitted)
    while queue:
        view = queue.popleft()
        if view.depth >= max_depth:
            continue
        for child in _decoded_children(view, limits):
            if len(result) > max_views:
                return result
            admitted = _admit(child, result, seen, limits, budget)
            if admitted is not None:
                budget -= len(admitted.text)
                queue.append(admitted)
    return result


def _admit(child: View, result: list[View], seen: set[str], limits: _Limits,
           budget: int) -> View | None:
    """Add ``child`` to ``result`` unless it repeats a view or breaks a limit."""
    if len(result) > limits.max_views or len(child.text) > budget or child.text in seen:
        return None
    seen.add(child.text)
    result.append(child)
    return child


# --------------------------------------------------------------------------- chunks

CHUNK_SLACK = 256  # how far a chunk edge may move to reach white space


def chunks(text: str, size: int, overlap: int) -> list[tuple[int, int]]:
    """Spans of at most ``size + 2 * CHUNK_SLACK`` characters covering ``text``, each
    overlapping the next by at least ``overlap``: any value of ``overlap`` characters or
    fewer lies whole inside one chunk. Edges move out (never in) to white space within
    :data:`CHUNK_SLACK` characters, so words are rarely cut. ``overlap`` must be at most
    half of ``size``."""
    length = len(text)
    if length <= size:
        return [(0, length)]
    if not 0 <= overlap <= size // 2:
        raise ValueError("chunk overlap must be between 0 and half the chunk size")
    slack = min(CHUNK_SLACK, size // 8)
    spans: list[tuple[int, int]] = []
    start = 0
    while True:
        end = start + size
        if end >= length:
            spans.append((start, length))
            return spans
        stop = min(length, end + slack)
        probe = end
        while probe < stop and not text[probe].isspace():
            probe += 1
        if probe < stop:
            end = probe
        spans.append((start, end))
        following = end - overlap
        stop = max(start + 1, following - slack)
        probe = following
        while probe > stop and not text[probe - 1].isspace():
            probe -= 1
        if probe > stop:
            following = probe
        start = max(following, start + 1)
