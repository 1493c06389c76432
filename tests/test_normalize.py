"""Shadow copy and decoding layers: what each view holds and how its offsets map back."""

from __future__ import annotations

import base64
import random
import urllib.parse

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from sanitizer.normalize import View, _printable, shadow, views

NEEDLE = "Needle0SECRETvalue7"
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e", "\u2066",
              "\ufe0f", "\U000e0041", "\U000e0101"]
CYRILLIC = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "c": "\u0441", "E": "\u0415",
            "T": "\u0422", "C": "\u0421"}


def fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def located(text: str, plain: str) -> list[tuple[View, tuple[int, int]]]:
    """Every view holding ``plain``, with the original span its first occurrence maps to."""
    found = []
    for view in views(text):
        index = view.text.find(plain)
        if index >= 0:
            found.append((view, view.to_original(index, index + len(plain))))
    return found


# --------------------------------------------------------------------------- plain text


@pytest.mark.parametrize("text", [
    "",
    "Plain prose, with punctuation; numbers 42 and 3.14 - nothing encoded here.",
    "internationalization and counterrevolutionaries are long words",
    "a_very_long_snake_case_identifier = another_long_identifier_name",
    "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "uuid 123e4567-e89b-12d3-a456-426614174000 at https://example.com/a/b?c=d",
    "AKIAIOSFODNN7EXAMPLE and /usr/local/lib/python3.11/site-packages",
    "100% sure, 50 %OFF",
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "日本語のテキストです。漢字とかなを含みます",
    "Ελληνικά γράμματα και λέξεις",
])
def test_text_without_disguise_has_only_the_original_view(text: str) -> None:
    result = views(text)
    assert len(result) == 1
    assert result[0].text == text
    assert result[0].layer == "original"
    assert result[0].to_original(0, len(text)) == (0, len(text))


def test_ascii_text_has_no_shadow() -> None:
    assert shadow("ordinary ASCII text\twith\ncontrol characters\x00") is None


def test_repr_never_shows_the_text() -> None:
    view = views("x\u200bsecret-value")[1]
    assert "secret" not in repr(view)
    assert "shadow" in repr(view)


# --------------------------------------------------------------------------- shadow


@pytest.mark.parametrize(("disguised", "plain"), [
    (fullwidth("password=Sup3rSecret"), "password=Sup3rSecret"),
    ("pass\u200bword\u200c=\u200dSup3r\u2060Secret\ufeff", "password=Sup3rSecret"),
    ("pass\u00adword=Sup3r\u00adSecret", "password=Sup3rSecret"),
    ("pass\u202eword=Sup3r\u202cSecret", "password=Sup3rSecret"),
    ("\u2066password\u2069=Sup\u20673rSecret", "password=Sup3rSecret"),
    ("pas\ufe0fsword=Sup3r\U000e0101Secret", "password=Sup3rSecret"),
    ("pass\U000e0020word=Sup3rSecret\U000e007f", "password=Sup3rSecret"),
    ("p\u0430ssw\u043erd=Sup3rS\u0435\u0441ret", "password=Sup3rSecret"),  # Cyrillic
    ("\u03a1assword=Sup3rSecret", "Password=Sup3rSecret"),  # Greek Rho
    ("p\u0301a\u0302s\u0303sword=Sup3rSecret", "password=Sup3rSecret"),  # Zalgo marks
    ("card \uff14\uff11\uff11\uff11 \u0661\u0662\u0663\u0664", "card 4111 1234"),  # digits
    ("\U0001d42d\U0001d428\U0001d424\U0001d41e\U0001d427", "token"),  # math bold
    ("\ufb01le=Sup3rSecret", "file=Sup3rSecret"),  # ligature expands
    ("name:\u00a0value\u3000x", "name: value x"),  # NBSP, ideographic space
])
def test_shadow_undoes_unicode_disguises(disguised: str, plain: str) -> None:
    found = located(disguised, plain)
    assert found, f"no view holds the plain text for {disguised!r}"
    view, (start, end) = found[0]
    assert view.layer == "shadow"
    assert 0 <= start < end <= len(disguised)
    again = shadow(disguised[start:end])
    assert again is not None
    assert plain in again[0]  # the mapped span holds everything the plain text came from


def test_pure_cyrillic_words_are_not_folded() -> None:
    text = "Вот текст: ghр_mixed and слово"
    result = shadow(text)
    assert result is not None
    assert result[0] == "Вот текст: ghp_mixed and слово"


