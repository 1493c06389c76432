"""Scan findings as a SARIF 2.1.0 log (code scanning UIs, CI annotations).

One run, one driver with a rule per rule id found; each result has the rule, an error level,
a message that names the entity (never the value), the region (1-based lines, columns in
Unicode code points), the masked line as snippet and the keyed fingerprint as a partial
fingerprint, so a code-scanning service can track it across commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from .scan import ScanFinding

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL = "context-sanitizer"


def _version() -> str:
    try:
        return version("context-sanitizer")
    except PackageNotFoundError:
        return "0.0.0"


def _level(finding: ScanFinding) -> str:
    return "error" if finding.category == "secret" else "warning"


def to_sarif(findings: Sequence[ScanFinding], descriptions: Mapping[str, str],
             root: Path | None = None) -> dict[str, Any]:
    """The SARIF log; ``descriptions`` maps rule ids to their one-line descriptions."""
    rule_ids = sorted({f.rule_id for f in findings})
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    first = {f.rule_id: f for f in reversed(findings)}
    rules = [{
        "id": rule_id,
        "name": first[rule_id].entity,
        "shortDescription": {"text": descriptions.get(
            rule_id, f"{first[rule_id].entity} found by the {first[rule_id].detector} "
                     "detector")},
        "defaultConfiguration": {"level": _level(first[rule_id])},
        "properties": {"tags": ["security", first[rule_id].category]},
    } for rule_id in rule_ids]
    results = [{
        "ruleId": f.rule_id,
        "ruleIndex": index[f.rule_id],
        "level": _level(f),
        "message": {"text": f"{f.entity} hardcoded here ({f.rule_id}): {f.preview}"},
        "locations": [{"physicalLocation": {
            "artifactLocation": {"uri": f.path, **({"uriBaseId": "SRCROOT"}
                                                   if not f.path.startswith("/") else {})},
            "region": {"startLine": f.line, "startColumn": f.column, "endLine": f.end_line,
                       "endColumn": f.end_column, "snippet": {"text": f.preview}},
        }}],
        "partialFingerprints": {"contextSanitizer/v1": f.fingerprint},
    } for f in findings]
    run: dict[str, Any] = {
        "tool": {"driver": {"name": TOOL, "version": _version(), "rules": rules}},
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    if root is not None:
        run["originalUriBaseIds"] = {"SRCROOT": {"uri": root.absolute().as_uri() + "/"}}
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
