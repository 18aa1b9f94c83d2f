"""Optimization suggestions (spec ``getOptimizationSuggestions``), each with monthly savings and
the evidence behind it.

Kinds (:data:`SUGGESTERS`)
--------------------------
``cheaper_model``
    Model B is cheaper for model A's traffic and its quality is **non-inferior**: a one-sided
    Welch test of ``H0: mean_B - mean_A <= -margin * mean_A`` (margin default 5 % of A's mean
    rating) rejected at ``alpha`` after Benjamini–Hochberg over all (A, B) pairs tested. Savings:
    A's token volumes of the range re-priced at B's price minus at A's (prices in force on the
    last day), per 30 days. One suggestion per model A: the non-inferior B that saves most.
``cap_output_tokens``
    For a prompt (hash, version) and model, outputs longer than the prompt's 75th percentile
    (``cap_tokens``) are **not better rated** than the shorter ones: one-sided Welch test of
    ``H0: mean_long - mean_short >= margin * mean_short`` rejected (BH over the prompts tested).
    Savings: the output tokens above the cap at the model's output price, per 30 days.
``cache_repeated_prompts``
    The same prompt (hash, version) sent to the same model again within ``cache_ttl_hours`` of a
    successful answer, at least ``min_repeats`` times. Savings: the actual cost of those repeat
    calls, per 30 days. The evidence counts the distinct answers given (1 = deterministic).
``latency_regression``
    A model's newest version is slower than the version before: the bootstrap CI of the p95
    latency difference lies above ``regression_threshold`` × the old p95 (and the bootstrap
    p-value survives BH over the models tested). Savings are 0 USD
    (same tokens, same price); ``impact`` states the latency at stake.

Every row carries ``n``, ``effect``, ``ci_low``, ``ci_high``, ``p_value``, ``q_value`` and an
``evidence`` JSON object with the numbers a reviewer needs to redo the calculation.

Examples
--------
>>> s = optimization_suggestions(wb, start="2026-08-01", end="2026-11-01")     # doctest: +SKIP
>>> s[["kind", "model_id", "target", "estimated_monthly_savings_usd"]]          # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from auterity_lab.arguments import check_count, check_positive, check_share
from auterity_lab.errors import QueryParameterError
from auterity_lab.ml import _rollup_forms as rollup_forms
from auterity_lab.ml._params import ai_params
from auterity_lab.ml._stats import moments, welch
from auterity_lab.ml.comparison import compare_tables
from auterity_lab.ml.cost import PriceSource, ensure_costs
from auterity_lab.multiple_testing import bh_qvalues
from auterity_lab.periods import DateRange

if TYPE_CHECKING:
    from auterity_lab.warehouse import Workbench

DAYS_PER_MONTH = 30.0
"""Savings are per 30 days: the range's figures times ``30 / days in the range``."""

COLUMNS = [
    "kind",
    "model_id",
    "target",
    "title",
    "description",
    "estimated_monthly_savings_usd",
    "impact",
    "n",
    "effect",
    "ci_low",
    "ci_high",
    "p_value",
    "q_value",
    "evidence",
]


@dataclass(frozen=True)
class _Context:
    wb: Workbench
    params: dict[str, Any]
    monthly: float  # multiplier from the range to 30 days
    prices: pd.DataFrame  # prices in force on the last day, by model_id
    margin: float
    alpha: float
    confidence: float
    min_ratings: int
    min_repeats: int
    cache_ttl_hours: float
    regression_threshold: float
    n_boot: int
    seed: int


