"""One conformance suite for every vault backend, plus the key ring and URL handling."""

from __future__ import annotations

import multiprocessing
import os
import random
import stat
import threading
import time
import traceback
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import VaultBackend, random_keyring

from sanitizer.errors import ConfigError, VaultError
from sanitizer.keys import KeyRing
from sanitizer.vault import SealedVault, Vault, open_vault

RNG = random.Random("test_vault")


def emails(count: int, rng: random.Random = RNG) -> list[str]:
    """Generated addresses (never real data)."""
    return [f"user{rng.randrange(10**9)}.{i}@example.test" for i in range(count)]


def canary() -> str:
    return f"CANARY-{os.urandom(8).hex()}@example.test"


# conformance -------------------------------------------------------------------------------
def test_satisfies_the_vault_protocol(vault_backend: VaultBackend, keyring: KeyRing) -> None:
    assert isinstance(vault_backend.vault(keyring), Vault)


def test_same_value_same_number_and_per_entity_numbering(
    vault_backend: VaultBackend, keyring: KeyRing
) -> None:
    vault = vault_backend.vault(keyring)
    a, b, c = emails(3)
    assert [vault.tokenize("s", "EMAIL", v) for v in (a, b, a, c, b)] == [1, 2, 1, 3, 2]
    assert vault.tokenize("s", "PHONE", "+1 555 0100") == 1  # numbering is per entity
    assert vault.tokenize("s", "PHONE", a) == 2  # same text, other entity: its own number
    other = vault_backend.vault(keyring)  # a second handle on the same store agrees
    assert other.tokenize("s", "EMAIL", b) == 2
    assert [vault.reveal("s", "EMAIL", n) for n in (1, 2, 3)] == [a, b, c]
    assert vault.reveal("s", "PHONE", 2) == a


def test_reveal_unknown_returns_none(vault_backend: VaultBackend, keyring: KeyRing) -> None:
    vault = vault_backend.vault(keyring)
    assert vault.reveal("nobody", "EMAIL", 1) is None
    vault.tokenize("s", "EMAIL", "x@example.test")
    for entity, number in [("EMAIL", 2), ("EMAIL", 0), ("EMAIL", -1), ("PHONE", 1), ("b d", 1)]:
        assert vault.reveal("s", entity, number) is None


def test_unicode_and_empty_values_round_trip(vault_backend: VaultBackend, keyring: KeyRing) -> None:
    vault = vault_backend.vault(keyring)
    values = ["Zoë Ångström-Łukasiewicz", "", "名前 テスト", "tab\tand\nnewline", "x" * 5000]
    numbers = [vault.tokenize("s", "PERSON", v) for v in values]
    assert [vault.reveal("s", "PERSON", n) for n in numbers] == values


def test_sessions_and_tenants_are_isolated(vault_backend: VaultBackend, keyring: KeyRing) -> None:
    vault = vault_backend.vault(keyring)
    a, b = emails(2)
    assert vault.tokenize("one", "EMAIL", a) == 1
    assert vault.reveal("two", "EMAIL", 1) is None
    assert vault.tokenize("two", "EMAIL", b) == 1
    assert vault.reveal("one", "EMAIL", 1) == a
    assert vault.reveal("two", "EMAIL", 1) == b
    other_tenant = vault_backend.vault(keyring, tenant="acme")
    assert other_tenant.reveal("one", "EMAIL", 1) is None
    assert other_tenant.tokenize("one", "EMAIL", b) == 1
    assert vault.reveal("one", "EMAIL", 1) == a


def test_forget_shreds_the_session(vault_backend: VaultBackend, keyring: KeyRing) -> None:
    vault = vault_backend.vault(keyring)
    a, b = emails(2)
    vault.tokenize("gone", "EMAIL", a)
    vault.tokenize("kept", "EMAIL", b)
    scope = "default/gone"
    meta = vault.store.get_session(scope)
    found = vault.store.load(scope, "EMAIL", 1)
    assert meta is not None and found is not None
    vault.forget("gone")
    assert vault.reveal("gone", "EMAIL", 1) is None
    assert vault.store.get_session(scope) is None
    assert vault.reveal("kept", "EMAIL", 1) == b
    raw = vault_backend.dump()  # a copy of the store taken now holds no salt and no blob
    assert meta.salt not in raw
    assert found[1] not in raw
    assert vault.tokenize("gone", "EMAIL", b) == 1  # a fresh session under the same name
    assert vault.reveal("gone", "EMAIL", 1) == b


