"""The Postgres DDL in queries/postgres/ agrees with the canonical model in schema.py."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest

from auterity_lab.config import packaged_dir
from auterity_lab.errors import SchemaError
from auterity_lab.schema import TABLES, Column, source_tables, table

_CREATE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\);", re.S)

# The spec's four tables (§4.1), column by column, typed as the spec writes them (timestamps
# become timestamptz by DESIGN.md). Written out here, not read from schema.py.
SPEC_COLUMNS = {
    "user_sessions": {
        "id": "uuid",
        "user_id": "uuid",
        "session_id": "varchar(255)",
        "start_time": "timestamptz",
        "end_time": "timestamptz",
        "duration": "integer",
        "page_views": "integer",
        "events": "jsonb",
        "device_info": "jsonb",
        "location_info": "jsonb",
        "created_at": "timestamptz",
    },
    "prompt_outputs": {
        "id": "uuid",
        "prompt_hash": "varchar(64)",
        "prompt": "text",
        "output": "text",
        "model_id": "varchar(100)",
        "model_version": "varchar(50)",
        "tokens_used": "integer",
        "response_time_ms": "integer",
        "user_rating": "numeric(3,2)",
        "user_feedback": "text",
        "created_at": "timestamptz",
    },
    "system_correlations": {
        "id": "uuid",
        "correlation_type": "varchar(50)",
        "systems": "jsonb",
        "correlation_value": "numeric(5,4)",
        "confidence": "numeric(5,4)",
        "business_value": "numeric(10,2)",
        "metadata": "jsonb",
        "calculated_at": "timestamptz",
    },
    "unified_insights": {
        "id": "uuid",
        "insight_type": "varchar(50)",
        "title": "varchar(255)",
        "description": "text",
        "severity": "varchar(20)",
        "affected_systems": "jsonb",
        "metrics": "jsonb",
        "recommendations": "jsonb",
        "status": "varchar(20)",
        "created_at": "timestamptz",
    },
}
SPEC_INDEXES = [
    "idx_user_sessions_user_id ON user_sessions(user_id)",
    "idx_user_sessions_created_at ON user_sessions(created_at)",
    "idx_prompt_outputs_model_id ON prompt_outputs(model_id)",
    "idx_prompt_outputs_created_at ON prompt_outputs(created_at)",
    "idx_system_correlations_type ON system_correlations(correlation_type)",
    "idx_unified_insights_type ON unified_insights(insight_type)",
    "idx_unified_insights_status ON unified_insights(status)",
    "idx_user_sessions_time_range ON user_sessions(start_time, end_time)",
]


def _ddl() -> tuple[dict[str, tuple[str, list[tuple[str, str, bool]], list[str]]], str]:
    tables = {}
    text_all = ""
    for path in sorted((packaged_dir("queries") / "postgres").glob("*.sql")):
        text = path.read_text()
        text_all += text
        for name, body in _CREATE.findall(text):
            cols, pk = [], []
            for line in body.strip().splitlines():
                line = line.strip().rstrip(",")
                if line.startswith("PRIMARY KEY"):
                    pk = [c.strip() for c in line[line.index("(") + 1 : line.index(")")].split(",")]
                    continue
                col, rest = line.split(" ", 1)
                pg_type = re.split(r" NOT NULL| DEFAULT", rest)[0].strip()
                cols.append((col, pg_type, "NOT NULL" in rest))
            tables[name] = (path.stem, cols, pk)
    return tables, text_all


def test_every_table_has_ddl_matching_the_model() -> None:
    ddl, _ = _ddl()
    assert set(ddl) == set(TABLES)
    for name, (system, cols, pk) in ddl.items():
        t = TABLES[name]
        assert system == t.system, name
        expected = [
            (c.name, c.postgres_type, not c.nullable and c.name not in t.primary_key)
            for c in t.source_columns
        ]
        assert cols == expected, name
        assert tuple(pk) == t.primary_key, name


def test_spec_tables_keep_their_columns_and_indexes() -> None:
    ddl, text = _ddl()
    for name, spec_cols in SPEC_COLUMNS.items():
        cols = {c: pg for c, pg, _ in ddl[name][1]}
        for col, pg_type in spec_cols.items():
            assert cols.get(col) == pg_type, f"{name}.{col}"
        assert "tenant_id" in cols
    for index in SPEC_INDEXES:
        assert index.split(" ON ")[0] in text and index.split(" ON ")[1] in text.replace(
            "\n    ", " "
        )


def test_json_copies_point_at_json_columns() -> None:
    for t in TABLES.values():
        for c in t.columns:
            if c.json_source:
                src = t.column(c.json_source[0])
                assert src is not None and src.kind == "jsonb", f"{t.name}.{c.name}"


def test_types_map_consistently() -> None:
    rating = table("prompt_outputs").column("user_rating")
    assert (rating.duckdb_type, rating.postgres_type, rating.arrow_type) == (
        "DECIMAL(3,2)",
        "numeric(3,2)",
        pa.decimal128(3, 2),
    )
    ts = table("users").column("created_at")
    assert (
        ts.arrow_type == pa.timestamp("us", tz="UTC")
        and ts.duckdb_type == "TIMESTAMP WITH TIME ZONE"
    )
    assert table("users").arrow_schema().names == list(table("users").column_names)


def test_lookup_errors_name_the_problem() -> None:
    with pytest.raises(SchemaError, match="unknown table 'nope'"):
        table("nope")
    with pytest.raises(SchemaError, match="belongs to 'auterity'"):
        table("relaycore.users")
    with pytest.raises(SchemaError, match="unknown kind"):
        Column("x", "money")
    assert [t.system for t in source_tables()].count("auterity") == 4


def test_fingerprint_changes_with_schema() -> None:
    fps = {t.fingerprint() for t in TABLES.values()}
    assert len(fps) == len(TABLES)
