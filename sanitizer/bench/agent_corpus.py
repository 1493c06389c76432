"""A generated agent-traffic corpus: prompts, tool results, memory notes and logs.

Every record is built from hand-written templates with a fixed seed, through
:func:`sanitizer.examples.expand` and its generators (``{alnum:24}``, ``{card:visa}``, …) plus
a few corpus generators below. ``«LABEL|…»`` marks a planted value and its gold label: the
benchmark labels for secrets and PII, ``BENIGN`` for look-alikes that a redactor should leave
alone (UUIDs, git SHAs, hashes, digests, versions, timestamps, order ids, placeholders).

Secrets are random strings in the shape of real ones — never real credentials. Names and
addresses come from the small hand-written pools here; no Faker list is used, and none is
used for detection anywhere in the project.

This corpus is written by this project's team, like its rules: it is not an independent test
set, and the report says so.
"""

from __future__ import annotations

import base64
import random
import re
import string
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..examples import expand
from ..validators import GENERATORS, Generator
from .labels import BENCH_LABELS, BENIGN
from .records import Dataset, Record, Span, spread

NAME = "agent_traffic"
DEFAULT_SIZE = 1200
DEFAULT_SEED = 20250114

# -- hand-written pools ------------------------------------------------------------------

FIRST_NAMES = (
    "Maria", "James", "Aiko", "Oluwaseun", "Priya", "Mateo", "Fatima", "Liam", "Chen",
    "Sofia", "Dmitri", "Amara", "Noah", "Ingrid", "Rahul", "Yara", "Tomasz", "Grace", "Kwame",
    "Elena", "Hiroshi", "Leila", "Samuel", "Nadia", "Lucas", "Zainab", "Erik", "Mei", "Diego",
    "Hannah", "Arjun", "Chloe", "Omar", "Freya", "Kofi", "Isabel", "Viktor", "Aaliyah",
    "Felix", "Rosa", "Björn", "Anaïs",
)
LAST_NAMES = (
    "Okafor", "Lindqvist", "Tanaka", "Fernandez", "Kowalski", "Nguyen", "Haddad", "Brennan",
    "Castillo", "Mehta", "Johansson", "Adeyemi", "Moreau", "Petrov", "Walsh", "Yamamoto",
    "Osei", "Romano", "Ivanova", "Kapoor", "Delgado", "Fischer", "O'Connor", "Mwangi",
    "Larsen", "Rossi", "Kaur", "Bianchi", "Dubois", "Novak", "Harrington", "Achebe", "Sato",
    "Morales", "Becker", "Sullivan", "Abbasi", "Eriksen", "Costa", "Müller",
)
STREETS = (
    "Larkspur Lane", "Maple Avenue", "Harbor View Road", "Quarry Street", "Elm Court",
    "Wexford Drive", "Birchwood Boulevard", "Millbrook Way", "Cedar Hollow Lane",
    "Orchard Terrace", "Foundry Street", "Juniper Place", "Riverside Parade", "Kestrel Road",
)
UK_STREETS = ("Kingfisher Close", "Saint Anne's Row", "Tannery Yard", "Bramble Mews",
              "Cobden Street", "Wharf Road")
DE_STREETS = ("Lindenstraße", "Am Weinberg", "Schillerweg", "Kastanienallee", "Hafenstraße")
US_CITIES = (("Portland", "OR", "972"), ("Austin", "TX", "787"), ("Columbus", "OH", "432"),
             ("Raleigh", "NC", "276"), ("Tucson", "AZ", "857"), ("Madison", "WI", "537"),
             ("Boise", "ID", "837"), ("Albany", "NY", "122"), ("Savannah", "GA", "314"),
             ("Spokane", "WA", "992"), ("Omaha", "NE", "681"), ("Burlington", "VT", "054"))
UK_CITIES = (("Leeds", "LS"), ("Bristol", "BS"), ("Sheffield", "S"), ("Cardiff", "CF"),
             ("Norwich", "NR"))
DE_CITIES = (("Berlin", "10"), ("Leipzig", "04"), ("Bremen", "28"), ("Freiburg", "79"))
MAIL_DOMAINS = ("example.com", "example.org", "mail.example.net", "gmail.com", "outlook.com",
                "proton.me", "fastmail.fm", "northwind-traders.com", "acme-logistics.io")
