"""Workflow analytics (RelayCore): runs, steps and bottlenecks, failures and retries, AI cost, SLAs.

Every function takes the tenant's workbench and a half-open UTC range ``[start, end)`` of the
runs' start, and returns a tidy DataFrame (empty, with its columns, when nothing matches).

Examples
--------
>>> from auterity_lab import workflow
>>> sorted(workflow.__all__)[:3]
['SlaConfig', 'ai_cost_by_run', 'ai_cost_by_step']
>>> workflow.run_summary(wb, start="2026-10-01", end="2026-11-01")       # doctest: +SKIP
"""

from __future__ import annotations

from auterity_lab.workflow.ai import (
    ai_cost_by_run,
    ai_cost_by_step,
    ai_cost_by_workflow,
    ai_step_latency,
)
from auterity_lab.workflow.runs import run_summary, run_trends
from auterity_lab.workflow.sla import SlaConfig, load_sla_config, sla_breaches, sla_over_time
from auterity_lab.workflow.steps import (
    bottleneck_history,
    bottlenecks,
    failure_reasons,
    flaky_steps,
    retry_counts,
    step_breakdown,
    step_shifts,
)

__all__ = [
    "SlaConfig",
    "ai_cost_by_run",
    "ai_cost_by_step",
    "ai_cost_by_workflow",
    "ai_step_latency",
    "bottleneck_history",
    "bottlenecks",
    "failure_reasons",
    "flaky_steps",
    "load_sla_config",
    "retry_counts",
    "run_summary",
    "run_trends",
    "sla_breaches",
    "sla_over_time",
    "step_breakdown",
    "step_shifts",
]
