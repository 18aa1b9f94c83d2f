"""The dashboard served to people who are not data scientists: ``auterity-lab serve``.

Voila runs ``notebooks/dashboard.ipynb`` per visitor, behind the workbench's authentication (spec
§6.1: a JWT or an API key, as a Jupyter Server identity provider), with the visitor's tenant
bound from the credential and a per-identity rate limit (spec §8.2 ``rateLimit``).

* :mod:`~auterity_lab.serve.identity`: who is asking (credentials, sessions, identity provider);
* :mod:`~auterity_lab.serve.ratelimit`: the token buckets;
* :mod:`~auterity_lab.serve.app`: the gate every request passes, the tenant binding, the server.

Examples
--------
>>> from auterity_lab.serve import serve
>>> serve("data", port=8866)                                                 # doctest: +SKIP
"""

from __future__ import annotations

from auterity_lab.serve.app import (
    DEFAULT_PORT,
    DashboardServer,
    Gate,
    GateAnswer,
    OwnedKernelManager,
    bind_parameters,
    build_server,
    serve,
)
from auterity_lab.serve.identity import (
    API_KEY_HEADER,
    SESSION_COOKIE,
    CredentialVerifier,
    DashboardUser,
    Identification,
    SessionStore,
    TokenIdentityProvider,
)
from auterity_lab.serve.ratelimit import RateDecision, RateLimiter

__all__ = [
    "API_KEY_HEADER",
    "DEFAULT_PORT",
    "SESSION_COOKIE",
    "CredentialVerifier",
    "DashboardServer",
    "DashboardUser",
    "Gate",
    "GateAnswer",
    "Identification",
    "OwnedKernelManager",
    "RateDecision",
    "RateLimiter",
    "SessionStore",
    "TokenIdentityProvider",
    "bind_parameters",
    "build_server",
    "serve",
]
