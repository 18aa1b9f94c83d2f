"""The served dashboard's parts without a browser: the token buckets (hand-worked cases and
properties), credential verification and sessions, the identity provider and the gate behind a
real tornado HTTP server on a loopback port, the tenant binding of the notebook, the dashboard's
``locked_tenant``, and the ``serve`` command's refusals."""

from __future__ import annotations

import asyncio
import base64
import contextvars
import datetime as dt
import http.client
import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
import tornado.httpserver
import tornado.netutil
import tornado.web
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine
from typer.testing import CliRunner

from auterity_lab.cli import app as cli_app
from auterity_lab.config import Settings, packaged_dir
from auterity_lab.errors import (
    AccessDeniedError,
    AuthenticationError,
    ConfigError,
    DataNotFoundError,
)
from auterity_lab.security import (
    SecurityContext,
    create_api_key,
    current_context,
    issue_token,
    revoke_api_key,
)
from auterity_lab.serve import (
    CredentialVerifier,
    DashboardUser,
    Gate,
    OwnedKernelManager,
    RateLimiter,
    SessionStore,
    TokenIdentityProvider,
    bind_parameters,
    build_server,
)
from auterity_lab.serve.app import OWNER_ENV

SECRET = "unit-test-secret-" + "x" * 32


class FakeClock:
    """Seconds that move only when the test says so."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _settings(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(jwt_secret=SECRET, api_keys_file=tmp_path / "keys.yaml", **kw)


def _token(settings: Settings, user: str = "ana", tenant: str = "acme", **kw: Any) -> str:
    kw.setdefault("roles", ["viewer"])
    return issue_token(user_id=user, tenant_id=tenant, settings=settings, **kw)


def _retarget(token: str, tenant: str) -> str:
    """The token with its payload's tenant changed and the original signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["tenant_id"] = tenant
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


# ============================================================================ rate limiter
def test_bucket_by_hand() -> None:
    clock = FakeClock(0.0)
    limiter = RateLimiter(per_minute=6, burst=3, clock=clock)  # one token every 10 s
    assert [limiter.check("a").allowed for _ in range(3)] == [True, True, True]
    refused = limiter.check("a")
    assert (refused.allowed, refused.retry_after, refused.retry_after_header) == (False, 10.0, "10")
    assert limiter.check("b").remaining == 2  # buckets are per key
    clock.now = 4.0
    assert limiter.check("a").retry_after == pytest.approx(6.0)
    clock.now = 10.0  # 10 s after the burst: exactly one token
    assert limiter.check("a").allowed and not limiter.check("a").allowed
    clock.now = 1_000.0  # refills to the burst, never beyond
    assert limiter.peek("a") == 3.0


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "10"])
def test_limiter_rejects_bad_rates(bad: Any) -> None:
    with pytest.raises(ConfigError, match="per_minute"):
        RateLimiter(per_minute=bad)
    with pytest.raises(ConfigError, match="burst"):
        RateLimiter(per_minute=10, burst=bad)


@hsettings(max_examples=200, deadline=None)
@given(
    per_minute=st.integers(1, 600),
    burst=st.integers(1, 50),
    gaps=st.lists(st.floats(0, 5, allow_nan=False), min_size=1, max_size=120),
)
def test_no_interval_lets_more_through_than_burst_plus_refill(
    per_minute: int, burst: int, gaps: list[float]
) -> None:
    clock = FakeClock(0.0)
    limiter = RateLimiter(per_minute, burst=burst, clock=clock)
    allowed: list[float] = []
    for gap in gaps:
        clock.now += gap
        decision = limiter.check("k")
        if decision.allowed:
            allowed.append(clock.now)
        else:  # the promised wait is exactly enough, and no shorter one is
            assert limiter.peek("k") + decision.retry_after * per_minute / 60 == pytest.approx(1)
    rate = per_minute / 60
    for i, first in enumerate(allowed):  # every window [first, last] of passed requests
        for j in range(i, len(allowed)):
            assert j - i + 1 <= burst + (allowed[j] - first) * rate + 1e-9


@hsettings(max_examples=100, deadline=None)
@given(per_minute=st.integers(1, 600), n=st.integers(1, 200))
def test_a_client_at_the_sustained_rate_is_never_refused(per_minute: int, n: int) -> None:
    clock = FakeClock(0.0)
    limiter = RateLimiter(per_minute, burst=1, clock=clock)
    for _ in range(n):
        assert limiter.check("k").allowed
        clock.now += 60 / per_minute


