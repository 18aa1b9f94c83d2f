"""Identity and permissions: who is asking, for which tenant, allowed to do what (spec §6.1).

A :class:`SecurityContext` comes from :func:`authenticate`, given a signed JWT (HS256 with
``settings.jwt_secret`` or RS256 with ``settings.jwt_public_key``) or an API key (only a salted
scrypt hash of each key is stored, in ``settings.api_keys_file``). :func:`authorize` checks one
``resource:action`` permission: the ``admin`` role passes everything, every other identity needs
the exact permission. A context is bound to one tenant; nothing lets it read another.

Permission catalog (:data:`PERMISSIONS`) and default roles (:data:`ROLES`):

=================  ==========================================================================
``analytics:read``  aggregates (daily counts, rates, percentiles): every role
``rows:read``       row-level results (one row per user, session, prompt output, run)
``raw_text:read``   prompt, output, user feedback and event text (masked otherwise)
``data:export``     writing results to files (CSV, JSON, Parquet)
``insights:write``  status changes of insights and alerts
``reports:run``     running a report
``sql:execute``     ad-hoc SQL (read-only, over the tenant's views only)
``audit:read``      reading and verifying the audit log
=================  ==========================================================================

``viewer``: analytics:read. ``analyst``: + rows:read, data:export, reports:run.
``data_scientist``: + raw_text:read, sql:execute, insights:write. ``admin``: everything.

Enforcement lives where the data is: ``Workbench.open(..., context=ctx)`` (tenant, masking,
row-level queries, ad-hoc SQL via :func:`check_read_only_sql`), the CLI (a credential per
invocation, :func:`acting_as` / :func:`current_context` for checks deeper down, e.g. insight
status changes) and the report runner. Every decision that matters is written to
:mod:`auterity_lab.audit`.

Examples
--------
>>> from auterity_lab.config import Settings
>>> settings = Settings(jwt_secret="s" * 32, jwt_issuer="auterity")
>>> token = issue_token(user_id="ana", tenant_id="acme", roles=["analyst"], settings=settings)
>>> ctx = authenticate(token, settings)
>>> ctx.user_id, ctx.tenant_id, ctx.allows("rows", "read"), ctx.allows("sql", "execute")
('ana', 'acme', True, False)
>>> authorize(ctx, "sql", "execute")
Traceback (most recent call last):
...
auterity_lab.errors.AccessDeniedError: user 'ana' (tenant 'acme') lacks the permission sql:execute
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import jwt
import yaml

from auterity_lab.config import Settings, load_settings
from auterity_lab.errors import AccessDeniedError, AuthenticationError, ConfigError

PERMISSIONS: dict[str, str] = {
    "analytics:read": "aggregates: counts, rates, percentiles, charts",
    "rows:read": "row-level results (one row per user, session, prompt output, run)",
    "raw_text:read": "prompt, output, user feedback and event text",
    "data:export": "write results to files (CSV, JSON, Parquet)",
    "insights:write": "change the status of insights and alerts",
    "reports:run": "run a report",
    "sql:execute": "ad-hoc read-only SQL over the tenant's views",
    "audit:read": "read and verify the audit log",
}
"""Every permission the workbench checks, with what it grants."""

_VIEWER = frozenset({"analytics:read"})
_ANALYST = _VIEWER | {"rows:read", "data:export", "reports:run"}
_DATA_SCIENTIST = _ANALYST | {"raw_text:read", "sql:execute", "insights:write"}
ROLES: dict[str, frozenset[str]] = {
    "viewer": _VIEWER,
    "analyst": _ANALYST,
    "data_scientist": _DATA_SCIENTIST,
    "admin": frozenset(PERMISSIONS),
}
"""Default roles and the permissions each grants; ``admin`` also passes any other check."""

ADMIN_ROLE = "admin"
TOKEN_ALGORITHMS = ("HS256", "RS256")
CLOCK_SKEW = dt.timedelta(seconds=30)
"""Leeway for ``exp`` and ``nbf`` against clocks that disagree a little."""
MIN_SECRET_BYTES = 32
API_KEY_PREFIX = "alk"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_KEY_ID = re.compile(r"[0-9a-f]{12}")
_API_KEY = re.compile(rf"{API_KEY_PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{43}})")
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class SecurityContext:
    """An authenticated identity bound to one tenant.

    ``permissions`` holds the effective permissions: those granted by the roles plus any given
    explicitly. Lists are accepted and frozen.

    Examples
    --------
    >>> ctx = SecurityContext("bo", "acme", roles=frozenset({"viewer"}))
    >>> sorted(ctx.permissions), ctx.allows("analytics", "read"), ctx.is_admin
    (['analytics:read'], True, False)
    """

    user_id: str
    tenant_id: str
    roles: frozenset[str] = field(default_factory=frozenset)
    permissions: frozenset[str] = field(default_factory=frozenset)
    credential_id: str | None = None
    """Key id of an API key, or ``jti`` of a token: which credential was used (never a secret)."""

    def __post_init__(self) -> None:
        for name in ("user_id", "tenant_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise AuthenticationError(f"security context needs a non-empty {name}")
        if not _TENANT.fullmatch(self.tenant_id):
            raise AuthenticationError(f"tenant {self.tenant_id!r} is not a valid tenant id")
        roles = _string_set(self.roles, "roles")
        explicit = _string_set(self.permissions, "permissions")
        object.__setattr__(self, "roles", roles)
        object.__setattr__(self, "permissions", explicit | role_permissions(roles))

    @property
    def is_admin(self) -> bool:
        """Whether the ``admin`` role is held."""
        return ADMIN_ROLE in self.roles

    def allows(self, resource: str, action: str) -> bool:
        """Whether ``resource:action`` is permitted (always, for an admin)."""
        return self.is_admin or f"{resource}:{action}" in self.permissions


def role_permissions(roles: Iterable[str]) -> frozenset[str]:
    """The permissions the known roles among ``roles`` grant (unknown roles grant nothing).

    Examples
    --------
    >>> sorted(role_permissions(["viewer", "no-such-role"]))
    ['analytics:read']
    """
    granted: set[str] = set()
    for role in roles:
        granted |= ROLES.get(role, frozenset())
    return frozenset(granted)


def authorize(context: SecurityContext, resource: str, action: str) -> None:
    """Raise :class:`AccessDeniedError` unless ``context`` may do ``action`` on ``resource``.

    Examples
    --------
    >>> authorize(SecurityContext("root", "acme", roles={"admin"}), "anything", "goes")
    """
    if not context.allows(resource, action):
        raise AccessDeniedError(
            f"user {context.user_id!r} (tenant {context.tenant_id!r}) lacks the permission "
            f"{resource}:{action}"
        )


def require_tenant(context: SecurityContext, tenant: str) -> None:
    """Raise :class:`AccessDeniedError` unless ``context`` is bound to ``tenant``.

    No role crosses tenants, not even ``admin``: a context is one tenant's.

    Examples
    --------
    >>> require_tenant(SecurityContext("bo", "acme"), "globex")
    Traceback (most recent call last):
    ...
    auterity_lab.errors.AccessDeniedError: user 'bo' is bound to tenant 'acme', not 'globex'
    """
    if tenant != context.tenant_id:
        raise AccessDeniedError(
            f"user {context.user_id!r} is bound to tenant {context.tenant_id!r}, not {tenant!r}"
        )


_CURRENT: contextvars.ContextVar[SecurityContext | None] = contextvars.ContextVar(
    "auterity_lab_security_context", default=None
)


def current_context() -> SecurityContext | None:
    """The identity the current command or request acts as (None in a personal session).

    Set by the CLI for one invocation and by the served dashboard for one request, so checks
    deep in the library (e.g. an insight status change) know who is asking.
    """
    return _CURRENT.get()


@contextlib.contextmanager
def acting_as(context: SecurityContext | None) -> Iterator[SecurityContext | None]:
    """Within the block, :func:`current_context` is ``context``.

    Examples
    --------
    >>> with acting_as(SecurityContext("bo", "acme")):
    ...     current_context().user_id
    'bo'
    >>> current_context() is None
    True
    """
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)


def set_current_context(context: SecurityContext | None) -> None:
    """Make ``context`` the current identity until changed (one CLI invocation)."""
    _CURRENT.set(context)


def auth_configured(settings: Settings) -> bool:
    """Whether any credential source (JWT secret or key, API keys file) is configured."""
    return bool(settings.jwt_secret or settings.jwt_public_key or settings.api_keys_file)


# ---------------------------------------------------------------------------- authentication
def authenticate(credential: str, settings: Settings | None = None) -> SecurityContext:
    """The identity behind a JWT or an API key; :class:`AuthenticationError` if there is none.

    A ``Bearer`` prefix is accepted. The message names why a credential is refused (malformed,
    unsigned, wrong algorithm, bad signature, expired, not yet valid, wrong issuer, missing
    claim, unknown or revoked key) and never repeats the credential.

    Examples
    --------
    >>> authenticate("nonsense", Settings(jwt_secret="s" * 32))
    Traceback (most recent call last):
    ...
    auterity_lab.errors.AuthenticationError: credential is neither a JWT nor an API key
    """
    settings = settings if settings is not None else load_settings()
    if not isinstance(credential, str) or not credential.strip():
        raise AuthenticationError("no credential given")
    credential = credential.strip()
    if credential[:7].lower() == "bearer ":
        credential = credential[7:].strip()
    if credential.startswith(f"{API_KEY_PREFIX}_"):
        return _validate_api_key(credential, settings)
    if _JWT_SHAPE.fullmatch(credential):
        return _validate_jwt(credential, settings)
    raise AuthenticationError("credential is neither a JWT nor an API key")


def issue_token(
    *,
    user_id: str,
    tenant_id: str,
    roles: Iterable[str] = (),
    permissions: Iterable[str] = (),
    settings: Settings | None = None,
    private_key: str | bytes | None = None,
    expires_in: dt.timedelta = dt.timedelta(hours=1),
    not_before: dt.datetime | None = None,
    issuer: str | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Sign a token: claims ``sub``, ``tenant_id``, ``roles``, ``permissions``, ``exp``, ``nbf``.

    RS256 with ``private_key`` (PEM) when given, else HS256 with ``settings.jwt_secret``. ``iss``
    is ``issuer`` or ``settings.jwt_issuer`` (left out when both are unset).

    Examples
    --------
    >>> s = Settings(jwt_secret="s" * 32)
    >>> authenticate(issue_token(user_id="u", tenant_id="acme", settings=s), s).user_id
    'u'
    """
    settings = settings if settings is not None else load_settings()
    context = SecurityContext(user_id, tenant_id, frozenset(roles), frozenset(permissions))
    unknown_roles = sorted(context.roles - set(ROLES))
    unknown_perms = sorted(set(permissions) - set(PERMISSIONS))
    if unknown_roles or unknown_perms:
        raise ConfigError(
            f"unknown roles {unknown_roles} / permissions {unknown_perms}; roles are "
            f"{', '.join(ROLES)}; permissions are {', '.join(PERMISSIONS)}"
        )
    now = now or dt.datetime.now(dt.UTC)
    claims: dict[str, Any] = {
        "sub": user_id,
        "tenant_id": tenant_id,
        "roles": sorted(context.roles),
        "permissions": sorted(set(permissions)),
        "iat": now,
        "nbf": not_before or now,
        "exp": now + expires_in,
        "jti": uuid.uuid4().hex,
    }
    issuer = issuer or settings.jwt_issuer
    if issuer:
        claims["iss"] = issuer
    if private_key is not None:
        return jwt.encode(claims, private_key, algorithm="RS256")
    return jwt.encode(claims, _hs_secret(settings), algorithm="HS256")


