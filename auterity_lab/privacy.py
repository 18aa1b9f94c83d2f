"""Privacy at the extract boundary (spec §6.2): column rules, a PII scrubber, consent, retention.

A :class:`Policy` says, per ``table.column``, whether values are ``hash``-ed (keyed
HMAC-SHA256, key from ``AUTERITY_LAB_HMAC_KEY``), ``mask``-ed (recognisable shape kept) or
``remove``-d (NULL); which free-text columns go through the PII scrubber; whether users who
did not consent to analytics are left out; and how many days each data category is kept.
The packaged default is ``auterity_lab/privacy.yml``.

The extractor applies the rules in SQL (macros in ``queries/extract/privacy_macros.sql``) while
rows stream from Postgres to Parquet; :func:`find_pii` and :func:`scrub_text` are the scrubber
itself, also usable on their own.

Examples
--------
>>> scrub_text("Mail ana@example.org or call +49 30 1234 5678, card 4111 1111 1111 1111.")
'Mail [EMAIL] or call [PHONE], card [CARD].'
>>> [m.kind for m in find_pii("from 10.0.0.7, key sk-proj-Xq9vR2mT8wLk4nB7pZ3cY6dF")]
['ip', 'secret']
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from auterity_lab.config import Settings, load_settings, packaged_dir
from auterity_lab.errors import ConfigError, SchemaError
from auterity_lab.manifest import read_manifest, remove_partitions
from auterity_lab.schema import PARTITION_FIELD, Column, Table, source_tables, table

if TYPE_CHECKING:
    import duckdb

Rule = Literal["hash", "mask", "remove"]
PII_KINDS: tuple[str, ...] = ("secret", "email", "iban", "card", "ip", "phone")
"""What the scrubber finds, in the order it prefers them when two candidates overlap."""

_MIN_KEY_LENGTH = 16
_MACROS = ("extract", "privacy_macros.sql")


# ----------------------------------------------------------------------------- the policy
class _Anonymization(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    columns: dict[str, Rule] = Field(default_factory=dict)


class _Scrubber(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    columns: list[str] = Field(default_factory=list)


class _Consent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    required: bool = False
    tables: list[str] = Field(default_factory=list)


class Policy(BaseModel):
    """A privacy policy: the YAML file's content, validated against the data model.

    Read one with :func:`load_policy`; :meth:`disabled` is the policy that changes nothing.

    Examples
    --------
    >>> p = Policy.model_validate({"anonymization": {"columns": {"users.email": "mask"}}})
    >>> p.rule("users", "email"), p.rule("users", "country")
    ('mask', None)
    >>> Policy.model_validate({"anonymization": {"columns": {"users.mail": "mask"}}})
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for Policy
    ...
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    anonymization: _Anonymization = Field(default_factory=_Anonymization)
    scrubber: _Scrubber = Field(default_factory=_Scrubber)
    consent: _Consent = Field(default_factory=_Consent)
    retention_days: dict[str, int] = Field(default_factory=dict, alias="dataRetention")
    categories: dict[str, list[str]] = Field(default_factory=dict)

    @classmethod
    def disabled(cls) -> Policy:
        """The policy that extracts rows exactly as the source holds them."""
        return cls(
            anonymization=_Anonymization(enabled=False),
            scrubber=_Scrubber(enabled=False),
            consent=_Consent(required=False),
        )

    @model_validator(mode="after")
    def _check(self) -> Policy:
        for key, rule in self.anonymization.columns.items():
            tbl, col = _column(key)
            if rule == "hash" and col.kind not in ("uuid", "text"):
                raise ValueError(f"{key}: hash applies to uuid and text columns, not {col.kind}")
            if rule == "mask" and col.kind != "text":
                raise ValueError(f"{key}: mask applies to text columns, not {col.kind}")
            if rule == "remove" and not col.nullable:
                raise ValueError(f"{key}: cannot remove a NOT NULL column")
            if rule == "hash" and col.kind == "text" and _max_length(col) < 64:
                raise ValueError(f"{key}: {col.postgres_type} cannot hold a 64-digit hash")
            if col.name in tbl.primary_key and rule != "hash":
                raise ValueError(f"{key}: a primary key can only be hashed")
        for key in self.scrubber.columns:
            _, col = _column(key)
            if col.kind not in ("text", "jsonb"):
                raise ValueError(
                    f"{key}: the scrubber reads text and jsonb columns, not {col.kind}"
                )
            if key in self.anonymization.columns:
                raise ValueError(f"{key}: has a column rule and is scrubbed; choose one")
        for name in self.consent.tables:
            tbl = _table(name)
            if tbl.name != "users" and tbl.column("user_id") is None:
                raise ValueError(f"consent table {name}: has no user_id column")
        seen: dict[str, str] = {}
        for category, names in self.categories.items():
            if category not in self.retention_days:
                raise ValueError(f"category {category}: no dataRetention days")
            for name in names:
                if _table(name).partition_column is None:
                    raise ValueError(f"category {category}: {name} has no day partitions")
                if name in seen:
                    raise ValueError(f"table {name} is in categories {seen[name]} and {category}")
                seen[name] = category
        for category, days in self.retention_days.items():
            if days < 1:
                raise ValueError(f"dataRetention.{category}: must be at least 1 day, not {days}")
        return self

    def rule(self, table_name: str, column: str) -> Rule | None:
        """The column rule for ``table.column`` (None when the column passes unchanged)."""
        if not self.anonymization.enabled:
            return None
        return self.anonymization.columns.get(f"{table_name}.{column}")

    def scrubs(self, table_name: str, column: str) -> bool:
        """Whether ``table.column`` goes through the free-text PII scrubber."""
        return self.scrubber.enabled and f"{table_name}.{column}" in self.scrubber.columns

    def needs_consent(self, table_name: str) -> bool:
        """Whether rows of non-consenting users are left out of ``table``."""
        return self.consent.required and table_name in self.consent.tables

    def retention(self, table_name: str) -> tuple[str, int] | None:
        """``(category, days)`` kept for ``table``, or None when it is kept forever."""
        for category, names in self.categories.items():
            if table_name in names:
                return category, self.retention_days[category]
        return None


