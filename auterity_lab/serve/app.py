"""The served dashboard: Voila on ``notebooks/dashboard.ipynb`` behind a gate that every request
passes before it is routed.

The gate (:class:`Gate`) answers, for every route (the page, static files, kernel REST and
websocket routes, ``/logout``):

* **401** without a valid credential (see :mod:`auterity_lab.serve.identity`); failed attempts are
  also rate-limited per client address, so guessing API keys costs time;
* **403** without ``analytics:read``, for a ``tenant`` parameter naming another tenant than the
  identity's, and for a kernel that was started for another visitor;
* **429** with ``Retry-After`` when the identity's token bucket is empty
  (``settings.rate_limit_per_minute``). The ~100 static assets of a page (Voila's and the widget
  extensions' JavaScript, CSS and fonts: the same for everyone, no data) need a credential but
  are not counted; the page itself (each load starts a kernel), the kernel routes and websocket
  connections are;
* a redirect that trades a ``?token=`` link for the HttpOnly session cookie.

The visitor's identity reaches the kernel two ways the visitor cannot influence: a prelaunch
hook (:func:`bind_parameters`) adds a cell after the notebook's ``parameters`` cell that sets
``tenant``/``locked_tenant`` and the library's current security context (so permission checks,
e.g. of an insight status change, apply to the visitor), and the gate replaces any client-sent
``X-Auterity-Lab-User``/``-Tenant`` headers by the identity's, which Voila hands to the kernel
as environment (how the kernel manager records whose kernel it is). The kernel runs only widget
messages (Voila refuses ``execute_request``), no file of the notebook folder is served, and the
access log blanks ``token`` parameters (:func:`scrub_uri`).

Examples
--------
>>> serve("data", port=8866)                                                 # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import nbformat
import tornado.web
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado.httputil import HTTPServerRequest
from tornado.log import access_log
from traitlets import Instance, Integer, default
from voila.app import Voila

from auterity_lab.config import Settings, load_settings, packaged_dir
from auterity_lab.errors import AccessDeniedError, ConfigError, DataNotFoundError
from auterity_lab.security import SecurityContext, auth_configured, authorize
from auterity_lab.serve.identity import (
    TOKEN_PARAMETER,
    DashboardUser,
    TokenIdentityProvider,
)
from auterity_lab.serve.ratelimit import RateLimiter

USER_HEADER = "X-Auterity-Lab-User"
TENANT_HEADER = "X-Auterity-Lab-Tenant"
OWNER_ENV = "HTTP_X_AUTERITY_LAB_USER"
"""The kernel environment variable Voila fills from :data:`USER_HEADER`."""
TENANT_PARAMETERS = ("tenant", "tenant_id", "tenants")
"""Query parameters that name a tenant: each must name the identity's own."""
REQUIRED_PERMISSION = ("analytics", "read")
DEFAULT_PORT = 8866
FAILED_ATTEMPTS_PER_MINUTE = 60
"""Refused credentials one client address may send a minute before it gets 429."""
_ASSET_ROUTE = re.compile(r"/voila/(?:static|labextensions|templates|api/themes)/")
_KERNEL_ROUTE = re.compile(
    r"/(?:api/kernels|voila/api/shutdown|voila/execution|voila/query)/([^/?]+)"
)
_INJECTED_TAG = "injected-parameters"
_TOKEN_IN_QUERY = re.compile(rf"([?&]){TOKEN_PARAMETER}=[^&#]*")