# ============================================================================ verification
def test_verifier_remembers_for_ttl_only(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    clock = FakeClock(dt.datetime.now(dt.UTC).timestamp())
    verifier = CredentialVerifier(settings, ttl=60, clock=clock)
    token = _token(settings)
    assert verifier.verify(token).user_id == "ana"
    verifier.settings = Settings(jwt_secret="another-secret-" + "y" * 32)  # the key rotates
    clock.now += 59
    assert verifier.verify(token).tenant_id == "acme"  # remembered
    clock.now += 2
    with pytest.raises(AuthenticationError, match="signature"):
        verifier.verify(token)  # checked again after the ttl


def test_verifier_never_trusts_past_exp(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    start = dt.datetime.now(dt.UTC)
    clock = FakeClock(start.timestamp())
    verifier = CredentialVerifier(settings, ttl=600, clock=clock)
    token = _token(settings, expires_in=dt.timedelta(seconds=20), now=start)
    verifier.verify(token)
    verifier.settings = Settings(jwt_secret="another-secret-" + "y" * 32)
    clock.now = start.timestamp() + 19
    verifier.verify(token)
    clock.now = start.timestamp() + 21  # past exp, well inside the ttl: checked again
    with pytest.raises(AuthenticationError):
        verifier.verify(token)


def test_revoked_api_key_stops_working_after_the_ttl(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    key, record = create_api_key(
        settings.api_keys_file, user_id="svc", tenant_id="globex", roles=["viewer"]
    )
    clock = FakeClock()
    verifier = CredentialVerifier(settings, ttl=60, clock=clock)
    assert verifier.verify(key).tenant_id == "globex"
    revoke_api_key(settings.api_keys_file, record.key_id)
    assert verifier.verify(key).user_id == "svc"
    clock.now += 61
    with pytest.raises(AuthenticationError, match="revoked"):
        verifier.verify(key)


def test_sessions_end_after_their_lifetime() -> None:
    clock = FakeClock()
    store = SessionStore(lifetime=100, clock=clock, max_sessions=2)
    first, second = store.open("one"), store.open("two")
    assert first != second and len(first) >= 40
    clock.now += 99
    assert store.credential(first) == "one"
    clock.now += 1
    assert store.credential(first) is None
    third, fourth = store.open("three"), store.open("four")  # full: the oldest goes
    assert store.credential(second) is None
    assert (store.credential(third), store.credential(fourth)) == ("three", "four")


# ============================================================================ provider + gate
def _request(uri: str = "/", headers: dict[str, str] | None = None) -> HTTPServerRequest:
    start = RequestStartLine("GET", uri, "HTTP/1.1")
    return HTTPServerRequest(
        start_line=start, headers=HTTPHeaders({"Host": "localhost", **(headers or {})})
    )


def test_identify_reads_each_source_in_order(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    provider = TokenIdentityProvider(auth_settings=settings)
    acme, globex = _token(settings), _token(settings, "bo", "globex")
    key, _ = create_api_key(
        settings.api_keys_file, user_id="svc", tenant_id="initech", roles=["viewer"]
    )
    sid = provider.sessions.open(acme)
    cases = [
        ({"Authorization": f"Bearer {globex}", "X-API-Key": key}, "", "bearer", "globex"),
        ({"X-API-Key": key}, f"?token={acme}", "api_key", "initech"),
        ({"Cookie": f"auterity_lab_session={sid}"}, f"?token={globex}", "query", "globex"),
        ({"Cookie": f"auterity_lab_session={sid}"}, "", "cookie", "acme"),
    ]
    for headers, query, source, tenant in cases:
        found = provider.identify(_request("/" + query, headers))
        assert (found.source, found.context and found.context.tenant_id) == (source, tenant)
    refused = {
        "Basic dXNlcjpwYXNz": "not 'Bearer <token>'",
        f"Bearer {_retarget(acme, 'globex')}": "signature does not verify",
        "Bearer "
        + _token(settings, now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)): "expired",
        "Bearer alk_0123456789ab_" + "A" * 43: "unknown API key",
    }
    for header, reason in refused.items():
        found = provider.identify(_request("/", {"Authorization": header}))
        assert found.context is None and reason in (found.error or ""), found
    gone = provider.identify(_request("/", {"Cookie": "auterity_lab_session=forged"}))
    assert gone.context is None and "session" in (gone.error or "")
    assert "eyJ" not in repr(provider.identify(_request("/", {"Authorization": f"Bearer {acme}"})))


class _WhoAmI(tornado.web.RequestHandler):
    def get(self, *_: str) -> None:
        provider: TokenIdentityProvider = self.settings["identity_provider"]
        user = provider.get_user(self)
        assert isinstance(user, DashboardUser)
        self.finish(
            {
                "user": user.username,
                "tenant": user.tenant_id,
                "header": self.request.headers.get("X-Auterity-Lab-User"),
                "model": provider.identity_model(user),
            }
        )


class _Server:
    """A real tornado server on a loopback port, in its own thread, with the gate in front."""

    def __init__(self, gate: Gate) -> None:
        from auterity_lab.serve.app import GatedApplication

        self.app = GatedApplication(
            gate,
            handlers=[
                (r"/whoami", _WhoAmI),
                (r"/voila/static/(.*)", _WhoAmI),
                (r"/api/kernels/([^/]+)", _WhoAmI),
                *gate.provider.get_handlers(),
            ],
            identity_provider=gate.provider,
        )
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self._ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._run(sockets),))
        self._thread.start()
        self._ready.wait(10)

    async def _run(self, sockets: list[Any]) -> None:
        server = tornado.httpserver.HTTPServer(self.app)
        server.add_sockets(sockets)
        self._stop = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._ready.set()
        await self._stop.wait()
        server.stop()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path, headers=headers or {})
            resp = conn.getresponse()
            body = resp.read()
            return resp.status, resp.headers, json.loads(body) if body else {}
        finally:
            conn.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[_Server, Settings, FakeClock]]:
    settings = _settings(tmp_path)
    clock = FakeClock()
    provider = TokenIdentityProvider(auth_settings=settings)
    owners = {"k-ana": "ana", "k-bo": "bo"}
    gate = Gate(
        provider,
        RateLimiter(5, clock=clock),
        RateLimiter(4, clock=clock),
        owners.get,
    )
    server = _Server(gate)
    try:
        yield server, settings, clock
    finally:
        server.close()


