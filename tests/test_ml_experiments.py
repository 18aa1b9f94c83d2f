"""Experiments: deterministic assignment, and the analysis against scipy/statsmodels."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from auterity_lab.errors import QueryParameterError
from auterity_lab.ml import (
    analyze_experiment,
    assign_variants,
    define_experiment,
    list_experiments,
    load_experiment,
)
from auterity_lab.warehouse import Workbench

from .test_ml_support import TENANT, open_rows, output, uid

USERS = [str(uuid.UUID(int=i * 7919 + 13)) for i in range(100_000)]


@pytest.mark.parametrize(
    "allocation",
    [
        {"control": 50, "treatment": 50},
        {"a": 10, "b": 30, "c": 60},
        {"off": 99, "on": 1},
        {"x": 33.33, "y": 33.33, "z": 33.34},
    ],
)
def test_allocation_within_one_percent_on_100k_users(allocation: dict[str, float]) -> None:
    exp = define_experiment("rollout-2026", allocation)
    shares = exp.assign(USERS).value_counts(normalize=True)
    for name, pct in allocation.items():
        assert abs(shares[name] * 100 - pct) < 1.0, (name, shares[name])


def test_assignment_is_deterministic_and_independent_across_keys() -> None:
    users = USERS[:5000]
    a = define_experiment("exp-a", {"control": 50, "treatment": 50})
    again = define_experiment("exp-a", [("control", 50), ("treatment", 50)])
    assert a.assign(users).equals(again.assign(users))
    assert a.assign([users[7].upper()]).iloc[0] == a.assign([users[7]]).iloc[0]  # id normalised
    b = define_experiment("exp-b", {"control": 50, "treatment": 50})
    both = (a.assign(users).to_numpy() == "treatment") & (b.assign(users).to_numpy() == "treatment")
    assert abs(both.mean() - 0.25) < 0.02  # independent buckets: 1/2 * 1/2
    frame = assign_variants(a, users[:3])
    assert frame["user_id"].tolist() == users[:3]
    assert ((frame["bucket"] >= 0) & (frame["bucket"] < 10_000)).all()
    # a bucket maps to the variant whose range holds it: control [0, 5000), treatment after
    assert ((frame["bucket"] < 5000) == (frame["variant"] == "control")).all()


@pytest.mark.parametrize(
    ("variants", "match"),
    [
        ({"a": 100}, "at least two variants"),
        ({"a": 60, "b": 60}, "sum to 120"),
        ({"a": 50.005, "b": 49.995}, "more than two decimals"),
        ({"a": 0, "b": 100}, "must be > 0"),
        ([("a", 50), ("a", 50)], "repeats a variant"),
    ],
)
def test_bad_definitions(variants: object, match: str) -> None:
    with pytest.raises(QueryParameterError, match=match):
        define_experiment("k", variants)  # type: ignore[arg-type]
    with pytest.raises(QueryParameterError, match="control 'z' is not a variant"):
        define_experiment("k", {"a": 50, "b": 50}, control="z")


# ------------------------------------------------------------------ hand-worked analysis
EXP_ID = uid(900)
START = "2026-04-01T00:00"
# per user: (variant, ratings after exposure, outputs without rating)
USERS_HAND = {
    1: ("control", [4], 1),
    2: ("control", [3], 0),
    3: ("control", [5], 2),
    4: ("control", [2], 0),
    5: ("control", [4], 0),
    6: ("control", [], 3),
    11: ("treatment", [5], 0),
    12: ("treatment", [4], 1),
    13: ("treatment", [5], 0),
    14: ("treatment", [4], 4),
    15: ("treatment", [], 0),
}


@pytest.fixture
def hand(tmp_path: Path) -> Workbench:
    experiments = [
        {
            "tenant_id": TENANT,
            "id": EXP_ID,
            "experiment_key": "tone",
            "status": "running",
            "variants": [
                {"name": "control", "allocation": 50},
                {"name": "treatment", "allocation": 50},
            ],
            "primary_metric": "rating",
            "started_at": START,
            "created_at": START,
        }
    ]
    assignments, outputs = [], []
    for n, (variant, ratings, unrated) in USERS_HAND.items():
        assignments.append(
            {
                "tenant_id": TENANT,
                "experiment_id": EXP_ID,
                "user_id": uid(n),
                "variant": variant,
                "created_at": "2026-04-01T08:00",
            }
        )
        for r in ratings:
            outputs.append(output("m", "2026-04-01T09:00", user_id=uid(n), user_rating=r))
        outputs += [output("m", "2026-04-01T10:00", user_id=uid(n)) for _ in range(unrated)]
    # before exposure: ignored
    outputs.append(output("m", "2026-04-01T07:00", user_id=uid(1), user_rating=1))
    # a second, conflicting assignment later: the user stays in control (first exposure)
    assignments.append(
        {
            "tenant_id": TENANT,
            "experiment_id": EXP_ID,
            "user_id": uid(2),
            "variant": "treatment",
            "created_at": "2026-04-01T12:00",
        }
    )
    return open_rows(
        tmp_path,
        {
            "experiments": experiments,
            "experiment_assignments": assignments,
            "prompt_outputs": outputs,
        },
    )


def test_hand_worked_analysis_matches_statsmodels(hand: Workbench) -> None:
    r = analyze_experiment(hand, key="tone", end="2026-04-02")
    assert r.primary_metric == "rating" and r.experiment.control == "control"
    eff = r.effects.set_index("metric")
    # requests per user (every exposed user, zeros included): Welch z-test
    per_user = {
        v: [len(USERS_HAND[n][1]) + USERS_HAND[n][2] for n in USERS_HAND if USERS_HAND[n][0] == v]
        for v in ("control", "treatment")
    }
    cm = CompareMeans(
        DescrStatsW(np.array(per_user["treatment"], float)),
        DescrStatsW(np.array(per_user["control"], float)),
    )
    z, p = cm.ztest_ind(usevar="unequal")
    row = eff.loc["requests_per_user"]
    assert row["value_control"] == pytest.approx(np.mean(per_user["control"]))
    assert row["z"] == pytest.approx(z) and row["p_value"] == pytest.approx(p)
    lo, hi = cm.zconfint_diff(alpha=0.05, usevar="unequal")
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((lo, hi))
    # rating: users without ratings stay in N (6 control, 5 treatment users), so it is the
    # delta method on per-user sums, written out independently here
    row = eff.loc["rating"]
    assert row["value_control"] == pytest.approx(18 / 5) and row["value_variant"] == pytest.approx(
        4.5
    )
    assert row["primary"]

    # the delta variance, written out: sum((y_i - r n_i)^2) / (sum n)^2 * N / (N - 1)
    def delta_var(variant: str) -> float:
        users = [u for u in USERS_HAND.values() if u[0] == variant]
        y = np.array([sum(u[1]) for u in users], float)
        n = np.array([len(u[1]) for u in users], float)
        r = y.sum() / n.sum()
        return ((y - r * n) ** 2).sum() / n.sum() ** 2 * len(y) / (len(y) - 1)

    se = np.sqrt(delta_var("control") + delta_var("treatment"))
    assert row["difference"] / se == pytest.approx(row["z"])
    assert row["p_value"] == pytest.approx(2 * stats.norm.sf(abs(row["z"])))
    assert row["mde"] == pytest.approx((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * se)
    assert row["lift"] == pytest.approx(4.5 / 3.6 - 1)
    # SRM: 6 vs 5 users against 50/50, as scipy computes it
    srm = r.srm.set_index("variant")
    chi = stats.chisquare([6, 5], [5.5, 5.5])
    assert srm["observed_users"].tolist() == [6, 5]
    assert srm["chi2"].iloc[0] == pytest.approx(chi.statistic)
    assert srm["p_value"].iloc[0] == pytest.approx(chi.pvalue) and not srm["mismatch"].iloc[0]
    assert srm.loc["control", "conflicted_users"] == 1


def test_rating_with_one_rating_per_user_equals_welch_z(tmp_path: Path) -> None:
    # every user rates exactly once: the delta method is exactly Welch's z-test
    rng = np.random.default_rng(2)
    ratings = {
        "control": rng.integers(1, 6, 40),
        "treatment": np.clip(rng.integers(2, 6, 35), 1, 5),
    }
    experiments = [
        {
            "tenant_id": TENANT,
            "id": EXP_ID,
            "experiment_key": "k",
            "status": "running",
            "variants": json.dumps(
                [{"name": "control", "allocation": 50}, {"name": "treatment", "allocation": 50}]
            ),
            "started_at": START,
            "created_at": START,
        }
    ]
    assignments, outputs, n = [], [], 0
    for variant, values in ratings.items():
        for value in values:
            n += 1
            assignments.append(
                {
                    "tenant_id": TENANT,
                    "experiment_id": EXP_ID,
                    "user_id": uid(n),
                    "variant": variant,
                    "created_at": "2026-04-01T08:00",
                }
            )
            outputs.append(output("m", "2026-04-01T09:00", user_id=uid(n), user_rating=int(value)))
    wb = open_rows(
        tmp_path,
        {
            "experiments": experiments,
            "experiment_assignments": assignments,
            "prompt_outputs": outputs,
        },
    )
    r = analyze_experiment(wb, key="k", end="2026-04-02", confidence=0.9)
    row = r.effects.set_index("metric").loc["rating"]
    cm = CompareMeans(
        DescrStatsW(ratings["treatment"].astype(float)),
        DescrStatsW(ratings["control"].astype(float)),
    )
    z, p = cm.ztest_ind(usevar="unequal")
    assert row["z"] == pytest.approx(z) and row["p_value"] == pytest.approx(p)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(
        cm.zconfint_diff(alpha=0.1, usevar="unequal")
    )
    share = r.effects.set_index("metric").loc["high_rated_share"]
    hi = {v: (x >= 4).astype(float) for v, x in ratings.items()}
    z_h, p_h = CompareMeans(DescrStatsW(hi["treatment"]), DescrStatsW(hi["control"])).ztest_ind(
        usevar="unequal"
    )
    assert share["p_value"] == pytest.approx(p_h)


def test_stored_definitions_and_errors(hand: Workbench) -> None:
    assert list_experiments(hand)["assigned_users"].tolist() == [11]
    assert load_experiment(hand, key="tone").allocation == {"control": 50.0, "treatment": 50.0}
    with pytest.raises(QueryParameterError, match="no experiment 'nope'.*known: tone"):
        analyze_experiment(hand, key="nope")
    with pytest.raises(QueryParameterError, match="unknown experiment metric 'ctr'"):
        analyze_experiment(hand, key="tone", primary_metric="ctr")
    three = define_experiment("tone", {"control": 50, "other": 50})
    with pytest.raises(QueryParameterError, match="variants \\['treatment'\\] that the definition"):
        analyze_experiment(hand, key="tone", experiment=three, end="2026-04-02")
    empty = analyze_experiment(hand, key="tone", start="2026-05-01", end="2026-05-02")
    assert empty.effects.empty and empty.variants.empty and empty.srm.empty


def test_srm_detects_a_skewed_split(hand: Workbench) -> None:
    skewed = define_experiment("tone", {"control": 90, "treatment": 10})
    r = analyze_experiment(hand, key="tone", experiment=skewed, end="2026-04-02", srm_alpha=0.05)
    chi = stats.chisquare([6, 5], [11 * 0.9, 11 * 0.1])
    assert r.srm["p_value"].iloc[0] == pytest.approx(chi.pvalue) and r.srm["mismatch"].all()


def test_demo_planted_lift_and_null(wb: Workbench, demo_dir: Path) -> None:
    truth = {
        e["id"]: e for e in json.loads((demo_dir / "ground_truth.json").read_text())["effects"]
    }
    lift = truth["experiment_lift"]
    r = analyze_experiment(wb, key=lift["details"]["experiment_key"])
    rating = r.effects.set_index("metric").loc["rating"]
    assert rating["primary"] and rating["significant"] and rating["difference"] > 0
    assert rating["ci_low"] < lift["magnitude"] < rating["ci_high"]
    assert not r.srm["mismatch"].any()
    null = analyze_experiment(wb, key=truth["experiment_null"]["details"]["experiment_key"])
    assert not null.effects.set_index("metric").loc["rating", "significant"]
    assert not null.srm["mismatch"].any()
