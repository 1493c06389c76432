"""Auditing files for hardcoded credentials: skills, cron definitions, prompt templates,
config files — anything that is text.

Walks folders recursively, honours ``.gitignore`` files (those inside the tree and those of
its parent folders up to the repository root, with git's precedence: the deeper file
decides), skips ``.git``, symbolic links, binaries (a NUL byte in the first 8 KiB) and
files over a size limit. Each finding has a place (path, line, column), a rule, a masked
preview of its line — every sensitive span replaced by ``<ENTITY>``, so the value is
never shown — and a keyed fingerprint that a baseline file can accept.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, InputError, SanitizerError
from .findings import Finding
from .keys import length_prefixed

if TYPE_CHECKING:
    from .engine import Sanitizer
    from .keys import KeyRing

BINARY_SNIFF = 8192
MAX_FILE_BYTES = 5 * 1024 * 1024
PREVIEW_CHARS = 160
BASELINE_VERSION = 1


@dataclass(frozen=True, slots=True)
class ScanFinding:
    path: str
    line: int            # 1-based
    column: int          # 1-based, in characters
    end_line: int
    end_column: int      # exclusive
    entity: str
    category: str
    rule_id: str
    detector: str
    score: float
    preview: str
    fingerprint: str

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["score"] = round(self.score, 3)
        return data


@dataclass
class ScanResult:
    findings: list[ScanFinding] = field(default_factory=list)
    files_scanned: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    baselined: int = 0

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


# -- which files ------------------------------------------------------------------------

class _Ignores:
    """The ``.gitignore`` specs in force for a folder: (base folder, spec), outermost first."""

    def __init__(self, specs: Sequence[tuple[Path, Any]] = ()) -> None:
        self.specs = list(specs)

    def with_folder(self, folder: Path) -> _Ignores:
        spec = _load_spec(folder / ".gitignore")
        return _Ignores([*self.specs, (folder, spec)]) if spec is not None else self

    def ignored(self, path: Path, is_dir: bool) -> bool:
        verdict = False
        for base, spec in self.specs:
            try:
                relative = path.relative_to(base).as_posix()
            except ValueError:
                continue
            result = spec.check_file(relative + ("/" if is_dir else ""))
            if result.include is not None:
                verdict = bool(result.include)
        return verdict


def _load_spec(path: Path) -> Any:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(lines)


def _outer_ignores(root: Path) -> _Ignores:
    """``.gitignore`` files of the folders above ``root``, up to the repository root."""
    folder = root.resolve()
    chain: list[Path] = []
    for parent in folder.parents:
        chain.append(parent)
        if (parent / ".git").exists():
            break
    else:
        return _Ignores()
    ignores = _Ignores()
    for parent in reversed(chain):
        ignores = ignores.with_folder(parent)
        exclude = parent / ".git" / "info" / "exclude"
        if exclude.is_file():
            spec = _load_spec(exclude)
            if spec is not None:
                ignores = _Ignores([*ignores.specs, (parent, spec)])
    return ignores


def iter_files(roots: Sequence[str | Path], *, gitignore: bool = True
               ) -> Iterator[tuple[Path, str]]:
    """``(path, shown)`` for every file under ``roots``, sorted, ignores applied; ``shown``
    is the path relative to the working folder when it is under it."""
    cwd = Path.cwd()
    for root in roots:
        top = Path(root).absolute()
        if not top.exists():
            raise InputError(f"{root}: no such file or folder")
        ignores = _outer_ignores(top) if gitignore else _Ignores()
        if top.is_file():
            yield top, _shown(top, cwd)
            continue
        yield from _walk(top, ignores, gitignore, cwd)


def _walk(folder: Path, ignores: _Ignores, gitignore: bool, cwd: Path
          ) -> Iterator[tuple[Path, str]]:
    if gitignore:
        ignores = ignores.with_folder(folder)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.is_symlink() or entry.name == ".git":
            continue
        path = Path(entry.path)
        is_dir = entry.is_dir()
        if gitignore and ignores.ignored(path, is_dir):
            continue
        if is_dir:
            yield from _walk(path, ignores, gitignore, cwd)
        elif entry.is_file():
            yield path, _shown(path, cwd)


def _shown(path: Path, cwd: Path) -> str:
    absolute = path.absolute()
    try:
        return absolute.relative_to(cwd).as_posix()
    except ValueError:
        return absolute.as_posix()


def read_text(path: Path, max_bytes: int) -> tuple[str | None, str | None]:
    """``(text, None)``, or ``(None, reason)`` for files that are skipped."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return None, "too large"
        with path.open("rb") as handle:
            raw = handle.read()
    except OSError:
        return None, "unreadable"
    if b"\0" in raw[:BINARY_SNIFF]:
        return None, "binary"
    return raw.decode("utf-8", errors="replace"), None


# -- findings ----------------------------------------------------------------------------

class Fingerprinter:
    """Keyed fingerprints of (rule, value): with the master key when one is configured,
    else with a random salt kept in the baseline file."""

    def __init__(self, key: bytes, description: dict[str, str]) -> None:
        self._key = key
        self.description = description

    @classmethod
    def from_keyring(cls, keyring: KeyRing) -> Fingerprinter:
        kid = keyring.primary_kid
        return cls(keyring.derive(kid, "scan-baseline"), {"kind": "master", "kid": kid})

    @classmethod
    def from_salt(cls, salt_hex: str | None = None) -> Fingerprinter:
        salt = salt_hex or secrets.token_hex(32)
        try:
            key = bytes.fromhex(salt)
        except ValueError:
            raise ConfigError("baseline salt is not hex") from None
        return cls(key, {"kind": "salt", "salt": salt})

    def __call__(self, rule_id: str, value: str) -> str:
        mac = hmac.new(self._key, length_prefixed("scan", rule_id, value), hashlib.sha256)
        return mac.hexdigest()[:32]


