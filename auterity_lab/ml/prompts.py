"""Prompt analytics (spec ``getPromptAnalytics``): per prompt and prompt version, a quality
score, the best and worst prompts, and version-to-version comparison.

Quality score
-------------
A prompt's score (0–100) combines its ratings and errors::

    shrunk_rating = (rating_sum + w * mu) / (rated + w)
    quality_score = 100 * (shrunk_rating - 1) / 4 * (1 - error_rate)

``mu`` is the mean rating of all prompts in the result and ``w`` (``prior_weight``, default 10)
the number of "virtual" average ratings every prompt starts with, so a prompt with two 5-star
ratings does not outrank one with two hundred 4.8-star ratings (empirical-Bayes shrinkage).
Unrated prompts score ``mu``'s level times ``1 - error_rate``; with no ratings at all the
score is NaN.

Examples
--------
>>> prompts = prompt_analytics(wb, start="2026-10-01", end="2026-11-01")          # doctest: +SKIP
>>> prompt_rankings(wb, start="2026-10-01", end="2026-11-01", n=3)                # doctest: +SKIP
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from auterity_lab.arguments import check_count, check_positive, check_share
from auterity_lab.cache import cached
from auterity_lab.ml._params import ai_params
from auterity_lab.ml._stats import t_interval
from auterity_lab.ml.comparison import compare_tables
from auterity_lab.ml.cost import PriceSource, costs_identity, ensure_costs

if TYPE_CHECKING:
    from auterity_lab.warehouse import Workbench


def prompt_analytics(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    model: str | None = None,
    model_version: str | None = None,
    prompt_version: str | None = None,
    prices: PriceSource = None,
    prior_weight: float = 10.0,
    confidence: float = 0.95,
    top: int | None = None,
) -> pd.DataFrame:
    """Volume, rating, latency, tokens, cost and quality score per prompt hash and version.

    Parameters
    ----------
    wb
        The tenant's workbench.
    start, end
        The UTC range ``[start, end)`` of the outputs' ``created_at``.
    model, model_version, prompt_version
        Optional filters; None means all.
    prices
        Price table for ``cost_usd`` (see :func:`auterity_lab.ml.cost.cost_by_model`).
    prior_weight
        ``w`` of the quality score (module docstring).
    confidence
        Level of the rating interval.
    top
        Only the ``top`` most used prompts: the first ``top`` rows of the whole result (the
        quality score's prior ``mu`` still averages the ratings of all prompts, summed exactly
        as decimals, so scores agree with the whole result's to rounding). The statistics are
        computed for those prompts only, so time and memory do not grow with the number of
        distinct prompts (a table of the most used ones, as the dashboard shows). None: all.

    Returns
    -------
    DataFrame
        One row per ``prompt_hash`` and ``prompt_version``, most used first: ``prompt_preview``
        (first 80 characters), ``requests``, ``users``, ``models``, ``errors``, ``error_rate``,
        ``latency_p50_ms``, ``latency_p95_ms``, ``mean_input_tokens``, ``mean_output_tokens``,
        ``rated``, ``mean_rating``, ``rating_sd``, ``rating_ci_low``, ``rating_ci_high``,
        ``high_rated_share``, ``cost_usd`` (NaN when unpriced), ``unpriced_requests``,
        ``first_seen``, ``last_seen``, ``shrunk_rating``, ``quality_score``.

    Examples
    --------
    >>> prompt_analytics(wb, start="2026-10-01", end="2026-11-01", model="gpt-4o")  # doctest: +SKIP
    >>> prompt_analytics(wb, start="2026-10-01", end="2026-11-01", top=20)  # doctest: +SKIP
    """
    top = None if top is None else check_count("top", top)
    return _prompt_analytics(
        wb,
        start=start,
        end=end,
        model=model,
        model_version=model_version,
        prompt_version=prompt_version,
        prior_weight=prior_weight,
        confidence=confidence,
        top=top,
        prices=prices,
        costs=costs_identity(wb, prices),
    )


@cached("ml_performance", tables=["neuroweaver.prompt_outputs"], relations=[])
def _prompt_analytics(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    model: str | None,
    model_version: str | None,
    prompt_version: str | None,
    prior_weight: float,
    confidence: float,
    top: int | None,
    prices: PriceSource,
    costs: str,
) -> pd.DataFrame:
    """:func:`prompt_analytics`, keyed by the prices in effect (``costs``)."""
    ensure_costs(wb, prices)
    params = ai_params(
        start, end, model=model, model_version=model_version, prompt_version=prompt_version
    )
    totals = None
    if top is None:
        frame = wb.query("ml_prompts", **params)
    else:
        frame = wb.query("ml_prompts_top", top=top, **params)
        if len(frame):
            totals = (
                float(frame["all_rating_sum"].fillna(0).iloc[0]),
                float(frame["all_rated"].iloc[0]),
            )
        frame = frame.drop(columns=["all_rating_sum", "all_rated"])
    lo, hi = t_interval(
        frame["mean_rating"],
        frame["rating_sd"],
        frame["rated"],
        check_share("confidence", confidence),
    )
    at = frame.columns.get_loc("rating_sd") + 1
    frame.insert(at, "rating_ci_low", lo)
    frame.insert(at + 1, "rating_ci_high", hi)
    weight = check_positive("prior_weight", prior_weight)
    return _with_quality(frame, weight, totals).drop(columns="rating_sum")


def _with_quality(
    frame: pd.DataFrame, weight: float, totals: tuple[float, float] | None = None
) -> pd.DataFrame:
    """Add ``shrunk_rating`` and ``quality_score``; ``totals`` is (sum, count) of the ratings
    of all prompts when ``frame`` holds only some of them (else they are summed over it)."""
    rated = frame["rated"].to_numpy(float)
    if totals is None:
        totals = (frame["rating_sum"].fillna(0).to_numpy(float).sum(), rated.sum())
    mu = totals[0] / totals[1] if totals[1] else np.nan
    shrunk = (frame["rating_sum"].fillna(0).to_numpy(float) + weight * mu) / (rated + weight)
    frame["shrunk_rating"] = shrunk
    frame["quality_score"] = 100 * (shrunk - 1) / 4 * (1 - frame["error_rate"].to_numpy(float))
    return frame


def prompt_rankings(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    n: int = 5,
    min_ratings: int = 5,
    model: str | None = None,
    model_version: str | None = None,
    prompt_version: str | None = None,
    prices: PriceSource = None,
    prior_weight: float = 10.0,
) -> pd.DataFrame:
    """The ``n`` best and ``n`` worst prompts by quality score, among prompts with enough ratings.

    Returns
    -------
    DataFrame
        The columns of :func:`prompt_analytics` preceded by ``ranking`` (``best`` | ``worst``)
        and ``rank`` (1 = best of the best / worst of the worst). Only prompts with at least
        ``min_ratings`` ratings take part; a prompt is never both best and worst.

    Examples
    --------
    >>> prompt_rankings(wb, start="2026-08-01", end="2026-11-01", n=3)            # doctest: +SKIP
    """
    n = check_count("n", n)
    min_ratings = check_count("min_ratings", min_ratings)
    prompts = prompt_analytics(
        wb,
        start=start,
        end=end,
        model=model,
        model_version=model_version,
        prompt_version=prompt_version,
        prices=prices,
        prior_weight=prior_weight,
    )
    eligible = prompts[prompts["rated"] >= min_ratings].sort_values(
        ["quality_score", "rated"], ascending=[False, False], kind="stable"
    )
    best = eligible.head(n)
    worst = eligible.drop(best.index).iloc[::-1].head(n)
    parts = [
        part.assign(ranking=label, rank=np.arange(1, len(part) + 1))
        for label, part in (("best", best), ("worst", worst))
    ]
    out = (
        pd.concat(parts, ignore_index=True)
        if len(eligible)
        else eligible.assign(ranking=pd.Series(dtype=object), rank=pd.Series(dtype="int64"))
    )
    return out[["ranking", "rank", *prompts.columns]]


def prompt_version_comparison(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    model: str | None = None,
    model_version: str | None = None,
    prices: PriceSource = None,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Each prompt version against the one before it (natural order: ``v2`` < ``v10``).

    Returns
    -------
    DataFrame
        One row per ``prompt_version`` in natural order: ``requests``, ``prompts``,
        ``users``, ``error_rate``, ``latency_p50_ms``, ``latency_p95_ms``,
        ``mean_input_tokens``, ``mean_output_tokens``, ``rated``, ``mean_rating``,
        ``high_rated_share``, ``cost_per_request``, ``first_seen``; then against
        ``compared_to`` (the previous version; NaN for the first): ``rating_difference`` with
        ``rating_ci_low``/``rating_ci_high`` (Welch), ``rating_p_value`` (Mann–Whitney),
        ``rating_q_value`` (Benjamini–Hochberg over the version steps),
        ``p95_latency_difference_ms`` with a bootstrap ``p95_latency_ci_low``/``_high``,
        ``output_tokens_difference`` and ``cost_per_request_difference``.

    Examples
    --------
    >>> prompt_version_comparison(wb, start="2026-08-01", end="2026-11-01")      # doctest: +SKIP
    """
    ensure_costs(wb, prices)
    params = ai_params(start, end, model=model, model_version=model_version)
    versions = wb.query(
        "ml_prompt_versions", **{k: v for k, v in params.items() if k != "prompt_version"}
    )
    versions = versions.sort_values(
        "prompt_version", key=lambda col: col.map(_natural_key), ignore_index=True
    )
    order = versions["prompt_version"].tolist()
    pairs = list(zip(order[1:], order[:-1], strict=True))
    ratings = wb.query("ml_rating_counts", by="prompt_version", **params)
    latency = wb.query("ml_latency_histogram", by="prompt_version", **params)
    tests = compare_tables(ratings, latency, pairs, confidence=confidence, n_boot=n_boot, seed=seed)
    rating = tests[tests["metric"] == "mean_rating"].set_index("arm_a")
    lat = tests[tests["metric"] == "p95_latency_ms"].set_index("arm_a")
    out = versions.copy()
    previous = out.shift(1)
    out["compared_to"] = previous["prompt_version"]
    key = out["prompt_version"]
    out["rating_difference"] = key.map(rating["difference"])
    out["rating_ci_low"] = key.map(rating["ci_low"])
    out["rating_ci_high"] = key.map(rating["ci_high"])
    out["rating_p_value"] = key.map(rating["p_value"])
    out["rating_q_value"] = key.map(rating["q_value"])
    out["p95_latency_difference_ms"] = key.map(lat["difference"])
    out["p95_latency_ci_low"] = key.map(lat["ci_low"])
    out["p95_latency_ci_high"] = key.map(lat["ci_high"])
    out["output_tokens_difference"] = out["mean_output_tokens"] - previous["mean_output_tokens"]
    out["cost_per_request_difference"] = out["cost_per_request"] - previous["cost_per_request"]
    return out


def _natural_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders embedded numbers numerically: v2 < v10, 1.9 < 1.10."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part)
        for part in re.split(r"(\d+)", version)
        if part
    )
