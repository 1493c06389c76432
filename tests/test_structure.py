"""The structure detector finds values under secret-naming keys, whatever their shape."""

from __future__ import annotations

import json
import random
import string

import pytest

from sanitizer.detect import Detector
from sanitizer.detect.structure import StructureDetector, secret_key_name

DETECTOR = StructureDetector()
RNG = random.Random("test_structure")


def secret(length: int = 16) -> str:
    return "".join(RNG.choice(string.ascii_letters + string.digits) for _ in range(length))


def found(text: str) -> list[str]:
    return [text[f.start:f.end] for f in DETECTOR.detect(text)]


def test_is_a_detector() -> None:
    assert isinstance(DETECTOR, Detector)
    assert DETECTOR.name == "structure"


@pytest.mark.parametrize(("key", "entity"), [
    ("password", "PASSWORD"), ("DB_PASSWORD", "PASSWORD"), ("passwd", "PASSWORD"),
    ("smtpPass", "PASSWORD"), ("client_secret", "SECRET"), ("clientSecret", "SECRET"),
    ("api_key", "API_KEY"), ("X-API-KEY", "API_KEY"), ("apikey", "API_KEY"),
    ("aws_secret_access_key", "API_KEY"), ("access_token", "AUTH_TOKEN"),
    ("refreshToken", "AUTH_TOKEN"), ("Authorization", "AUTH_TOKEN"),
    ("private_key", "PRIVATE_KEY"), ("credentials", "SECRET"), ("session_id", "SESSION_ID"),
    ("JSESSIONID", "SESSION_ID"), ("Cookie", "SESSION_COOKIE"), ("pin", "PIN"),
    ("cvv", "CARD_CVV"), ("otp_code", "OTP"), ("x-hub-signature", "SIGNATURE"),
    ("password_hash", "PASSWORD"), ("githubtoken", "AUTH_TOKEN"),
    ("SECRET_KEY_BASE", "SECRET"),
])
def test_secret_key_names(key: str, entity: str) -> None:
    assert secret_key_name(key) == entity


@pytest.mark.parametrize("key", [
    "max_tokens", "token_count", "token_usage", "input_tokens", "tokenizer", "public_key",
    "author", "authors", "password_hint", "password_policy", "secret_santa_name",
    "access_key_id", "client_id", "user_id", "token_url", "auth_type", "page_token",
    "nextPageToken", "signature_version", "zip_code", "key", "session", "PWD", "keyboard",
    "bypass", "passthrough", "api_base", "OPENAI_API_BASE", "",
])
def test_benign_key_names(key: str) -> None:
    assert secret_key_name(key) is None


def test_nested_json_with_escaped_quotes_and_numbers() -> None:
    password = 'correct "horse" battery'
    escaped = password.replace('"', '\\"')
    text = ('{"user": {"name": "bob", "auth": {"password": "' + escaped + '", "pin": 4821}},'
            ' "max_tokens": 4096, "token_count": 12, "public_key": "ssh-ed25519 AAAA",'
            ' "author": "Ann"}')
    assert found(text) == [escaped, "4821"]
    finding = DETECTOR.detect(text)[0]
    assert (finding.entity, finding.category, finding.rule_id, finding.score) == (
        "PASSWORD", "secret", "structure-json-secret-key", 0.85)


def test_json_string_inside_a_json_string() -> None:
    value = secret()
    text = ('{"tool_calls": [{"function": {"name": "login", "arguments": '
            '"{\\"username\\": \\"bob\\", \\"password\\": \\"' + value + '\\"}"}}]}')
    assert found(text) == [value]


def test_python_repr_with_single_quotes() -> None:
    value = secret()
    assert found("{'api_key': '" + value + "', 'model': 'gpt'}") == [value]


def test_json_placeholders_are_not_flagged() -> None:
    text = ('{"password": "", "token": null, "secret": "${SECRET}", "api_key": "<your key>",'
            ' "auth": true, "client_secret": "********"}')
    assert found(text) == []


def test_fill_ins_and_names_of_secrets_are_not_flagged() -> None:
    text = ("data:\n  - secretKey: api-key\n    remoteRef:\n      key: prod/db\n"
            "  - secretKey: db_password\n  - secretKey: foo\n"
            "password: correct-horse-battery\npassword: password1\n"
            "DB_PASSWORD=rootpasswd\nSUMO_ACCESS_KEY: AbCeFG123\ntoken: abc123\n"
            "DB_PASSWORD=SuperSecret\nSUMO_ACCESS_KEY: AbCeFG1234x\ntoken: abd123\n")
    assert found(text) == ["correct-horse-battery", "password1", "SuperSecret",
                           "AbCeFG1234x", "abd123"]


def test_yaml_values_of_any_shape() -> None:
    short_pin, spaced = "0420", "my pass phrase"
    text = (f"database:\n  user: app\n  password: {spaced}\n  pin: '{short_pin}'\n"
            "  max_tokens: 100\n  token: ${TOKEN}\n  secret: |\n    block\n")
    assert found(text) == [spaced, short_pin]