def test_lone_surrogates_become_replacement_characters() -> None:
    text = "ab\ud800cd\udfffe"
    result = shadow(text)
    assert result is not None
    folded, _ = result
    assert folded == "ab\ufffdcd\ufffde"
    view = views(text)[1]
    assert view.to_original(2, 3) == (2, 3)
    assert view.to_original(0, len(folded)) == (0, len(text))


def test_expansion_maps_every_output_char_to_its_source() -> None:
    text = "x\ufb03y"  # ffi ligature -> "ffi"
    view = views(text)[1]
    assert view.text == "xffiy"
    assert [view.to_original(i, i + 1) for i in range(5)] == [
        (0, 1), (1, 2), (1, 2), (1, 2), (2, 3)]


def test_removed_characters_are_covered_only_inside_a_span() -> None:
    text = "a\u200bb\u200bc"
    view = views(text)[1]
    assert view.text == "abc"
    assert view.to_original(0, 1) == (0, 1)
    assert view.to_original(1, 2) == (2, 3)
    assert view.to_original(0, 3) == (0, 5)
    assert view.to_original(1, 1) == (2, 2)


_DISGUISES = st.sampled_from(["zero-width", "fullwidth", "cyrillic", "mixed"])
_NOISE = st.text(st.characters(), max_size=40)


def _disguise(needle: str, how: str, rng: random.Random) -> str:
    out = []
    for char in needle:
        if how in ("fullwidth", "mixed") and rng.random() < 0.5:
            char = fullwidth(char)
        elif how in ("cyrillic", "mixed") and char in CYRILLIC and rng.random() < 0.7:
            char = CYRILLIC[char]
        out.append(char)
        if how in ("zero-width", "mixed") and rng.random() < 0.4:
            out.append(rng.choice(ZERO_WIDTH))
    return "".join(out).rstrip("".join(ZERO_WIDTH))


@settings(max_examples=300, deadline=None)
@given(prefix=_NOISE, suffix=_NOISE, how=_DISGUISES, seed=st.integers(0, 2**32))
def test_shadow_maps_a_disguised_needle_back_to_its_exact_span(
        prefix: str, suffix: str, how: str, seed: int) -> None:
    disguised = _disguise(NEEDLE, how, random.Random(seed))
    assume(disguised != NEEDLE)
    text = f"{prefix} {disguised} {suffix}"
    start = len(prefix) + 1
    expected = (start, start + len(disguised))
    found = [span for view, span in located(text, NEEDLE) if view.layer != "original"]
    assert expected in found


@settings(max_examples=300, deadline=None)
@given(text=st.text(st.characters(exclude_categories=[]), max_size=80))  # surrogates too
def test_every_view_maps_into_the_original_monotonically(text: str) -> None:
    for view in views(text):
        spans = [view.to_original(i, i + 1) for i in range(len(view.text))]
        for lo, hi in spans:
            assert 0 <= lo < hi <= len(text)
        assert spans == sorted(spans)
        if view.text:
            assert view.to_original(0, len(view.text))[1] <= len(text)


@settings(max_examples=300, deadline=None)
@given(text=st.text(st.characters(), max_size=80))
def test_shadow_is_idempotent(text: str) -> None:
    once = shadow(text)
    folded = once[0] if once else text
    again = shadow(folded)
    assert again is None or again[0] == folded
    if once is not None:
        assert not any(c in folded for c in ZERO_WIDTH)


# --------------------------------------------------------------------------- decoding


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def pct(text: str) -> str:
    return "".join(f"%{b:02X}" for b in text.encode())


def json_u(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in text)


PLAIN = "password=Sup3rSecret-4711"


@pytest.mark.parametrize(("name", "encode"), [
    ("base64", b64),
    ("base64url", lambda t: base64.urlsafe_b64encode(t.encode()).decode().rstrip("=")),
    ("double base64", lambda t: b64(b64(t))),
    ("hex", lambda t: t.encode().hex()),
    ("0x hex", lambda t: "0x" + t.encode().hex().upper()),
    ("percent", pct),
    ("percent (quote)", lambda t: urllib.parse.quote(t, safe="")),
    ("double percent", lambda t: pct(pct(t))),
    ("json \\u", json_u),
    ("json double escaped", lambda t: json_u(t).replace("\\", "\\\\")),
    ("continuation", lambda t: t[:9] + "\\\n" + t[9:17] + "\\\r\n    " + t[17:]),
    ("base64 of zero-width", lambda t: b64(t[:12] + "\u200b" + t[12:])),
    ("percent of fullwidth", lambda t: pct(fullwidth(t))),
    ("base64 glued to a name", lambda t: "prefix_" + b64(t)),
])
def test_every_encoding_yields_a_view_with_the_plain_text(name: str, encode: object) -> None:
    assert callable(encode)
    encoded = encode(PLAIN)
    assert isinstance(encoded, str)
    text = f'config: {{"value": "{encoded}"}} end'
    found = located(text, PLAIN)
    assert found, f"{name}: no view decodes {text!r}"
    view, span = found[0]
    start = text.index(encoded)
    end = start + len(encoded)
    assert span[0] >= start - 1 and span[1] <= end, (name, span, (start, end))
    assert view.depth >= 1


