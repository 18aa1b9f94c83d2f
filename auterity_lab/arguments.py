"""Checks of the arguments of the numeric kernels (:mod:`auterity_lab.stats`,
:mod:`auterity_lab.insights`): a bad argument is a :class:`QueryParameterError` naming it,
never an error from deep inside numpy, and never an allocation sized by the argument.

Examples
--------
>>> numbers([1, 2.5]).tolist()
[1.0, 2.5]
>>> whole_number(7, "period", low=2)
7
"""

from __future__ import annotations

from typing import Any

import numpy as np

from auterity_lab.errors import QueryParameterError


def numbers(values: Any, name: str = "values") -> np.ndarray:
    """``values`` as a one-dimensional float array.

    Examples
    --------
    >>> numbers(0)
    Traceback (most recent call last):
    ...
    auterity_lab.errors.QueryParameterError: values must be a sequence of numbers, not a int
    """
    try:
        x = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise QueryParameterError(
            f"{name} must be a sequence of numbers, not {type(values).__name__}: {exc}"
        ) from exc
    if x.ndim != 1:
        raise QueryParameterError(
            f"{name} must be a sequence of numbers, not a {type(values).__name__}"
            if x.ndim == 0
            else f"{name} must be one-dimensional, not of shape {x.shape}"
        )
    return x


def whole_number(value: Any, name: str, *, low: int = 1, high: int | None = None) -> int:
    """``value`` when it is an integer in ``[low, high]`` (no upper bound when ``high`` is None).

    Examples
    --------
    >>> whole_number(10**6, "lag", high=40)
    Traceback (most recent call last):
    ...
    auterity_lab.errors.QueryParameterError: lag must be an integer in [1, 40], not 1000000
    """
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise QueryParameterError(f"{name} must be an integer {bounds}, not {value!r}")
    return int(value)


def number_in(value: Any, name: str, low: float, high: float, *, closed: bool = False) -> float:
    """``value`` when it is a real number in ``(low, high)`` (``[low, high]`` when ``closed``).

    Examples
    --------
    >>> number_in(0.05, "alpha", 0, 1)
    0.05
    >>> number_in("0.05", "alpha", 0, 1)
    Traceback (most recent call last):
    ...
    auterity_lab.errors.QueryParameterError: alpha must be a number in (0, 1), not '0.05'
    """
    real = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    inside = real and (low <= value <= high if closed else low < value < high)
    if not inside:
        bounds = f"[{low}, {high}]" if closed else f"({low}, {high})"
        raise QueryParameterError(f"{name} must be a number in {bounds}, not {value!r}")
    return float(value)