@dataclass(frozen=True)
class GateAnswer:
    """What the gate sends instead of routing a request: a status, a reason, extra headers."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = ()


class OwnedKernelManager(AsyncMappingKernelManager):
    """Kernel manager that records, for each kernel, the user it was started for.

    The user comes from the kernel's environment (:data:`OWNER_ENV`); a kernel start without one
    is refused. A user keeps at most :attr:`max_kernels_per_user` kernels (opening one more page
    shuts their oldest down), and kernels idle for :attr:`cull_idle_timeout` seconds without a
    page connected are shut down, so neither many tabs nor abandoned ones pile up processes.
    """

    max_kernels_per_user = Integer(
        3, help="Dashboard kernels one user keeps; a new page retires their oldest."
    ).tag(config=True)

    @default("cull_idle_timeout")
    def _default_cull_idle_timeout(self) -> int:
        return 1800

    @default("cull_interval")
    def _default_cull_interval(self) -> int:
        return 60

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.owners: dict[str, str] = {}  # kernel id -> user id, oldest first

    async def start_kernel(  # type: ignore[override]
        self, *, kernel_id: str | None = None, path: str | None = None, **kwargs: Any
    ) -> str:
        """Start a kernel for the user named in ``env`` (403 when none is)."""
        owner = (kwargs.get("env") or {}).get(OWNER_ENV)
        if not owner:
            raise tornado.web.HTTPError(403, "a dashboard kernel needs an identity")
        theirs = [k for k, user in self.owners.items() if user == owner]
        for retired in theirs[: max(0, len(theirs) - self.max_kernels_per_user + 1)]:
            self.log.info("user %s has %d kernels: shutting down %s", owner, len(theirs), retired)
            await self.shutdown_kernel(retired)
        started = str(await super().start_kernel(kernel_id=kernel_id, path=path, **kwargs))
        self.owners[started] = owner
        return started

    def remove_kernel(self, kernel_id: str) -> Any:
        """Forget the kernel and its owner."""
        self.owners.pop(kernel_id, None)
        return super().remove_kernel(kernel_id)

    def owner_of(self, kernel_id: str) -> str | None:
        """The user a kernel was started for (None: unknown kernel)."""
        return self.owners.get(kernel_id)


class Gate:
    """Per-request access decisions, taken before routing (see the module docstring).

    Parameters
    ----------
    provider
        Identifies requests.
    limiter
        The per-identity token buckets.
    failures
        Token buckets per client address, one token per refused credential.
    kernel_owner
        ``kernel_id -> user id`` (None for a kernel nobody started here).
    """

    def __init__(
        self,
        provider: TokenIdentityProvider,
        limiter: RateLimiter,
        failures: RateLimiter,
        kernel_owner: Callable[[str], str | None],
    ) -> None:
        self.provider = provider
        self.limiter = limiter
        self.failures = failures
        self.kernel_owner = kernel_owner

    def check(self, request: HTTPServerRequest) -> GateAnswer | None:
        """None to route ``request``; else the answer to send instead."""
        for name in (USER_HEADER, TENANT_HEADER):  # only the gate sets these
            if name in request.headers:
                del request.headers[name]
        address = request.remote_ip or "unknown"
        if self.failures.peek(address) < 1:
            return self._too_many(self.failures.check(address).retry_after_header, "failed")
        found = self.provider.identify(request)
        context = found.context
        if context is None:
            self.failures.check(address)
            challenge = 'Bearer realm="auterity-lab"'
            if found.source is not None:
                challenge += ', error="invalid_token"'
            return GateAnswer(
                401, f"authentication required: {found.error}", (("WWW-Authenticate", challenge),)
            )
        try:
            authorize(context, *REQUIRED_PERMISSION)
        except AccessDeniedError as exc:
            return GateAnswer(403, str(exc))
        wrong = _foreign_tenants(request, context.tenant_id)
        if wrong:
            return GateAnswer(
                403,
                f"user {context.user_id!r} is bound to tenant {context.tenant_id!r}, "
                f"not {', '.join(repr(t) for t in wrong)}",
            )
        if not _ASSET_ROUTE.search(request.path):
            decision = self.limiter.check(context.user_id)
            if not decision.allowed:
                return self._too_many(decision.retry_after_header, "")
        kernel = _KERNEL_ROUTE.search(request.path)  # under any base URL
        if kernel and self.kernel_owner(kernel.group(1)) != context.user_id:
            return GateAnswer(403, "this kernel was not started for you")
        request.headers[USER_HEADER] = context.user_id
        request.headers[TENANT_HEADER] = context.tenant_id
        if found.source == "query" and found.credential and _is_page_request(request):
            cookie = self.provider.session_cookie(
                found.credential, secure=request.protocol == "https"
            )
            return GateAnswer(
                303, "signed in", (("Location", _without_token(request)), ("Set-Cookie", cookie))
            )
        return None

    def _too_many(self, retry_after: str, what: str) -> GateAnswer:
        reason = f"too many {what + ' ' if what else ''}requests; retry in {retry_after} s"
        return GateAnswer(429, reason, (("Retry-After", retry_after),))


class GateAnswerHandler(tornado.web.RequestHandler):
    """Sends a :class:`GateAnswer` (JSON ``{"status", "reason"}``) for any method."""

    def initialize(self, answer: GateAnswer) -> None:
        self.answer = answer

    def _send(self, *args: Any, **kwargs: Any) -> None:
        self.set_status(self.answer.status)
        for name, value in self.answer.headers:
            self.add_header(name, value)
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": self.answer.status, "reason": self.answer.reason}))

    get = head = post = put = patch = delete = options = _send

    def check_xsrf_cookie(self) -> None:
        """No body is ever processed here, so there is nothing to forge."""


class GatedApplication(tornado.web.Application):
    """A tornado application whose every request passes :attr:`gate` before it is routed."""

    def __init__(self, gate: Gate | None = None, **settings: Any) -> None:
        super().__init__(**settings)
        self.gate = gate

    def log_request(self, handler: tornado.web.RequestHandler) -> None:
        """Tornado's access log line, with the value of a ``token`` parameter blanked out."""
        status = handler.get_status()
        level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
        request = handler.request
        access_log.log(
            level,
            "%d %s %s (%s) %.2fms",
            status,
            request.method,
            scrub_uri(request.uri or ""),
            request.remote_ip,
            1000.0 * request.request_time(),
        )

    def find_handler(self, request: HTTPServerRequest, **kwargs: Any) -> Any:
        """Route ``request``, or hand it to :class:`GateAnswerHandler`."""
        answer = self.gate.check(request) if self.gate is not None else None
        if answer is None:
            return super().find_handler(request, **kwargs)
        return self.get_handler_delegate(request, GateAnswerHandler, {"answer": answer})


