"""Model comparison: p-values and intervals against scipy/statsmodels on the raw data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from auterity_lab.errors import QueryParameterError
from auterity_lab.ml import compare_models
from auterity_lab.warehouse import Workbench

from .test_ml_support import open_rows, output

RATINGS = {"a": [5, 5, 4, 4, 4, 3, 5, 2], "b": [3, 2, 4, 3, 1, 2], "c": [5, 4, 5, 5, 3]}
LATENCY = {"a": [100, 120, 130, 150, 900], "b": [300, 320, 310, 700, 650, 500], "c": [100, 110]}


@pytest.fixture
def hand(tmp_path: Path) -> Workbench:
    rows = []
    for model, ratings in RATINGS.items():
        rows += [
            output(model, "2026-05-01T10:00", user_rating=r, status="error", response_time_ms=1)
            for r in ratings
        ]  # errors: rated, not timed
    for model, lat in LATENCY.items():
        rows += [output(model, "2026-05-01T11:00", response_time_ms=ms) for ms in lat]
    return open_rows(tmp_path, {"prompt_outputs": rows})


def test_rating_tests_equal_scipy_and_bh_statsmodels(hand: Workbench) -> None:
    got = compare_models(hand, start="2026-05-01", end="2026-05-02", confidence=0.9, n_boot=500)
    rating = got[got["metric"] == "mean_rating"].set_index(["arm_a", "arm_b"])
    assert list(rating.index) == [("a", "b"), ("a", "c"), ("b", "c")]
    p_values = []
    for a, b in rating.index:
        x, y = np.array(RATINGS[a], float), np.array(RATINGS[b], float)
        mw = stats.mannwhitneyu(x, y, method="asymptotic")
        tt = stats.ttest_ind(x, y, equal_var=False)
        ci = tt.confidence_interval(0.9)
        row = rating.loc[(a, b)]
        assert (row["n_a"], row["n_b"]) == (len(x), len(y))
        assert row["difference"] == pytest.approx(x.mean() - y.mean())
        assert row["statistic"] == mw.statistic and row["p_value"] == pytest.approx(mw.pvalue)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((ci.low, ci.high))
        assert row["effect_size"] == pytest.approx(2 * mw.statistic / (len(x) * len(y)) - 1)
        p_values.append(mw.pvalue)
    assert rating["q_value"].tolist() == pytest.approx(multipletests(p_values, method="fdr_bh")[1])
    assert rating["significant"].tolist() == (rating["q_value"] < 0.1).tolist()


def test_latency_bootstrap_is_seeded(hand: Workbench) -> None:
    kw = {"start": "2026-05-01", "end": "2026-05-02", "n_boot": 500}
    one = compare_models(hand, seed=3, **kw)
    assert one.equals(compare_models(hand, seed=3, **kw))
    lat = one[one["metric"] == "p95_latency_ms"].set_index(["arm_a", "arm_b"])
    a, b = np.array(LATENCY["a"], float), np.array(LATENCY["b"], float)
    row = lat.loc[("a", "b")]
    assert row["value_a"] == pytest.approx(np.percentile(a, 95))
    assert row["difference"] == pytest.approx(np.percentile(a, 95) - np.percentile(b, 95))
    assert row["ci_low"] <= row["difference"] <= row["ci_high"]
    assert row["n_a"] == 5 and row["test"] == "bootstrap"
    other = compare_models(hand, seed=4, **kw)
    assert not other.equals(one)


def test_reference_and_bad_arguments(hand: Workbench) -> None:
    kw = {"start": "2026-05-01", "end": "2026-05-02", "n_boot": 200}
    got = compare_models(hand, reference="b", **kw)
    assert set(zip(got["arm_a"], got["arm_b"], strict=True)) == {("a", "b"), ("c", "b")}
    with pytest.raises(QueryParameterError, match="reference 'zzz' has no outputs"):
        compare_models(hand, reference="zzz", **kw)
    with pytest.raises(QueryParameterError, match="by must be one of"):
        compare_models(hand, by="tenant", **kw)
    with pytest.raises(QueryParameterError, match="n_boot must be an integer >= 100"):
        compare_models(hand, start="2026-05-01", end="2026-05-02", n_boot=5)
    assert compare_models(hand, start="2030-01-01", end="2030-01-02").empty


def test_demo_separates_the_worse_model_and_the_slower_version(
    wb: Workbench, demo_dir: Path
) -> None:
    got = compare_models(wb, start="2026-07-04", end="2026-11-01", n_boot=1000)
    rating = got[got["metric"] == "mean_rating"].set_index(["arm_a", "arm_b"])
    # llama-3-8b is clearly worse than every other model; mistral-small rates like gpt-4o
    for other in ("claude-sonnet", "gpt-4o"):
        row = rating.loc[(other, "llama-3-8b")]
        assert row["significant"] and row["ci_low"] > 0.5
    assert rating.loc[("llama-3-8b", "mistral-small"), "ci_high"] < -0.5
    equal = rating.loc[("gpt-4o", "mistral-small")]
    assert not equal["significant"] and equal["ci_low"] < 0 < equal["ci_high"]
    versions = compare_models(
        wb, start="2026-07-04", end="2026-11-01", by="model_version", model="gpt-4o", n_boot=1000
    )
    lat = versions[versions["metric"] == "p95_latency_ms"].iloc[0]
    assert (lat["arm_a"], lat["arm_b"]) == ("gpt-4o @ 2024-08-06", "gpt-4o @ 2024-11-20")
    assert lat["significant"] and lat["ci_high"] < 0  # the new version is slower
    assert lat["effect_size"] == pytest.approx(1 / 1.4 - 1, abs=0.15)  # planted: 40 % slower
    assert isinstance(versions, pd.DataFrame)