def load_policy(path: str | Path | None = None, *, settings: Settings | None = None) -> Policy:
    """Read a policy file: ``path``, else ``settings.privacy_policy``, else the packaged default.

    Raises
    ------
    ConfigError
        The file is missing, not YAML, or names an unknown table, column or rule.

    Examples
    --------
    >>> load_policy().rule("users", "email")
    'mask'
    """
    if path is None:
        path = (settings or load_settings()).privacy_policy
    if path is None:
        text = resources.files("auterity_lab").joinpath("privacy.yml").read_text(encoding="utf-8")
        where = "the packaged privacy.yml"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise ConfigError(f"privacy policy {path} does not exist") from exc
        where = str(path)
    try:
        raw = yaml.safe_load(text) or {}
        return Policy.model_validate(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"privacy policy {where} is not valid YAML: {exc}") from exc
    except ValidationError as exc:
        raise ConfigError(f"privacy policy {where} is invalid: {exc}") from exc


def describe(policy: Policy) -> Mapping[str, Any]:
    """A JSON-ready summary of ``policy`` (what ``auterity-lab privacy show`` prints)."""
    return policy.model_dump(by_alias=True)


def policy_fingerprint(policy: Policy, hmac_key: str | None = None) -> str:
    """A short id of what ``policy`` does to rows (and of the HMAC key it hashes with, if any;
    an HMAC of a constant, which does not reveal the key).

    Rows extracted under different fingerprints are not merged: an incremental extract whose
    policy or key changed re-extracts the table in full.

    Examples
    --------
    >>> policy_fingerprint(Policy.disabled()) == policy_fingerprint(load_policy())
    False
    """
    body = policy.model_dump_json(by_alias=True)
    hashes = policy.anonymization.enabled and "hash" in policy.anonymization.columns.values()
    key_id = pseudonymize("auterity-lab key id", hmac_key)[:12] if hashes and hmac_key else "-"
    return hashlib.sha256(f"{body}|{key_id}".encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- hashing
def pseudonymize(value: str, key: str | bytes) -> str:
    """HMAC-SHA256 of ``value`` as 64 hex digits: what ``hash`` writes into a text column.

    Examples
    --------
    >>> pseudonymize("ana@example.org", "a key of sixteen+ chars")[:12]
    '94c53a2ec6cc'
    """
    k = key.encode() if isinstance(key, str) else key
    return hmac.new(k, value.encode(), hashlib.sha256).hexdigest()


def hmac_params(key: str | bytes) -> dict[str, bytes]:
    """The HMAC key's inner and outer pads, bound as ``$hmac_ipad`` / ``$hmac_opad`` in SQL.

    Raises
    ------
    ConfigError
        The key is shorter than 16 characters.
    """
    k = key.encode() if isinstance(key, str) else key
    if len(k) < _MIN_KEY_LENGTH:
        raise ConfigError(
            f"AUTERITY_LAB_HMAC_KEY is {len(k)} bytes; use a secret of at least {_MIN_KEY_LENGTH}"
        )
    if len(k) > 64:
        k = hashlib.sha256(k).digest()
    k = k.ljust(64, b"\0")
    return {"hmac_ipad": bytes(b ^ 0x36 for b in k), "hmac_opad": bytes(b ^ 0x5C for b in k)}


# ----------------------------------------------------------------------------- the scrubber
@dataclass(frozen=True)
class PiiMatch:
    """One piece of PII found in a text: its kind and ``text[start:end]``."""

    kind: str
    start: int
    end: int
    text: str


_SECRET_PATTERNS = [
    re.compile(p)
    for p in (
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
        r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}",
        r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}",
        r"\bgh[pousr]_[A-Za-z0-9]{30,}",
        r"\bgithub_pat_[A-Za-z0-9_]{30,}",
        r"\bglpat-[A-Za-z0-9_-]{20,}",
        r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        r"\bAIza[0-9A-Za-z_-]{35}",
        r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    )
]
# "api_key = value", "password: value", "Bearer value": the value is the secret
_SECRET_VALUE = re.compile(
    r"(?i)(?:\b(?:api[_-]?key|apikey|secret(?:[_-]?key)?|access[_-]?token|auth[_-]?token|token|"
    r"passw(?:or)?d|pwd|client[_-]?secret)\b[\"']?\s*[:=]\s*[\"']?|\bbearer\s+)"
    r"(?P<value>[^\s\"',;]{6,})"
)
_GENERIC_SECRET = re.compile(r"(?<![\w-])[A-Za-z0-9_-]{32,}(?![\w-])")
_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
    r"(?![\w-])"
)
_IBAN_GROUPED = re.compile(r"\b[A-Z]{2}\d{2}(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?\b")
_IBAN_COMPACT = re.compile(r"\b[A-Z]{2}\d{2}[A-Z0-9]{11,30}\b")
_CARD = re.compile(r"(?<![\d+-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)")
_IPV6 = re.compile(
    r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}(?![\w:])"
)
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?\d{1,8}(?:[ .-]\d{1,8}){1,5}(?![\w-])"
    r"|(?<![\w+])\+?\d{7,15}\b"
)
_PHONE_CONTEXT = re.compile(
    r"(?i)\b(?:phone|tel|telephone|mobile|cell|fax|call|whatsapp|sms)\b\W{0,4}$"
)
_NOT_PHONE_CONTEXT = re.compile(r"(?i)(?:isbn|order|invoice|ticket|ref|no\.|#|id)\W{0,4}$")
_DATE_LIKE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}\b")
_REPLACEMENT = {k: f"[{k.upper()}]" for k in PII_KINDS}

