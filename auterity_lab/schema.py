"""The canonical data model: every table of the three systems and the workbench's own tables.

One source of truth for names, columns, types (Arrow, DuckDB, Postgres), primary keys and the
partition column. The Postgres DDL in ``queries/postgres/`` is checked against it by a test.

Columns with ``json_source`` exist only in the extracts: typed copies of a key inside a JSON
column (``user_sessions.device`` is ``device_info->>'device'``), so analytics never parses JSON
at query time.

Examples
--------
>>> t = table("user_sessions")
>>> t.system, t.primary_key, t.partition_column
('auterity', ('id',), 'created_at')
>>> table("prompt_outputs").column("user_rating").duckdb_type
'DECIMAL(3,2)'
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import pyarrow as pa

from auterity_lab.errors import SchemaError

SYSTEMS: tuple[str, ...] = ("auterity", "neuroweaver", "relaycore")

_NUMERIC = re.compile(r"numeric\((\d+),(\d+)\)")

# logical kind -> (DuckDB type, Postgres type)
_KINDS: dict[str, tuple[str, str]] = {
    "uuid": ("UUID", "uuid"),
    "text": ("VARCHAR", "text"),
    "smallint": ("SMALLINT", "smallint"),
    "int": ("INTEGER", "integer"),
    "bigint": ("BIGINT", "bigint"),
    "double": ("DOUBLE", "double precision"),
    "bool": ("BOOLEAN", "boolean"),
    "timestamptz": ("TIMESTAMP WITH TIME ZONE", "timestamptz"),
    "date": ("DATE", "date"),
    "jsonb": ("JSON", "jsonb"),
}


@dataclass(frozen=True)
class Column:
    """One column: its name, logical kind and where it comes from.

    ``kind`` is one of ``uuid text smallint int bigint double bool timestamptz date jsonb`` or
    ``numeric(P,S)``; ``pg_type`` overrides the Postgres spelling (``varchar(64)``).
    """

    name: str
    kind: str
    nullable: bool = True
    pg_type: str | None = None
    json_source: tuple[str, str] | None = None  # (json column, key): extract-only typed copy
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind not in _KINDS and not _NUMERIC.fullmatch(self.kind):
            raise SchemaError(f"column {self.name!r}: unknown kind {self.kind!r}")

    @property
    def duckdb_type(self) -> str:
        """DuckDB type name, e.g. ``DECIMAL(3,2)``."""
        if m := _NUMERIC.fullmatch(self.kind):
            return f"DECIMAL({m[1]},{m[2]})"
        return _KINDS[self.kind][0]

    @property
    def postgres_type(self) -> str:
        """Postgres type as written in the DDL."""
        if self.pg_type:
            return self.pg_type
        if _NUMERIC.fullmatch(self.kind):
            return self.kind
        return _KINDS[self.kind][1]

    @property
    def arrow_type(self) -> pa.DataType:
        """Arrow type of the column in the Parquet extracts."""
        if m := _NUMERIC.fullmatch(self.kind):
            return pa.decimal128(int(m[1]), int(m[2]))
        return {
            "uuid": pa.uuid(),
            "text": pa.string(),
            "smallint": pa.int16(),
            "int": pa.int32(),
            "bigint": pa.int64(),
            "double": pa.float64(),
            "bool": pa.bool_(),
            "timestamptz": pa.timestamp("us", tz="UTC"),
            "date": pa.date32(),
            "jsonb": pa.string(),
        }[self.kind]

    @property
    def in_source(self) -> bool:
        """True for columns that exist in the Postgres source (not extract-only)."""
        return self.json_source is None


@dataclass(frozen=True)
class Table:
    """A table of one system: its columns, key and the timestamp that partitions it by day."""

    system: str
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ("id",)
    partition_column: str | None = "created_at"
    watermark_column: str | None = "created_at"
    description: str = ""
    derived: bool = False
    _by_name: dict[str, Column] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise SchemaError(f"table {self.name!r} repeats a column name")
        for needed in (*self.primary_key, self.partition_column, self.watermark_column):
            if needed is not None and needed not in names:
                raise SchemaError(f"table {self.name!r} has no column {needed!r}")
        self._by_name.update({c.name: c for c in self.columns})

    @property
    def qualified_name(self) -> str:
        """``system.table``, as the manifest keys it."""
        return f"{self.system}.{self.name}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def source_columns(self) -> tuple[Column, ...]:
        """Columns present in the Postgres source."""
        return tuple(c for c in self.columns if c.in_source)

    def column(self, name: str) -> Column | None:
        """The column called ``name``, or None."""
        return self._by_name.get(name)

    def arrow_schema(self) -> pa.Schema:
        """Arrow schema of the extract files (without the hive partition column)."""
        return pa.schema(
            [pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.columns]
        )

    def fingerprint(self) -> str:
        """Short hash of column names and types: changes whenever the extract schema changes."""
        text = ";".join(f"{c.name}:{c.duckdb_type}" for c in self.columns)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _c(name: str, kind: str, **kw: object) -> Column:
    return Column(name, kind, **kw)  # type: ignore[arg-type]


_ID = _c("id", "uuid", nullable=False)
_TENANT = _c("tenant_id", "text", nullable=False, pg_type="varchar(64)")
_CREATED = _c("created_at", "timestamptz", nullable=False)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        # ---------------------------------------------------------------- Auterity
        Table(
            "auterity",
            "users",
            (
                _ID,
                _TENANT,
                _c("email", "text", pg_type="varchar(255)", description="PII; masked at extract"),
                _c("country", "text", pg_type="varchar(2)", description="ISO 3166 alpha-2"),
                _c("device", "text", pg_type="varchar(20)", description="desktop|mobile|tablet"),
                _c("plan", "text", pg_type="varchar(20)", description="free|pro|team"),
                _c("acquisition_channel", "text", pg_type="varchar(30)"),
                _c("analytics_consent", "bool", nullable=False),
                _CREATED,
            ),
            description="One row per user account (added to the spec).",
        ),
        Table(
            "auterity",
            "user_sessions",
            (
                _ID,
                _TENANT,
                _c("user_id", "uuid"),
                _c("session_id", "text", pg_type="varchar(255)"),
                _c("start_time", "timestamptz"),
                _c("end_time", "timestamptz"),
                _c("duration", "int", description="seconds"),
                _c("page_views", "int"),
                _c("events", "jsonb", description="{event_count, conversions, conversion_rate}"),
                _c("device_info", "jsonb", description="{device, os, browser}"),
                _c("location_info", "jsonb", description="{country, city}"),
                _CREATED,
                _c("conversion_rate", "double", json_source=("events", "conversion_rate")),
                _c("device", "text", json_source=("device_info", "device")),
                _c("country", "text", json_source=("location_info", "country")),
            ),
            description="Spec §4.1 user_sessions plus tenant_id.",
        ),
        Table(
            "auterity",
            "events",
            (
                _ID,
                _TENANT,
                _c("user_id", "uuid"),
                _c("session_id", "text", pg_type="varchar(255)"),
                _c("event_type", "text", nullable=False, pg_type="varchar(64)"),
                _c("properties", "jsonb"),
                _c("revenue", "numeric(12,2)", description="USD; NULL when none"),
                _CREATED,
            ),
            description="Business events (spec trackEvent): signup, activate, subscribe, ...",
        ),
        Table(
            "auterity",
            "performance_metrics",
            (
                _ID,
                _TENANT,
                _c("service", "text", nullable=False, pg_type="varchar(64)"),
                _c("endpoint", "text", nullable=False, pg_type="varchar(255)"),
                _c("method", "text", nullable=False, pg_type="varchar(10)"),
                _c("response_time_ms", "int", nullable=False),
                _c("status_code", "smallint", nullable=False),
                _c("user_agent", "text"),
                _c("ip_address", "text", pg_type="varchar(45)", description="PII; masked"),
                _c("user_id", "uuid"),
                _c("error_message", "text"),
                _CREATED,
            ),
            description="Spec SystemMetrics / trackPerformanceMetric.",
        ),
        # ------------------------------------------------------------- Neuroweaver
        Table(
            "neuroweaver",
            "prompt_outputs",
            (
                _ID,
                _TENANT,
                _c("user_id", "uuid"),
                _c("prompt_hash", "text", pg_type="varchar(64)"),
                _c("prompt", "text"),
                _c("output", "text"),
                _c("model_id", "text", pg_type="varchar(100)"),
                _c("model_version", "text", pg_type="varchar(50)"),
                _c("prompt_version", "text", pg_type="varchar(50)"),
                _c("tokens_used", "int"),
                _c("input_tokens", "int"),
                _c("output_tokens", "int"),
                _c("response_time_ms", "int"),
                _c("status", "text", nullable=False, pg_type="varchar(20)"),
                _c("error", "text"),
                _c("user_rating", "numeric(3,2)"),
                _c("user_feedback", "text"),
                _CREATED,
            ),
            description="Spec §4.1 prompt_outputs plus tenant, user, prompt version, token split.",
        ),
        Table(
            "neuroweaver",
            "feedback",
            (
                _ID,
                _TENANT,
                _c("prompt_output_id", "uuid", nullable=False),
                _c("user_id", "uuid"),
                _c("rating", "smallint", nullable=False, description="1..5"),
                _c("comment", "text"),
                _CREATED,
            ),
            description="Spec submitFeedback: one row per rating given.",
        ),
        Table(
            "neuroweaver",
            "experiments",
            (
                _ID,
                _TENANT,
                _c("experiment_key", "text", nullable=False, pg_type="varchar(100)"),
                _c("name", "text"),
                _c("status", "text", nullable=False, pg_type="varchar(20)"),
                _c("variants", "jsonb", description='[{"name": "control", "allocation": 50}, ...]'),
                _c("primary_metric", "text", pg_type="varchar(64)"),
                _c("started_at", "timestamptz"),
                _c("ended_at", "timestamptz"),
                _CREATED,
            ),
            description="A/B tests (spec startModelTuning, feature-flag rollouts).",
        ),
        Table(
            "neuroweaver",
            "experiment_assignments",
            (
                _ID,
                _TENANT,
                _c("experiment_id", "uuid", nullable=False),
                _c("user_id", "uuid", nullable=False),
                _c("variant", "text", nullable=False, pg_type="varchar(50)"),
                _CREATED,
            ),
            description="Which variant each user saw (first exposure).",
        ),
        # -------------------------------------------------------------- RelayCore
        Table(
            "relaycore",
            "workflow_runs",
            (
                _ID,
                _TENANT,
                _c("workflow_id", "text", nullable=False, pg_type="varchar(100)"),
                _c("status", "text", nullable=False, pg_type="varchar(20)"),
                _c(
                    "trigger",
                    "text",
                    pg_type="varchar(20)",
                    description="schedule|api|manual|event",
                ),
                _c("started_at", "timestamptz", nullable=False),
                _c("finished_at", "timestamptz"),
                _c("duration_ms", "bigint"),
                _c("error", "text"),
                _CREATED,
            ),
            description="One row per workflow run: success | failed | cancelled.",
        ),
        Table(
            "relaycore",
            "workflow_steps",
            (
                _ID,
                _TENANT,
                _c("run_id", "uuid", nullable=False),
                _c("step_index", "smallint", nullable=False),
                _c("step_name", "text", nullable=False, pg_type="varchar(100)"),
                _c("step_type", "text", nullable=False, pg_type="varchar(20)"),
                _c("attempt", "smallint", nullable=False, description="1 for the first try"),
                _c("status", "text", nullable=False, pg_type="varchar(20)"),
                _c("started_at", "timestamptz"),
                _c("duration_ms", "bigint"),
                _c("error", "text"),
                _c("prompt_output_id", "uuid", description="the AI call this step made"),
                _CREATED,
            ),
            description="One row per step attempt; AI steps link to prompt_outputs.",
        ),
        # ----------------------------------------------------- derived (workbench state)
        Table(
            "derived",
            "system_correlations",
            (
                _ID,
                _TENANT,
                _c("correlation_type", "text", pg_type="varchar(50)"),
                _c("systems", "jsonb"),
                _c("correlation_value", "numeric(5,4)"),
                _c("confidence", "numeric(5,4)"),
                _c("business_value", "numeric(10,2)"),
                _c("metadata", "jsonb", description="evidence: n, p, q, CI, lag, method"),
                _c("calculated_at", "timestamptz", nullable=False),
            ),
            partition_column=None,
            watermark_column="calculated_at",
            derived=True,
            description="Spec §4.1 system_correlations plus tenant_id.",
        ),
        Table(
            "derived",
            "unified_insights",
            (
                _ID,
                _TENANT,
                _c("insight_key", "text", nullable=False, description="stable key: re-runs update"),
                _c("insight_type", "text", pg_type="varchar(50)"),
                _c("title", "text", pg_type="varchar(255)"),
                _c("description", "text"),
                _c("severity", "text", pg_type="varchar(20)"),
                _c("affected_systems", "jsonb"),
                _c("metrics", "jsonb"),
                _c("recommendations", "jsonb"),
                _c("status", "text", nullable=False, pg_type="varchar(20)"),
                _CREATED,
                _c("updated_at", "timestamptz"),
            ),
            partition_column=None,
            derived=True,
            description=(
                "Spec §4.1 unified_insights; status active→acknowledged→resolved|dismissed."
            ),
        ),
        Table(
            "derived",
            "report_runs",
            (
                _c("run_id", "text", nullable=False),
                _TENANT,
                _c("report", "text", nullable=False),
                _c("parameters", "jsonb"),
                _c("manifest_fingerprint", "text"),
                _c("package_version", "text"),
                _c("status", "text", nullable=False),
                _c("error", "text"),
                _c("started_at", "timestamptz", nullable=False),
                _c("duration_s", "double"),
            ),
            primary_key=("run_id",),
            partition_column=None,
            watermark_column="started_at",
            derived=True,
            description="One row per report run (parameters, data version, outcome).",
        ),
        Table(
            "derived",
            "alert_state",
            (
                _c("rule_id", "text", nullable=False),
                _TENANT,
                _c("last_triggered_at", "timestamptz"),
                _c("trigger_count", "int", nullable=False),
                _c("status", "text", nullable=False),
                _c("updated_at", "timestamptz", nullable=False),
            ),
            primary_key=("rule_id", "tenant_id"),
            partition_column=None,
            watermark_column="updated_at",
            derived=True,
            description="Per rule and tenant: cooldown bookkeeping and acknowledgement.",
        ),
    )
}

PARTITION_FIELD = "date"
"""Name of the hive partition directory key: ``date=YYYY-MM-DD`` (UTC day)."""


def table(name: str) -> Table:
    """The table called ``name`` (bare, e.g. ``users``, or qualified, ``auterity.users``).

    Examples
    --------
    >>> table("auterity.users").name
    'users'
    """
    bare = name.split(".", 1)[1] if "." in name else name
    try:
        found = TABLES[bare]
    except KeyError:
        raise SchemaError(f"unknown table {name!r}; known: {', '.join(sorted(TABLES))}") from None
    if "." in name and name.split(".", 1)[0] != found.system:
        raise SchemaError(f"table {bare!r} belongs to {found.system!r}, not {name.split('.')[0]!r}")
    return found


def source_tables(system: str | None = None) -> list[Table]:
    """Tables extracted from the source systems (optionally one system's), in model order.

    Examples
    --------
    >>> [t.name for t in source_tables("relaycore")]
    ['workflow_runs', 'workflow_steps']
    """
    if system is not None and system not in SYSTEMS:
        raise SchemaError(f"unknown system {system!r}; known: {', '.join(SYSTEMS)}")
    return [t for t in TABLES.values() if not t.derived and system in (None, t.system)]


def derived_tables() -> list[Table]:
    """The workbench's own tables (correlations, insights, report runs, alert state)."""
    return [t for t in TABLES.values() if t.derived]
