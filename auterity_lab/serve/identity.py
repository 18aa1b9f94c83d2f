"""Who is asking: a Jupyter Server identity provider over the workbench's JWTs and API keys.

A request is identified, in this order, by

1. ``Authorization: Bearer <JWT or API key>``,
2. ``X-API-Key: <API key>`` (spec §6.1's header),
3. a ``token`` query parameter (a link to hand out: the served app trades it for a session
   cookie on the first request and redirects to the same address without it),
4. the ``auterity_lab_session`` cookie: an opaque random id (HttpOnly, SameSite=Lax) of a
   server-side session that holds the credential it was opened with.

Every credential is checked by :func:`auterity_lab.security.authenticate`, so a session lives no
longer than its token (``exp``) and a revoked API key stops working. Verified credentials are
remembered for at most :data:`VERIFIED_TTL` seconds (and never past their ``exp``), so the salted
scrypt hash of an API key is not recomputed for every static file of a page.

Examples
--------
>>> from auterity_lab.config import Settings
>>> from auterity_lab.security import issue_token
>>> settings = Settings(jwt_secret="s" * 32)
>>> verifier = CredentialVerifier(settings)
>>> token = issue_token(user_id="ana", tenant_id="acme", roles=["viewer"], settings=settings)
>>> verifier.verify(token).tenant_id
'acme'
>>> verifier.verify(issue_token(user_id="ana", tenant_id="acme", settings=Settings(
...     jwt_secret="another key" * 4)))
Traceback (most recent call last):
...
auterity_lab.errors.AuthenticationError: token signature does not verify (tampered or another key)
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.cookies import Morsel
from typing import Any

import jwt
from jupyter_server.auth.identity import IdentityProvider, User
from tornado import web
from tornado.httputil import HTTPServerRequest
from traitlets import Instance, Unicode, default

from auterity_lab.config import Settings, load_settings
from auterity_lab.errors import AuthenticationError
from auterity_lab.security import SecurityContext, authenticate

SESSION_COOKIE = "auterity_lab_session"
API_KEY_HEADER = "X-API-Key"
TOKEN_PARAMETER = "token"
VERIFIED_TTL = 60.0
"""Seconds a verified credential is trusted before it is checked again."""
SESSION_LIFETIME = 12 * 3600.0
"""Seconds a session cookie lives at most (its credential's own expiry ends it sooner)."""

_TOKEN_SOURCES = frozenset({"bearer", "api_key", "query"})
_REQUEST_MEMO = "_auterity_lab_identification"


@dataclass(frozen=True)
class Identification:
    """The outcome of identifying one request.

    ``context`` is the identity, or None; ``source`` names where the credential came from (one of
    ``bearer``, ``api_key``, ``query``, ``cookie``; None when there was none); ``error`` says why a
    credential was refused. ``credential`` is kept out of ``repr``.
    """

    context: SecurityContext | None
    source: str | None
    error: str | None = None
    credential: str | None = field(default=None, repr=False)


@dataclass
class DashboardUser(User):
    """A Jupyter Server user that carries its :class:`SecurityContext` (tenant, roles).

    Examples
    --------
    >>> user = DashboardUser("ana", context=SecurityContext("ana", "acme", roles={"viewer"}))
    >>> user.username, user.tenant_id
    ('ana', 'acme')
    """

    context: SecurityContext | None = None

    @property
    def tenant_id(self) -> str | None:
        """The tenant the user is bound to."""
        return self.context.tenant_id if self.context else None


class CredentialVerifier:
    """:func:`authenticate` with a short memory of credentials that verified.

    Parameters
    ----------
    settings
        Where the JWT keys and the API keys file are configured.
    ttl
        Seconds a verified credential is trusted without a new check.
    clock
        Wall-clock seconds (``exp`` is wall-clock time).

    Examples
    --------
    >>> CredentialVerifier(Settings(jwt_secret="s" * 32)).verify("")
    Traceback (most recent call last):
    ...
    auterity_lab.errors.AuthenticationError: no credential given
    """

    def __init__(
        self,
        settings: Settings,
        *,
        ttl: float = VERIFIED_TTL,
        clock: Callable[[], float] = time.time,
        max_entries: int = 4096,
    ) -> None:
        self.settings = settings
        self.ttl = ttl
        self._clock = clock
        self._max_entries = max_entries
        self._verified: dict[str, tuple[SecurityContext, float]] = {}
        self._lock = threading.Lock()

    def verify(self, credential: str) -> SecurityContext:
        """The identity behind ``credential``; :class:`AuthenticationError` if there is none."""
        key = hashlib.sha256(credential.encode("utf-8", "surrogatepass")).hexdigest()
        now = self._clock()
        with self._lock:
            cached = self._verified.get(key)
        if cached is not None and now < cached[1]:
            return cached[0]
        context = authenticate(credential, self.settings)
        valid_until = min(now + self.ttl, _expiry(credential, default=now + self.ttl))
        with self._lock:
            if len(self._verified) >= self._max_entries:
                self._verified = {k: v for k, v in self._verified.items() if now < v[1]}
            if len(self._verified) < self._max_entries:
                self._verified[key] = (context, valid_until)
        return context


class SessionStore:
    """Server-side sessions: an unguessable id handed out as a cookie, mapped to a credential.

    Examples
    --------
    >>> store = SessionStore()
    >>> sid = store.open("a-credential")
    >>> store.credential(sid), store.credential("forged")
    ('a-credential', None)
    >>> store.close(sid); store.credential(sid) is None
    True
    """

    def __init__(
        self,
        *,
        lifetime: float = SESSION_LIFETIME,
        clock: Callable[[], float] = time.time,
        max_sessions: int = 10_000,
    ) -> None:
        self.lifetime = lifetime
        self._clock = clock
        self._max_sessions = max_sessions
        self._sessions: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def open(self, credential: str) -> str:
        """A new session for ``credential``; returns its id (the cookie's value)."""
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            if len(self._sessions) >= self._max_sessions:
                self._sessions = {k: v for k, v in self._sessions.items() if now < v[1]}
            if len(self._sessions) >= self._max_sessions:  # still full: the oldest goes
                del self._sessions[min(self._sessions, key=lambda k: self._sessions[k][1])]
            self._sessions[session_id] = (credential, now + self.lifetime)
        return session_id

    def credential(self, session_id: str) -> str | None:
        """The credential of a live session, else None."""
        with self._lock:
            entry = self._sessions.get(session_id)
            if entry is None:
                return None
            if self._clock() >= entry[1]:
                del self._sessions[session_id]
                return None
            return entry[0]

    def close(self, session_id: str) -> None:
        """End a session (logout)."""
        with self._lock:
            self._sessions.pop(session_id, None)


class TokenIdentityProvider(IdentityProvider):
    """Jupyter Server identity provider: JWT / API key / session cookie → :class:`DashboardUser`.

    Configure with ``ServerApp.identity_provider_class`` (or Voila's) and set
    ``TokenIdentityProvider.auth_settings`` (default: :func:`load_settings`). There is no login
    form: a request without a valid credential has no user.

    Examples
    --------
    >>> from tornado.httputil import HTTPServerRequest, RequestStartLine
    >>> provider = TokenIdentityProvider(auth_settings=Settings(jwt_secret="s" * 32))
    >>> request = HTTPServerRequest(
    ...     start_line=RequestStartLine("GET", "/", "HTTP/1.1"), headers={"Host": "localhost"})
    >>> provider.identify(request)
    Identification(context=None, source=None, error='no credential given')
    """

    auth_settings = Instance(Settings, allow_none=True, help="Where keys are configured.").tag(
        config=True
    )
    cookie_name = Unicode(SESSION_COOKIE, help="Name of the session cookie.")

    @default("auth_settings")
    def _default_auth_settings(self) -> Settings:
        return load_settings()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        settings = self.auth_settings if self.auth_settings is not None else load_settings()
        self.verifier = CredentialVerifier(settings)
        self.sessions = SessionStore()

    # ------------------------------------------------------------------ identification
    def identify(self, request: HTTPServerRequest) -> Identification:
        """Who sent ``request`` (memoized on the request: one check per request)."""
        memo = getattr(request, _REQUEST_MEMO, None)
        if memo is None:
            memo = self._identify(request)
            setattr(request, _REQUEST_MEMO, memo)
        return memo

    def _identify(self, request: HTTPServerRequest) -> Identification:
        found = _credential(request, self.cookie_name)
        if found is None:
            return Identification(None, None, "no credential given")
        source, value = found
        if source == "bearer" and not value:
            return Identification(None, source, "Authorization header is not 'Bearer <token>'")
        if source == "cookie":
            credential = self.sessions.credential(value)
            if credential is None:
                return Identification(None, source, "session has ended or is unknown")
            value = credential
        try:
            context = self.verifier.verify(value)
        except AuthenticationError as exc:
            if source == "cookie":
                self.sessions.close(found[1])
            return Identification(None, source, str(exc))
        return Identification(context, source, None, value)

    def session_cookie(self, credential: str, *, secure: bool) -> str:
        """Open a session for ``credential``; the ``Set-Cookie`` value that hands it out."""
        session_id = self.sessions.open(credential)  # URL-safe base64: no quoting needed
        morsel: Morsel[str] = Morsel()
        morsel.set(self.cookie_name, session_id, session_id)
        morsel.update({"path": "/", "samesite": "Lax", "max-age": str(int(SESSION_LIFETIME))})
        morsel["httponly"] = True
        morsel["secure"] = secure
        return morsel.OutputString()

    # ------------------------------------------------------------------ Jupyter Server API
    def get_user(self, handler: web.RequestHandler) -> DashboardUser | None:
        """The user of ``handler``'s request; trades a ``token`` parameter for a session."""
        found = self.identify(handler.request)
        if found.context is None:
            return None
        if found.source == "query" and found.credential is not None:
            secure = handler.request.protocol == "https"
            handler.add_header("Set-Cookie", self.session_cookie(found.credential, secure=secure))
        return DashboardUser(found.context.user_id, context=found.context)

    def identity_model(self, user: User) -> dict[str, Any]:
        """The JSON model of ``user``: Jupyter's fields plus the tenant."""
        model = {k: v for k, v in asdict(user).items() if k != "context"}
        model["tenant_id"] = getattr(user, "tenant_id", None)
        return model

    def is_token_authenticated(self, handler: web.RequestHandler) -> bool:
        """True for header and query credentials (scripts), False for the session cookie."""
        return self.identify(handler.request).source in _TOKEN_SOURCES

    def get_handlers(self) -> list[tuple[str, object]]:
        """Only ``/logout``: there is no login form."""
        return [(r"/logout", LogoutHandler)]

    @property
    def login_available(self) -> bool:
        """No login form: credentials come with the request."""
        return False

    @property
    def auth_enabled(self) -> bool:
        """Always."""
        return True


class LogoutHandler(web.RequestHandler):
    """Ends the visitor's session and clears its cookie."""

    def _logout(self) -> None:
        provider = self.settings["identity_provider"]
        session_id = self.get_cookie(provider.cookie_name)
        if session_id:
            provider.sessions.close(session_id)
        self.clear_cookie(provider.cookie_name, path="/")
        self.set_header("Cache-Control", "no-store")
        self.finish({"status": 200, "reason": "signed out"})

    def get(self) -> None:
        """Sign out."""
        self._logout()

    def post(self) -> None:
        """Sign out."""
        self._logout()


def _credential(request: HTTPServerRequest, cookie_name: str) -> tuple[str, str] | None:
    """``(source, value)`` of the first credential: header, API key, query parameter, cookie."""
    auth = request.headers.get("Authorization", "")
    if auth:
        scheme, _, value = auth.strip().partition(" ")
        return ("bearer", value.strip()) if scheme.lower() == "bearer" else ("bearer", "")
    key = request.headers.get(API_KEY_HEADER)
    if key is not None:
        return "api_key", key.strip()
    token = request.query_arguments.get(TOKEN_PARAMETER)
    if token:
        return "query", token[-1].decode("utf-8", "replace")
    cookie = request.cookies.get(cookie_name)
    if cookie is not None and cookie.value:
        return "cookie", cookie.value
    return None


def _expiry(credential: str, *, default: float) -> float:
    """The ``exp`` of a JWT that has just verified (no second check needed), else ``default``."""
    try:
        exp = jwt.decode(credential, options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        return default
    return float(exp) if isinstance(exp, int | float) else default
