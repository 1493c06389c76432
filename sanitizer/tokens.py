"""Placeholders: how they look, how they are found again, and how look-alikes are disarmed.

A placeholder is ``prefix + ENTITY + separator + n + suffix`` (default ``<EMAIL_ADDRESS_1>``).
Models rewrite them (case, spacing, brackets), so matching is tolerant: the configured
brackets or any single bracket, separators as space/underscore/hyphen (or the configured
one), any case — or the exact bare form ``EMAIL_ADDRESS_1``. Only known entity names match,
so ``ISO_8601`` or ``HTTP_2`` are never touched.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError
from .normalize import scannable

_OPEN, _CLOSE = "<[{(", ">]})"
_MAX_DIGITS = 6
_MAX_BRACKET = 4
_REGEX_MEMORY = 32 << 20
# "~" marks a neutralised look-alike and "#" a keyed fingerprint (the hash action): a
# separator must not be either, or those could be restored.
_RESERVED = "~#" + _OPEN + _CLOSE


@dataclass(frozen=True, slots=True)
class PlaceholderFormat:
    prefix: str = "<"
    separator: str = "_"
    suffix: str = ">"

    @classmethod
    def parse(cls, template: str, source: str = "placeholder format") -> PlaceholderFormat:
        """``"<{entity}_{n}>"`` → prefix ``<``, separator ``_``, suffix ``>``."""
        if not isinstance(template, str):
            raise ConfigError(f"{source}: placeholder format must be a string")
        head, found_entity, rest = template.partition("{entity}")
        separator, found_n, suffix = rest.partition("{n}")
        if not found_entity or not found_n:
            raise ConfigError(f"{source}: placeholder format needs {{entity}} then {{n}}")
        if any(c.isalnum() or not c.isprintable() for c in head + separator + suffix) or \
                len(separator) > 1 or len(head) > _MAX_BRACKET or len(suffix) > _MAX_BRACKET:
            raise ConfigError(f"{source}: placeholder format may only add up to "
                              f"{_MAX_BRACKET} bracket characters on each side and one "
                              "separator around {entity} and {n}")
        if separator and separator in _RESERVED:
            raise ConfigError(f"{source}: placeholder separator {separator!r} is reserved")
        return cls(head, separator, suffix)

    def render(self, entity: str, number: int) -> str:
        return f"{self.prefix}{entity}{self.separator}{number}{self.suffix}"


@dataclass(frozen=True, slots=True)
class PlaceholderMatch:
    start: int
    end: int
    entity: str          # canonical (upper case, underscores)
    number: int
    entity_end: int      # where the entity name ends in the text
    number_start: int    # where the number starts in the text


def _trie_pattern(names: Iterable[str], tail: str) -> str:
    """A regex for every non-empty prefix of ``name + tail`` over the (tolerant) entity
    names, as one trie: linear in their total length, where listing every prefix would be
    quadratic and too big for RE2's DFA. ``tail`` must itself match all its prefixes."""
    import re2

    end = object()
    root: dict[Any, Any] = {}
    for name in names:
        node = root
        for char in name:
            node = node.setdefault(char, {})
        node[end] = {}

    def render(node: dict[Any, Any]) -> str:
        branches = [tail if char is end else
                    (r"[\s_-]?" if char == "_" else re2.escape(char)) + render(child)
                    for char, child in sorted(node.items(), key=lambda kv: str(kv[0]))]
        return "(?:" + "|".join(branches) + ")?" if branches else ""

    return render(root)


def _entity_pattern(entity: str) -> str:
    """``GITHUB_TOKEN`` → ``GITHUB[\\s_-]?TOKEN``; a trailing ``_`` (of a prefix) is kept
    as an optional separator."""
    pattern = r"[\s_-]?".join(part for part in entity.split("_") if part)
    return pattern + r"[\s_-]?" if entity.endswith("_") else pattern


