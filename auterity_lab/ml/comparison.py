"""Pairwise model comparison with honest statistics: rating and p95 latency, FDR-corrected.

For every pair of arms (models, model versions or prompt versions):

* **mean rating** — difference of the means with a Welch t interval, Mann–Whitney U test
  (ties and continuity corrected), rank-biserial correlation as effect size;
* **p95 latency** — difference of the 95th percentiles with a seeded percentile-bootstrap
  interval (resampling the latency histogram), relative difference as effect size.

p-values are adjusted with Benjamini–Hochberg across the pairs of each metric (``q_value``).
Everything is computed from per-value counts aggregated in SQL.

Examples
--------
>>> pairs = compare_models(wb, start="2026-08-01", end="2026-11-01")          # doctest: +SKIP
>>> pairs.query("metric == 'mean_rating'")                                 # doctest: +SKIP
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from auterity_lab.arguments import check_count, check_share
from auterity_lab.errors import QueryParameterError
from auterity_lab.ml import _rollup_forms as rollup_forms
from auterity_lab.ml._params import ai_params
from auterity_lab.ml._stats import (
    bootstrap_quantile_difference,
    mann_whitney,
    moments,
    welch,
)
from auterity_lab.multiple_testing import bh_qvalues

if TYPE_CHECKING:
    from auterity_lab.warehouse import Workbench

ARMS = ("model_id", "model_version", "prompt_version")
"""What :func:`compare_models` can compare: models, ``model @ version`` pairs, prompt versions."""

COLUMNS = [
    "arm_a",
    "arm_b",
    "metric",
    "n_a",
    "n_b",
    "value_a",
    "value_b",
    "difference",
    "ci_low",
    "ci_high",
    "test",
    "statistic",
    "p_value",
    "q_value",
    "significant",
    "effect_size",
    "effect_measure",
]


def compare_models(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    by: str = "model_id",
    reference: str | None = None,
    model: str | None = None,
    model_version: str | None = None,
    prompt_version: str | None = None,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Compare every pair of models (or versions) on mean rating and p95 latency.

    Parameters
    ----------
    wb
        The tenant's workbench.
    start, end
        The UTC range ``[start, end)`` of the outputs' ``created_at``.
    by
        ``model_id``, ``model_version`` (arms named ``model @ version``) or ``prompt_version``.
    reference
        Compare every arm with this one only (``arm_b``); None compares all pairs.
    model, model_version, prompt_version
        Optional filters; None means all.
    confidence
        Level of the intervals; a difference is ``significant`` when ``q_value < 1 - confidence``.
    n_boot, seed
        Bootstrap replicates and seed of the latency intervals (same seed, same result).

    Returns
    -------
    DataFrame
        One row per pair and metric (``mean_rating``, ``p95_latency_ms``), ``difference =
        value_a - value_b``: ``arm_a``, ``arm_b``, ``metric``, ``n_a``, ``n_b`` (ratings, or
        requests that did not error), ``value_a``, ``value_b``, ``difference``, ``ci_low``,
        ``ci_high``, ``test`` (``mann-whitney`` or ``bootstrap``), ``statistic`` (U of a),
        ``p_value`` (two-sided), ``q_value`` (Benjamini–Hochberg across the pairs of the
        metric), ``significant``, ``effect_size``, ``effect_measure`` (``rank-biserial`` or
        ``relative difference``). Empty when fewer than two arms have data.

    Examples
    --------
    >>> compare_models(wb, start="2026-08-01", end="2026-11-01",
    ...                reference="gpt-4o")                                  # doctest: +SKIP
    """
    if by not in ARMS:
        raise QueryParameterError(f"by must be one of {', '.join(ARMS)}, not {by!r}")
    params = ai_params(
        start, end, model=model, model_version=model_version, prompt_version=prompt_version
    )
    ratings = wb.query("ml_rating_counts", by=by, **params)
    latency = rollup_forms.query(wb, "ml_latency_histogram", by=by, **params)
    arms = sorted(set(ratings["arm"]) | set(latency["arm"]))
    if reference is None:
        pairs: list[tuple[str, str]] = list(combinations(arms, 2))
    elif reference in arms:
        pairs = [(a, reference) for a in arms if a != reference]
    else:
        raise QueryParameterError(
            f"reference {reference!r} has no outputs in the range; "
            f"arms: {', '.join(arms) or 'none'}"
        )
    return compare_tables(ratings, latency, pairs, confidence=confidence, n_boot=n_boot, seed=seed)


