"""Business analytics of Auterity (spec Analytics API and Business Analytics Panel): users,
sessions, acquisition, retention, lifecycle, funnels, breakdowns, revenue and system performance.

Every function takes the tenant-scoped :class:`~auterity_lab.warehouse.Workbench`, keyword-only
``start`` and ``end`` (half-open UTC range) and, for user metrics, the shared filters ``device``,
``country``, ``plan``, ``channel`` and ``breakdown`` (see :mod:`auterity_lab.business.scope`). The
work is SQL in ``queries/business_*.sql``; results are tidy DataFrames with a ``segment`` column.

Examples
--------
>>> from auterity_lab import business
>>> sorted(business.BREAKDOWNS)
['channel', 'country', 'device', 'plan']
>>> business.retention(wb, start="2026-09-07", end="2026-11-02", interval="week")  # doctest: +SKIP
"""

from __future__ import annotations

from auterity_lab.business.acquisition import acquisition
from auterity_lab.business.breakdowns import segment_kpis
from auterity_lab.business.funnels import Step, funnel
from auterity_lab.business.lifecycle import lifecycle
from auterity_lab.business.performance import system_performance
from auterity_lab.business.retention import retention
from auterity_lab.business.revenue import ltv, mrr, revenue
from auterity_lab.business.scope import BREAKDOWNS, dimension_values
from auterity_lab.business.summary import business_metrics
from auterity_lab.business.users import active_days, stickiness, user_activity

__all__ = [
    "BREAKDOWNS",
    "Step",
    "acquisition",
    "active_days",
    "business_metrics",
    "dimension_values",
    "funnel",
    "lifecycle",
    "ltv",
    "mrr",
    "retention",
    "revenue",
    "segment_kpis",
    "stickiness",
    "system_performance",
    "user_activity",
]