US_AREA_CODES = ("212", "213", "312", "415", "503", "617", "646", "702", "713", "718", "720",
                 "206", "305", "404", "512", "602", "615", "971", "303", "919")
PASSWORD_WORDS = ("Harbor", "Falcon", "Maple", "Copper", "Winter", "Orchid", "Granite",
                  "Sunset", "Pepper", "Nebula")
PLACEHOLDERS = ("YOUR_API_KEY", "<your-api-key>", "sk-xxxxxxxxxxxxxxxxxxxxxxxx",
                "${DB_PASSWORD}", "$GITHUB_TOKEN", "********", "<redacted>",
                "AKIAIOSFODNN7EXAMPLE", "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                "REPLACE_ME", "{{ secrets.API_TOKEN }}", "xoxb-your-token-here")
NPM_PACKAGES = ("@babel/core", "@types/node", "@aws-sdk/client-s3", "@angular/core",
                "@nestjs/common", "@vitejs/plugin-react", "@octokit/rest")
PEM_KINDS = {"rsa": "RSA PRIVATE KEY", "ec": "EC PRIVATE KEY", "pkcs8": "PRIVATE KEY",
             "openssh": "OPENSSH PRIVATE KEY"}
_B64 = string.ascii_letters + string.digits + "+/"


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())


# -- persona: one consistent person per snippet --------------------------------------------


@dataclass(frozen=True, slots=True)
class Persona:
    first: str
    last: str
    email: str
    phone: str
    address: str
    city: str

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


def _phone(rng: random.Random) -> str:
    """A number that libphonenumber accepts as valid, in a common written layout."""
    import phonenumbers

    for _ in range(100):
        kind = rng.random()
        if kind < 0.6:
            area, exchange = rng.choice(US_AREA_CODES), str(rng.randint(201, 989))
            line = f"{rng.randint(0, 9999):04d}"
            if exchange.endswith("11") or exchange == "555":
                continue
            text = rng.choice((f"({area}) {exchange}-{line}", f"{area}-{exchange}-{line}",
                               f"+1 {area} {exchange} {line}", f"+1-{area}-{exchange}-{line}",
                               f"{area}.{exchange}.{line}"))
            region = "US"
        elif kind < 0.8:
            text = rng.choice((f"+44 20 7{rng.randint(100, 999)} {rng.randint(1000, 9999)}",
                               f"+44 7{rng.randint(400, 999)} {rng.randint(100000, 999999)}",
                               f"020 7{rng.randint(100, 999)} {rng.randint(1000, 9999)}"))
            region = "GB"
        else:
            text = rng.choice((f"+49 30 {rng.randint(1000000, 99999999)}",
                               f"+49 151 {rng.randint(10000000, 99999999)}"))
            region = "DE"
        if phonenumbers.is_valid_number(phonenumbers.parse(text, region)):
            return text
    raise RuntimeError("no valid phone number generated")


def _city(rng: random.Random) -> str:
    return rng.choice([c for c, _, _ in US_CITIES] + [c for c, _ in UK_CITIES]
                      + [c for c, _ in DE_CITIES])


def _address(rng: random.Random) -> tuple[str, str]:
    """A postal address and its city."""
    kind = rng.random()
    if kind < 0.6:
        city, state, zip3 = rng.choice(US_CITIES)
        street = f"{rng.randint(2, 9800)} {rng.choice(STREETS)}"
        if rng.random() < 0.3:
            street += f" Apt {rng.randint(1, 40)}"
        return f"{street}, {city}, {state} {zip3}{rng.randint(10, 99)}", city
    if kind < 0.8:
        city, area = rng.choice(UK_CITIES)
        postcode = (f"{area}{rng.randint(1, 20)} {rng.randint(1, 9)}"
                    f"{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}")
        return f"{rng.randint(1, 200)} {rng.choice(UK_STREETS)}, {city} {postcode}", city
    city, plz = rng.choice(DE_CITIES)
    return (f"{rng.choice(DE_STREETS)} {rng.randint(1, 120)}, {plz}{rng.randint(100, 999)} "
            f"{city}"), city


