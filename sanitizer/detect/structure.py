"""The structure detector: values under secret-naming keys, whatever their shape.

A rule needs a value to *look* like a secret; here the key says it is one, so a password
with spaces, a four-digit PIN or a number under ``"cvv"`` is found too. The detector reads
the shapes agents exchange, each with one linear pass and no parsing library:

* JSON text (also Python reprs with single quotes, and JSON escaped inside a JSON string,
  as in tool-call ``arguments``): ``"key": "value"`` / ``"key": 123`` at any depth;
* lines ``key: value`` (YAML, HTTP headers) and ``KEY=value`` (env files, INI, TOML,
  ``export``), quoted or not;
* inline ``key=value`` pairs: query strings, libpq / ADO.NET connection strings,
  ``-H 'X-Api-Key: …'`` header arguments.

Which keys name a secret is decided by :func:`secret_key_name` on the key's *words*
(``clientSecret`` → client, secret; ``X-API-KEY`` → x, api, key). The last word (the head
noun) decides: ``db_password`` and ``aws_secret_access_key`` are secrets,
``password_hint``, ``token_count``, ``token_usage``, ``secret_santa_name`` and
``access_key_id`` are not (their head is hint / count / usage / name / id). Plurals are not
heads (``max_tokens``, ``input_tokens``), nor are compounds such as ``tokenizer`` or
``author``. A qualifier can veto: ``public_key``, ``page_token``, ``next_token``. ``key``
alone, ``session`` alone and the shell's ``PWD`` are too generic to count.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from functools import lru_cache

from ..findings import Finding
from .prescan import Prescan, line_spans

SCORE = 0.85
MAX_KEY = 100
MAX_VALUE = 8192

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")

_PASSWORD = frozenset({"password", "passwd", "pwd", "pass", "passphrase", "passcode", "pswd",
                       "pw", "passwort"})
_KEY_QUALIFIERS = {
    "api": "API_KEY", "app": "API_KEY", "application": "API_KEY", "access": "API_KEY",
    "subscription": "API_KEY", "consumer": "API_KEY", "account": "API_KEY",
    "storage": "API_KEY", "license": "SECRET", "secret": "SECRET", "private": "PRIVATE_KEY",
    "priv": "PRIVATE_KEY", "ssh": "PRIVATE_KEY", "gpg": "PRIVATE_KEY", "pgp": "PRIVATE_KEY",
    "signing": "SECRET", "encryption": "SECRET", "decryption": "SECRET", "master": "SECRET",
    "client": "SECRET", "auth": "SECRET", "session": "SECRET", "shared": "SECRET",
    "webhook": "SECRET", "hmac": "SECRET", "aes": "SECRET", "crypto": "SECRET",
    "service": "SECRET", "sas": "SECRET", "functions": "API_KEY", "function": "API_KEY",
}
_CODE_QUALIFIERS = {
    "pin": "PIN", "otp": "OTP", "mfa": "OTP", "totp": "OTP", "verification": "OTP",
    "security": "OTP", "recovery": "SECRET", "backup": "SECRET", "auth": "SECRET",
    "authorization": "SECRET", "access": "SECRET",
}
_HEADS = {
    "secret": "SECRET", "secrets": "SECRET", "token": "AUTH_TOKEN", "auth": "AUTH_TOKEN",
    "authorization": "AUTH_TOKEN", "bearer": "AUTH_TOKEN", "jwt": "JWT",
    "credential": "SECRET", "credentials": "SECRET", "creds": "SECRET", "cred": "SECRET",
    "cookie": "SESSION_COOKIE", "cookies": "SESSION_COOKIE", "pin": "PIN", "pincode": "PIN",
    "cvv": "CARD_CVV", "cvc": "CARD_CVV", "cvv2": "CARD_CVV", "cvc2": "CARD_CVV",
    "csc": "CARD_CVV", "otp": "OTP", "totp": "OTP", "hotp": "OTP", "signature": "SIGNATURE",
    "sig": "SIGNATURE", "mnemonic": "SECRET", "hmac": "SECRET",
}
# Whole keys written as one word: ``apikey``, ``JSESSIONID``, ``authtoken``.
_COMPOUNDS = {
    "apikey": "API_KEY", "accesskey": "API_KEY", "secretkey": "SECRET",
    "privatekey": "PRIVATE_KEY", "privkey": "PRIVATE_KEY", "clientsecret": "SECRET",
    "sessionid": "SESSION_ID", "sessid": "SESSION_ID", "jsessionid": "SESSION_ID",
    "phpsessid": "SESSION_ID", "aspsessionid": "SESSION_ID", "sid": "SESSION_ID",
    "sessiontoken": "AUTH_TOKEN", "sessionkey": "SECRET", "seedphrase": "SECRET",
}
_COMPOUND_SUFFIXES = (
    ("password", "PASSWORD"), ("passwd", "PASSWORD"), ("passphrase", "PASSWORD"),
    ("secret", "SECRET"), ("token", "AUTH_TOKEN"), ("apikey", "API_KEY"),
    ("accesskey", "API_KEY"), ("secretkey", "SECRET"), ("privatekey", "PRIVATE_KEY"),
    ("sessionid", "SESSION_ID"), ("credentials", "SECRET"),
)
# Trailing words that describe the encoding of the value, not what it is.
_VALUE_WORDS = frozenset({"value", "val", "data", "b64", "base64", "hex", "str", "string",
                          "enc", "encrypted", "raw", "plain", "plaintext", "hash", "hashed",
                          "base"})  # base: Rails' secret_key_base
# Words that make the whole key non-secret wherever they stand.
_VETO = frozenset({"public", "pub", "page", "next", "prev", "previous", "continuation",
                   "pagination", "cursor", "sync", "max", "min", "num"})
_BARE_NOT_SECRET = frozenset({"pwd", "oldpwd", "key", "session"})


@lru_cache(maxsize=4096)
def secret_key_name(key: str) -> str | None:
    """The entity a key name announces (``"PASSWORD"``, ``"API_KEY"``, …) or ``None``.

    Key names are not sensitive, so the answer is cached.
    """
    key = key.strip().strip("\"'`[]$@:")
    if not key or len(key) > MAX_KEY:
        return None
    words = [w.lower() for w in _WORDS.findall(key)]
    if not words:
        return None
    if len(words) == 1 and words[0] in _BARE_NOT_SECRET:
        return None
    if any(w in _VETO for w in words):
        return None
    while len(words) > 1 and words[-1] in _VALUE_WORDS:
        words.pop()
    head = words[-1]
    prev = words[-2] if len(words) > 1 else ""
    if head in _PASSWORD:
        return "PASSWORD"
    if head in _HEADS:
        return "API_KEY" if head == "token" and prev == "api" else _HEADS[head]
    if head == "key":
        return _KEY_QUALIFIERS.get(prev)
    if head == "id":
        return {"session": "SESSION_ID", "sess": "SESSION_ID", "secret": "SECRET"}.get(prev)
    if head == "code":
        return _CODE_QUALIFIERS.get(prev)
    if head == "phrase" and prev in ("seed", "recovery", "secret"):
        return "SECRET"
    if head in _COMPOUNDS:
        return _COMPOUNDS[head]
    if len(words) == 1 and head == "sid":
        return "SESSION_ID"
    for suffix, entity in _COMPOUND_SUFFIXES:
        if head.endswith(suffix) and len(head) > len(suffix):
            return entity
    return None


_NON_SECRET_WORDS = frozenset({
    "", "null", "none", "nil", "true", "false", "yes", "no", "on", "off", "undefined",
    "changeme", "change_me", "redacted", "placeholder", "required", "optional", "...",
    # metasyntactic fill-ins of examples and docs
    "foo", "bar", "baz", "qux", "quux", "foobar", "dummy", "fake",
})
# A value that only names a secret (``secretKey: api-key`` in an ExternalSecret,
# ``secretName: db-password``): a reference to where the secret lives, not the secret.
_SECRET_NAME = re.compile(r"[a-z]+(?:[-_.][a-z]+)+")
_SELF_NAMING = ("passw", "secret", "token")
_MASK_CHARS = frozenset("*xX.•#-_ ")
_CODE_PREFIXES = ("os.environ", "os.getenv", "process.env", "getenv(", "system.getenv",
                  "env(", "env[", "secrets.", "vars.")


_FILLER_MARKS = ("your_", "your-", "_here", "-here", "example", "0123456", "1234567",
                 "2345678", "3456789", "abcdefg")


def is_placeholder(value: str) -> bool:
    """Values that are obviously not a secret: empty, booleans, null, template variables
    (``${X}``, ``{{ x }}``, ``{X}``, `` `cmd` ``), ``<placeholders>``, masks (``****``,
    ``hf_xxxxxxxx``, ``1111111``), fill-in text (``YOUR_TOKEN_HERE``, ``…EXAMPLE``),
    sealed values (``ENC[…]``), references to an environment variable, lower-case
    names of a secret (``api-key``, ``db_password``: a reference, as in an ExternalSecret),
    lower-case words naming themselves a password and sequences typed in order."""
    v = value.strip()
    lowered = v.lower()
    if lowered in _NON_SECRET_WORDS or set(v) <= _MASK_CHARS:
        return True
    if v.startswith(("${", "$(", "{{", "%(", "#{", "<%", "`", "ENC[")) or (
        v[:1] + v[-1:] in ("<>", "{}")
    ):
        return True
    if v.startswith("$") and (v[1:].replace("_", "").isalnum() or v[1:].isdigit()):
        return True
    if any(mark in lowered for mark in _FILLER_MARKS) or _has_run(v, 6):
        return True
    if _SECRET_NAME.fullmatch(v) and secret_key_name(v) is not None:
        return True
    if v.isalpha() and v.islower() and any(word in v for word in _SELF_NAMING):
        return True  # "rootpasswd", "mysecretpassword": a docs fill-in, and guessed first
    return _sequential(lowered) or lowered.startswith(_CODE_PREFIXES)


def _sequential(value: str) -> bool:
    """Typed-in-order fill-ins (``abc123``, ``AbCeFG123``): letters and digits only, every
    run of consecutive characters at least three long. No generated value looks so."""
    if len(value) < 6 or not value.isalnum() or not value.isascii():
        return False
    run = 1
    for previous, char in itertools.pairwise(value):
        if ord(char) - ord(previous) == 1:
            run += 1
        elif run < 3:
            return False
        else:
            run = 1
    return run >= 3


def _has_run(value: str, length: int) -> bool:
    """Whether one character repeats ``length`` times in a row (no generated key does)."""
    run = 1
    for previous, char in itertools.pairwise(value):
        run = run + 1 if char == previous else 1
        if run >= length:
            return True
    return False


def _looks_like_path(value: str) -> bool:
    return value.startswith(("/", "~/", "./", "../")) and " " not in value


# Every key :func:`secret_key_name` accepts holds one of these (case-insensitively; a test
# checks it against the vocabulary above): lines without any cannot hold a finding.
KEY_TRIGGERS = ("pass", "pw", "pswd", "secret", "token", "auth", "bearer", "jwt", "cred",
                "cookie", "pin", "cvv", "cvc", "csc", "otp", "sig", "mnemonic", "hmac", "key",
                "sess", "sid", "code", "phrase")


@lru_cache(maxsize=1)
def _trigger_scan() -> Prescan:
    return Prescan(KEY_TRIGGERS, caseless=True)


class StructureDetector:
    """Detector for values under secret-naming keys in JSON, YAML, env, headers, queries."""

    name = "structure"

    def detect(self, text: str) -> list[Finding]:
        if not text:
            return []
        spans: dict[tuple[int, int], tuple[str, str]] = {}
        # Only the lines naming a secret, and the line after each (a JSON value may follow
        # its key there): each is read as a text of its own, from its first character.
        for low, high in line_spans(text, _trigger_scan().spans(text), after=1):
            for (start, end), label in self._values(text[low:high]).items():
                spans.setdefault((low + start, low + end), label)
        return [Finding(start, end, entity, "secret", f"structure-{kind}-secret-key",
                        self.name, SCORE)
                for (start, end), (entity, kind) in sorted(spans.items())]

    def _values(self, text: str) -> dict[tuple[int, int], tuple[str, str]]:
        """Spans of the secret values in ``text`` read whole, with (entity, kind)."""
        spans: dict[tuple[int, int], tuple[str, str]] = {}
        for start, end, entity, kind in self._candidates(text):
            value = text[start:end]
            if end <= start or is_placeholder(value) or (
                    entity != "PASSWORD" and _looks_like_path(value)):
                continue
            # an unquoted value on a line shown with its escapes ends at the first
            escape = None if kind == "json" else _ESCAPED_BREAK.search(value)
            if escape is not None:
                end = start + len(value[:escape.start()].rstrip())
            if end > start:
                spans.setdefault((start, end), (entity, kind))
        return spans

    def _candidates(self, text: str) -> Iterator[tuple[int, int, str, str]]:
        if '"' in text:
            yield from _scan_json(text, '"')
        if "{'" in text or "'," in text:
            yield from _scan_json(text, "'")
        if '\\"' in text:
            yield from _scan_json(text, '\\"')
        yield from _scan_lines(text)
        if "=" in text or ":" in text:
            yield from _scan_pairs(text)


# --- JSON ------------------------------------------------------------------------------------

def _string_end(text: str, i: int, quote: str) -> tuple[bool, int]:
    """Scan a string whose body starts at ``i``: ``(True, index past the closing quote)``,
    or ``(False, index where the scan gave up)`` at a line break or the end of the text.

    ``quote`` is ``"`` or ``'`` (backslash escapes one character), or ``\\"`` for JSON
    escaped inside a JSON string (there, ``\\\\`` escapes the next escape sequence).
    """
    n = len(text)
    if quote == '\\"':
        while i < n:
            if text.startswith('\\"', i):
                return True, i + 2
            if text.startswith("\\\\", i):
                i += 4 if text.startswith("\\", i + 2) else 3
            elif text[i] == "\\":
                i += 2
            elif text[i] == "\n":
                return False, i
            else:
                i += 1
        return False, n
    while i < n:
        char = text[i]
        if char == "\\":
            i += 2
        elif char == quote:
            return True, i + 1
        elif char == "\n":
            return False, i
        else:
            i += 1
    return False, n


def _skip_space(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in " \t\r\n":
        i += 1
    return i


def _scan_json(text: str, quote: str) -> Iterator[tuple[int, int, str, str]]:
    """``"key": value`` pairs at any depth, in one left-to-right pass over the strings."""
    q = len(quote)
    n = len(text)
    i = text.find(quote)
    while i != -1:
        body = i + q
        closed, end = _string_end(text, body, quote)
        if not closed:
            i = text.find(quote, end)
            continue
        after = _skip_space(text, end)
        if after < n and text[after] == ":" and end - body - q <= MAX_KEY:
            entity = secret_key_name(text[body:end - q])
            value_at = _skip_space(text, after + 1)
            if entity is not None and value_at < n:
                if text.startswith(quote, value_at):
                    closed, value_end = _string_end(text, value_at + q, quote)
                    if closed:
                        yield value_at + q, value_end - q, entity, "json"
                    i = text.find(quote, value_end)
                    continue
                stop = value_at
                while stop < n and (text[stop].isdigit() or text[stop] in "-+.eE"):
                    stop += 1
                if stop - value_at >= 3:
                    yield value_at, stop, entity, "json"
        # the next string may be this key's value: resume right after the key
        i = text.find(quote, end)


# --- lines: YAML / headers (key: value) and env / INI (KEY=value) -------------------------

_ESCAPED_BREAK = re.compile(r'\\[nrt"]')
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_HEADER_SCHEMES = frozenset({"bearer", "basic", "token", "digest", "negotiate", "ntlm",
                             "apikey", "api-key", "sso-key", "bot", "hmac", "splunk"})


def _scan_lines(text: str) -> Iterator[tuple[int, int, str, str]]:
    position = 0
    for line in text.splitlines(keepends=True):
        if "=" in line or ":" in line:  # no separator, no key: value (skips blank lines fast)
            yield from _scan_line(text, position, position + len(line.rstrip("\r\n")))
        position += len(line)


def _scan_line(text: str, start: int, end: int) -> Iterator[tuple[int, int, str, str]]:
    i = start
    while i < end and text[i] in " \t":
        i += 1
    for prefix in ("export ", "- ", "set "):
        if text.startswith(prefix, i):
            i = _skip_space(text, i + len(prefix))
    quote = text[i] if i < end and text[i] in "\"'" else ""
    key_start = i + len(quote)
    j = key_start
    while j < end and text[j] in _KEY_CHARS and j - key_start <= MAX_KEY:
        j += 1
    if j == key_start or (quote and not text.startswith(quote, j)):
        return
    key = text[key_start:j]
    j += len(quote)
    while j < end and text[j] in " \t":
        j += 1
    if j >= end or text[j] not in ":=":
        return
    separator = text[j]
    if text.startswith(("::", ":=", "==", "=>"), j):
        return  # Go / Makefile-style code: the rules handle it
    entity = secret_key_name(key)
    if entity is None:
        return
    kind = "env" if separator == "=" else (
        "header" if "-" in key or key.lower() in ("authorization", "cookie") else "yaml")
    v_start = j + 1
    while v_start < end and text[v_start] in " \t":
        v_start += 1
    yield from _value_spans(text, v_start, end, key, entity, kind)


def _value_spans(text: str, start: int, end: int, key: str, entity: str,
                 kind: str) -> Iterator[tuple[int, int, str, str]]:
    if start >= end or text[start] in "|>{[&*!":
        return  # block scalars, nested objects, anchors: not a scalar on this line
    if text[start] in "\"'`":
        close = text.find(text[start], start + 1, end)
        if close != -1:
            yield start + 1, close, entity, kind
        return
    stop = min(end, start + MAX_VALUE)
    if kind != "header":
        comment = text.find(" #", start, stop)
        if comment != -1:
            stop = comment
    while stop > start and text[stop - 1] in " \t,;":
        stop -= 1
    value = text[start:stop]
    lowered_key = key.lower()
    if kind == "header" and lowered_key in ("cookie", "set-cookie"):
        yield from _cookie_values(text, start, stop, first_only=lowered_key == "set-cookie")
        return
    if kind == "header" or entity == "AUTH_TOKEN":
        scheme, _, rest = value.partition(" ")
        if rest and scheme.lower() in _HEADER_SCHEMES:
            yield stop - len(rest.lstrip()), stop, entity, kind
            return
    if kind != "header" and _looks_like_code(value, key):
        return
    yield start, stop, entity, kind


_TYPE_NAMES = frozenset({"str", "string", "int", "bytes", "bool", "float", "any", "optional",
                         "union", "secretstr", "secretbytes", "char", "number", "object"})


def _looks_like_code(value: str, key: str) -> bool:
    """An unquoted value that is a reference or a type, not a literal: ``self.password``,
    ``get_token()``, ``str`` / ``Optional[str] = None``, ``password`` (the key's own name)."""
    if "(" in value or value.lower() == key.lower():
        return True
    first = value.replace("[", " ").replace("|", " ").replace("=", " ").split(" ", 1)[0]
    if first.lower() in _TYPE_NAMES:
        return True
    head, dot, _ = value.partition(".")
    return bool(dot) and head.isidentifier() and value.replace(".", "_").isidentifier()


_SESSION_COOKIE_PARTS = ("sess", "sid", "auth", "token", "jwt", "remember", "login", "secret")


def _is_session_cookie(name: str) -> bool:
    """Session / auth cookies (``sessionid``, ``connect.sid``, ``_gh_sess``,
    ``__Host-next-auth.session-token``); preference cookies (``theme``, ``lang``) are not."""
    lowered = name.lower()
    return any(part in lowered for part in _SESSION_COOKIE_PARTS) or (
        secret_key_name(name) is not None)


def _cookie_values(text: str, start: int, stop: int,
                   first_only: bool) -> Iterator[tuple[int, int, str, str]]:
    i = start
    while i < stop:
        semi = text.find(";", i, stop)
        pair_end = stop if semi == -1 else semi
        eq = text.find("=", i, pair_end)
        if eq != -1 and eq + 1 < pair_end and _is_session_cookie(text[i:eq].strip()):
            yield eq + 1, pair_end, "SESSION_COOKIE", "header"
        if first_only:
            return
        i = pair_end + 1


# --- inline pairs: query strings, connection strings, quoted header arguments --------------

_PAIR_OPENERS = frozenset(" \t\r\n?&;,(\"'")
_PAIR_STOP = frozenset(" \t\r\n&;#\"'<>),\\")  # \\: an escaped line break or quote


def _scan_pairs(text: str) -> Iterator[tuple[int, int, str, str]]:
    """``key=value`` after a delimiter (``?a=1&token=…``, ``host=db password=…``) and
    ``'Header-Name: value'`` inside quotes. Each separator looks back at most
    :data:`MAX_KEY` characters and values are skipped once read: linear overall."""
    n = len(text)
    for sep in _separators(text):
        k = sep
        while k > 0 and sep - k < MAX_KEY and text[k - 1] in _KEY_CHARS:
            k -= 1
        opener = text[k - 1] if k > 0 else " "
        if k == sep or opener not in _PAIR_OPENERS:
            continue
        key = text[k:sep]
        entity = secret_key_name(key)
        if entity is None:
            continue
        if text[sep] == ":":
            if opener not in "\"'" or not text.startswith(" ", sep + 1):
                continue
            close = text.find(opener, sep + 1, min(n, sep + MAX_VALUE))
            if close != -1 and "\n" not in text[sep:close]:  # a header is one line
                start = _skip_inline(text, sep + 1, close)
                yield from _value_spans(text, start, close, key, entity, "header")
            continue
        start = sep + 1
        if start < n and text[start] in "\"'":
            close = text.find(text[start], start + 1, min(n, start + MAX_VALUE))
            if close != -1 and "\n" not in text[start:close]:
                yield start + 1, close, entity, "query"
            continue
        stop = start
        limit = min(n, start + MAX_VALUE)
        while stop < limit and text[stop] not in _PAIR_STOP:
            stop += 1
        if stop > start and not _looks_like_code(text[start:stop], key):
            yield start, stop, entity, "query"


def _separators(text: str) -> Iterator[int]:
    """Positions of ``=`` and ``:`` in order, each found once."""
    eq = text.find("=")
    colon = text.find(":")
    while eq != -1 or colon != -1:
        if colon == -1 or (eq != -1 and eq < colon):
            yield eq
            eq = text.find("=", eq + 1)
        else:
            yield colon
            colon = text.find(":", colon + 1)


def _skip_inline(text: str, i: int, end: int) -> int:
    while i < end and text[i] in " \t":
        i += 1
    return i