def _hs_secret(settings: Settings) -> bytes:
    if settings.jwt_secret is None:
        raise AuthenticationError("HS256 tokens are not accepted: no jwt_secret is configured")
    secret = settings.jwt_secret.get_secret_value().encode()
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(f"jwt_secret must be at least {MIN_SECRET_BYTES} bytes long")
    return secret


def _rs_public_key(settings: Settings) -> bytes:
    if settings.jwt_public_key is None:
        raise AuthenticationError("RS256 tokens are not accepted: no jwt_public_key is configured")
    try:
        pem = Path(settings.jwt_public_key).read_bytes()
    except OSError as exc:
        raise ConfigError(f"jwt_public_key {settings.jwt_public_key} cannot be read") from exc
    if b"PUBLIC KEY" not in pem:
        raise ConfigError(f"jwt_public_key {settings.jwt_public_key} is not a PEM public key")
    return pem


_JWT_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "token has expired"),
    (jwt.ImmatureSignatureError, "token is not valid yet (nbf or iat in the future)"),
    (jwt.InvalidIssuerError, "token was not issued by the configured issuer"),
    (jwt.InvalidSignatureError, "token signature does not verify (tampered or another key)"),
    (jwt.InvalidAlgorithmError, "token algorithm is not accepted"),
    (jwt.DecodeError, "token is malformed"),
)