def optimization_suggestions(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    model: str | None = None,
    prices: PriceSource = None,
    kinds: Iterable[str] | None = None,
    margin: float = 0.05,
    alpha: float = 0.05,
    min_ratings: int = 30,
    min_repeats: int = 10,
    cache_ttl_hours: float = 24.0,
    regression_threshold: float = 0.10,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Ways to spend less (or answer faster), each with its savings and evidence.

    Parameters
    ----------
    wb
        The tenant's workbench.
    start, end
        The UTC range ``[start, end)`` the evidence comes from.
    model
        Only suggestions about this model (the model in use); None means all.
    prices
        Price table (see :func:`auterity_lab.ml.cost.cost_by_model`).
    kinds
        Which suggesters to run (default all of :data:`SUGGESTERS`).
    margin
        Non-inferiority / non-superiority margin as a share of the reference mean rating.
    alpha
        Significance level of the one-sided tests (on BH q-values).
    min_ratings
        Ratings each side of a rating test needs before it is run.
    min_repeats
        Repeats of a prompt in the range before caching is suggested.
    cache_ttl_hours
        How long a cached answer would be reused.
    regression_threshold
        Smallest latency regression reported, as a share of the old p95.
    n_boot, seed
        Bootstrap replicates and seed of the latency test.

    Returns
    -------
    DataFrame
        One row per suggestion, largest savings first: ``kind``, ``model_id`` (the model in
        use), ``target`` (the cheaper model, the prompt hash, or the model version),
        ``title``, ``description``, ``estimated_monthly_savings_usd``, ``impact``, ``n`` (the
        evidence's sample size), ``effect``, ``ci_low``, ``ci_high``, ``p_value``, ``q_value``,
        ``evidence`` (JSON text). Empty when nothing qualifies.

    Examples
    --------
    >>> optimization_suggestions(wb, start="2026-08-01", end="2026-11-01",
    ...                          kinds=["cheaper_model"])                       # doctest: +SKIP
    """
    chosen = list(SUGGESTERS) if kinds is None else list(kinds)
    unknown = sorted(set(chosen) - set(SUGGESTERS))
    if unknown:
        raise QueryParameterError(
            f"unknown suggestion kind(s) {unknown}; known: {', '.join(SUGGESTERS)}"
        )
    rng = DateRange.of(start, end)
    ensure_costs(wb, prices)
    last_day = (rng.end - pd.Timedelta(microseconds=1)).date()
    in_force = wb.query("ml_prices_in_force", on=last_day).set_index("model_id")
    ctx = _Context(
        wb=wb,
        params={
            k: v
            for k, v in ai_params(start, end, model=model).items()
            if k in ("start", "end", "model")
        },
        monthly=DAYS_PER_MONTH / rng.days,
        prices=in_force,
        margin=check_positive("margin", margin),
        alpha=check_share("alpha", alpha),
        confidence=1 - alpha,
        min_ratings=check_count("min_ratings", min_ratings, minimum=2),
        min_repeats=check_count("min_repeats", min_repeats),
        cache_ttl_hours=check_positive("cache_ttl_hours", cache_ttl_hours),
        regression_threshold=check_positive("regression_threshold", regression_threshold),
        n_boot=check_count("n_boot", n_boot, minimum=100),
        seed=seed,
    )
    rows = [row for kind in chosen for row in SUGGESTERS[kind](ctx)]
    out = pd.DataFrame(rows, columns=COLUMNS)
    return out.sort_values(
        ["estimated_monthly_savings_usd", "kind"],
        ascending=[False, True],
        kind="stable",
        ignore_index=True,
    )


# ---------------------------------------------------------------------------- helpers
def _price(ctx: _Context, model: str) -> tuple[float, float, float] | None:
    """(input, output, blended) USD per 1M tokens in force for ``model``, or None if unpriced."""
    if model not in ctx.prices.index or not ctx.prices.loc[model, "priced"]:
        return None
    p = ctx.prices.loc[model]
    share = float(p["blended_input_share"])
    inp, out = float(p["input_usd_per_1m"]), float(p["output_usd_per_1m"])
    return inp, out, share * inp + (1 - share) * out


def _cost(volume: pd.Series, price: tuple[float, float, float]) -> float:
    return (
        volume["input_tokens"] * price[0]
        + volume["output_tokens"] * price[1]
        + volume["blended_tokens"] * price[2]
    ) / 1e6


def _row(
    kind: str,
    model: str,
    target: str,
    title: str,
    description: str,
    savings: float,
    impact: str,
    n: int,
    effect: float,
    ci: tuple[float, float],
    p: float,
    q: float,
    evidence: dict[str, Any],
) -> dict[str, Any]:
    return {
        "kind": kind,
        "model_id": model,
        "target": target,
        "title": title,
        "description": description,
        "estimated_monthly_savings_usd": savings,
        "impact": impact,
        "n": n,
        "effect": effect,
        "ci_low": ci[0],
        "ci_high": ci[1],
        "p_value": p,
        "q_value": q,
        "evidence": json.dumps(evidence, default=_json_default, sort_keys=True),
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _r(value: float, digits: int = 6) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


# ---------------------------------------------------------------------------- cheaper model
def _cheaper_model(ctx: _Context) -> list[dict[str, Any]]:
    all_models = {**ctx.params, "model": None}  # candidates: every model of the tenant
    volumes = ctx.wb.query("ml_token_volumes", **all_models).set_index("model_id")
    ratings = ctx.wb.query(
        "ml_rating_counts", by="model_id", model_version=None, prompt_version=None, **all_models
    )
    stats_by = {arm: moments(g["rating"], g["n"]) for arm, g in ratings.groupby("arm")}
    current = (
        volumes
        if ctx.params["model"] is None
        else volumes.loc[volumes.index == ctx.params["model"]]
    )
    tests = []
    for a, vol in current.iterrows():
        price_a = _price(ctx, a)
        if price_a is None or a not in stats_by:
            continue
        n_a, mean_a, var_a = stats_by[a]
        cost_a = _cost(vol, price_a)
        for b, (n_b, mean_b, var_b) in stats_by.items():
            price_b = _price(ctx, b)
            if b == a or price_b is None or min(n_a, n_b) < ctx.min_ratings:
                continue
            cost_b = _cost(vol, price_b)
            if cost_b >= cost_a:
                continue
            delta = ctx.margin * mean_a
            d = welch(mean_b, var_b, n_b, mean_a, var_a, n_a, confidence=1 - 2 * ctx.alpha)
            p = float(stats.t.sf((d.difference + delta) / d.se, d.df)) if d.se > 0 else math.nan
            tests.append(
                {
                    "a": a,
                    "b": b,
                    "p": p,
                    "diff": d.difference,
                    "ci": (d.ci_low, d.ci_high),
                    "delta": delta,
                    "n": int(n_a + n_b),
                    "mean_a": mean_a,
                    "mean_b": mean_b,
                    "n_a": n_a,
                    "n_b": n_b,
                    "cost_a": cost_a,
                    "cost_b": cost_b,
                    "price_a": price_a,
                    "price_b": price_b,
                    "vol": vol,
                }
            )
    if not tests:
        return []
    qs = bh_qvalues(np.array([t["p"] for t in tests]))
    best: dict[str, tuple[dict[str, Any], float]] = {}
    for t, q in zip(tests, qs, strict=True):
        if q < ctx.alpha and (t["a"] not in best or t["cost_b"] < best[t["a"]][0]["cost_b"]):
            best[t["a"]] = (t, q)
    rows = []
    for a, (t, q) in best.items():
        savings = (t["cost_a"] - t["cost_b"]) * ctx.monthly
        err_a = volumes.loc[a, "errors"] / volumes.loc[a, "requests"]
        err_b = volumes.loc[t["b"], "errors"] / volumes.loc[t["b"], "requests"]
        rows.append(
            _row(
                "cheaper_model",
                a,
                t["b"],
                f"Route {a} traffic to {t['b']}",
                f"{t['b']} rates {t['mean_b']:.2f} vs {t['mean_a']:.2f} for {a} "
                f"(difference {t['diff']:+.2f}, {1 - 2 * ctx.alpha:.0%} CI {t['ci'][0]:+.2f} to "
                f"{t['ci'][1]:+.2f}); non-inferior within {t['delta']:.2f} points "
                f"({ctx.margin:.0%} of {a}'s mean), q = {q:.2g}. The same tokens cost "
                f"${t['cost_b']:,.2f} instead of ${t['cost_a']:,.2f} over the range.",
                savings,
                f"${savings:,.2f} per month",
                t["n"],
                t["diff"],
                t["ci"],
                t["p"],
                float(q),
                {
                    "test": "one-sided Welch non-inferiority",
                    "margin_points": _r(t["delta"]),
                    "margin_share": ctx.margin,
                    "alpha": ctx.alpha,
                    "ratings_current": int(t["n_a"]),
                    "ratings_candidate": int(t["n_b"]),
                    "mean_rating_current": _r(t["mean_a"]),
                    "mean_rating_candidate": _r(t["mean_b"]),
                    "error_rate_current": _r(err_a),
                    "error_rate_candidate": _r(err_b),
                    "input_tokens": int(t["vol"]["input_tokens"]),
                    "output_tokens": int(t["vol"]["output_tokens"]),
                    "blended_tokens": int(t["vol"]["blended_tokens"]),
                    "price_current_usd_per_1m": list(t["price_a"][:2]),
                    "price_candidate_usd_per_1m": list(t["price_b"][:2]),
                    "range_cost_current_usd": _r(t["cost_a"]),
                    "range_cost_candidate_usd": _r(t["cost_b"]),
                    "months_in_range": _r(1 / ctx.monthly),
                },
            )
        )
    return rows


# ---------------------------------------------------------------------------- cap output tokens
def _cap_output_tokens(ctx: _Context) -> list[dict[str, Any]]:
    groups = ctx.wb.query("ml_output_length_ratings", cap_quantile=0.75, **ctx.params)
    tests = []
    for g in groups.itertuples(index=False):
        if min(g.rated_long, g.rated_short) < ctx.min_ratings:
            continue
        price = _price(ctx, g.model_id)
        if price is None or g.excess_output_tokens <= 0:
            continue
        mean_l, var_l = _mean_var(g.rating_sum_long, g.rating_sq_long, g.rated_long)
        mean_s, var_s = _mean_var(g.rating_sum_short, g.rating_sq_short, g.rated_short)
        delta = ctx.margin * mean_s
        d = welch(
            mean_l, var_l, g.rated_long, mean_s, var_s, g.rated_short, confidence=1 - 2 * ctx.alpha
        )
        p = float(stats.t.cdf((d.difference - delta) / d.se, d.df)) if d.se > 0 else math.nan
        tests.append((g, p, d, delta, mean_l, mean_s, price))
    if not tests:
        return []
    qs = bh_qvalues(np.array([t[1] for t in tests]))
    rows = []
    for (g, p, d, delta, mean_l, mean_s, price), q in zip(tests, qs, strict=True):
        if not q < ctx.alpha:
            continue
        savings = g.excess_output_tokens * price[1] / 1e6 * ctx.monthly
        rows.append(
            _row(
                "cap_output_tokens",
                g.model_id,
                g.prompt_hash,
                f"Cap outputs at {g.cap_tokens} tokens for prompt {g.prompt_hash[:12]}",
                f"Outputs of '{g.prompt_preview}' ({g.prompt_version}) longer than {g.cap_tokens} "
                f"tokens rate {mean_l:.2f} vs {mean_s:.2f} for shorter ones (difference "
                f"{d.difference:+.2f}; not better by {delta:.2f} points or more, q = {q:.2g}). "
                f"A max-tokens cap would skip {g.excess_output_tokens:,} output tokens over the "
                "range.",
                savings,
                f"${savings:,.2f} per month",
                int(g.rated_long + g.rated_short),
                d.difference,
                (d.ci_low, d.ci_high),
                p,
                float(q),
                {
                    "test": "one-sided Welch non-superiority",
                    "margin_points": _r(delta),
                    "alpha": ctx.alpha,
                    "prompt_version": g.prompt_version,
                    "cap_tokens": int(g.cap_tokens),
                    "cap_quantile": 0.75,
                    "requests": int(g.requests),
                    "long_outputs": int(g.long_outputs),
                    "excess_output_tokens": int(g.excess_output_tokens),
                    "ratings_long": int(g.rated_long),
                    "ratings_short": int(g.rated_short),
                    "mean_rating_long": _r(mean_l),
                    "mean_rating_short": _r(mean_s),
                    "output_price_usd_per_1m": price[1],
                    "months_in_range": _r(1 / ctx.monthly),
                },
            )
        )
    return rows


def _mean_var(total: float, squares: float, n: float) -> tuple[float, float]:
    mean = total / n
    return mean, max((squares - n * mean**2) / (n - 1), 0.0)


# ---------------------------------------------------------------------------- cache
def _cache_repeated_prompts(ctx: _Context) -> list[dict[str, Any]]:
    repeats = ctx.wb.query("ml_repeated_prompts", ttl_hours=ctx.cache_ttl_hours, **ctx.params)
    rows = []
    for g in repeats.itertuples(index=False):
        if g.repeats < ctx.min_repeats or pd.isna(g.repeat_cost_usd):
            continue
        savings = float(g.repeat_cost_usd) * ctx.monthly
        share = g.repeats / g.calls
        rows.append(
            _row(
                "cache_repeated_prompts",
                g.model_id,
                g.prompt_hash,
                f"Cache answers to prompt {g.prompt_hash[:12]} on {g.model_id}",
                f"'{g.prompt_preview}' ({g.prompt_version}) was sent {g.calls:,} times; "
                f"{g.repeats:,} calls ({share:.0%}) repeated a successful call of the last "
                f"{ctx.cache_ttl_hours:g} "
                f"hours and cost ${g.repeat_cost_usd:,.2f}. It got {g.distinct_outputs} different "
                "answers"
                + (
                    " (a cache changes nothing users see)."
                    if g.distinct_outputs == 1
                    else ": check that one cached answer is acceptable."
                ),
                savings,
                f"${savings:,.2f} per month",
                int(g.calls),
                share,
                (math.nan, math.nan),
                math.nan,
                math.nan,
                {
                    "prompt_version": g.prompt_version,
                    "calls": int(g.calls),
                    "repeats": int(g.repeats),
                    "users": int(g.users),
                    "distinct_outputs": int(g.distinct_outputs),
                    "repeat_cost_usd": _r(g.repeat_cost_usd),
                    "unpriced_repeats": int(g.unpriced_repeats),
                    "cache_ttl_hours": ctx.cache_ttl_hours,
                    "months_in_range": _r(1 / ctx.monthly),
                },
            )
        )
    return rows


# ---------------------------------------------------------------------------- latency regression
def _latency_regression(ctx: _Context) -> list[dict[str, Any]]:
    versions = rollup_forms.query(
        ctx.wb, "ml_model_performance", model_version=None, prompt_version=None, **ctx.params
    )
    tests = []
    for model, g in versions.groupby("model_id", sort=True):
        if len(g) < 2:
            continue
        ordered = g.sort_values("first_seen")
        old, new = ordered.iloc[-2], ordered.iloc[-1]
        histogram = rollup_forms.query(
            ctx.wb,
            "ml_latency_histogram",
            by="model_version",
            model_version=None,
            prompt_version=None,
            **{**ctx.params, "model": model},
        )
        pair = (f"{model} @ {new['model_version']}", f"{model} @ {old['model_version']}")
        lat = compare_tables(
            None, histogram, [pair], confidence=ctx.confidence, n_boot=ctx.n_boot, seed=ctx.seed
        ).iloc[0]
        tests.append((model, old, new, lat))
    qs = bh_qvalues(np.array([t[3]["p_value"] for t in tests], dtype=float))
    rows = []
    for (model, old, new, lat), q in zip(tests, qs, strict=True):
        if not (lat["ci_low"] > ctx.regression_threshold * lat["value_b"] and q < ctx.alpha):
            continue
        active_days = max((ctx.params["end"] - new["first_seen"]) / pd.Timedelta(days=1), 1.0)
        monthly_requests = new["requests"] * DAYS_PER_MONTH / active_days
        rows.append(
            _row(
                "latency_regression",
                model,
                str(new["model_version"]),
                f"{model} {new['model_version']} is slower than {old['model_version']}",
                f"p95 latency of {model} rose from {lat['value_b']:,.0f} ms "
                f"({old['model_version']}) "
                f"to {lat['value_a']:,.0f} ms ({new['model_version']}): {lat['effect_size']:+.0%}, "
                f"{ctx.confidence:.0%} bootstrap CI {lat['ci_low']:+,.0f} to "
                f"{lat['ci_high']:+,.0f} ms. "
                f"Pin {old['model_version']} or report it to the provider.",
                0.0,
                f"p95 {lat['difference']:+,.0f} ms on about {monthly_requests:,.0f} requests per "
                "month (no direct spend)",
                int(lat["n_a"] + lat["n_b"]),
                float(lat["difference"]),
                (float(lat["ci_low"]), float(lat["ci_high"])),
                float(lat["p_value"]),
                float(q),
                {
                    "test": "percentile bootstrap of the p95 difference",
                    "n_boot": ctx.n_boot,
                    "seed": ctx.seed,
                    "version_before": old["model_version"],
                    "version_after": new["model_version"],
                    "p95_before_ms": _r(lat["value_b"], 2),
                    "p95_after_ms": _r(lat["value_a"], 2),
                    "requests_before": int(lat["n_b"]),
                    "requests_after": int(lat["n_a"]),
                    "threshold_share": ctx.regression_threshold,
                    "first_seen_after": new["first_seen"],
                },
            )
        )
    return rows


SUGGESTERS: dict[str, Callable[[_Context], list[dict[str, Any]]]] = {
    "cheaper_model": _cheaper_model,
    "cap_output_tokens": _cap_output_tokens,
    "cache_repeated_prompts": _cache_repeated_prompts,
    "latency_regression": _latency_regression,
}
"""Suggestion kind → the function that finds them (see the module docstring)."""
