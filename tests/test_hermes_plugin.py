"""The Hermes Agent plugin, end to end: Hermes' own CLI (``hermes chat -Q -q``, then
``--resume``) from ``.venv-hermes`` with the plugin enabled through its entry point, a
throw-away HOME/HERMES_HOME, offline settings, and the local stub model, which records every
request and answers with tool calls until Hermes hits its iteration limit.

Planted values sit in the user's message, in the memory that seeds the system prompt and in
a file a tool reads. None may reach the model — not in the agent loop, not in the summary
request Hermes sends at the iteration limit, not in the auxiliary vision call a tool makes,
not in the title-generation call. The user still sees real values (never secrets); tools get
real values only where the policy allows; memory and Hermes' history keep none.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sanitizer.examples import expand
from sanitizer.keys import KeyRing
from sanitizer.stub_model import Reply, StubModel

ROOT = Path(__file__).resolve().parents[1]
HERMES_BIN = ROOT / ".venv-hermes" / "bin"
pytestmark = pytest.mark.skipif(
    not (HERMES_BIN / "hermes").exists(),
    reason=".venv-hermes is absent (`make install` creates it): these tests drive its "
           "hermes binary")

RNG = random.Random("test_hermes_plugin")
EMAIL = expand("{lower:7}.{lower:5}@{lower:8}.com", RNG).text
CARD = expand("{card:visa:space}", RNG).text
PHONE = expand("+1 415-555-{digits:4}", RNG).text
TOKEN = expand("{github_token:ghp}", RNG).text
MEMORY_EMAIL = expand("{lower:6}@{lower:7}.org", RNG).text
MEMORY_TOKEN = expand("{github_token:ghp}", RNG).text
FILE_EMAIL = expand("{lower:5}.{lower:6}@{lower:6}.net", RNG).text
FILE_TOKEN = expand("{github_token:ghp}", RNG).text
PLANTED = {"EMAIL": EMAIL, "CARD": CARD, "PHONE": PHONE, "TOKEN": TOKEN,
           "MEMORY_EMAIL": MEMORY_EMAIL, "MEMORY_TOKEN": MEMORY_TOKEN,
           "FILE_EMAIL": FILE_EMAIL, "FILE_TOKEN": FILE_TOKEN}
PROMPT = f"My email is {EMAIL}, my card is {CARD}, call me on {PHONE}. Deploy with {TOKEN}."
ENTITIES = {"email": "EMAIL_ADDRESS", "card": "CREDIT_CARD", "phone": "PHONE_NUMBER",
            "token": "GITHUB_TOKEN"}
SUMMARY_MARK = "maximum number of tool-calling iterations"
MAX_TURNS = 5
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9Q"
                       "DwADhgGAWjR9awAAAABJRU5ErkJggg==")
# Another plugin that watches every request, as an observability plugin (Langfuse…) does.
OBSERVER = """\
import json, os


def register(ctx):
    def seen(**kwargs):
        path = os.path.join(os.environ["HERMES_HOME"], "observed.jsonl")
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(kwargs.get("request_messages"), default=str) + "\\n")

    ctx.register_hook("pre_api_request", seen)
