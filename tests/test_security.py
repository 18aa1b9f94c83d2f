"""Identity and permissions: tokens, API keys, roles, the authorize matrix."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os

import jwt
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from auterity_lab.config import Settings
from auterity_lab.errors import AccessDeniedError, AuthenticationError, ConfigError
from auterity_lab.security import (
    PERMISSIONS,
    ROLES,
    SecurityContext,
    authenticate,
    authorize,
    create_api_key,
    issue_token,
    read_api_keys,
    require_tenant,
    revoke_api_key,
)

SECRET = "correct horse battery staple 0123456789"
NOW = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def rsa_keys(tmp_path_factory):
    def pair():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return private, public

    folder = tmp_path_factory.mktemp("rsa")
    private, public = pair()
    other_private, _ = pair()
    (folder / "pub.pem").write_bytes(public)
    return {"private": private, "public": folder / "pub.pem", "other": other_private}


@pytest.fixture
def hs():
    return Settings(jwt_secret=SECRET, jwt_issuer="auterity-idp")


def _token(settings, **over):
    args = {"user_id": "ana", "tenant_id": "acme", "roles": ["analyst"], "settings": settings}
    return issue_token(**(args | over))


def _b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


# ----------------------------------------------------------------------------- JWT
def test_hs256_token_round_trip(hs):
    ctx = authenticate(_token(hs, permissions=["audit:read"]), hs)
    assert (ctx.user_id, ctx.tenant_id, ctx.roles) == ("ana", "acme", frozenset({"analyst"}))
    assert ctx.permissions == ROLES["analyst"] | {"audit:read"}
    assert ctx.credential_id and len(ctx.credential_id) == 32


def test_bearer_prefix_is_accepted(hs):
    assert authenticate("Bearer " + _token(hs), hs).user_id == "ana"


def test_rs256_token_round_trip(rsa_keys):
    s = Settings(jwt_public_key=rsa_keys["public"])
    token = _token(s, private_key=rsa_keys["private"])
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    assert authenticate(token, s).tenant_id == "acme"


def test_rs256_signed_by_another_key_is_refused(rsa_keys):
    s = Settings(jwt_public_key=rsa_keys["public"])
    token = _token(s, private_key=rsa_keys["other"])
    with pytest.raises(AuthenticationError, match="signature does not verify"):
        authenticate(token, s)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"expires_in": dt.timedelta(minutes=-5)}, "expired"),
        ({"not_before": dt.timedelta(minutes=10)}, "not valid yet"),  # from when the test runs
        ({"issuer": "someone-else"}, "not issued by the configured issuer"),
    ],
)
def test_claims_are_checked(hs, change, reason):
    if "not_before" in change:  # not at collection time: a slow run would let it pass
        change = {"not_before": dt.datetime.now(dt.UTC) + change["not_before"]}
    with pytest.raises(AuthenticationError, match=reason):
        authenticate(_token(hs, **change), hs)


def test_small_clock_skew_is_tolerated(hs):
    assert authenticate(_token(hs, expires_in=dt.timedelta(seconds=-10)), hs).user_id == "ana"


def test_tampered_payload_is_refused_and_not_echoed(hs):
    token = _token(hs)
    header, _, sig = token.split(".")
    forged = jwt.decode(token, options={"verify_signature": False}) | {"tenant_id": "globex"}
    tampered = f"{header}.{_b64(forged)}.{sig}"
    with pytest.raises(AuthenticationError, match="tampered") as info:
        authenticate(tampered, hs)
    assert sig not in str(info.value) and header not in str(info.value)


def test_wrong_secret_is_refused(hs):
    other = Settings(jwt_secret="x" * 40, jwt_issuer="auterity-idp")
    with pytest.raises(AuthenticationError, match="signature"):
        authenticate(_token(other), hs)


def test_alg_none_is_refused(hs):
    claims = jwt.decode(_token(hs), options={"verify_signature": False})
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    with pytest.raises(AuthenticationError, match="unsigned"):
        authenticate(unsigned, hs)


def test_unsupported_algorithm_is_refused(hs):
    token = jwt.encode({"sub": "a", "tenant_id": "acme", "exp": 9e9}, SECRET * 2, algorithm="HS512")
    with pytest.raises(AuthenticationError, match="not accepted"):
        authenticate(token, hs)


def test_hs_rs_confusion_is_refused(rsa_keys):
    """An HS256 token 'signed' with the public key must not pass when only RS256 is set up."""
    s = Settings(jwt_public_key=rsa_keys["public"])
    public_pem = rsa_keys["public"].read_bytes()
    claims = {"sub": "eve", "tenant_id": "acme", "roles": ["admin"], "exp": 9e9}
    header = _b64({"alg": "HS256", "typ": "JWT"})
    body = _b64(claims)
    import hashlib
    import hmac

    mac = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{body}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"
    with pytest.raises(AuthenticationError, match="HS256 tokens are not accepted"):
        authenticate(forged, s)
    # and when both are configured, the HMAC key is the secret, never the public key
    both = Settings(jwt_public_key=rsa_keys["public"], jwt_secret=SECRET)
    with pytest.raises(AuthenticationError, match="signature"):
        authenticate(forged, both)


@pytest.mark.parametrize("missing", ["exp", "sub", "tenant_id", "iss"])
def test_required_claims(hs, missing):
    claims = {"sub": "a", "tenant_id": "acme", "exp": NOW + dt.timedelta(days=3650)}
    claims |= {"iss": "auterity-idp"}
    del claims[missing]
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    with pytest.raises(AuthenticationError, match=f"required claim '{missing}'"):
        authenticate(token, hs)


@pytest.mark.parametrize(
    ("claim", "value"), [("roles", "admin"), ("permissions", [1]), ("sub", ""), ("tenant_id", 3)]
)
def test_ill_typed_claims_are_refused(hs, claim, value):
    claims = {"sub": "a", "tenant_id": "acme", "iss": "auterity-idp", "exp": 9e9, claim: value}
    with pytest.raises(AuthenticationError, match=claim):
        authenticate(jwt.encode(claims, SECRET, algorithm="HS256"), hs)


@pytest.mark.parametrize("junk", ["", "   ", "a.b", "a.b.c", "x" * 5000, "Bearer ", "é.é.é"])
def test_malformed_credentials(hs, junk):
    with pytest.raises(AuthenticationError):
        authenticate(junk, hs)


def test_no_jwt_configuration_refuses_tokens(hs):
    with pytest.raises(AuthenticationError, match="not configured"):
        authenticate(_token(hs), Settings())


def test_short_secret_is_a_config_error():
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        _token(Settings(jwt_secret="short"))


@given(st.text(max_size=300))
@settings(max_examples=150, deadline=None)
def test_arbitrary_text_only_raises_authentication_error(text):
    s = Settings(jwt_secret=SECRET)
    with pytest.raises(AuthenticationError):
        authenticate(text, s)


# ----------------------------------------------------------------------------- API keys
def test_api_key_create_authenticate_revoke(tmp_path):
    path = tmp_path / "keys.yml"
    key, record = create_api_key(path, user_id="svc", tenant_id="globex", roles=["viewer"])
    stored = path.read_text()
    secret = key.split("_", 2)[2]  # alk_<key id>_<secret>; the secret may hold "_" itself
    assert key not in stored and secret not in stored
    entry = yaml.safe_load(stored)["keys"][0]
    assert entry["kdf"].startswith("scrypt:") and len(entry["salt"]) == 32
    assert os.stat(path).st_mode & 0o077 == 0
    s = Settings(api_keys_file=path)
    ctx = authenticate(key, s)
    assert (ctx.user_id, ctx.tenant_id, ctx.credential_id) == ("svc", "globex", record.key_id)
    assert ctx.permissions == ROLES["viewer"]
    revoke_api_key(path, record.key_id)
    with pytest.raises(AuthenticationError, match="revoked"):
        authenticate(key, s)


def test_same_secret_hashes_differently_per_key(tmp_path):
    path = tmp_path / "keys.yml"
    create_api_key(path, user_id="a", tenant_id="acme")
    create_api_key(path, user_id="b", tenant_id="acme")
    a, b = read_api_keys(path)
    assert a.salt != b.salt and a.hash != b.hash and a.key_id != b.key_id


def test_unknown_and_altered_keys_are_refused(tmp_path):
    path = tmp_path / "keys.yml"
    key, record = create_api_key(path, user_id="svc", tenant_id="acme")
    s = Settings(api_keys_file=path)
    flipped = key[:-1] + ("A" if key[-1] != "A" else "B")
    other_id = key.replace(record.key_id, "0" * 12)
    for bad in (flipped, other_id):
        with pytest.raises(AuthenticationError, match="unknown API key") as info:
            authenticate(bad, s)
        assert key[-20:] not in str(info.value)
    with pytest.raises(AuthenticationError, match="malformed"):
        authenticate("alk_short", s)


def test_api_keys_not_configured(tmp_path):
    key, _ = create_api_key(tmp_path / "k.yml", user_id="svc", tenant_id="acme")
    with pytest.raises(AuthenticationError, match="not configured"):
        authenticate(key, Settings(jwt_secret=SECRET))


@pytest.mark.parametrize(
    "content", ["keys: 3", "[1, 2]", "keys:\n  - {id: zz, user: u}", "keys: [{id: 1}]", ": : :"]
)
def test_broken_keys_file_is_a_config_error(tmp_path, content):
    path = tmp_path / "keys.yml"
    path.write_text(content)
    with pytest.raises(ConfigError, match="API keys file"):
        read_api_keys(path)


def test_new_key_with_unknown_role_writes_nothing(tmp_path):
    path = tmp_path / "keys.yml"
    with pytest.raises(ConfigError, match="superuser"):
        create_api_key(path, user_id="u", tenant_id="acme", roles=["superuser"])
    assert not path.exists()


def test_revoking_an_unknown_key(tmp_path):
    path = tmp_path / "keys.yml"
    create_api_key(path, user_id="u", tenant_id="acme")
    with pytest.raises(ConfigError, match="no API key"):
        revoke_api_key(path, "0" * 12)


# ----------------------------------------------------------------------------- authorize
EXPECTED = {  # role -> permissions it holds, written out by hand (not derived from ROLES)
    "viewer": {"analytics:read"},
    "analyst": {"analytics:read", "rows:read", "data:export", "reports:run"},
    "data_scientist": {
        "analytics:read", "rows:read", "data:export", "reports:run",
        "raw_text:read", "sql:execute", "insights:write",
    },
}  # fmt: skip


@pytest.mark.parametrize("role", ["viewer", "analyst", "data_scientist", "admin"])
@pytest.mark.parametrize("permission", sorted(PERMISSIONS))
def test_authorize_matrix(role, permission):
    ctx = SecurityContext("u", "acme", roles=frozenset({role}))
    resource, action = permission.split(":")
    if role == "admin" or permission in EXPECTED[role]:
        authorize(ctx, resource, action)
    else:
        with pytest.raises(AccessDeniedError, match=permission):
            authorize(ctx, resource, action)


def test_admin_passes_permissions_outside_the_catalog():
    authorize(SecurityContext("root", "acme", roles={"admin"}), "billing", "refund")


def test_exact_permission_only():
    ctx = SecurityContext("u", "acme", permissions={"rows:read"})
    authorize(ctx, "rows", "read")
    for resource, action in [("rows", "write"), ("row", "read"), ("rows", "*"), ("*", "read")]:
        assert not ctx.allows(resource, action)


def test_tenant_binding_has_no_exception_for_admin():
    require_tenant(SecurityContext("root", "acme", roles={"admin"}), "acme")
    with pytest.raises(AccessDeniedError, match="bound to tenant 'acme'"):
        require_tenant(SecurityContext("root", "acme", roles={"admin"}), "globex")


@pytest.mark.parametrize("bad", [{"user_id": ""}, {"tenant_id": "a b"}, {"roles": "admin"}])
def test_context_validation(bad):
    args = {"user_id": "u", "tenant_id": "acme"} | bad
    with pytest.raises(AuthenticationError):
        SecurityContext(**args)