PREFILTER = (
    r"@|\d[\d\s().+-]{5,}\d|[0-9A-Fa-f]*:[0-9A-Fa-f]*:|[A-Za-z0-9_-]{32,}|"
    r"(?i:sk-|[sr]k_|gh[pousr]_|github_pat_|glpat-|akia|asia|aiza|xox|eyj|-----begin|key|"
    r"secret|token|passw|pwd|bearer)"
)
"""A cheap regex (RE2 and Python syntax) that every text holding PII matches; the extractor
calls the scrubber only for values that match it."""


def find_pii(text: str) -> list[PiiMatch]:
    """Every piece of PII in ``text``, left to right, without overlaps.

    Card numbers must pass the Luhn check and IBANs the mod-97 check; IP addresses must parse.
    When candidates overlap, the kind earlier in :data:`PII_KINDS` wins.

    Examples
    --------
    >>> text = "IBAN DE89 3704 0044 0532 0130 00, not 4111 1111 1111 1112"
    >>> [(m.kind, m.text) for m in find_pii(text)]
    [('iban', 'DE89 3704 0044 0532 0130 00')]
    """
    candidates: list[PiiMatch] = []
    for kind, finder in _FINDERS.items():
        candidates.extend(PiiMatch(kind, s, e, text[s:e]) for s, e in finder(text))
    rank = {k: i for i, k in enumerate(PII_KINDS)}
    candidates.sort(key=lambda m: (rank[m.kind], m.start, -(m.end - m.start)))
    chosen: list[PiiMatch] = []
    for m in candidates:
        if all(m.end <= c.start or m.start >= c.end for c in chosen):
            chosen.append(m)
    return sorted(chosen, key=lambda m: m.start)