def test_gate_over_http(served: tuple[_Server, Settings, FakeClock]) -> None:
    server, settings, _ = served
    ana = {"Authorization": f"Bearer {_token(settings)}"}
    status, headers, body = server.get("/whoami")
    assert status == 401 and headers["WWW-Authenticate"] == 'Bearer realm="auterity-lab"'
    assert "no credential" in body["reason"]
    status, headers, body = server.get("/whoami", {"Authorization": "Bearer x.y.z"})
    assert status == 401 and 'error="invalid_token"' in headers["WWW-Authenticate"]

    spoofed = {**ana, "X-Auterity-Lab-User": "bo"}  # only the gate sets this header
    status, _, body = server.get("/whoami?tenant=acme", spoofed)
    assert status == 200 and body["user"] == "ana" and body["tenant"] == "acme"
    assert body["header"] == "ana" and body["model"]["tenant_id"] == "acme"
    for query in ("?tenant=globex", "?tenant_id=globex", "?tenants=acme,globex"):
        status, _, body = server.get("/whoami" + query, ana)
        assert status == 403 and "'globex'" in body["reason"]

    assert server.get("/api/kernels/k-ana", ana)[0] == 200
    assert server.get("/api/kernels/k-bo", ana)[0] == 403  # another visitor's kernel
    assert server.get("/api/kernels/k-unknown", ana)[0] == 403
    nobody = {"Authorization": f"Bearer {_token(settings, 'cy', roles=[])}"}
    status, _, body = server.get("/whoami", nobody)
    assert status == 403 and "analytics:read" in body["reason"]


def test_query_token_becomes_a_session_cookie(served: tuple[_Server, Settings, FakeClock]) -> None:
    server, settings, _ = served
    token = _token(settings, "bo", "globex")
    status, headers, _ = server.get(f"/whoami?a=1&token={token}&b=2")
    assert status == 303 and headers["Location"] == "/whoami?a=1&b=2"
    cookie = headers["Set-Cookie"]
    assert {"HttpOnly", "SameSite=Lax", "Path=/"} <= {p.strip() for p in cookie.split(";")}
    assert token not in cookie
    session = cookie.split(";")[0]
    status, _, body = server.get("/whoami?a=1&b=2", {"Cookie": session})
    assert (status, body["user"], body["tenant"]) == (200, "bo", "globex")
    assert server.get("/logout", {"Cookie": session})[0] == 200
    assert server.get("/whoami", {"Cookie": session})[0] == 401  # the session has ended
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade"}
    status, _, body = server.get(f"/whoami?token={token}", upgrade)  # no redirect mid-upgrade
    assert status == 200 and body["user"] == "bo"