def test_blob_findings_map_to_the_whole_blob() -> None:
    blob = b64("user token=abc123XYZ and more")
    text = f"before {blob} after"
    view = next(v for v in views(text) if v.layer == "base64")
    index = view.text.index("abc123XYZ")
    assert view.to_original(index, index + 9) == (7, 7 + len(blob))
    after = view.text.index("after")
    assert view.to_original(after, after + 5) == (text.index("after"), len(text))


def test_percent_and_escapes_map_precisely() -> None:
    text = "q=a%20b%C3%A9c&x=\\u0041\\n\\\"z"
    percent = next(v for v in views(text) if v.layer == "percent")
    assert percent.text.startswith("q=a béc&")
    assert percent.to_original(3, 4) == (3, 6)      # " " from %20
    assert percent.to_original(5, 6) == (7, 13)     # "é" from %C3%A9
    assert percent.to_original(6, 7) == (13, 14)    # "c"
    unescaped = next(v for v in views(text) if v.layer == "unescape")
    index = unescaped.text.index('A\n"z')
    assert unescaped.text[index:index + 4] == 'A\n"z'
    assert unescaped.to_original(index, index + 1) == (17, 23)
    assert unescaped.to_original(index + 1, index + 2) == (23, 25)


def test_surrogate_pairs_in_json_escapes_join() -> None:
    text = "emoji \\ud83d\\ude00 and lone \\ud800 end"
    view = next(v for v in views(text) if v.layer.startswith("unescape"))
    assert "\U0001f600" in view.text
    assert "\ufffd" in view.text  # the lone surrogate, replaced by the shadow
    index = view.text.index("\U0001f600")
    assert view.to_original(index, index + 1) == (6, 18)


def test_long_text_keeps_windows_around_decoded_spots() -> None:
    filler = "lorem ipsum dolor sit amet " * 400
    blob = b64("api_key=Sup3rSecret-4711-XYZ")
    text = filler + blob + filler + "x=%41%42%43 " + filler
    derived = views(text)[1:]
    assert {v.layer for v in derived} == {"base64", "percent"}
    for view in derived:
        assert len(view.text) < 600
    decoded = next(v for v in derived if v.layer == "base64")
    index = decoded.text.index("api_key")
    start = text.index(blob)
    assert decoded.to_original(index, index + 7) == (start, start + len(blob))
    lo, hi = decoded.to_original(0, 5)
    assert (hi - lo, text[lo:hi]) == (5, decoded.text[:5])  # context maps one for one
    assert start - 164 <= lo <= start - 100 and text[lo - 1] == " "  # cut at a space
    percent = next(v for v in derived if v.layer == "percent")
    index = percent.text.index("ABC")
    start = text.index("%41")
    assert percent.to_original(index, index + 3) == (start, start + 9)


def test_tag_characters_spelling_ascii_are_decoded() -> None:
    hidden = "".join(chr(0xE0000 + ord(c)) for c in PLAIN)
    text = f"look here{hidden} nothing to see"
    found = located(text, PLAIN)
    assert found
    view, span = found[0]
    assert view.layer.startswith("tags")
    assert span == (9, 9 + len(hidden))


# --------------------------------------------------------------------------- limits


def nest(text: str, times: int) -> str:
    for _ in range(times):
        text = b64(text)
    return text


def test_depth_limit_holds() -> None:
    text = "x " + nest(PLAIN, 3) + " y"
    assert located(text, PLAIN)
    assert not any(PLAIN in v.text for v in views(text, max_depth=2))
    assert max(v.depth for v in views(text, max_depth=2)) == 2
    assert not any(PLAIN in v.text for v in views("x " + nest(PLAIN, 4) + " y"))


def test_view_count_limit_holds() -> None:
    parts = [nest(PLAIN, 2), pct(PLAIN), json_u(json_u(PLAIN)), PLAIN.encode().hex()]
    text = " | ".join(parts) + " \u200b"
    assert len(views(text)) > 3
    assert len(views(text, max_views=2)) == 3
    assert len(views(text, max_views=0)) == 1


