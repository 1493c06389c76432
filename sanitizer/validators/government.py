"""Validators and example generators: government identifiers.

US SSN and ITIN (issuance rules), UK National Insurance number (prefix rules), NHS number
(mod 11), Canadian SIN (Luhn), Spanish DNI/NIE (check letter), Italian codice fiscale
(check character), Indian Aadhaar (Verhoeff). Separators (space, dash) are ignored by the
checks; the rule regexes decide which layouts are accepted.

The network and contact checks (IP, MAC, e-mail) live in :mod:`.network` and are joined
into this family's tables until the family list in ``validators/__init__`` names them.
"""

from __future__ import annotations

import random
import string
from collections.abc import Sequence

from . import network
from .basic import Generator, Validator
from .financial import luhn_ok


def _compact(value: str) -> str:
    return value.replace(" ", "").replace("-", "")


# ---------------------------------------------------------------------------- US SSN / ITIN

# Numbers published in advertising or used as examples; never valid for a person.
_SSN_KNOWN_INVALID = frozenset({
    "078051120", "219099999", "123456789", "457555462", "111111111", "333333333",
    "666666666", "999999999", "000000000", "987654320", "987654321",
})


def us_ssn(value: str) -> bool:
    """Area not 000/666/9xx, group not 00, serial not 0000, not a known example number."""
    digits = _compact(value)
    if len(digits) != 9 or not digits.isdigit() or digits in _SSN_KNOWN_INVALID:
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return len(set(digits)) > 1


_ITIN_GROUPS = {*range(50, 66), *range(70, 89), *range(90, 93), *range(94, 100)}


def us_itin(value: str) -> bool:
    """Individual Taxpayer Identification Number: 9xx-GG-xxxx, GG in the IRS ranges."""
    digits = _compact(value)
    return (len(digits) == 9 and digits.isdigit() and digits[0] == "9"
            and int(digits[3:5]) in _ITIN_GROUPS)


def _fmt_949(digits: str, layout: str) -> str:
    if layout == "plain":
        return digits
    sep = " " if layout == "space" else "-"
    return f"{digits[:3]}{sep}{digits[3:5]}{sep}{digits[5:]}"


def _gen_ssn(rng: random.Random, args: Sequence[str]) -> str:
    """``{ssn[:dash|space|plain]}`` - a number that passes :func:`us_ssn`."""
    while True:
        digits = (f"{rng.randint(1, 899):03d}{rng.randint(1, 99):02d}"
                  f"{rng.randint(1, 9999):04d}")
        if us_ssn(digits):
            return _fmt_949(digits, args[0] if args else "dash")


def _gen_ssn_bad(rng: random.Random, args: Sequence[str]) -> str:
    """``{ssn_bad[:layout]}`` - SSN-shaped but never issued (666/000/9xx area, 00 group,
    0000 serial, or a published example)."""
    serial = f"{rng.randint(1, 9999):04d}"
    choices = [
        f"666{rng.randint(1, 99):02d}{serial}",
        f"000{rng.randint(1, 99):02d}{serial}",
        f"9{rng.randint(0, 99):02d}{rng.randint(1, 49):02d}{serial}",
        f"{rng.randint(1, 665):03d}00{serial}",
        f"{rng.randint(1, 665):03d}{rng.randint(1, 99):02d}0000",
        "078051120",
        "123456789",
    ]
    return _fmt_949(rng.choice(choices), args[0] if args else "dash")


def _gen_itin(rng: random.Random, args: Sequence[str]) -> str:
    """``{itin[:dash|space|plain]}``."""
    group = rng.choice(sorted(_ITIN_GROUPS))
    digits = f"9{rng.randint(0, 99):02d}{group:02d}{rng.randint(0, 9999):04d}"
    return _fmt_949(digits, args[0] if args else "dash")


# ---------------------------------------------------------------------------- UK

_NINO_BAD_FIRST = set("DFIQUV")
_NINO_BAD_SECOND = set("DFIOQUV")
_NINO_BAD_PREFIX = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}


def uk_nino(value: str) -> bool:
    """National Insurance number: allocatable prefix, six digits, suffix A-D."""
    compact = value.replace(" ", "").upper()
    if len(compact) != 9 or not compact[2:8].isdigit() or compact[8] not in "ABCD":
        return False
    prefix = compact[:2]
    return (prefix.isalpha() and prefix[0] not in _NINO_BAD_FIRST
            and prefix[1] not in _NINO_BAD_SECOND and prefix not in _NINO_BAD_PREFIX)


