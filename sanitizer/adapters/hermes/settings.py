"""The plugin's settings: ``plugins.entries.sanitizer`` in Hermes' ``config.yaml``.

Everything is optional; paths are relative to ``HERMES_HOME`` (``~`` is expanded)::

    plugins:
      enabled: [sanitizer]
      entries:
        sanitizer:
          policy: sanitizer/policy.toml     # the project's policy file (TOML or YAML);
                                            # default: HERMES_HOME/sanitizer/policy.toml if present
          config: sanitizer/settings.toml   # detection settings (sanitizer/config.py format)
          ner: false                        # names/places via NER (default: on)
          vault: sqlite:////abs/vault.db    # default: HERMES_HOME/sanitizer/vault.db
          vault_ttl_days: 90                # default: sessions never expire
          audit_log: sanitizer/audit.jsonl  # default; false switches the audit log off
          master_key_file: ~/.config/sanitizer.key   # default: $SANITIZER_MASTER_KEY(_FILE)
          approvals: prompt                 # tier 2/3 tool calls: prompt | deny
          memory_tools: [memory]            # tools whose arguments are memory writes
          sanitize_timeout: 30              # seconds before a request is blocked

Unknown keys and wrong types are errors (a typo must not silently weaken protection).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ...errors import ConfigError

PLUGIN_NAME = "sanitizer"
Approvals = Literal["prompt", "deny"]
_WHERE = f"config.yaml plugins.entries.{PLUGIN_NAME}"
_KEYS = frozenset({"policy", "config", "ner", "vault", "vault_ttl_days", "audit_log",
                   "master_key_file", "approvals", "memory_tools", "sanitize_timeout"})


@dataclass(frozen=True, slots=True)
class PluginSettings:
    home: Path
    policy: Path | None = None
    config: Path | None = None
    ner: bool | None = None
    vault: str = ""
    vault_ttl_days: float | None = None
    audit_log: Path | None = None
    master_key_file: Path | None = None
    approvals: Approvals = "prompt"
    memory_tools: tuple[str, ...] = ("memory",)
    sanitize_timeout: float = 30.0

    @property
    def data_dir(self) -> Path:
        return self.home / "sanitizer"


def _path(home: Path, value: Any, key: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{_WHERE}.{key} must be a path")
    path = Path(value.strip()).expanduser()
    return path if path.is_absolute() else home / path


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{_WHERE}.{key} must be a positive number")
    return float(value)


def parse_settings(entry: Any, home: Path) -> PluginSettings:
    """Settings from the plugin's ``config.yaml`` entry (``None`` or a mapping)."""
    if entry is None:
        entry = {}
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{_WHERE} must be a mapping")
    unknown = set(entry) - _KEYS - {"allow_tool_override", "llm"}  # Hermes' own entry keys
    if unknown:
        raise ConfigError(f"{_WHERE} has unknown keys {sorted(map(str, unknown))}")
    data_dir = home / "sanitizer"
    values: dict[str, Any] = {"home": home}
    if entry.get("policy") is not None:
        values["policy"] = _path(home, entry["policy"], "policy")
    else:
        values["policy"] = next((p for p in (data_dir / "policy.toml", data_dir / "policy.yaml")
                                 if p.is_file()), None)
    if entry.get("config") is not None:
        values["config"] = _path(home, entry["config"], "config")
    if entry.get("ner") is not None:
        if not isinstance(entry["ner"], bool):
            raise ConfigError(f"{_WHERE}.ner must be true or false")
        values["ner"] = entry["ner"]
    vault = entry.get("vault")
    if vault is None:
        vault = f"sqlite:///{(data_dir / 'vault.db').resolve()}"
    if not isinstance(vault, str) or "://" not in vault:
        raise ConfigError(f"{_WHERE}.vault must be a vault URL (sqlite:///…, redis://…, "
                          "postgresql://…, memory://)")
    values["vault"] = vault
    if entry.get("vault_ttl_days") is not None:
        values["vault_ttl_days"] = _number(entry["vault_ttl_days"], "vault_ttl_days")
    audit = entry.get("audit_log", str(data_dir / "audit.jsonl"))
    if audit is not False and audit is not None:
        values["audit_log"] = _path(home, audit, "audit_log")
    if entry.get("master_key_file") is not None:
        values["master_key_file"] = _path(home, entry["master_key_file"], "master_key_file")
    approvals = entry.get("approvals", "prompt")
    if approvals not in ("prompt", "deny"):
        raise ConfigError(f"{_WHERE}.approvals must be 'prompt' or 'deny'")
    values["approvals"] = approvals
    tools = entry.get("memory_tools", ["memory"])
    if not isinstance(tools, list) or not all(isinstance(t, str) and t for t in tools):
        raise ConfigError(f"{_WHERE}.memory_tools must be a list of tool names")
    values["memory_tools"] = tuple(tools)
    if entry.get("sanitize_timeout") is not None:
        values["sanitize_timeout"] = _number(entry["sanitize_timeout"], "sanitize_timeout")
    return PluginSettings(**values)
