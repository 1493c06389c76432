"""Placeholders: how they look, how they are found again, and how look-alikes are disarmed.

A placeholder is ``prefix + ENTITY + separator + n + suffix`` (default ``<EMAIL_ADDRESS_1>``).
Models rewrite them (case, spacing, brackets), so matching is tolerant: any bracket pair,
separators as space/underscore/hyphen, any case — or the exact bare form ``EMAIL_ADDRESS_1``.
Only known entity names match, so ``ISO_8601`` or ``HTTP_2`` are never touched.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from .errors import ConfigError

_OPEN, _CLOSE = "<[{(", ">]})"
_MAX_DIGITS = 6


@dataclass(frozen=True, slots=True)
class PlaceholderFormat:
    prefix: str = "<"
    separator: str = "_"
    suffix: str = ">"

    @classmethod
    def parse(cls, template: str, source: str = "placeholder format") -> PlaceholderFormat:
        """``"<{entity}_{n}>"`` → prefix ``<``, separator ``_``, suffix ``>``."""
        head, found_entity, rest = template.partition("{entity}")
        separator, found_n, suffix = rest.partition("{n}")
        if not found_entity or not found_n:
            raise ConfigError(f"{source}: placeholder format needs {{entity}} and {{n}}")
        if any(c.isalnum() for c in head + separator + suffix) or len(separator) > 1:
            raise ConfigError(f"{source}: placeholder format may only add brackets and one "
                              "separator around {entity} and {n}")
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


def _entity_pattern(entity: str) -> str:
    """``GITHUB_TOKEN`` → ``GITHUB[\\s_-]?TOKEN``; a trailing ``_`` (of a prefix) is kept
    as an optional separator."""
    pattern = r"[\s_-]?".join(part for part in entity.split("_") if part)
    return pattern + r"[\s_-]?" if entity.endswith("_") else pattern


class PlaceholderGrammar:
    """Finds placeholders of the given entity names, tolerating model rewrites."""

    def __init__(self, entities: Iterable[str], fmt: PlaceholderFormat | None = None) -> None:
        import re2

        self.format = fmt or PlaceholderFormat()
        names = sorted({e.upper() for e in entities if e}, key=len, reverse=True)
        if not names:
            names = ["SECRET"]
        self._canonical = {self._fold(n): n for n in names}
        alternatives = "|".join(_entity_pattern(n) for n in names)
        opens, closes = re2.escape(_OPEN), re2.escape(_CLOSE)
        self._regex = re2.compile(
            rf"(?i)([{opens}]\s?)?({alternatives})([\s_-]?)([0-9]{{1,{_MAX_DIGITS}}})"
            rf"(\s?[{closes}])?")
        prefixes = {_entity_pattern(n[:k]) for n in names for k in range(1, len(n) + 1)}
        self._prefix = re2.compile(
            rf"(?i)[{opens}]\s?|(?:[{opens}]\s?)?(?:{'|'.join(sorted(prefixes))}|"
            rf"(?:{alternatives})[\s_-]?(?:[0-9]{{1,{_MAX_DIGITS}}}\s?)?)")
        self.max_length = 4 + max(len(n) for n in names) * 2 + _MAX_DIGITS

    @staticmethod
    def _fold(name: str) -> str:
        return "".join(c for c in name.upper() if c.isalnum())

    def finditer(self, text: str) -> Iterator[PlaceholderMatch]:
        for match in self._regex.finditer(text):
            opened, closed = match.group(1), match.group(5)
            start, end = match.span()
            entity_text = match.group(2)
            if not opened and not closed:
                # Bare form: exact case and separator only, and on word boundaries.
                exact = entity_text.isupper() and match.group(3) == self.format.separator
                before = text[start - 1] if start else " "
                after = text[end] if end < len(text) else " "
                if not exact or before.isalnum() or before == "_" or after.isalnum():
                    continue
            elif not closed and end < len(text) and text[end].isdigit():
                continue
            entity = self._canonical.get(self._fold(entity_text))
            if entity is None:
                continue
            yield PlaceholderMatch(start, end, entity, int(match.group(4)),
                                   match.end(2), match.start(4))

    def is_open_prefix(self, tail: str) -> bool:
        """Whether ``tail`` could still grow into (or extend) a placeholder."""
        return bool(tail) and self._prefix.fullmatch(tail) is not None

    def neutralize(self, text: str) -> str:
        """Disarm placeholder look-alikes in untrusted text: ``<EMAIL_1>`` becomes
        ``<EMAIL~1>``, which no restore will ever resolve (and which stays as it is if
        sanitized again)."""
        out: list[str] = []
        position = 0
        for match in self.finditer(text):
            out.append(text[position:match.entity_end])
            out.append("~")
            position = match.number_start
        out.append(text[position:])
        return "".join(out)


Resolver = Callable[[PlaceholderMatch], str | None]


def restore_text(text: str, grammar: PlaceholderGrammar, resolve: Resolver,
                 start: int = 0, end: int | None = None) -> str:
    """Replace every placeholder ``resolve`` knows; leave the others as they are.

    With ``start``/``end`` only ``text[start:end]`` is produced, but placeholders are
    recognised against the whole text, so the characters around the window (word
    boundaries, a following digit) decide exactly as they would for the whole text.
    """
    end = len(text) if end is None else end
    out: list[str] = []
    position = start
    for match in grammar.finditer(text):
        if match.start < start:
            continue
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
    chunking; bytes chunks are decoded incrementally (a split UTF-8 character waits)."""

    def __init__(self, grammar: PlaceholderGrammar, resolve: Resolver) -> None:
        self._grammar = grammar
        self._resolve = resolve
        self._pending = ""
        self._context = ""  # the last emitted character: word boundaries need it
        self._decoder = codecs.getincrementaldecoder("utf-8")()

    def _cut(self, text: str) -> int:
        """Where the held-back tail starts: the earliest position in the last window whose
        suffix is an open placeholder prefix, moved left over any match it would split."""
        window = max(0, len(text) - self._grammar.max_length)
        cut = len(text)
        for position in range(window, len(text)):
            if self._grammar.is_open_prefix(text[position:]):
                cut = position
                break
        for match in self._grammar.finditer(text):
            if match.start < cut < match.end:
                cut = match.start
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
        # One character of left context (already emitted) and the held-back tail as right
        # context: placeholders are judged exactly as in the whole text.
        context = self._context
        restored = restore_text(context + text, self._grammar, self._resolve,
                                start=len(context), end=len(context) + cut)
        self._context = text[cut - 1]
        return restored