"""
POLICY = """\
[tools]
default_tier = 1
[tools.read_file]
tier = 0
[tools.write_file]
tier = 1
[tools.terminal]
tier = 2
"""


# -- the scripted model ---------------------------------------------------------------------

def placeholders(request: dict[str, Any]) -> dict[str, str]:
    """The placeholders the model was given for the user's planted values (from the user's
    first message if it is there, else the first of each kind anywhere in the request)."""
    text = json.dumps(request)
    for message in request.get("messages") or []:
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, str) \
                and content.startswith("My email is"):
            text = content
            break
    found = {}
    for name, entity in ENTITIES.items():
        match = re.search(rf"<{entity}_\d+>", text)
        found[name] = match.group(0) if match else f"<{entity}_missing>"
    return found


def is_vision(request: dict[str, Any]) -> bool:
    return any(isinstance(m.get("content"), list)
               and any(isinstance(p, dict) and p.get("type") == "image_url"
                       for p in m["content"])
               for m in request.get("messages") or [])


def is_summary(request: dict[str, Any]) -> bool:
    messages = request.get("messages") or []
    return not request.get("tools") and bool(messages) \
        and SUMMARY_MARK in str(messages[-1].get("content"))


def tool_steps(work: Path) -> list[Callable[[dict[str, str]], tuple[str, dict[str, Any]]]]:
    return [
        lambda p: ("read_file", {"path": str(work / "notes.txt")}),
        lambda p: ("write_file", {"path": str(work / "out.txt"),
                                  "content": f"mail {p['email']} key {p['token']}"}),
        lambda p: ("memory", {"action": "add", "target": "memory",
                              "content": f"User email {p['email']}, card {p['card']}, "
                                         f"token {p['token']}"}),
        lambda p: ("terminal", {"command": f"echo {p['email']} > {work / 'refused.txt'}"}),
        lambda p: ("vision_analyze", {"image_url": str(work / "pic.png"),
                                      "question": f"Is this the avatar of {p['email']}?"}),
    ]


def make_script(work: Path) -> Callable[[dict[str, Any]], Reply]:
    steps = tool_steps(work)
    ids = itertools.count()

    def script(request: dict[str, Any]) -> Reply:
        p = placeholders(request)
        messages = request.get("messages") or []
        if is_vision(request):
            return Reply(text=f"The picture shows {p['email']}.")
        if is_summary(request):
            return Reply(text=f"Summary: mailed {p['email']}, card {p['card']}, phone "
                              f"{p['phone']}, key {p['token']}.")
        if not request.get("tools"):
            return Reply(text=f"Invoice question from {p['email']}")  # e.g. a title
        last = str(messages[-1].get("content")) if messages else ""
        if "What was my email" in last:
            return Reply(text=f"Your email is {p['email']}.")
        done = sum(1 for m in messages if m.get("role") == "assistant" and m.get("tool_calls"))
        if done < len(steps):
            name, args = steps[done](p)
            return Reply(tool_calls=((name, args),), call_ids=(f"call_{next(ids)}",))
        return Reply(text="All done.")

    return script


# -- a throw-away Hermes installation -------------------------------------------------------

@dataclass
class Hermes:
    home: Path
    work: Path
    key_file: Path
    stub: StubModel
    pycache: Path

    @property
    def hermes_home(self) -> Path:
        return self.home / ".hermes"

    def env(self, *, with_key: bool = True) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SANITIZER_", "HERMES_", "OPENAI_", "ANTHROPIC_",
                                    "OPENROUTER_"))
               and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
        # Anything that tries the network beyond the stub fails at once.
        env.update(HOME=str(self.home), HERMES_HOME=str(self.hermes_home),
                   HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9",
                   NO_PROXY="127.0.0.1,localhost")
        # Hermes is large: its bytecode is cached (outside the venv) for the next process.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(self.pycache)
        if with_key:
            env["SANITIZER_MASTER_KEY_FILE"] = str(self.key_file)
        return env

    def chat(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(HERMES_BIN / "hermes"), "chat", "-Q", *args],
                              cwd=self.work, env=self.env(), capture_output=True, text=True,
                              timeout=300, stdin=subprocess.DEVNULL, check=False)


@pytest.fixture(scope="module")
def pycache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pycache")


def install_hermes(root: Path, stub: StubModel, pycache: Path) -> Hermes:
    home, work = root / "home", root / "work"
    hermes_home = home / ".hermes"
    for folder in (hermes_home / "memories", hermes_home / "sanitizer", work):
        folder.mkdir(parents=True)
    key_file = KeyRing.generate_key_file(root / "master.key")
    (hermes_home / "config.yaml").write_text(f"""\
model:
  default: stub
  provider: custom
  base_url: {stub.base_url}
  api_key: sk-stub
  context_length: 128000
