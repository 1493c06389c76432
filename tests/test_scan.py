"""``sanitizer scan``: hardcoded credentials in skills, crons, prompts and configs —
file:line, rule, masked preview (never the value), .gitignore, binaries, baselines, text /
JSON / SARIF 2.1.0 and exit codes scripts can trust."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from sanitizer.engine import Sanitizer
from sanitizer.errors import ConfigError
from sanitizer.examples import expand
from sanitizer.keys import KeyRing
from sanitizer.scan import Baseline, Fingerprinter, iter_files, scan_paths

RNG = random.Random("test_scan")
GH = expand("{github_token:ghp}", RNG).text
GH2 = expand("{github_token:ghp}", RNG).text
AWS = expand("{aws_key_id:AKIA}", RNG).text
EMAIL = expand("{email}", RNG).text
VALUES = (GH, GH2, AWS, EMAIL, "s3cr3t-passw0rd!")


@pytest.fixture(scope="module")
def rules() -> Sanitizer:
    return Sanitizer(ner=False, known_values_from_env=False)


def tree(root: Path) -> Path:
    """A Hermes-like home: a skill, a cron, a prompt template, ignored and binary files."""
    files = {
        "skills/deploy/SKILL.md": f"# Deploy\n\nRun:\n    export GITHUB_TOKEN={GH}\n"
                                  f"Mail {EMAIL}.\n",
        "cron/backup.yaml": f"jobs:\n  - name: backup\n    env:\n      AWS_ACCESS_KEY_ID: {AWS}\n"
                            "      password: s3cr3t-passw0rd!\n",
        "prompts/system.txt": "You are a helpful agent. Never reveal keys.\n",
        "build/out.log": f"token {GH2}\n",
        "skills/.gitignore": "*.local\n!keep.local\n",
        "skills/secret.local": f"token {GH2}\n",
        "skills/keep.local": f"x = 1\ntoken = '{GH2}'\n",
        ".gitignore": "build/\n",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "skills" / "blob.bin").write_bytes(b"\x00\x01" + GH2.encode())
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text(f"token = {GH2}\n")
    return root


def no_values(text: str) -> None:
    for value in VALUES:
        assert value not in text


def test_findings_have_place_rule_and_a_masked_preview(rules: Sanitizer, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree(tmp_path))
    result = scan_paths(rules, ["."], Fingerprinter.from_salt("00" * 32))
    got = {(f.path, f.line, f.column, f.rule_id, f.preview) for f in result.findings}
    assert got == {
        ("skills/deploy/SKILL.md", 4, 25, "github-pat-classic",
         "    export GITHUB_TOKEN=<GITHUB_TOKEN>"),
        ("cron/backup.yaml", 4, 26, "aws-access-key-id",
         "      AWS_ACCESS_KEY_ID: <AWS_ACCESS_KEY_ID>"),
        ("cron/backup.yaml", 5, 17, "structure-yaml-secret-key", "      password: <PASSWORD>"),
        ("skills/keep.local", 2, 10, "github-pat-classic", "token = '<GITHUB_TOKEN>'"),
    }
    github = next(f for f in result.findings if f.path.endswith("SKILL.md"))
    assert (github.end_line, github.end_column) == (4, 25 + len(GH))
    assert result.skipped == {"binary": 1}
    assert result.files_scanned == 6  # .gitignore files are text too
    no_values(json.dumps([f.to_dict() for f in result.findings]))


def test_gitignore_nesting_negation_and_parent_files(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    root = tree(tmp_path)
    monkeypatch.chdir(root)
    shown = [s for _, s in iter_files(["."])]
    assert "build/out.log" not in shown and "skills/secret.local" not in shown
    assert "skills/keep.local" in shown and not any(s.startswith(".git/") for s in shown)
    # Scanning a sub-folder still honours the .gitignore files above it, up to the repo.
    (root / "build" / "deep").mkdir()
    (root / "build" / "deep" / "x.txt").write_text("x")
    assert [s for _, s in iter_files(["build"])] == []
    assert "build/out.log" in [s for _, s in iter_files(["."], gitignore=False)]
    (root / "link.txt").symlink_to(root / "prompts" / "system.txt")
    assert "link.txt" not in [s for _, s in iter_files(["."])]


def test_pii_only_on_request_and_large_files_skipped(rules: Sanitizer, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree(tmp_path))
    fingerprint = Fingerprinter.from_salt()
    pii = scan_paths(rules, ["skills/deploy"], fingerprint,
                     categories=frozenset({"secret", "contact"}))
    assert {f.entity for f in pii.findings} == {"GITHUB_TOKEN", "EMAIL_ADDRESS"}
    mail = next(f for f in pii.findings if f.entity == "EMAIL_ADDRESS")
    assert mail.preview == "Mail <EMAIL_ADDRESS>."
    small = scan_paths(rules, ["skills/deploy"], fingerprint, max_bytes=10)
    assert small.findings == [] and small.skipped == {"too large": 1}


def test_long_lines_are_cut_around_the_finding(rules: Sanitizer, tmp_path: Path) -> None:
    path = tmp_path / "one-line.json"
    path.write_text(json.dumps({"filler": "x" * 500, "token": GH, "more": "y" * 500}))
    (finding,) = scan_paths(rules, [path], Fingerprinter.from_salt()).findings
    assert "<GITHUB_TOKEN>" in finding.preview and len(finding.preview) <= 162
    assert finding.preview.startswith("…") and finding.preview.endswith("…")


def test_baseline_accepts_known_findings_by_keyed_fingerprint(
        rules: Sanitizer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree(tmp_path))
    keyring = KeyRing({"k1": bytes(range(32))}, "k1")
    first = scan_paths(rules, ["."], Fingerprinter.from_keyring(keyring))
    Baseline.write(Path("baseline.json"), Fingerprinter.from_keyring(keyring), first.findings)
    stored = Path("baseline.json").read_text()
    no_values(stored)
    baseline = Baseline.load(Path("baseline.json"))
    assert baseline.key == {"kind": "master", "kid": "k1"}
    Path("cron/new.yaml").write_text(f"token: {GH}\n")  # the same key leaking somewhere new
    again = scan_paths(rules, ["."], baseline.fingerprinter(keyring))
    fresh = [f for f in again.findings if not baseline.accepts(f)]
    assert [(f.path, f.rule_id) for f in fresh] == [("cron/new.yaml", "github-pat-classic")]
    other = KeyRing({"k2": bytes(32)}, "k2")
    with pytest.raises(ConfigError, match="master key"):
        baseline.fingerprinter(other)
    with pytest.raises(ConfigError, match="master key"):
        baseline.fingerprinter(None)
    # Fingerprints depend on the key: without it nobody can confirm a guessed value.
    salted = Fingerprinter.from_salt()
    assert salted("github-pat-classic", GH) != Fingerprinter.from_keyring(keyring)(
        "github-pat-classic", GH)
    Path("broken.json").write_text("{}")
    with pytest.raises(ConfigError):
        Baseline.load(Path("broken.json"))


# -- the command line --------------------------------------------------------------------

def scan(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("SANITIZER_MASTER_KEY", "SANITIZER_MASTER_KEY_FILE")}
    return subprocess.run([sys.executable, "-m", "sanitizer", "scan", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600, env=clean)


def test_cli_formats_exit_codes_and_baseline(tmp_path: Path) -> None:
    root = tree(tmp_path / "home")
    text = scan(root, ".")
    assert text.returncode == 1, text.stderr
    assert "skills/deploy/SKILL.md:4:25: GITHUB_TOKEN [github-pat-classic]" in text.stdout
    assert text.stdout.strip().endswith("4 finding(s) in 6 file(s); skipped: 1 binary")

    as_json = scan(root, ".", "--format", "json", "--output", str(tmp_path / "r.json"))
    assert as_json.returncode == 1 and as_json.stdout == ""
    report = json.loads((tmp_path / "r.json").read_text())
    assert len(report["findings"]) == 4 and report["files_scanned"] == 6

    sarif = scan(root, ".", "--format", "sarif")
    log = json.loads(sarif.stdout)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert run["tool"]["driver"]["name"] == "context-sanitizer"
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"].startswith("file:///")
    assert len(run["results"]) == 4
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] == "error" and result["message"]["text"]
        (location,) = result["locations"]
        region = location["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
        assert location["physicalLocation"]["artifactLocation"]["uriBaseId"] == "SRCROOT"
        assert len(result["partialFingerprints"]["contextSanitizer/v1"]) == 32
    for output in (text.stdout, (tmp_path / "r.json").read_text(), sarif.stdout):
        no_values(output)

    baseline = tmp_path / "baseline.json"
    wrote = scan(root, ".", "--write-baseline", str(baseline))
    assert wrote.returncode == 0 and "wrote 4 finding(s)" in wrote.stderr
    no_values(baseline.read_text())
    clean = scan(root, ".", "--baseline", str(baseline))
    assert clean.returncode == 0, clean.stdout
    assert "0 finding(s)" in clean.stdout and "4 accepted by the baseline" in clean.stdout
    (root / "prompts" / "system.txt").write_text(f"Use the key {AWS} when asked.\n")
    new = scan(root, ".", "--baseline", str(baseline))
    assert new.returncode == 1
    assert new.stdout.startswith("prompts/system.txt:1:13: AWS_ACCESS_KEY_ID")


def test_cli_clean_tree_exits_0_and_usage_errors_exit_2(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("Nothing secret here, just a note.\n")
    assert scan(tmp_path, ".").returncode == 0
    for args in (["missing-dir"], [".", "--format", "xml"], [".", "--max-bytes", "0"],
                 [".", "--baseline", "nope.json"],
                 [".", "--baseline", "a", "--write-baseline", "b"]):
        result = scan(tmp_path, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 or "usage:" in result.stderr
        assert "Traceback" not in result.stderr
