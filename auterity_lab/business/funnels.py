"""Conversion funnels: ordered (or unordered) steps of event types within a conversion window.

A user enters with a step-1 event in ``[start, end)`` and converts through step k when the steps
1..k follow within ``window`` of that entry (the window's end included). Every entry is tried and
a user counts once, at the furthest step any entry reaches. Steps may carry property filters
(``Step("subscribe", {"plan": "team"})``) and may repeat (``feature_use`` twice needs two
distinct events). Orders:

``ordered``
    each step strictly after the previous one; other events may happen in between.
``strict``
    each step is the user's very next event (over all their events).
``any``
    the steps in any order; step k of the result means "k of the N steps done".

Examples
--------
>>> Step.parse("subscribe plan=team")
Step(event='subscribe', where={'plan': 'team'})
>>> Step.parse("subscribe plan=team").label
'subscribe (plan=team)'
>>> parse_window("36h")
datetime.timedelta(days=1, seconds=43200)
>>> f = funnel(wb, start="2026-08-01", end="2026-10-01",
...            steps=["signup", "activate", "subscribe"], window="30d")   # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from auterity_lab.business._query import choice, run, with_wilson
from auterity_lab.business.scope import FilterValue, scope_params
from auterity_lab.cache import cached
from auterity_lab.errors import QueryParameterError

if TYPE_CHECKING:
    import pandas as pd

    from auterity_lab.warehouse import Workbench

# order name -> (query, extra parameters)
ORDERS: dict[str, tuple[str, dict[str, bool]]] = {
    "ordered": ("business_funnel", {"strict": False}),
    "strict": ("business_funnel", {"strict": True}),
    "any": ("business_funnel_unordered", {}),
}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_WINDOW = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")
_MAX_WINDOW_S = 2**31 - 1


@dataclass(frozen=True)
class Step:
    """One funnel step: an ``events.event_type`` and property filters that must all hold.

    ``where`` maps a top-level key of ``events.properties`` to the value it must equal (compared
    as text: numbers as written in the JSON, booleans as ``true``/``false``).
    """

    event: str
    where: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.event, str) or not self.event:
            raise QueryParameterError(f"a funnel step needs an event type, not {self.event!r}")
        if not isinstance(self.where, Mapping):
            raise QueryParameterError(
                f"step {self.event!r}: where must be a mapping, not {self.where!r}"
            )
        clean: dict[str, str] = {}
        for key, value in self.where.items():
            if not isinstance(key, str) or not key:
                raise QueryParameterError(
                    f"step {self.event!r}: property names must be text, not {key!r}"
                )
            clean[key] = _as_text(self.event, key, value)
        object.__setattr__(self, "where", clean)

    @classmethod
    def parse(cls, text: str) -> Step:
        """``"subscribe plan=team"`` → ``Step("subscribe", {"plan": "team"})`` (the CLI's form)."""
        event, *conditions = str(text).split()
        where = {}
        for cond in conditions:
            key, sep, value = cond.partition("=")
            if not sep or not key:
                raise QueryParameterError(f"step {text!r}: {cond!r} is not key=value")
            where[key] = value
        return cls(event, where)

    @property
    def label(self) -> str:
        """Human label: the event, and its filters in parentheses."""
        if not self.where:
            return self.event
        return f"{self.event} ({', '.join(f'{k}={v}' for k, v in self.where.items())})"


def _as_text(event: str, key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise QueryParameterError(
        f"step {event!r}: value of {key!r} must be text or a number, not {value!r}"
    )


def parse_window(window: str | dt.timedelta) -> dt.timedelta:
    """A conversion window from a timedelta or text such as ``"14d"``, ``"36h"``, ``"90m"``.

    Raises
    ------
    QueryParameterError
        Not a duration, not positive, or longer than 68 years.
    """
    if isinstance(window, str):
        m = _WINDOW.fullmatch(window)
        if not m:
            raise QueryParameterError(
                f"window {window!r} is not a duration like 30s, 15m, 36h, 14d or 2w"
            )
        window = dt.timedelta(seconds=float(m[1]) * _UNITS[m[2]])
    if not isinstance(window, dt.timedelta):
        raise QueryParameterError(f"window must be a timedelta or text like '14d', not {window!r}")
    if not dt.timedelta(0) < window <= dt.timedelta(seconds=_MAX_WINDOW_S):
        raise QueryParameterError(f"window must be positive and at most 68 years, not {window}")
    return window


@cached(
    "user_analytics",
    tables=["auterity.users", "auterity.user_sessions", "auterity.events"],
    relations=[],
)
def funnel(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    steps: Sequence[str | Step],
    window: str | dt.timedelta = "14d",
    order: str = "ordered",
    breakdown_property: str | None = None,
    confidence: float = 0.95,
    breakdown: str | None = None,
    device: FilterValue = None,
    country: FilterValue = None,
    plan: FilterValue = None,
    channel: FilterValue = None,
) -> pd.DataFrame:
    """Per-step counts, conversion, drop-off and time to convert of a funnel.

    Parameters
    ----------
    wb
        Tenant-scoped workbench.
    start, end
        Users enter with a step-1 event (``any``: any step's event) in ``[start, end)``; later
        steps may happen after ``end`` while inside the window.
    steps
        At least two steps: event types or :class:`Step` (with property filters).
    window
        Conversion window from the entry event: a timedelta or ``"14d"``, ``"36h"`` ...;
        a step exactly at the window's end still counts.
    order
        ``ordered``, ``strict`` or ``any`` (see the module docstring).
    breakdown_property
        Split by this property of the user's first entry event in the range (first-touch
        attribution), e.g. ``"channel"`` of ``signup``; users whose first entry lacks it are
        ``'(none)'``. Not together with ``breakdown``.
    confidence
        Coverage of the Wilson intervals.
    breakdown, device, country, plan, channel
        User attributes; see :mod:`auterity_lab.business.scope`.

    Returns
    -------
    DataFrame
        One row per (``segment``, ``step``) for steps 1..N:

        - ``step`` (1-based), ``event`` (event type; ``any k of N`` for order ``any``), ``label``
        - ``users`` reaching the step; ``conversion_from_first`` = users / users of step 1 and
          ``conversion_from_previous`` = users / users of the previous step (1 for step 1),
          each with ``_ci_low`` / ``_ci_high`` Wilson bounds
        - ``dropped`` (users of the previous step who did not reach this one; NA for step 1)
          and ``drop_off_rate``
        - ``median_seconds_from_previous``, ``p90_seconds_from_previous``,
          ``median_seconds_from_first``, ``p90_seconds_from_first``: time to convert within
          each converting user's best attempt (its tightest chain of steps)

        Segments without entries are absent; no entries at all gives an empty frame.

    Raises
    ------
    QueryParameterError
        Fewer than two steps, a bad step, window, order, breakdown or filter, or both
        ``breakdown`` and ``breakdown_property``.

    Examples
    --------
    >>> funnel(wb, start="2026-08-01", end="2026-10-01",
    ...        steps=["signup", "activate", Step("subscribe", {"plan": "team"})],
    ...        window="30d", breakdown_property="channel")                     # doctest: +SKIP
    """
    if isinstance(steps, str):
        raise QueryParameterError(f"steps must be a list of steps, not the text {steps!r}")
    parsed = [s if isinstance(s, Step) else Step(s) for s in steps]
    if len(parsed) < 2:
        raise QueryParameterError(f"a funnel needs at least two steps, got {len(parsed)}")
    if breakdown is not None and breakdown_property is not None:
        raise QueryParameterError(
            "give either breakdown (a user attribute) or breakdown_property, not both"
        )
    if breakdown_property is not None and (
        not isinstance(breakdown_property, str) or not breakdown_property
    ):
        raise QueryParameterError(
            f"breakdown_property must be a property name, not {breakdown_property!r}"
        )
    query, extra = ORDERS[choice("order", order, ORDERS)]
    conditions = [(str(i), k, v) for i, s in enumerate(parsed, start=1) for k, v in s.where.items()]
    frame = run(
        wb,
        query,
        start=start,
        end=end,
        steps=[s.event for s in parsed],
        filter_steps=[c[0] for c in conditions] or None,
        filter_keys=[c[1] for c in conditions] or None,
        filter_values=[c[2] for c in conditions] or None,
        window_seconds=round(parse_window(window).total_seconds()),
        breakdown_property=breakdown_property,
        **extra,
        **scope_params(
            breakdown=breakdown, device=device, country=country, plan=plan, channel=channel
        ),
    )
    labels = dict(enumerate((s.label for s in parsed), start=1))
    label = frame["event"] if order == "any" else frame["step"].map(labels)
    frame.insert(frame.columns.get_loc("event") + 1, "label", label)
    users = frame["users"].to_numpy(dtype=float)
    first = frame.groupby("segment", sort=False)["users"].transform("first").to_numpy(dtype=float)
    previous = (
        frame.groupby("segment", sort=False)["users"]
        .shift(1)
        .to_numpy(dtype=float, na_value=np.nan)
    )
    previous = np.where(np.isnan(previous), users, previous)
    with_wilson(frame, "conversion_from_first", users, first, confidence=confidence)
    return with_wilson(frame, "conversion_from_previous", users, previous, confidence=confidence)