security:
  redact_secrets: false        # Hermes' own one-way redaction off: the plugin must do it
  tirith_enabled: false        # no tirith download
  allow_lazy_installs: false   # no package installs at run time
agent:
  api_max_retries: 1
plugins:
  enabled: [sanitizer, observer]
  entries:
    sanitizer:
      ner: false               # rules, structure and phones only: fast
""", encoding="utf-8")
    # A fresh update-check cache: Hermes would otherwise ask PyPI in the background.
    (hermes_home / ".update_check").write_text(json.dumps(
        {"ts": time.time() + 3600, "behind": 0, "rev": None, "ver": "0.19.0"}))
    (hermes_home / "sanitizer" / "policy.toml").write_text(POLICY, encoding="utf-8")
    observer = hermes_home / "plugins" / "observer"
    observer.mkdir(parents=True)
    (observer / "plugin.yaml").write_text('name: observer\nversion: "1"\n', encoding="utf-8")
    (observer / "__init__.py").write_text(OBSERVER, encoding="utf-8")
    (hermes_home / "memories" / "USER.md").write_text(
        f"User's backup email is {MEMORY_EMAIL}; their deploy token is {MEMORY_TOKEN}",
        encoding="utf-8")
    (work / "notes.txt").write_text(f"customer {FILE_EMAIL}\nAPI token: {FILE_TOKEN}\n",
                                    encoding="utf-8")
    (work / "pic.png").write_bytes(PNG)
    return Hermes(home, work, key_file, stub, pycache)


@dataclass
class Scenario:
    hermes: Hermes
    first: subprocess.CompletedProcess[str]
    resumed: subprocess.CompletedProcess[str]
    first_requests: list[dict[str, Any]]
    resumed_requests: list[dict[str, Any]]

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.first_requests + self.resumed_requests


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory, pycache: Path) -> Iterator[Scenario]:
    root = tmp_path_factory.mktemp("hermes")
    with StubModel() as stub:
        hermes = install_hermes(root, stub, pycache)
        stub.script = make_script(hermes.work)
        first = hermes.chat("-q", PROMPT, "--max-turns", str(MAX_TURNS))
        assert first.returncode == 0, first.stderr[-2000:]
        first_requests = list(stub.requests)
        match = re.search(r"session_id: (\S+)", first.stderr)
        assert match, first.stderr[-2000:]
        resumed = hermes.chat("-q", "What was my email?", "--resume", match.group(1),
                              "--max-turns", "2")
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        yield Scenario(hermes, first, resumed, first_requests,
                       stub.requests[len(first_requests):])


def leaks(text: str) -> list[str]:
    return [name for name, value in PLANTED.items() if value in text]


# -- the agent run --------------------------------------------------------------------------

def test_no_planted_value_reaches_the_model(scenario: Scenario) -> None:
    kinds = {"loop": 0, "summary": 0, "vision": 0}
    for request in scenario.first_requests:
        kind = "vision" if is_vision(request) else "summary" if is_summary(request) else \
            "loop" if request.get("tools") else "other"
        kinds[kind] = kinds.get(kind, 0) + 1
    # every path was exercised: the tool loop up to the limit, the limit's summary request
    # (built outside Hermes' middleware) and the vision tool's auxiliary call (async client)
    assert kinds == {"loop": MAX_TURNS, "summary": 1, "vision": 1}, kinds
    assert len(scenario.resumed_requests) == 1
    for request in scenario.requests:
        assert leaks(json.dumps(request)) == []
    system = scenario.first_requests[0]["messages"][0]
    assert system["role"] == "system" and "<EMAIL_ADDRESS_" in system["content"]


def test_other_plugins_observe_sanitized_requests(scenario: Scenario) -> None:
    observed = (scenario.hermes.hermes_home / "observed.jsonl").read_text(encoding="utf-8")
    lines = observed.splitlines()
    assert len(lines) == MAX_TURNS + 1  # every agent-loop request, both runs
    assert "<EMAIL_ADDRESS_" in observed and leaks(observed) == []


def test_tool_results_are_sanitized_before_they_enter_the_context(scenario: Scenario
                                                                    ) -> None:
    read = next(m for m in scenario.first_requests[1]["messages"] if m.get("role") == "tool")
    assert re.search(r"customer <EMAIL_ADDRESS_\d+>", read["content"])
    assert re.search(r"API token: <GITHUB_TOKEN_\d+>", read["content"])
    # Hermes' own history holds the sanitized tool output, not the file's values
    state = scenario.hermes.hermes_home / "state.db"
    with sqlite3.connect(f"file:{state}?mode=ro", uri=True) as db:
        tool_rows = [row[0] or "" for row in
                     db.execute("SELECT content FROM messages WHERE role = 'tool'")]
    assert len(tool_rows) == MAX_TURNS
    assert all(leaks(row) == [] for row in tool_rows)


def test_placeholders_stay_stable_across_turns_and_resume(scenario: Scenario) -> None:
    first_user = scenario.first_requests[0]["messages"][1]
    assert first_user["role"] == "user"
    for request in (r for r in scenario.requests if not is_vision(r)):
        users = [m for m in request["messages"] if m.get("role") == "user"
                 and str(m.get("content")).startswith("My email is")]
        assert users == [first_user]
    assert placeholders(scenario.resumed_requests[0]) == placeholders(
        scenario.first_requests[0])


def test_the_user_sees_real_values_but_never_secrets(scenario: Scenario) -> None:
    summary = scenario.first.stdout
    assert f"Summary: mailed {EMAIL}, card {CARD}, phone {PHONE}, key <GITHUB_TOKEN_" in summary
    assert TOKEN not in summary
    assert f"Your email is {EMAIL}." in scenario.resumed.stdout


def test_tools_get_real_values_only_where_the_policy_allows(scenario: Scenario) -> None:
    work = scenario.hermes.work
    token_placeholder = placeholders(scenario.first_requests[0])["token"]
    # write_file (tier 1): personal data restored, the secret stays a handle
    assert (work / "out.txt").read_text() == f"mail {EMAIL} key {token_placeholder}"
    # terminal (tier 2) in Hermes' non-interactive mode: refused, never run
    assert not (work / "refused.txt").exists()
    refusals = [m["content"] for m in scenario.first_requests[-1]["messages"]
                if m.get("role") == "tool" and "[context-sanitizer]" in str(m.get("content"))]
    assert len(refusals) == 1 and "'terminal' is a tier 2 tool" in refusals[0]


def test_memory_writes_keep_no_values(scenario: Scenario) -> None:
    memories = scenario.hermes.hermes_home / "memories"
    written = (memories / "MEMORY.md").read_text(encoding="utf-8")
    assert leaks(written) == []
    assert re.fullmatch(r"User email <EMAIL_ADDRESS#[0-9a-f]{12}>, card <CREDIT_CARD#[0-9a-f]"
                        r"{12}>, token <GITHUB_TOKEN#[0-9a-f]{12}>\s*", written), written
    # the seeded profile is left as the user wrote it (the plugin never rewrites memory)
    assert MEMORY_EMAIL in (memories / "USER.md").read_text(encoding="utf-8")


def test_audit_log_records_decisions_and_verifies(scenario: Scenario) -> None:
    from sanitizer.audit import verify_log

    log = scenario.hermes.hermes_home / "sanitizer" / "audit.jsonl"
    text = log.read_text(encoding="utf-8")
    assert leaks(text) == []
    events = [json.loads(line) for line in text.splitlines()]
    assert {"tokenize", "restore", "hash", "refuse"} <= {e["action"] for e in events}
    assert {"system", "prompt", "tool_result", "memory_write"} <= {e["surface"] for e in events}
    keys = KeyRing.from_file(scenario.hermes.key_file)
    assert verify_log(log, keys.audit_keys()).ok


# -- title generation (an auxiliary call) and a missing master key ------------------------

# One Hermes process, two phases: the plugin enabled without a master key (it must block
# everything), then with the key (title generation, an auxiliary call, must be sanitized).
PLUGIN_PROBE = """
import json, os, sys
import openai
from hermes_cli.plugins import discover_plugins, get_plugin_manager
from agent.title_generator import generate_title
from sanitizer.adapters.hermes.approvals import human_present, make_confirm
from sanitizer.tools import ToolCallPreview

