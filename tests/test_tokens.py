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
    assert restore_text("hi [[PERSON-2]]", grammar, resolve) == "hi Ann Lee"  # whole brackets
    assert restore_text("hi [person 2] and PERSON-2.", grammar, resolve) == \
        "hi Ann Lee and Ann Lee."
    for broken in ("<{entity}>", "{n}", "<x{entity}_{n}>", "<{entity}__{n}>",
                   "<{n}_{entity}>", "<{entity}~{n}>", "<{entity}#{n}>", "<<<<<{entity}_{n}>",
                   "<{entity}\n{n}>"):
        with pytest.raises(ConfigError):
            PlaceholderFormat.parse(broken)


@pytest.mark.parametrize("template", ["<{entity}_{n}>", "[[{entity}-{n}]]", "{{{entity}.{n}}}",
                                      "{entity}_{n}", "<{entity}:{n}>", "%{entity}{n}%"])
def test_every_valid_format_round_trips_and_neutralises(template: str) -> None:
    fmt = PlaceholderFormat.parse(template)
    grammar = PlaceholderGrammar(["EMAIL_ADDRESS", "PERSON"], fmt)
    text = f"to {fmt.render('EMAIL_ADDRESS', 1)}, from {fmt.render('PERSON', 2)}."
    assert restore_text(text, grammar, resolve) == "to ann@corp.example, from Ann Lee."
    neutral = grammar.neutralize(text)
    assert neutral != text and restore_text(neutral, grammar, resolve) == neutral
    assert grammar.neutralize(neutral) == neutral


def test_neutralize_spares_what_keep_vouches_for() -> None:
    text = "<EMAIL_ADDRESS_1> <PERSON_2> [person 7] PHONE_NUMBER_1"
    mine = {("EMAIL_ADDRESS", 1), ("PERSON", 2)}
    kept = GRAMMAR.neutralize(text, lambda m: (m.entity, m.number) in mine)
    assert kept == "<EMAIL_ADDRESS_1> <PERSON_2> [person~7] PHONE_NUMBER~1"
    assert GRAMMAR.neutralize(kept, lambda m: (m.entity, m.number) in mine) == kept


fragments = st.lists(st.one_of(
    st.sampled_from(["<EMAIL_ADDRESS_1>", "<person_2>", "[PHONE NUMBER 1]", "PERSON_2",
                     "<PERSON_22>", "<", ">", "[", "EMAIL", "_", "1", " ", "é", "日本", "🙂",
                     "<GITHUB_TOKEN_1>", "\n"]),
    st.text(max_size=8),
), max_size=30).map("".join)


FORMATS = {t: PlaceholderGrammar(["EMAIL_ADDRESS", "PERSON", "PHONE_NUMBER", "GITHUB_TOKEN"],
                                  PlaceholderFormat.parse(t))
           for t in ("<{entity}_{n}>", "[[{entity}-{n}]]", "{entity}.{n}", "%{entity}{n}%")}


def _chunked(raw: str | bytes, cuts: list[int]) -> list[str | bytes]:
    return [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]


@settings(max_examples=600, deadline=None)
@given(text=fragments, data=st.data())
def test_streaming_equals_non_streaming_for_any_chunking(text: str, data: st.DataObject) -> None:
    grammar = FORMATS[data.draw(st.sampled_from(sorted(FORMATS)))]
    for fmt_text in ("[[PERSON-2]]", "EMAIL_ADDRESS.1", "[[", "]]", "%PERSON2%", "%"):
        if data.draw(st.booleans()):
            text = fmt_text + text
    expected = restore_text(text, grammar, resolve)
    as_bytes = data.draw(st.booleans())
    raw: str | bytes = text.encode("utf-8") if as_bytes else text
    cuts = sorted(data.draw(st.sets(st.integers(0, len(raw)), max_size=12)))
    restorer = StreamingRestorer(grammar, resolve)
    out = "".join(restorer.feed(c) for c in _chunked(raw, cuts)) + restorer.flush()
    assert out == expected


@settings(max_examples=200, deadline=None)
@given(text=fragments)
def test_streaming_one_character_or_byte_at_a_time(text: str) -> None:
    expected = restore_text(text, GRAMMAR, resolve)
    for raw in (text, text.encode("utf-8")):
        restorer = StreamingRestorer(GRAMMAR, resolve)
        pieces = [raw[i:i + 1] for i in range(len(raw))]
        assert "".join(restorer.feed(p) for p in pieces) + restorer.flush() == expected


def test_streaming_holds_back_only_a_possible_placeholder() -> None:
    restorer = StreamingRestorer(GRAMMAR, resolve)
    assert restorer.feed("Hello there, ") == "Hello there, "
    assert restorer.feed("dear <PER") == "dear "
    assert restorer.feed("SON_2>!") == "Ann Lee!"
    assert restorer.feed("Every word") == "Every word"
    assert restorer.feed(" <PERSON_2") == " "  # could still get more digits or a bracket
    assert restorer.feed("> ") == "Ann Lee "
    assert restorer.feed("🙂".encode()[:2]) == ""  # half a character waits
    assert restorer.feed("🙂".encode()[2:]) == "🙂"
    assert restorer.flush() == ""


def test_the_full_catalog_grammar_streams_without_regex_fallback(
        capfd: pytest.CaptureFixture[str]) -> None:
    """The held-back-prefix check stays small enough for RE2's DFA: no fallback warnings on
    stderr (they are printed per call, by the C++ library), and the same output."""
    from sanitizer.engine import Sanitizer

    names = sorted(Sanitizer(ner=False, known_values_from_env=False).entity_categories)
    grammar = PlaceholderGrammar(names)
    text = " ".join(f"<{name}_{i % 7 + 1}> and {name.lower()} text"
                    for i, name in enumerate(names * 2))

    def reveal(match: PlaceholderMatch) -> str:
        return f"[{match.entity.lower()}#{match.number}]"

    restorer = StreamingRestorer(grammar, reveal)
    out = "".join(restorer.feed(text[i:i + 5]) for i in range(0, len(text), 5))
    assert out + restorer.flush() == restore_text(text, grammar, reveal)
    assert "DFA out of memory" not in capfd.readouterr().err
