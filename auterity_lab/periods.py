"""Date ranges: half-open ``[start, end)`` in UTC, and the period before one.

Examples
--------
>>> r = DateRange.of("2026-10-01", "2026-10-08")
>>> r.days, r.previous().start.date().isoformat()
(7.0, '2026-09-24')
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from auterity_lab.errors import QueryParameterError
from auterity_lab.queries import coerce


@dataclass(frozen=True)
class DateRange:
    """A half-open UTC range ``[start, end)`` with ``start < end``."""

    start: dt.datetime
    end: dt.datetime

    @classmethod
    def of(cls, start: Any, end: Any) -> DateRange:
        """Build from dates, datetimes or ISO strings (naive means UTC).

        Both bounds must lie in the supported range of :func:`auterity_lab.queries.coerce`
        (1900-01-01 .. 2200-01-01), so that :meth:`previous` and every date spine stay valid.

        Raises
        ------
        QueryParameterError
            A bound is missing, not a date or outside the supported range, or ``end`` is not
            after ``start``.

        Examples
        --------
        >>> DateRange.of("2026-10-08", "2026-10-01")
        Traceback (most recent call last):
        ...
        auterity_lab.errors.QueryParameterError: end (2026-10-01T00:00:00+00:00) must be after \
start (2026-10-08T00:00:00+00:00)
        """
        if start is None or end is None:
            raise QueryParameterError("both start and end are required")
        lo = coerce(start, "TIMESTAMPTZ", "start")
        hi = coerce(end, "TIMESTAMPTZ", "end")
        if hi <= lo:
            raise QueryParameterError(
                f"end ({hi.isoformat()}) must be after start ({lo.isoformat()})"
            )
        return cls(lo, hi)

    @property
    def days(self) -> float:
        """Length in days (fractional for partial days)."""
        return (self.end - self.start) / dt.timedelta(days=1)

    def previous(self) -> DateRange:
        """The range of the same length that ends where this one starts."""
        return DateRange(self.start - (self.end - self.start), self.start)

    def params(self) -> dict[str, dt.datetime]:
        """``{"start": ..., "end": ...}`` for a query."""
        return {"start": self.start, "end": self.end}