def _gen_nino(rng: random.Random, args: Sequence[str]) -> str:
    """``{nino[:space]}`` - a valid National Insurance number."""
    while True:
        prefix = rng.choice(string.ascii_uppercase) + rng.choice(string.ascii_uppercase)
        digits = "".join(rng.choice(string.digits) for _ in range(6))
        value = prefix + digits + rng.choice("ABCD")
        if uk_nino(value):
            break
    if args and args[0] == "space":
        return f"{value[:2]} {value[2:4]} {value[4:6]} {value[6:8]} {value[8]}"
    return value


def _gen_nino_bad(rng: random.Random, args: Sequence[str]) -> str:
    """``{nino_bad}`` - NINO-shaped with a prefix that is never allocated."""
    prefix = rng.choice(["BG", "GB", "NK", "TN", "ZZ", "DA", "QO", "AO", "FA"])
    digits = "".join(rng.choice(string.digits) for _ in range(6))
    return prefix + digits + rng.choice("ABCD")


def _nhs_check(digits9: str) -> int:
    total = sum(int(d) * w for d, w in zip(digits9, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    return 0 if check == 11 else check  # 10 means: no valid number with these digits


def nhs_number(value: str) -> bool:
    """NHS number (England, Wales, Isle of Man): ten digits, mod-11 check digit."""
    digits = _compact(value)
    if len(digits) != 10 or not digits.isdigit() or len(set(digits)) == 1:
        return False
    check = _nhs_check(digits[:9])
    return check != 10 and check == int(digits[9])


def _fmt_334(digits: str, args: Sequence[str]) -> str:
    layout = args[0] if args else "space"
    if layout == "plain":
        return digits
    sep = " " if layout == "space" else "-"
    return f"{digits[:3]}{sep}{digits[3:6]}{sep}{digits[6:]}"


def _gen_nhs(rng: random.Random, args: Sequence[str]) -> str:
    """``{nhs[:space|dash|plain]}`` - a valid NHS number (default 3-3-4 with spaces)."""
    while True:
        body = "".join(rng.choice(string.digits) for _ in range(9))
        check = _nhs_check(body)
        if check != 10 and nhs_number(body + str(check)):
            return _fmt_334(body + str(check), args)


def _gen_nhs_bad(rng: random.Random, args: Sequence[str]) -> str:
    """``{nhs_bad[:layout]}`` - ten digits whose check digit is wrong."""
    while True:
        body = "".join(rng.choice(string.digits) for _ in range(9))
        check = _nhs_check(body)
        if check != 10:
            wrong = (check + rng.randint(1, 9)) % 10
            return _fmt_334(body + str(wrong), args)


# ---------------------------------------------------------------------------- Canada


def ca_sin(value: str) -> bool:
    """Social Insurance Number: nine digits, Luhn, first digit 1-7 or 9 (0 and 8 unused)."""
    digits = _compact(value)
    return (len(digits) == 9 and digits.isdigit() and digits[0] not in "08"
            and luhn_ok(digits))


def _gen_sin(rng: random.Random, args: Sequence[str]) -> str:
    """``{sin[:space|dash|plain]}`` - a valid Canadian SIN (default 3-3-3 with spaces)."""
    while True:
        body = rng.choice("1234567") + "".join(rng.choice(string.digits) for _ in range(7))
        for check in string.digits:
            if ca_sin(body + check):
                digits = body + check
                layout = args[0] if args else "space"
                if layout == "plain":
                    return digits
                sep = " " if layout == "space" else "-"
                return f"{digits[:3]}{sep}{digits[3:6]}{sep}{digits[6:]}"


# ---------------------------------------------------------------------------- Spain

_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def es_dni(value: str) -> bool:
    """DNI (8 digits + letter) or NIE (X/Y/Z + 7 digits + letter) with the right letter."""
    compact = _compact(value).upper()
    if len(compact) != 9 or not compact[-1].isalpha():
        return False
    number = compact[:-1]
    if number[0] in "XYZ":
        number = str("XYZ".index(number[0])) + number[1:]
    if not number.isdigit() or len(set(number)) == 1:
        return False
    return _DNI_LETTERS[int(number) % 23] == compact[-1]


def _gen_dni(rng: random.Random, args: Sequence[str]) -> str:
    """``{dni}`` (8 digits + letter) or ``{dni:nie}`` (X/Y/Z + 7 digits + letter)."""
    if args and args[0] == "nie":
        lead = rng.choice("XYZ")
        digits = "".join(rng.choice(string.digits) for _ in range(7))
        number = int(str("XYZ".index(lead)) + digits)
        return f"{lead}{digits}{_DNI_LETTERS[number % 23]}"
    digits = f"{rng.randint(1_000_000, 99_999_999):08d}"
    return digits + _DNI_LETTERS[int(digits) % 23]


# ---------------------------------------------------------------------------- Italy

_CF_ODD = dict(zip(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20,
     11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23], strict=True))


def _cf_even(c: str) -> int:
    return int(c) if c.isdigit() else ord(c) - ord("A")


def _cf_check(first15: str) -> str:
    total = sum(_CF_ODD[c] if i % 2 == 0 else _cf_even(c) for i, c in enumerate(first15))
    return chr(ord("A") + total % 26)


def it_codice_fiscale(value: str) -> bool:
    """Codice fiscale (16 characters) with the right check character."""
    compact = value.upper()
    return (len(compact) == 16 and compact.isascii() and compact.isalnum()
            and _cf_check(compact[:15]) == compact[15])


def _gen_cf(rng: random.Random, args: Sequence[str]) -> str:
    """``{cf}`` - a valid codice fiscale (surname, name, birth date, place code)."""
    letters = "".join(rng.choice(string.ascii_uppercase) for _ in range(6))
    year = f"{rng.randint(40, 99):02d}"
    month = rng.choice("ABCDEHLMPRST")
    day = f"{rng.randint(1, 31) + rng.choice([0, 40]):02d}"
    place = rng.choice(string.ascii_uppercase) + f"{rng.randint(1, 999):03d}"
    body = letters + year + month + day + place
    return body + _cf_check(body)


# ---------------------------------------------------------------------------- India

_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6), (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8), (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2), (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4), (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2), (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0), (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5), (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
_VERHOEFF_INV = (0, 4, 3, 2, 1, 5, 6, 7, 8, 9)


def verhoeff_ok(digits: str) -> bool:
    check = 0
    for i, char in enumerate(reversed(digits)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[i % 8][int(char)]]
    return check == 0


def _verhoeff_digit(digits: str) -> str:
    check = 0
    for i, char in enumerate(reversed(digits)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[(i + 1) % 8][int(char)]]
    return str(_VERHOEFF_INV[check])


def in_aadhaar(value: str) -> bool:
    """Aadhaar: twelve digits, first digit 2-9, Verhoeff check digit, not a palindrome-like
    repeat."""
    digits = _compact(value)
    return (len(digits) == 12 and digits.isdigit() and digits[0] not in "01"
            and len(set(digits)) > 2 and verhoeff_ok(digits))


def _gen_aadhaar(rng: random.Random, args: Sequence[str]) -> str:
    """``{aadhaar[:space|plain]}`` - a number that passes :func:`in_aadhaar`."""
    body = rng.choice("23456789") + "".join(rng.choice(string.digits) for _ in range(10))
    digits = body + _verhoeff_digit(body)
    if args and args[0] == "plain":
        return digits
    return f"{digits[:4]} {digits[4:8]} {digits[8:]}"


VALIDATORS: dict[str, Validator] = {
    "us_ssn": us_ssn,
    "us_itin": us_itin,
    "uk_nino": uk_nino,
    "nhs_number": nhs_number,
    "ca_sin": ca_sin,
    "es_dni": es_dni,
    "it_codice_fiscale": it_codice_fiscale,
    "in_aadhaar": in_aadhaar,
    **network.VALIDATORS,
}

GENERATORS: dict[str, Generator] = {
    "ssn": _gen_ssn,
    "ssn_bad": _gen_ssn_bad,
    "itin": _gen_itin,
    "nino": _gen_nino,
    "nino_bad": _gen_nino_bad,
    "nhs": _gen_nhs,
    "nhs_bad": _gen_nhs_bad,
    "sin": _gen_sin,
    "dni": _gen_dni,
    "cf": _gen_cf,
    "aadhaar": _gen_aadhaar,
    **network.GENERATORS,
}