def scrub_text(text: str) -> str:
    """``text`` with each piece of PII replaced by ``[EMAIL]``, ``[PHONE]``, ``[CARD]``,
    ``[IP]``, ``[IBAN]`` or ``[SECRET]``.

    Examples
    --------
    >>> scrub_text("token=ghp_abcdefghijklmnopqrstuvwxyz0123456789 from 2001:db8::8a2e:370:7334")
    'token=[SECRET] from [IP]'
    """
    out, last = [], 0
    for m in find_pii(text):
        out.append(text[last : m.start])
        out.append(_REPLACEMENT[m.kind])
        last = m.end
    out.append(text[last:])
    return "".join(out)


def scrub_json(text: str) -> str:
    """Scrub the string values of a JSON document (keys and numbers stay); the result is JSON.

    Text that is not JSON is scrubbed as plain text. A document without PII comes back
    unchanged, byte for byte.

    Examples
    --------
    >>> scrub_json('{"to": "ana@example.org", "n": 4111111111111111}')
    '{"to": "[EMAIL]", "n": 4111111111111111}'
    """
    try:
        doc = json.loads(text)
    except ValueError:
        return scrub_text(text)
    changed = [False]

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            new = scrub_text(node)
            changed[0] |= new != node
            return new
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        return node

    scrubbed = walk(doc)
    return json.dumps(scrubbed, ensure_ascii=False) if changed[0] else text


def _secrets(text: str) -> Iterable[tuple[int, int]]:
    for pattern in _SECRET_PATTERNS:
        for m in pattern.finditer(text):
            yield m.span()
    for m in _SECRET_VALUE.finditer(text):
        yield m.span("value")
    for m in _GENERIC_SECRET.finditer(text):
        word = m.group()
        if (
            re.search(r"[a-z]", word)
            and re.search(r"[A-Z]", word)
            and re.search(r"\d", word)
            and _entropy(word) >= 3.5
        ):
            yield m.span()


def _emails(text: str) -> Iterable[tuple[int, int]]:
    for m in _EMAIL.finditer(text):
        yield m.span()


def _ibans(text: str) -> Iterable[tuple[int, int]]:
    for pattern in (_IBAN_GROUPED, _IBAN_COMPACT):
        for m in pattern.finditer(text):
            # a grouped candidate may run into following words: try it, then shorter prefixes
            groups = m.group().split(" ")
            for n in range(len(groups), 0, -1):
                candidate = " ".join(groups[:n])
                if _iban_ok(candidate.replace(" ", "")):
                    yield m.start(), m.start() + len(candidate)
                    break


def _cards(text: str) -> Iterable[tuple[int, int]]:
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and digits[0] in "23456" and _luhn_ok(digits):
            yield m.span()


def _ips(text: str) -> Iterable[tuple[int, int]]:
    for m in _IPV4.finditer(text):
        if _parses(ipaddress.IPv4Address, m.group()):
            yield m.span()
    for m in _IPV6.finditer(text):
        if re.search(r"[0-9A-Fa-f]", m.group()) and _parses(ipaddress.IPv6Address, m.group()):
            yield m.span()


