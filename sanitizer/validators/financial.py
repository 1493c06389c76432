"""Validators and example generators: financial family.

Payment cards (Luhn, issuer ranges and lengths, separator layout), IBAN (per-country
length, ISO 13616 mod-97), US ABA routing numbers, SWIFT/BIC, and crypto wallet addresses
(Bitcoin base58check and bech32/bech32m, Ethereum EIP-55). The checks are what turn a
digit run from "maybe an order id" into "almost surely a card number": every rule that
reports these values names them.
"""

from __future__ import annotations

import random
import string
from collections.abc import Sequence

from .basic import Generator, Validator

_SEPARATORS = " -"

# ---------------------------------------------------------------------------- cards


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def luhn_ok(digits: str) -> bool:
    """ISO/IEC 7812 check digit (mod 10) over a string of digits."""
    if not digits.isdigit():
        return False
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn(value: str) -> bool:
    """Luhn over the digits of ``value`` (separators ignored)."""
    return luhn_ok(_digits(value))


def _luhn_complete(partial: str) -> str:
    """Append the check digit that makes ``partial`` Luhn-valid."""
    for check in "0123456789":
        if luhn_ok(partial + check):
            return partial + check
    raise AssertionError("unreachable: one check digit always fits")


# (prefix range low, high, lengths): prefixes compared on the first len(low) digits.
_Range = tuple[str, str, frozenset[int]]


def _r(low: str, high: str, *lengths: int) -> _Range:
    return (low, high, frozenset(lengths))


_L16_19 = (16, 17, 18, 19)
CARD_BRANDS: dict[str, tuple[_Range, ...]] = {
    # 13-digit Visa is all but retired and collides with phone numbers: short rule only.
    "visa": (_r("4", "4", 16, 19),),
    "mastercard": (_r("51", "55", 16), _r("2221", "2720", 16)),
    "amex": (_r("34", "34", 15), _r("37", "37", 15)),
    "discover": (_r("6011", "6011", *_L16_19), _r("644", "649", *_L16_19),
                 _r("65", "65", *_L16_19)),
    "jcb": (_r("3528", "3589", *_L16_19), _r("1800", "1800", 15), _r("2131", "2131", 15)),
    "diners": (_r("300", "305", 14, *_L16_19), _r("3095", "3095", 14, *_L16_19),
               _r("36", "36", 14, *_L16_19), _r("38", "39", 14, *_L16_19)),
    "unionpay": (_r("62", "62", *_L16_19),),
    "maestro": (_r("5018", "5018", *_L16_19), _r("5020", "5020", *_L16_19),
                _r("5038", "5038", *_L16_19), _r("5893", "5893", *_L16_19),
                _r("6304", "6304", *_L16_19), _r("6759", "6759", *_L16_19),
                _r("6761", "6763", *_L16_19)),
    "mir": (_r("2200", "2204", *_L16_19),),
}
def _in_ranges(digits: str, ranges: Sequence[_Range]) -> bool:
    for low, high, lengths in ranges:
        if len(digits) in lengths and low <= digits[: len(low)] <= high:
            return True
    return False


def card_brand(digits: str) -> str | None:
    """The brand whose issuer range and length fit ``digits``, or None."""
    for brand, ranges in CARD_BRANDS.items():
        if _in_ranges(digits, ranges):
            return brand
    return None


def card_issuer(value: str) -> bool:
    """A known issuer range with one of its lengths (12-15 digit Maestro excluded)."""
    return card_brand(_digits(value)) is not None


def card_unlisted_issuer(value: str) -> bool:
    """A PAN-length number (12-19 digits) with a banking/travel major industry identifier
    (first digit 2-6) outside the issuer table: short Maestro, 13-digit Visa, ranges the
    table does not know yet. Rules using it need card context."""
    digits = _digits(value)
    return 12 <= len(digits) <= 19 and digits[0] in "23456" and card_brand(digits) is None


def card_format(value: str) -> bool:
    """Separators, if any, are all the same and group the digits the way cards are
    printed: fours (last group shorter), or 4-6-5 / 4-6-4 (Amex, Diners)."""
    seps = {c for c in value if c in _SEPARATORS}
    if not seps:
        return True
    if len(seps) > 1:
        return False
    groups = [len(g) for g in value.split(seps.pop())]
    if groups in ([4, 6, 5], [4, 6, 4]):
        return True
    return all(g == 4 for g in groups[:-1]) and 1 <= groups[-1] <= 4 and len(groups) >= 3