def _validate_jwt(token: str, settings: Settings) -> SecurityContext:
    if not (settings.jwt_secret or settings.jwt_public_key):
        raise AuthenticationError("JWT authentication is not configured")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise AuthenticationError("token is malformed (header is not valid)") from None
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none":
        raise AuthenticationError("unsigned token (alg none) refused")
    if alg not in TOKEN_ALGORITHMS:
        raise AuthenticationError(
            f"token algorithm {alg[:16]!r} is not accepted (only {', '.join(TOKEN_ALGORITHMS)})"
        )
    key: bytes = _hs_secret(settings) if alg == "HS256" else _rs_public_key(settings)
    required = ["exp", "sub", "tenant_id"] + (["iss"] if settings.jwt_issuer else [])
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[alg],  # pinned: the key was chosen for exactly this algorithm
            issuer=settings.jwt_issuer,
            leeway=CLOCK_SKEW,
            options={"require": required, "verify_aud": False},
        )
    except jwt.MissingRequiredClaimError as exc:
        raise AuthenticationError(f"token lacks the required claim {exc.claim!r}") from None
    except jwt.PyJWTError as exc:
        for kind, reason in _JWT_ERRORS:
            if isinstance(exc, kind):
                raise AuthenticationError(reason) from None
        raise AuthenticationError(f"token is invalid ({type(exc).__name__})") from None
    return _context_from_claims(claims)