def _email_for(rng: random.Random, first: str, last: str) -> str:
    f, la = _ascii(first), _ascii(last)
    local = rng.choice((f"{f}.{la}", f"{f}{la}", f"{f[0]}{la}", f"{f}_{la}{rng.randint(1, 99)}",
                        f"{la}.{f}"))
    return f"{local}@{rng.choice(MAIL_DOMAINS)}"


def persona(rng: random.Random) -> Persona:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    address, city = _address(rng)
    return Persona(first, last, _email_for(rng, first, last), _phone(rng), address, city)


def _persona_generators(p: Persona) -> dict[str, Generator]:
    def const(value: str) -> Generator:
        return lambda _rng, _args: value

    return {"p_first": const(p.first), "p_last": const(p.last), "p_name": const(p.name),
            "p_email": const(p.email), "p_phone": const(p.phone),
            "p_address": const(p.address), "p_city": const(p.city)}


# -- corpus generators ---------------------------------------------------------------------


def _g_person(rng: random.Random, _args: Sequence[str]) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _g_email(rng: random.Random, _args: Sequence[str]) -> str:
    return _email_for(rng, rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES))


def _g_password(rng: random.Random, _args: Sequence[str]) -> str:
    if rng.random() < 0.4:
        return (f"{rng.choice(PASSWORD_WORDS)}{rng.choice('!#%&*?')}"
                f"{rng.randint(10, 9999)}")
    alphabet = string.ascii_letters + string.digits + "!#%&*-_?"
    while True:
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(12, 18)))
        if (any(c.isdigit() for c in value) and any(c.isupper() for c in value)
                and any(not c.isalnum() for c in value)):
            return value


def _g_pem(rng: random.Random, args: Sequence[str]) -> str:
    kind = PEM_KINDS[args[0] if args else "rsa"]
    head = "b3BlbnNzaC1rZXktdjEAAAAA" if kind.startswith("OPENSSH") else "MIIEpAIBAAKCAQEA"
    body = head + "".join(rng.choice(_B64) for _ in range(64 * rng.randint(6, 10) - len(head)))
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    lines.append("".join(rng.choice(_B64) for _ in range(rng.randint(8, 40))) + "==")
    return f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----"


def _g_basic_auth(rng: random.Random, _args: Sequence[str]) -> str:
    user = rng.choice(("admin", "deploy", "svc-reports", "ci-bot", _ascii(rng.choice(FIRST_NAMES))))
    return base64.b64encode(f"{user}:{_g_password(rng, ())}".encode()).decode()


def _g_semver(rng: random.Random, _args: Sequence[str]) -> str:
    return f"{rng.randint(0, 24)}.{rng.randint(0, 40)}.{rng.randint(0, 30)}"


def _g_ts(rng: random.Random, _args: Sequence[str]) -> str:
    return (f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:"
            f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
            + rng.choice(("Z", f".{rng.randint(0, 999):03d}Z", "+01:00")))


