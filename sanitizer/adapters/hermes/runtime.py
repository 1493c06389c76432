"""One Hermes process behind the sanitizer: policy, vault, audit log and sessions.

Sessions. The vault session of a Hermes session is the root of its lineage in Hermes'
``state.db`` (compression continues a conversation under a new id whose parent is the old
one), so placeholders stay stable across turns, ``--resume`` and compaction. A model call
finds its session in this order: the id the ``llm_request`` middleware put into the
request, the session bound to the current thread/context (middleware and tool execution
bind it), the only session this process has seen; otherwise it gets a throw-away session
of its own, forgotten after the reply (its placeholders are consistent within the call).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import Blocked, ConfigError, SanitizerError
from ...messages import MessageCache, sanitize_messages
from ...policy import Action, Policy, load_policy
from ...tools import Approval, ToolCallPreview, resolve_tool_call
from .settings import PluginSettings

if TYPE_CHECKING:
    from ...engine import Json, Sanitizer

Message = dict[str, Any]
Confirm = Callable[[ToolCallPreview], Approval]
_BOUND: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "context_sanitizer_hermes_session", default=None)
_NOT_MEMORY_TEXT = frozenset({"action", "target"})


def memory_policy(policy: Policy) -> Policy:
    """Memory outlives the session, so its placeholders could never be restored (and would
    collide with another session's numbers): ``tokenize`` becomes ``hash`` — a keyed
    fingerprint that stays stable across sessions and reveals nothing."""
    def swap(table: Mapping[str, Action]) -> dict[str, Action]:
        return {k: ("hash" if v == "tokenize" else v) for k, v in table.items()}

    return replace(policy, defaults=swap(policy.defaults),
                   surfaces={k: swap(v) for k, v in policy.surfaces.items()},
                   destinations={k: swap(v) for k, v in policy.destinations.items()},
                   entities=swap(policy.entities))


def lineage_root(state_db: Path, session_id: str, limit: int = 64) -> str:
    """The first ancestor of ``session_id`` in Hermes' session table (itself if none)."""
    if not state_db.is_file():
        return session_id
    current, seen = session_id, {session_id}
    try:
        with contextlib.closing(sqlite3.connect(f"file:{state_db}?mode=ro", uri=True,
                                                timeout=5.0)) as db:
            for _ in range(limit):
                row = db.execute("SELECT parent_session_id FROM sessions WHERE id = ?",
                                 (current,)).fetchone()
                parent = row[0] if row else None
                if not parent or parent in seen:
                    break
                seen.add(parent)
                current = parent
    except sqlite3.Error:
        return session_id
    return current


def _map_strings(value: Any, change: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [_map_strings(v, change) for v in value]
    if isinstance(value, dict):
        return {k: _map_strings(v, change) for k, v in value.items()}
    return value


class Guard:
    """The sanitizer as one Hermes process uses it."""

    def __init__(self, settings: PluginSettings, sanitizer: Sanitizer,
                 confirm: Confirm) -> None:
        self.settings = settings
        self.sanitizer = sanitizer
        self.confirm = confirm
        self.cache = MessageCache(os.urandom(32))
        self._memory: Sanitizer | None = None
        self._roots: dict[str, str] = {}
        self._seen: set[str] = set()
        self._refused: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self._warm = threading.Lock()
        self._warmed = False
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    @classmethod
    def build(cls, settings: PluginSettings, confirm: Confirm,
              environ: Mapping[str, str] | None = None) -> Guard:
        """Everything that can be checked cheaply is checked now (policy, key, vault, audit
        log); the detectors load on first use."""
        from ...engine import Sanitizer
        from ...keys import KeyRing
        from ...vault import open_vault

        env = os.environ if environ is None else environ
        policy = load_policy(settings.policy) if settings.policy is not None else Policy()
        has_key = settings.master_key_file is not None or any(
            env.get(k, "").strip() for k in ("SANITIZER_MASTER_KEY", "SANITIZER_MASTER_KEY_FILE"))
        if not has_key and not settings.vault.startswith("memory:"):
            raise ConfigError(
                "no master key for the vault: set SANITIZER_MASTER_KEY or "
                "SANITIZER_MASTER_KEY_FILE (or plugins.entries.sanitizer.master_key_file); "
                "create a key file with `sanitizer vault keygen FILE`")
        keyring = KeyRing.from_env(env, key_file=settings.master_key_file) if has_key \
            else KeyRing.ephemeral()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        ttl = timedelta(days=settings.vault_ttl_days) if settings.vault_ttl_days else None
        vault = open_vault(settings.vault, keyring, tenant="hermes", ttl=ttl)
        audit = None
        if settings.audit_log is not None:
            from ...audit import AuditLog, FileSink

            audit = AuditLog(keyring.audit_key(), [FileSink(settings.audit_log)])
        kwargs: dict[str, Any] = {"policy": policy, "vault": vault, "keyring": keyring,
                                  "audit": audit, "tenant": "hermes", "environ": env}
        if settings.ner is not None:
            kwargs["ner"] = settings.ner
        sanitizer = Sanitizer.from_config(settings.config, **kwargs) if settings.config \
            else Sanitizer(**kwargs)
        return cls(settings, sanitizer, confirm)

    # -- sessions -----------------------------------------------------------------------

    def vault_session(self, hermes_session: str) -> str:
        with self._lock:
            root = self._roots.get(hermes_session)
        if root is None:
            root = lineage_root(self.settings.home / "state.db", hermes_session)
            with self._lock:
                root = self._roots.setdefault(hermes_session, root)
                self._seen.add(root)
        return root

    @staticmethod
    def bind(vault_session: str) -> contextvars.Token[str | None]:
        return _BOUND.set(vault_session)

    @staticmethod
    def unbind(token: contextvars.Token[str | None]) -> None:
        _BOUND.reset(token)

    def call_session(self, marker: object) -> tuple[str, bool]:
        """The vault session of one model call, and whether it is a throw-away one."""
        if isinstance(marker, str) and marker:
            return marker, False
        bound = _BOUND.get()
        if bound:
            return bound, False
        with self._lock:
            if len(self._seen) == 1:
                return next(iter(self._seen)), False
        return f"hermes-unbound-{uuid.uuid4().hex}", True

    def forget(self, session: str) -> None:
        # A throw-away session the vault could not drop: its values stay sealed.
        with contextlib.suppress(SanitizerError):
            self.sanitizer.forget(session)
        self.cache.forget(session)

    # -- outbound -----------------------------------------------------------------------

    def warm_up(self) -> None:
        """Build the detectors (and load the NER models if the policy needs them) once.
        That start-up cost is not what ``sanitize_timeout`` bounds."""
        with self._warm:
            if self._warmed:
                return
            try:
                self.sanitizer.warm_up()
            except SanitizerError as exc:
                raise Blocked(f"the sanitizer failed to start: {exc}") from None
            except Exception as exc:
                raise Blocked(f"the sanitizer failed to start ({type(exc).__name__})") \
                    from None
            self._warmed = True

    def warm_up_in_background(self) -> None:
        """Start :meth:`warm_up` now, so that it overlaps Hermes' own start-up (Hyperscan
        compiles without the GIL). A failure here is reported by the first real call."""
        def run() -> None:
            with contextlib.suppress(Exception):
                self.warm_up()

        threading.Thread(target=run, name="context-sanitizer-warm-up", daemon=True).start()

    def sanitize_messages(self, session: str, messages: object) -> list[Message]:
        """Every message of a request, sanitized — or :class:`Blocked`, and nothing sent."""
        if not isinstance(messages, Sequence) or isinstance(messages, str | bytes):
            raise Blocked("the request has no message list; nothing was sent")
        self.warm_up()

        def work() -> list[Message]:
            return sanitize_messages(self.sanitizer, messages, session, self.cache)

        timeout = self.settings.sanitize_timeout
        try:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    max_workers=2, thread_name_prefix="context-sanitizer")
            return self._pool.submit(work).result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            raise Blocked(f"sanitizing took longer than {timeout:g}s; nothing was sent") \
                from None
        except Blocked:
            raise
        except SanitizerError as exc:
            raise Blocked(f"sanitizing failed: {exc}") from None
        except Exception as exc:
            raise Blocked(f"sanitizing failed ({type(exc).__name__}); nothing was sent") \
                from None

    def restore(self, session: str, text: str) -> str:
        return self.sanitizer.restore(text, session=session)

    # -- tool time ----------------------------------------------------------------------

    def tool_arguments(self, session: str, tool: str, tool_call_id: str,
                       args: dict[str, Any]) -> dict[str, Any] | None:
        """Arguments with the placeholders the tool policy allows restored (after a tier 2/3
        confirmation); ``None`` when nothing changes. A refused call is remembered so the
        ``pre_tool_call`` hook can block it."""
        self.warm_up()
        if tool in self.settings.memory_tools:
            return self.memory_arguments(session, args)
        resolved = resolve_tool_call(self.sanitizer, tool, json.dumps(args), session=session,
                                     confirm=self.confirm)
        if resolved.refused:
            tier = self.sanitizer.tool_policy.rule(tool).tier
            with self._lock:
                self._refused[(session, tool_call_id or tool)] = (
                    f"[context-sanitizer] '{tool}' is a tier {tier} tool: it needs the user's "
                    "approval before it may receive restored values, and none was given "
                    "(no interactive user, or denied). The call was not run.")
            return None
        if not resolved.restored:
            return None
        restored: Any = json.loads(resolved.arguments)
        return restored if isinstance(restored, dict) else None

    def refusal(self, session: str, tool: str, tool_call_id: str) -> str | None:
        with self._lock:
            return self._refused.pop((session, tool_call_id or tool), None)

    @property
    def memory(self) -> Sanitizer:
        if self._memory is None:
            from ...engine import Sanitizer

            main = self.sanitizer
            self._memory = Sanitizer(main.settings, catalog=main.catalog,
                                     detectors=main.detectors,
                                     policy=memory_policy(main.policy), vault=main.vault,
                                     keyring=main.keyring, audit=main.audit,
                                     tenant=main.tenant)
        return self._memory

    def memory_arguments(self, session: str, args: dict[str, Any]) -> dict[str, Any]:
        """A memory write: this session's placeholders resolved, then everything sanitized
        for the memory destination (fingerprints and markers, never values)."""
        self.warm_up()
        def restore(text: str) -> str:  # every entity: it is sanitized again right away
            return self.sanitizer.restore_detailed(text, session=session, destination="tool",
                                                   allow=lambda _entity: True).text

        out: dict[str, Any] = {}
        for key, value in args.items():
            if key in _NOT_MEMORY_TEXT:
                out[key] = value
                continue
            restored: Json = _map_strings(value, restore)
            out[key] = self.memory.sanitize(restored, surface="memory_write", session=session,
                                            destination="memory").result
        return out

    def tool_result(self, session: str, result: Any) -> Any:
        """A tool's output, sanitized before it enters Hermes' history (and its session
        database, logs and display). Sanitizing it again before the next request keeps
        its placeholders: the engine disarms only look-alikes this session never minted."""
        self.warm_up()
        if isinstance(result, str):
            return self.sanitizer.sanitize(result, surface="tool_result",
                                           session=session).result
        if isinstance(result, dict) and result.get("_multimodal") is True:
            return self._multimodal(session, result)  # text parts only: images stay intact
        if isinstance(result, dict | list):
            return self.sanitizer.sanitize(result, surface="tool_result",
                                           session=session).result
        return result

    def _multimodal(self, session: str, result: dict[str, Any]) -> dict[str, Any]:
        def text(value: str) -> str:
            return str(self.sanitizer.sanitize(value, surface="tool_result",
                                               session=session).result)

        out = dict(result)
        if isinstance(out.get("text_summary"), str):
            out["text_summary"] = text(out["text_summary"])
        if isinstance(out.get("content"), list):
            out["content"] = [
                {**part, "text": text(part["text"])}
                if isinstance(part, dict) and isinstance(part.get("text"), str) else part
                for part in out["content"]]
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
