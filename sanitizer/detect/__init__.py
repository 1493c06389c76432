"""Detectors: one class per way of finding sensitive spans.

A detector is anything with ``name`` and ``detect(text) -> list[Finding]``; the
:class:`~sanitizer.engine.Sanitizer` composes them as a list, cheapest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ..findings import Finding


@runtime_checkable
class Detector(Protocol):
    """Finds sensitive spans in one text. Must not keep or log the text."""

    name: str

    def detect(self, text: str) -> list[Finding]: ...


@runtime_checkable
class BatchDetector(Detector, Protocol):
    """A detector that is cheaper per text when given many at once (NER)."""

    def detect_batch(self, texts: Sequence[str]) -> list[list[Finding]]: ...