def _context_from_claims(claims: Mapping[str, Any]) -> SecurityContext:
    for name in ("sub", "tenant_id"):
        if not isinstance(claims.get(name), str) or not claims[name].strip():
            raise AuthenticationError(f"token claim {name!r} must be a non-empty string")
    lists = {}
    for name in ("roles", "permissions"):
        value = claims.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise AuthenticationError(f"token claim {name!r} must be a list of strings")
        lists[name] = frozenset(value)
    jti = claims.get("jti")
    return SecurityContext(
        claims["sub"],
        claims["tenant_id"],
        lists["roles"],
        lists["permissions"],
        credential_id=jti if isinstance(jti, str) else None,
    )


# ---------------------------------------------------------------------------- API keys
@dataclass(frozen=True)
class ApiKeyRecord:
    """One stored API key: who it stands for, and a salted scrypt hash of the secret.

    Examples
    --------
    >>> key, record = new_api_key(user_id="svc", tenant_id="acme", roles=["viewer"])
    >>> record.matches(key), record.matches(key[:-1] + ("A" if key[-1] != "A" else "B"))
    (True, False)
    """

    key_id: str
    user_id: str
    tenant_id: str
    roles: tuple[str, ...]
    permissions: tuple[str, ...]
    salt: str
    hash: str
    created_at: str
    revoked: bool = False

    def matches(self, key: str) -> bool:
        """Whether ``key`` is this record's key (constant-time comparison of hashes)."""
        parsed = _API_KEY.fullmatch(key)
        if parsed is None or not hmac.compare_digest(parsed.group(1), self.key_id):
            return False
        return hmac.compare_digest(_hash_secret(parsed.group(2), self.salt), self.hash)

    def context(self) -> SecurityContext:
        """The identity this key stands for."""
        return SecurityContext(
            self.user_id,
            self.tenant_id,
            frozenset(self.roles),
            frozenset(self.permissions),
            credential_id=self.key_id,
        )

    def to_yaml(self) -> dict[str, Any]:
        """The mapping stored in the keys file (no secret, only its salted hash)."""
        return {
            "id": self.key_id,
            "user": self.user_id,
            "tenant": self.tenant_id,
            "roles": list(self.roles),
            "permissions": list(self.permissions),
            "kdf": _kdf_name(),
            "salt": self.salt,
            "hash": self.hash,
            "created_at": self.created_at,
            "revoked": self.revoked,
        }


