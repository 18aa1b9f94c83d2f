"""``auterity-lab serve`` as a real process on a copy of the demo data, visited by headless
Chromium (Debian's, via Playwright) and by plain HTTP and websocket clients: a token sees its own
tenant's numbers (checked against DuckDB over the raw Parquet), and no credential, an expired,
not-yet-valid or tampered token, a revoked key, another tenant, another visitor's kernel, too
many requests and the file-tree and kernel APIs all get 401/403/429 and no data."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from auterity_lab.config import Settings
from auterity_lab.security import create_api_key, issue_token, revoke_api_key

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

SECRET = "browser-test-secret-" + "z" * 32
RATE = 20
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
KPI_JS = """() => {
  for (const el of document.querySelectorAll('.auterity-dashboard .js-plotly-plot')) {
    for (const t of (el.data || [])) {
      if (t.type === 'indicator' && String(t.title && t.title.text).startsWith(LABEL)) {
        return t.value;
      }
    }
  }
  return null;
}"""


@dataclass
class Served:
    url: str
    port: int
    settings: Settings
    api_key: str
    api_key_id: str
    data: Path
    log: Path

    def token(self, user: str = "ana", tenant: str = "acme", **kw: Any) -> str:
        kw.setdefault("roles", ["viewer"])
        return issue_token(user_id=user, tenant_id=tenant, settings=self.settings, **kw)

    def request(
        self, path: str, headers: dict[str, str] | None = None, method: str = "GET"
    ) -> tuple[int, Any, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def kernels_started(self) -> int:
        return self.log.read_text(errors="replace").count("Kernel started")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One ``auterity-lab serve`` process for the module."""
    pytest.importorskip("voila")
    root = tmp_path_factory.mktemp("serve")
    data = root / "demo"
    shutil.copytree(demo_dir, data)
    keys = root / "keys.yaml"
    settings = Settings(jwt_secret=SECRET, api_keys_file=keys, rate_limit_per_minute=RATE)
    api_key, record = create_api_key(keys, user_id="svc", tenant_id="globex", roles=["viewer"])
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTERITY_LAB_")}
    env |= {
        "AUTERITY_LAB_JWT_SECRET": SECRET,
        "AUTERITY_LAB_API_KEYS_FILE": str(keys),
        "AUTERITY_LAB_RATE_LIMIT_PER_MINUTE": str(RATE),
        "JUPYTER_CONFIG_DIR": str(root / "jupyter"),
    }
    log_path = root / "serve.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "auterity_lab",
            "serve",
            "--data-dir",
            str(data),
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                break
            except OSError:
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "auterity-lab serve did not start"
                time.sleep(0.3)
        yield Served(
            f"http://127.0.0.1:{port}/", port, settings, api_key, record.key_id, data, log_path
        )
    finally:
        proc.terminate()  # Voila shuts its kernels down on SIGTERM
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module; each test opens its own context (no cookies shared)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        yield context.new_page()
    finally:
        context.close()