def not_one_digit(value: str) -> bool:
    """Rejects numbers made of one repeated digit (placeholders such as 0000…)."""
    return len(set(_digits(value))) > 1


def _gen_card(rng: random.Random, args: Sequence[str]) -> str:
    """``{card:brand[:plain|space|dash[:length]]}`` - a Luhn-valid number in the brand's
    range (brands: CARD_BRANDS, ``mc2`` for 2-series Mastercard, ``maestro_short``)."""
    brand = args[0] if args else "visa"
    layout = args[1] if len(args) > 1 else "plain"
    if brand == "maestro_short":
        low, high, lengths = _r("5018", "5018", 12, 13)
    elif brand == "mc2":
        low, high, lengths = _r("2221", "2720", 16)
    else:
        low, high, lengths = rng.choice(CARD_BRANDS[brand])
    length = int(args[2]) if len(args) > 2 else (16 if 16 in lengths else min(lengths))
    prefix = str(rng.randint(int(low), int(high))).zfill(len(low))
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    number = _luhn_complete(body)
    return _layout(number, layout)


def _layout(number: str, layout: str) -> str:
    if layout == "plain":
        return number
    sep = " " if layout == "space" else "-"
    if len(number) == 15 and number[:2] in ("34", "37"):
        return sep.join((number[:4], number[4:10], number[10:]))
    if len(number) == 14:
        return sep.join((number[:4], number[4:10], number[10:]))
    return sep.join(number[i:i + 4] for i in range(0, len(number), 4))


def _gen_card_bad(rng: random.Random, args: Sequence[str]) -> str:
    """``{card_bad:brand[:layout]}`` - in the brand's range but failing Luhn."""
    good = _gen_card(rng, args)
    last = good[-1]
    return good[:-1] + str((int(last) + rng.randint(1, 9)) % 10)


# ---------------------------------------------------------------------------- IBAN

IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24,
    "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
    "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20,
    "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
    "YE": 30,
    # Countries using IBAN-format account numbers outside the SWIFT registry.
    "AO": 25, "BF": 28, "BJ": 28, "CF": 27, "CG": 27, "CI": 28, "CM": 27, "CV": 25,
    "DZ": 26, "GA": 27, "GQ": 27, "GW": 25, "IR": 26, "KM": 27, "MA": 28, "MG": 27,
    "ML": 28, "MZ": 25, "NE": 28, "SN": 28, "TD": 27, "TG": 28,
}


def _iban_mod97(compact: str) -> int:
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97


def iban(value: str) -> bool:
    """Country known, length right for it, check digits (ISO 13616 mod-97) hold."""
    compact = value.replace(" ", "").upper()
    if not compact.isalnum() or not compact.isascii():
        return False
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    return _iban_mod97(compact) == 1


def _iban_build(rng: random.Random, country: str) -> str:
    length = IBAN_LENGTHS[country]
    bban = "".join(rng.choice(string.digits) for _ in range(length - 4))
    if country in ("GB", "IE", "NL", "BG", "BH", "GI", "KW", "MT", "QA", "JO"):
        bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + bban[4:]
    check = 98 - _iban_mod97(country + "00" + bban)
    return f"{country}{check:02d}{bban}"


def _iban_layout(compact: str, args: Sequence[str]) -> str:
    if len(args) > 1 and args[1] == "space":
        return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))
    if len(args) > 1 and args[1] == "lower":
        return compact.lower()
    return compact


def _gen_iban(rng: random.Random, args: Sequence[str]) -> str:
    """``{iban:CC[:space|lower]}`` - a valid IBAN of country CC."""
    country = args[0] if args else "DE"
    return _iban_layout(_iban_build(rng, country), args)


def _gen_iban_bad(rng: random.Random, args: Sequence[str]) -> str:
    """``{iban_bad:CC[:space]}`` - right shape, wrong check digits."""
    country = args[0] if args else "DE"
    good = _iban_build(rng, country)
    check = int(good[2:4])
    wrong = (check + rng.randint(1, 90)) % 97
    wrong = wrong if wrong >= 2 else wrong + 2
    return _iban_layout(f"{country}{wrong:02d}{good[4:]}", args)


# ---------------------------------------------------------------------------- ABA

_ABA_PREFIXES = {*range(0, 13), *range(21, 33), *range(61, 73), 80}