def _phones(text: str) -> Iterable[tuple[int, int]]:
    for m in _PHONE.finditer(text):
        s = m.group()
        digits = sum(ch.isdigit() for ch in s)
        before = text[max(0, m.start() - 16) : m.start()]
        if s.startswith("+"):
            ok = 7 <= digits <= 15
        elif _NOT_PHONE_CONTEXT.search(before) or _DATE_LIKE.match(s):
            ok = False
        elif _PHONE_CONTEXT.search(before) or s.startswith("("):
            ok = 7 <= digits <= 15
        else:  # no context: grouped like a phone number, and long enough for one
            ok = 9 <= digits <= 15 and not s.isdigit()
        if ok:
            yield m.span()


_FINDERS: dict[str, Callable[[str], Iterable[tuple[int, int]]]] = {
    "secret": _secrets,
    "email": _emails,
    "iban": _ibans,
    "card": _cards,
    "ip": _ips,
    "phone": _phones,
}


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _iban_ok(iban: str) -> bool:
    if not 15 <= len(iban) <= 34 or not iban[:2].isalpha() or not iban[2:4].isdigit():
        return False
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def _parses(kind: Callable[[str], object], text: str) -> bool:
    try:
        kind(text)
    except ValueError:
        return False
    return True


def _entropy(word: str) -> float:
    counts = {ch: word.count(ch) for ch in set(word)}
    return -sum(c / len(word) * math.log2(c / len(word)) for c in counts.values())


# ----------------------------------------------------------------------------- SQL
def install(con: duckdb.DuckDBPyConnection) -> None:
    """Register the scrubber UDFs and create the privacy macros on ``con``.

    Examples
    --------
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> install(con)
    >>> con.execute(
    ...     "SELECT privacy_mask('ana@example.org'), privacy_mask('192.168.4.20')"
    ... ).fetchall()
    [('a***@example.org', '192.168.*.*')]
    """
    import duckdb

    for name, fn in (("pii_scrub", scrub_text), ("pii_scrub_json", scrub_json)):
        con.create_function(
            name,
            _vectorised(fn),
            [duckdb.sqltype("VARCHAR")],
            duckdb.sqltype("VARCHAR"),
            type="arrow",
            side_effects=False,
        )
    con.execute((packaged_dir("queries").joinpath(*_MACROS)).read_text(encoding="utf-8"))


def column_sql(tbl: Table, col: Column, policy: Policy, expr: str) -> str:
    """The SQL that ``policy`` makes of source column ``col`` (whose value is ``expr``).

    The result may use the parameters of :func:`sql_params`.

    Examples
    --------
    >>> p = load_policy()
    >>> column_sql(table("users"), table("users").column("email"), p, "email")
    'privacy_mask(email)'
    >>> column_sql(table("events"), table("events").column("properties"), p, "properties")
    'privacy_scrub_json(properties, $pii_prefilter)'
    """
    rule = policy.rule(tbl.name, col.name)
    if rule == "hash":
        kind = "uuid" if col.kind == "uuid" else "text"
        return f"privacy_hash_{kind}({expr}, $hmac_ipad, $hmac_opad)"
    if rule == "mask":
        return f"privacy_mask({expr})"
    if rule == "remove":
        return f"CAST(NULL AS {col.duckdb_type})"
    if policy.scrubs(tbl.name, col.name):
        fn = "privacy_scrub_json" if col.kind == "jsonb" else "privacy_scrub"
        return f"{fn}({expr}, $pii_prefilter)"
    return expr


def sql_params(policy: Policy, tbl: Table, hmac_key: str | None) -> dict[str, Any]:
    """The parameters that :func:`column_sql` expressions of ``tbl`` use.

    Raises
    ------
    ConfigError
        The policy hashes a column of ``tbl`` but no HMAC key is configured.
    """
    params: dict[str, Any] = {}
    used = [c for c in tbl.source_columns if policy.rule(tbl.name, c.name) == "hash"]
    if used:
        if not hmac_key:
            raise ConfigError(
                f"the privacy policy hashes {tbl.name}.{used[0].name}, but AUTERITY_LAB_HMAC_KEY "
                "is not set"
            )
        params |= hmac_params(hmac_key)
    if any(policy.scrubs(tbl.name, c.name) for c in tbl.source_columns):
        params["pii_prefilter"] = PREFILTER
    return params


