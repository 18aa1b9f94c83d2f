"""A damaged data directory: every kind of damage gets a clear error or a documented handling.

Each case damages a fresh copy of a tiny demo in one way (generated here, no binary fixtures)
and checks three things:

* ``Workbench.open(strict=True)`` refuses with an :class:`AuterityLabError` naming the table or
  file, or opens and every query over the damaged table raises :class:`QueryError` naming it;
* ``Workbench.open(strict=False)`` opens, lists the damaged table in ``wb.unavailable`` with the
  reason, and the intact tables still answer with the same rows as before the damage;
* opening and querying never change a byte of the data directory.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from auterity_lab.config import load_settings
from auterity_lab.errors import (
    AuterityLabError,
    DataNotFoundError,
    ManifestError,
    QueryError,
    UnknownTenantError,
)
from auterity_lab.manifest import read_manifest
from auterity_lab.synth import generate_demo
from auterity_lab.warehouse import Workbench
from tests.corpus import corpus_summary, diff_snapshots, snapshot, tally

__all__ = ["corpus_summary"]

DAMAGED = "relaycore.workflow_runs"
INTACT_COUNT = "SELECT count(*) AS n FROM user_sessions"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pristine") / "data"
    generate_demo(d, tenants=2, days=21, scale=0.01, seed=11)
    return d


@pytest.fixture
def copy(pristine: Path, tmp_path: Path) -> Path:
    d = tmp_path / "data"
    shutil.copytree(pristine, d)
    return d


def _first_file(d: Path, name: str = DAMAGED) -> Path:
    return d / read_manifest(d).tables[name].files[0].path


def _manifest(d: Path) -> dict:
    return json.loads((d / "manifest.json").read_text())


def _write_manifest(d: Path, body: dict) -> None:
    (d / "manifest.json").write_text(json.dumps(body))


def _rewrite(path: Path, change: Callable[[pa.Table], pa.Table]) -> None:
    pq.write_table(change(pq.read_table(path, partitioning=None)), path)


def _retype(column: str, arrow_type: pa.DataType) -> Callable[[pa.Table], pa.Table]:
    def change(t: pa.Table) -> pa.Table:
        i = t.schema.get_field_index(column)
        return t.set_column(i, column, t.column(column).cast(arrow_type))

    return change


def _invalid_utf8(column: str) -> Callable[[pa.Table], pa.Table]:
    """Put bytes that are not UTF-8 into a string column (as a writer that skips checks would)."""

    def change(t: pa.Table) -> pa.Table:
        raw = [b"\xff\xfe broken \xc3\x28"] * t.num_rows
        offsets = pa.array([i * len(raw[0]) for i in range(t.num_rows + 1)], pa.int32())
        data = pa.py_buffer(b"".join(raw))
        bad = pa.StringArray.from_buffers(t.num_rows, offsets.buffers()[1], data)
        i = t.schema.get_field_index(column)
        return t.set_column(i, column, bad)

    return change


# name → (damage, error the strict open raises or None when it opens, reason in unavailable)
FILE_DAMAGE: dict[str, tuple[Callable[[Path], None], type[Exception] | None, str]] = {
    "truncated_parquet": (
        lambda d: _first_file(d).write_bytes(_first_file(d).read_bytes()[:200]),
        ManifestError,
        "unreadable extract",
    ),
    "garbage_parquet": (
        lambda d: _first_file(d).write_bytes(b"\x00garbage" * 100),
        ManifestError,
        "unreadable extract",
    ),
    "zero_byte_parquet": (
        lambda d: _first_file(d).write_bytes(b""),
        ManifestError,
        "unreadable extract",
    ),
    "missing_file": (
        lambda d: _first_file(d).unlink(),
        DataNotFoundError,
        "extract files are missing",
    ),
    "manifest_lists_a_directory": (
        lambda d: _write_manifest(d, _point_first_file(_manifest(d), "extracts")),
        DataNotFoundError,
        "extract files are missing",
    ),
    "wrong_column_type": (
        lambda d: _rewrite(_first_file(d), _retype("duration_ms", pa.string())),
        None,
        "column duration_ms is VARCHAR",
    ),
    "timestamp_without_time_zone": (
        lambda d: [
            _rewrite(d / f.path, _retype("started_at", pa.timestamp("us")))
            for f in read_manifest(d).tables[DAMAGED].files
        ],
        None,
        "column started_at is TIMESTAMP,",
    ),
    "missing_column": (
        lambda d: _rewrite(_first_file(d), lambda t: t.drop_columns(["trigger"])),
        None,
        "column trigger missing",
    ),
    "stale_schema_fingerprint": (
        lambda d: _write_manifest(d, _set_entry(_manifest(d), schema_fingerprint="0" * 16)),
        None,
        "stale extract",
    ),
    "table_missing_from_manifest": (
        lambda d: _write_manifest(d, _drop_entry(_manifest(d))),
        None,
        "not in the manifest",
    ),
}


def _point_first_file(body: dict, path: str) -> dict:
    body["tables"][DAMAGED]["files"][0]["path"] = path
    return body


def _set_entry(body: dict, **fields: object) -> dict:
    body["tables"][DAMAGED].update(fields)
    return body


def _drop_entry(body: dict) -> dict:
    del body["tables"][DAMAGED]
    return body


@pytest.mark.usefixtures("corpus_summary")
@pytest.mark.parametrize("case", sorted(FILE_DAMAGE))
def test_damaged_table_is_named_and_the_rest_still_works(case: str, copy: Path) -> None:
    damage, strict_error, reason = FILE_DAMAGE[case]
    with Workbench.open(copy, tenant="acme") as wb:
        intact = wb.sql(INTACT_COUNT)["n"].iloc[0]
    damage(copy)
    before = snapshot(copy)
    tally("corrupt: damaged data directories")

    if strict_error is not None:
        with pytest.raises(strict_error, match="workflow_runs"):
            Workbench.open(copy, tenant="acme", strict=True)
    else:
        with Workbench.open(copy, tenant="acme", strict=True) as wb:
            if case not in ("missing_column", "table_missing_from_manifest"):
                # the strict workbench reads on: a query over the damaged table either
                # answers from what is there or fails naming the query, never a raw error
                with contextlib.suppress(QueryError):
                    wb.sql("SELECT sum(duration_ms) AS s, min(started_at) AS m FROM workflow_runs")
    with Workbench.open(copy, tenant="acme", strict=False) as wb:
        assert reason in wb.unavailable[DAMAGED], wb.unavailable
        assert set(wb.unavailable) == {DAMAGED}
        with pytest.raises(QueryError, match=f"{DAMAGED} is unavailable"):
            wb.sql("SELECT count(*) FROM workflow_runs")
        assert wb.sql(INTACT_COUNT)["n"].iloc[0] == intact
    assert not diff_snapshots(before, snapshot(copy))


def test_naive_timestamps_in_some_files_are_read_as_utc(copy: Path) -> None:
    """Documented handling: naive means UTC everywhere in the package, extracts included."""
    with Workbench.open(copy, tenant="acme") as wb:
        expected = wb.sql("SELECT id, started_at FROM workflow_runs ORDER BY id")
    _rewrite(_first_file(copy), _retype("started_at", pa.timestamp("us")))
    tally("corrupt: damaged data directories")
    for strict in (True, False):
        with Workbench.open(copy, tenant="acme", strict=strict) as wb:
            assert DAMAGED not in wb.unavailable
            got = wb.sql("SELECT id, started_at FROM workflow_runs ORDER BY id")
        assert got.equals(expected)


def test_invalid_utf8_in_a_parquet_string_column_is_a_query_error(copy: Path) -> None:
    _rewrite(_first_file(copy), _invalid_utf8("workflow_id"))
    before = snapshot(copy)
    tally("corrupt: damaged data directories")
    for strict in (True, False):
        with Workbench.open(copy, tenant="acme", strict=strict) as wb:
            with pytest.raises(QueryError, match="workflow_id|UTF|utf|encod"):
                wb.sql("SELECT workflow_id, count(*) FROM workflow_runs GROUP BY 1")
            assert wb.sql(INTACT_COUNT)["n"].iloc[0] > 0
    assert not diff_snapshots(before, snapshot(copy))


# ----------------------------------------------------------------------------- the manifest
MANIFEST_DAMAGE: dict[str, bytes | Callable[[dict], dict]] = {
    "truncated": b"",  # filled below from the real manifest
    "empty_file": b"",
    "invalid_json": b"{not json",
    "json_null": b"null",
    "json_list": b"[]",
    "not_utf8": b"\xff\xfe{\x00}",
    "tables_is_a_list": lambda body: {**body, "tables": []},
    "files_is_a_string": lambda body: _set_entry(body, files="abc"),
    "file_entry_lacks_rows": lambda body: _set_entry(
        body, files=[{"path": body["tables"][DAMAGED]["files"][0]["path"], "bytes": 1}]
    ),
    "tenants_is_a_number": lambda body: _set_entry(body, tenants=5),
    "no_version": lambda body: {k: v for k, v in body.items() if k != "version"},
    "file_outside_the_data_dir": lambda body: _point_first_file(body, "/etc/hostname"),
}




@pytest.mark.usefixtures("corpus_summary")
@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c)
        for c in sorted(MANIFEST_DAMAGE)
    ],
)
def test_damaged_manifest_is_a_clear_error(case: str, copy: Path) -> None:
    path = copy / "manifest.json"
    damage = MANIFEST_DAMAGE[case]
    if case == "truncated":
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    elif isinstance(damage, bytes):
        path.write_bytes(damage)
    else:
        path.write_text(json.dumps(damage(json.loads(path.read_text()))))
    before = snapshot(copy)
    tally("corrupt: damaged manifests")
    for strict in (True, False):
        with pytest.raises(AuterityLabError) as info:
            wb = Workbench.open(copy, tenant="acme", strict=strict)
            # a manifest that parses but points outside the data directory must not be read
            wb.close()
        assert "manifest" in str(info.value) or "workflow_runs" in str(info.value)
        assert isinstance(info.value, ManifestError | DataNotFoundError)
    assert not diff_snapshots(before, snapshot(copy))


# ----------------------------------------------------------------------------- tenants
@pytest.mark.parametrize("tenant", ["", "nobody", "ACME", "acme ", "acme' OR '1'='1", "a" * 65])
def test_unknown_or_malformed_tenant_is_refused(tenant: str, pristine: Path) -> None:
    tally("corrupt: unknown tenants")
    with pytest.raises(UnknownTenantError):
        Workbench.open(pristine, tenant=tenant)


# ----------------------------------------------------------------------------- the writer
def _events_select(rows: str) -> str:
    return (
        "SELECT CAST(id AS UUID) AS id, CAST(tenant_id AS VARCHAR) AS tenant_id, "
        "CAST(NULL AS UUID) AS user_id, "
        "CAST(NULL AS VARCHAR) AS session_id, 'feature_use' AS event_type, "
        "CAST(NULL AS JSON) AS properties, CAST(NULL AS DECIMAL(12,2)) AS revenue, "
        f"CAST(created_at AS TIMESTAMPTZ) AS created_at FROM (VALUES {rows}) "
        "AS t(id, tenant_id, created_at)"
    )


_A, _B = "00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b"
BAD_ROWS = {
    "null_primary_key": f"(NULL, 'acme', '2026-10-10 10:00:00+00'), ('{_B}', 'acme', "
    "'2026-10-10 11:00:00+00')",
    "null_tenant": f"('{_A}', NULL, '2026-10-10 10:00:00+00')",
    "null_partition_timestamp": f"('{_A}', 'acme', NULL)",
    "duplicate_primary_key": f"('{_A}', 'acme', '2026-10-10 10:00:00+00'), ('{_A}', 'acme', "
    "'2026-10-11 10:00:00+00')",
}


@pytest.mark.usefixtures("corpus_summary")
@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c)
        for c in sorted(BAD_ROWS)
    ],
)
def test_writer_refuses_null_keys_and_duplicate_primary_keys(case: str, copy: Path) -> None:
    """The demo writer, the test builders and extraction all publish through write_extract: it
    must refuse rows that no tenant could see, that have no day, or that would count twice."""
    import duckdb

    from auterity_lab.errors import SchemaError
    from auterity_lab.manifest import write_extract
    from auterity_lab.schema import table

    before = snapshot(copy)
    tally("corrupt: bad rows offered to the writer")
    con = duckdb.connect()
    try:
        with pytest.raises(SchemaError, match="auterity.events"):
            write_extract(con, copy, table("events"), _events_select(BAD_ROWS[case]))
    finally:
        con.close()
    assert not diff_snapshots(before, snapshot(copy))


# ----------------------------------------------------------------------------- an empty tenant
def _empty_tenant_calls() -> dict[str, Callable[..., object]]:
    from auterity_lab import business, health, ml, overview, stats, unified, workflow

    r = {"start": "2026-10-01", "end": "2026-11-01"}
    return {
        "overview.headline_kpis": lambda wb: overview.headline_kpis(wb, **r),
        "overview.daily": lambda wb: overview.daily(wb, **r),
        "business.business_metrics": lambda wb: business.business_metrics(wb, **r),
        "business.retention": lambda wb: business.retention(wb, **r),
        "business.funnel": lambda wb: business.funnel(wb, steps=["signup", "activate"], **r),
        "business.revenue": lambda wb: business.revenue(wb, **r),
        "ml.model_performance": lambda wb: ml.model_performance(wb, **r),
        "ml.ml_summary": lambda wb: ml.ml_summary(wb, **r),
        "ml.compare_models": lambda wb: ml.compare_models(wb, **r),
        "workflow.run_summary": lambda wb: workflow.run_summary(wb, **r),
        "workflow.bottlenecks": lambda wb: workflow.bottlenecks(wb, **r),
        "workflow.sla_breaches": lambda wb: workflow.sla_breaches(wb, **r),
        "health.system_health": lambda wb: health.system_health(wb, as_of="2026-11-01"),
        "unified.unified_analytics": lambda wb: unified.unified_analytics(wb, **r),
        "stats.metric_series": lambda wb: stats.metric_series(wb, **r),
    }


@pytest.fixture(scope="module")
def lonely(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tenant ``lonely`` has one user and nothing else; ``acme`` has a little of everything."""
    from tests.builders import build_data_dir

    at = "2026-10-10T10:00:00+00:00"
    return build_data_dir(
        tmp_path_factory.mktemp("lonely"),
        {
            "users": [{"tenant_id": "lonely", "created_at": at}, {"tenant_id": "acme",
                                                                 "created_at": at}],
            "user_sessions": [{"tenant_id": "acme", "start_time": at}],
            "prompt_outputs": [{"tenant_id": "acme", "created_at": at, "model_id": "m"}],
            "workflow_runs": [{"tenant_id": "acme", "started_at": at}],
        },
    )