def test_blob_count_limit_holds() -> None:
    blobs = [b64(f"secret number {i:02d} is here") for i in range(10)]
    text = " ".join(blobs)
    decoded = views(text, max_blobs=3)[1]
    assert decoded.text.count("secret number") == 3
    assert views(text)[1].text.count("secret number") == 10


def test_size_limit_holds() -> None:
    text = "x " + nest(PLAIN * 20, 2) + " \u200b"
    assert len(views(text)) == 4
    limited = views(text, max_total_chars=len(text))
    assert sum(len(v.text) for v in limited[1:]) <= len(text)
    assert len(views(text, max_total_chars=10)) == 1


def test_expanding_characters_are_bounded() -> None:
    text = "\ufdfa" * 1000  # NFKC makes 18 characters of each
    assert all(len(v.text) <= 8 * len(text) for v in views(text))


def test_adversarial_input_stays_bounded() -> None:
    for text in ("\\" * 5000, "%41" * 3000, "A" * 20000, "\\u0041" * 2000, "\u200b" * 5000):
        result = views(text)
        assert len(result) <= 17
        assert sum(len(v.text) for v in result) <= 5 * len(text) + (64 << 10)


# --------------------------------------------------------------------------- no false views


def test_random_base64_of_random_bytes_yields_no_view() -> None:
    rng = random.Random(1234)
    for _ in range(500):
        data = rng.randbytes(rng.randint(12, 300))
        for encoded in (base64.b64encode(data).decode(),
                        base64.urlsafe_b64encode(data).decode().rstrip("="),
                        data.hex()):
            assert len(views(f"blob {encoded} end")) == 1, encoded


@settings(max_examples=200, deadline=None)
@given(data=st.binary(min_size=12, max_size=200))
def test_hypothesis_random_base64_yields_no_view(data: bytes) -> None:
    assume(_printable(data) is None)  # real text may decode, of course
    assert len(views(base64.b64encode(data).decode())) == 1


# --------------------------------------------------------------------------- joined pieces

TOKEN_A, TOKEN_B = "ghp_AbCdEfGh12IjKl", "MnOpQr34StUvWxYz56"


def joined(text: str) -> View:
    found = [v for v in views(text) if v.layer.endswith("join")]
    assert len(found) == 1, [v.layer for v in views(text)]
    return found[0]


@pytest.mark.parametrize("text", [
    f'{{"a": "{TOKEN_A}", "b": "{TOKEN_B}"}}',
    f'["{TOKEN_A}",\n  "{TOKEN_B}"]',
    f"key = '{TOKEN_A}' + '{TOKEN_B}'",
    f"token {TOKEN_A}\n{TOKEN_B}\nthanks",
    f"token {TOKEN_A}\n        {TOKEN_B}",
])
def test_split_values_are_joined_and_map_back_piece_by_piece(text: str) -> None:
    view = joined(text)
    index = view.text.index(TOKEN_A + TOKEN_B)
    spans = view.original_spans(index, index + len(TOKEN_A) + len(TOKEN_B))
    assert [text[a:b] for a, b in spans] == [TOKEN_A, TOKEN_B]
    assert view.to_original(index, index + len(TOKEN_A)) == spans[0]  # no gap crossed


@pytest.mark.parametrize("text", [
    "The deployment\nfinished\nsuccessfully",                  # words on their own lines
    '{"user": "octocat", "repo": "hello-world"}',            # plain words
    '["alpha", "beta", "gamma"]',
    f"token {TOKEN_A}\nthanks for the help",                  # next line is prose
    f'{{"user": "octocat", "k": "{TOKEN_A}"}}',               # a word is never glued on
])
def test_ordinary_text_is_not_joined(text: str) -> None:
    assert not any(v.layer.endswith("join") for v in views(text))


def test_joined_view_of_a_joined_base64_blob_maps_to_its_pieces() -> None:
    blob = b64("password=Sup3rSecret-4711 and more text to make it long")
    first, second = blob[:32], blob[32:]
    text = f"attachment:\n{first}\n{second}\nend"
    found = located(text, PLAIN)
    assert found, [v.layer for v in views(text)]
    view, _ = found[0]
    index = view.text.index(PLAIN)
    assert [text[a:b] for a, b in view.original_spans(index, index + len(PLAIN))] == \
        [first, second]