def test_rate_limit_per_identity(served: tuple[_Server, Settings, FakeClock]) -> None:
    server, settings, clock = served
    ana = {"Authorization": f"Bearer {_token(settings)}"}
    bo = {"Authorization": f"Bearer {_token(settings, 'bo', 'globex')}"}
    assert [server.get("/whoami", ana)[0] for _ in range(5)] == [200] * 5
    for _ in range(20):  # static assets need the credential but are not counted
        assert server.get("/voila/static/voila.js", ana)[0] == 200
    status, headers, body = server.get("/whoami", ana)
    assert status == 429 and headers["Retry-After"] == "12" and "retry in 12 s" in body["reason"]
    assert server.get("/whoami", bo)[0] == 200  # another identity has its own bucket
    clock.now += 12
    assert [server.get("/whoami", ana)[0] for _ in range(2)] == [200, 429]


def test_failed_attempts_are_limited_per_address(
    served: tuple[_Server, Settings, FakeClock],
) -> None:
    server, settings, clock = served
    bad = {"Authorization": "Bearer " + _retarget(_token(settings), "globex")}
    assert [server.get("/whoami", bad)[0] for _ in range(5)] == [401] * 4 + [429]
    status, headers, _ = server.get("/whoami", {"Authorization": f"Bearer {_token(settings)}"})
    assert status == 429 and headers["Retry-After"] == "15"
    clock.now += 15
    assert server.get("/whoami", {"Authorization": f"Bearer {_token(settings)}"})[0] == 200


# ============================================================================ tenant binding
def _dashboard_notebook() -> nbformat.NotebookNode:
    return nbformat.read(packaged_dir("notebooks") / "dashboard.ipynb", as_version=4)


def test_bind_parameters_overrides_the_notebook_defaults() -> None:
    nb = _dashboard_notebook()
    first = SecurityContext("bo", "globex", roles=frozenset({"viewer"}))
    visitor = SecurityContext(
        "cy",
        "initech",
        roles=frozenset({"analyst"}),
        permissions=frozenset({"raw_text:read"}),
        credential_id="0123456789ab",
    )
    bound = bind_parameters(nb, data_dir="/srv/data", context=first)
    again = bind_parameters(bound, data_dir="/srv/data", context=visitor)  # replaced, not added
    tags = [c.metadata.get("tags", []) for c in again.cells]
    where = next(i for i, t in enumerate(tags) if "parameters" in t)
    assert sum("injected-parameters" in t for t in tags) == 1
    assert "injected-parameters" in tags[where + 1]

    def run_cells() -> tuple[dict[str, Any], SecurityContext | None]:
        namespace: dict[str, Any] = {}
        for cell in again.cells[: where + 2]:  # the parameters cell, then the bound one
            if cell.cell_type == "code":
                exec(cell.source, namespace)
        return namespace, current_context()

    namespace, acting = contextvars.copy_context().run(run_cells)  # not this test's identity
    assert (namespace["tenant"], namespace["tenants"], namespace["locked_tenant"]) == (
        "initech",
        None,
        "initech",
    )
    assert namespace["data_dir"] == "/srv/data"
    assert acting == visitor and acting is not None
    assert acting.allows("rows", "read") and not acting.allows("sql", "execute")
    assert current_context() is None
    assert nb.cells == _dashboard_notebook().cells  # the original is untouched
    with pytest.raises(ConfigError, match="parameters"):
        bind_parameters(nbformat.v4.new_notebook(), data_dir="/d", context=visitor)


def test_locked_dashboard_offers_no_other_tenant(demo_dir: Path) -> None:
    from auterity_lab.dashboard import dashboard
    from auterity_lab.warehouse import Workbench

    with Workbench.open(demo_dir, tenant="acme") as wb:
        with pytest.raises(AccessDeniedError, match="'globex'"):
            dashboard(wb, tenants=["globex"], locked_tenant="acme", live=False)
        with pytest.raises(AccessDeniedError, match="'acme'"):
            dashboard(wb, locked_tenant="globex", live=False)
        app = dashboard(wb, locked_tenant="acme", live=False)
        assert app.tenants == ["acme"]
        control = app.filter_controls["tenant"]
        assert list(control.options) == ["acme"] and control.layout.display == "none"