class DashboardServer(Voila):
    """Voila with the workbench's identity provider, tenant binding, kernel owners and gate."""

    auth_settings = Instance(Settings, help="Settings with the keys and the rate limit.")

    def init_settings(self) -> dict[str, Any]:
        """Voila's settings; the identity provider it creates gets :attr:`auth_settings`."""
        self.config.TokenIdentityProvider.auth_settings = self.auth_settings
        return dict(super().init_settings())

    def start(self) -> None:
        """As :meth:`Voila.start`, with a :class:`GatedApplication`."""
        self.connection_dir = tempfile.mkdtemp(prefix="voila_", dir=self.connection_dir_root)
        settings = self.init_settings()
        provider = settings["identity_provider"]
        if not isinstance(provider, TokenIdentityProvider) or not isinstance(
            self.kernel_manager, OwnedKernelManager
        ):
            raise ConfigError("the dashboard server needs its identity provider and kernel manager")
        per_minute = self.auth_settings.rate_limit_per_minute
        gate = Gate(
            provider,
            RateLimiter(per_minute),
            RateLimiter(FAILED_ATTEMPTS_PER_MINUTE),
            self.kernel_manager.owner_of,
        )
        self.app = GatedApplication(gate, **settings)
        extra = {k: v for k, v in self.tornado_settings.items() if k not in settings}
        self.app.settings.update(extra)  # config may add tornado settings, not replace these
        self.app.add_handlers(".*$", self.init_handlers())
        self.listen()


def bind_parameters(
    notebook: nbformat.NotebookNode, *, data_dir: str | Path, context: SecurityContext
) -> nbformat.NotebookNode:
    """A copy of ``notebook`` with a cell after its ``parameters`` cell that binds the data
    directory, the tenant (``tenant``, ``tenants = None``, ``locked_tenant``) and the identity
    (:func:`~auterity_lab.security.set_current_context`, so permission checks in the library,
    e.g. an insight status change, know who is asking).

    Examples
    --------
    >>> nb = nbformat.v4.new_notebook(cells=[
    ...     nbformat.v4.new_code_cell("tenant = 'x'", metadata={"tags": ["parameters"]})])
    >>> ctx = SecurityContext("ana", "acme", roles={"viewer"})
    >>> print(bind_parameters(nb, data_dir="/d", context=ctx).cells[1].source)
    # Bound by auterity-lab serve from the visitor's identity
    from auterity_lab.security import SecurityContext, set_current_context
    data_dir = '/d'
    tenant = 'acme'
    tenants = None
    locked_tenant = 'acme'
    set_current_context(SecurityContext(
        'ana', 'acme', roles=['viewer'], permissions=['analytics:read'], credential_id=None
    ))
    """
    bound = nbformat.from_dict(json.loads(json.dumps(notebook)))
    tags = [cell.get("metadata", {}).get("tags", []) for cell in bound.cells]
    where = next((i for i, t in enumerate(tags) if "parameters" in t), None)
    if where is None:
        raise ConfigError("the dashboard notebook has no cell tagged 'parameters'")
    bound.cells = [c for c, t in zip(bound.cells, tags, strict=True) if _INJECTED_TAG not in t]
    source = "\n".join(
        [
            "# Bound by auterity-lab serve from the visitor's identity",
            "from auterity_lab.security import SecurityContext, set_current_context",
            f"data_dir = {str(data_dir)!r}",
            f"tenant = {context.tenant_id!r}",
            "tenants = None",
            f"locked_tenant = {context.tenant_id!r}",
            "set_current_context(SecurityContext(",
            f"    {context.user_id!r}, {context.tenant_id!r}, roles={sorted(context.roles)!r}, "
            f"permissions={sorted(context.permissions)!r}, credential_id={context.credential_id!r}",
            "))",
        ]
    )
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [_INJECTED_TAG]})
    bound.cells.insert(where + 1, cell)
    return bound


