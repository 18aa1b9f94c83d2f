"""Statistics on aggregated results: intervals, rank tests from counts, bootstrap from histograms.

Every function takes what SQL aggregated (counts per distinct value, sums, moments), never raw
rows. Results agree with scipy on the expanded data (see tests/test_ml_stats.py).

Examples
--------
>>> round(weighted_quantile([100, 200, 300, 400, 1000], [1, 1, 1, 1, 1], 0.95), 6)
880.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

_BOOT_CHUNK = 250  # bootstrap replicates drawn at a time (bounds memory on wide histograms)


def t_interval(
    mean: np.ndarray, sd: np.ndarray, n: np.ndarray, confidence: float
) -> tuple[np.ndarray, np.ndarray]:
    """Student-t interval for a mean from ``mean``, sample ``sd`` and ``n`` (NaN when n < 2).

    Examples
    --------
    >>> lo, hi = t_interval(np.array([4.0]), np.array([1.0]), np.array([4]), 0.95)
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (2.4088, 5.5912)
    """
    mean, sd, n = (np.asarray(a, dtype=float) for a in (mean, sd, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / np.sqrt(n)
    half = np.where(n >= 2, half, np.nan)
    return mean - half, mean + half


@dataclass(frozen=True)
class MeanDifference:
    """Welch's comparison of two means: ``difference = mean_a - mean_b``."""

    difference: float
    se: float
    df: float
    ci_low: float
    ci_high: float
    p_value: float


def welch(
    mean_a: float,
    var_a: float,
    n_a: float,
    mean_b: float,
    var_b: float,
    n_b: float,
    *,
    confidence: float,
) -> MeanDifference:
    """Welch's t for ``mean_a - mean_b`` from summary statistics (sample variances).

    Equals ``scipy.stats.ttest_ind(a, b, equal_var=False)`` on the raw data.

    Examples
    --------
    >>> r = welch(4.0, 1.0, 10, 3.0, 1.0, 10, confidence=0.95)
    >>> round(r.difference, 3), round(r.df, 1), round(r.p_value, 4)
    (1.0, 18.0, 0.0382)
    """
    if n_a < 2 or n_b < 2:
        nan = math.nan
        return MeanDifference(mean_a - mean_b if n_a and n_b else nan, nan, nan, nan, nan, nan)
    va, vb = var_a / n_a, var_b / n_b
    se = math.sqrt(va + vb)
    diff = mean_a - mean_b
    if se == 0:
        p = 1.0 if diff == 0 else 0.0
        return MeanDifference(diff, 0.0, math.inf, diff, diff, p)
    df = (va + vb) ** 2 / (va**2 / (n_a - 1) + vb**2 / (n_b - 1)) if va + vb > 0 else math.inf
    tcrit = stats.t.ppf(0.5 + confidence / 2, df)
    p = 2 * stats.t.sf(abs(diff) / se, df)
    return MeanDifference(diff, se, df, diff - tcrit * se, diff + tcrit * se, float(p))


def moments(values: np.ndarray, counts: np.ndarray) -> tuple[float, float, float]:
    """``(n, mean, sample variance)`` of a frequency table (variance NaN when n < 2)."""
    values, counts = np.asarray(values, float), np.asarray(counts, float)
    n = counts.sum()
    if n == 0:
        return 0.0, math.nan, math.nan
    mean = float((values * counts).sum() / n)
    var = float((counts * (values - mean) ** 2).sum() / (n - 1)) if n >= 2 else math.nan
    return float(n), mean, var


def mann_whitney(
    values: np.ndarray,
    counts_a: np.ndarray,
    counts_b: np.ndarray,
    *,
    alternative: str = "two-sided",
) -> tuple[float, float]:
    """Mann–Whitney U of sample a against b from their counts per distinct value.

    Normal approximation with tie correction and continuity correction, as
    ``scipy.stats.mannwhitneyu(a, b, method="asymptotic")``. Returns ``(U_a, p)``; NaN when a
    sample is empty.

    Examples
    --------
    >>> u, p = mann_whitney([1, 2, 3], [2, 1, 0], [0, 1, 2])
    >>> u, round(p, 4)
    (0.5, 0.1101)
    """
    values = np.asarray(values, float)
    ca, cb = np.asarray(counts_a, float), np.asarray(counts_b, float)
    order = np.argsort(values, kind="stable")
    values, ca, cb = values[order], ca[order], cb[order]
    # merge equal values (ties): one row per distinct value
    distinct, inverse = np.unique(values, return_inverse=True)
    ca = np.bincount(inverse, ca, len(distinct))
    cb = np.bincount(inverse, cb, len(distinct))
    n_a, n_b = ca.sum(), cb.sum()
    if n_a == 0 or n_b == 0:
        return math.nan, math.nan
    tot = ca + cb
    n = n_a + n_b
    midrank = np.cumsum(tot) - (tot - 1) / 2
    u_a = float((ca * midrank).sum() - n_a * (n_a + 1) / 2)
    mu = n_a * n_b / 2
    tie = (tot**3 - tot).sum()
    sigma = math.sqrt(n_a * n_b / 12 * ((n + 1) - tie / (n * (n - 1)))) if n > 1 else 0.0
    if sigma == 0:
        return u_a, 1.0
    if alternative == "two-sided":
        z = (abs(u_a - mu) - 0.5) / sigma
        p = 2 * stats.norm.sf(max(z, 0.0))
    elif alternative == "greater":
        p = stats.norm.sf((u_a - mu - 0.5) / sigma)
    elif alternative == "less":
        p = stats.norm.cdf((u_a - mu + 0.5) / sigma)
    else:
        raise ValueError(f"alternative must be two-sided, greater or less, not {alternative!r}")
    return u_a, float(min(p, 1.0))