def aba_routing(value: str) -> bool:
    """US routing transit number: Federal Reserve prefix and the 3-7-1 checksum."""
    if len(value) != 9 or not value.isdigit() or int(value[:2]) not in _ABA_PREFIXES:
        return False
    if len(set(value)) == 1:
        return False
    d = [int(c) for c in value]
    total = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])
    return total % 10 == 0


def _gen_aba(rng: random.Random, args: Sequence[str]) -> str:
    """``{aba}`` - a valid routing number."""
    while True:
        prefix = rng.choice(sorted(_ABA_PREFIXES - {0}))
        body = f"{prefix:02d}" + "".join(rng.choice(string.digits) for _ in range(6))
        for check in string.digits:
            if aba_routing(body + check):
                return body + check


# ---------------------------------------------------------------------------- SWIFT/BIC

ISO_COUNTRIES = frozenset((
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN "
    "BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ "
    "DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL "
    "GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM "
    "JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME "
    "MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP "
    "NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD "
    "SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO "
    "TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW"
).split())


def swift_bic(value: str) -> bool:
    """8 or 11 characters: bank (letters), ISO country, location, optional branch;
    location code 2nd character ``0`` marks a test BIC, which we still accept."""
    if len(value) not in (8, 11) or not value.isascii() or not value.isupper():
        return False
    return value[:4].isalpha() and value[4:6] in ISO_COUNTRIES and value[6:].isalnum()


def _gen_bic(rng: random.Random, args: Sequence[str]) -> str:
    """``{bic[:CC]}`` - a syntactically valid BIC (sometimes with a branch code)."""
    country = args[0] if args else rng.choice(["DE", "FR", "GB", "CH", "NL", "IT"])
    bank = "".join(rng.choice(string.ascii_uppercase) for _ in range(4))
    location = rng.choice(string.ascii_uppercase) + rng.choice(string.ascii_uppercase + "12")
    branch = rng.choice(["", "XXX", "".join(rng.choice(string.digits) for _ in range(3))])
    return bank + country + location + branch


# ---------------------------------------------------------------------------- Bitcoin

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def btc_base58(value: str) -> bool:
    """Legacy P2PKH (version 0x00, ``1…``) or P2SH (0x05, ``3…``) base58check address."""
    import base58

    try:
        raw: bytes = base58.b58decode_check(value)
    except ValueError:
        return False
    return len(raw) == 21 and raw[0] in (0x00, 0x05)


def _gen_btc_base58(rng: random.Random, version: int) -> str:
    import base58

    payload = bytes([version]) + rng.randbytes(20)
    encoded: bytes = base58.b58encode_check(payload)
    return encoded.decode("ascii")


# BIP-173 / BIP-350 reference algorithm, reduced to what validation needs.
_BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_CONST, _BECH32M_CONST = 1, 0x2BC830A3


def _bech32_polymod(values: Sequence[int]) -> int:
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= generator[i] if (top >> i) & 1 else 0
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convertbits(data: Sequence[int], frombits: int, tobits: int, pad: bool) -> list[int] | None:
    acc = bits = 0
    out: list[int] = []
    maxv = (1 << tobits) - 1
    for value in data:
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if pad and bits:
        out.append((acc << (tobits - bits)) & maxv)
    elif not pad and (bits >= frombits or (acc << (tobits - bits)) & maxv):
        return None
    return out


def btc_bech32(value: str) -> bool:
    """Native segwit address ``bc1…``: bech32 for witness v0 (20 or 32 byte program),
    bech32m for v1+ (taproot), checksum and program length per BIP-173/350."""
    if value.lower() != value and value.upper() != value:
        return False
    address = value.lower()
    hrp, _, data_part = address.rpartition("1")
    if hrp != "bc" or len(data_part) < 6 or len(address) > 90:
        return False
    if any(c not in _BECH32_CHARSET for c in data_part):
        return False
    data = [_BECH32_CHARSET.index(c) for c in data_part]
    const = _bech32_polymod(_hrp_expand(hrp) + data)
    if const not in (_BECH32_CONST, _BECH32M_CONST):
        return False
    version, program5 = data[0], data[1:-6]
    program = _convertbits(program5, 5, 8, False)
    if program is None or version > 16 or not 2 <= len(program) <= 40:
        return False
    if version == 0:
        return const == _BECH32_CONST and len(program) in (20, 32)
    return const == _BECH32M_CONST