def _line_starts(text: str) -> list[int]:
    starts = [0]
    index = text.find("\n")
    while index != -1:
        starts.append(index + 1)
        index = text.find("\n", index + 1)
    return starts


def _position(starts: list[int], offset: int) -> tuple[int, int]:
    line = bisect.bisect_right(starts, offset) - 1
    return line + 1, offset - starts[line] + 1


def _preview(text: str, starts: list[int], finding: Finding, all_found: Sequence[Finding]
             ) -> str:
    """The finding's first line with every sensitive span on it replaced by ``<ENTITY>``,
    cut to a window around the finding."""
    line = bisect.bisect_right(starts, finding.start) - 1
    begin = starts[line]
    end = starts[line + 1] - 1 if line + 1 < len(starts) else len(text)
    out: list[str] = []
    position = begin
    anchor = 0
    for other in sorted(all_found, key=lambda f: f.start):
        if other.end <= begin or other.start >= end:
            continue
        out.append(text[position:max(position, other.start)])
        if other is finding:
            anchor = sum(len(p) for p in out)
        out.append(f"<{other.entity}>")
        position = max(position, min(other.end, end))
    out.append(text[position:end] if position < end else "")
    masked = "".join(out).rstrip("\r")
    if len(masked) <= PREVIEW_CHARS:
        return masked
    low = max(0, anchor - PREVIEW_CHARS // 3)
    high = low + PREVIEW_CHARS
    return ("…" if low else "") + masked[low:high] + ("…" if high < len(masked) else "")


def scan_text(sanitizer: Sanitizer, text: str, shown: str, fingerprint: Fingerprinter,
              categories: frozenset[str]) -> list[ScanFinding]:
    found = sanitizer.detect(text, ner=False)
    if not found:
        return []
    starts = _line_starts(text)
    out: list[ScanFinding] = []
    for finding in found:
        if finding.category not in categories:
            continue
        line, column = _position(starts, finding.start)
        end_line, end_column = _position(starts, finding.end)
        out.append(ScanFinding(
            shown, line, column, end_line, end_column, finding.entity, finding.category,
            finding.rule_id, finding.detector, finding.score,
            _preview(text, starts, finding, found),
            fingerprint(finding.rule_id, text[finding.start:finding.end])))
    return out


def scan_paths(sanitizer: Sanitizer, roots: Sequence[str | Path], fingerprint: Fingerprinter,
               *, categories: frozenset[str] = frozenset({"secret"}), gitignore: bool = True,
               max_bytes: int = MAX_FILE_BYTES, on_file: Any = None) -> ScanResult:
    result = ScanResult()
    for path, shown in iter_files(roots, gitignore=gitignore):
        text, reason = read_text(path, max_bytes)
        if on_file is not None:
            on_file()
        if text is None:
            result.skip(reason or "unreadable")
            continue
        try:
            result.findings.extend(scan_text(sanitizer, text, shown, fingerprint, categories))
        except (InputError, SanitizerError) as exc:
            if isinstance(exc, ConfigError):
                raise
            result.skip("not scannable")
            continue
        result.files_scanned += 1
    return result


# -- baselines ---------------------------------------------------------------------------

@dataclass
class Baseline:
    """Accepted findings, by (path, rule, fingerprint) — never a value."""

    key: dict[str, str]
    accepted: set[tuple[str, str, str]] = field(default_factory=set)

    def fingerprinter(self, keyring: KeyRing | None) -> Fingerprinter:
        if self.key.get("kind") == "master":
            if keyring is None:
                raise ConfigError("this baseline was written with the master key: set "
                                  "SANITIZER_MASTER_KEY or pass --key-file")
            if keyring.primary_kid != self.key.get("kid"):
                raise ConfigError(f"this baseline was written with master key "
                                  f"{self.key.get('kid')!r}, not {keyring.primary_kid!r}")
            return Fingerprinter.from_keyring(keyring)
        return Fingerprinter.from_salt(self.key.get("salt"))

    def accepts(self, finding: ScanFinding) -> bool:
        return (finding.path, finding.rule_id, finding.fingerprint) in self.accepted

    @classmethod
    def load(cls, path: Path) -> Baseline:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: baseline file not found") from None
        except (OSError, ValueError):
            raise ConfigError(f"{path}: not a readable baseline (JSON)") from None
        if not isinstance(data, dict) or data.get("version") != BASELINE_VERSION or \
                not isinstance(data.get("key"), dict) or \
                not isinstance(data.get("findings"), list):
            raise ConfigError(f"{path}: not a baseline of this version")
        accepted = set()
        for entry in data["findings"]:
            if not isinstance(entry, dict) or not all(
                    isinstance(entry.get(k), str) for k in ("path", "rule_id", "fingerprint")):
                raise ConfigError(f"{path}: malformed baseline entry")
            accepted.add((entry["path"], entry["rule_id"], entry["fingerprint"]))
        return cls({str(k): str(v) for k, v in data["key"].items()}, accepted)

    @staticmethod
    def write(path: Path, fingerprint: Fingerprinter, findings: Sequence[ScanFinding]) -> None:
        entries = sorted({(f.path, f.rule_id, f.fingerprint) for f in findings})
        data = {"version": BASELINE_VERSION, "tool": "context-sanitizer scan",
                "key": fingerprint.description,
                "findings": [{"path": p, "rule_id": r, "fingerprint": h}
                             for p, r, h in entries]}
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
