"""Small-count suppression: no row of a shared table describes fewer than ``k`` users.

A table in long form has one row per cell (a segment, a day, a model) and a column with the
number of distinct users behind it. :func:`suppress_small_counts` replaces the values of every
row with fewer than ``k`` users by the text ``"<k"`` (primary suppression). Because a reader can
add up the visible rows and subtract them from a published total, it then suppresses more rows
of the same group, smallest first (complementary suppression), until the suppressed rows of
the group are at least two and together hold at least ``k`` users, or the whole group is
suppressed. The total of a group minus its visible rows then never isolates fewer than ``k``
users.

Examples
--------
>>> import pandas as pd
>>> t = pd.DataFrame({"plan": ["free", "pro", "team", "ent"], "users": [40, 12, 3, 9],
...                   "revenue": [0.0, 600.0, 150.0, 900.0]})
>>> suppress_small_counts(t, 5)
   plan users revenue
0  free    40     0.0
1   pro    12   600.0
2  team    <5      <5
3   ent    <5      <5
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from auterity_lab.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

USER_COUNT_NAMES = re.compile(r"(?:(?:^|_)users|^user_count|^n_users|^distinct_users)$")
"""Column names taken as user counts when none is named: ``users``, ``active_users``, ..."""


def user_count_columns(frame: pd.DataFrame) -> list[str]:
    """The numeric columns of ``frame`` whose name says they count users.

    Examples
    --------
    >>> import pandas as pd
    >>> user_count_columns(pd.DataFrame({"day": [1], "unique_users": [3], "sessions": [5]}))
    ['unique_users']
    """
    import pandas as pd

    return [
        str(c)
        for c in frame.columns
        if USER_COUNT_NAMES.search(str(c))
        and pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
    ]


def suppression_mask(
    frame: pd.DataFrame,
    k: int,
    *,
    user_count_column: str | Sequence[str] | None = None,
    by: str | Sequence[str] | None = None,
) -> pd.Series:
    """Which rows to suppress (primary and complementary), as a boolean Series on the index.

    Parameters
    ----------
    frame
        A long table: one row per cell.
    k
        The smallest number of users a visible row may describe (``k >= 2``).
    user_count_column
        The column(s) with each row's user count; with several, the smallest counts. Default:
        :func:`user_count_columns`. A missing count counts as 0.
    by
        Columns that group rows whose total may be published (e.g. ``date`` when the table has a
        row per day and segment); default: the whole table is one group.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"users": [50, 2, 30]})
    >>> suppression_mask(t, 5).tolist()   # 2 is primary, 30 complementary
    [False, True, True]
    """
    import numpy as np
    import pandas as pd

    counts_cols = _count_columns(frame, user_count_column)
    groups = _as_list(by)
    _check_columns(frame, [*counts_cols, *groups])
    _check_k(k)
    counts = (
        frame[counts_cols].apply(pd.to_numeric, errors="coerce").min(axis=1, skipna=False)
    ).fillna(0)
    mask = pd.Series(counts.to_numpy() < k, index=frame.index, dtype=bool)
    positions = np.arange(len(frame))
    keys = (
        [positions]
        if not groups
        else list(frame.groupby(groups, dropna=False, sort=False).indices.values())
    )
    values, flags = counts.to_numpy(dtype=float), mask.to_numpy().copy()
    for members in keys:
        _complement(values, flags, np.asarray(members), k)
    return pd.Series(flags, index=frame.index, dtype=bool)


def suppress_small_counts(
    frame: pd.DataFrame,
    k: int,
    *,
    user_count_column: str | Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    by: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """A copy of ``frame`` whose rows under ``k`` users (and their complements) read ``"<k"``.

    Parameters
    ----------
    frame, k, user_count_column, by
        As :func:`suppression_mask`.
    columns
        The columns blanked in a suppressed row; default: every numeric column except ``by``
        (counts, sums, rates and their intervals all describe the same few users). Labels stay.

    Raises
    ------
    ConfigError
        ``k`` below 2, a named column missing, or no user count column found.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"day": ["d1", "d1", "d2", "d2"], "model": ["a", "b", "a", "b"],
    ...                   "users": [8, 1, 9, 7], "rate": [0.5, 1.0, 0.4, 0.2]})
    >>> suppress_small_counts(t, 3, by="day")
      day model users rate
    0  d1     a    <3   <3
    1  d1     b    <3   <3
    2  d2     a     9  0.4
    3  d2     b     7  0.2
    """
    import pandas as pd

    mask = suppression_mask(frame, k, user_count_column=user_count_column, by=by)
    groups = set(_as_list(by))
    if columns is None:
        blanked = [
            c
            for c in frame.columns
            if c not in groups
            and pd.api.types.is_numeric_dtype(frame[c])
            and not pd.api.types.is_bool_dtype(frame[c])
        ]
        blanked += [c for c in _count_columns(frame, user_count_column) if c not in blanked]
    else:
        blanked = list(columns)
        _check_columns(frame, blanked)
    return apply_mask(frame, mask, k, blanked)


def apply_mask(
    frame: pd.DataFrame, mask: pd.Series, k: int, columns: Sequence[str]
) -> pd.DataFrame:
    """A copy of ``frame`` with ``columns`` of the rows in ``mask`` replaced by ``"<k"``.

    Used to blank a display copy of a table (formatted values) exactly where its data was.

    Examples
    --------
    >>> import pandas as pd
    >>> apply_mask(pd.DataFrame({"n": [1, 9]}), pd.Series([True, False]), 5, ["n"])["n"].tolist()
    ['<5', 9]
    """
    out = frame.copy()
    flags = mask.reindex(out.index, fill_value=False).to_numpy(dtype=bool)
    if not flags.any():
        return out
    for col in columns:
        values = out[col].astype(object)
        values[flags] = f"<{k}"
        out[col] = values
    return out


def _complement(counts: np.ndarray, flags: np.ndarray, members: np.ndarray, k: int) -> None:
    """Suppress more rows of one group (smallest first) until the suppression is safe."""
    import numpy as np

    while True:
        hidden = members[flags[members]]
        if hidden.size == 0 or hidden.size == members.size:
            return
        if hidden.size >= 2 and counts[hidden].sum() >= k:
            return
        visible = members[~flags[members]]
        flags[visible[np.argmin(counts[visible])]] = True


def _count_columns(frame: pd.DataFrame, user_count_column: str | Sequence[str] | None) -> list[str]:
    if user_count_column is not None:
        return _as_list(user_count_column)
    found = user_count_columns(frame)
    if not found:
        raise ConfigError(
            "no user count column: name one with user_count_column= (columns are "
            f"{', '.join(map(str, frame.columns)) or 'none'})"
        )
    return found


def _check_columns(frame: pd.DataFrame, names: Sequence[str]) -> None:
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise ConfigError(f"table has no column {', '.join(map(repr, missing))}")


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ConfigError(f"suppression threshold k must be an integer >= 2, not {k!r}")


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)
