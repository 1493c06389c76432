"""The rule catalog: rules are data (TOML files), validated once at load time.

Schema (see ``recognizers/README.md``)::

    [[rules]]
    id = "github-pat-classic"          # stable kebab-case id, appears in audit events
    description = "GitHub personal access token (classic)"
    entity = "GITHUB_TOKEN"
    category = "secret"                # secret | financial | government | contact | low_risk
    regex = '''\\b(ghp_[0-9A-Za-z]{36})\\b'''   # RE2 syntax: linear time, no backtracking
    secret_group = 1                   # the group that is replaced (0 = whole match)
    keywords = ["ghp_"]                # case-insensitive literals, one must occur
    entropy = 3.0                      # Shannon bits/char floor for the secret group
    validators = ["github_checksum"]   # named checks, sanitizer.validators
    context = ["github"]               # words near the match that raise the score
    score = 0.9                        # base score; below the threshold needs context
    ignore_case = false
    allowlist = { regexes = ['''^x+$'''], stopwords = ["example"] }
    [rules.examples]                   # «…» marks an expected span; {gen:args} expand
    positive = ["export GITHUB_TOKEN=«{github_token:ghp}»"]
    negative = ["ghp_{alnum:35}"]
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, cast

from .errors import ConfigError
from .findings import CATEGORIES, Category

_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_ENTITY = re.compile(r"^[A-Z][A-Z0-9_]*$")

DEFAULT_SCORE = 0.9
DEFAULT_CONTEXT_BOOST = 0.35


@dataclass(frozen=True, slots=True)
class Allowlist:
    """Values a rule must not report: regexes (RE2, searched in the secret) and stopwords
    (case-insensitive substrings of the secret)."""

    regexes: tuple[str, ...] = ()
    stopwords: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.regexes or self.stopwords)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    description: str
    entity: str
    category: Category
    regex: str
    secret_group: int | str = 0
    keywords: tuple[str, ...] = ()
    entropy: float | None = None
    validators: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    score: float = DEFAULT_SCORE
    ignore_case: bool = False
    allowlist: Allowlist = field(default_factory=Allowlist)
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True, slots=True)
class Catalog:
    """All rules plus the allowlist shared by every secret rule."""

    rules: tuple[Rule, ...]
    allowlist: Allowlist = field(default_factory=Allowlist)

    def by_id(self) -> dict[str, Rule]:
        return {rule.id: rule for rule in self.rules}

    def select(self, categories: Iterable[str] | None = None) -> Catalog:
        if categories is None:
            return self
        wanted = set(categories)
        return Catalog(tuple(r for r in self.rules if r.category in wanted), self.allowlist)


_RULE_KEYS = {
    "id", "description", "entity", "category", "regex", "secret_group", "keywords",
    "entropy", "validators", "context", "score", "ignore_case", "allowlist", "examples",
}


def _fail(source: str, rule_id: str, message: str) -> ConfigError:
    where = f"{source}: rule {rule_id!r}" if rule_id else source
    return ConfigError(f"{where}: {message}")


def _strings(value: Any, source: str, rule_id: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(source, rule_id, f"{key!r} must be a list of strings")
    return tuple(value)


def _check_regex(pattern: str, source: str, rule_id: str, key: str) -> None:
    import re2  # RE2: linear time on any input; rejects backreferences and lookaround

    try:
        re2.compile(pattern)
    except re2.error as exc:
        raise _fail(source, rule_id, f"{key} is not valid RE2 syntax ({exc})") from None


def parse_rule(raw: Mapping[str, Any], source: str, known_validators: Iterable[str]) -> Rule:
    rule_id = raw.get("id", "")
    if not isinstance(rule_id, str) or not _ID.match(rule_id):
        raise _fail(source, str(rule_id), "'id' must be kebab-case (a-z, 0-9, '-')")
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise _fail(source, rule_id, f"unknown keys {sorted(unknown)}")
    for key in ("description", "entity", "category", "regex"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise _fail(source, rule_id, f"{key!r} is required and must be a string")
    if not _ENTITY.match(raw["entity"]):
        raise _fail(source, rule_id, "'entity' must be UPPER_SNAKE_CASE")
    if raw["category"] not in CATEGORIES:
        raise _fail(source, rule_id, f"'category' must be one of {list(CATEGORIES)}")
    ignore_case = raw.get("ignore_case", False)
    if not isinstance(ignore_case, bool):
        raise _fail(source, rule_id, "'ignore_case' must be true or false")
    regex = raw["regex"]
    if ignore_case:
        regex = f"(?i){regex}"
    _check_regex(regex, source, rule_id, "regex")

    import re2

    compiled = re2.compile(regex)
    group = raw.get("secret_group", 0)
    if isinstance(group, bool) or not isinstance(group, int | str):
        raise _fail(source, rule_id, "'secret_group' must be a group number or name")
    if isinstance(group, int) and not 0 <= group <= compiled.groups:
        raise _fail(source, rule_id, f"'secret_group' {group} but the regex has "
                    f"{compiled.groups} groups")
    if isinstance(group, str) and group not in compiled.groupindex:
        raise _fail(source, rule_id, f"'secret_group' {group!r} is not a named group")

    validators = _strings(raw.get("validators"), source, rule_id, "validators")
    missing = set(validators) - set(known_validators)
    if missing:
        raise _fail(source, rule_id, f"unknown validators {sorted(missing)}")

    entropy = raw.get("entropy")
    if entropy is not None and (isinstance(entropy, bool) or not isinstance(entropy, int | float)
                                or not 0 <= entropy <= 8):
        raise _fail(source, rule_id, "'entropy' must be a number of bits per character (0-8)")
    score = raw.get("score", DEFAULT_SCORE)
    if isinstance(score, bool) or not isinstance(score, int | float) or not 0 < score <= 1:
        raise _fail(source, rule_id, "'score' must be in (0, 1]")

    allow_raw = raw.get("allowlist", {})
    if not isinstance(allow_raw, dict) or set(allow_raw) - {"regexes", "stopwords"}:
        raise _fail(source, rule_id, "'allowlist' takes only 'regexes' and 'stopwords'")
    allowlist = Allowlist(
        regexes=_strings(allow_raw.get("regexes"), source, rule_id, "allowlist.regexes"),
        stopwords=tuple(s.lower() for s in _strings(
            allow_raw.get("stopwords"), source, rule_id, "allowlist.stopwords")),
    )
    for pattern in allowlist.regexes:
        _check_regex(pattern, source, rule_id, "allowlist regex")

    examples = raw.get("examples", {})
    if not isinstance(examples, dict) or set(examples) - {"positive", "negative"}:
        raise _fail(source, rule_id, "'examples' takes only 'positive' and 'negative'")
    positive = _strings(examples.get("positive"), source, rule_id, "examples.positive")
    negative = _strings(examples.get("negative"), source, rule_id, "examples.negative")
    if not positive:
        raise _fail(source, rule_id, "every rule needs at least one positive example")
    if not negative:
        raise _fail(source, rule_id, "every rule needs at least one negative example")

    return Rule(
        id=rule_id,
        description=raw["description"],
        entity=raw["entity"],
        category=cast(Category, raw["category"]),
        regex=regex,
        secret_group=group,
        keywords=tuple(k.lower() for k in _strings(raw.get("keywords"), source, rule_id,
                                                   "keywords")),
        entropy=float(entropy) if entropy is not None else None,
        validators=validators,
        context=tuple(w.lower() for w in _strings(raw.get("context"), source, rule_id,
                                                  "context")),
        score=float(score),
        ignore_case=ignore_case,
        allowlist=allowlist,
        positive=positive,
        negative=negative,
        source=source,
    )


def _read_toml(path: Path | Any, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read ({exc.strerror})") from None


def builtin_catalog_dir() -> Path | Any:
    """The catalog shipped in the wheel (``sanitizer/_catalog``) or, in a source
    checkout, the repository's ``recognizers/`` folder."""
    packaged = resources.files("sanitizer") / "_catalog"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "recognizers"


