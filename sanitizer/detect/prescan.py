"""A detector's first look: where a few patterns occur in a text, in one Hyperscan pass.

The structure and phone detectors do their real work in Python, which costs far more per
character than a compiled scan. A :class:`Prescan` finds, at gigabytes per second, the few
places that could hold what the detector looks for (a secret-naming word, seven digits in a
row); the detector then reads only the lines or windows around them, and text with none is
done after one scan. Patterns are Hyperscan syntax over ASCII; the text is scanned with one
byte per character (anything else reads as ``?``), so offsets are character offsets.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any


class Prescan:
    """Start and end of every match of ``patterns`` (leftmost start, each end once)."""

    def __init__(self, patterns: Sequence[str], *, caseless: bool = False) -> None:
        import hyperscan

        flags = hyperscan.HS_FLAG_SOM_LEFTMOST | (hyperscan.HS_FLAG_CASELESS if caseless else 0)
        self._db: Any = hyperscan.Database()
        self._db.compile(expressions=[p.encode("ascii") for p in patterns],
                         ids=list(range(len(patterns))), elements=len(patterns),
                         flags=[flags] * len(patterns))
        self._local = threading.local()

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Match spans in ``text``, ordered by end."""
        if not text:
            return []
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            import hyperscan

            scratch = self._local.scratch = hyperscan.Scratch(self._db)
        found: list[tuple[int, int]] = []

        def on_match(_id: int, start: int, end: int, _flags: int, _ctx: object) -> None:
            found.append((start, end))

        self._db.scan(text.encode("ascii", "replace"), match_event_handler=on_match,
                      scratch=scratch)
        return found


def line_spans(text: str, hits: Sequence[tuple[int, int]], *, after: int = 0
               ) -> list[tuple[int, int]]:
    """The lines holding ``hits`` (plus ``after`` following lines), merged, in order; a
    span starts at a line start and ends after a line break (or at the end of the text):
    a pattern run over it sees each line whole, ``\\r\\n`` included."""
    spans: list[tuple[int, int]] = []
    owned = -1  # the line break that ends the line of the last hit taken
    for start, end in sorted(hits):
        if end <= owned:
            continue  # on a line already taken, with the same lines after it
        low = text.rfind("\n", 0, start) + 1
        high = end
        for count in range(after + 1):
            newline = text.find("\n", high)
            high = len(text) if newline == -1 else newline + 1
            if count == 0:
                owned = high if newline == -1 else newline
            if newline == -1:
                break
        if spans and low <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(high, spans[-1][1]))
        else:
            spans.append((low, high))
    return spans


def to_white_space(text: str, low: int, high: int, slack: int) -> tuple[int, int]:
    """``text[low:high]`` with each edge moved out to the nearest white space, by at most
    ``slack`` characters (so words are not cut)."""
    stop = max(0, low - slack)
    while low > stop and not text[low - 1].isspace():
        low -= 1
    stop = min(len(text), high + slack)
    while high < stop and not text[high].isspace():
        high += 1
    return low, high


def widened(text: str, spans: Sequence[tuple[int, int]], slack: int) -> list[tuple[int, int]]:
    """``spans`` (sorted by start) with each edge moved out to white space by at most
    ``slack`` characters (:func:`to_white_space`), overlapping ones merged."""
    merged: list[tuple[int, int]] = []
    for span in spans:
        low, high = to_white_space(text, *span, slack)
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
        else:
            merged.append((low, high))
    return merged