def test_env_and_ini_lines() -> None:
    a, b = secret(), secret(6)
    text = (f"export STRIPE_SECRET_KEY={a}\nDB_PASS = \"{b} x\"  # quoted\nPWD=/home/me\n"
            "HOME=/root\npassword = self.password\npassword: Optional[str] = None\n")
    assert found(text) == [a, f"{b} x"]


def test_http_headers_strip_the_scheme_and_pick_session_cookies() -> None:
    token, session, api = secret(32), secret(24), secret(20)
    text = (f"GET /me HTTP/1.1\r\nHost: example.com\r\nAuthorization: Bearer {token}\r\n"
            f"Cookie: theme=dark; sessionid={session}\r\nX-Api-Key: {api}\r\n"
            "Content-Type: application/json\r\n")
    assert found(text) == [token, session, api]


def test_set_cookie_reports_only_the_cookie_value() -> None:
    value = secret(26)
    assert found(f"Set-Cookie: PHPSESSID={value}; Path=/; HttpOnly") == [value]


def test_quoted_header_argument_in_a_curl_command() -> None:
    value = secret(32)
    text = f"curl -H 'Content-Type: text/plain' -H 'X-Auth-Token: {value}' https://x.test"
    assert found(text) == [value]


def test_query_strings_and_connection_strings() -> None:
    token, sig, password = secret(), secret(43), secret(10)
    url = f"https://api.test/v1?q=cats&page_token=abc&access_token={token}&sig={sig}#top"
    assert found(url) == [token, sig]
    dsn = f"host=db.internal port=5432 user=app password={password} dbname=shop"
    assert found(dsn) == [password]


def test_findings_hold_no_text() -> None:
    value = secret()
    for finding in DETECTOR.detect(f'{{"password": "{value}"}}'):
        assert value not in repr(finding)


def test_long_adversarial_input_is_handled() -> None:
    text = ('"a\\"b", ' * 20000 + "'\\'" * 20000 + '"password": "x1"' + "a=" * 20000
            + ":" * 20000 + "\n".join(["k:"] * 20000))
    assert "x1" in found(text)


def test_every_secret_naming_key_holds_a_prescan_trigger() -> None:
    """Lines without a trigger word are never read, so no accepted key may lack one."""
    from sanitizer.detect import structure as s

    words = sorted({*s._PASSWORD, *s._HEADS, *s._COMPOUNDS, *s._KEY_QUALIFIERS,
                    *s._CODE_QUALIFIERS, *(w for w, _ in s._COMPOUND_SUFFIXES),
                    *s._VALUE_WORDS, "key", "id", "code", "phrase", "seed", "sid", "my",
                    "db", "x", "auth0", "user"})
    rng = random.Random(5)
    keys = [*words, *(f"{a}_{b}" for a in words for b in words)]
    keys += ["".join(w.capitalize() for w in rng.sample(words, rng.randint(1, 4)))
             for _ in range(20_000)]
    accepted = [k for k in keys if secret_key_name(k) is not None]
    assert len(accepted) > 5_000
    missing = [k for k in accepted if not any(t in k.lower() for t in s.KEY_TRIGGERS)]
    assert missing == []


def test_only_lines_naming_a_secret_are_read_but_json_values_may_follow_on_the_next() -> None:
    value, other = secret(), secret()
    text = ("note: nothing here\n" * 50 + '{"client_secret":\n  "' + value + '",\n'
            + '"name": "' + other + '"}\n' + "done = true\n" * 50)
    assert found(text) == [value]


def test_values_end_at_an_escaped_line_break_or_quote() -> None:
    """A line shown with its escapes (a tool's stdout inside JSON): the value ends at the
    escape; the engine's unescaped view then finds the next line's value on its own."""
    from sanitizer import Sanitizer

    a, b = secret(), secret()
    assert found("DB_PASSWORD=" + a + "\\nAPI_KEY=" + b + "\\n") == [a]
    text = json.dumps({"content": json.dumps({"stdout": f"DB_PASSWORD={a}\nAPI_KEY={b}\n"})})
    findings = Sanitizer(ner=False).detect(text)
    assert sorted(text[f.start:f.end] for f in findings) == sorted([a, b])


def test_reading_only_the_lines_naming_a_secret_finds_what_a_whole_read_does() -> None:
    """The prescan skips lines without a key word: never a finding (headers, JSON keys
    with their value on the next line, escaped lines, quotes across lines)."""
    pieces = [*"aZ09=:\"' \t\n\r{},;&?-_", "password", "token", "api_key", "PIN", "secret",
              "Authorization: Bearer ", "Cookie: ", "sid=", "x-api-key", "\\n", '\\"',
              "abc123XYZ", "DB_PASS", "export ", "- ", '{"', '": "', "\n  ", '":\n  "',
              '"password":\n  "']
    rng = random.Random(3)
    for _ in range(1500):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 120)))
        found = sorted((f.start, f.end) for f in DETECTOR.detect(text))
        assert found == sorted(DETECTOR._values(text)), text