def new_api_key(
    *,
    user_id: str,
    tenant_id: str,
    roles: Iterable[str] = (),
    permissions: Iterable[str] = (),
) -> tuple[str, ApiKeyRecord]:
    """A fresh key (``alk_<id>_<secret>``, shown once) and the record that stores its hash."""
    roles, permissions = tuple(sorted(set(roles))), tuple(sorted(set(permissions)))
    SecurityContext(user_id, tenant_id, frozenset(roles), frozenset(permissions))  # validates
    unknown = sorted(set(roles) - set(ROLES)) + sorted(set(permissions) - set(PERMISSIONS))
    if unknown:
        raise ConfigError(f"unknown roles or permissions: {', '.join(unknown)}")
    key_id = secrets.token_hex(6)
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    salt = secrets.token_hex(16)
    record = ApiKeyRecord(
        key_id=key_id,
        user_id=user_id,
        tenant_id=tenant_id,
        roles=roles,
        permissions=permissions,
        salt=salt,
        hash=_hash_secret(secret, salt),
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    return f"{API_KEY_PREFIX}_{key_id}_{secret}", record


def create_api_key(
    path: str | Path,
    *,
    user_id: str,
    tenant_id: str,
    roles: Iterable[str] = (),
    permissions: Iterable[str] = (),
) -> tuple[str, ApiKeyRecord]:
    """Add a new key to the keys file ``path`` (created if missing); return the key, shown once.

    Only the salted hash is written; the file is replaced atomically under a lock and is readable
    by its owner only.
    """
    key, record = new_api_key(
        user_id=user_id, tenant_id=tenant_id, roles=roles, permissions=permissions
    )
    with _keys_lock(Path(path)):
        records = read_api_keys(path) if Path(path).exists() else []
        _write_api_keys(Path(path), [*records, record])
    return key, record


def revoke_api_key(path: str | Path, key_id: str) -> ApiKeyRecord:
    """Mark the key ``key_id`` revoked (kept in the file, refused from now on)."""
    with _keys_lock(Path(path)):
        records = read_api_keys(path)
        if key_id not in {r.key_id for r in records}:
            raise ConfigError(f"no API key with id {key_id!r} in {path}")
        updated = [
            ApiKeyRecord(**{**r.__dict__, "revoked": True}) if r.key_id == key_id else r
            for r in records
        ]
        _write_api_keys(Path(path), updated)
    return next(r for r in updated if r.key_id == key_id)


def read_api_keys(path: str | Path) -> list[ApiKeyRecord]:
    """The records of the keys file; :class:`ConfigError` naming the entry that is malformed."""
    path = Path(path)
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"API keys file {path} does not exist") from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"API keys file {path} cannot be read as YAML") from exc
    entries = (loaded or {}).get("keys", []) if isinstance(loaded, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"API keys file {path} must be a mapping with a list under 'keys'")
    return [_record_from_yaml(entry, path, i) for i, entry in enumerate(entries)]