def weighted_quantile(values: np.ndarray, counts: np.ndarray, q: float) -> float:
    """Continuous quantile of a frequency table, as DuckDB's ``quantile_cont`` of the raw rows.

    Examples
    --------
    >>> weighted_quantile([10, 20], [3, 1], 0.5)
    10.0
    """
    values, counts = np.asarray(values, float), np.asarray(counts, float)
    order = np.argsort(values, kind="stable")
    values, counts = values[order], counts[order]
    return float(_quantiles(values, np.cumsum(counts)[None, :], q)[0])


def _quantiles(values: np.ndarray, cum: np.ndarray, q: float) -> np.ndarray:
    """Quantile per row of cumulative counts ``cum`` (shape replicates × values)."""
    total = cum[:, -1]
    h = q * (total - 1)
    lo = np.floor(h)
    frac = h - lo
    # index of the first value whose cumulative count exceeds the order statistic (0-based)
    i_lo = np.minimum((cum <= lo[:, None]).sum(axis=1), cum.shape[1] - 1)
    i_hi = np.minimum((cum <= np.minimum(lo + 1, total - 1)[:, None]).sum(axis=1), cum.shape[1] - 1)
    x_lo, x_hi = values[i_lo], values[i_hi]
    out = x_lo + frac * (x_hi - x_lo)
    return np.where(total > 0, out, np.nan)


@dataclass(frozen=True)
class BootstrapDifference:
    """Percentile-bootstrap comparison of a quantile: ``difference = q(a) - q(b)``."""

    estimate_a: float
    estimate_b: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    n_boot: int


def bootstrap_quantile_difference(
    values_a: np.ndarray,
    counts_a: np.ndarray,
    values_b: np.ndarray,
    counts_b: np.ndarray,
    *,
    q: float,
    confidence: float,
    n_boot: int,
    seed: int,
) -> BootstrapDifference:
    """Bootstrap CI of ``quantile(a) - quantile(b)`` from the two frequency tables.

    Resampling rows with replacement is drawing new counts from a multinomial over the distinct
    values, so the histogram is all that is needed. The p-value is two-sided: twice the share of
    replicates on the far side of 0 (at least ``1 / n_boot``). Seeded: same inputs, same output.

    Examples
    --------
    >>> r = bootstrap_quantile_difference([1, 2], [5, 5], [1, 2], [5, 5], q=0.5,
    ...                                   confidence=0.95, n_boot=200, seed=1)
    >>> r.difference
    0.0
    """
    rng = np.random.default_rng(seed)
    a = _sorted_table(values_a, counts_a)
    b = _sorted_table(values_b, counts_b)
    est_a = float(_quantiles(a[0], np.cumsum(a[1])[None, :], q)[0]) if a[1].sum() else math.nan
    est_b = float(_quantiles(b[0], np.cumsum(b[1])[None, :], q)[0]) if b[1].sum() else math.nan
    if not (a[1].sum() and b[1].sum()):
        return BootstrapDifference(est_a, est_b, math.nan, math.nan, math.nan, math.nan, n_boot)
    diffs = _resampled(a, q, n_boot, rng) - _resampled(b, q, n_boot, rng)
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(diffs, [tail, 1 - tail])
    p = 2 * min((diffs <= 0).mean(), (diffs >= 0).mean())
    p = float(min(1.0, max(p, 1.0 / n_boot)))
    return BootstrapDifference(est_a, est_b, est_a - est_b, float(lo), float(hi), p, n_boot)


def _sorted_table(values: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values, counts = np.asarray(values, float), np.asarray(counts, np.int64)
    order = np.argsort(values, kind="stable")
    return values[order], counts[order]


def _resampled(
    table: tuple[np.ndarray, np.ndarray], q: float, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    values, counts = table
    n = int(counts.sum())
    p = counts / n
    out = []
    for start in range(0, n_boot, _BOOT_CHUNK):
        draws = rng.multinomial(n, p, size=min(_BOOT_CHUNK, n_boot - start))
        out.append(_quantiles(values, np.cumsum(draws, axis=1), q))
    return np.concatenate(out)
