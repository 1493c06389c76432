"""Benchmark labels and the label maps, explicit so the report can print them.

Every system's raw entity type is mapped to one benchmark label, or to ``OTHER`` (redacted by
the system but not scored: it counts for the leak and benign-kept figures only). Gold labels
of a corpus map the same way; unmapped gold labels are dropped from scoring (and counted).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

CORE_LABELS: tuple[str, ...] = (
    "PERSON", "LOCATION", "EMAIL", "PHONE", "CREDIT_CARD", "SSN", "IBAN", "IP",
)
SECRET = "SECRET"  # noqa: S105 - a label name
BENCH_LABELS: tuple[str, ...] = (*CORE_LABELS, SECRET)
# Gold only: a planted look-alike (UUID, hash, version, timestamp, placeholder…) that a
# redactor should leave alone.
BENIGN = "BENIGN"
# Prediction only: something the system redacts that no benchmark label scores.
OTHER = "OTHER"


def _frozen(data: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(data))


# presidio_synth_v2 gold → benchmark label (the data README's core labels). Everything else
# (ORGANIZATION, DATE_TIME, TITLE, AGE, NRP, ZIP_CODE, DOMAIN_NAME, US_DRIVER_LICENSE) is not
# scored.
PRESIDIO_GOLD_MAP: Mapping[str, str] = _frozen({
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
})

GITLEAKS_GOLD_MAP: Mapping[str, str] = _frozen({SECRET: SECRET})

# User files (--data): the benchmark labels themselves, BENIGN, and the presidio spellings.
USER_GOLD_MAP: Mapping[str, str] = _frozen({
    **{label: label for label in (*BENCH_LABELS, BENIGN)},
    **PRESIDIO_GOLD_MAP,
    "EMAIL": "EMAIL", "PHONE": "PHONE", "SSN": "SSN", "IBAN": "IBAN", "IP": "IP",
})

# This project's Finding.entity → benchmark label. A finding of category ``secret`` is SECRET
# whatever its entity; category ``low_risk`` is allowed by the default policy (not redacted).
SANITIZER_PREDICTION_MAP: Mapping[str, str] = _frozen({
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
})


def sanitizer_label(entity: str, category: str = "") -> str | None:
    """The benchmark label of one of our findings; ``OTHER`` when redacted but not scored,
    ``None`` when the default policy leaves it in place (``low_risk``)."""
    if category == "secret":
        return SECRET
    if category == "low_risk":
        return None
    return SANITIZER_PREDICTION_MAP.get(entity.upper(), OTHER)
