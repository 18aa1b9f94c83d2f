"""SQL files in ``queries/``: one query per file, a header that declares its parameters.

Header format (leading ``--`` comment lines)::

    -- purpose: what the query answers
    -- grain: one row per ...
    -- param: start TIMESTAMPTZ            inclusive start of the range (UTC)
    -- param: device VARCHAR = NULL        optional filter; NULL means all
    -- columns: date DATE, unique_users BIGINT, ...

Parameters are bound by DuckDB (``$start``); values are never formatted into SQL text.

Examples
--------
>>> q = load_query("daily_user_analytics")
>>> [p.name for p in q.params]
['start', 'end']
>>> q.bind({"start": "2026-01-01", "end": "2026-02-01"})["start"].isoformat()
'2026-01-01T00:00:00+00:00'
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auterity_lab.config import packaged_dir
from auterity_lab.errors import QueryNotFoundError, QueryParameterError

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_PARAM_LINE = re.compile(
    r"--\s*param:\s*(?P<name>[a-z_][a-z0-9_]*)\s+(?P<type>[A-Z]+(?:\[\])?)"
    r"(?:\s*=\s*(?P<default>\S+))?\s*(?P<doc>.*)"
)
_PLACEHOLDER = re.compile(r"(?<![\w$])\$([A-Za-z_][A-Za-z0-9_]*)")
_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")
_COMMENT = re.compile(r"--[^\n]*")
EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
"""Earliest date or time a parameter may hold (inclusive)."""
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
"""Latest date or time a parameter may hold (exclusive): pandas and the date spines of the
queries stay fast and exact well inside it."""
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
SUPPORTED_TYPES = ("TIMESTAMPTZ", "DATE", "VARCHAR", "VARCHAR[]", "INTEGER", "DOUBLE", "BOOLEAN")
_MISSING = object()


def queries_root() -> Path:
    """Folder of the SQL files: inside the installed package, else the repository's ``queries/``."""
    return packaged_dir("queries")


@dataclass(frozen=True)
class Param:
    """A declared query parameter."""

    name: str
    type: str
    default: Any = _MISSING
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is _MISSING


@dataclass(frozen=True)
class Query:
    """A parsed query file."""

    name: str
    sql: str
    purpose: str
    grain: str
    params: tuple[Param, ...]

    def bind(self, values: dict[str, Any]) -> dict[str, Any]:
        """Check names, fill defaults and coerce values to the declared types.

        Raises
        ------
        QueryParameterError
            A required parameter is missing, an unknown one is given, or a value has the wrong type.
        """
        declared = {p.name: p for p in self.params}
        extra = sorted(set(values) - set(declared))
        if extra:
            raise QueryParameterError(
                f"query {self.name!r} has no parameter {', '.join(map(repr, extra))}; "
                f"it takes: {', '.join(declared) or 'none'}"
            )
        missing = [p.name for p in self.params if p.required and p.name not in values]
        if missing:
            raise QueryParameterError(
                f"query {self.name!r} needs parameter {', '.join(map(repr, missing))}"
            )
        bound = {}
        for p in self.params:
            value = values.get(p.name, None if p.required else p.default)
            bound[p.name] = coerce(value, p.type, f"{self.name}.{p.name}")
        return bound


def list_queries() -> list[str]:
    """Names of all analytics queries (files directly under ``queries/``).

    Examples
    --------
    >>> "hourly_ai_performance" in list_queries()
    True
    """
    return sorted(p.stem for p in queries_root().glob("*.sql"))


