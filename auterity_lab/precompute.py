"""Precomputed dashboard views: each tenant's default view stored in the result cache after an
extract, so a dashboard opened later starts from cached data.

The spec precomputes its aggregations (§8.1, ``aggregation.precomputed``) and refreshes
materialized views (§4.3). Here the result cache does that job: after the extracts change
(``auterity-lab extract`` and ``demo`` call :func:`precompute_dashboard` unless
``settings.precompute_dashboard`` is off), every panel of every dashboard tab is computed for
each tenant with the filters a dashboard opens with (:func:`~auterity_lab.dashboard.
default_filters`: the eight weeks up to the latest complete day) and stored in the shared
layers (disk, and Redis where configured) with a long time to live, ``keep_days``.

Nothing goes stale: a cached result's key holds the fingerprints of the tables it read, so the
next extract makes exactly the entries over changed tables unreachable, and the next
precomputation stores the new ones. The time to live only bounds how long an unchanged data
directory keeps its precomputed view. The computation runs with the cache's lookups off
(:meth:`~auterity_lab.cache.ResultCache.refreshing`), so entries stored earlier with a short
time to live are rewritten with the long one.

Each tenant's view is computed twice: as a data scientist sees it (raw text) and as everyone
without ``raw_text:read`` sees it (prompts, outputs and feedback masked), the latter by a
principal named ``precompute`` with the viewer role (the least a dashboard user has). Results
that read no table with masked text have one entry shared by both (see
:meth:`~auterity_lab.warehouse.Workbench.text_variant`), so the second pass computes only the
panels over prompt outputs and feedback. Under a security context the first view is the
context's own, and a context that sees masked text computes only its own.

Other filters (another range, a model, a device) are computed on demand, as before.

Examples
--------
>>> run = precompute_dashboard("data")                                   # doctest: +SKIP
>>> [(t.tenant, t.tab, round(t.seconds, 1)) for t in run.tabs][:2]        # doctest: +SKIP
[('acme', 'overview', 0.4), ('acme', 'business', 1.2)]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from auterity_lab.cache import DEFAULT_TTL_SECONDS, ResultCache
from auterity_lab.config import Settings, load_settings
from auterity_lab.dashboard import TABS, PanelContext, default_filters
from auterity_lab.errors import AuterityLabError, ConfigError, QueryParameterError
from auterity_lab.manifest import read_manifest
from auterity_lab.security import SecurityContext, current_context
from auterity_lab.warehouse import Workbench

PRINCIPAL = "precompute"
"""The user id of the masked-text view's computation (as it appears in the audit log)."""


@dataclass(frozen=True)
class PrecomputedTab:
    """One tab of one tenant: how long its panels took, how many, and which failed (and why)."""

    tenant: str
    tab: str
    seconds: float
    panels: int
    errors: tuple[str, ...] = ()
    text: Literal["raw", "masked"] = "raw"
    """``masked``: the view of users without ``raw_text:read``."""

    @property
    def label(self) -> str:
        """``tenant/tab``, with `` (masked text)`` for the masked view."""
        return f"{self.tenant}/{self.tab}" + (" (masked text)" if self.text == "masked" else "")


@dataclass(frozen=True)
class Precomputation:
    """What :func:`precompute_dashboard` did."""

    tabs: tuple[PrecomputedTab, ...]
    seconds: float
    keep_days: float

    @property
    def errors(self) -> list[str]:
        """Every failed panel as ``"<label>/panel: message"`` (see :attr:`PrecomputedTab.label`)."""
        return [f"{t.label}/{e}" for t in self.tabs for e in t.errors]