@pytest.mark.usefixtures("corpus_summary")
@pytest.mark.parametrize("call", sorted(_empty_tenant_calls()))
def test_a_tenant_without_rows_gets_empty_results_or_our_error(call: str, lonely: Path) -> None:
    """Documented handling: empty frames (or a named AuterityLabError), never a crash."""
    tally("corrupt: analytics on an empty tenant")
    before = snapshot(lonely)
    # without the result cache: every call computes (a cached answer would hide a crash)
    no_cache = load_settings(cache_enabled=False)
    with Workbench.open(lonely, tenant="lonely", settings=no_cache) as wb:
        try:
            _empty_tenant_calls()[call](wb)
        except AuterityLabError:
            tally("corrupt: analytics on an empty tenant refused with our error")
    changed = [c for c in diff_snapshots(before, snapshot(lonely)) if not c[1:].startswith("state")]
    assert not changed


def test_nested_read_recorders_unwind(pristine: Path) -> None:
    """Found by the empty-tenant calls above: nested cached analytics whose read sets are equal
    when the inner one ends; the outer one then records into the wrong set and cannot unwind."""
    with Workbench.open(pristine, tenant="acme") as wb:
        with wb.record_reads() as outer:
            with wb.record_reads():
                pass
            wb.sql("SELECT count(*) FROM users", cache=False)
        assert "auterity.users" in outer
