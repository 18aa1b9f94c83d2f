"""Correlations and the tests behind insights: hand-worked values, scipy/statsmodels as a second
implementation, calibration on simulated null data, recall of a planted lagged effect, and the
planted effect of the demo data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.tsa.arima_process import arma_acf
from statsmodels.tsa.seasonal import STL

from auterity_lab import stats
from auterity_lab.errors import QueryParameterError
from auterity_lab.state import StateStore
from auterity_lab.warehouse import Workbench

DEMO_START, DEMO_END = "2026-07-04", "2026-11-01"


# ------------------------------------------------------------------------- primitives
def test_bh_qvalues_hand_worked() -> None:
    # p sorted: 0.01, 0.02, 0.03, 0.5 (m = 4): raw 0.04, 0.04, 0.04, 0.5 -> monotone from the top
    q = stats.bh_qvalues([0.03, 0.01, 0.5, 0.02, np.nan])
    assert q[:4] == pytest.approx([0.04, 0.04, 0.5, 0.04])
    assert math.isnan(q[4])


def test_rank_matches_scipy_with_ties() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        x = rng.integers(0, 6, size=int(rng.integers(1, 40))).astype(float)
        assert stats.rank(x) == pytest.approx(sps.rankdata(x))


def test_correlation_pvalues_equal_the_pearson_test_when_n_eff_is_n() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=60)
    y = 0.3 * x + rng.normal(size=60)
    res = sps.pearsonr(x, y)
    p = stats.correlation_pvalues([res.statistic, np.nan, 0.5], [60, 60, 3])
    assert p[0] == pytest.approx(res.pvalue, rel=1e-9)
    assert np.isnan(p[1]) and np.isnan(p[2])  # no coefficient; too few effective observations


def test_effective_n_hand_worked() -> None:
    # n = 50, k <= 10: 1 + 2 * ((1 - 1/50) * 0.6 * 0.5 + (1 - 2/50) * 0.2 * 0.1) = 1.6264
    acf_x, acf_y = np.array([0.6, 0.2]), np.array([0.5, 0.1])
    assert stats.effective_n(50, acf_x, acf_y) == pytest.approx(50 / 1.6264)
    assert stats.effective_n(50, -acf_x, acf_y) == 50  # anti-correlated ACFs cannot exceed n


def test_welch_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 20), rng.normal(0.8, 2, 30)
    w = stats.welch(a, b)
    ref = sps.ttest_ind(b, a, equal_var=False)
    assert w.t == pytest.approx(ref.statistic)
    assert w.p_value == pytest.approx(ref.pvalue)
    ci = ref.confidence_interval(0.95)
    assert (w.low, w.high) == pytest.approx((ci.low, ci.high))


def test_mann_kendall_hand_worked_and_ties() -> None:
    # 1, 3, 2, 4: concordant pairs 5, discordant 1 -> S = 4; var = 4*3*13/18 = 26/3
    mk = stats.mann_kendall([1.0, 3.0, 2.0, 4.0])
    assert mk.s == 4 and mk.tau == pytest.approx(4 / 6)
    assert mk.variance_factor == 1.0  # n = 4: too short for the autocorrelation correction
    assert mk.z == pytest.approx(3 / math.sqrt(26 / 3))
    # ties: 1, 1, 2, 2 -> S = 4; var = (4*3*13 - 2 * (2*1*9)) / 18 (two tied pairs)
    tied = stats.mann_kendall([1.0, 1.0, 2.0, 2.0])
    assert tied.s == 4
    assert tied.z == pytest.approx(3 / math.sqrt((4 * 3 * 13 - 2 * (2 * 1 * 9)) / 18))


def test_mann_kendall_autocorrelation_correction_widens_the_test() -> None:
    rng = np.random.default_rng(2)
    e = rng.normal(size=200)
    ar = np.empty(200)
    ar[0] = e[0]
    for i in range(1, 200):
        ar[i] = 0.8 * ar[i - 1] + e[i]
    mk = stats.mann_kendall(ar)
    assert mk.variance_factor > 1.5  # strongly autocorrelated: S varies much more


def test_theil_sen_and_cusum_locate_what_was_planted() -> None:
    rng = np.random.default_rng(4)
    line = 2.0 + 0.05 * np.arange(80) + rng.normal(0, 0.1, 80)
    assert stats.theil_sen(line).slope == pytest.approx(0.05, abs=0.005)
    step = np.r_[rng.normal(0, 1, 50), rng.normal(2.5, 1, 30)]
    cp = stats.cusum_change_point(step, min_segment=7)
    assert cp is not None and abs(cp.index - 50) <= 2 and cp.p_value < 0.01
    assert cp.bic_step < cp.bic_linear
    flat = stats.cusum_change_point(rng.normal(size=80))
    assert flat is not None and flat.p_value > 0.01


def test_cusum_is_calibrated_on_white_noise() -> None:
    rng = np.random.default_rng(7)
    p = [stats.cusum_change_point(rng.normal(size=100)).p_value for _ in range(300)]  # type: ignore[union-attr]
    assert 0.005 < np.mean(np.array(p) < 0.05) <= 0.06  # the Kolmogorov limit is conservative


def test_fill_gaps_and_decompose() -> None:
    filled, n = stats.fill_gaps([np.nan, 2.0, np.nan, np.nan, 8.0])
    assert filled.tolist() == [2.0, 2.0, 4.0, 6.0, 8.0] and n == 3
    x = 10 + np.tile([3.0, 0, 0, 0, 0, 0, -3], 6) + np.random.default_rng(0).normal(0, 0.01, 42)
    dec = stats.decompose(x, period=7)
    assert dec.method == "stl"
    assert np.abs(dec.seasonal[:7] - [3, 0, 0, 0, 0, 0, -3]).max() < 0.2
    short = stats.decompose(x[:10], period=7)
    assert short.method == "moving_average"
    assert stats.decompose(x, method="none").resid.mean() == pytest.approx(0)


def test_block_bootstrap_is_seeded_and_covers() -> None:
    rng = np.random.default_rng(9)
    a = rng.normal(size=150)
    b = 0.6 * a + 0.8 * rng.normal(size=150)
    first = stats.block_bootstrap_ci(a, b, method="pearson", n_boot=400, seed=[1, 2])
    assert first == stats.block_bootstrap_ci(a, b, method="pearson", n_boot=400, seed=[1, 2])
    assert first[0] < 0.6 < first[1]
    assert all(math.isnan(v) for v in stats.block_bootstrap_ci(a, b, n_boot=0))


def test_granger_direction() -> None:
    rng = np.random.default_rng(11)
    cause = rng.normal(size=150)
    effect = np.r_[0.0, 0.8 * cause[:-1]] + 0.5 * rng.normal(size=150)
    forward, backward = stats.granger_pvalues(cause, effect, 1)
    assert forward < 1e-8 and backward > 0.01


def test_robust_z_falls_back_when_mad_is_zero() -> None:
    z = stats.robust_z([0.0, 0.0, 0.0, 0.0, 0.0, 5.0])
    assert z[-1] > 3 and np.all(np.isfinite(z))
    assert stats.robust_z([1.0, 1.0, 1.0]).tolist() == [0.0, 0.0, 0.0]


# ----------------------------------------------------------------------- correlate()
def _ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    e = rng.normal(size=n)
    out = np.empty(n)
    out[0] = e[0] / math.sqrt(1 - phi * phi)
    for i in range(1, n):
        out[i] = phi * out[i - 1] + e[i]
    return out


def _simulate(seed: int, *, planted: bool, n: int = 120) -> tuple[pd.DataFrame, dict[str, str]]:
    """Metric-like series: level, trend, weekly season, an AR(1) daily factor, sampling noise.

    With ``planted``: a latent AR(1) factor raises neuroweaver_0 on day d and lowers
    auterity_0 on day d + 1 (the structure of the demo's lagged correlation).
    """
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    cols, systems = {}, {}
    for system, count in (("auterity", 6), ("neuroweaver", 5), ("relaycore", 3)):
        for j in range(count):
            name = f"{system}_{j}"
            cols[name] = (
                5
                + rng.normal(0, 0.01) * t
                + rng.uniform(0, 0.3) * np.sin(2 * np.pi * t / 7 + rng.uniform(0, 6.3))
                + 0.25 * _ar1(rng, n, 0.6)
                + rng.normal(0, 0.2, n)
            )
            systems[name] = system
    if planted:
        latent = _ar1(rng, n + 1, 0.6)
        cols["neuroweaver_0"] = 5 + 0.25 * latent[1:] + rng.normal(0, 0.15, n)
        cols["auterity_0"] = 5 - 0.3 * latent[:-1] + rng.normal(0, 0.25, n)
    return pd.DataFrame(cols), systems


def test_robust_z_asymmetric_and_uncentred() -> None:
    # median 0.5; above it 1.5, 3.5, 5.5, 7.5, 9.5 (MAD 5.5); below 1.5 .. 5.5 (MAD 3.5)
    x = np.r_[-np.arange(1.0, 6), np.arange(2.0, 12, 2)]
    z = stats.robust_z(x, asymmetric=True)
    assert z[-1] == pytest.approx(9.5 / (1.4826 * 5.5)) and z[4] == pytest.approx(
        -5.5 / (1.4826 * 3.5)
    )
    # measured from 0: scores already centred keep their sign, and floor 1 never narrows them
    w = stats.robust_z([-0.3, -0.3, -0.3, 2.0, 0.4], centre=False, floor=1.0)
    assert w.tolist() == pytest.approx([-0.3, -0.3, -0.3, 2.0, 0.4])


def test_trend_and_shift_pvalues_are_not_anti_conservative_on_ar1_noise() -> None:
    """One-sided KS: the null p-values of Mann-Kendall and CUSUM on AR(1) noise (phi = 0.5, the
    serial dependence of daily metrics) are not stochastically smaller than uniform ones, and
    their share below 0.05 is within three standard errors of 5 %."""
    rng = np.random.default_rng(8)
    mk, cusum = [], []
    for _ in range(400):
        mk.append(stats.mann_kendall(_ar1(rng, 120, 0.5)).p_value)
        cusum.append(stats.cusum_change_point(_ar1(rng, 120, 0.5)).p_value)
    for p in (mk, cusum):
        assert sps.kstest(p, "uniform", alternative="greater").pvalue > 0.01
        assert np.mean(np.array(p) < 0.05) < 0.05 + 3 * math.sqrt(0.05 * 0.95 / 400)


def test_calibrated_tail_scale_hand_made() -> None:
    qs = np.array([0.95, 0.99, 0.995])
    grid = (np.arange(20000) + 0.5) / 20000

    def isf(p: np.ndarray) -> np.ndarray:
        return sps.norm.isf(p / 2)

    exact = isf(grid)  # a sample whose quantiles are the asymptotic ones (|z| of a normal)
    assert stats.calibrated_tail_scale(exact, isf, qs) == pytest.approx(1.0, abs=1e-3)
    assert stats.calibrated_tail_scale(1.5 * exact, isf, qs) == pytest.approx(1.5, abs=2e-3)
    heavier = np.where(exact > 2.5, 2 * exact, exact)  # only the far tail is wider
    assert stats.calibrated_tail_scale(heavier, isf, qs) == pytest.approx(
        2 * np.quantile(exact, 0.995) / isf(0.005), abs=1e-2
    )
    assert stats.calibrated_tail_scale(0.5 * exact, isf, qs) == 1.0  # it only ever widens
    assert stats.calibrated_tail_scale(exact[:50], isf, qs) == 1.0  # too few to say


def test_cusum_statistic_matches_a_direct_computation() -> None:
    rng = np.random.default_rng(11)
    y = np.r_[rng.normal(0, 1, 25), rng.normal(1.5, 1, 15)] + 0.4 * _ar1(rng, 40, 0.5)
    n, m = len(y), 7
    sse = {k: ((y[:k] - y[:k].mean()) ** 2).sum() + ((y[k:] - y[k:].mean()) ** 2).sum()
           for k in range(m, n - m + 1)}  # fmt: skip
    k = min(sse, key=sse.__getitem__)
    resid = np.r_[y[:k] - y[:k].mean(), y[k:] - y[k:].mean()]
    rho = (resid[:-1] * resid[1:]).sum() / (resid**2).sum()  # resid has mean 0
    rho = min(max(rho + 3 * (1 + 3 * rho) / n, 0.0), 0.95)
    innovations = resid[1:] - rho * resid[:-1]
    sigma = math.sqrt((innovations**2).sum() / (n - 4)) / (1 - rho)
    stat = max(abs(sum(y[:i] - y.mean())) for i in range(1, n + 1)) / (sigma * math.sqrt(n))
    raw = stats.cusum_change_point(y, min_segment=m, calibrate=False)
    assert raw is not None and raw.index == k
    assert raw.statistic == pytest.approx(stat) and raw.p_value == pytest.approx(
        sps.kstwobign.sf(stat)
    )
    calibrated = stats.cusum_change_point(y, min_segment=m)
    assert calibrated is not None and calibrated.statistic == raw.statistic
    assert calibrated.p_value >= raw.p_value  # the bootstrap only ever widens the null
    assert stats.cusum_change_point(y, min_segment=m) == calibrated  # seeded: reproducible


def test_far_tail_of_trend_and_shift_pvalues_on_strongly_autocorrelated_noise() -> None:
    """phi = 0.7, where the uncalibrated CUSUM put 0.5 % of null p-values below 0.001: the
    calibrated p-values are not stochastically smaller than uniform, and the share below 0.01
    is within three standard errors of 1 %."""
    rng = np.random.default_rng(12)
    series = [_ar1(rng, 120, 0.7) for _ in range(300)]
    cusum = np.array([stats.cusum_change_point(y).p_value for y in series])  # type: ignore[union-attr]
    mk = np.array([stats.mann_kendall(y).p_value for y in series])
    for p in (cusum, mk):
        assert sps.kstest(p, "uniform", alternative="greater").pvalue > 0.01
        assert np.mean(p < 0.01) <= 0.01 + 3 * math.sqrt(0.01 * 0.99 / 300)
    raw = np.array([stats.mann_kendall(y, calibrate=False).p_value for y in series])
    assert np.all(mk >= raw - 1e-12)


def _arma_noise(rng: np.random.Generator, n: int, phi: float, share: float) -> np.ndarray:
    """A unit-variance AR(1) signal with ``share`` of the variance plus white sampling noise: the
    ARMA(1,1) of a daily factor seen through the noise of a few observations a day."""
    signal = math.sqrt(share * (1 - phi * phi)) * _ar1(rng, n, phi)
    return signal + math.sqrt(1 - share) * rng.normal(size=n)


def test_arma11_fit_recovers_the_model() -> None:
    # phi = 0.5, share 0.3: rho_1 = 0.15, so a = -0.35, b = 2 * 0.5 * 0.15 - 1 - 0.25 = -1.1 and
    # theta = (1.1 - sqrt(1.21 - 4 * 0.35^2)) / (2 * -0.35)
    theta = stats._ma_coefficient(0.5, 0.3)
    assert theta == pytest.approx((1.1 - math.sqrt(1.21 - 0.49)) / -0.7)
    assert stats._ma_coefficient(0.7, 1.0) == 0.0  # all signal: a pure AR(1)
    # statsmodels as a second implementation: that ARMA(1,1) has autocorrelations 0.3 * 0.5^k
    acf = arma_acf([1.0, -0.5], [1.0, theta], lags=7)[1:]
    assert acf == pytest.approx(0.3 * 0.5 ** np.arange(1, 7), abs=1e-12)
    rng = np.random.default_rng(31)
    fit = stats._arma11_fit(_arma_noise(rng, 20_000, 0.7, 0.4))
    assert (fit.phi, fit.share) == pytest.approx((0.7, 0.4), abs=0.05)
    assert fit.sigma**2 * (1 + 2 * fit.phi * fit.theta + fit.theta**2) / (
        1 - fit.phi**2
    ) == pytest.approx(1.0, rel=0.05)  # the marginal variance of the series
    white = stats._arma11_fit(rng.normal(size=20_000))
    assert white.share * (1 + white.phi) / (1 - white.phi) + 1 - white.share < 1.1


def test_residual_bootstrap_keeps_heavy_tails() -> None:
    """The CUSUM calibration resamples the fitted innovations: a skewed, heavy-tailed series
    (lognormal, like a sparse segment's daily cost) gives heavy-tailed null paths of the same
    spread; Gaussian paths would not."""
    rng = np.random.default_rng(32)
    heavy = rng.lognormal(0.0, 1.0, size=400)
    fit = stats._arma11_fit(heavy)
    resampled = stats._arma11_paths(fit, 400, 300, seed=1, resample=True)
    gaussian = stats._arma11_paths(fit, 400, 300, seed=1, resample=False)
    assert sps.kurtosis(resampled.ravel()) > 3.0 > 0.3 > abs(sps.kurtosis(gaussian.ravel()))
    assert sps.skew(resampled.ravel()) > 1.0
    assert resampled.std() == pytest.approx(heavy.std(), rel=0.15)
    assert stats._arma11_paths(fit, 50, 3, seed=1, resample=True) == pytest.approx(
        stats._arma11_paths(fit, 50, 3, seed=1, resample=True)
    )  # seeded


def test_trend_and_shift_pvalues_on_ar1_signal_plus_sampling_noise() -> None:
    """Half AR(1) signal (phi = 0.6), half white sampling noise, n = 120: a plain AR(1) fit sees
    the lag-1 autocorrelation shrunk by the noise and underestimates the persistence (on these
    300 series the AR(1) calibration put 5 CUSUM and 3 Mann-Kendall p-values below 0.001, where
    0.3 are expected). Calibrated on the fitted ARMA(1,1) (1 and 2 here), the far tail is not
    heavier than nominal and the share below 0.01 is within three standard errors of 1 %."""
    rng = np.random.default_rng(33)
    series = [_arma_noise(rng, 120, 0.6, 0.5) for _ in range(300)]
    cusum = np.array([stats.cusum_change_point(y).p_value for y in series])  # type: ignore[union-attr]
    mk = np.array([stats.mann_kendall(y).p_value for y in series])
    bound = 0.01 + 3 * math.sqrt(0.01 * 0.99 / len(series))
    for p in (cusum, mk):
        assert np.mean(p < 0.01) <= bound
        assert (p < 0.001).sum() <= 2  # 0.3 expected; P(Poisson(0.3) > 2) < 0.4 %
        assert sps.kstest(p, "uniform", alternative="greater").pvalue > 0.01


def test_circular_shift_effective_size() -> None:
    """Averaged over pairs: about n for white noise, about Bartlett's n (1 - φ²) / (1 + φ²) for
    two independent AR(1) series with the same φ."""
    rng = np.random.default_rng(13)
    white = [stats._shift_n_eff(rng.normal(size=120), rng.normal(size=120), 7) for _ in range(30)]
    assert np.mean([w[0] for w in white]) == pytest.approx(120, rel=0.2)
    ar = [stats._shift_n_eff(_ar1(rng, 120, 0.7), _ar1(rng, 120, 0.7), 7) for _ in range(30)]
    assert np.mean([a[0] for a in ar]) == pytest.approx(120 * 0.51 / 1.49, rel=0.3)
    assert np.mean([a[1] for a in ar]) == pytest.approx(120 * 0.51 / 1.49, rel=0.35)


def test_lag_convention_hand_made() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=80)
    y = np.r_[rng.normal(size=2), x[:-2]] + 0.3 * rng.normal(size=80)  # y[t] = x[t - 2]
    res = stats.correlate(pd.DataFrame({"x": x, "y": y}), n_boot=0, detrend="none")
    best = res.correlations()[0]
    assert (best.lag, best.leader, best.follower) == (2, "x", "y")
    at_two = res.tests[res.tests["lag"] == 2].iloc[0]
    assert at_two["n"] == 78  # 80 periods minus the lag
    assert at_two["pearson_r"] == pytest.approx(np.corrcoef(x[:-2] - x[:-2].mean(), y[2:])[0, 1])


def test_family_size_cross_system_only_and_skips() -> None:
    f, systems = _simulate(1, planted=False)
    f["constant"] = 1.0
    f["gappy"] = np.where(np.arange(120) % 2 == 0, f["auterity_1"], np.nan)
    systems |= {"constant": "relaycore", "gappy": "relaycore"}
    res = stats.correlate(f, systems=systems, n_boot=0, granger=False, max_lag=3)
    n_pairs = 6 * 5 + 6 * 3 + 5 * 3  # cross-system pairs of the usable series
    assert len(res.pairs) == n_pairs and len(res.tests) == n_pairs * 7
    assert res.params["n_tests"] == n_pairs * 7
    skipped = res.series.set_index("series")["skipped"]
    assert skipped["constant"] == "constant after detrending"
    assert "missing" in skipped["gappy"]
    assert not ((res.tests["system_x"] == res.tests["system_y"]).any())


def test_best_lag_coefficient_matches_an_independent_computation() -> None:
    f, _ = _simulate(3, planted=True)
    res = stats.correlate(f[["auterity_0", "neuroweaver_0"]], n_boot=0)
    best = res.correlations()[0]
    resid = {
        c: np.asarray(STL(f[c].to_numpy(), period=7, robust=True).fit().resid)
        for c in ("auterity_0", "neuroweaver_0")
    }
    x, y = resid["auterity_0"], resid["neuroweaver_0"]
    lag = best.lag
    a, b = (x[: len(x) - lag], y[lag:]) if lag >= 0 else (x[-lag:], y[: len(y) + lag])
    assert best.r == pytest.approx(sps.spearmanr(a, b).statistic, abs=1e-9)
    assert best.pearson_r == pytest.approx(sps.pearsonr(a, b).statistic, abs=1e-9)
    assert best.lag == -1 and best.leader == "neuroweaver_0" and best.r < 0


def test_fast_detection_study() -> None:
    """Five seeds of null data (any false discovery?) and of planted data (found, right lag/sign?).

    The full study over 50+ seeds is benchmarks/detection_study.py.
    """
    false_runs, found = 0, 0
    for seed in range(5):
        frame, systems = _simulate(seed, planted=False)
        null = stats.correlate(frame, systems=systems, n_boot=0, granger=False)
        false_runs += bool(null.pairs["significant"].any())
        frame, systems = _simulate(seed, planted=True)
        res = stats.correlate(frame, systems=systems, n_boot=0, granger=False)
        hit = res.significant().query("x == 'auterity_0' and y == 'neuroweaver_0'")
        found += len(hit) == 1 and hit["lag"].iloc[0] == -1 and hit["r"].iloc[0] < 0
    assert false_runs <= 1
    assert found >= 4


def test_null_pvalues_are_calibrated_with_autocorrelated_residuals() -> None:
    rng = np.random.default_rng(21)
    honest, naive = [], []
    for _ in range(300):
        a, b = _ar1(rng, 120, 0.7), _ar1(rng, 120, 0.7)
        res = stats.correlate(
            pd.DataFrame({"a": a, "b": b}),
            n_boot=0,
            max_lag=0,
            granger=False,
            detrend="none",
            method="pearson",
        )
        honest.append(float(res.tests["p_value"].iloc[0]))
        naive.append(sps.pearsonr(a, b).pvalue)
    assert 0.02 < np.mean(np.array(honest) < 0.05) < 0.08
    assert np.mean(np.array(naive) < 0.05) > 0.15  # what ignoring autocorrelation would give


def test_bad_options_are_clear_errors() -> None:
    f = pd.DataFrame({"a": np.arange(30.0), "b": np.arange(30.0)})
    with pytest.raises(QueryParameterError, match="method must be one of"):
        stats.correlate(f, method="kendall")  # type: ignore[arg-type]
    with pytest.raises(QueryParameterError, match="max_lag"):
        stats.correlate(f, max_lag=-1)
    with pytest.raises(QueryParameterError, match="systems has no entry for series b"):
        stats.correlate(f, systems={"a": "auterity"})
    with pytest.raises(QueryParameterError, match="not columns: zz"):
        stats.correlate(f, pairs=[("a", "zz")])


def test_business_value_rule() -> None:
    assert stats.business_value(0.5, 0.2, 1000.0) == pytest.approx(0.8 * 0.25 * 1000)
    assert stats.business_value(float("nan"), 0.1, 1000.0) == 0.0


# --------------------------------------------------------------------------- the demo
def test_demo_lagged_correlation_is_found_and_stored(
    wb: Workbench, demo_dir: Path, tmp_path: Path
) -> None:
    truth = json.loads((demo_dir / "ground_truth.json").read_text())
    effect = next(e for e in truth["effects"] if e["id"] == "lagged_correlation")
    store = StateStore(tmp_path / "state")
    res = stats.correlations(wb, start=DEMO_START, end=DEMO_END, n_boot=200, state=store)
    sig = res.significant()
    latency = sig[
        sig["leader"].isin(["ai_mean_latency", "ai_p95_latency"])
        & (sig["follower"] == "avg_session_duration")
    ]
    assert len(latency) >= 1, res.pairs.head(10)
    best = latency.iloc[0]
    assert abs(best["lag"]) == effect["lag_days"] and best["r"] < 0  # direction "negative"
    assert best["ci_low"] < best["r"] < best["ci_high"] < 0
    # Granger agrees on the direction: latency helps predict duration, not the reverse
    to_duration = (
        best["granger_y_to_x_p"] if best["y"] == best["leader"] else best["granger_x_to_y_p"]
    )
    from_duration = (
        best["granger_x_to_y_p"] if best["y"] == best["leader"] else best["granger_y_to_x_p"]
    )
    assert to_duration < 0.05 < from_duration
    # every pair is stored once, with the spec's columns and its evidence
    rows = store.read("system_correlations", tenant="acme")
    assert len(rows) == len(res.pairs)
    again = stats.correlations(
        wb, start=DEMO_START, end=DEMO_END, n_boot=0, granger=False, state=store
    )
    assert len(store.read("system_correlations", tenant="acme")) == len(again.pairs)
    meta = [json.loads(m) for m in rows["metadata"]]
    row = rows[
        [m["follower"] == "avg_session_duration" and m["leader"] == best["leader"] for m in meta]
    ].iloc[0]
    assert row["correlation_type"] == "lagged"
    assert set(json.loads(row["systems"])) == {"auterity", "neuroweaver"}
    assert row["correlation_value"] == pytest.approx(round(best["r"], 4))
    assert row["confidence"] == pytest.approx(round(1 - best["q_value"], 4))
    evidence = json.loads(row["metadata"])
    assert {"n", "p_value", "q_value", "ci", "lag", "detrend", "granger_p"} <= set(evidence)
    assert row["business_value"] == pytest.approx(
        stats.business_value(best["r"], best["q_value"], res.params["revenue"]), abs=0.01
    )


_NOISE = np.random.default_rng(5).normal(size=40)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        # a negative size used to allocate without bound (the process was OOM-killed)
        (lambda: stats.cusum_change_point(_NOISE, min_segment=-(10**9)), "min_segment must be"),
        (lambda: stats.decompose(_NOISE, period=1.5), "period must be an integer"),
        # shapes and types that used to escape as numpy or pandas errors
        (lambda: stats.theil_sen(0), "values must be a sequence of numbers"),
        (lambda: stats.theil_sen(_NOISE, level=1.5), r"level must be a number in \(0, 1\)"),
        (lambda: stats.correlation_pvalues([0.1, 0.2], [10, 20, 30]), "matching shapes"),
        (lambda: stats.granger_pvalues(_NOISE, _NOISE[:17], 1), "same length, not 40 and 17"),
        (lambda: stats.calibrated_tail_scale(_NOISE, sps.norm.isf, "text"), "quantiles"),
        (lambda: stats.calibrated_tail_scale(_NOISE, sps.norm.isf, [1.5]), r"in \(0, 1\)"),
        (lambda: stats.correlate(pd.DataFrame({"a": _NOISE}), systems=pd.Timestamp(0)), "systems"),
        (lambda: stats.correlate(pd.DataFrame({"a": _NOISE}), alpha="0.05"), "alpha must be"),
        (lambda: stats.correlate(_NOISE), "values must be a DataFrame"),
    ],
)
def test_bad_arguments_are_named_in_a_query_parameter_error(call, message: str) -> None:
    with pytest.raises(QueryParameterError, match=message):
        call()


def test_huge_sizes_cost_no_more_than_the_series() -> None:
    # these used to allocate memory in proportion to the size asked for
    assert stats.cusum_change_point(_NOISE, min_segment=10**12) is None  # too short to split
    assert math.isnan(stats.granger_pvalues(_NOISE, _NOISE, 10**12)[0])
    d = stats.decompose(_NOISE, period=10**12, method="median")  # no phase repeats
    np.testing.assert_allclose(d.trend + d.seasonal + d.resid, _NOISE)


def test_scalar_and_empty_inputs_of_the_kernels() -> None:
    assert stats.correlation_pvalues([], 0).shape == (0,)
    assert math.isnan(float(stats.correlation_pvalues(0.3, 2)))  # n_eff <= 3: no test
    assert stats.decompose(_NOISE, period=40, method="median").seasonal.shape == (40,)
