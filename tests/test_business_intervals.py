"""Wilson score intervals against statsmodels, element-wise and vectorised."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from auterity_lab.errors import QueryParameterError
from auterity_lab.intervals import wilson_interval


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 10_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_matches_statsmodels(case: tuple[int, int], confidence: float) -> None:
    k, n = case
    low, high = wilson_interval(k, n, confidence=confidence)
    exp_low, exp_high = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
    assert float(low) == pytest.approx(exp_low, abs=1e-12)
    assert float(high) == pytest.approx(exp_high, abs=1e-12)
    assert low <= k / n <= high


def test_vectorised_with_empty_trials() -> None:
    k = np.array([[0, 3], [7, 0]])
    n = np.array([[5, 10], [7, 0]])
    low, high = wilson_interval(k, n)
    assert low.shape == high.shape == (2, 2)
    exp = proportion_confint(k[:, :][n > 0], n[n > 0], method="wilson")
    np.testing.assert_allclose(low[n > 0], exp[0], atol=1e-12)
    np.testing.assert_allclose(high[n > 0], exp[1], atol=1e-12)
    assert np.isnan(low[1, 1]) and np.isnan(high[1, 1])
    assert (low[0, 0], high[1, 0]) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("k", "n", "conf", "message"),
    [(3, 2, 0.95, "exceed"), (-1, 2, 0.95, "negative"), (1, 2, 1.0, "confidence")],
)
def test_bad_input(k: int, n: int, conf: float, message: str) -> None:
    with pytest.raises(QueryParameterError, match=message):
        wilson_interval(k, n, confidence=conf)
