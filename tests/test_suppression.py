"""Small-count suppression: hand-worked cases and the invariants it promises."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auterity_lab.errors import ConfigError
from auterity_lab.suppression import (
    apply_mask,
    suppress_small_counts,
    suppression_mask,
    user_count_columns,
)


def test_nothing_small_nothing_changes():
    t = pd.DataFrame({"segment": ["a", "b"], "users": [10, 20], "rate": [0.1, 0.2]})
    out = suppress_small_counts(t, 5)
    pd.testing.assert_frame_equal(out, t)
    assert out is not t


def test_single_small_row_gets_a_complement():
    # k=5: 'c' (2 users) is primary; alone it could be recovered from the total (2), so the
    # smallest other row 'b' (6) is suppressed too: hidden = {2, 6}, two rows, 8 users >= 5.
    t = pd.DataFrame({"seg": ["a", "b", "c", "d"], "users": [50, 6, 2, 30]})
    assert suppression_mask(t, 5).tolist() == [False, True, True, False]
    out = suppress_small_counts(t, 5)
    assert out["users"].tolist() == [50, "<5", "<5", 30]
    assert out["seg"].tolist() == ["a", "b", "c", "d"]


def test_two_small_rows_whose_sum_is_below_k_get_another_complement():
    # k=10: 1 and 3 are primary (sum 4 < 10), add 7 (sum 11): three rows hidden, 40 stays.
    t = pd.DataFrame({"users": [1, 40, 3, 7]})
    assert suppression_mask(t, 10).tolist() == [True, False, True, True]


def test_two_small_rows_whose_sum_reaches_k_need_no_complement():
    t = pd.DataFrame({"users": [4, 40, 3, 7]})
    assert suppression_mask(t, 5).tolist() == [True, False, True, False]


def test_a_whole_group_may_be_suppressed():
    t = pd.DataFrame({"users": [1, 2]})
    assert suppression_mask(t, 5).tolist() == [True, True]


def test_groups_are_completed_separately():
    t = pd.DataFrame(
        {"day": ["d1"] * 3 + ["d2"] * 3, "users": [3, 20, 11, 30, 40, 50], "x": range(6)}
    )
    assert suppression_mask(t, 5, by="day").tolist() == [True, False, True] + [False] * 3
    out = suppress_small_counts(t, 5, by="day")
    assert out["x"].tolist() == ["<5", 1, "<5", 3, 4, 5]
    assert out["day"].tolist() == t["day"].tolist()


def test_missing_count_counts_as_zero_and_min_of_several_counts():
    t = pd.DataFrame({"active_users": [None, 9, 8, 50], "paying_users": [9, 9, 1, 60]})
    assert user_count_columns(t) == ["active_users", "paying_users"]
    assert suppression_mask(t, 5).tolist() == [True, True, True, False]


def test_only_numeric_columns_are_blanked_by_default():
    t = pd.DataFrame(
        {"model": ["m1", "m2"], "unique_users": [1, 2], "ok": [True, False], "p": [0.5, 0.7]}
    )
    out = suppress_small_counts(t, 3)
    assert out["model"].tolist() == ["m1", "m2"]
    assert out["ok"].tolist() == [True, False]
    assert out["p"].tolist() == ["<3", "<3"]


def test_explicit_columns():
    t = pd.DataFrame({"n": [1, 9, 9], "label": ["x", "y", "z"], "v": [1.0, 2.0, 3.0]})
    out = suppress_small_counts(t, 5, user_count_column="n", columns=["n", "label"])
    assert out["label"].tolist() == ["<5", "<5", "z"] and out["v"].tolist() == [1.0, 2.0, 3.0]


def test_apply_mask_on_a_display_copy():
    display = pd.DataFrame({"users": ["1", "1,200"]}, index=[7, 8])
    out = apply_mask(display, pd.Series([True, False], index=[7, 8]), 10, ["users"])
    assert out["users"].tolist() == ["<10", "1,200"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 1}, ">= 2"),
        ({"k": True}, ">= 2"),
        ({"k": 5, "user_count_column": "nope"}, "no column 'nope'"),
        ({"k": 5, "by": "nope"}, "no column 'nope'"),
        ({"k": 5, "columns": ["nope"]}, "no column 'nope'"),
    ],
)
def test_bad_arguments(kwargs, message):
    t = pd.DataFrame({"users": [1, 2]})
    with pytest.raises(ConfigError, match=message):
        suppress_small_counts(t, **kwargs)


def test_no_user_count_column():
    with pytest.raises(ConfigError, match="no user count column"):
        suppress_small_counts(pd.DataFrame({"sessions": [1]}), 5)


@given(
    counts=st.lists(st.integers(0, 30), min_size=1, max_size=12),
    k=st.integers(2, 12),
)
@settings(max_examples=150, deadline=None)
def test_invariants(counts, k):
    t = pd.DataFrame({"users": counts})
    mask = suppression_mask(t, k)
    hidden = [c for c, m in zip(counts, mask, strict=True) if m]
    # every row under k is hidden
    assert all(m for c, m in zip(counts, mask, strict=True) if c < k)
    if hidden:
        # total minus the visible rows isolates at least k users in at least two rows,
        # unless the whole table is hidden
        assert (len(hidden) >= 2 and sum(hidden) >= k) or len(hidden) == len(counts)
        # complements are the smallest rows available: no visible row is smaller than a
        # complementary (>= k) hidden one
        complements = [c for c in hidden if c >= k]
        visible = [c for c, m in zip(counts, mask, strict=True) if not m]
        if complements and visible:
            assert max(complements) <= min(visible)
    else:
        assert min(counts) >= k