def _vectorised(fn: Callable[[str], str]) -> Callable[[pa.Array], pa.Array]:
    def apply(values: pa.Array) -> pa.Array:
        return pa.array([None if v is None else fn(v) for v in values.to_pylist()], pa.string())

    return apply


# ----------------------------------------------------------------------------- retention
@dataclass(frozen=True)
class RetentionResult:
    """What :func:`enforce_retention` deleted (or, in a dry run, would delete) from one table."""

    table: str
    category: str
    days: int
    cutoff: dt.date
    partitions: tuple[str, ...]
    rows: int
    files: int


def retention_cutoff(days: int, today: dt.date | None = None) -> dt.date:
    """First day that is kept when data is kept ``days`` days (UTC).

    Examples
    --------
    >>> retention_cutoff(30, dt.date(2026, 11, 25))
    datetime.date(2026, 10, 26)
    """
    today = today or dt.datetime.now(dt.UTC).date()
    return today - dt.timedelta(days=days)


def enforce_retention(
    data_dir: str | Path | None = None,
    *,
    policy: Policy | None = None,
    settings: Settings | None = None,
    today: dt.date | None = None,
    dry_run: bool = False,
) -> list[RetentionResult]:
    """Delete the day partitions older than each category's retention (spec ``dataRetention``).

    Each table's deletion is recorded in the manifest's ``runs`` (kind ``privacy_enforce``) in
    the same atomic manifest swap that drops its files.

    Examples
    --------
    >>> done = enforce_retention("data", today=dt.date(2026, 11, 25))  # doctest: +SKIP
    >>> [r.partitions for r in done]  # doctest: +SKIP
    [('date=2026-05-01', 'date=2026-05-02'), ...]
    """
    import duckdb

    settings = settings or load_settings()
    data_dir = Path(data_dir) if data_dir is not None else settings.data_dir
    policy = policy or load_policy(settings=settings)
    manifest = read_manifest(data_dir)
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    results = []
    try:
        for tbl in source_tables():
            kept = policy.retention(tbl.name)
            entry = manifest.tables.get(tbl.qualified_name)
            if kept is None or entry is None:
                continue
            category, days = kept
            cutoff = retention_cutoff(days, today)
            old = [f for f in entry.files if _partition_day(f.path) < cutoff]
            partitions = tuple(sorted({Path(f.path).parent.name for f in old}))
            result = RetentionResult(
                tbl.qualified_name,
                category,
                days,
                cutoff,
                partitions,
                sum(f.rows for f in old),
                len(old),
            )
            if partitions and not dry_run:
                remove_partitions(
                    con,
                    data_dir,
                    tbl,
                    sorted({_partition_day(f.path) for f in old}),
                    run_record={
                        "kind": "privacy_enforce",
                        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                        "table": tbl.qualified_name,
                        "category": category,
                        "retention_days": days,
                        "cutoff": cutoff.isoformat(),
                        "partitions": list(partitions),
                        "rows": result.rows,
                    },
                )
            results.append(result)
    finally:
        con.close()
    return results


def _partition_day(path: str) -> dt.date:
    name = Path(path).parent.name
    if not name.startswith(f"{PARTITION_FIELD}="):
        raise SchemaError(f"{path} is not in a {PARTITION_FIELD}= partition")
    return dt.date.fromisoformat(name.split("=", 1)[1])


def _table(name: str) -> Table:
    try:
        return table(name)
    except SchemaError as exc:  # pydantic reports ValueErrors with their location
        raise ValueError(str(exc)) from None


def _column(key: str) -> tuple[Table, Column]:
    name, sep, col_name = key.rpartition(".")
    if not sep:
        raise ValueError(f"{key!r}: expected table.column")
    tbl = _table(name)
    col = tbl.column(col_name)
    if col is None or not col.in_source:
        raise ValueError(f"{key}: {tbl.name} has no source column {col_name!r}")
    return tbl, col


def _max_length(col: Column) -> float:
    m = re.fullmatch(r"varchar\((\d+)\)", col.postgres_type)
    return int(m[1]) if m else math.inf
