"""Parameters shared by the ml functions: date range, AI filters and time grain (number checks
are :mod:`auterity_lab.arguments`).

Examples
--------
>>> sorted(ai_params("2026-10-01", "2026-10-02", model="gpt-4o"))
['end', 'model', 'model_version', 'prompt_version', 'start']
"""

from __future__ import annotations

from typing import Any

from auterity_lab.errors import QueryParameterError
from auterity_lab.periods import DateRange

GRAINS = ("hour", "day", "week")
"""Time grains of the ``*_over_time`` functions (``date_trunc`` parts)."""


def ai_params(
    start: Any,
    end: Any,
    *,
    model: str | None = None,
    model_version: str | None = None,
    prompt_version: str | None = None,
) -> dict[str, Any]:
    """Query parameters for ``[start, end)`` and the optional model / version filters."""
    params: dict[str, Any] = dict(DateRange.of(start, end).params())
    for name, value in (
        ("model", model),
        ("model_version", model_version),
        ("prompt_version", prompt_version),
    ):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise QueryParameterError(f"{name} must be a non-empty string or None, not {value!r}")
        params[name] = value
    return params


def check_grain(grain: str) -> str:
    """``grain`` if it is one of :data:`GRAINS`, else a QueryParameterError naming them."""
    if grain not in GRAINS:
        raise QueryParameterError(f"grain must be one of {', '.join(GRAINS)}, not {grain!r}")
    return grain