BASE_URL, TEXT, KEY_FILE = sys.argv[1:4]
runtime = {"model": "stub", "provider": "custom", "base_url": BASE_URL,
           "api_key": "sk-stub", "api_mode": "chat_completions"}
client = openai.OpenAI(base_url=BASE_URL, api_key="sk-stub")
calls = {
    "chat": lambda: client.chat.completions.create(
        model="stub", messages=[{"role": "user", "content": TEXT}]),
    "responses": lambda: client.responses.create(model="stub", input=TEXT),
}


def phase():
    plugin = next(p for p in get_plugin_manager().list_plugins() if p["key"] == "sanitizer")
    title = generate_title(TEXT, "Sure, I will look into it.", main_runtime=runtime)
    errors = {}
    for name, call in calls.items():
        try:
            call()
            errors[name] = None
        except Exception as exc:
            errors[name] = f"{type(exc).__name__}: {exc}"
    print("PHASE " + json.dumps({"plugin": plugin, "title": title, "errors": errors}))
    sys.stdout.flush()


discover_plugins()
phase()
input()  # the test reads the stub's requests, then lets the second phase start
os.environ["SANITIZER_MASTER_KEY_FILE"] = KEY_FILE
discover_plugins(force=True)
phase()
gate = make_confirm("prompt", present=lambda: True)(ToolCallPreview("deploy", 3, {}, True))
print("APPROVALS " + json.dumps({"human_present": human_present(),
                                 "approved": gate.approved, "reason": gate.reason}))