def precompute_dashboard(
    data_dir: str | Path,
    /,
    *,
    tenants: Sequence[str] | None = None,
    tabs: Sequence[str] | None = None,
    keep_days: float | None = None,
    settings: Settings | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> Precomputation:
    """Compute the dashboard's default view of each tenant into the result cache.

    Parameters
    ----------
    data_dir
        The data directory (its manifest names the tenants).
    tenants
        Tenants to precompute (default: every tenant of the manifest; under a security context
        (:func:`~auterity_lab.security.current_context`), the context's tenant).
    tabs
        Tabs to precompute (default: all of :data:`~auterity_lab.dashboard.TABS`).
    keep_days
        Time to live of the stored entries, in days (> 0; default
        ``settings.precompute_keep_days``, 7).
    settings
        Where the cache lives (default: :func:`~auterity_lab.config.load_settings`).
    progress
        Called as ``progress(done, total, label)`` after each tab (``"acme/ml"``, or
        ``"acme/ml (masked text)"`` for the masked view).

    Returns
    -------
    Precomputation
        Per tenant and tab: seconds, panels, and the panels that failed with an analytics
        error (recorded, not raised: the dashboard shows the same error when opened).

    Raises
    ------
    ConfigError
        The result cache is off (``cache_enabled``): there is nowhere to store the results.
    QueryParameterError
        An unknown tab, or ``keep_days`` not a positive number.
    UnknownTenantError
        A tenant the data directory does not hold.

    Examples
    --------
    >>> run = precompute_dashboard("data", tenants=["acme"], tabs=["overview"])  # doctest: +SKIP
    >>> run.tabs[0].panels, run.errors                                          # doctest: +SKIP
    (3, [])
    """
    chosen_tabs = list(TABS) if tabs is None else list(tabs)
    unknown = [t for t in chosen_tabs if t not in TABS]
    if unknown:
        raise QueryParameterError(
            f"unknown tab {', '.join(map(repr, unknown))}; known: {', '.join(TABS)}"
        )
    base = settings if settings is not None else load_settings()
    keep_days = base.precompute_keep_days if keep_days is None else keep_days
    if isinstance(keep_days, bool) or not isinstance(keep_days, int | float) or not keep_days > 0:
        raise QueryParameterError(f"keep_days must be a positive number, not {keep_days!r}")
    if not base.cache_enabled:
        raise ConfigError("the result cache is off (cache_enabled: false): nothing to store into")
    keep = {kind: float(keep_days) * 86400 for kind in DEFAULT_TTL_SECONDS}
    long_lived = base.model_copy(update={"cache_ttl_seconds": keep})
    chosen_tenants = _tenants(data_dir) if tenants is None else list(tenants)
    views = [(tenant, context) for tenant in chosen_tenants for context in _viewers(tenant)]
    total = len(views) * len(chosen_tabs)
    started = time.perf_counter()
    done: list[PrecomputedTab] = []
    # one refresh for the whole run: a result two views share (one without masked text) is
    # computed by the first and found by the second
    with ResultCache.for_settings(long_lived, Path(data_dir)).refreshing():
        for tenant, context in views:
            with Workbench.open(
                data_dir, tenant=tenant, settings=long_lived, context=context
            ) as wb:
                filters = default_filters(wb)
                text: Literal["raw", "masked"] = "raw" if wb.text_variant() == "raw" else "masked"
                for key in chosen_tabs:
                    done.append(_compute_tab(PanelContext(wb, filters), key, text))
                    if progress is not None:
                        progress(len(done), total, done[-1].label)
    return Precomputation(tuple(done), time.perf_counter() - started, float(keep_days))


def _tenants(data_dir: str | Path) -> list[str]:
    context = current_context()
    return [context.tenant_id] if context is not None else list(read_manifest(data_dir).tenants)


def _viewers(tenant: str) -> list[SecurityContext | None]:
    """Who the views are computed as: the current context (or none: no access control) and,
    unless the context itself sees masked text, a viewer who sees it masked."""
    context = current_context()
    if context is not None and not context.allows("raw_text", "read"):
        return [context]
    return [context, SecurityContext(PRINCIPAL, tenant, roles=frozenset({"viewer"}))]


def _compute_tab(ctx: PanelContext, key: str, text: str) -> PrecomputedTab:
    errors = []
    started = time.perf_counter()
    panels = TABS[key].panels
    for panel in panels:
        try:
            panel.compute(ctx)
        except AuterityLabError as exc:
            errors.append(f"{panel.name}: {exc}")
    seconds = time.perf_counter() - started
    return PrecomputedTab(ctx.wb.tenant, key, seconds, len(panels), tuple(errors), text)


__all__ = ["PRINCIPAL", "PrecomputedTab", "Precomputation", "precompute_dashboard"]