def load_query(name: str) -> Query:
    """Read and parse ``queries/<name>.sql``.

    Raises
    ------
    QueryNotFoundError
        No such query (the message lists close names).
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise QueryNotFoundError(f"{name!r} is not a query name (lowercase letters, digits, _)")
    path = queries_root() / f"{name}.sql"
    if not path.is_file():
        known = list_queries()
        close = [k for k in known if name in k or k in name][:5]
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(known)}"
        raise QueryNotFoundError(f"no query named {name!r}{hint}")
    return parse_query(name, path.read_text(encoding="utf-8"))


def parse_query(name: str, text: str) -> Query:
    """Parse a query's header and check that it declares exactly the ``$names`` it uses.

    Raises
    ------
    QueryParameterError
        ``name`` or ``text`` is not text, a parameter has an unsupported type, or the header
        and the SQL disagree on the parameters.
    """
    if not isinstance(name, str) or not isinstance(text, str):
        raise QueryParameterError(
            f"a query needs a text name and SQL text, not {type(name).__name__} and "
            f"{type(text).__name__}"
        )
    purpose = grain = ""
    params: list[Param] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("--"):
            if stripped:
                break
            continue
        if m := _PARAM_LINE.match(stripped):
            if m["type"] not in SUPPORTED_TYPES:
                raise QueryParameterError(f"query {name!r}: unsupported parameter type {m['type']}")
            default = _MISSING if m["default"] is None else _parse_default(m["default"])
            params.append(Param(m["name"], m["type"], default, m["doc"].strip()))
        elif stripped.startswith("-- purpose:"):
            purpose = stripped.split(":", 1)[1].strip()
        elif stripped.startswith("-- grain:"):
            grain = stripped.split(":", 1)[1].strip()
    used = placeholders(text)
    declared = {p.name for p in params}
    if used != declared:
        raise QueryParameterError(
            f"query {name!r}: header declares {sorted(declared)} but the SQL uses {sorted(used)}"
        )
    return Query(name, text, purpose, grain, tuple(params))


def placeholders(sql: str) -> set[str]:
    """Names of ``$name`` placeholders in SQL, ignoring comments and string literals.

    Examples
    --------
    >>> sorted(placeholders("SELECT $a, '$not' FROM t WHERE x = $b -- $nor"))
    ['a', 'b']
    """
    if not isinstance(sql, str):
        raise QueryParameterError(f"SQL must be text, not {type(sql).__name__}")
    return set(_PLACEHOLDER.findall(_STRING_LITERAL.sub("''", _COMMENT.sub("", sql))))


def _parse_default(text: str) -> Any:
    if text.upper() == "NULL":
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text.strip("'")


def coerce(value: Any, type_: str, label: str) -> Any:
    """Convert a user value (often a string from the CLI) to the declared type.

    Naive datetimes and dates are taken as UTC. Dates must lie in
    [:data:`EARLIEST`, :data:`LATEST`), integers fit DuckDB's ``INTEGER`` (32 bits), numbers are
    finite and text holds no NUL character; anything else raises :class:`QueryParameterError`
    naming the parameter.

    Examples
    --------
    >>> coerce("2026-03-01", "TIMESTAMPTZ", "x").isoformat()
    '2026-03-01T00:00:00+00:00'
    >>> coerce("3", "INTEGER", "x")
    3
    >>> coerce("9999-12-31", "DATE", "end")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auterity_lab.errors.QueryParameterError: parameter end: '9999-12-31' is not a valid DATE ...
    """
    if value is None:
        return None
    try:
        if type_ in ("TIMESTAMPTZ", "DATE"):
            is_day = isinstance(value, dt.date) and not isinstance(value, dt.datetime)
            if type_ == "DATE" and is_day:
                _check_in_range(dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC))
                return value
            stamp = _check_in_range(to_utc(value))
            return stamp if type_ == "TIMESTAMPTZ" else stamp.date()
        if type_ == "INTEGER":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError("not an integer")
            number = int(value)
            if not _INT_MIN <= number <= _INT_MAX:
                raise ValueError(f"outside the 32-bit integer range [{_INT_MIN}, {_INT_MAX}]")
            return number
        if type_ == "DOUBLE":
            if isinstance(value, bool):
                raise ValueError("not a number")
            number = float(value)
            if not math.isfinite(number):
                raise ValueError("not a finite number")
            return number
        if type_ == "BOOLEAN":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "1", "yes"):
                return True
            if str(value).lower() in ("false", "0", "no"):
                return False
            raise ValueError("not a boolean")
        if type_ == "VARCHAR[]":
            items = value.split(",") if isinstance(value, str) else list(value)
            return [_text(v).strip() for v in items]
        return _text(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise QueryParameterError(
            f"parameter {label}: {_show(value)} is not a valid {type_} ({exc})"
        ) from exc


def _text(value: Any) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError(f"expected text, got {type(value).__name__}")
    text = str(value)
    if "\x00" in text:
        raise ValueError("text holds a NUL character")
    return text


def _check_in_range(value: dt.datetime) -> dt.datetime:
    if not EARLIEST <= value < LATEST:
        raise ValueError(
            f"outside the supported range {EARLIEST.date().isoformat()} .. "
            f"{LATEST.date().isoformat()}"
        )
    return value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def to_utc(value: Any) -> dt.datetime:
    """A tz-aware UTC datetime from a datetime, date or ISO string (naive means UTC).

    Raises
    ------
    QueryParameterError
        Another type, unparseable text, a missing value (``NaT``) or a time that cannot be
        expressed in UTC.

    Examples
    --------
    >>> to_utc("2026-10-01T02:00:00+02:00").isoformat()
    '2026-10-01T00:00:00+00:00'
    """
    try:
        return _to_utc(value)
    except QueryParameterError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        raise QueryParameterError(f"{_show(value)} is not a date or time ({exc})") from exc


def _to_utc(value: Any) -> dt.datetime:
    if value != value:  # NaN, NaT
        raise ValueError("not a point in time")
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    elif not isinstance(value, dt.datetime):
        if type(value).__name__ == "datetime64":  # numpy, without importing it
            value = value.astype("datetime64[us]").item()
        elif hasattr(value, "to_pydatetime"):
            value = value.to_pydatetime()
        else:
            raise TypeError(f"expected a date or datetime, got {type(value).__name__}")
        if not isinstance(value, dt.datetime):  # NaT, or a datetime64 out of range
            raise ValueError("not a point in time")
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)