def _g_date(rng: random.Random, _args: Sequence[str]) -> str:
    return f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _g_gitdate(rng: random.Random, _args: Sequence[str]) -> str:
    day = rng.choice(("Mon", "Tue", "Wed", "Thu", "Fri"))
    month = rng.choice(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Sep", "Oct", "Nov"))
    return (f"{day} {month} {rng.randint(1, 28)} {rng.randint(0, 23):02d}:"
            f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d} 2025 +0100")


def _g_epoch_ms(rng: random.Random, _args: Sequence[str]) -> str:
    return str(rng.randint(1_735_689_600_000, 1_767_225_599_000))


def _g_order_id(rng: random.Random, _args: Sequence[str]) -> str:
    return rng.choice((f"ORD-2025-{rng.randint(100000, 999999)}",
                       f"#{rng.randint(1000000, 9999999)}",
                       "A-" + "".join(rng.choice(string.ascii_uppercase + string.digits)
                                      for _ in range(7))))


def _g_pkg(rng: random.Random, _args: Sequence[str]) -> str:
    return f"{rng.choice(NPM_PACKAGES)}@{_g_semver(rng, ())}"


def _g_placeholder(rng: random.Random, _args: Sequence[str]) -> str:
    return rng.choice(PLACEHOLDERS)


CORPUS_GENERATORS: Mapping[str, Generator] = {
    "person": _g_person, "email2": _g_email, "password": _g_password, "pem": _g_pem,
    "basic_auth": _g_basic_auth, "semver": _g_semver, "ts": _g_ts, "date": _g_date,
    "gitdate": _g_gitdate, "epoch_ms": _g_epoch_ms, "order_id": _g_order_id, "pkg": _g_pkg,
    "placeholder": _g_placeholder, "uuid": GENERATORS["svc_uuid"],
    "phone": lambda rng, _a: _phone(rng), "address": lambda rng, _a: _address(rng)[0],
    "city": lambda rng, _a: _city(rng),
}

# -- templates -----------------------------------------------------------------------------

PROMPTS = (
    "Hi, this is «PERSON|{p_name}». Can you change the delivery address of order "
    "«BENIGN|{order_id}» to «LOCATION|{p_address}»? You can reach me at «PHONE|{p_phone}».",
    "Please draft a reply to «PERSON|{p_name}» («EMAIL|{p_email}») saying the refund for "
    "invoice «BENIGN|INV-{upnum:8}» was approved on «BENIGN|{date}».",
    "Why does this fail?\n```\nexport AWS_ACCESS_KEY_ID=«SECRET|{aws_key_id}»\n"
    "export AWS_SECRET_ACCESS_KEY=«SECRET|{base64:40}»\naws s3 ls s3://reports-{lownum:6}/\n"
    "```\nI get AccessDenied since «BENIGN|{ts}».",
    "Can you check why the workflow fails? I set GITHUB_TOKEN to «SECRET|{github_token:ghp}» "
    "in the repo settings and pinned «BENIGN|actions/checkout@v4».",
    "My card «CREDIT_CARD|{card:visa:space}» was charged twice for order «BENIGN|{order_id}». "
    "The charge id is «BENIGN|ch_{alnum:24}».",
    "Wire the deposit to IBAN «IBAN|{iban:DE:space}» in the name of «PERSON|{p_name}», "
    "reference «BENIGN|{order_id}».",
    "For the payroll form: «PERSON|{p_name}», SSN «SSN|{ssn}», home address "
    "«LOCATION|{p_address}».",
    "I pasted the wrong thing earlier, my password is «SECRET|{password}» - please don't "
    "store it anywhere.",
    "Summarise this Slack thread for me. The bot token in the snippet is "
    "«SECRET|xoxb-{digits:11}-{digits:13}-{alnum:24}» and it posts to #deploys.",
    "Set the key in the config: OPENAI_API_KEY=«SECRET|sk-proj-{b64url:64}T3BlbkFJ{b64url:64}»"
    " and use the smallest model.",
    "Our staging database is postgres://app_user:«SECRET|{password}»@db-staging.internal:5432/"
    "orders - write a migration that adds an index on created_at.",
    "Replace «BENIGN|YOUR_API_KEY» in the snippet with a call to os.environ and bump the SDK "
    "to «BENIGN|{semver}»:\n```python\nclient = Client(api_key=\"«BENIGN|YOUR_API_KEY»\")\n```",
    "Compare commit «BENIGN|{hex:40}» with «BENIGN|{hex:7}» and tell me which one introduced "
    "the regression in «BENIGN|v{semver}».",
    "Book a table for «PERSON|{p_first}» and two guests near «LOCATION|{city}»; send the "
    "confirmation to «EMAIL|{p_email}».",
    "The Stripe webhook keeps failing: the signing secret is «SECRET|whsec_{alnum:32}» and "
    "the endpoint id «BENIGN|we_{alnum:24}».",
    "Here is the curl that works locally:\ncurl -H \"Authorization: Bearer "
    "«SECRET|{saas_jwt}»\" https://api.internal.example/v2/orders/«BENIGN|{uuid}»",
    "Use the Anthropic key «SECRET|sk-ant-api03-{b64url:93}AA» for the eval run and keep the "
    "results under run «BENIGN|{uuid}».",
    "Translate this note for «PERSON|{p_name}» who lives at «LOCATION|{p_address}»: the "
    "parcel «BENIGN|{digits:22}» arrives on «BENIGN|{date}».",
    "npm install fails with EINTEGRITY for «BENIGN|{pkg}»; the expected integrity is "
    "«BENIGN|sha512-{base64:86}==».",
    "I'm «PERSON|{p_name}», employee number «BENIGN|E-{digits:6}», and my phone is "
    "«PHONE|{p_phone}».",
    "Please forward the contract to «EMAIL|{email2}» and copy «PERSON|{person}».",
)

TOOL_RESULTS = (
    "$ cat .env\nNODE_ENV=production\nDATABASE_URL=postgres://svc_orders:«SECRET|{password}»@"
    "db-prod.internal:5432/orders\nSTRIPE_SECRET_KEY=«SECRET|sk_live_{alnum:24}»\n"
    "SENTRY_RELEASE=«BENIGN|{hex:40}»\nLOG_LEVEL=info",
    "commit «BENIGN|{hex:40}»\nAuthor: «PERSON|{p_name}» <«EMAIL|{p_email}»>\n"
    "Date:   «BENIGN|{gitdate}»\n\n    Bump parser to «BENIGN|{semver}»",
    "{\"id\": \"«BENIGN|cus_{alnum:14}»\", \"name\": \"«PERSON|{p_name}»\", \"email\": "
    "\"«EMAIL|{p_email}»\", \"phone\": \"«PHONE|{p_phone}»\", \"address\": "
    "\"«LOCATION|{p_address}»\", \"created\": \"«BENIGN|{ts}»\"}",
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: api-credentials\n  uid: «BENIGN|{uuid}»\n"
    "data:\n  password: «SECRET|{base64:24}»\n  token: «SECRET|{base64:44}»\ntype: Opaque",
    "REPOSITORY                  TAG       IMAGE ID\nregistry.example.com/api   «BENIGN|{semver}»"
    "    «BENIGN|{hex:12}»\nDigest: «BENIGN|sha256:{hex:64}»",
    "Traceback (most recent call last):\n  File \"/srv/app/billing.py\", line 88, in charge\n"
    "    stripe.Charge.create(api_key=\"«SECRET|sk_live_{alnum:24}»\", amount=1999)\n"
    "stripe.error.CardError: card declined (request «BENIGN|req_{alnum:14}»)",
    "Outputs:\n\ndb_endpoint = \"orders.cluster-{lownum:10}.eu-west-1.rds.amazonaws.com\"\n"
    "db_password = \"«SECRET|{password}»\"",
    "$ env | grep -i token\nGITHUB_TOKEN=«SECRET|{github_token:ghp}»\n"
    "NPM_TOKEN=«SECRET|{npm_token}»\nHF_TOKEN=«SECRET|hf_{alpha:34}»\n"
    "TOKENIZERS_PARALLELISM=false",
    "Found 2 contacts:\n1. «PERSON|{p_name}» - «EMAIL|{p_email}» - «PHONE|{p_phone}»\n"
    "2. «PERSON|{person}» - «EMAIL|{email2}»",
    "{\"payment_method\": {\"card\": {\"number\": \"«CREDIT_CARD|{card:mastercard}»\", "
    "\"exp_month\": 8}}, \"billing\": {\"iban\": \"«IBAN|{iban:FR}»\"}, \"idempotency_key\": "
    "\"«BENIGN|{uuid}»\"}",
    "server:\n  port: 8443\nredis:\n  url: redis://:«SECRET|{alnum:24}»@cache.internal:6379/0\n"
    "sendgrid:\n  api_key: «SECRET|SG.{b64url:22}.{b64url:43}»\nbuild: «BENIGN|{hex:40}»",
    "$ cat ~/.ssh/id_deploy\n«SECRET|{pem:openssh}»",
    "$ cat certs/server.key\n«SECRET|{pem:rsa}»",
    "Contact our support team: «PERSON|{p_name}», «PHONE|{p_phone}», «LOCATION|{p_address}». "
    "Page last updated «BENIGN|{date}».",
    "src/settings.py:12:SECRET_KEY = \"«SECRET|{b64url:50}»\"\nsrc/settings.py:13:DEBUG = False",
    "| id | name | email | ssn |\n|----|------|-------|-----|\n| «BENIGN|{digits:6}» | "
    "«PERSON|{p_name}» | «EMAIL|{p_email}» | «SSN|{ssn}» |",
    "AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName=st{lownum:10};"
    "AccountKey=«SECRET|{base64:86}==»;EndpointSuffix=core.windows.net",
    "«BENIGN|{pkg}»\n├── «BENIGN|{pkg}»\n└── «BENIGN|{pkg}»",
    "{\"access_token\": \"«SECRET|{saas_jwt}»\", \"token_type\": \"Bearer\", \"expires_in\": "
    "3600, \"request_id\": \"«BENIGN|{uuid}»\"}",
)

MEMORY_NOTES = (
    "User «PERSON|{p_name}» prefers e-mail («EMAIL|{p_email}») over phone calls.",
    "Staging deploys use the Vercel token «SECRET|{alnum:24}»; rotate it after "
    "«BENIGN|{date}».",
    "Customer «PERSON|{p_name}» lives at «LOCATION|{p_address}» and pays by IBAN "
    "«IBAN|{iban:GB}».",
    "Remember: the Grafana admin password is «SECRET|{password}», dashboard "
    "«BENIGN|{uuid}».",
    "Release «BENIGN|v{semver}» shipped on «BENIGN|{date}» from commit «BENIGN|{hex:7}»; the "
    "next milestone is in two weeks.",
    "«PERSON|{p_first}» asked us to call back at «PHONE|{p_phone}» about order "
    "«BENIGN|{order_id}».",
    "Weather tool: api key «SECRET|{hex:32}»; the docs say to send «BENIGN|{placeholder}» in "
    "the header when testing.",
    "The Maps key for the travel agent is «SECRET|AIza{b64url:35}»; quota resets at "
    "«BENIGN|{ts}».",
    "Trip: «PERSON|{p_name}» flies from «LOCATION|{city}» to «LOCATION|{city}» on "
    "«BENIGN|{date}», booking reference «BENIGN|{upper:6}».",
    "«PERSON|{p_name}» paid with card «CREDIT_CARD|{card:discover}»; receipt «BENIGN|{order_id}».",
)

LOGS = (
    "«BENIGN|{ts}» INFO  request_id=«BENIGN|{uuid}» user=«EMAIL|{p_email}» ip=«IP|{ipv4}» "
    "method=GET path=/api/v1/orders status=200 latency_ms=42",
    "«BENIGN|{ts}» WARN  auth failed for token «SECRET|{github_token:ghp}» from «IP|{ipv4}» "
    "(attempt 3)",
    "«BENIGN|{ts}» DEBUG outgoing headers: {'Authorization': 'Basic «SECRET|{basic_auth}»', "
    "'X-Trace-Id': '«BENIGN|{hex:32}»'}",
    "«BENIGN|{ts}» ERROR payment failed card=«CREDIT_CARD|{card:amex:dash}» "
    "customer=«PERSON|{p_name}» order=«BENIGN|{order_id}»",
    "«BENIGN|{ts}» INFO  worker-3 processed batch «BENIGN|{digits:5}» in 812 ms (build "
    "«BENIGN|{semver}», commit «BENIGN|{hex:40}»)",
    "«BENIGN|{ts}» INFO  connecting to mongodb+srv://svc_api:«SECRET|{alnum:20}»@cluster0."
    "{lownum:5}.mongodb.net/app",
    "«BENIGN|{ts}» INFO  pod «BENIGN|api-{lownum:10}-{lownum:5}» started, image "
    "«BENIGN|sha256:{hex:64}»",
    "«BENIGN|{ts}» INFO  sent SMS to «PHONE|{p_phone}» for «PERSON|{p_name}»",
    "«BENIGN|{ts}» WARN  config still holds the placeholder «BENIGN|{placeholder}»; falling "
    "back to anonymous access",
    "«BENIGN|{ts}» INFO  client «IP|{ipv6}» resumed session «BENIGN|{uuid}»",
    "«BENIGN|{ts}» DEBUG datadog agent env DD_API_KEY=«SECRET|{hex:32}» DD_SITE=datadoghq.eu",
    "«BENIGN|{epoch_ms}» level=info msg=\"cache warm\" keys=4096 version=«BENIGN|{semver}»",
    "«BENIGN|{ts}» INFO  twilio api key «SECRET|SK{hex:32}» sent message «BENIGN|SM{hex:32}»",
    "«BENIGN|{ts}» INFO  upload complete md5=«BENIGN|{hex:32}» etag=«BENIGN|{hex:32}»",
)

SURFACES: tuple[tuple[str, tuple[str, ...], float, str], ...] = (
    # surface, templates, share of records, how snippets are joined
    ("prompt", PROMPTS, 0.30, "\n\n"),
    ("tool_result", TOOL_RESULTS, 0.30, "\n"),
    ("memory_write", MEMORY_NOTES, 0.15, " "),
    ("log", LOGS, 0.25, "\n"),
)

_MARK = re.compile(r"«([A-Z_]+)\|")
_LABELS = frozenset((*BENCH_LABELS, BENIGN))


def _labelled(template: str) -> tuple[str, list[str]]:
    """``«LABEL|…»`` → ``«…»`` for :func:`expand`, and the labels in order."""
    labels = _MARK.findall(template)
    unknown = set(labels) - _LABELS
    if unknown:
        raise ValueError(f"unknown corpus label(s) {sorted(unknown)}")
    return _MARK.sub("«", template), labels


def snippet(template: str, rng: random.Random) -> tuple[str, list[Span]]:
    """One expanded template and its labelled spans."""
    plain, labels = _labelled(template)
    generators: dict[str, Generator] = {**GENERATORS, **CORPUS_GENERATORS,
                                        **_persona_generators(persona(rng))}
    example = expand(plain, rng, generators)
    if len(example.spans) != len(labels):
        raise ValueError("template markers and labels disagree")
    return example.text, [Span(s, e, label) for (s, e), label in zip(example.spans, labels,
                                                                       strict=True)]


def _record(index: int, surface: str, templates: tuple[str, ...], joiner: str,
            rng: random.Random) -> Record:
    parts: list[str] = []
    spans: list[Span] = []
    chosen: list[int] = []
    offset = 0
    for n in range(rng.choice((1, 1, 2, 2, 3))):
        if n:
            parts.append(joiner)
            offset += len(joiner)
        which = rng.randrange(len(templates))
        text, found = snippet(templates[which], rng)
        parts.append(text)
        spans.extend(Span(s.start + offset, s.end + offset, s.label) for s in found)
        chosen.append(which)
        offset += len(text)
    return Record(f"{NAME}-{index}", "".join(parts), tuple(spans),
                  {"surface": surface, "templates": chosen, "source": "generated"})


def generate(size: int = DEFAULT_SIZE, seed: int = DEFAULT_SEED) -> list[Record]:
    """``size`` records, the same for the same seed on every machine."""
    rng = random.Random(seed)
    weights = [share for _, _, share, _ in SURFACES]
    records: list[Record] = []
    for index in range(size):
        surface, templates, _, joiner = rng.choices(SURFACES, weights)[0]
        records.append(_record(index, surface, templates, joiner, rng))
    return records


def load_agent_corpus(limit: int | None = None, size: int = DEFAULT_SIZE,
                      seed: int = DEFAULT_SEED) -> Dataset:
    records = spread(generate(size, seed), limit)
    return Dataset(
        name=NAME,
        records=records,
        labels=BENCH_LABELS,
        description=(f"generated agent traffic (prompts, tool results, memory notes, logs) "
                     f"with planted secrets and PII and benign look-alikes; seed {seed}"),
        source="sanitizer/bench/agent_corpus.py (templates + sanitizer.examples generators)",
        development="written by this project's team, who also write the rules: not an "
                    "independent test set; the templates were not tuned to the results",
        label_map={label: label for label in (*BENCH_LABELS, BENIGN)},
        round_trip=True,
    )