# ============================================================================ server setup
def test_kernel_manager_records_owners_and_caps_kernels_per_user(tmp_path: Path) -> None:
    manager = OwnedKernelManager(max_kernels_per_user=1, root_dir=str(tmp_path))
    assert manager.cull_idle_timeout == 1800 and manager.cull_interval == 60

    async def scenario() -> list[dict[str, str]]:
        seen = []
        with pytest.raises(tornado.web.HTTPError) as err:
            await manager.start_kernel(env={"PATH": "/usr/bin"})
        assert err.value.status_code == 403
        seen.append(dict(manager.owners))
        try:
            ana = await manager.start_kernel(env={OWNER_ENV: "ana"})
            bo = await manager.start_kernel(env={OWNER_ENV: "bo"})
            seen.append(dict(manager.owners))
            again = await manager.start_kernel(env={OWNER_ENV: "ana"})  # retires ana's first
            seen.append(dict(manager.owners))
            assert ana not in manager.list_kernel_ids()
            assert set(manager.list_kernel_ids()) == {bo, again}
            assert manager.owner_of(again) == "ana" and manager.owner_of(ana) is None
        finally:
            await manager.shutdown_all(now=True)
        seen.append(dict(manager.owners))
        return seen

    before, two, after_retire, after_all = asyncio.run(scenario())
    assert before == {} and sorted(two.values()) == ["ana", "bo"]
    assert sorted(after_retire.values()) == ["ana", "bo"] and after_retire != two
    assert after_all == {}


def _data_dir(tmp_path: Path) -> Path:
    """A data directory as far as serving checks before a visitor comes: it has a manifest."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "manifest.json").write_text("{}")
    return data


def test_build_server_refusals(tmp_path: Path) -> None:
    demo_dir = _data_dir(tmp_path)
    with pytest.raises(ConfigError, match="credential source"):
        build_server(demo_dir, settings=Settings())
    with pytest.raises(DataNotFoundError, match="manifest.json"):
        build_server(tmp_path, settings=_settings(tmp_path))
    with pytest.raises(ConfigError, match="port"):
        build_server(demo_dir, settings=_settings(tmp_path), port=70_000)
    with pytest.raises(DataNotFoundError, match="notebook"):
        build_server(demo_dir, settings=_settings(tmp_path), notebook=tmp_path / "none.ipynb")


def test_build_server_hardens_what_voila_config_files_may_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo_dir = _data_dir(tmp_path)
    config_dir = tmp_path / "jupyter"
    config_dir.mkdir()
    (config_dir / "voila.json").write_text(
        json.dumps(
            {
                "VoilaConfiguration": {
                    "file_allowlist": [".*"],
                    "show_tracebacks": True,
                    "preheat_kernel": True,
                },
                "Voila": {"ip": "0.0.0.0"},
            }
        )
    )
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(config_dir))
    sigterm = signal.getsignal(signal.SIGTERM)
    try:
        server = build_server(demo_dir, settings=_settings(tmp_path), port=18_999)
    finally:
        signal.signal(signal.SIGTERM, sigterm)  # Voila installs its own handler
    conf = server.voila_configuration
    assert (conf.file_allowlist, conf.show_tracebacks, conf.preheat_kernel) == ([], False, False)
    assert (server.ip, server.port, server.identity_provider_class) == (
        "127.0.0.1",
        18_999,
        TokenIdentityProvider,
    )
    assert conf.multi_kernel_manager_class is OwnedKernelManager
    assert conf.prelaunch_hook is not None


def test_serve_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("JWT_SECRET", "JWT_PUBLIC_KEY", "API_KEYS_FILE", "CONFIG"):
        monkeypatch.delenv(f"AUTERITY_LAB_{name}", raising=False)
    runner = CliRunner()
    usage = runner.invoke(cli_app, ["serve", "--help"])
    assert usage.exit_code == 0
    assert all(o in usage.output for o in ("--data-dir", "--port", "--host", "127.0.0.1"))
    result = runner.invoke(cli_app, ["serve", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1 and "credential source" in result.output