def compare_tables(
    ratings: pd.DataFrame | None,
    latency: pd.DataFrame | None,
    pairs: Iterable[tuple[str, str]],
    *,
    confidence: float,
    n_boot: int,
    seed: int,
) -> pd.DataFrame:
    """The comparison of :func:`compare_models` from already queried count tables.

    ``ratings`` has ``arm, rating, n``; ``latency`` has ``arm, response_time_ms, n`` (the
    ``ml_rating_counts`` and ``ml_latency_histogram`` queries); None skips that metric.
    """
    confidence = check_share("confidence", confidence)
    check_count("n_boot", n_boot, minimum=100)
    rows = []
    for a, b in pairs:
        if ratings is not None:
            rows.append(_rating_row(ratings, a, b, confidence))
        if latency is not None:
            rows.append(_latency_row(latency, a, b, confidence, n_boot, seed))
    out = pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in ("q_value", "significant")])
    out["q_value"] = np.nan
    for metric in out["metric"].unique():
        mask = out["metric"] == metric
        out.loc[mask, "q_value"] = bh_qvalues(out.loc[mask, "p_value"].to_numpy(float))
    out["significant"] = out["q_value"] < 1 - confidence
    return out[COLUMNS]


def _table(frame: pd.DataFrame, arm: str, value: str) -> tuple[np.ndarray, np.ndarray]:
    sub = frame[frame["arm"] == arm]
    return sub[value].to_numpy(float), sub["n"].to_numpy(float)


def _rating_row(ratings: pd.DataFrame, a: str, b: str, confidence: float) -> dict[str, Any]:
    va, ca = _table(ratings, a, "rating")
    vb, cb = _table(ratings, b, "rating")
    n_a, mean_a, var_a = moments(va, ca)
    n_b, mean_b, var_b = moments(vb, cb)
    values = np.concatenate([va, vb])
    counts_a = np.concatenate([ca, np.zeros_like(cb)])
    counts_b = np.concatenate([np.zeros_like(ca), cb])
    u, p = mann_whitney(values, counts_a, counts_b)
    diff = welch(mean_a, var_a, n_a, mean_b, var_b, n_b, confidence=confidence)
    effect = 2 * u / (n_a * n_b) - 1 if n_a and n_b else math.nan
    return {
        "arm_a": a,
        "arm_b": b,
        "metric": "mean_rating",
        "n_a": int(n_a),
        "n_b": int(n_b),
        "value_a": mean_a,
        "value_b": mean_b,
        "difference": mean_a - mean_b,
        "ci_low": diff.ci_low,
        "ci_high": diff.ci_high,
        "test": "mann-whitney",
        "statistic": u,
        "p_value": p,
        "effect_size": effect,
        "effect_measure": "rank-biserial",
    }


def _latency_row(
    latency: pd.DataFrame, a: str, b: str, confidence: float, n_boot: int, seed: int
) -> dict[str, Any]:
    va, ca = _table(latency, a, "response_time_ms")
    vb, cb = _table(latency, b, "response_time_ms")
    pair_seed = [seed, zlib.crc32(f"{a}\0{b}".encode())]  # a pair's result ignores other arms
    boot = bootstrap_quantile_difference(
        va,
        ca,
        vb,
        cb,
        q=0.95,
        confidence=confidence,
        n_boot=n_boot,
        seed=np.random.SeedSequence(pair_seed).generate_state(1)[0],
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        effect = boot.estimate_a / boot.estimate_b - 1 if boot.estimate_b else math.nan
    return {
        "arm_a": a,
        "arm_b": b,
        "metric": "p95_latency_ms",
        "n_a": int(ca.sum()),
        "n_b": int(cb.sum()),
        "value_a": boot.estimate_a,
        "value_b": boot.estimate_b,
        "difference": boot.difference,
        "ci_low": boot.ci_low,
        "ci_high": boot.ci_high,
        "test": "bootstrap",
        "statistic": math.nan,
        "p_value": boot.p_value,
        "effect_size": effect,
        "effect_measure": "relative difference",
    }
