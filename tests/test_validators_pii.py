"""PII validators (financial, government, network) and their example generators.

Values are generated with a fixed seed; the few literals are published specification test
vectors (BIP-173/350, EIP-55, the NHS and CRA documentation numbers), never real data.
"""

from __future__ import annotations

import random

import pytest

from sanitizer.detect.rules_engine import RuleEngine
from sanitizer.rules import Catalog, load_catalog
from sanitizer.validators import GENERATORS, VALIDATORS
from sanitizer.validators.financial import CARD_BRANDS, IBAN_LENGTHS, card_brand

SEEDS = range(25)


def gen(name: str, *args: str, seed: int = 0) -> str:
    return GENERATORS[name](random.Random(f"{name}/{seed}"), list(args))


def check(name: str, value: str) -> bool:
    return VALIDATORS[name](value)


# ---------------------------------------------------------------------------- cards


@pytest.mark.parametrize("brand", [*CARD_BRANDS, "mc2"])
@pytest.mark.parametrize("seed", SEEDS)
def test_generated_cards_pass_every_card_check(brand: str, seed: int) -> None:
    for layout in ("plain", "space", "dash"):
        number = gen("card", brand, layout, seed=seed)
        assert check("luhn", number)
        assert check("card_issuer", number)
        assert check("card_format", number)
        expected = "mastercard" if brand == "mc2" else brand
        assert card_brand(number.replace(" ", "").replace("-", "")) == expected


@pytest.mark.parametrize("seed", SEEDS)
def test_luhn_rejects_a_changed_check_digit(seed: int) -> None:
    assert not check("luhn", gen("card_bad", "visa", seed=seed))
    assert not check("luhn", gen("card_bad", "amex", "space", seed=seed))


def test_issuer_ranges_and_lengths() -> None:
    assert card_brand("4" + "0" * 15) == "visa"
    assert card_brand("4" + "0" * 12) is None  # 13-digit Visa: context rule only
    assert card_brand("2221" + "0" * 12) == "mastercard"
    assert card_brand("2721" + "0" * 12) is None
    assert card_brand("34" + "0" * 13) == "amex"
    assert card_brand("34" + "0" * 14) is None  # Amex is 15 digits
    assert card_brand("3528" + "0" * 12) == "jcb"
    assert card_brand("3590" + "0" * 12) is None
    assert card_brand("36" + "0" * 12) == "diners"
    assert card_brand("1" + "0" * 15) is None  # epoch micros, UATP
    assert check("card_unlisted_issuer", "5018" + "0" * 8)
    assert not check("card_unlisted_issuer", "1714557733123")
    assert not check("card_unlisted_issuer", "4" + "0" * 15)


def test_card_format_requires_one_separator_in_card_groupings() -> None:
    assert check("card_format", "4111 1111 1111 1111")
    assert check("card_format", "4111-1111-1111-1111")
    assert check("card_format", "3782 822463 10005")
    assert not check("card_format", "4111 1111-1111 1111")
    assert not check("card_format", "41111 111 1111 1111")
    assert not check("not_one_digit", "4444 4444 4444 4444")


# ---------------------------------------------------------------------------- IBAN


@pytest.mark.parametrize("country", sorted(IBAN_LENGTHS))
def test_generated_iban_valid_for_every_country(country: str) -> None:
    compact = gen("iban", country)
    assert len(compact) == IBAN_LENGTHS[country]
    assert check("iban", compact)
    assert check("iban", gen("iban", country, "space"))
    assert check("iban", gen("iban", country, "lower"))


@pytest.mark.parametrize("seed", SEEDS)
def test_iban_rejects_wrong_check_digits(seed: int) -> None:
    assert not check("iban", gen("iban_bad", "DE", seed=seed))
    assert not check("iban", gen("iban_bad", "GB", "space", seed=seed))


def test_iban_rejects_wrong_length_and_unknown_country() -> None:
    good = gen("iban", "DE")
    assert not check("iban", good + "0")
    assert not check("iban", good[:-1])
    assert not check("iban", "QQ" + good[2:])


# ---------------------------------------------------------------------------- ABA, BIC


@pytest.mark.parametrize("seed", SEEDS)
def test_aba_generated_and_corrupted(seed: int) -> None:
    number = gen("aba", seed=seed)
    assert check("aba_routing", number)
    corrupted = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert not check("aba_routing", corrupted)


def test_aba_rejects_unassigned_prefixes_and_placeholders() -> None:
    assert not check("aba_routing", "000000000")
    assert not check("aba_routing", "130000009")  # prefix 13 is not a Federal Reserve district
    assert not check("aba_routing", "12345678")


def test_swift_bic_shape_and_country() -> None:
    assert check("swift_bic", gen("bic", "DE"))
    assert check("swift_bic", "ABCDGB2LXXX")
    assert not check("swift_bic", "ABCDQQ2L")  # QQ is no country
    assert not check("swift_bic", "ABCDGB2")
    assert not check("swift_bic", "abcdgb2l")


