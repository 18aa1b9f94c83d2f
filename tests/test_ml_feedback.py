"""Feedback: rating distribution, feedback rate and low-rating terms, worked by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from auterity_lab.errors import QueryParameterError
from auterity_lab.ml import feedback_rate, low_rating_terms, rating_distribution
from auterity_lab.warehouse import Workbench

from .test_ml_support import TENANT, open_rows, output, uid
from .test_warehouse import _raw

# (output id, model, [(rating, comment), ...])
GIVEN = [
    (1, "a", [(1, "Wrong answer, totally wrong!"), (2, "too slow")]),
    (2, "a", [(2, "The answer was wrong")]),
    (3, "a", [(5, "great answer")]),
    (4, "b", [(4, "   ")]),
    (5, "b", [(5, None)]),
    (6, "b", []),
    (7, "a", []),
]


@pytest.fixture
def hand(tmp_path: Path) -> Workbench:
    outputs = [output(m, "2026-02-01T10:00", id=uid(n)) for n, m, _ in GIVEN]
    outputs.append(output("a", "2026-03-01T10:00", id=uid(99)))  # out of range
    fb = [
        {
            "tenant_id": TENANT,
            "prompt_output_id": uid(n),
            "rating": r,
            "comment": c,
            "created_at": "2026-02-01T11:00",
        }
        for n, _, given in GIVEN
        for r, c in given
    ]
    fb.append(
        {
            "tenant_id": TENANT,
            "prompt_output_id": uid(99),
            "rating": 1,
            "comment": "wrong",
            "created_at": "2026-03-01T11:00",
        }
    )
    return open_rows(tmp_path, {"prompt_outputs": outputs, "feedback": fb})


KW = {"start": "2026-02-01", "end": "2026-02-02"}


def test_distribution_has_every_level(hand: Workbench) -> None:
    got = rating_distribution(hand, **KW)
    assert got["rating"].tolist() == [1, 2, 3, 4, 5]
    assert got["n"].tolist() == [1, 2, 0, 1, 2] and got["share"].sum() == pytest.approx(1)
    per_model = rating_distribution(hand, by="model_id", **KW)
    assert per_model[per_model["arm"] == "b"]["n"].tolist() == [0, 0, 0, 1, 1]
    with pytest.raises(QueryParameterError, match="by must be one of all, model_id"):
        rating_distribution(hand, by="user", **KW)


def test_feedback_rate_by_hand(hand: Workbench) -> None:
    got = feedback_rate(hand, by="model_id", **KW).set_index("arm")
    a = got.loc["a"]
    # a: outputs 1, 2, 3, 7; with feedback 1, 2, 3; four feedback rows, all commented
    assert (a["outputs"], a["outputs_with_feedback"], a["feedback"], a["comments"]) == (4, 3, 4, 4)
    assert a["feedback_rate"] == 0.75 and a["mean_rating"] == pytest.approx(10 / 4)
    assert a["low_rated_share"] == 0.75 and a["high_rated_share"] == 0.25
    b = got.loc["b"]
    # b: the blank comment does not count
    assert (b["outputs_with_feedback"], b["feedback"], b["comments"]) == (2, 2, 0)
    assert b["comment_rate"] == 0
    overall = feedback_rate(hand, **KW)
    assert overall["outputs"].tolist() == [7] and overall["feedback_rate"].tolist() == [5 / 7]


def test_low_rating_terms_by_hand(hand: Workbench) -> None:
    got = low_rating_terms(hand, **KW).set_index("term")
    # low (<= 2): "wrong answer totally wrong", "too slow", "the answer was wrong";
    # other: "great answer"
    # stopwords drop "too", "the", "was"; each term counts once per comment
    assert got.index.tolist() == ["answer", "wrong", "slow", "totally"]
    assert got["low_comments"].tolist() == [2, 2, 1, 1]
    assert got.loc["answer", "other_comments"] == 1 and got.loc["wrong", "other_comments"] == 0
    assert got.loc["answer", "low_share"] == pytest.approx(2 / 3)
    assert got.loc["answer", "lift"] == pytest.approx((2 / 3) / 1.0)
    assert np.isinf(got.loc["wrong", "lift"])
    # one-sided Fisher exact test, as scipy computes it: [[with, without] low, other]
    fisher = stats.fisher_exact([[2, 1], [0, 1]], alternative="greater")
    assert got.loc["wrong", "p_value"] == pytest.approx(fisher.pvalue)
    assert got.loc["wrong", "example"] in {"Wrong answer, totally wrong!", "The answer was wrong"}
    fewer = low_rating_terms(hand, top=1, extra_stopwords=["Answer"], **KW)
    assert fewer["term"].tolist() == ["wrong"]
    # rating 1 only: one comment, each term once, ties in alphabetical order
    assert low_rating_terms(hand, max_rating=1, **KW)["term"].tolist() == [
        "answer",
        "totally",
        "wrong",
    ]


def test_empty_range(hand: Workbench) -> None:
    for fn in (rating_distribution, feedback_rate, low_rating_terms):
        got = fn(hand, start="2030-01-01", end="2030-01-02")
        assert got.empty and len(got.columns) > 3, fn.__name__


def test_demo_distribution_equals_pandas(wb: Workbench, demo_dir: Path) -> None:
    start, end = "2026-08-01", "2026-11-01"
    outputs = _raw(demo_dir, "prompt_outputs", "acme")
    t = outputs["created_at"]
    ids = set(
        outputs.loc[(t >= pd.Timestamp(start, tz="UTC")) & (t < pd.Timestamp(end, tz="UTC")), "id"]
    )
    fb = _raw(demo_dir, "feedback", "acme")
    fb = fb[fb["prompt_output_id"].isin(ids)]
    got = rating_distribution(wb, start=start, end=end).set_index("rating")["n"]
    expected = fb["rating"].value_counts().reindex(range(1, 6), fill_value=0)
    assert got.tolist() == expected.tolist()
    rate = feedback_rate(wb, start=start, end=end)
    assert rate["feedback_rate"].iloc[0] == pytest.approx(
        fb["prompt_output_id"].nunique() / len(ids)
    )
    terms = low_rating_terms(wb, start=start, end=end)
    low = fb[(fb["rating"] <= 2) & fb["comment"].notna()]
    assert terms["low_comments"].max() <= len(low) and (terms["low_comments"] > 0).all()