def _active_users(data: Path, tenant: str, start: str, end: str) -> int:
    """Distinct users with a session in [start, end), straight from the Parquet extracts."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        files = str(data / "extracts" / "auterity" / "user_sessions" / "*" / "*.parquet")
        row = con.execute(
            "SELECT count(DISTINCT user_id) FROM read_parquet(?, hive_partitioning = true) "
            "WHERE tenant_id = ? AND created_at >= CAST(? AS TIMESTAMPTZ) "
            "AND created_at < CAST(? AS TIMESTAMPTZ)",
            [files, tenant, f"{start} 00:00:00+00", f"{end} 00:00:00+00"],
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0])


def _kernel_message(msg_type: str, content: dict[str, Any]) -> str:
    return json.dumps(
        {
            "header": {
                "msg_id": uuid.uuid4().hex,
                "msg_type": msg_type,
                "username": "test",
                "session": uuid.uuid4().hex,
                "date": dt.datetime.now(dt.UTC).isoformat(),
                "version": "5.3",
            },
            "parent_header": {},
            "metadata": {},
            "content": content,
            "channel": "shell",
            "buffers": [],
        }
    )


def _replies(ws: Any, seconds: float) -> list[str]:
    out: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            message = ws.recv(timeout=max(0.05, deadline - time.monotonic()))
        except TimeoutError:
            break
        if isinstance(message, str):
            out.append(json.loads(message)["header"]["msg_type"])
    return out


def test_a_token_sees_its_own_tenant_and_nobody_else_reaches_its_kernel(
    served: Served, page: Any, tmp_path: Path
) -> None:
    ws_client = pytest.importorskip("websockets.sync.client")
    token = served.token()
    response = page.goto(f"{served.url}?token={token}", timeout=240_000)
    assert response is not None and response.status == 200
    assert "token" not in page.url  # traded for the session cookie
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "auterity_lab_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert cookie["value"] not in token and token not in cookie["value"]
    page.locator(".auterity-dashboard .lm-TabBar-tab").first.wait_for(timeout=240_000)
    page.wait_for_function(
        "document.querySelectorAll('.auterity-dashboard .js-plotly-plot').length >= 3",
        timeout=180_000,
    )
    shown = page.evaluate(KPI_JS.replace("LABEL", "'Active users'"))
    start, end = page.locator(".auterity-dashboard input[type=date]").all()[:2]
    first, last = start.input_value(), end.input_value()
    acme = _active_users(served.data, "acme", first, last)
    assert shown == acme
    assert acme != _active_users(served.data, "globex", first, last)
    assert not page.get_by_text("Tenant", exact=True).is_visible()
    html = page.content()
    assert "globex" not in html and "initech" not in html
    page.screenshot(path=str(tmp_path / "served-acme.png"), full_page=True)

    config = page.evaluate("JSON.parse(document.getElementById('jupyter-config-data').textContent)")
    kernel = config["kernelId"]
    ana = {"Authorization": f"Bearer {token}"}
    bo = {"Authorization": f"Bearer {served.token('bo', 'globex')}"}
    assert served.request(f"/api/kernels/{kernel}", ana)[0] == 200
    assert served.request(f"/api/kernels/{kernel}")[0] == 401
    for method in ("GET", "DELETE"):
        assert served.request(f"/api/kernels/{kernel}", bo, method)[0] == 403
    assert served.request(f"/voila/api/shutdown/{kernel}", bo, "POST")[0] == 403
    ws_url = f"ws://127.0.0.1:{served.port}/api/kernels/{kernel}/channels"
    for headers, status in ((bo, 403), ({}, 401)):
        with pytest.raises(Exception) as refused:
            ws_client.connect(ws_url, additional_headers=headers, open_timeout=10)
        assert getattr(refused.value, "response", None) is not None
        assert refused.value.response.status_code == status  # type: ignore[attr-defined]

    # Even its own visitor cannot run code in the kernel: only widget messages pass.
    marker = served.data.parent / "executed.marker"
    with ws_client.connect(ws_url, additional_headers=ana, open_timeout=10) as ws:
        ws.send(_kernel_message("kernel_info_request", {}))
        assert "kernel_info_reply" in _replies(ws, 10)
        code = f"open({str(marker)!r}, 'w').write('ran')"
        ws.send(_kernel_message("execute_request", {"code": code, "silent": False}))
        assert "execute_reply" not in _replies(ws, 3)
    assert not marker.exists()
    assert page.evaluate(KPI_JS.replace("LABEL", "'Active users'")) == acme  # still served


def test_no_credential_gets_401_and_no_data(served: Served, page: Any) -> None:
    before = served.kernels_started()
    response = page.goto(served.url, timeout=60_000)
    assert response is not None and response.status == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = json.loads(page.inner_text("body"))
    assert body["status"] == 401 and "no credential" in body["reason"]
    assert page.locator(".auterity-dashboard").count() == 0
    assert served.kernels_started() == before  # nothing was computed


def test_bad_tokens_get_401_in_the_browser(served: Served, page: Any) -> None:
    now = dt.datetime.now(dt.UTC)
    header, _, signature = served.token().split(".")
    tampered = f"{header}.{served.token('ana', 'globex').split('.')[1]}.{signature}"
    cases = {  # acme's token with its payload edited to claim globex, the signature kept
        "signature": tampered,
        "expired": served.token(now=now - dt.timedelta(hours=2)),
        "not valid yet": served.token(not_before=now + dt.timedelta(hours=1)),
        "neither a JWT nor an API key": "not-a-token",
    }
    before = served.kernels_started()
    for reason, token in cases.items():
        response = page.goto(f"{served.url}?token={token}", timeout=60_000)
        assert response is not None and response.status == 401
        assert reason in json.loads(page.inner_text("body"))["reason"]
        assert page.context.cookies() == []
    assert served.kernels_started() == before


def test_wrong_tenant_gets_403(served: Served, page: Any) -> None:
    before = served.kernels_started()
    token = served.token()
    response = page.goto(f"{served.url}?token={token}&tenant=globex", timeout=60_000)
    assert response is not None and response.status == 403
    assert "bound to tenant 'acme'" in json.loads(page.inner_text("body"))["reason"]
    key = {"X-API-Key": served.api_key}  # the key is globex's
    assert served.request("/?tenant=acme", key)[0] == 403
    assert served.request("/?tenant_id=initech", {"Authorization": f"Bearer {token}"})[0] == 403
    assert served.kernels_started() == before


def test_api_keys_unknown_and_revoked(served: Served) -> None:
    assert served.request("/voila/static/voila.js", {"X-API-Key": served.api_key})[0] == 200
    unknown = "alk_" + "0" * 12 + "_" + "A" * 43
    status, _, body = served.request("/voila/static/voila.js", {"X-API-Key": unknown})
    assert status == 401 and "unknown API key" in body
    keys = served.settings.api_keys_file
    assert keys is not None
    key, record = create_api_key(keys, user_id="gone", tenant_id="acme", roles=["viewer"])
    revoke_api_key(keys, record.key_id)  # the keys file is read again: no restart needed
    status, _, body = served.request("/voila/static/voila.js", {"X-API-Key": key})
    assert status == 401 and "revoked" in body


def test_rate_limit_per_identity(served: Served) -> None:
    rl = {"Authorization": f"Bearer {served.token('rl', 'initech')}"}
    other = {"Authorization": f"Bearer {served.token('rl2', 'initech')}"}
    for _ in range(3 * RATE):  # static assets: authenticated, not counted
        assert served.request("/voila/static/voila.js", rl)[0] == 200
    statuses = [served.request("/logout", rl)[0] for _ in range(RATE)]
    assert statuses == [200] * RATE
    status, headers, body = served.request("/logout", rl)
    assert status == 429 and headers["Retry-After"] in {"2", "3"}
    assert "too many requests" in json.loads(body)["reason"]
    assert served.request("/logout", other)[0] == 200
    time.sleep(int(headers["Retry-After"]))
    assert served.request("/logout", rl)[0] == 200


UNAUTHENTICATED = [
    ("GET", "/"),
    ("GET", "/tree"),
    ("GET", "/api/contents"),
    ("GET", "/api/kernels"),
    ("GET", "/api/sessions"),
    ("GET", "/api/kernelspecs"),
    ("POST", "/api/kernels"),
    ("GET", f"/api/kernels/{uuid.uuid4()}"),
    ("DELETE", f"/api/kernels/{uuid.uuid4()}"),
    ("GET", f"/api/kernels/{uuid.uuid4()}/channels"),
    ("POST", f"/voila/api/shutdown/{uuid.uuid4()}"),
    ("GET", "/voila/files/dashboard.ipynb"),
    ("GET", "/voila/tree"),
    ("GET", "/voila/render/dashboard.ipynb"),
    ("GET", "/voila/static/voila.js"),
    ("GET", "/voila/api/themes/light"),
    ("GET", "/login"),
    ("GET", "/logout"),
]


def test_every_route_needs_a_credential_and_no_file_is_served(served: Served) -> None:
    for method, path in UNAUTHENTICATED:
        status, _, body = served.request(path, method=method)
        assert status == 401, (method, path, status)
        assert json.loads(body)["status"] == 401
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    assert served.request(f"/api/kernels/{uuid.uuid4()}/channels", upgrade)[0] == 401

    viewer = {"Authorization": f"Bearer {served.token('files', 'acme')}"}
    for path in (
        "/tree",
        "/api/contents",
        "/api/kernels",
        "/voila/tree",
        "/voila/render/dashboard.ipynb",
        "/voila/files/dashboard.ipynb",
        "/voila/files/../../",
        "/api/contents/manifest.json",
    ):
        status, headers, body = served.request(path, viewer)
        if status in (301, 302, 303):
            status, headers, body = served.request(headers["Location"], viewer)
        assert status in (403, 404), (path, status)
        assert '"cells"' not in body and str(served.data) not in body


def test_no_credential_reaches_the_log(served: Served) -> None:
    token = served.token("logged", "acme")
    assert served.request(f"/voila/static/voila.js?token={token}")[0] == 303
    assert served.request(f"/logout?token={token}&tenant=globex")[0] == 403
    assert served.request(f"/?token={token[:-4]}")[0] == 401
    served.request("/voila/static/voila.js", {"X-API-Key": served.api_key})
    time.sleep(0.5)  # the server flushes its log lines
    log = served.log.read_text(errors="replace")
    assert "token=[secret]" in log
    assert token[:-4] not in log and served.api_key not in log
    assert "eyJ" not in log  # no JWT at all, from any test of the module
