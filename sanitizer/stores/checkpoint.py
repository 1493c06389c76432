"""Where an applied scrub stands: saved atomically after every committed batch.

The file names the store (its identity, never credentials) and the settings that decide
the output (field, policy, session…, as a digest); a checkpoint for another store or other
settings is refused rather than silently applied. It holds the store's resume state and
the running totals — never a value.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .base import Json, atomic_write

VERSION = 1


def default_path(identity: str, settings: str) -> Path:
    """``$XDG_STATE_HOME/sanitizer/scrub/<digest>.json`` (``~/.local/state`` by default)."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    digest = hashlib.sha256(f"{identity}\0{settings}".encode()).hexdigest()[:24]
    return base / "sanitizer" / "scrub" / f"{digest}.json"


@dataclass
class Totals:
    scanned: int = 0
    changed: int = 0
    skipped: int = 0
    failed: int = 0
    entities: dict[str, int] = field(default_factory=dict)

    def add_entities(self, counts: dict[str, int]) -> None:
        for entity, count in counts.items():
            self.entities[entity] = self.entities.get(entity, 0) + count


@dataclass
class Checkpoint:
    identity: str
    settings: str
    run_id: str = field(default_factory=lambda: secrets.token_hex(8))
    state: Json = None
    totals: Totals = field(default_factory=Totals)

    def to_json(self) -> dict[str, Any]:
        return {"version": VERSION, "identity": self.identity, "settings": self.settings,
                "run_id": self.run_id, "state": self.state, "totals": asdict(self.totals)}

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(self.to_json(), sort_keys=True).encode("utf-8"))

    @classmethod
    def load(cls, path: Path, identity: str, settings: str) -> Checkpoint | None:
        """The checkpoint at ``path`` if there is one; refuses one of another run."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            raise ConfigError(f"{path}: unreadable checkpoint (remove it or pass "
                              "--restart)") from None
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise ConfigError(f"{path}: not a scrub checkpoint of this version")
        if data.get("identity") != identity or data.get("settings") != settings:
            raise ConfigError(f"{path}: checkpoint of another store or other settings "
                              "(pass --restart to start over)")
        totals = data.get("totals") or {}
        return cls(identity, settings, str(data["run_id"]), data.get("state"),
                   Totals(**totals))
