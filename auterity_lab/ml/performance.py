"""Model performance (spec ``getModelPerformance``): per model and version, and over time.

Examples
--------
>>> perf = model_performance(wb, start="2026-10-01", end="2026-11-01")        # doctest: +SKIP
>>> perf[["model_id", "latency_p95_ms", "mean_rating", "rating_ci_low"]]     # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from auterity_lab.arguments import check_share
from auterity_lab.cache import cached
from auterity_lab.ml import _rollup_forms as rollup_forms
from auterity_lab.ml._params import ai_params, check_grain
from auterity_lab.ml._stats import t_interval
from auterity_lab.periods import DateRange

if TYPE_CHECKING:
    import pandas as pd

    from auterity_lab.warehouse import Workbench


@cached(
    "ml_performance",
    tables=["neuroweaver.prompt_outputs", "neuroweaver.feedback"],
    relations=[],
)
def model_performance(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    model: str | None = None,
    model_version: str | None = None,
    prompt_version: str | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Requests, errors, latency percentiles, tokens and ratings per model and version.

    Parameters
    ----------
    wb
        The tenant's workbench.
    start, end
        The UTC range ``[start, end)`` of the outputs' ``created_at``.
    model, model_version, prompt_version
        Optional filters (exact values); None means all.
    confidence
        Level of the rating interval.

    Returns
    -------
    DataFrame
        One row per ``model_id`` and ``model_version``: ``requests``, ``errors``, ``error_rate``
        (status ``error``), ``latency_p50_ms``, ``latency_p95_ms``, ``latency_p99_ms`` and
        ``latency_mean_ms`` (continuous percentiles over requests that did not error),
        ``input_tokens``, ``output_tokens`` (sums), ``mean_input_tokens``,
        ``mean_output_tokens``, ``users``, ``rated`` (outputs with a ``user_rating``),
        ``mean_rating``, ``rating_sd``, ``rating_ci_low``, ``rating_ci_high`` (Student-t
        interval of the mean rating; NaN with fewer than 2 ratings), ``high_rated``
        (rating >= 4), ``high_rated_share`` (of rated), ``feedback_rate`` (rated / requests),
        ``first_seen``, ``last_seen``. Empty (same columns) when nothing matches.

    Examples
    --------
    >>> model_performance(wb, start="2026-10-01", end="2026-11-01",
    ...                   model="gpt-4o")                                   # doctest: +SKIP
    """
    frame = rollup_forms.query(
        wb,
        "ml_model_performance",
        **ai_params(
            start, end, model=model, model_version=model_version, prompt_version=prompt_version
        ),
    )
    return _with_rating_ci(frame, check_share("confidence", confidence), after="rating_sd")


def performance_over_time(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    grain: str = "day",
    model: str | None = None,
    model_version: str | None = None,
    prompt_version: str | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """The performance figures per ``hour``, ``day`` or ``week`` and model.

    Returns
    -------
    DataFrame
        One row per ``period`` (UTC bucket start) and ``model_id`` with outputs: ``requests``,
        ``errors``, ``error_rate``, ``latency_p50_ms``, ``latency_p95_ms``, ``latency_p99_ms``,
        ``input_tokens``, ``output_tokens``, ``rated``, ``mean_rating``, ``rating_sd``,
        ``rating_ci_low``, ``rating_ci_high``, ``high_rated_share`` (definitions as
        :func:`model_performance`). Buckets without outputs have no row.

    Examples
    --------
    >>> performance_over_time(wb, start="2026-10-01", end="2026-10-02",
    ...                       grain="hour")                                 # doctest: +SKIP
    """
    params = ai_params(
        start, end, model=model, model_version=model_version, prompt_version=prompt_version
    )
    frame = wb.query("ml_performance_over_time", grain=check_grain(grain), **params)
    return _with_rating_ci(frame, check_share("confidence", confidence), after="rating_sd")


def _with_rating_ci(frame: pd.DataFrame, confidence: float, *, after: str) -> pd.DataFrame:
    lo, hi = t_interval(frame["mean_rating"], frame["rating_sd"], frame["rated"], confidence)
    at = frame.columns.get_loc(after) + 1
    frame.insert(at, "rating_ci_low", lo)
    frame.insert(at + 1, "rating_ci_high", hi)
    return frame


def filter_values(wb: Workbench, /, *, start: Any, end: Any) -> pd.DataFrame:
    """The models, model versions and prompt versions with outputs in ``[start, end)``.

    Returns
    -------
    DataFrame
        One row per ``model_id``, ``model_version`` and ``prompt_version`` combination, with its
        ``requests``: the choices offered by the AI/ML filters.

    Examples
    --------
    >>> choices = filter_values(wb, start="2026-10-01", end="2026-11-01")    # doctest: +SKIP
    >>> sorted(choices["model_id"].unique())                                # doctest: +SKIP
    ['claude-sonnet', 'gpt-4o', 'llama-3-8b', 'mistral-small']
    """
    return wb.query("ml_filter_values", **DateRange.of(start, end).params())
