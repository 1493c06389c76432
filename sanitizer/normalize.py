"""Normalisation: the texts detectors scan, and how their offsets map back.

(Interface in place; the shadow copy and decoding layers are filled in by the
normalisation work.)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class View:
    """A text derived from the original, with a map of its offsets back to it."""

    text: str
    layer: str = "original"

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        return start, end


def views(text: str) -> list[View]:
    """The original text first, then any normalised or decoded views of it."""
    return [View(text)]
