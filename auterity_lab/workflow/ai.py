"""AI attribution of workflow runs: the AI calls their steps made, tokens, cost and AI step latency.

A step attempt links to the AI call it made through ``workflow_steps.prompt_output_id``; costs come
from the ML price table (:func:`auterity_lab.ml.cost.attach_costs`, the view
``prompt_output_costs``). An unpriced call is reported as unpriced, never as $0: ``cost_usd`` sums
the priced calls and ``cost_complete`` says whether that is the whole cost.

Examples
--------
>>> ai_cost_by_workflow(wb, start="2026-10-01", end="2026-11-01")[["workflow_id", "ai_calls",
...     "cost_usd", "cost_per_successful_run"]]                                  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from auterity_lab.cache import cached
from auterity_lab.ml.cost import costs_identity, ensure_costs
from auterity_lab.workflow import _common

if TYPE_CHECKING:
    import pandas as pd

    from auterity_lab.ml.cost import PriceSource
    from auterity_lab.warehouse import Workbench


def ai_cost_by_run(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    workflow: str | None = None,
    prices: PriceSource = None,
    max_run_days: int = 1,
) -> pd.DataFrame:
    """AI calls, tokens, cost and AI time of every workflow run.

    Parameters
    ----------
    wb
        The tenant's workbench.
    start, end
        The half-open UTC range ``[start, end)`` of the runs' start.
    workflow
        Only this workflow; None means all.
    prices
        A price YAML path or frame (:func:`auterity_lab.ml.cost.load_prices`); None keeps the
        prices already attached to ``wb`` (or attaches the default table).
    max_run_days
        Runs finish within this many days of starting.

    Returns
    -------
    DataFrame
        One row per run (runs without AI included), by start time: ``run_id``, ``workflow_id``,
        ``status``, ``trigger``, ``started_at``, ``duration_ms``, ``ai_steps``, ``ai_calls``,
        ``failed_ai_calls``, ``unlinked_calls`` (reference a prompt output that is not there),
        ``ai_steps_without_call``, ``input_tokens``, ``output_tokens``, ``tokens``,
        ``cost_usd`` (priced calls; 0 without AI calls, NaN when none is priced),
        ``unpriced_calls``, ``cost_complete``, ``ai_ms`` (time in AI steps) and ``ai_share``
        (``ai_ms / duration_ms``).

    Examples
    --------
    >>> runs = ai_cost_by_run(wb, start="2026-10-01", end="2026-10-02")      # doctest: +SKIP
    >>> runs.nlargest(3, "cost_usd")                                        # doctest: +SKIP
    """
    return _costed(wb, "workflow_ai_runs", start, end, workflow, prices, max_run_days)


def ai_cost_by_workflow(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    workflow: str | None = None,
    prices: PriceSource = None,
    max_run_days: int = 1,
) -> pd.DataFrame:
    """AI calls, tokens and cost per workflow: in total, per run and per successful run.

    Parameters are those of :func:`ai_cost_by_run`.

    Returns
    -------
    DataFrame
        One row per workflow with a run in the range, then a total row (``workflow_id ==
        'all'``): ``runs``, ``successful_runs``, ``runs_with_ai``, ``ai_calls``,
        ``failed_ai_calls``, ``unlinked_calls``, ``input_tokens``, ``output_tokens``,
        ``tokens``, ``cost_usd``, ``unpriced_calls``, ``cost_complete``, ``cost_per_run``,
        ``cost_per_successful_run`` (failed runs' calls included: what one useful outcome
        costs), ``tokens_per_run``, ``calls_per_run``, ``ai_ms``, ``ai_share_of_run_time``.

    Examples
    --------
    >>> ai_cost_by_workflow(wb, start="2026-10-01", end="2026-11-01")          # doctest: +SKIP
    """
    return _ai_cost_by_workflow(
        wb,
        start=start,
        end=end,
        workflow=workflow,
        max_run_days=max_run_days,
        prices=prices,
        costs=costs_identity(wb, prices),
    )


@cached(
    "workflow",
    tables=["relaycore.workflow_runs", "relaycore.workflow_steps", "neuroweaver.prompt_outputs"],
    relations=[],
)
def _ai_cost_by_workflow(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    workflow: str | None,
    max_run_days: int,
    prices: PriceSource,
    costs: str,
) -> pd.DataFrame:
    """:func:`ai_cost_by_workflow`, keyed by the prices in effect (``costs``)."""
    return _costed(wb, "workflow_ai_workflows", start, end, workflow, prices, max_run_days)


def ai_cost_by_step(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    workflow: str | None = None,
    prices: PriceSource = None,
    max_run_days: int = 1,
) -> pd.DataFrame:
    """AI calls, tokens, cost and latency per workflow step and model.

    Parameters are those of :func:`ai_cost_by_run`.

    Returns
    -------
    DataFrame
        One row per (``workflow_id``, ``step_name``, ``model_id``; NaN model for AI steps
        without a call found): ``ai_steps``, ``ai_calls``, ``failed_ai_calls``,
        ``unlinked_calls``, ``input_tokens``, ``output_tokens``, ``tokens``, ``cost_usd``,
        ``unpriced_calls``, ``cost_complete``, ``cost_per_call`` (per priced call),
        ``tokens_per_call``, ``p50_ms``, ``p95_ms`` (successful attempts).

    Examples
    --------
    >>> ai_cost_by_step(wb, start="2026-10-01", end="2026-11-01")              # doctest: +SKIP
    """
    return _costed(wb, "workflow_ai_steps", start, end, workflow, prices, max_run_days)


def ai_step_latency(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    workflow: str | None = None,
    max_run_days: int = 1,
) -> pd.DataFrame:
    """Latency of AI steps against the other steps, per workflow and over all workflows.

    Returns
    -------
    DataFrame
        One row per (``workflow_id``, ``kind``) with ``kind`` ``'ai'`` (a step with a
        ``prompt_output_id`` or of type ``ai``) or ``'other'``, then the rows over all workflows
        (``workflow_id == 'all'``): ``attempts``, ``ok_attempts``, ``p50_ms``, ``p95_ms``,
        ``p99_ms``, ``mean_ms`` (successful attempts), ``total_ms`` (all attempts) and
        ``share_of_step_time``.

    Examples
    --------
    >>> latency = ai_step_latency(wb, start="2026-10-01", end="2026-11-01")  # doctest: +SKIP
    >>> latency.query("workflow_id == 'all'")                               # doctest: +SKIP
    """
    return wb.query(
        "workflow_ai_latency",
        **_common.params(
            start, end, workflow=workflow, max_run_days=_common.max_run_days(max_run_days)
        ),
    )


def _costed(
    wb: Workbench,
    query: str,
    start: Any,
    end: Any,
    workflow: str | None,
    prices: PriceSource,
    max_run_days: int,
) -> pd.DataFrame:
    bound = _common.params(
        start, end, workflow=workflow, max_run_days=_common.max_run_days(max_run_days)
    )
    ensure_costs(wb, prices)
    return wb.query(query, **bound)
