"""Round trip under model rewriting: sanitize → the model rewrites placeholders → restore.

Each record is sanitized with the default policy on its surface, in a session of its own.
Models echo placeholders back changed, so every placeholder in the sanitized text is
rewritten in one of :data:`REWRITES` (case, spacing, separators, brackets, bare), cycling
through them. Then :meth:`Sanitizer.restore_detailed` runs with ``destination="user"``:

* a *restorable* placeholder (any entity but a secret) must come back as its exact value;
* a *secret handle* must stay a placeholder (secrets never return into visible text).

Reported: the share of restorable placeholders restored exactly (each one checked alone,
the others left canonical), per rewrite as well, and the share of records whose whole text
comes back exactly as expected with every placeholder rewritten at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .records import Record

if TYPE_CHECKING:
    from ..engine import Sanitizer
    from ..tokens import PlaceholderFormat, PlaceholderMatch

Rewrite = Callable[[str, int, "PlaceholderFormat"], str]


def _words(entity: str, sep: str) -> str:
    return sep.join(part for part in entity.split("_") if part)


REWRITES: Mapping[str, Rewrite] = {
    "exact": lambda e, n, f: f.render(e, n),
    "lower": lambda e, n, f: f.render(e, n).lower(),
    "title": lambda e, n, f: f"{f.prefix}{_words(e.title(), '_')}{f.separator}{n}{f.suffix}",
    "spaces": lambda e, n, f: f"{f.prefix}{_words(e, ' ')} {n}{f.suffix}",
    "hyphens": lambda e, n, f: f"{f.prefix}{_words(e, '-')}-{n}{f.suffix}",
    "padded": lambda e, n, f: f"{f.prefix} {e}{f.separator}{n} {f.suffix}",
    "square": lambda e, n, f: f"[{e}{f.separator}{n}]",
    "curly": lambda e, n, f: f"{{{e}{f.separator}{n}}}",
    "round": lambda e, n, f: f"({e}{f.separator}{n})",
    "bare": lambda e, n, f: f"{e}{f.separator}{n}",
    "lower-square-spaces": lambda e, n, f: f"[{_words(e, ' ').lower()} {n}]",
}


def _replace(text: str, matches: Sequence[PlaceholderMatch], new: Sequence[str]) -> str:
    parts: list[str] = []
    position = 0
    for match, replacement in zip(matches, new, strict=True):
        parts.append(text[position:match.start])
        parts.append(replacement)
        position = match.end
    parts.append(text[position:])
    return "".join(parts)


def round_trip(engine: Sanitizer, records: Sequence[Record], seed: int = 0,
               rewrites: Mapping[str, Rewrite] = REWRITES) -> dict[str, Any]:
    fmt = engine.placeholder_format
    names = list(rewrites)
    tried: Counter[str] = Counter()
    ok: Counter[str] = Counter()
    handles = handles_kept = records_with = records_exact = 0
    turn = seed
    for index, record in enumerate(records):
        session = f"bench-roundtrip-{index}"
        sanitized = engine.sanitize(record.text, surface=record.surface, session=session).result
        if not isinstance(sanitized, str):
            continue
        matches = list(engine.grammar.finditer(sanitized))
        if not matches:
            continue
        canonical = [sanitized[m.start:m.end] for m in matches]
        values: list[str | None] = []
        for m in matches:
            secret = engine.category_of(m.entity) == "secret"
            values.append(None if secret else engine.vault.reveal(session, m.entity, m.number))
        variants = [names[(turn + i) % len(names)] for i in range(len(matches))]
        turn += len(matches)
        rewritten = [rewrites[v](m.entity, m.number, fmt) for v, m in zip(variants, matches,
                                                                          strict=True)]
        # All at once: restorable ones become their values, handles stay (rewritten).
        expected = _replace(sanitized, matches, [
            value if value is not None else new for value, new in zip(values, rewritten,
                                                                       strict=True)])
        restored = engine.restore(_replace(sanitized, matches, rewritten), session=session)
        records_with += 1
        records_exact += restored == expected
        # One at a time, the others canonical: which rewrites does restore tolerate?
        all_values = [value if value is not None else c for value, c in zip(values, canonical,
                                                                             strict=True)]
        for i, (variant, value) in enumerate(zip(variants, values, strict=True)):
            single = list(canonical)
            single[i] = rewritten[i]
            back = engine.restore(_replace(sanitized, matches, single), session=session)
            if value is None:
                handles += 1
                target = list(all_values)
                target[i] = rewritten[i]
                handles_kept += back == _replace(sanitized, matches, target)
                continue
            tried[variant] += 1
            ok[variant] += back == _replace(sanitized, matches, all_values)
        engine.forget(session)
    total_tried, total_ok = sum(tried.values()), sum(ok.values())
    return {
        "restorable": total_tried,
        "restored": total_ok,
        "rate": round(total_ok / total_tried, 4) if total_tried else None,
        "secret_handles": handles,
        "secret_handles_kept": round(handles_kept / handles, 4) if handles else None,
        "records": records_with,
        "records_exact": round(records_exact / records_with, 4) if records_with else None,
        "by_rewrite": {name: {"n": tried[name],
                              "rate": round(ok[name] / tried[name], 4) if tried[name] else None}
                       for name in names},
    }
