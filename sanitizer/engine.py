"""The Sanitizer: the one place where catalog, detectors and normalisation meet."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .config import DetectionSettings, Settings, check_limits, load_settings
from .detect import BatchDetector, Detector
from .errors import Blocked, InputError, SanitizerError, VaultError
from .findings import Category, Finding, JsonPath, resolve_overlaps
from .json_paths import Json as Json
from .json_paths import check_json, leaves, object_keys, rename_keys, replace_leaves
from .normalize import chunks, fragments, scannable, views
from .policy import Policy
from .rules import Catalog, builtin_catalog_dir, load_catalog
from .tokens import PlaceholderFormat, PlaceholderGrammar, StreamingRestorer, restore_text
from .tools import ToolPolicy
from .transform import Decision, apply, mask

if TYPE_CHECKING:
    from .audit import AuditLog
    from .keys import KeyRing
    from .vault import Vault

_VAULT_DOWN = object()
T = TypeVar("T")


def _fail_closed(error: type[SanitizerError], what: str, call: Callable[..., T],
                 *args: Any) -> T:
    """``call(*args)``, failing closed: the package's own errors pass, any other becomes
    ``error("<what> (<its type>)")`` — raised outside the handler, so the original (whose
    message may quote the text or a value) is not even chained as ``__context__``, where
    error trackers would find it."""
    try:
        return call(*args)
    except SanitizerError:
        raise
    except Exception as exc:
        failure = type(exc).__name__
    raise error(f"{what} ({failure})")


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="milliseconds")


# Entities that detectors other than the rule catalog produce, by category.
DETECTOR_ENTITIES: Mapping[str, Category] = {
    "PERSON": "contact", "LOCATION": "contact", "STREET_ADDRESS": "contact",
    "PHONE_NUMBER": "contact", "EMAIL_ADDRESS": "contact", "IP_ADDRESS": "contact",
    "ORGANIZATION": "low_risk",
    "SECRET": "secret", "PASSWORD": "secret", "API_KEY": "secret", "AUTH_TOKEN": "secret",
}


@dataclass(frozen=True, slots=True)
class Redaction:
    """The sanitized text (or JSON value) and the findings in the *input*."""

    result: Json
    findings: list[Finding]


@dataclass(frozen=True, slots=True)
class Sanitized:
    """The sanitized text (or JSON value), the findings in the (neutralised) input and the
    decision taken for each."""

    result: Json
    findings: list[Finding]
    decisions: list[Decision]


@dataclass(frozen=True, slots=True)
class Restoration:
    """Restored text; ``vault_failed`` flags placeholders left in place because the vault
    could not be reached."""

    text: str
    restored: int
    vault_failed: bool = False


def _unclaimed(split: Sequence[Sequence[Finding]], found: Sequence[Finding]) -> list[Finding]:
    """The pieces of the split findings (values joined across lines or fields) to keep.

    A specific format (``GITHUB_TOKEN``, ``EMAIL_ADDRESS``, a card) found across the join
    is kept. A generic one (a value under a secret-naming key, a ``password=…`` rule) is
    kept only if no other finding touches its pieces: when one piece was found on its own,
    the join merely glued a neighbour onto a known value (``password=s3cr3t`` then a line
    ``Q3Report2026``) — that neighbour is not part of it."""
    if not split:
        return []
    from bisect import bisect_left

    from .findings import GENERIC_ENTITIES

    spans = sorted((f.start, f.end) for f in found)
    starts = [s for s, _ in spans]
    longest = max((e - s for s, e in spans), default=0)

    def touched(start: int, end: int) -> bool:
        index = bisect_left(starts, start - longest)
        while index < len(spans) and spans[index][0] < end:
            if spans[index][1] > start:
                return True
            index += 1
        return False

    def specific(finding: Finding) -> bool:
        return finding.entity not in GENERIC_ENTITIES and finding.detector != "structure"

    return [part for parts in split
            if specific(parts[0]) or not any(touched(p.start, p.end) for p in parts)
            for part in parts]


class Sanitizer:
    """Detects secrets and PII in text or JSON and redacts them.

    ``Sanitizer()`` runs on embedded defaults; ``Sanitizer.from_config(path)`` reads a TOML
    file. Detectors can be replaced or extended with any object that has ``name`` and
    ``detect(text) -> list[Finding]``.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        detectors: Sequence[Detector] | None = None,
        catalog: Catalog | None = None,
        environ: Mapping[str, str] | None = None,
        policy: Policy | None = None,
        vault: Vault | None = None,
        keyring: KeyRing | None = None,
        audit: AuditLog | None = None,
        tenant: str = "default",
        **overrides: Any,
    ) -> None:
        settings = settings or Settings()
        if overrides:
            settings = replace(settings, detection=replace(settings.detection, **overrides))
            check_limits(settings.detection, "Sanitizer options")
        self.settings = settings
        self._environ = os.environ if environ is None else environ
        self._catalog = catalog
        self._detectors = list(detectors) if detectors is not None else None
        self._kinds: tuple[list[Detector], list[BatchDetector]] | None = None
        self.policy = policy or Policy()
        self.placeholder_format = PlaceholderFormat.parse(self.policy.placeholder,
                                                          self.policy.source)
        self.tenant = tenant
        self._keyring = keyring
        self._vault = vault
        self.audit = audit
        self._grammar: PlaceholderGrammar | None = None
        self._categories: dict[str, Category] | None = None
        self._markers: Any = None

    @property
    def keyring(self) -> KeyRing:
        """The master keys: ``SANITIZER_MASTER_KEY`` / a key file if configured, else an
        ephemeral key (fine for the in-memory vault, which dies with the process)."""
        if self._keyring is None:
            from .keys import KeyRing

            try:
                self._keyring = KeyRing.from_env(self._environ)
            except SanitizerError:
                if any(k in self._environ for k in ("SANITIZER_MASTER_KEY",
                                                     "SANITIZER_MASTER_KEY_FILE")):
                    raise
                self._keyring = KeyRing.ephemeral()
        return self._keyring

    @property
    def vault(self) -> Vault:
        if self._vault is None:
            from .vault import open_vault

            self._vault = open_vault("memory://", self.keyring, tenant=self.tenant)
        return self._vault

    @property
    def entity_categories(self) -> Mapping[str, Category]:
        """Every entity name this sanitizer can produce, with its category (built once:
        restore asks for each placeholder)."""
        if self._categories is None:
            categories: dict[str, Category] = dict(DETECTOR_ENTITIES)
            categories.update({rule.entity: rule.category for rule in self.catalog.rules})
            self._categories = categories
        return self._categories

    @property
    def grammar(self) -> PlaceholderGrammar:
        """Placeholder matcher over every entity name this sanitizer can produce."""
        if self._grammar is None:
            self._grammar = PlaceholderGrammar(self.entity_categories, self.placeholder_format)
        return self._grammar

    @classmethod
    def from_config(cls, path: str | Path, **kwargs: Any) -> Sanitizer:
        return cls(load_settings(path), **kwargs)

    # -- composition --------------------------------------------------------------

    @property
    def detection(self) -> DetectionSettings:
        return self.settings.detection

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            extra = [Path(p) for p in self.detection.rules]
            self._catalog = load_catalog([builtin_catalog_dir(), *extra])
        return self._catalog

    @property
    def detectors(self) -> list[Detector]:
        """Cheapest first: rules, structure, phones, known values, then NER if enabled."""
        if self._detectors is None:
            from .detect.known_values import KnownValuesDetector
            from .detect.phones import PhoneDetector
            from .detect.rules_engine import RuleEngine
            from .detect.structure import StructureDetector

            detectors: list[Detector] = [
                RuleEngine(self.catalog, min_score=self.detection.min_score),
                StructureDetector(),
                PhoneDetector(),
            ]
            if self.detection.known_values_from_env:
                detectors.append(KnownValuesDetector.from_environment(self._environ))
            if self.detection.ner:
                from .detect.ner import NerDetector

                detectors.append(NerDetector(backends=self.detection.ner_backends,
                                             spacy_model=self.detection.spacy_model))
            self._detectors = detectors
        return self._detectors

    @property
    def _detector_kinds(self) -> tuple[list[Detector], list[BatchDetector]]:
        """The detectors split once into per-text ones and batched ones (an ``isinstance``
        check against a runtime protocol is slow enough to dominate a hot loop)."""
        if self._kinds is None:
            self._kinds = ([d for d in self.detectors if not isinstance(d, BatchDetector)],
                           [d for d in self.detectors if isinstance(d, BatchDetector)])
        return self._kinds

    def warm_up(self, *, ner: bool | None = None) -> None:
        """Do every start-up cost now — catalog, compiled rules, detectors and, when the
        policy sends names to the model (``ner=None``) or when asked, the NER models — so
        that a time limit on sanitizing bounds the work a message causes, not start-up.
        A detector offers this with an optional ``warm_up()`` method."""
        if ner is None:
            ner = self.policy.needs({"contact"}, "prompt", "model", DETECTOR_ENTITIES)
        plain, batched = self._detector_kinds
        for detector in [*plain, *(batched if ner else ())]:
            warm = getattr(detector, "warm_up", None)
            if callable(warm):
                _fail_closed(Blocked, f"detector {detector.name!r} failed to start", warm)
        _ = self.grammar, self.entity_categories

    # -- detection ----------------------------------------------------------------

    def _check_size(self, text: str) -> None:
        if len(text) > self.detection.max_input_chars:
            raise InputError(
                f"input of {len(text)} characters exceeds max_input_chars="
                f"{self.detection.max_input_chars}")

    def _run(self, detector: Detector, text: str) -> list[Finding]:
        # _fail_closed spelled out: this runs once per detector and view of every text,
        # where building its message up front would cost ~5% of a short text's scan.
        try:
            return detector.detect(text)
        except SanitizerError:
            raise
        except Exception as exc:
            failure = type(exc).__name__
        raise Blocked(f"detector {detector.name!r} failed ({failure})")

    def _detect_text(self, text: str, ner: Sequence[Finding] = ()) -> list[Finding]:
        """Every non-batch detector over every view of ``text``, plus the batched NER
        findings of the original text, mapped to the original and de-overlapped."""
        found: list[Finding] = list(ner)
        split: list[list[Finding]] = []  # findings across the gaps of a join view
        plain = self._detector_kinds[0]
        for view in views(text):
            for detector in plain:
                for finding in self._run(detector, view.text):
                    if view.layer == "original":
                        found.append(finding)
                        continue
                    parts = [replace(finding, start=start, end=end)
                             for start, end in view.original_spans(finding.start, finding.end)]
                    if len(parts) > 1:
                        split.append(parts)
                    else:
                        found.extend(parts)
        found.extend(_unclaimed(split, found))
        self._check_count(len(found))
        return resolve_overlaps(self._outside_placeholders(text, found))

    def _protected_spans(self, text: str) -> list[tuple[int, int]]:
        """Where this sanitizer's own output sits in ``text`` (placeholders, ``<ENTITY>``
        markers, ``<ENTITY#hash>``): it is never detected again, so sanitizing sanitized
        text changes nothing (scrub and memory writes rely on it)."""
        if self._markers is None:
            import re2

            fmt = self.placeholder_format
            names = "|".join(re2.escape(n) for n in sorted(self.entity_categories, key=len,
                                                            reverse=True))
            self._markers = re2.compile(
                f"{re2.escape(fmt.prefix)}(?:{names})(?:#[0-9a-f]{{12}})?{re2.escape(fmt.suffix)}")
        spans = [(m.start, m.end) for m in self.grammar.finditer(text)]
        spans.extend(m.span() for m in self._markers.finditer(text))
        return spans

    def _outside_placeholders(self, text: str, findings: Sequence[Finding]) -> list[Finding]:
        """Findings with protected spans cut out (edges trimmed of white space)."""
        spans = self._protected_spans(text) if findings else []
        if not spans:
            return list(findings)
        out: list[Finding] = []
        for finding in findings:
            pieces = [(finding.start, finding.end)]
            for low, high in spans:
                pieces = [part for a, b in pieces for part in
                          (((a, b),) if high <= a or b <= low else
                           ((a, min(b, low)), (max(a, high), b)))
                          if part[0] < part[1]]
            for a, b in pieces:
                while a < b and text[a].isspace():
                    a += 1
                while b > a and text[b - 1].isspace():
                    b -= 1
                if a < b:
                    out.append(replace(finding, start=a, end=b))
        return out

    def _batch_ner(self, texts: Sequence[str]) -> list[list[Finding]]:
        batchers = self._detector_kinds[1]
        results: list[list[Finding]] = [[] for _ in texts]
        for detector in batchers:
            batch = _fail_closed(Blocked, f"detector {detector.name!r} failed",
                                 detector.detect_batch, texts)
            for slot, findings in zip(results, batch, strict=True):
                slot.extend(findings)
        return results

    def detect(self, data: Json, *, ner: bool = True) -> list[Finding]:
        """Findings in a text, or in every string of a JSON value (with ``path`` set).
        ``ner=False`` skips the NER models (the policy asks for no names or places)."""
        if isinstance(data, str):
            return self.detect_batch([data], ner=ner)[0]
        check_json(data, self.detection.max_json_depth)
        return self._detect_json(data, ner=ner)

    def detect_batch(self, texts: Sequence[str], *, ner: bool = True) -> list[list[Finding]]:
        """Findings per text. A text longer than ``chunk_chars`` is scanned in chunks that
        overlap by ``chunk_overlap`` (a value cut by one chunk's edge is whole in the
        next); findings are merged across chunks. More than ``max_findings`` in one text
        is refused rather than ground through."""
        settings = self.detection
        spans: list[list[tuple[int, int]]] = []
        for text in texts:
            if not isinstance(text, str):
                raise InputError(f"expected text, got {type(text).__name__}")
            self._check_size(text)
            spans.append(chunks(text, settings.chunk_chars, settings.chunk_overlap))
        # Detectors see lone surrogates as U+FFFD (one for one: offsets hold).
        pieces = [scannable(text if (lo, hi) == (0, len(text)) else text[lo:hi])
                  for text, cuts in zip(texts, spans, strict=True) for lo, hi in cuts]
        ner_found = self._batch_ner(pieces) if ner else [[] for _ in pieces]
        results: list[list[Finding]] = []
        index = 0
        for cuts in spans:
            found: list[Finding] = []
            for lo, _hi in cuts:
                found.extend(f.shifted(lo) if lo else f
                             for f in self._detect_text(pieces[index], ner_found[index]))
                index += 1
                self._check_count(len(found))
            results.append(resolve_overlaps(found) if len(cuts) > 1 else found)
        return results

    def _check_count(self, count: int) -> None:
        if count > self.detection.max_findings:
            raise InputError(f"more than max_findings={self.detection.max_findings} findings "
                             "in one input: split it")

    def _detect_json(self, data: Json, *, ner: bool = True) -> list[Finding]:
        """Scalars under a secret-naming key are secrets whatever their shape; every other
        string is scanned as text."""
        from .detect.structure import secret_key_name

        findings: list[Finding] = []
        strings: list[tuple[JsonPath, str]] = []
        for path, value in leaves(data):
            key = next((p for p in reversed(path) if isinstance(p, str)), None)
            entity = secret_key_name(key) if key is not None else None
            text = value if isinstance(value, str) else None
            if entity is not None and value is not None and not isinstance(value, bool):
                length = len(text) if text is not None else len(str(value))
                if length:
                    whole = Finding(0, length, entity, "secret", "structure-json-key",
                                    "structure", 0.9, path)
                    findings.extend(self._outside_placeholders(text, [whole])
                                    if text is not None else [whole])
                    if text is None:
                        continue
                    # still scanned: a format rule names the value ({"api_token": "ghp_…"}
                    # is a GITHUB_TOKEN) and the overlap resolution below keeps it whole
            if text:
                strings.append((path, text))
        keys = [path for path in object_keys(data) if isinstance(path[-1], str) and path[-1]]
        names = sorted({str(path[-1]) for path in keys})
        per_text = self.detect_batch([text for _, text in strings] + names, ner=ner)
        in_names = dict(zip(names, per_text[len(strings):], strict=True))
        per_text = per_text[:len(strings)]
        for (path, _text), found in zip(strings, per_text, strict=True):
            findings.extend(replace(f, path=path) for f in found)
        for path in keys:  # an object key can be sensitive too: {"ann@corp.example": …}
            findings.extend(replace(f, path=path, in_key=True) for f in in_names[str(path[-1])])
        findings.extend(self._split_fields(strings, per_text))
        # A piece of a value joined across fields may overlap the field's own findings
        # (``{"to": "a@x.com", "cc": "b@y.org"}`` joins into one "address"): one finding per
        # region of each field, as in text, or the transform would replace a span twice.
        by_path: dict[tuple[JsonPath, bool], list[Finding]] = {}
        for finding in findings:
            by_path.setdefault((finding.path, finding.in_key), []).append(finding)
        findings = [f for group in by_path.values() for f in resolve_overlaps(group)]
        self._check_count(len(findings))
        return findings

    def _split_fields(self, strings: Sequence[tuple[JsonPath, str]],
                      per_text: Sequence[Sequence[Finding]]) -> list[Finding]:
        """A value split over sibling strings (``{"k1": "ghp_AbC…", "k2": "…xyz"}``):
        runs of sibling pieces (:func:`~sanitizer.normalize.fragments`) are scanned joined;
        a finding that spans pieces is mapped back to each piece it covers, under the same
        rule as split findings in text (:func:`_unclaimed`)."""
        out: list[Finding] = []
        groups: dict[JsonPath, list[int]] = {}
        for index, (path, _text) in enumerate(strings):
            groups.setdefault(path[:-1], []).append(index)
        for members in groups.values():
            if len(members) < 2:
                continue
            texts = [strings[i][1] for i in members]
            for first, last in fragments(texts):
                run = members[first:last]
                joined = "".join(strings[i][1] for i in run)
                bounds: list[tuple[int, int, int]] = []  # (start, end, index in strings)
                position = 0
                for i in run:
                    bounds.append((position, position + len(strings[i][1]), i))
                    position += len(strings[i][1])
                split: list[list[Finding]] = []
                for finding in self.detect_batch([joined], ner=False)[0]:
                    parts = [replace(finding, start=max(finding.start, lo),
                                     end=min(finding.end, hi))
                             for lo, hi, _i in bounds if finding.start < hi and lo < finding.end]
                    if len(parts) > 1:
                        split.append(parts)
                own = [f.shifted(lo) for lo, _hi, i in bounds for f in per_text[i]]
                for piece in _unclaimed(split, own):
                    lo, _hi, i = next(b for b in bounds if b[0] <= piece.start < b[1])
                    out.append(replace(piece.shifted(-lo), path=strings[i][0]))
        return out

    # -- redaction and tokenization ---------------------------------------------------

    def redact(self, data: Json) -> Redaction:
        """Replace every finding with an ``<ENTITY>`` marker (policy-free, no vault)."""
        def decide(finding: Finding, _value: str) -> Decision:
            return Decision(finding, "redact", self._marker(finding.entity), "")

        findings = self.detect(data)
        result, _ = self._transform(data, findings, decide)
        return Redaction(result, findings)

    def sanitize(self, data: Json, *, surface: str = "prompt", session: str = "default",
                 destination: str = "model") -> Sanitized:
        """Detect, then apply the policy: placeholders from the session's vault, markers,
        masks or keyed fingerprints; one audit event per decision. Placeholder look-alikes in
        untrusted surfaces are neutralised first — except this session's own placeholders,
        which stay as they are. Raises :class:`Blocked` when the policy blocks a finding
        (nothing is returned, so nothing can be sent)."""
        if not isinstance(data, str):
            check_json(data, self.detection.max_json_depth)
        if surface in self.policy.untrusted_surfaces:
            data = self._neutralize(data, session)
        ner = self.policy.needs({"contact"}, surface, destination, DETECTOR_ENTITIES)
        findings = self.detect(data, ner=ner)

        def decide(finding: Finding, value: str) -> Decision:
            return self._decide(finding, value, surface, session, destination)

        result, decisions = self._transform(data, findings, decide)
        if self.audit is not None:
            self._audit(decisions, surface, session)
        return Sanitized(result, findings, decisions)

    def restore(self, text: str, *, session: str = "default", destination: str = "user") -> str:
        """Real values back in place of this session's placeholders (secrets stay hidden)."""
        return self.restore_detailed(text, session=session, destination=destination).text

    def restore_detailed(self, text: str, *, session: str = "default",
                         destination: str = "user",
                         allow: Callable[[str], bool] | None = None) -> Restoration:
        """Like :meth:`restore`, with counts; ``allow(entity)`` narrows what is restored
        (tool sinks). A secret comes back only into a tool argument: ``destination="tool"``
        with an ``allow`` filter (the tool policy) that accepts it."""
        failed = False
        restored = 0
        secrets_ok = destination == "tool" and allow is not None

        def resolve(match: Any) -> str | None:
            nonlocal failed, restored
            if allow is not None and not allow(match.entity):
                return None
            value = self._reveal(match.entity, match.number, session, destination, secrets_ok)
            if value is _VAULT_DOWN:
                failed = True
                return None
            restored += isinstance(value, str)
            return value if isinstance(value, str) else None

        return Restoration(restore_text(text, self.grammar, resolve), restored, failed)

    def restorer(self, *, session: str = "default", destination: str = "user"
                 ) -> StreamingRestorer:
        """A streaming restorer for one response: ``feed(chunk)`` … ``flush()``; its
        ``vault_failed`` turns true when a placeholder stayed because the vault was down."""
        restorer: StreamingRestorer

        def resolve(match: Any) -> str | None:
            value = self._reveal(match.entity, match.number, session, destination)
            if value is _VAULT_DOWN:
                restorer.vault_failed = True
            return value if isinstance(value, str) else None

        restorer = StreamingRestorer(self.grammar, resolve)
        return restorer

    def forget(self, session: str) -> None:
        """Make every value of ``session`` unrecoverable."""
        self.vault.forget(session)

    @property
    def tool_policy(self) -> ToolPolicy:
        return self.policy.tools

    def audit_tool_call(self, session: str, tool: str, tier: int, action: str,
                        reason: str | None) -> None:
        """One audit event per tool-call decision (restore, allow, refuse)."""
        if self.audit is None:
            return
        from .audit import AuditEvent

        self.audit.record(AuditEvent(
            time=_now(), session=session, surface="tool_call_args", entity="TOOL_CALL",
            rule_id=f"tool:{tool}:tier{tier}", action=action, placeholder=None,
            fingerprint="", start=0, end=0, detector="tools", tenant=self.tenant,
            reason=self._safe_reason(reason)))

    def _safe_reason(self, reason: str | None) -> str | None:
        """An approver's reason, redacted: it is free text and may quote values."""
        if not reason:
            return None
        redacted = self.redact(reason[:500]).result
        return redacted if isinstance(redacted, str) else None

    # -- internals of sanitize/restore --------------------------------------------------

    def _marker(self, entity: str) -> str:
        fmt = self.placeholder_format
        return f"{fmt.prefix}{entity}{fmt.suffix}"

    def category_of(self, entity: str) -> Category:
        """The category of an entity name; unknown names count as secrets (fail closed)."""
        return self.entity_categories.get(entity, "secret")

    def _decide(self, finding: Finding, value: str, surface: str, session: str,
                destination: str) -> Decision:
        policy = self.policy
        allowlisted = policy.allows_value(value)
        action = "allow" if allowlisted else policy.action(
            finding.entity, finding.category, surface, destination)
        fingerprint = self.keyring.fingerprint(finding.entity, value, self.tenant)
        if action == "block":
            raise Blocked(f"policy blocks {finding.entity} on surface {surface!r}")
        if action == "allow":
            return Decision(finding, action, None, fingerprint,
                            "allowlisted" if allowlisted else None)
        if action == "tokenize":
            number = self._tokenize(session, finding.entity, value)
            return Decision(finding, action, self.placeholder_format.render(finding.entity,
                                                                            number), fingerprint)
        if action == "hash":
            fmt = self.placeholder_format
            return Decision(finding, action,
                            f"{fmt.prefix}{finding.entity}#{fingerprint[:12]}{fmt.suffix}",
                            fingerprint)
        if action == "mask":
            return Decision(finding, action, mask(value), fingerprint)
        return Decision(finding, "redact", self._marker(finding.entity), fingerprint)

    def _tokenize(self, session: str, entity: str, value: str) -> int:
        """The vault's number for ``value``; a backend's own error (whose message may quote
        the value) becomes a :class:`VaultError` that names only its type."""
        return _fail_closed(VaultError, "the vault failed", self.vault.tokenize, session,
                            entity, value)

    def _reveal(self, entity: str, number: int, session: str, destination: str,
                secrets_ok: bool = False) -> Any:
        if self.category_of(entity) == "secret" and not secrets_ok:
            return None  # a secret is a handle: only an allowed tool argument resolves it
        try:
            value = self.vault.reveal(session, entity, number)
        except VaultError:
            return _VAULT_DOWN
        except Exception:  # a backend's own error: the vault is as good as down
            return _VAULT_DOWN
        if value is not None and self.audit is not None:
            from .audit import AuditEvent

            self.audit.record(AuditEvent(
                time=_now(), session=session, surface=destination, entity=entity,
                rule_id="restore", action="restore",
                placeholder=self.placeholder_format.render(entity, number),
                fingerprint=self.keyring.fingerprint(entity, value, self.tenant), start=0,
                end=0, detector="vault", tenant=self.tenant))
        return value

    def _neutralize(self, data: Json, session: str) -> Json:
        """Disarm placeholder look-alikes this session did not mint (forged, foreign or not
        yet minted numbers); the session's own placeholders stay as they are. An unreachable
        vault vouches for nothing (fail closed)."""
        def minted(match: Any) -> bool:
            try:
                return self.vault.reveal(session, match.entity, match.number) is not None
            except VaultError:
                return False

        if isinstance(data, str):
            return self._disarm(data, minted)
        replacements: dict[JsonPath, Json] = {}
        for path, value in leaves(data):
            if isinstance(value, str):
                cleaned = self._disarm(value, minted)
                if cleaned != value:
                    replacements[path] = cleaned
        return replace_leaves(data, replacements) if replacements else data

    def _disarm(self, text: str, minted: Callable[[Any], bool]) -> str:
        """:meth:`PlaceholderGrammar.neutralize`, also through the disguises a model sees
        through: a look-alike written in fullwidth letters, with a zero-width character
        inside, %-encoded or JSON-escaped gets its separator (in whatever form it has
        there) replaced by ``~`` as well. Encoded blobs (base64, hex) are left alone: no
        single character of them maps to the separator."""
        cleaned = self.grammar.neutralize(text, minted)
        edits: set[tuple[int, int]] = set()
        for view in views(cleaned)[1:]:
            for match in self.grammar.finditer(view.text):
                low, high = view.to_original(match.entity_end, match.number_start)
                if high - low <= 12 and "~" not in cleaned[low:high] and not minted(match):
                    edits.add((low, high))
        for low, high in sorted(edits, reverse=True):
            cleaned = cleaned[:low] + "~" + cleaned[high:]
        return cleaned

    def _transform(self, data: Json, findings: Sequence[Finding],
                   decide: Callable[[Finding, str], Decision]) -> tuple[Json, list[Decision]]:
        if isinstance(data, str):
            return apply(data, findings, decide)
        by_path: dict[tuple[JsonPath, bool], list[Finding]] = {}
        for finding in findings:
            by_path.setdefault((finding.path, finding.in_key), []).append(finding)
        decisions: list[Decision] = []
        by_leaf = dict(leaves(data))
        replacements: dict[JsonPath, Json] = {}
        renames: dict[JsonPath, str] = {}
        for (path, in_key), found in by_path.items():
            if in_key:
                renames[path], made = apply(str(path[-1]), found, decide)
                decisions.extend(made)
                continue
            leaf = by_leaf[path]
            text = leaf if isinstance(leaf, str) else json.dumps(leaf)
            new_text, made = apply(text, found, decide)
            decisions.extend(made)
            if isinstance(leaf, str) or new_text != text:
                replacements[path] = new_text
        result = replace_leaves(data, replacements) if replacements else data
        renames = {path: name for path, name in renames.items() if name != path[-1]}
        return (rename_keys(result, renames) if renames else result), decisions

    def _audit(self, decisions: Sequence[Decision], surface: str, session: str) -> None:
        from .audit import AuditEvent

        assert self.audit is not None
        for decision in decisions:
            finding = decision.finding
            self.audit.record(AuditEvent(
                time=_now(), session=session, surface=surface, entity=finding.entity,
                rule_id=finding.rule_id, action=decision.action,
                placeholder=decision.replacement if decision.action in ("tokenize", "hash")
                else None,
                fingerprint=decision.fingerprint, start=finding.start, end=finding.end,
                detector=finding.detector, tenant=self.tenant, reason=decision.reason))