# ---------------------------------------------------------------------------- crypto


@pytest.mark.parametrize("kind", ["p2pkh", "p2sh"])
@pytest.mark.parametrize("seed", SEEDS)
def test_btc_base58(kind: str, seed: int) -> None:
    assert check("btc_base58", gen("btc", kind, seed=seed))
    assert not check("btc_base58", gen("btc_bad", kind, seed=seed))


@pytest.mark.parametrize("kind", ["bech32", "p2wsh", "taproot"])
@pytest.mark.parametrize("seed", SEEDS)
def test_btc_bech32_generated(kind: str, seed: int) -> None:
    address = gen("btc", kind, seed=seed)
    assert check("btc_bech32", address)
    assert check("btc_bech32", address.upper())
    assert not check("btc_bech32", gen("btc_bad", kind, seed=seed))


def test_btc_bech32_specification_vectors() -> None:
    # BIP-173 / BIP-350 test vectors
    assert check("btc_bech32", "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4")
    assert check("btc_bech32",
                 "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0")
    # v0 program with a bech32m checksum, and v1 with a bech32 checksum: both invalid
    assert not check("btc_bech32", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh")
    assert not check("btc_bech32",
                     "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4")
    # mixed case is never valid
    assert not check("btc_bech32", "bc1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4")


@pytest.mark.parametrize("seed", SEEDS)
def test_ethereum_checksum(seed: int) -> None:
    address = gen("eth", seed=seed)
    assert check("eth_checksummed", address)
    assert not check("eth_checksummed", gen("eth", "bad", seed=seed))
    assert not check("eth_checksummed", address.lower())
    assert check("eth_single_case", address.lower())
    assert not check("eth_single_case", address)


def test_ethereum_specification_vector_and_burn_address() -> None:
    assert check("eth_checksummed", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")  # EIP-55
    assert not check("eth_single_case", "0x" + "0" * 40)


# ---------------------------------------------------------------------------- government


@pytest.mark.parametrize("seed", SEEDS)
def test_ssn_generated_and_never_issued(seed: int) -> None:
    for layout in ("dash", "space", "plain"):
        assert check("us_ssn", gen("ssn", layout, seed=seed))
        assert not check("us_ssn", gen("ssn_bad", layout, seed=seed))


@pytest.mark.parametrize("value", [
    "000-12-3456", "666-12-3456", "900-12-3456", "999-99-9999", "123-00-4567",
    "123-45-0000", "078-05-1120", "219-09-9999", "123-45-6789", "111-11-1111", "12-345-6789",
])
def test_ssn_invalid_numbers(value: str) -> None:
    assert not check("us_ssn", value)


@pytest.mark.parametrize("seed", SEEDS)
def test_itin(seed: int) -> None:
    value = gen("itin", seed=seed)
    assert check("us_itin", value)
    assert not check("us_ssn", value)
    assert not check("us_itin", "900-12-3456")


@pytest.mark.parametrize("seed", SEEDS)
def test_nino(seed: int) -> None:
    assert check("uk_nino", gen("nino", seed=seed))
    assert check("uk_nino", gen("nino", "space", seed=seed))
    assert not check("uk_nino", gen("nino_bad", seed=seed))


def test_nino_rules() -> None:
    assert not check("uk_nino", "AB123456E")  # suffix A-D only
    assert not check("uk_nino", "DA123456A")  # D never first
    assert not check("uk_nino", "AO123456A")  # O never second


@pytest.mark.parametrize("seed", SEEDS)
def test_nhs_number(seed: int) -> None:
    assert check("nhs_number", gen("nhs", seed=seed))
    assert not check("nhs_number", gen("nhs_bad", seed=seed))


def test_nhs_documentation_number() -> None:
    assert check("nhs_number", "943 476 5919")
    assert not check("nhs_number", "943 476 5918")
    assert not check("nhs_number", "000 000 0000")


@pytest.mark.parametrize("seed", SEEDS)
def test_canadian_sin(seed: int) -> None:
    value = gen("sin", seed=seed)
    assert check("ca_sin", value)
    assert not check("ca_sin", value[:-1] + str((int(value[-1]) + 3) % 10))


def test_canadian_sin_unassigned_first_digits() -> None:
    # the CRA's documentation number passes Luhn but 0 (like 8) is never assigned
    assert not check("ca_sin", "046 454 286")
    assert not check("ca_sin", "846 454 281")


@pytest.mark.parametrize("seed", SEEDS)
def test_spanish_dni_and_nie(seed: int) -> None:
    dni, nie = gen("dni", seed=seed), gen("dni", "nie", seed=seed)
    assert check("es_dni", dni) and check("es_dni", nie)
    wrong = "A" if dni[-1] != "A" else "B"
    assert not check("es_dni", dni[:-1] + wrong)


def test_codice_fiscale() -> None:
    assert check("it_codice_fiscale", "RSSMRA85T10A562S")
    assert not check("it_codice_fiscale", "RSSMRA85T10A562X")
    for seed in SEEDS:
        assert check("it_codice_fiscale", gen("cf", seed=seed))


@pytest.mark.parametrize("seed", SEEDS)
def test_aadhaar(seed: int) -> None:
    value = gen("aadhaar", seed=seed)
    assert check("in_aadhaar", value)
    assert not check("in_aadhaar", value[:-1] + str((int(value[-1]) + 1) % 10))
    assert not check("in_aadhaar", "1" + value.replace(" ", "")[1:])  # first digit 2-9


# ---------------------------------------------------------------------------- network


@pytest.mark.parametrize("seed", SEEDS)
def test_network_generators_round_trip(seed: int) -> None:
    assert check("ipv4_address", gen("ipv4", seed=seed))
    assert check("ipv4_address", gen("ipv4", "private", seed=seed))
    assert check("ipv6_address", gen("ipv6", seed=seed))
    assert check("ipv6_address", gen("ipv6", "compressed", seed=seed))
    for style in ("colon", "dash", "cisco"):
        assert check("mac_address", gen("mac", style, seed=seed))
    assert check("email_address", gen("email", seed=seed))


@pytest.mark.parametrize("value", [
    "0.0.0.0", "127.0.0.1", "255.255.255.0",  # noqa: S104 "224.0.0.251", "10.0.0.0", "192.168.1.255",
    "1.2.3.4", "8.8.8.8", "010.001.002.003", "256.1.1.1", "1.3.6.1.4", "10.0.0",
])
def test_ipv4_not_reported(value: str) -> None:
    assert not check("ipv4_address", value)


def test_ipv4_private_and_public_reported() -> None:
    assert check("ipv4_address", "10.0.0.12")
    assert check("ipv4_address", "172.16.4.20")
    assert check("ipv4_address", "203.0.113.77")


@pytest.mark.parametrize("value", [
    "::", "::1", "ff02::1", "cafe::beef", "12:34:56", "00:1a:2b:3c:4d:5e", "1:2:3:4:5:6:7:8:9",
])
def test_ipv6_not_reported(value: str) -> None:
    assert not check("ipv6_address", value)


def test_mac_rules() -> None:
    assert not check("mac_address", "00:00:00:00:00:00")
    assert not check("mac_address", "FF-FF-FF-FF-FF-FF")
    assert not check("mac_address", "00:1a:2b:3c:4d:5e:6f")  # seven groups
    assert not check("mac_address", "00:1a:2b-3c:4d:5e")


@pytest.mark.parametrize("value", ["icon@2x.png", "sprite@3x.webp", "a@b", ".a@b.com",
                                   "a..b@c.com", "a@b.123"])
def test_email_rejects(value: str) -> None:
    assert not check("email_address", value)


def test_email_accepts_noreply_and_subdomains() -> None:
    assert check("email_address", "12345+octocat@users.noreply.github.com")
    assert check("email_address", "jane.roe@mail.example.co.uk")


# ---------------------------------------------------------------------------- catalog

LOOKALIKES = [
    "2024-05-01T10:22:13.123456Z", "2024-05-01 10:22:13+05:30", "1714557733", "1714557733123",
    "1714557733123456", "3f2b9c1e-8a4d-4e5f-9b6a-2c3d4e5f6a7b", "v1.2.3", "version 1.2.3.4",
    "release 10.0.19045.3803", "ORD-123456", "ORD-4111111111111111", "INV-2024-000123",
    "invoice #123456789", "localhost:8080", "port 5432", "line 1234", "at file.py:1234:56",
    "pi=3.14159265358979", "12:34:56", "05/01/2024", "build 20240501", "PR #123456",
]


PII_FILES = {f"recognizers/pii/{name}.toml"
             for name in ("financial", "government", "contact", "network")}


def _pii_engine() -> RuleEngine:
    catalog = load_catalog()
    rules = tuple(rule for rule in catalog.rules if rule.source in PII_FILES)
    assert rules
    return RuleEngine(Catalog(rules, catalog.allowlist))


def test_pii_rules_all_prefilter_in_hyperscan() -> None:
    assert _pii_engine()._always == ()


def test_agent_lookalikes_not_flagged_by_pii_rules() -> None:
    engine = _pii_engine()
    hex_values = [random.Random(i).randbytes(n).hex() for i, n in enumerate((20, 32, 4))]
    for value in [*LOOKALIKES, *hex_values]:
        for text in (value, f'{{"value": "{value}"}}', f"log: {value} done"):
            assert engine.detect(text) == [], text