def test_fragments_of_sibling_strings() -> None:
    from sanitizer.normalize import fragments

    assert fragments(["octocat", TOKEN_A, TOKEN_B, "x"]) == [(1, 3)]
    assert fragments(["AKIAOETC4M6246", "ANXVOE"]) == [(0, 2)]  # upper-case piece
    assert fragments(["glpat", "-ta6RrkEUiNsMIb4J"]) == [(0, 2)]  # cut before a separator
    assert fragments(["ann.lee", "@corp.example"]) == [(0, 2)]
    assert fragments(["alpha", "beta", "gamma"]) == []
    assert fragments([TOKEN_A]) == [] and fragments([]) == []
    assert fragments([TOKEN_A, "a b c d", TOKEN_B]) == []  # white space: not a piece


# --------------------------------------------------------------------------- chunks, etc.

def test_chunk_edges_move_out_to_white_space() -> None:
    from sanitizer.normalize import chunks

    text = ("word " * 2000).strip()
    for start, end in chunks(text, 1000, 100):
        assert start == 0 or text[start - 1] == " "
        assert end == len(text) or text[end] == " "
    assert chunks("x" * 10, 1000, 100) == [(0, 10)]
    with pytest.raises(ValueError, match="overlap"):
        chunks("x" * 3000, 1000, 600)


def test_scannable_keeps_offsets() -> None:
    from sanitizer.normalize import scannable

    text = "a\ud800b\udfffc"
    assert scannable(text) == "a\ufffdb\ufffdc"
    plain = "no surrogates here"
    assert scannable(plain) is plain


@pytest.mark.parametrize("shift", [1, 2, 3])
def test_a_piece_cut_out_of_a_long_blob_still_decodes(shift: int) -> None:
    inner = ("filler text " * 40) + PLAIN + (" more filler" * 40)
    blob = b64(inner)
    piece = blob[shift:len(blob) - 2]  # as a chunk edge would cut it
    assert located(f"x {piece} y", PLAIN)
    hexed = inner.encode().hex()[1:]  # odd length: a hex piece cut mid-byte
    assert located(f"x {hexed} y", PLAIN)


def test_short_padded_base64_decodes() -> None:
    assert located(f"ssn {b64('123-45-6789')} end", "123-45-6789")
    assert len(views("see dGVzdGluZw== now")) == 1  # "testing": too short to matter


def test_dense_edits_in_long_text_stay_cheap() -> None:
    """Windows are merged once per window, not per edit: 100,000 escapes in one pass."""
    text = "\\u0041" * 100_000
    result = views(text)
    assert any(v.text.startswith("A" * 1000) for v in result)


_SCANNED_ALPHABET = [*"aZ09+/=_-.@\"':,{}[] \t\n\r", "AKIA", "ghp_", "==", "\n  ", '", "',
                     "\u00e9", "abcdEFGH1234", "YWJjZGVmZ2g", "Zm9v", "\r\n", "\n\t",
                     '"ab12CD34"', "'AKIA99'", " + ", '"key": ']


@settings(max_examples=1500, deadline=None)
@example("abcdEFGH1234\r\nabcdEFGH1234\r\n")
@example("'AA99'\"aD34\"\n\n:")
@example("H1234\nhp_a_\n\np_=Z-\nvabcdEFGH1234Z99\"")
@given(st.lists(st.sampled_from(_SCANNED_ALPHABET), max_size=400).map("".join))
def test_prescans_find_every_match_a_full_regex_scan_finds(text: str) -> None:
    """The blob and join patterns are only run where a Hyperscan prescan matched: never
    a match fewer (or other) than running them over the whole text."""
    from sanitizer import normalize as n

    def spans(matches: object) -> list[tuple[int, int]]:
        return [m.span() for m in matches]  # type: ignore[attr-defined]

    assert spans(n._blob_matches(text)) == spans(n._BLOB.finditer(text))
    line, pair = n._join_scans()
    assert spans(n._matches_near(n._LINE_JOIN, line, text)) == spans(n._LINE_JOIN.finditer(text))
    assert spans(n._matches_near(n._QUOTED_PAIR, pair, text)) == spans(
        n._QUOTED_PAIR.finditer(text))
    if n._LINE_JOIN.search(text) or n._QUOTED_PAIR.search(text):
        assert n._may_join(text)


def test_an_assignment_on_the_next_line_is_not_a_piece_of_the_token_before() -> None:
    from sanitizer.normalize import _joinable

    assert not _joinable("u8jzPde0IgxLd6", "API_KEY=sk-GncfBAepfJBd0Kh8")
    assert _joinable("QUtJQVhZWjEy", "MzQ1Njc4OTA=")  # base64 padding ends a piece
    assert _joinable("GITHUB_TOKEN=ghp_Ab12", "Cd34Ef56")  # the value of an assignment
