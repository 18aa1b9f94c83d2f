"""Filters and breakdowns shared by every business metric: which users count, and how to split them.

Every function of :mod:`auterity_lab.business` (except system performance, which is about
services, not users) takes the same keyword filters ``device``, ``country``, ``plan`` and
``channel`` and a ``breakdown``. They are attributes of the user's account (``users`` table:
``device``, ``country``, ``plan``, ``acquisition_channel``), so a user belongs to one segment and
every metric splits the same way; ``plan`` is the user's current plan. A filter is one value or a
list of values (any of them matches); ``None`` keeps everyone. The breakdown puts the attribute's
value in the ``segment`` column of the result (``'(none)'`` for users without one); without a
breakdown ``segment`` is ``'all'``. Sessions and events count through their user, so rows whose
``user_id`` is not in ``users`` (none in the canonical model) are left out of user metrics.

In SQL the same ``scope`` CTE opens every ``queries/business_*.sql`` that takes these parameters
(a test checks that the copies are identical), so a query file run on its own means the same.

Examples
--------
>>> params = scope_params(breakdown="device", device="mobile", country=["DE", "FR"])
>>> params["breakdown"], params["device"], params["country"], params["plan"]
('device', ['mobile'], ['DE', 'FR'], None)
>>> scope_params(breakdown="browser")
Traceback (most recent call last):
...
auterity_lab.errors.QueryParameterError: breakdown must be one of device, country, plan, ...
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from auterity_lab.errors import QueryParameterError

if TYPE_CHECKING:
    import pandas as pd

    from auterity_lab.warehouse import Workbench

BREAKDOWNS: dict[str, str] = {
    "device": "device",
    "country": "country",
    "plan": "plan",
    "channel": "acquisition_channel",
}
"""Breakdown (and filter) name → the ``users`` column it reads."""

FilterValue = str | Sequence[str] | None


def scope_params(
    *,
    breakdown: str | None = None,
    device: FilterValue = None,
    country: FilterValue = None,
    plan: FilterValue = None,
    channel: FilterValue = None,
) -> dict[str, str | list[str] | None]:
    """The SQL parameters of the ``scope`` CTE, validated.

    Parameters
    ----------
    breakdown
        A key of :data:`BREAKDOWNS`, or None for a single ``'all'`` segment.
    device, country, plan, channel
        A value or a list of values to keep; None keeps every user.

    Raises
    ------
    QueryParameterError
        Unknown breakdown, an empty filter list, or a filter value that is not text.
    """
    if breakdown is not None and breakdown not in BREAKDOWNS:
        raise QueryParameterError(
            f"breakdown must be one of {', '.join(BREAKDOWNS)} (or None), not {breakdown!r}"
        )
    values = {"device": device, "country": country, "plan": plan, "channel": channel}
    return {"breakdown": breakdown, **{k: filter_list(k, v) for k, v in values.items()}}


def filter_list(name: str, value: FilterValue) -> list[str] | None:
    """A filter value as the list a ``VARCHAR[]`` parameter takes (None stays None).

    Examples
    --------
    >>> filter_list("service", "auterity-api")
    ['auterity-api']
    """
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    if not items:
        raise QueryParameterError(f"filter {name} is an empty list; give None to keep every user")
    bad = [v for v in items if not isinstance(v, str) or not v]
    if bad:
        raise QueryParameterError(f"filter {name} takes non-empty text values, not {bad[0]!r}")
    return items


def dimension_values(wb: Workbench, /) -> pd.DataFrame:
    """The values each filter and breakdown can take in this tenant's data, with user counts.

    Returns
    -------
    DataFrame
        ``dimension`` (a key of :data:`BREAKDOWNS`), ``value``, ``users`` (accounts with that
        value); ordered by dimension, then most users first. Empty for a tenant without users.

    Examples
    --------
    >>> dimension_values(wb).query("dimension == 'device'")["value"].tolist()  # doctest: +SKIP
    ['desktop', 'mobile', 'tablet']
    """
    return wb.query("business_dimensions")
