"""The statistics helpers of auterity_lab.ml agree with scipy/statsmodels on the raw data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.multitest import multipletests

from auterity_lab.ml import _stats
from auterity_lab.multiple_testing import bh_qvalues


def _counts(sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values, counts = np.unique(sample, return_counts=True)
    return values, counts


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_mann_whitney_from_counts_equals_scipy(alternative: str) -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(1, 6, 57)
    b = np.clip(rng.integers(1, 6, 43) + 1, 1, 5)  # heavy ties, shifted
    values = np.arange(1, 6)
    ca = np.bincount(a, minlength=6)[1:]
    cb = np.bincount(b, minlength=6)[1:]
    u, p = _stats.mann_whitney(values, ca, cb, alternative=alternative)
    ref = stats.mannwhitneyu(a, b, alternative=alternative, method="asymptotic")
    assert u == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue, rel=1e-10)


def test_welch_equals_scipy() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(4.1, 0.8, 40), rng.normal(3.8, 1.2, 25)
    r = _stats.welch(
        a.mean(), a.var(ddof=1), len(a), b.mean(), b.var(ddof=1), len(b), confidence=0.9
    )
    ref = stats.ttest_ind(a, b, equal_var=False)
    ci = ref.confidence_interval(0.9)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-10)
    assert (r.ci_low, r.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-10)
    assert r.df == pytest.approx(ref.df)


def test_t_interval_by_hand() -> None:
    # ratings 3, 4, 5: mean 4, sd 1, n 3 -> 4 ± t(0.975, 2) / sqrt(3) = 4 ± 4.302653 * 0.577350
    lo, hi = _stats.t_interval(np.array([4.0]), np.array([1.0]), np.array([3]), 0.95)
    assert (lo[0], hi[0]) == pytest.approx((4 - 2.484138, 4 + 2.484138), abs=1e-6)
    lo, hi = _stats.t_interval(np.array([4.0]), np.array([np.nan]), np.array([1]), 0.95)
    assert np.isnan(lo[0]) and np.isnan(hi[0])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 60), min_size=1, max_size=40),
    st.sampled_from([0.0, 0.05, 0.5, 0.95, 0.99, 1.0]),
)
def test_weighted_quantile_equals_numpy_linear(sample: list[int], q: float) -> None:
    values, counts = _counts(np.array(sample))
    assert _stats.weighted_quantile(values, counts, q) == pytest.approx(
        np.quantile(np.array(sample, float), q, method="linear")
    )


def test_bootstrap_is_seeded_and_covers_the_truth() -> None:
    rng = np.random.default_rng(11)
    a, b = rng.lognormal(7, 0.4, 600).round(), rng.lognormal(7.2, 0.4, 500).round()
    va, ca = _counts(a)
    vb, cb = _counts(b)
    kw = {"q": 0.95, "confidence": 0.95, "n_boot": 1000}
    r1 = _stats.bootstrap_quantile_difference(va, ca, vb, cb, seed=1, **kw)
    r2 = _stats.bootstrap_quantile_difference(va, ca, vb, cb, seed=1, **kw)
    assert r1 == r2
    assert r1.difference == pytest.approx(np.quantile(a, 0.95) - np.quantile(b, 0.95))
    true = np.exp(7 + 0.4 * 1.6449) - np.exp(7.2 + 0.4 * 1.6449)  # difference of the true p95s
    assert r1.ci_low < true < r1.ci_high and r1.ci_high < 0
    assert r1.p_value < 0.05


def test_bh_equals_statsmodels_and_keeps_nan() -> None:
    p = np.array([0.001, 0.2, np.nan, 0.03, 0.04])
    q = bh_qvalues(p)
    ref = multipletests([0.001, 0.2, 0.03, 0.04], method="fdr_bh")[1]
    assert np.isnan(q[2]) and q[[0, 1, 3, 4]] == pytest.approx(ref)
    # by hand: sorted 0.001, 0.03, 0.04, 0.2 -> 0.004, 0.053, 0.053, 0.2
    assert q[[0, 3, 4, 1]] == pytest.approx([0.004, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.2])