class PlaceholderGrammar:
    """Finds placeholders of the given entity names, tolerating model rewrites."""

    def __init__(self, entities: Iterable[str], fmt: PlaceholderFormat | None = None) -> None:
        import re2

        self.format = fmt = fmt or PlaceholderFormat()
        names = sorted({e.upper() for e in entities if e}, key=len, reverse=True)
        if not names:
            names = ["SECRET"]
        self._canonical = {self._fold(n): n for n in names}
        alternatives = "|".join(_entity_pattern(n) for n in names)
        opens, closes = re2.escape(_OPEN), re2.escape(_CLOSE)
        # The configured brackets first (leftmost-first: ``[[`` wins over ``[``), then any
        # single bracket; the configured separator joins the tolerated ones.
        open_alt = rf"[{opens}]\s?"
        close_alt = rf"\s?[{closes}]"
        if fmt.prefix:
            open_alt = rf"{re2.escape(fmt.prefix)}\s?|{open_alt}"
        if fmt.suffix:
            close_alt = rf"\s?{re2.escape(fmt.suffix)}|{close_alt}"
        separator = r"[\s_-]"
        if fmt.separator and fmt.separator not in " _-":
            separator = rf"(?:[\s_-]|{re2.escape(fmt.separator)})"
        digits = rf"[0-9]{{1,{_MAX_DIGITS}}}"
        options = re2.Options()
        options.max_mem = _REGEX_MEMORY  # headroom for a growing catalog: no NFA fallback
        self._regex = re2.compile(
            rf"(?i)((?:{open_alt}))?({alternatives})({separator}?)({digits})((?:{close_alt}))?",
            options)
        # What could still grow into a placeholder: a (partial) opening, a partial entity
        # name, or a whole one with separator, digits and a partial closing.
        open_partial = "|".join(
            [rf"[{opens}]\s?", *(re2.escape(fmt.prefix[:k]) for k in range(1, len(fmt.prefix))),
             *([rf"{re2.escape(fmt.prefix)}\s?"] if fmt.prefix else [])])
        close_partial = "|".join(
            [r"\s", *(rf"\s?{re2.escape(fmt.suffix[:k])}" for k in range(1, len(fmt.suffix)))])
        tail = rf"{separator}?(?:{digits}(?:{close_partial})?)?"
        self._prefix = re2.compile(rf"(?i)(?:{open_partial})?{_trie_pattern(names, tail)}",
                                   options)
        self.max_length = (len(fmt.prefix) + len(fmt.suffix) + 4 + max(len(n) for n in names) * 2
                           + _MAX_DIGITS)

    @staticmethod
    def _fold(name: str) -> str:
        return "".join(c for c in name.upper() if c.isalnum())

    def finditer(self, text: str, before: str = " ") -> Iterator[PlaceholderMatch]:
        """Placeholders in ``text``; ``before`` is the character that precedes it (word
        boundaries of the bare form need it)."""
        for match in self._regex.finditer(scannable(text)):  # lone surrogates: U+FFFD
            found = self._accept(match, text, before)
            if found is not None:
                yield found

    def spans(self, text: str) -> Iterator[tuple[int, int]]:
        """Every candidate the scan consumes, accepted or not: a restorer must never cut
        through one, or a rescan from the cut would see different candidates."""
        for match in self._regex.finditer(scannable(text)):  # lone surrogates: U+FFFD
            yield match.span()

    def _accept(self, match: Any, text: str, before: str) -> PlaceholderMatch | None:
        opened, closed = match.group(1), match.group(5)
        start, end = match.span()
        entity_text = match.group(2)
        if not opened and not closed:
            # Bare form: exact case and separator only, and on word boundaries.
            exact = entity_text.isupper() and match.group(3) == self.format.separator
            previous = text[start - 1] if start else before
            after = text[end] if end < len(text) else " "
            if not exact or previous.isalnum() or previous == "_" or after.isalnum():
                return None
        elif not closed and end < len(text) and text[end].isdigit():
            return None
        entity = self._canonical.get(self._fold(entity_text))
        if entity is None:
            return None
        return PlaceholderMatch(start, end, entity, int(match.group(4)), match.end(2),
                                match.start(4))

    def is_open_prefix(self, tail: str) -> bool:
        """Whether ``tail`` could still grow into (or extend) a placeholder."""
        return bool(tail) and self._prefix.fullmatch(scannable(tail)) is not None

    def neutralize(self, text: str, keep: Callable[[PlaceholderMatch], bool] | None = None
                   ) -> str:
        """Disarm placeholder look-alikes in untrusted text: ``<EMAIL_1>`` becomes
        ``<EMAIL~1>``, which no restore will ever resolve (and which stays as it is if
        sanitized again). ``keep(match)`` spares the placeholders it vouches for (those the
        session itself minted)."""
        out: list[str] = []
        position = 0
        for match in self.finditer(text):
            if keep is not None and keep(match):
                continue
            out.append(text[position:match.entity_end])
            out.append("~")
            position = match.number_start
        out.append(text[position:])
        return "".join(out)