def _record_from_yaml(entry: Any, path: Path, index: int) -> ApiKeyRecord:
    where = f"API keys file {path}, entry {index}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} is not a mapping")
    missing = [k for k in ("id", "user", "tenant", "salt", "hash") if not entry.get(k)]
    if missing:
        raise ConfigError(f"{where} lacks {', '.join(missing)}")
    if entry.get("kdf", _kdf_name()) != _kdf_name():
        raise ConfigError(f"{where} uses the unsupported key derivation {entry.get('kdf')!r}")
    if not _KEY_ID.fullmatch(str(entry["id"])):
        raise ConfigError(f"{where} has an invalid id")
    for name in ("roles", "permissions"):
        value = entry.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: {name} must be a list of strings")
    return ApiKeyRecord(
        key_id=str(entry["id"]),
        user_id=str(entry["user"]),
        tenant_id=str(entry["tenant"]),
        roles=tuple(entry.get("roles", [])),
        permissions=tuple(entry.get("permissions", [])),
        salt=str(entry["salt"]),
        hash=str(entry["hash"]),
        created_at=str(entry.get("created_at", "")),
        revoked=bool(entry.get("revoked", False)),
    )


def _validate_api_key(key: str, settings: Settings) -> SecurityContext:
    if settings.api_keys_file is None:
        raise AuthenticationError("API key authentication is not configured")
    parsed = _API_KEY.fullmatch(key)
    if parsed is None:
        raise AuthenticationError("API key is malformed")
    by_id = {r.key_id: r for r in read_api_keys(settings.api_keys_file)}
    record = by_id.get(parsed.group(1))
    if record is None:
        _hash_secret(parsed.group(2), "0" * 32)  # same work as a known id: no timing oracle
        raise AuthenticationError("unknown API key")
    if not record.matches(key):
        raise AuthenticationError("unknown API key")
    if record.revoked:
        raise AuthenticationError(f"API key {record.key_id} has been revoked")
    return record.context()


def _kdf_name() -> str:
    return "scrypt:n={n},r={r},p={p}".format(**_SCRYPT)


def _hash_secret(secret: str, salt: str) -> str:
    return hashlib.scrypt(
        secret.encode(), salt=bytes.fromhex(salt), dklen=32, maxmem=64 * 2**20, **_SCRYPT
    ).hex()


