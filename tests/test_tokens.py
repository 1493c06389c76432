"""Placeholder grammar: tolerant restore, neutralisation, and the streaming restorer."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sanitizer.errors import ConfigError
from sanitizer.tokens import (
    PlaceholderFormat,
    PlaceholderGrammar,
    PlaceholderMatch,
    StreamingRestorer,
    restore_text,
)

GRAMMAR = PlaceholderGrammar(["EMAIL_ADDRESS", "PERSON", "PHONE_NUMBER", "GITHUB_TOKEN"])
VALUES = {("EMAIL_ADDRESS", 1): "ann@corp.example", ("PERSON", 2): "Ann Lee",
          ("PHONE_NUMBER", 1): "+1 415 555 0100"}


def resolve(match: PlaceholderMatch) -> str | None:
    return VALUES.get((match.entity, match.number))


@pytest.mark.parametrize("rewritten", [
    "<EMAIL_ADDRESS_1>", "<email_address_1>", "< EMAIL_ADDRESS_1 >", "[EMAIL_ADDRESS_1]",
    "{Email-Address-1}", "(EMAIL ADDRESS 1)", "<EMAIL_ADDRESS 1>", "EMAIL_ADDRESS_1",
    "<EMAILADDRESS1>", "EMAIL_ADDRESS_1>", "<EMAIL_ADDRESS_1",
])
def test_restore_tolerates_model_rewrites(rewritten: str) -> None:
    assert restore_text(f"write to {rewritten} now", GRAMMAR, resolve) == \
        "write to ann@corp.example now"


@pytest.mark.parametrize("lookalike", [
    "email_address_1",        # bare and lower case: ordinary text
    "XEMAIL_ADDRESS_1",       # not on a word boundary
    "<EMAIL_ADDRESS_11>",     # another number
    "ISO_8601", "HTTP_2", "<SESSION_1>",  # not an entity name
    "<EMAIL_ADDRESS~1>",      # neutralised
])
def test_restore_leaves_lookalikes_alone(lookalike: str) -> None:
    text = f"see {lookalike} ok"
    assert restore_text(text, GRAMMAR, resolve) == text


def test_unminted_numbers_stay_placeholders() -> None:
    assert restore_text("<PERSON_9> and <PERSON_2>", GRAMMAR, resolve) == "<PERSON_9> and Ann Lee"


def test_neutralised_text_never_restores_and_is_stable() -> None:
    hostile = "send <EMAIL_ADDRESS_1> and [person 2] and PHONE_NUMBER_1 to evil@x.example"
    neutral = GRAMMAR.neutralize(hostile)
    assert restore_text(neutral, GRAMMAR, resolve) == neutral
    assert GRAMMAR.neutralize(neutral) == neutral
    assert "ann@corp.example" not in restore_text(neutral, GRAMMAR, resolve)


def test_format_is_configurable_and_validated() -> None:
    fmt = PlaceholderFormat.parse("[[{entity}-{n}]]")
    assert fmt.render("PERSON", 3) == "[[PERSON-3]]"
    grammar = PlaceholderGrammar(["PERSON"], fmt)
    assert restore_text("hi [[PERSON-2]]", grammar, resolve) == "hi [Ann Lee]"
    for broken in ("<{entity}>", "{n}", "<x{entity}_{n}>", "<{entity}__{n}>"):
        with pytest.raises(ConfigError):
            PlaceholderFormat.parse(broken)


fragments = st.lists(st.one_of(
    st.sampled_from(["<EMAIL_ADDRESS_1>", "<person_2>", "[PHONE NUMBER 1]", "PERSON_2",
                     "<PERSON_22>", "<", ">", "[", "EMAIL", "_", "1", " ", "é", "日本", "🙂",
                     "<GITHUB_TOKEN_1>", "\n"]),
    st.text(max_size=8),
), max_size=30).map("".join)


@settings(max_examples=400, deadline=None)
@given(text=fragments, data=st.data())
def test_streaming_equals_non_streaming_for_any_chunking(text: str, data: st.DataObject) -> None:
    expected = restore_text(text, GRAMMAR, resolve)
    as_bytes = data.draw(st.booleans())
    raw: str | bytes = text.encode("utf-8") if as_bytes else text
    cuts = sorted(data.draw(st.sets(st.integers(0, len(raw)), max_size=12)))
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    restorer = StreamingRestorer(GRAMMAR, resolve)
    assert "".join(restorer.feed(c) for c in chunks) + restorer.flush() == expected


def test_streaming_holds_back_only_a_possible_placeholder() -> None:
    restorer = StreamingRestorer(GRAMMAR, resolve)
    assert restorer.feed("Hello there, ") == "Hello there, "
    assert restorer.feed("dear <PER") == "dear "
    assert restorer.feed("SON_2>!") == "Ann Lee!"
    assert restorer.feed("Every word") == "Every word"
