"""The policy: built-in defaults, TOML and YAML files, precedence, allowlists, and broken
files failing closed with one clear line (Python and CLI)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sanitizer.errors import ConfigError
from sanitizer.findings import CATEGORIES, Category
from sanitizer.policy import (
    ACTIONS,
    DEFAULT_ACTIONS,
    DESTINATIONS,
    SURFACES,
    UNTRUSTED_SURFACES,
    Policy,
    load_policy,
    parse_policy,
)

PLANTED = "planted-allowlisted-value-7f3a@example.test"

TOML = f"""
[defaults]
contact = "tokenize"
low_risk = "redact"
[surfaces.log]
contact = "redact"
PERSON = "allow"
[destinations.memory]
secret = "redact"
EMAIL_ADDRESS = "hash"
[entities]
EMAIL_ADDRESS = "mask"
IP_ADDRESS = "block"
[allowlist]
values = ["{PLANTED}"]
patterns = ['@example\\.com$']
[placeholder]
format = "[[{{entity}}-{{n}}]]"
neutralize_on = ["tool_result", "prompt"]
[tools.send_email]
tier = 2
"""

YAML = f"""
defaults: {{contact: tokenize, low_risk: redact}}
surfaces:
  log: {{contact: redact, PERSON: allow}}
destinations:
  memory: {{secret: redact, EMAIL_ADDRESS: hash}}
entities: {{EMAIL_ADDRESS: mask, IP_ADDRESS: block}}
allowlist:
  values: ["{PLANTED}"]
  patterns: ['@example\\.com$']
placeholder:
  format: "[[{{entity}}-{{n}}]]"
  neutralize_on: [tool_result, prompt]
tools:
  send_email: {{tier: 2}}