def _write_api_keys(path: Path, records: list[ApiKeyRecord]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump({"keys": [r.to_yaml() for r in records]}, sort_keys=False)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def _keys_lock(path: Path) -> Iterator[None]:
    lock = path.with_name(f".{path.name}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _string_set(value: Any, name: str) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise AuthenticationError(f"security context {name} must be a collection of strings")
    items = frozenset(value)
    if not all(isinstance(v, str) for v in items):
        raise AuthenticationError(f"security context {name} must be a collection of strings")
    return items


# ---------------------------------------------------------------------------- ad-hoc SQL
RAW_TEXT_COLUMNS: dict[str, tuple[str, ...]] = {
    "prompt_outputs": ("prompt", "output", "user_feedback"),
    "feedback": ("comment",),
}
"""Free text written by people or models, masked unless ``raw_text:read`` (per source table)."""

ROW_LEVEL_QUERIES = frozenset({"ml_prompt_output_costs", "workflow_ai_runs"})
"""Query files that return one row per entity (prompt output, workflow run): ``rows:read``."""

RAW_TEXT_QUERIES = frozenset({"ml_feedback_terms"})
"""Query files that analyse raw text itself (need ``raw_text:read``; masked text would mislead)."""

TEXT_QUERIES = frozenset(
    {"ml_feedback_terms", "ml_prompts", "ml_prompts_top", "ml_repeated_prompts"}
)
"""Query files whose results show raw text (examples, previews): audited as raw-text reads."""

_PURE_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
_DENIED_FUNCTIONS = frozenset({"getvariable", "current_setting", "getenv"})
_LOCAL_SCHEMAS = frozenset({"", "main", "temp", "memory"})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_read_only_sql(
    sql: str, relations: Iterable[str], *, con: duckdb.DuckDBPyConnection | None = None
) -> None:
    """Refuse ad-hoc SQL that could leave the tenant's views: :class:`AccessDeniedError`.

    The SQL is parsed by DuckDB itself (``json_serialize_sql``, which only serialises SELECT
    statements; ``con`` is any connection, by default a new in-memory one). Allowed: exactly
    one SELECT whose tables are all ``relations`` (the workbench's views and frames) or its own
    CTEs; no table functions that read anything (files, globs, the catalog, other databases),
    no functions that read settings or variables.

    Examples
    --------
    >>> check_read_only_sql("SELECT count(*) FROM users", ["users"])
    >>> check_read_only_sql("SELECT * FROM read_parquet('x/*.parquet')", ["users"])
    Traceback (most recent call last):
    ...
    auterity_lab.errors.AccessDeniedError: ad-hoc SQL may not call the table function read_parquet()
    """
    if not isinstance(sql, str):
        raise AccessDeniedError("ad-hoc SQL must be text")
    parser = con if con is not None else duckdb.connect()
    try:
        row = parser.execute("SELECT json_serialize_sql($q)", {"q": sql}).fetchone()
    except duckdb.Error as exc:
        raise AccessDeniedError(f"ad-hoc SQL cannot be parsed: {str(exc)[:200]}") from None
    finally:
        if con is None:
            parser.close()
    tree = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        raise AccessDeniedError(
            "ad-hoc SQL must be a single SELECT statement "
            f"({str(tree.get('error_message', 'not a SELECT'))[:200]})"
        )
    statements = tree.get("statements", [])
    if len(statements) != 1:
        raise AccessDeniedError(
            f"ad-hoc SQL must be exactly one SELECT statement, not {len(statements)}"
        )
    ctes: set[str] = set()
    tables: list[tuple[str, str, str]] = []
    _walk_sql(statements[0], ctes, tables)
    bad_ctes = sorted(c for c in ctes if not _IDENTIFIER.fullmatch(c))
    if bad_ctes:
        raise AccessDeniedError(f"ad-hoc SQL may not name a CTE {bad_ctes[0]!r}")
    allowed = {r.lower() for r in relations} | {c.lower() for c in ctes}
    for catalog, schema, name in tables:
        if catalog.lower() not in _LOCAL_SCHEMAS or schema.lower() not in _LOCAL_SCHEMAS:
            raise AccessDeniedError(f"ad-hoc SQL may not read {catalog or schema}.{name}")
        if name.lower() not in allowed:
            raise AccessDeniedError(
                f"ad-hoc SQL may read only the workbench's relations, not {name[:80]!r}"
            )


def _walk_sql(node: Any, ctes: set[str], tables: list[tuple[str, str, str]]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk_sql(item, ctes, tables)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind == "BASE_TABLE" or (kind == "SHOW_REF" and node.get("query") is None):
        # SHOW_REF: DESCRIBE / SUMMARIZE; of a query it is walked below, of a name it is a read
        tables.append(
            (
                str(node.get("catalog_name") or ""),
                str(node.get("schema_name") or ""),
                str(node.get("table_name", "")),
            )
        )
    elif kind == "TABLE_FUNCTION":
        name = str((node.get("function") or {}).get("function_name", "?")).lower()
        if name not in _PURE_TABLE_FUNCTIONS:
            raise AccessDeniedError(f"ad-hoc SQL may not call the table function {name}()")
    elif node.get("class") == "FUNCTION":
        name = str(node.get("function_name", "")).lower()
        if name in _DENIED_FUNCTIONS or name.startswith(("duckdb_", "pragma_")):
            raise AccessDeniedError(f"ad-hoc SQL may not call {name}()")
    cte_map = node.get("cte_map")
    if isinstance(cte_map, dict):
        ctes.update(str(item.get("key", "")) for item in cte_map.get("map", []))
    for value in node.values():
        if isinstance(value, dict | list):
            _walk_sql(value, ctes, tables)