def _bech32_encode(version: int, program: bytes) -> str:
    hrp = "bc"
    data = [version, *(_convertbits(list(program), 8, 5, True) or [])]
    const = _BECH32_CONST if version == 0 else _BECH32M_CONST
    polymod = _bech32_polymod([*_hrp_expand(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ const
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_BECH32_CHARSET[d] for d in data + checksum)


def _gen_btc(rng: random.Random, args: Sequence[str]) -> str:
    """``{btc:p2pkh|p2sh|bech32|p2wsh|taproot}`` - a valid mainnet address."""
    kind = args[0] if args else "p2pkh"
    if kind == "p2pkh":
        return _gen_btc_base58(rng, 0x00)
    if kind == "p2sh":
        return _gen_btc_base58(rng, 0x05)
    if kind == "bech32":
        return _bech32_encode(0, rng.randbytes(20))
    if kind == "p2wsh":
        return _bech32_encode(0, rng.randbytes(32))
    if kind == "taproot":
        return _bech32_encode(1, rng.randbytes(32))
    raise ValueError(f"unknown bitcoin address kind {kind!r}")


def _gen_btc_bad(rng: random.Random, args: Sequence[str]) -> str:
    """``{btc_bad:kind}`` - a valid address with one character changed (checksum fails)."""
    good = _gen_btc(rng, args)
    alphabet = _BECH32_CHARSET if good.startswith("bc1") else _B58
    i = rng.randrange(len(good) - 8, len(good))
    choices = [c for c in alphabet if c != good[i]]
    return good[:i] + rng.choice(choices) + good[i + 1:]


# ---------------------------------------------------------------------------- Ethereum


def _keccak_hex(data: bytes) -> str:
    from Crypto.Hash import keccak

    digest = keccak.new(digest_bits=256)
    digest.update(data)
    hexdigest: str = digest.hexdigest()
    return hexdigest


def eip55_checksum(address: str) -> str:
    """The EIP-55 mixed-case form of a ``0x`` + 40 hex address."""
    body = address[2:].lower()
    digest = _keccak_hex(body.encode("ascii"))
    return "0x" + "".join(c.upper() if c.isalpha() and int(h, 16) >= 8 else c
                          for c, h in zip(body, digest[:40], strict=True))


def _eth_shape(value: str) -> bool:
    return (len(value) == 42 and value[:2] == "0x"
            and all(c in string.hexdigits for c in value[2:]))


def eth_checksummed(value: str) -> bool:
    """Mixed-case address whose capitalisation is its valid EIP-55 checksum."""
    body = value[2:]
    if not _eth_shape(value) or body.lower() == body or body.upper() == body:
        return False
    return eip55_checksum(value) == value


def eth_single_case(value: str) -> bool:
    """All-lowercase (or all-uppercase) address: no checksum to test, so rules need context.
    A run of one digit (0x000…0, the burn address) is not a person's wallet."""
    body = value[2:]
    return (_eth_shape(value) and (body.lower() == body or body.upper() == body)
            and len(set(body)) > 2)


def _gen_eth(rng: random.Random, args: Sequence[str]) -> str:
    """``{eth[:lower|bad]}`` - EIP-55 checksummed address (or lowercase, or a broken
    checksum with one letter's case flipped)."""
    address = eip55_checksum("0x" + rng.randbytes(20).hex())
    kind = args[0] if args else "checksum"
    if kind == "lower":
        return address.lower()
    if kind == "bad":
        letters = [i for i, c in enumerate(address) if i > 1 and c.isalpha()]
        i = rng.choice(letters)
        return address[:i] + address[i].swapcase() + address[i + 1:]
    if address[2:].lower() == address[2:].upper():  # no letters: no checksum to show
        return _gen_eth(rng, args)
    return address


VALIDATORS: dict[str, Validator] = {
    "luhn": luhn,
    "card_issuer": card_issuer,
    "card_unlisted_issuer": card_unlisted_issuer,
    "card_format": card_format,
    "not_one_digit": not_one_digit,
    "iban": iban,
    "aba_routing": aba_routing,
    "swift_bic": swift_bic,
    "btc_base58": btc_base58,
    "btc_bech32": btc_bech32,
    "eth_checksummed": eth_checksummed,
    "eth_single_case": eth_single_case,
}

GENERATORS: dict[str, Generator] = {
    "card": _gen_card,
    "card_bad": _gen_card_bad,
    "iban": _gen_iban,
    "iban_bad": _gen_iban_bad,
    "aba": _gen_aba,
    "bic": _gen_bic,
    "btc": _gen_btc,
    "btc_bad": _gen_btc_bad,
    "eth": _gen_eth,
}