def test_ttl_expires_sessions(vault_backend: VaultBackend, keyring: KeyRing) -> None:
    vault = vault_backend.vault(keyring, ttl=1.0)
    forever = vault_backend.vault(keyring)
    a, b = emails(2)
    assert vault.tokenize("brief", "EMAIL", a) == 1
    assert forever.tokenize("lasting", "EMAIL", b) == 1
    assert vault.reveal("brief", "EMAIL", 1) == a
    time.sleep(1.5)
    assert vault.reveal("brief", "EMAIL", 1) is None
    vault.expire()
    assert vault.store.get_session("default/brief") is None
    assert forever.reveal("lasting", "EMAIL", 1) == b
    assert vault.tokenize("brief", "EMAIL", b) == 1  # starts again with a new salt


def test_key_rotation_keeps_old_records_readable(vault_backend: VaultBackend) -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    before = vault_backend.vault(KeyRing({"old": old_key}, "old"))
    a, b = emails(2)
    assert before.tokenize("s", "EMAIL", a) == 1
    rotated = vault_backend.vault(KeyRing({"new": new_key, "old": old_key}, "new"))
    assert rotated.reveal("s", "EMAIL", 1) == a
    assert rotated.tokenize("s", "EMAIL", a) == 1  # no re-tokenizing: same value, same number
    assert rotated.tokenize("s", "EMAIL", b) == 2
    assert rotated.reveal("s", "EMAIL", 2) == b
    found = rotated.store.load("default/s", "EMAIL", 2)
    assert found is not None and found[1][2:5] == b"new"  # new records use the primary
    retired = vault_backend.vault(KeyRing({"new": new_key}, "new"))
    with pytest.raises(VaultError, match="not in the key ring"):
        retired.reveal("s", "EMAIL", 1)
    assert retired.tokenize("fresh", "EMAIL", a) == 1


def test_wrong_master_key_is_an_error(vault_backend: VaultBackend) -> None:
    right = vault_backend.vault(KeyRing({"k1": os.urandom(32)}, "k1"))
    wrong = vault_backend.vault(KeyRing({"k1": os.urandom(32)}, "k1"))
    value = canary()
    right.tokenize("s", "EMAIL", value)
    with pytest.raises(VaultError) as revealed:
        wrong.reveal("s", "EMAIL", 1)
    with pytest.raises(VaultError) as tokenized:
        wrong.tokenize("s", "EMAIL", value)
    for error in (revealed, tokenized):
        assert value not in str(error.value)
        assert value not in "".join(traceback.format_exception(error.value))


def test_tampered_or_moved_blobs_fail_authentication(
    vault_backend: VaultBackend, keyring: KeyRing
) -> None:
    vault = vault_backend.vault(keyring)
    a, b = canary(), canary()
    vault.tokenize("s", "EMAIL", a)
    vault.tokenize("s", "EMAIL", b)
    vault.tokenize("t", "EMAIL", a)
    places = [("default/s", 1), ("default/s", 2), ("default/t", 1)]
    loaded = [vault.store.load(scope, "EMAIL", n) for scope, n in places]
    blob1, blob2, other = (found[1] for found in loaded if found is not None)
    flipped = bytearray(blob1)
    flipped[-5] ^= 0x01
    vault_backend.set_blob("default/s", "EMAIL", 1, bytes(flipped))
    with pytest.raises(VaultError, match="failed authentication") as error:
        vault.reveal("s", "EMAIL", 1)
    assert a not in str(error.value)
    vault_backend.set_blob("default/s", "EMAIL", 1, blob2)  # moved to another number
    with pytest.raises(VaultError):
        vault.reveal("s", "EMAIL", 1)
    vault_backend.set_blob("default/s", "EMAIL", 1, other)  # from another session
    with pytest.raises(VaultError):
        vault.reveal("s", "EMAIL", 1)
    vault_backend.set_blob("default/s", "EMAIL", 1, b"\x01\x02k1")  # truncated
    with pytest.raises(VaultError):
        vault.reveal("s", "EMAIL", 1)
    vault_backend.set_blob("default/s", "EMAIL", 1, blob1)
    assert vault.reveal("s", "EMAIL", 1) == a