def serve(
    data_dir: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    settings: Settings | None = None,
    notebook: str | Path | None = None,
) -> None:
    """Serve the dashboard until interrupted (Ctrl-C).

    Parameters
    ----------
    data_dir
        The data directory (with ``manifest.json``) every visitor's tenant is read from.
    host, port
        Where to listen; the default host is loopback only.
    settings
        JWT keys, API keys file and ``rate_limit_per_minute`` (default: :func:`load_settings`);
        at least one credential source must be configured.
    notebook
        The dashboard notebook (default: the packaged ``dashboard.ipynb``).

    Examples
    --------
    >>> serve("data", settings=Settings(jwt_secret="s" * 32))                # doctest: +SKIP
    """
    server = build_server(data_dir, host=host, port=port, settings=settings, notebook=notebook)
    server.start()


def build_server(
    data_dir: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    settings: Settings | None = None,
    notebook: str | Path | None = None,
) -> DashboardServer:
    """The configured, initialized server :func:`serve` starts (see there for the parameters).

    Examples
    --------
    >>> build_server("/no/such/dir", settings=Settings(jwt_secret="s" * 32))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auterity_lab.errors.DataNotFoundError: no manifest.json in /no/such/dir: run ...
    """
    settings = settings if settings is not None else load_settings()
    if not auth_configured(settings):
        raise ConfigError(
            "serving needs a credential source: set jwt_secret, jwt_public_key or api_keys_file "
            "(AUTERITY_LAB_JWT_SECRET, ...)"
        )
    data = Path(data_dir).expanduser().resolve()
    if not (data / "manifest.json").is_file():
        raise DataNotFoundError(
            f"no manifest.json in {data_dir}: run `auterity-lab demo` or an extract first"
        )
    path = Path(notebook) if notebook is not None else packaged_dir("notebooks") / "dashboard.ipynb"
    if not path.is_file():
        raise DataNotFoundError(f"dashboard notebook {path} does not exist")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ConfigError(f"port must be an integer in 1..65535, not {port!r}")
    server = DashboardServer()
    server.initialize(argv=[str(path.resolve())])
    _harden(server, data, host, port, settings)
    return server


def _harden(server: DashboardServer, data: Path, host: str, port: int, settings: Settings) -> None:
    """Set what serving safely needs, after Voila read any config file (so none overrides it)."""
    server.auth_settings = settings
    server.ip = host
    server.port = port
    server.port_retries = 0
    server.open_browser = False
    server.identity_provider_class = TokenIdentityProvider
    conf = server.voila_configuration
    conf.multi_kernel_manager_class = OwnedKernelManager
    conf.prelaunch_hook = _tenant_hook(data)
    conf.http_header_envs = [USER_HEADER, TENANT_HEADER]
    conf.file_allowlist = []  # nothing of the notebook's folder is served
    conf.show_tracebacks = False
    conf.preheat_kernel = False  # a preheated kernel starts before anyone's identity is known
    conf.progressive_rendering = False
    conf.allow_template_override = "NO"
    conf.allow_theme_override = "NO"


def _tenant_hook(data: Path) -> Callable[..., nbformat.NotebookNode]:
    def hook(handler: tornado.web.RequestHandler, notebook: Any, cwd: str) -> Any:
        user = handler.current_user
        if not isinstance(user, DashboardUser) or user.context is None:
            raise tornado.web.HTTPError(401, "no identity to bind a tenant from")
        return bind_parameters(notebook, data_dir=data, context=user.context)

    return hook


def scrub_uri(uri: str) -> str:
    """``uri`` with the value of every ``token`` query parameter replaced by ``[secret]``.

    Examples
    --------
    >>> scrub_uri("/voila?x=1&token=eyJhbGciOi.e30.c2ln&y=2")
    '/voila?x=1&token=[secret]&y=2'
    """
    return _TOKEN_IN_QUERY.sub(rf"\1{TOKEN_PARAMETER}=[secret]", uri)


def _foreign_tenants(request: HTTPServerRequest, tenant: str) -> list[str]:
    named = {
        part.strip()
        for name in TENANT_PARAMETERS
        for raw in request.query_arguments.get(name, [])
        for part in raw.decode("utf-8", "replace").split(",")
        if part.strip()
    }
    return sorted(named - {tenant})


def _is_page_request(request: HTTPServerRequest) -> bool:
    upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
    return request.method in ("GET", "HEAD") and not upgrade


def _without_token(request: HTTPServerRequest) -> str:
    kept = [
        (name, value.decode("utf-8", "replace"))
        for name, values in request.query_arguments.items()
        if name != TOKEN_PARAMETER
        for value in values
    ]
    return request.path + (f"?{urlencode(kept)}" if kept else "")
