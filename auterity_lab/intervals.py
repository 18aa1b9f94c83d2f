"""Confidence intervals for proportions: the Wilson score interval, vectorised.

The Wilson interval keeps its coverage for small counts and rates near 0 or 1, where the normal
(Wald) interval collapses to a point or leaves ``[0, 1]``. It is what product-analytics tools show
around conversion and retention rates.

Examples
--------
>>> low, high = wilson_interval(8, 20)
>>> round(float(low), 4), round(float(high), 4)
(0.2188, 0.6134)
>>> from statsmodels.stats.proportion import proportion_confint
>>> [round(float(v), 4) for v in proportion_confint(8, 20, alpha=0.05, method="wilson")]
[0.2188, 0.6134]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import norm

from auterity_lab.errors import QueryParameterError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


def wilson_interval(
    successes: ArrayLike, trials: ArrayLike, *, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of ``successes / trials``, element-wise.

    Parameters
    ----------
    successes, trials
        Counts (scalars or arrays that broadcast together); ``0 <= successes <= trials``.
    confidence
        Two-sided coverage, in ``(0, 1)``.

    Returns
    -------
    (low, high)
        Float arrays of the broadcast shape; NaN where ``trials`` is 0 or missing (no rate).

    Raises
    ------
    QueryParameterError
        ``confidence`` is not in ``(0, 1)``, a count is negative, or ``successes > trials``.

    Examples
    --------
    >>> low, high = wilson_interval([0, 5, 0], [10, 5, 0])
    >>> np.round(low, 4).tolist(), np.round(high, 4).tolist()
    ([0.0, 0.5655, nan], [0.2775, 1.0, nan])
    """
    if not 0.0 < confidence < 1.0:
        raise QueryParameterError(f"confidence must be between 0 and 1, not {confidence!r}")
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if np.any(k < 0) or np.any(n < 0):
        raise QueryParameterError("successes and trials must not be negative")
    if np.any(k > n):
        raise QueryParameterError("successes must not exceed trials")
    z = float(norm.ppf(0.5 + confidence / 2.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2.0 * n)) / denom
        half = z * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
        # the bounds are exactly 0 at k = 0 and 1 at k = n; spare them the rounding error
        low = np.where(k == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
        high = np.where(k == n, 1.0, np.clip(centre + half, 0.0, 1.0))
        low = np.where(n > 0, low, np.nan)
        high = np.where(n > 0, high, np.nan)
    return low, high