def _check_allocation(results: list[dict[str, int]], values: list[str]) -> None:
    merged: dict[str, set[int]] = defaultdict(set)
    for mapping in results:
        for value, number in mapping.items():
            merged[value].add(number)
    assert all(len(numbers) == 1 for numbers in merged.values()), "a value got two numbers"
    numbers = sorted(n for (n,) in merged.values())
    assert numbers == list(range(1, len(values) + 1)), "numbers must be unique, without gaps"


def test_threads_agree_on_numbers(vault_backend: VaultBackend, keyring: KeyRing) -> None:
    vault = vault_backend.vault(keyring)
    values = emails(60)
    results: list[dict[str, int]] = []
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        rng = random.Random(seed)
        mine: dict[str, int] = {}
        try:
            for _ in range(200):
                value = rng.choice(values)
                number = vault.tokenize("shared", "EMAIL", value)
                assert mine.setdefault(value, number) == number
        except BaseException as exc:
            errors.append(exc)
        results.append(mine)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for value in values:  # values no thread happened to draw
        results.append({value: vault.tokenize("shared", "EMAIL", value)})
    _check_allocation(results, values)
    assert all(vault.reveal("shared", "EMAIL", n) == v for v, n in results[0].items())


def _process_worker(args: tuple[str, str, list[str], int]) -> dict[str, int]:
    url, key_hex, values, seed = args
    vault = open_vault(url, KeyRing({"k1": bytes.fromhex(key_hex)}, "k1"))
    rng = random.Random(seed)
    mine: dict[str, int] = {}
    try:
        for _ in range(200):
            value = rng.choice(values)
            number = vault.tokenize("shared", "EMAIL", value)
            if mine.setdefault(value, number) != number:
                raise AssertionError("a value changed its number")
    finally:
        vault.close()
    return mine


def test_processes_agree_on_numbers(vault_backend: VaultBackend) -> None:
    if not vault_backend.shared_across_processes:
        pytest.skip("memory:// is private to one process")
    key = os.urandom(32)
    values = emails(60)
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        jobs = [(vault_backend.url, key.hex(), values, seed) for seed in range(4)]
        results = pool.map(_process_worker, jobs)
    vault = vault_backend.vault(KeyRing({"k1": key}, "k1"))
    for value in values:
        results.append({value: vault.tokenize("shared", "EMAIL", value)})
    _check_allocation(results, values)
    assert all(vault.reveal("shared", "EMAIL", n) == v for v, n in results[0].items())


def test_planted_value_never_reaches_the_store(
    vault_backend: VaultBackend, keyring: KeyRing
) -> None:
    vault = vault_backend.vault(keyring, ttl=3600)
    value = canary()
    number = vault.tokenize("canary", "EMAIL", value)
    vault.tokenize("canary", "EMAIL", value.upper())
    raw = vault_backend.dump()
    assert raw  # the dump does see the store
    for form in (value, value.upper(), value.encode().hex()):
        assert form.encode() not in raw
    assert value not in repr(vault) and value not in repr(vault.store)
    assert vault.reveal("canary", "EMAIL", number) == value


