"""auterity_lab: a Jupyter-first analytics workbench for Auterity, Neuroweaver and RelayCore.

Examples
--------
>>> import auterity_lab as al
>>> al.generate_demo("data")                                  # doctest: +SKIP
>>> wb = al.Workbench.open("data", tenant="acme")             # doctest: +SKIP
>>> wb.query("daily_user_analytics", start="2026-10-01", end="2026-11-01")  # doctest: +SKIP
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from auterity_lab.config import Settings, load_settings
from auterity_lab.errors import AuterityLabError
from auterity_lab.periods import DateRange
from auterity_lab.queries import list_queries, load_query
from auterity_lab.synth import generate_demo
from auterity_lab.warehouse import Workbench

try:
    __version__ = version("auterity-lab")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0+unknown"

__all__ = [
    "AuterityLabError",
    "DateRange",
    "Settings",
    "Workbench",
    "__version__",
    "generate_demo",
    "list_queries",
    "load_query",
    "load_settings",
]
