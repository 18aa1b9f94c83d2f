"""Multiple-testing correction shared by every module that tests many hypotheses at once.

Examples
--------
>>> bh_qvalues([0.01, 0.04, float("nan"), 0.03]).round(3).tolist()
[0.03, 0.04, nan, 0.04]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.stats as sps


def bh_qvalues(p: Any) -> np.ndarray:
    """Benjamini–Hochberg q-values; NaN p-values stay NaN and are not counted in the family.

    Examples
    --------
    >>> bh_qvalues([0.5]).tolist()
    [0.5]
    """
    p = np.asarray(p, dtype=float)
    q = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        q[ok] = sps.false_discovery_control(np.clip(p[ok], 0.0, 1.0), method="bh")
    return q