Resolver = Callable[[PlaceholderMatch], str | None]


def restore_text(text: str, grammar: PlaceholderGrammar, resolve: Resolver,
                 end: int | None = None, before: str = " ") -> str:
    """Replace every placeholder ``resolve`` knows; leave the others as they are.

    With ``end`` only ``text[:end]`` is produced, but placeholders are recognised against
    the whole text, so the characters after it (a following digit, a word character)
    decide exactly as they would; ``before`` is the character preceding ``text``.
    """
    end = len(text) if end is None else end
    out: list[str] = []
    position = 0
    for match in grammar.finditer(text, before):
        if match.end > end:
            break
        value = resolve(match)
        if value is None:
            continue
        out.append(text[position:match.start])
        out.append(value)
        position = match.end
    out.append(text[position:end])
    return "".join(out)


class StreamingRestorer:
    """Restores a stream chunk by chunk, holding back only what could still become a
    placeholder. Joined output equals :func:`restore_text` on the joined input, for every
    chunking; bytes chunks are decoded incrementally (a split UTF-8 character waits).

    Invariant: no scan candidate spans a cut, so scanning the rest from the cut finds
    exactly what a scan of the whole text finds there.
    """

    def __init__(self, grammar: PlaceholderGrammar, resolve: Resolver) -> None:
        self._grammar = grammar
        self._resolve = resolve
        self.vault_failed = False  # set by a resolver that could not reach its vault
        self._pending = ""
        self._before = " "  # the last emitted character: word boundaries need it
        self._decoder = codecs.getincrementaldecoder("utf-8")()

    def _cut(self, text: str) -> int:
        """Where the held-back tail starts: the earliest position in the last window whose
        suffix is an open placeholder prefix, moved left over any candidate it would split."""
        window = max(0, len(text) - self._grammar.max_length)
        cut = len(text)
        for position in range(window, len(text)):
            if self._grammar.is_open_prefix(text[position:]):
                cut = position
                break
        for start, end in self._grammar.spans(text):
            if start < cut < end:
                cut = start
        return cut

    def feed(self, chunk: str | bytes) -> str:
        if isinstance(chunk, bytes):
            chunk = self._decoder.decode(chunk)
        return self._emit(self._pending + chunk, final=False)

    def flush(self) -> str:
        return self._emit(self._pending + self._decoder.decode(b"", final=True), final=True)

    def _emit(self, text: str, *, final: bool) -> str:
        cut = len(text) if final else self._cut(text)
        self._pending = text[cut:]
        if not cut:
            return ""
        # The held-back tail is right context, the last emitted character left context:
        # placeholders are judged exactly as in the whole text.
        restored = restore_text(text, self._grammar, self._resolve, end=cut,
                                before=self._before)
        self._before = text[cut - 1]
        return restored
