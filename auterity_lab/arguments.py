"""Checks of function arguments: a bad argument is a :class:`QueryParameterError` naming it,
never an error from deep inside numpy or pandas, and never an allocation sized by the argument.

Examples
--------
>>> numbers([1, 2.5]).tolist()
[1.0, 2.5]
>>> check_count("period", 7, minimum=2)
7
>>> check_share("alpha", 0.05)
0.05
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


def check_count(name: str, value: Any, *, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` if it is an integer in ``[minimum, maximum]`` (no upper bound when None).

    Examples
    --------
    >>> check_count("lag", 10**6, maximum=40)
    Traceback (most recent call last):
    ...
    auterity_lab.errors.QueryParameterError: lag must be an integer in [1, 40], not 1000000
    """
    whole = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if not whole or value < minimum or (maximum is not None and value > maximum):
        bounds = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise QueryParameterError(f"{name} must be an integer {bounds}, not {value!r}")
    return int(value)


def check_share(
    name: str, value: Any, *, low: float = 0.0, high: float = 1.0, closed: bool = False
) -> float:
    """``value`` if it is a number in ``(low, high)`` (a confidence, an alpha, a power), or in
    ``[low, high]`` when ``closed``.

    Examples
    --------
    >>> check_share("alpha", "0.05", low=0, high=1)
    Traceback (most recent call last):
    ...
    auterity_lab.errors.QueryParameterError: alpha must be a number in (0, 1), not '0.05'
    """
    real = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    if not real or not (low <= value <= high if closed else low < value < high):
        bounds = f"[{low}, {high}]" if closed else f"({low}, {high})"
        raise QueryParameterError(f"{name} must be a number in {bounds}, not {value!r}")
    return float(value)


def check_positive(name: str, value: Any) -> float:
    """``value`` if it is a number > 0 (a margin, a threshold).

    Examples
    --------
    >>> check_positive("margin", 0.1)
    0.1
    """
    real = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    if not real or not value > 0:
        raise QueryParameterError(f"{name} must be a number > 0, not {value!r}")
    return float(value)
