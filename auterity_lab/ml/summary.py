"""The AI/ML headline (spec ``getMLAnalytics``): every figure and its change vs the period before.

Examples
--------
>>> ml_summary(wb, start="2026-10-01", end="2026-11-01")                       # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from auterity_lab.cache import cached
from auterity_lab.ml._params import ai_params
from auterity_lab.ml.cost import PriceSource, costs_identity, ensure_costs
from auterity_lab.periods import DateRange

if TYPE_CHECKING:
    import pandas as pd

    from auterity_lab.warehouse import Workbench

HIGHER_IS_BETTER: dict[str, bool] = {
    "error_rate": False,
    "latency_p50_ms": False,
    "latency_p95_ms": False,
    "mean_rating": True,
    "high_rated_share": True,
    "feedback_rate": True,
    "unpriced_requests": False,
    "cost_per_request": False,
    "cost_per_user": False,
    "cost_per_high_rated_answer": False,
}
"""Direction of the metrics where a rise is good or bad (the others are volumes)."""


def ml_summary(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    model: str | None = None,
    model_version: str | None = None,
    prompt_version: str | None = None,
    prices: PriceSource = None,
) -> pd.DataFrame:
    """Headline AI/ML figures for ``[start, end)`` and the period of equal length before it.

    Returns
    -------
    DataFrame
        One row per metric, in a fixed order — ``requests``, ``users``, ``models``,
        ``error_rate``, ``latency_p50_ms``, ``latency_p95_ms``, ``mean_rating``,
        ``high_rated_share``, ``feedback_rate``, ``input_tokens``, ``output_tokens``,
        ``cost_usd``, ``unpriced_requests``, ``cost_per_request``, ``cost_per_user``,
        ``cost_per_high_rated_answer`` — with ``value``, ``unit``, ``previous`` (the period
        before), ``change`` (relative, ``value / previous - 1``; NaN when previous is 0 or
        missing) and ``higher_is_better`` (True, False, or None for volumes). Costs are NaN
        (never 0) when no output is priced.

    Examples
    --------
    >>> s = ml_summary(wb, start="2026-10-01", end="2026-11-01")             # doctest: +SKIP
    >>> s.set_index("metric").loc["cost_usd", ["value", "previous", "change"]]  # doctest: +SKIP
    """
    rng = DateRange.of(start, end)
    return _ml_summary(
        wb,
        start=rng.start,
        end=rng.end,
        model=model,
        model_version=model_version,
        prompt_version=prompt_version,
        prices=prices,
        costs=costs_identity(wb, prices),
    )


@cached("ml_performance", tables=["neuroweaver.prompt_outputs"], relations=[])
def _ml_summary(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    model: str | None,
    model_version: str | None,
    prompt_version: str | None,
    prices: PriceSource,
    costs: str,
) -> pd.DataFrame:
    """:func:`ml_summary`, keyed by the prices in effect (``costs``)."""
    ensure_costs(wb, prices)
    rng = DateRange.of(start, end)
    filters = {"model": model, "model_version": model_version, "prompt_version": prompt_version}
    now = wb.query("ml_summary", **ai_params(rng.start, rng.end, **filters))
    before = wb.query("ml_summary", **ai_params(*rng.previous().params().values(), **filters))
    now["previous"] = before["value"].to_numpy()
    value = now["value"].to_numpy(dtype=float)
    prev = now["previous"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        now["change"] = np.where(np.isfinite(prev) & (prev != 0), value / prev - 1.0, np.nan)
    now["higher_is_better"] = [HIGHER_IS_BETTER.get(m) for m in now["metric"]]
    return now