# URLs, errors ------------------------------------------------------------------------------
def test_open_vault_urls(tmp_path: Path, keyring: KeyRing, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_vault("sqlite:///rel/dir/tokens.db", keyring) as vault:
        assert vault.tokenize("s", "EMAIL", "a@example.test") == 1
    db = tmp_path / "rel" / "dir" / "tokens.db"
    assert db.exists()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    with open_vault(f"sqlite:///{db}", keyring) as again:  # absolute: four slashes
        assert again.reveal("s", "EMAIL", 1) == "a@example.test"
    assert isinstance(open_vault("memory://", keyring), SealedVault)
    for bad in ("ftp://x", "tokens.db", "sqlite://"):
        with pytest.raises(ConfigError):
            open_vault(bad, keyring)
    with pytest.raises(ConfigError):
        open_vault("postgresql://postgres@127.0.0.1/test?table=Robert'); DROP", keyring)
    with pytest.raises(ConfigError):
        SealedVault(open_vault("memory://", keyring).store, keyring, tenant="a/b")


def test_unreachable_backends_are_vault_errors(keyring: KeyRing) -> None:
    secret = "pw-" + os.urandom(6).hex()
    for url in (
        f"redis://:{secret}@127.0.0.1:1/0",
        f"postgresql://postgres:{secret}@127.0.0.1:1/test",
    ):
        with pytest.raises(VaultError) as error:
            open_vault(url, keyring)
        text = "".join(traceback.format_exception(error.value))
        assert secret not in text
        assert "127.0.0.1:1" in str(error.value)


def test_bad_session_and_entity_are_rejected(keyring: KeyRing) -> None:
    vault = open_vault("memory://", keyring)
    for session, entity in [("", "EMAIL"), ("x" * 600, "EMAIL"), ("s", "E MAIL"), ("s", "")]:
        with pytest.raises(VaultError):
            vault.tokenize(session, entity, "v@example.test")


# key ring ----------------------------------------------------------------------------------
def test_keyring_formats_and_rotation_order(tmp_path: Path) -> None:
    k1, k2 = os.urandom(32), os.urandom(32)
    import base64

    single = KeyRing.from_env({"SANITIZER_MASTER_KEY": k1.hex()})
    assert single.kids == ("default",)
    listed = KeyRing.from_env(
        {"SANITIZER_MASTER_KEY": f"new:{base64.b64encode(k2).decode()}, old:{k1.hex()}"}
    )
    assert listed.primary_kid == "new" and listed.kids == ("new", "old")
    urlsafe = base64.urlsafe_b64encode(k1).decode().rstrip("=")
    assert KeyRing.parse(urlsafe).session_key("default", "t", "s", b"salt") == single.session_key(
        "default", "t", "s", b"salt"
    )
    file = KeyRing.generate_key_file(tmp_path / "master.key")
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    from_file = KeyRing.from_env({"SANITIZER_MASTER_KEY_FILE": str(file)})
    assert from_file.primary_kid == "k1"
    explicit = KeyRing.from_env({"SANITIZER_MASTER_KEY": k1.hex()}, key_file=file)
    assert explicit.audit_key() == from_file.audit_key()
    with pytest.raises(ConfigError, match="already exists"):
        KeyRing.generate_key_file(file)
    assert repr(listed).count("new") == 1 and k1.hex() not in repr(listed)


@pytest.mark.parametrize(
    "text",
    ["", "tooshort", "zz" * 32, "a:b:c", "k1:" + "ab" * 31, "bad kid:" + "ab" * 32,
     "ab" * 32 + "," + "cd" * 32, "k1:" + "ab" * 32 + ",k1:" + "cd" * 32],
)
def test_keyring_rejects_bad_keys_without_echoing_them(text: str) -> None:
    with pytest.raises(ConfigError) as error:
        KeyRing.parse(text)
    message = str(error.value)
    assert "\n" not in message
    for part in text.replace(",", ":").split(":"):
        if len(part) > 8:
            assert part not in message


def test_keyring_missing_key_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no master key") as error:
        KeyRing.from_env({})
    assert "\n" not in str(error.value)
    with pytest.raises(ConfigError, match="does not exist"):
        KeyRing.from_env({"SANITIZER_MASTER_KEY_FILE": str(tmp_path / "none")})


def test_derived_keys_are_independent_and_fingerprints_keyed() -> None:
    ring = random_keyring()
    salt = os.urandom(32)
    derived = {
        ring.session_key("k1", "t", "s", salt),
        ring.session_key("k1", "t", "s", salt, "lookup"),
        ring.session_key("k1", "t", "s2", salt),
        ring.session_key("k1", "t2", "s", salt),
        ring.session_key("k1", "t", "s", os.urandom(32)),
        ring.fingerprint_key("t"),
        ring.audit_key(),
    }
    assert len(derived) == 7
    fp = ring.fingerprint("EMAIL", "a@example.test")
    assert len(fp) == 32 and int(fp, 16) >= 0
    assert fp == ring.fingerprint("EMAIL", "a@example.test")
    assert fp != ring.fingerprint("PHONE", "a@example.test")
    assert fp != ring.fingerprint("EMAIL", "a@example.test", tenant="other")
    assert fp != random_keyring().fingerprint("EMAIL", "a@example.test")
    assert ring.audit_keys()[0] == ring.audit_key()
    ephemeral = KeyRing.ephemeral()
    assert ephemeral.kids == ("ephemeral",)
