"""Every message position an agent's conversation carries text in is sanitized, once per
session: the conversation cache is keyed by a MAC (never content) and notices a forgotten
session."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from sanitizer.engine import Sanitizer
from sanitizer.errors import InputError
from sanitizer.examples import expand
from sanitizer.messages import MessageCache, sanitize_messages

RNG = random.Random("test_messages")
EMAIL = expand("{lower:8}.{lower:5}@{lower:7}.com", RNG).text
OTHER = expand("{lower:6}@{lower:9}.net", RNG).text
TOKEN = expand("{github_token:ghp}", RNG).text
CARD = expand("{card:mastercard}", RNG).text


@pytest.fixture(scope="module")
def sanitizer() -> Sanitizer:
    return Sanitizer(ner=False, known_values_from_env=False)


def history() -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": f"token {TOKEN}"},
        {"role": "developer", "content": [{"type": "text", "text": f"card {CARD}"}]},
        {"role": "user", "content": [{"type": "text", "text": f"I am {EMAIL}"},
                                     {"type": "image_url", "image_url": {"url": "x"}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "1", "type": "function",
             "function": {"name": "crm", "arguments": json.dumps({"q": {"email": EMAIL}})}},
            {"id": "2", "type": "function",
             "function": {"name": "raw", "arguments": f"not json {TOKEN}"}}]},
        {"role": "tool", "tool_call_id": "1",
         "content": [{"type": "text", "text": f"{OTHER} wrote <EMAIL_ADDRESS_9>"}]},
        {"role": "assistant", "content": "ok",
         "function_call": {"name": "old", "arguments": json.dumps({"to": OTHER})}},
    ]


def test_every_position_is_sanitized(sanitizer: Sanitizer) -> None:
    out = sanitize_messages(sanitizer, history(), "positions")
    dumped = json.dumps(out)
    for value in (EMAIL, OTHER, TOKEN, CARD):
        assert value not in dumped
    assert out[0]["content"] == "token <GITHUB_TOKEN_1>"
    assert out[1]["content"][0]["text"] == "card <CREDIT_CARD_1>"
    assert out[2]["content"][1] == {"type": "image_url", "image_url": {"url": "x"}}
    calls = out[3]["tool_calls"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"q": {"email": "<EMAIL_ADDRESS_1>"}}
    assert calls[1]["function"]["arguments"] == "not json <GITHUB_TOKEN_1>"
    # Tool output is untrusted: a forged placeholder is disarmed, never restorable.
    assert out[4]["content"][0]["text"] == "<EMAIL_ADDRESS_2> wrote <EMAIL_ADDRESS~9>"
    assert json.loads(out[5]["function_call"]["arguments"]) == {"to": "<EMAIL_ADDRESS_2>"}
    assert history()[0]["content"] == f"token {TOKEN}"  # the input is not modified


def test_bad_input_is_refused(sanitizer: Sanitizer) -> None:
    with pytest.raises(InputError):
        sanitize_messages(sanitizer, "hello", "bad")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        sanitize_messages(sanitizer, [42], "bad")  # type: ignore[list-item]


def test_cache_sanitizes_each_message_once(sanitizer: Sanitizer,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    cache = MessageCache(b"k" * 32)
    calls: list[str] = []
    original = sanitizer.sanitize

    def counting(data: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["surface"])
        return original(data, **kwargs)

    monkeypatch.setattr(sanitizer, "sanitize", counting)
    first = sanitize_messages(sanitizer, history(), "cached", cache)
    work = len(calls)
    again = sanitize_messages(sanitizer, [*history(), {"role": "user", "content": "thanks"}],
                              "cached", cache)
    assert len(calls) == work + 1  # only the new message
    assert again[:-1] == first
    assert cache.count("cached") == len(history()) + 1
    # Another session does not share entries; keys and entries hold no plaintext.
    sanitize_messages(sanitizer, history()[:1], "other", cache)
    assert len(calls) == work + 2
    assert TOKEN not in repr(cache._entries) and EMAIL not in repr(cache._entries)


def test_cache_notices_a_forgotten_session(sanitizer: Sanitizer) -> None:
    cache = MessageCache(b"k" * 32)
    mine = [{"role": "user", "content": f"I am {EMAIL}"}]
    assert sanitize_messages(sanitizer, mine, "gone", cache)[0]["content"] == \
        "I am <EMAIL_ADDRESS_1>"
    sanitizer.forget("gone")
    out = sanitize_messages(sanitizer, [{"role": "user", "content": f"I am {OTHER}"}, *mine],
                            "gone", cache)
    assert [m["content"] for m in out] == ["I am <EMAIL_ADDRESS_1>", "I am <EMAIL_ADDRESS_2>"]
    assert sanitizer.restore("<EMAIL_ADDRESS_2>", session="gone") == EMAIL


def test_sibling_fields_keep_one_placeholder_each(sanitizer: Sanitizer) -> None:
    """Two addresses in sibling tool-call arguments are two values: joining the fields
    (split-value detection) must not make the transform replace a span twice."""
    call = {"role": "assistant", "content": None, "tool_calls": [{
        "id": "1", "type": "function", "function": {
            "name": "send_email", "arguments": json.dumps({"to": EMAIL, "cc": OTHER})}}]}
    (out,) = sanitize_messages(sanitizer, [call], "siblings")
    arguments = json.loads(out["tool_calls"][0]["function"]["arguments"])
    assert arguments == {"to": "<EMAIL_ADDRESS_1>", "cc": "<EMAIL_ADDRESS_2>"}