"""


def test_built_in_defaults_follow_the_design() -> None:
    policy = Policy()
    cases: list[tuple[Category, str]] = [
        ("secret", "tokenize"), ("financial", "tokenize"), ("government", "tokenize"),
        ("contact", "tokenize"), ("low_risk", "allow")]
    for category, expected in cases:
        for surface in SURFACES:
            for destination in DESTINATIONS:
                assert policy.action("ANY", category, surface, destination) == expected
    assert dict(DEFAULT_ACTIONS) == dict(policy.defaults)
    assert policy.placeholder == "<{entity}_{n}>"
    assert policy.untrusted_surfaces == UNTRUSTED_SURFACES == {"tool_result"}
    assert set(ACTIONS) == {"allow", "mask", "redact", "hash", "tokenize", "block"}
    assert set(SURFACES) == {"system", "prompt", "tool_call_args", "tool_result",
                             "memory_write", "log"}


@pytest.mark.parametrize(("name", "text"), [("p.toml", TOML), ("p.yaml", YAML),
                                            ("p.yml", YAML)])
def test_toml_and_yaml_give_the_same_policy(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    policy = load_policy(path)
    reference = load_policy(_write(tmp_path / "ref.toml", TOML))
    for field in ("defaults", "surfaces", "destinations", "entities", "allow_values",
                  "allow_patterns", "placeholder", "untrusted_surfaces", "tools"):
        assert getattr(policy, field) == getattr(reference, field), field
    assert policy.source == str(path)


def test_precedence_most_specific_first(tmp_path: Path) -> None:
    policy = load_policy(_write(tmp_path / "p.toml", TOML))
    act = policy.action
    # the entity on this surface beats the entity anywhere
    assert act("PERSON", "contact", "log", "log") == "allow"
    # the entity for this destination beats the entity anywhere
    assert act("EMAIL_ADDRESS", "contact", "prompt", "memory") == "hash"
    # the entity anywhere beats every category rule
    assert act("EMAIL_ADDRESS", "contact", "log", "model") == "mask"
    assert act("IP_ADDRESS", "contact", "prompt", "model") == "block"
    # the category on a surface beats the category for a destination and the default
    assert act("PHONE_NUMBER", "contact", "log", "memory") == "redact"
    assert act("AWS_KEY", "secret", "prompt", "memory") == "redact"
    # category defaults, changed and built in
    assert act("DATE", "low_risk", "prompt", "model") == "redact"
    assert act("AWS_KEY", "secret", "prompt", "model") == "tokenize"
    assert act("IBAN_CODE", "financial", "prompt", "model") == "tokenize"


def test_allowlist_values_and_patterns(tmp_path: Path) -> None:
    policy = load_policy(_write(tmp_path / "p.toml", TOML))
    assert policy.allows_value(PLANTED)
    assert policy.allows_value("ops@example.com")
    assert not policy.allows_value("ops@example.com.evil.test")
    assert not policy.allows_value(PLANTED.upper())
    assert not Policy().allows_value(PLANTED)


def test_without_tokens_turns_tokenize_into_redact(tmp_path: Path) -> None:
    policy = load_policy(_write(tmp_path / "p.toml", TOML)).without_tokens()
    assert policy.action("PHONE_NUMBER", "contact") == "redact"
    assert policy.action("EMAIL_ADDRESS", "contact") == "mask"
    assert "tokenize" not in {policy.action("X", c, s, d) for c in CATEGORIES
                              for s in SURFACES for d in DESTINATIONS}


def test_needs_counts_entity_rules() -> None:
    quiet = parse_policy({"defaults": {"contact": "allow"}}, "p")
    assert not quiet.needs({"contact"}, "prompt", "model", ["PERSON"])
    person = parse_policy({"defaults": {"contact": "allow"}, "entities": {"PERSON": "redact"}},
                          "p")
    assert person.needs({"contact"}, "prompt", "model", ["PERSON", "LOCATION"])
    on_log = parse_policy({"defaults": {"contact": "allow"},
                           "surfaces": {"log": {"PERSON": "tokenize"}}}, "p")
    assert on_log.needs({"contact"}, "log", "model", ["PERSON"])
    assert not on_log.needs({"contact"}, "prompt", "model", ["PERSON"])


BROKEN = [
    ("bad.toml", "[defaults\ncontact = 1", "invalid TOML"),
    ("bad.toml", "[defaults]\ncontact = 'shred'", "[defaults].contact: unknown action 'shred'"),
    ("bad.toml", "[defaults]\ncontact = 3", "unknown action of type int"),
    ("bad.toml", "[defaults]\nPERSON = 'redact'", "[defaults]: unknown key 'PERSON'"),
    ("bad.toml", "[surfaces.web]\ncontact = 'redact'", "[surfaces]: unknown surface 'web'"),
    ("bad.toml", "[destinations.disk]\nsecret = 'redact'",
     "[destinations]: unknown destination 'disk'"),
    ("bad.toml", "[surfaces.log]\nperson = 'redact'", "[surfaces].log: unknown key 'person'"),
    ("bad.toml", "[entities]\ncontact = 'allow'", "'contact' is a category"),
    ("bad.toml", "[entities]\nEMAIL_ADDRESS = ['mask']", "unknown action of type list"),
    ("bad.toml", "surfaces = 3", "[surfaces] must be a table"),
    ("bad.toml", "[allowlist]\nvalues = '" + PLANTED + "'", "[allowlist] values must be a list"),
    ("bad.toml", "[allowlist]\npatterns = ['" + PLANTED + "(']", "pattern #1 is not valid RE2"),
    ("bad.toml", "[allowlist]\nstrings = []", "[allowlist] takes 'values' and 'patterns'"),
    ("bad.toml", "[placeholder]\nformat = '<{entity}>'", "needs {entity} then {n}"),
    ("bad.toml", "[placeholder]\nformat = 7", "placeholder format must be a string"),
    ("bad.toml", "[placeholder]\nformat = '<{entity}~{n}>'", "separator '~' is reserved"),
    ("bad.toml", "[placeholder]\nneutralize_on = ['web']", "unknown surface 'web'"),
    ("bad.toml", "[placeholder]\nstyle = 'x'", "[placeholder] takes 'format'"),
    ("bad.toml", "[rules]\nx = 1", "unknown sections ['rules']"),
    ("bad.yaml", "defaults: [contact", "invalid YAML at line"),
    ("bad.yaml", "- just\n- a list", "a policy must be a table/mapping"),
    ("bad.yml", "entities: {EMAIL_ADDRESS: yes}", "unknown action of type bool"),
    ("bad.toml", "\udcff", "cannot read policy"),
]


@pytest.mark.parametrize(("name", "text", "message"), BROKEN)
def test_a_broken_policy_is_one_clear_error(tmp_path: Path, name: str, text: str,
                                            message: str) -> None:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(ConfigError) as error:
        load_policy(path)
    text_of_error = str(error.value)
    assert message in text_of_error
    assert text_of_error.startswith(str(path))
    assert "\n" not in text_of_error
    assert PLANTED not in text_of_error
    # no chained exception that a traceback would print (with the file's text in it)
    assert error.value.__cause__ is None
    assert error.value.__context__ is None or error.value.__suppress_context__


def test_a_missing_policy_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="policy file not found"):
        load_policy(tmp_path / "none.toml")


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _cli(*args: str, stdin: bytes = b"", env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "sanitizer", *args], input=stdin,
                          capture_output=True, timeout=300, env=env)


def test_every_command_fails_closed_on_a_broken_policy(tmp_path: Path) -> None:
    import os

    broken = _write(tmp_path / "broken.toml", "[defaults]\ncontact = 'shred'\n")
    key = tmp_path / "k.key"
    env = {**os.environ, "SANITIZER_MASTER_KEY_FILE": str(key)}
    assert _cli("vault", "keygen", str(key)).returncode == 0
    stdin = json.dumps({"text": f"mail {PLANTED}"}).encode() + b"\n"
    vault = f"sqlite:///{tmp_path / 'v.db'}"
    commands = [
        ["detect", "--no-ner"],
        ["redact", "--no-ner"],
        ["redact", "--jsonl", "--no-ner", "--session", "s", "--vault", vault,
         "--audit-log", str(tmp_path / "a.jsonl")],
        ["restore", "--jsonl", "--session", "s", "--vault", vault],
        ["vault", "forget", "--session", "s", "--vault", vault],
        ["audit", "verify", str(tmp_path / "a.jsonl")],
    ]
    for command in commands:
        result = _cli(*command, "--policy", str(broken), stdin=stdin, env=env)
        err = result.stderr.decode()
        assert result.returncode == 2, (command, err)
        assert result.stdout == b"", command
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert "unknown action 'shred'" in err and str(broken) in err
        assert PLANTED not in err
    assert not (tmp_path / "a.jsonl").exists()  # nothing was processed