def load_catalog(
    directories: Sequence[Path | Any] | None = None,
    known_validators: Iterable[str] | None = None,
) -> Catalog:
    """Load every ``*.toml`` under ``secrets/`` and ``pii/`` of each directory, plus
    ``allowlist.toml``. Later directories add rules; a repeated id is an error."""
    if known_validators is None:
        from .validators import VALIDATORS

        known_validators = VALIDATORS
    known = set(known_validators)
    dirs = list(directories) if directories else [builtin_catalog_dir()]
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    regexes: list[str] = []
    stopwords: list[str] = []
    for directory in dirs:
        if not directory.is_dir():
            raise ConfigError(f"{directory}: rule catalog folder not found")
        files = sorted(
            (sub.name + "/" + f.name, f)
            for sub in directory.iterdir() if sub.is_dir() and sub.name in ("secrets", "pii")
            for f in sub.iterdir() if f.name.endswith(".toml")
        )
        for name, path in files:
            source = f"recognizers/{name}"
            data = _read_toml(path, source)
            entries = data.get("rules", [])
            if not isinstance(entries, list):
                raise ConfigError(f"{source}: 'rules' must be an array of tables")
            for raw in entries:
                if not isinstance(raw, dict):
                    raise ConfigError(f"{source}: every [[rules]] entry must be a table")
                rule = parse_rule(raw, source, known)
                if rule.id in seen:
                    raise _fail(source, rule.id, f"duplicate id (also in {seen[rule.id]})")
                seen[rule.id] = source
                rules.append(rule)
        allow_path = directory / "allowlist.toml"
        if allow_path.is_file():
            data = _read_toml(allow_path, "recognizers/allowlist.toml")
            regexes += _strings(data.get("regexes"), "recognizers/allowlist.toml", "", "regexes")
            stopwords += [s.lower() for s in _strings(
                data.get("stopwords"), "recognizers/allowlist.toml", "", "stopwords")]
            for pattern in regexes:
                _check_regex(pattern, "recognizers/allowlist.toml", "", "regex")
    return Catalog(tuple(rules), Allowlist(tuple(regexes), tuple(stopwords)))
