"""Validators and example generators: network addresses and e-mail.

What is *not* reported, and why (an address that identifies nobody only breaks the agent):

* IPv4: ``0.0.0.0/8``, loopback ``127/8``, multicast and reserved (``224.0.0.0`` and up,
  which covers netmasks like ``255.255.255.0``), network and broadcast addresses (last
  octet 0 or 255), octets with leading zeros (``010.001…`` is not how addresses are
  written), and dotted quads of single digits (``1.2.3.4``: far more often a version or a
  section number than a host; public resolvers such as ``8.8.8.8`` identify nobody either).
  Private ranges (10/8, 172.16/12, 192.168/16) *are* reported: they map an internal network.
* IPv6: unspecified ``::``, loopback ``::1``, multicast, and forms with fewer than three
  non-empty groups (``cafe::beef`` is more likely a C++ name than a host).
* MAC: all-zero and broadcast addresses.
* E-mail: "addresses" whose top-level domain is a file extension (``icon@2x.png``).
"""

from __future__ import annotations

import ipaddress
import random
import string
from collections.abc import Sequence

from .basic import Generator, Validator

# ---------------------------------------------------------------------------- IP


def ipv4_address(value: str) -> bool:
    """Exactly four decimal octets of a unicast address that can name a host."""
    parts = value.split(".")
    if len(parts) != 4 or not all(p.isdigit() and len(p) <= 3 for p in parts):
        return False
    if any(len(p) > 1 and p[0] == "0" for p in parts):
        return False
    octets = [int(p) for p in parts]
    if any(o > 255 for o in octets):
        return False
    first, last = octets[0], octets[3]
    if first in (0, 127) or first >= 224 or last in (0, 255):
        return False
    return not all(o < 10 for o in octets)


def ipv6_address(value: str) -> bool:
    """A parseable IPv6 address (full, compressed or IPv4-embedded) that can name a host."""
    try:
        address = ipaddress.IPv6Address(value)
    except ValueError:
        return False
    if address.is_unspecified or address.is_loopback or address.is_multicast:
        return False
    groups = [g for g in value.split(":") if g]
    return len(groups) >= 3


def _gen_ipv4(rng: random.Random, args: Sequence[str]) -> str:
    """``{ipv4[:private]}`` - a host address that :func:`ipv4_address` accepts."""
    while True:
        if args and args[0] == "private":
            value = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        else:
            value = ".".join(str(rng.randint(11, 223) if i == 0 else rng.randint(0, 254))
                             for i in range(4))
        if ipv4_address(value):
            return value


def _gen_ipv6(rng: random.Random, args: Sequence[str]) -> str:
    """``{ipv6[:full|compressed]}`` - a global unicast address (2000::/3)."""
    groups = [rng.randint(0x2000, 0x3FFF)] + [rng.randint(0, 0xFFFF) for _ in range(7)]
    if args and args[0] == "compressed":
        groups[3] = groups[4] = groups[5] = 0
        return str(ipaddress.IPv6Address(":".join(f"{g:x}" for g in groups)))
    return ":".join(f"{g:04x}" for g in groups)


# ---------------------------------------------------------------------------- MAC


def mac_address(value: str) -> bool:
    """Six octets with one consistent separator (``:`` or ``-``) or Cisco ``xxxx.xxxx.xxxx``;
    not all-zero, not broadcast."""
    for sep, count, width in ((":", 6, 2), ("-", 6, 2), (".", 3, 4)):
        parts = value.split(sep)
        if len(parts) == count and all(len(p) == width for p in parts):
            break
    else:
        return False
    digits = "".join(parts)
    if not all(c in string.hexdigits for c in digits):
        return False
    return digits.lower() not in ("000000000000", "ffffffffffff")


def _gen_mac(rng: random.Random, args: Sequence[str]) -> str:
    """``{mac[:colon|dash|cisco]}``."""
    octets = [rng.randint(0, 255) for _ in range(6)]
    octets[0] &= 0xFC  # unicast, globally administered
    style = args[0] if args else "colon"
    if style == "cisco":
        raw = "".join(f"{o:02x}" for o in octets)
        return ".".join(raw[i:i + 4] for i in range(0, 12, 4))
    return ("-" if style == "dash" else ":").join(f"{o:02x}" for o in octets)


# ---------------------------------------------------------------------------- e-mail

# Top-level "domains" that are really file extensions (retina assets, bundles…).
_FILE_EXTENSIONS = frozenset({
    "png", "jpg", "jpeg", "gif", "svg", "webp", "avif", "ico", "bmp", "tif", "tiff",
    "heic", "css", "scss", "sass", "less", "js", "mjs", "cjs", "jsx", "ts", "tsx", "map",
    "json", "html", "htm", "xml", "txt", "lock", "woff", "woff2", "ttf", "otf", "eot",
    "mp3", "mp4", "webm", "wav", "pdf", "zip", "gz", "tgz", "whl", "min", "vue", "svelte",
})


def email_address(value: str) -> bool:
    """Local part and a domain with a plausible top-level domain; no empty labels."""
    local, _, domain = value.rpartition("@")
    if not local or not domain or local.startswith(".") or local.endswith("."):
        return False
    if ".." in local:
        return False
    labels = domain.split(".")
    tld = labels[-1].lower()
    if len(labels) < 2 or not tld.isalpha() or tld in _FILE_EXTENSIONS:
        return False
    return all(0 < len(label) <= 63 for label in labels)


def _gen_email(rng: random.Random, args: Sequence[str]) -> str:
    """``{email[:domain]}`` - a plausible address (reserved example domains by default)."""
    first = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 8)))
    last = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 9)))
    local = rng.choice([f"{first}.{last}", f"{first}{last}", f"{first[0]}{last}",
                        f"{first}_{last}{rng.randint(1, 99)}", f"{first}+{last}"])
    domain = args[0] if args else rng.choice(["example.com", "example.org", "example.net",
                                              "mail.example.co.uk", "corp.example.io"])
    return f"{local}@{domain}"


VALIDATORS: dict[str, Validator] = {
    "ipv4_address": ipv4_address,
    "ipv6_address": ipv6_address,
    "mac_address": mac_address,
    "email_address": email_address,
}

GENERATORS: dict[str, Generator] = {
    "ipv4": _gen_ipv4,
    "ipv6": _gen_ipv6,
    "mac": _gen_mac,
    "email": _gen_email,
}
