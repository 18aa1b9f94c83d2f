"""Query files: headers parse, declared parameters match the SQL, values coerce or fail clearly."""

from __future__ import annotations

import datetime as dt

import pytest

from auterity_lab.errors import QueryParameterError
from auterity_lab.queries import coerce, list_queries, load_query, parse_query, placeholders


@pytest.mark.parametrize("name", list_queries())
def test_every_query_file_has_a_header(name: str) -> None:
    q = load_query(name)
    assert q.purpose and q.grain, f"{name}: header needs purpose and grain"
    assert "columns:" in q.sql, f"{name}: header should document its columns"


def test_header_must_declare_exactly_what_the_sql_uses() -> None:
    with pytest.raises(QueryParameterError, match=r"declares \['a'\] but the SQL uses \['b'\]"):
        parse_query("x", "-- param: a INTEGER\nSELECT $b")
    with pytest.raises(QueryParameterError, match="unsupported parameter type"):
        parse_query("x", "-- param: a MONEY\nSELECT $a")


def test_placeholders_ignore_strings_and_comments() -> None:
    sql = "SELECT '$not' AS a, $yes -- $no\n, x FROM t WHERE y = $also"
    assert placeholders(sql) == {"yes", "also"}


def test_defaults_and_optional_parameters() -> None:
    q = parse_query("x", "-- param: a INTEGER = 3\n-- param: b VARCHAR = NULL\nSELECT $a, $b")
    assert q.bind({}) == {"a": 3, "b": None}
    assert q.bind({"a": "5", "b": "x"}) == {"a": 5, "b": "x"}


@pytest.mark.parametrize(
    ("value", "type_", "expected"),
    [
        ("2026-03-01", "TIMESTAMPTZ", dt.datetime(2026, 3, 1, tzinfo=dt.UTC)),
        ("2026-03-01T05:00:00+02:00", "TIMESTAMPTZ", dt.datetime(2026, 3, 1, 3, tzinfo=dt.UTC)),
        (dt.date(2026, 3, 1), "DATE", dt.date(2026, 3, 1)),
        ("2026-03-01T23:00:00", "DATE", dt.date(2026, 3, 1)),
        ("7", "INTEGER", 7),
        ("0.5", "DOUBLE", 0.5),
        ("yes", "BOOLEAN", True),
        ("a, b", "VARCHAR[]", ["a", "b"]),
        (None, "INTEGER", None),
    ],
)
def test_coerce(value: object, type_: str, expected: object) -> None:
    assert coerce(value, type_, "p") == expected


@pytest.mark.parametrize(
    ("value", "type_"),
    [("tomorrow", "TIMESTAMPTZ"), ("1.5", "INTEGER"), (True, "INTEGER"), ("maybe", "BOOLEAN"),
     ([1], "VARCHAR"), (2.5, "INTEGER")],
)
def test_coerce_rejects_with_the_parameter_name(value: object, type_: str) -> None:
    with pytest.raises(QueryParameterError, match="parameter q.p"):
        coerce(value, type_, "q.p")