"""


@dataclass
class Probe:
    without_key: dict[str, Any]
    without_key_requests: list[dict[str, Any]]
    with_key: dict[str, Any]
    with_key_requests: list[dict[str, Any]]
    approvals: dict[str, Any]
    stderr: str


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory, pycache: Path) -> Iterator[Probe]:
    with StubModel() as stub:
        hermes = install_hermes(tmp_path_factory.mktemp("probe"), stub, pycache)
        stub.script = make_script(hermes.work)
        env = {**hermes.env(with_key=False), "HERMES_YOLO_MODE": "1"}  # --yolo: see below
        errors = hermes.work / "probe.stderr"
        with errors.open("w", encoding="utf-8") as stderr_file:
            process = subprocess.Popen(
                [str(HERMES_BIN / "python"), "-c", PLUGIN_PROBE, stub.base_url,
                 f"Please check invoice 17 for {EMAIL}", str(hermes.key_file)],
                cwd=hermes.work, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=stderr_file, text=True)
            try:
                assert process.stdout is not None and process.stdin is not None
                lines = iter(process.stdout.readline, "")

                def next_report(prefix: str) -> dict[str, Any]:
                    for line in lines:
                        if line.startswith(prefix + " "):
                            report: dict[str, Any] = json.loads(line[len(prefix) + 1:])
                            return report
                    raise AssertionError(f"the probe stopped before {prefix}: "
                                         + errors.read_text(encoding="utf-8")[-2000:])

                without_key = next_report("PHASE")
                without_key_requests = list(stub.requests)
                process.stdin.write("\n")
                process.stdin.flush()
                with_key = next_report("PHASE")
                approvals = next_report("APPROVALS")
                process.communicate(timeout=300)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        stderr = errors.read_text(encoding="utf-8")
        assert process.returncode == 0, stderr[-2000:]
        yield Probe(without_key, without_key_requests, with_key,
                    stub.requests[len(without_key_requests):], approvals, stderr)


def test_without_a_master_key_nothing_is_sent(probe: Probe) -> None:
    assert probe.without_key_requests == []
    result = probe.without_key
    assert result["title"] is None
    assert result["errors"]["chat"].startswith(
        "Blocked: context-sanitizer is enabled but not working: no master key")
    assert result["errors"]["responses"].startswith("Blocked:")
    assert "context-sanitizer: no master key" in probe.stderr
    assert EMAIL not in probe.stderr + json.dumps(result["errors"])


def test_title_generation_is_sanitized_and_restored(probe: Probe) -> None:
    result = probe.with_key
    assert result["plugin"]["enabled"] and result["plugin"]["middleware"] == 3
    sent = json.dumps(probe.with_key_requests)
    assert len(probe.with_key_requests) == 2  # the title call and the direct chat call
    assert EMAIL not in sent and "<EMAIL_ADDRESS_1>" in sent
    assert result["title"] == f"Invoice question from {EMAIL}"
    assert result["errors"]["chat"] is None
    # an SDK entry point the plugin cannot sanitize refuses instead of sending
    assert result["errors"]["responses"].startswith(
        "Blocked: context-sanitizer cannot sanitize Responses.create")


def test_tier3_approval_goes_through_hermes_gate(probe: Probe) -> None:
    # With --yolo Hermes' gate says yes, and the gate is named as the audited reason; but
    # the plugin only asks it where a human is — a process without a terminal has none.
    assert probe.approvals == {"human_present": False, "approved": True,
                               "reason": "approved at the Hermes approval prompt"}


# -- unit checks of the plugin's pieces (no Hermes needed) ---------------------------------

@pytest.mark.parametrize(("argv", "expected"), [
    (["hermes", "chat", "-Q", "-q", "hi"], True),
    (["hermes", "chat", "--query=hi"], True),
    (["hermes", "chat", "-Qq", "hi"], True),
    (["hermes", "chat", "--resume", "abc"], False),
    (["hermes", "chat", "-Q", "--", "-q"], False),
])
def test_single_query_mode_is_non_interactive(argv: list[str], expected: bool) -> None:
    from sanitizer.adapters.hermes.approvals import single_query_mode

    assert single_query_mode(argv) is expected


def test_settings_reject_unknown_keys_and_default_under_hermes_home(tmp_path: Path) -> None:
    from sanitizer.adapters.hermes.settings import parse_settings
    from sanitizer.errors import ConfigError

    settings = parse_settings(None, tmp_path)
    assert settings.vault == f"sqlite:///{tmp_path.resolve()}/sanitizer/vault.db"
    assert settings.audit_log == tmp_path / "sanitizer" / "audit.jsonl"
    assert settings.approvals == "prompt" and settings.memory_tools == ("memory",)
    assert parse_settings({"audit_log": False, "policy": "p.toml"}, tmp_path).audit_log is None
    with pytest.raises(ConfigError, match="unknown keys"):
        parse_settings({"vualt": "memory://"}, tmp_path)
    with pytest.raises(ConfigError, match="approvals"):
        parse_settings({"approvals": "yes"}, tmp_path)


def test_lineage_root_follows_compression_parents(tmp_path: Path) -> None:
    from sanitizer.adapters.hermes.runtime import lineage_root

    state = tmp_path / "state.db"
    with sqlite3.connect(state) as db:
        db.execute("CREATE TABLE sessions (id TEXT PRIMARY KEY, parent_session_id TEXT)")
        db.executemany("INSERT INTO sessions VALUES (?, ?)",
                       [("root", None), ("child", "root"), ("grandchild", "child"),
                        ("loop-a", "loop-b"), ("loop-b", "loop-a")])
    assert lineage_root(state, "grandchild") == "root"
    assert lineage_root(state, "unknown") == "unknown"
    assert lineage_root(state, "loop-a") in ("loop-a", "loop-b")  # a cycle ends the walk
    assert lineage_root(tmp_path / "missing.db", "child") == "child"


def test_memory_policy_fingerprints_instead_of_placeholders() -> None:
    from sanitizer.adapters.hermes.runtime import memory_policy
    from sanitizer.policy import Policy

    policy = memory_policy(Policy(entities={"EMAIL_ADDRESS": "tokenize", "IBAN": "redact"}))
    assert policy.action("EMAIL_ADDRESS", "contact", "memory_write", "memory") == "hash"
    assert policy.action("GITHUB_TOKEN", "secret", "memory_write", "memory") == "hash"
    assert policy.action("IBAN", "financial", "memory_write", "memory") == "redact"


def test_streams_restore_text_and_leave_tool_calls_alone() -> None:
    from types import SimpleNamespace as NS

    from sanitizer.adapters.hermes.streams import RestoredStream, restore_completion
    from sanitizer.tokens import PlaceholderGrammar, StreamingRestorer

    grammar = PlaceholderGrammar(["EMAIL_ADDRESS"])

    def new_restorer() -> StreamingRestorer:
        return StreamingRestorer(grammar, lambda m: EMAIL if m.number == 1 else None)

    def chunk(text: str | None, finish: str | None = None, calls: Any = None) -> Any:
        return NS(choices=[NS(index=0, delta=NS(content=text, tool_calls=calls),
                              finish_reason=finish)])

    call = NS(index=0, id="c1", function=NS(name="send", arguments='{"to": "<EMAIL_ADDRESS_1>"}'))
    closed: list[bool] = []
    raw = [chunk("Mail <EMAIL_"), chunk("ADDRESS_1> and <EMAIL_ADDRESS_2"), chunk(">."),
           chunk(None, "stop", [call])]
    stream = RestoredStream(iter(raw), new_restorer, done=lambda: closed.append(True))
    out = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in out) == \
        f"Mail {EMAIL} and <EMAIL_ADDRESS_2>."
    assert out[-1].choices[0].delta.tool_calls == [call]  # arguments untouched
    assert call.function.arguments == '{"to": "<EMAIL_ADDRESS_1>"}'
    assert closed == [True]
    assert not hasattr(stream, "choices")  # Hermes tells a stream from a response by this
    whole = NS(choices=[NS(message=NS(content="Hi <EMAIL_ADDRESS_1>", tool_calls=None))])
    assert restore_completion(whole, lambda t: t.replace("<EMAIL_ADDRESS_1>", EMAIL)) \
        .choices[0].message.content == f"Hi {EMAIL}"


def test_confirmation_is_refused_without_a_human() -> None:
    from sanitizer.adapters.hermes.approvals import make_confirm
    from sanitizer.tools import ToolCallPreview

    preview = ToolCallPreview("terminal", 2, {"command": f"echo {EMAIL}"}, False)
    assert not make_confirm("prompt", present=lambda: False)(preview).approved
    assert not make_confirm("deny", present=lambda: True)(preview).approved


def test_the_examples_parse(tmp_path: Path) -> None:
    import yaml

    from sanitizer.adapters.hermes.settings import parse_settings
    from sanitizer.policy import load_policy

    examples = ROOT / "examples" / "hermes"
    policy = load_policy(examples / "policy.toml")
    assert policy.tools.rule("terminal").tier == 2
    assert policy.tools.rule("read_file").tier == 0
    config = yaml.safe_load((examples / "config.yaml").read_text(encoding="utf-8"))
    assert config["plugins"]["enabled"] == ["sanitizer"]
    settings = parse_settings(config["plugins"]["entries"]["sanitizer"], tmp_path)
    assert settings.approvals == "prompt"


@pytest.mark.parametrize(("argv", "expected"), [
    (["hermes"], True),
    (["hermes", "chat", "-Q", "-q", "hi"], True),
    (["hermes", "-p", "work", "chat"], True),
    (["hermes", "gateway", "run"], True),
    (["hermes", "plugins", "list"], False),
    (["hermes", "chat", "--help"], False),
])
def test_detectors_warm_up_early_only_for_agent_commands(argv: list[str],
                                                         expected: bool) -> None:
    from sanitizer.adapters.hermes import _runs_an_agent

    assert _runs_an_agent(argv) is expected


if __name__ == "__main__":  # pragma: no cover - manual runs
    sys.exit(pytest.main([__file__, "-q"]))
