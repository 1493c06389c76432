"""Load the labelled corpora in ``../shared/data`` and map their labels to ours.

Both corpora are JSON Lines with ``{"id", "text", "spans": [{"start", "end", "label"}],
"meta"}``; offsets are Python string indices, end exclusive. Label maps are explicit so a
reader can see exactly what is scored:

* presidio_synth_v2 — the *core labels* of the data README: PERSON, LOCATION, EMAIL, PHONE,
  CREDIT_CARD, SSN, IBAN, IP. Everything else (ORGANIZATION, DATE_TIME, TITLE, AGE, NRP,
  ZIP_CODE, DOMAIN_NAME, US_DRIVER_LICENSE) is dropped from the gold set; predictions of it
  are neither rewarded nor punished.
* gitleaks_rules — SECRET spans of the ``positive`` records; ``negative`` records have no
  spans (they are gitleaks' own false-positive samples); ``positive_nospan`` records are known
  secrets whose exact span is unknown (scored per text, not per span).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"

PRESIDIO_FILE = "presidio_synth_v2.jsonl"
GITLEAKS_FILE = "gitleaks_rules.jsonl"

CORE_LABELS: tuple[str, ...] = (
    "PERSON", "LOCATION", "EMAIL", "PHONE", "CREDIT_CARD", "SSN", "IBAN", "IP",
)

# Gold label of presidio_synth_v2 -> benchmark label. Unlisted labels are not scored.
PRESIDIO_GOLD_MAP: Mapping[str, str] = {
    "PERSON": "PERSON",
    "STREET_ADDRESS": "LOCATION",
    "GPE": "LOCATION",
    "LOCATION": "LOCATION",
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CREDIT_CARD",
    "US_SSN": "SSN",
    "IBAN_CODE": "IBAN",
    "IP_ADDRESS": "IP",
}

GITLEAKS_GOLD_MAP: Mapping[str, str] = {"SECRET": "SECRET"}


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    label: str


@dataclass(frozen=True, slots=True)
class Record:
    id: str
    text: str
    spans: tuple[Span, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """``positive`` / ``negative`` / ``positive_nospan`` for gitleaks, else ``""``."""
        return str(self.meta.get("kind", ""))


def data_dir(path: str | Path | None = None) -> Path:
    """The corpus folder: ``path`` if given, else ``../shared/data`` next to the repo."""
    return Path(path) if path is not None else DEFAULT_DATA_DIR


def _read(path: Path, label_map: Mapping[str, str]) -> Iterator[Record]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            raw = json.loads(line)
            spans = tuple(
                Span(int(s["start"]), int(s["end"]), label_map[s["label"]])
                for s in raw.get("spans", [])
                if s["label"] in label_map
            )
            yield Record(str(raw["id"]), str(raw["text"]), spans, raw.get("meta", {}))


def load_presidio(path: str | Path | None = None, limit: int | None = None) -> list[Record]:
    """presidio_synth_v2 with gold spans mapped to the core labels."""
    records = list(_read(data_dir(path) / PRESIDIO_FILE, PRESIDIO_GOLD_MAP))
    return records[:limit] if limit is not None else records


def load_gitleaks(path: str | Path | None = None, limit: int | None = None) -> list[Record]:
    """gitleaks_rules; with ``limit``, an evenly spread subset that keeps every kind."""
    records = list(_read(data_dir(path) / GITLEAKS_FILE, GITLEAKS_GOLD_MAP))
    if limit is None or limit >= len(records):
        return records
    step = len(records) / limit
    return [records[int(i * step)] for i in range(limit)]


# Our Finding.entity -> benchmark label. Findings of category "secret" map to SECRET
# whatever their entity (see ``prediction_label``).
PREDICTION_MAP: Mapping[str, str] = {
    "PERSON": "PERSON",
    "LOCATION": "LOCATION",
    "STREET_ADDRESS": "LOCATION",
    "GPE": "LOCATION",
    "ADDRESS": "LOCATION",
    "EMAIL": "EMAIL",
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE": "PHONE",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CREDIT_CARD",
    "CREDIT_CARD_NUMBER": "CREDIT_CARD",
    "SSN": "SSN",
    "US_SSN": "SSN",
    "IBAN": "IBAN",
    "IBAN_CODE": "IBAN",
    "IP": "IP",
    "IP_ADDRESS": "IP",
    "IPV4": "IP",
    "IPV6": "IP",
    "IPV4_ADDRESS": "IP",
    "IPV6_ADDRESS": "IP",
}


def prediction_label(entity: str, category: str = "") -> str | None:
    """The benchmark label of a predicted entity, or None when it is not scored."""
    if category == "secret":
        return "SECRET"
    return PREDICTION_MAP.get(entity.upper())
