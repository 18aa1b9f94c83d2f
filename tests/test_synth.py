"""Tests of the demo data generator: layout, schema, integrity, determinism, planted effects.

Every planted effect is checked on aggregates computed here, independently of the generator,
with DuckDB over the published Parquet files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from pathlib import Path

import duckdb
import numpy as np
import pytest

from auterity_lab.errors import ConfigError
from auterity_lab.manifest import read_manifest
from auterity_lab.schema import source_tables
from auterity_lab.synth import DEMO_END, GROUND_TRUTH_NAME, DemoSummary, generate_demo, tenant_ids

DAYS = 120
START = DEMO_END - dt.timedelta(days=DAYS)
EFFECTS = {
    "lagged_correlation", "outage", "latency_regression", "trend", "cheaper_equal_model",
    "bottleneck", "experiment_lift", "experiment_null", "weekly_seasonality",
}  # fmt: skip


def _parquet_hash(root: Path, *, names: bool = True) -> str:
    """Hash of every Parquet file under ``root``: its path (or only its folder) and its bytes."""
    digest = hashlib.sha256()
    found = [
        (p.relative_to(root) if names else p.parent.relative_to(root), p)
        for p in root.rglob("*.parquet")
    ]
    for key, path in sorted(found):
        digest.update(str(key).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _connect(data_dir: Path) -> duckdb.DuckDBPyConnection:
    """Views named like the tables, over the files listed in the manifest."""
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    manifest = read_manifest(data_dir)
    for tbl in source_tables():
        files = [str(data_dir / f.path) for f in manifest.tables[tbl.qualified_name].files]
        con.execute(
            f"CREATE VIEW {tbl.name} AS "
            f"SELECT * FROM read_parquet({files!r}, hive_partitioning=false)"
        )
    return con


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> list[tuple]:
    return con.execute(sql, params or {}).fetchall()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoSummary, list[tuple]]:
    """Two tenants over 120 days: enough volume for daily aggregates to show every effect."""
    data_dir = tmp_path_factory.mktemp("demo")
    calls: list[tuple] = []
    summary = generate_demo(
        data_dir, tenants=2, days=DAYS, scale=0.35, progress=lambda t, n: calls.append((t, n))
    )
    return data_dir, summary, calls


@pytest.fixture(scope="module")
def con(demo: tuple[Path, DemoSummary, list[tuple]]) -> duckdb.DuckDBPyConnection:
    return _connect(demo[0])


@pytest.fixture(scope="module")
def truth(demo: tuple[Path, DemoSummary, list[tuple]]) -> dict:
    text = (demo[0] / GROUND_TRUTH_NAME).read_text(encoding="utf-8")
    return json.loads(text)


def _effect(truth: dict, effect_id: str) -> dict:
    return next(e for e in truth["effects"] if e["id"] == effect_id)


# ------------------------------------------------------------------------------- arguments
@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"tenants": 0}, "tenants"),
        ({"tenants": 1.5}, "tenants"),
        ({"days": 13}, "days"),
        ({"scale": 0}, "scale"),
        ({"scale": -1.0}, "scale"),
        ({"scale": math.nan}, "scale"),
        ({"seed": -1}, "seed"),
        ({"end": dt.datetime(2026, 1, 1)}, "end"),
    ],
)
def test_bad_arguments_raise_config_error(tmp_path: Path, kwargs: dict, name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        generate_demo(tmp_path / "d", **kwargs)
    assert not (tmp_path / "d").exists()


def test_tenant_ids() -> None:
    assert tenant_ids(3) == ("acme", "globex", "initech")
    assert tenant_ids(8)[6:] == ("tenant-07", "tenant-08")


# ----------------------------------------------------------------- determinism and layout
def test_same_arguments_give_identical_files_and_regeneration_replaces(tmp_path: Path) -> None:
    kwargs = {"tenants": 2, "days": 28, "scale": 0.05}
    first = generate_demo(tmp_path / "a", seed=3, **kwargs)
    second = generate_demo(tmp_path / "b", seed=3, **kwargs)
    generate_demo(tmp_path / "c", seed=4, **kwargs)
    assert first.rows == second.rows
    assert _parquet_hash(tmp_path / "a") == _parquet_hash(tmp_path / "b")
    assert _parquet_hash(tmp_path / "a") != _parquet_hash(tmp_path / "c")
    # regenerating over another demo leaves exactly the files a fresh run writes (under other
    # names: the new files never overwrite the live ones before the manifest swap)
    generate_demo(tmp_path / "c", seed=3, **kwargs)
    assert _parquet_hash(tmp_path / "c", names=False) == _parquet_hash(tmp_path / "a", names=False)
    listed = {f.path for e in read_manifest(tmp_path / "c").tables.values() for f in e.files}
    on_disk = {str(p.relative_to(tmp_path / "c")) for p in (tmp_path / "c").rglob("*.parquet")}
    assert on_disk == listed
    users = read_manifest(tmp_path / "c").tables["auterity.users"]
    assert users.rows == first.rows["auterity.users"]


def test_summary_layout_and_manifest(demo: tuple[Path, DemoSummary, list[tuple]]) -> None:
    data_dir, summary, calls = demo
    assert summary.tenants == ("acme", "globex")
    assert [t for t, _ in calls] == [t.qualified_name for t in source_tables()]
    assert dict(calls) == summary.rows
    assert all(n > 0 for n in summary.rows.values())
    assert summary.rows_per_second > 0
    assert not (data_dir / ".staging").exists()
    manifest = read_manifest(data_dir)
    assert manifest.source == {"kind": "demo", "seed": 7, "scale": 0.35, "tenants": 2,
                               "days": DAYS, "end": DEMO_END.isoformat()}  # fmt: skip
    assert manifest.tenants == ("acme", "globex")
    on_disk = {p.relative_to(data_dir).as_posix() for p in data_dir.rglob("*.parquet")}
    listed = {f.path for e in manifest.tables.values() for f in e.files}
    assert on_disk == listed
    con = duckdb.connect()
    for tbl in source_tables():
        entry = manifest.tables[tbl.qualified_name]
        assert entry.rows == summary.rows[tbl.qualified_name]
        for f in entry.files:
            parts = Path(f.path).parts
            assert parts[:3] == ("extracts", tbl.system, tbl.name)
            assert parts[3].startswith("date=") and parts[4].startswith("demo-")
            (n,) = con.execute(
                "SELECT count(*) FROM read_parquet($p)", {"p": str(data_dir / f.path)}
            ).fetchone()
            assert n == f.rows


def test_schema_of_every_table(demo: tuple[Path, DemoSummary, list[tuple]]) -> None:
    data_dir = demo[0]
    con = duckdb.connect()
    for tbl in source_tables():
        entry = read_manifest(data_dir).tables[tbl.qualified_name]
        files = [str(data_dir / f.path) for f in entry.files]
        described = con.execute(
            "DESCRIBE SELECT * FROM read_parquet($f, hive_partitioning=false)", {"f": files}
        ).fetchall()
        assert [(r[0], r[1]) for r in described] == [(c.name, c.duckdb_type) for c in tbl.columns]
        nullable = [r[0] for r in described if not tbl.column(r[0]).nullable]
        for name in nullable:
            (nulls,) = con.execute(
                f"SELECT count(*) FROM read_parquet($f) WHERE {name} IS NULL", {"f": files}
            ).fetchone()
            assert nulls == 0, f"{tbl.name}.{name}"


def test_typed_json_copies_equal_their_keys(con: duckdb.DuckDBPyConnection) -> None:
    (bad,) = con.execute(
        "SELECT count(*) FROM user_sessions WHERE "
        "CAST(events->>'conversion_rate' AS DOUBLE) IS DISTINCT FROM conversion_rate "
        "OR (device_info->>'device') IS DISTINCT FROM device "
        "OR (location_info->>'country') IS DISTINCT FROM country "
        "OR conversion_rate != round(CAST(events->>'conversions' AS DOUBLE) "
        "   / CAST(events->>'event_count' AS DOUBLE), 4)"
    ).fetchone()
    assert bad == 0


def test_partitions_are_utc_days_of_created_at_inside_the_range(
    demo: tuple[Path, DemoSummary, list[tuple]],
) -> None:
    data_dir = demo[0]
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    for tbl in source_tables():
        root = data_dir / "extracts" / tbl.system / tbl.name
        bad, tenants, lo, hi = con.execute(
            "SELECT count(*) FILTER (WHERE CAST(created_at AS DATE) != date), "
            "list(DISTINCT tenant_id ORDER BY tenant_id), min(date), max(date) "
            "FROM read_parquet($glob, hive_partitioning=true)",
            {"glob": str(root / "*" / "*.parquet")},
        ).fetchone()
        assert bad == 0, tbl.name
        assert tenants == ["acme", "globex"], tbl.name
        assert lo >= START and hi < DEMO_END, tbl.name


def test_referential_integrity(con: duckdb.DuckDBPyConnection) -> None:
    checks = {
        "sessions -> users": "SELECT count(*) FROM user_sessions s LEFT JOIN users u "
        "ON u.id = s.user_id AND u.tenant_id = s.tenant_id WHERE u.id IS NULL "
        "OR s.start_time < u.created_at",
        "events -> users": "SELECT count(*) FROM events e ANTI JOIN users u "
        "ON u.id = e.user_id AND u.tenant_id = e.tenant_id",
        "events -> sessions": "SELECT count(*) FROM events e ANTI JOIN user_sessions s "
        "ON s.session_id = e.session_id AND s.user_id = e.user_id WHERE e.session_id IS NOT NULL",
        "outputs -> users": "SELECT count(*) FROM prompt_outputs p ANTI JOIN users u "
        "ON u.id = p.user_id AND u.tenant_id = p.tenant_id WHERE p.user_id IS NOT NULL",
        "feedback -> outputs": "SELECT count(*) FROM feedback f LEFT JOIN prompt_outputs p "
        "ON p.id = f.prompt_output_id AND p.tenant_id = f.tenant_id WHERE p.id IS NULL "
        "OR p.user_rating != f.rating OR p.user_feedback IS DISTINCT FROM f.comment "
        "OR f.created_at < p.created_at",
        "rated outputs -> feedback": "SELECT count(*) FROM prompt_outputs p ANTI JOIN feedback f "
        "ON p.id = f.prompt_output_id WHERE p.user_rating IS NOT NULL",
        "steps -> runs": "SELECT count(*) FROM workflow_steps s ANTI JOIN workflow_runs r "
        "ON r.id = s.run_id AND r.tenant_id = s.tenant_id",
        "ai steps -> outputs": "SELECT count(*) FROM workflow_steps s LEFT JOIN prompt_outputs p "
        "ON p.id = s.prompt_output_id AND p.tenant_id = s.tenant_id "
        "WHERE s.prompt_output_id IS NOT NULL AND (p.id IS NULL "
        "OR (p.status = 'error') != (s.status = 'failed'))",
        "assignments -> experiments": "SELECT count(*) FROM experiment_assignments a "
        "ANTI JOIN experiments e ON e.id = a.experiment_id AND e.tenant_id = a.tenant_id",
        "assignments -> users": "SELECT count(*) FROM experiment_assignments a "
        "ANTI JOIN users u ON u.id = a.user_id AND u.tenant_id = a.tenant_id",
    }
    assert {name: _rows(con, sql)[0][0] for name, sql in checks.items()} == dict.fromkeys(checks, 0)
    (ai_steps, linked) = _rows(
        con, "SELECT count(*), count(prompt_output_id) FROM workflow_steps "
        "WHERE step_type = 'ai' AND status != 'cancelled'"
    )[0]  # fmt: skip
    assert ai_steps == linked > 0
    (unique_ids,) = _rows(
        con, "SELECT count(*) = count(DISTINCT id) FROM (SELECT id FROM prompt_outputs "
        "UNION ALL SELECT id FROM user_sessions UNION ALL SELECT id FROM workflow_steps)"
    )[0]  # fmt: skip
    assert unique_ids


def test_row_contents_are_consistent(con: duckdb.DuckDBPyConnection) -> None:
    checks = {
        "run duration = sum of steps": "SELECT count(*) FROM workflow_runs r JOIN "
        "(SELECT run_id, sum(duration_ms) ms FROM workflow_steps GROUP BY 1) s ON s.run_id = r.id "
        "WHERE s.ms != r.duration_ms "
        "OR r.finished_at != r.started_at + to_milliseconds(r.duration_ms)",
        "failed run names its step": "SELECT count(*) FROM workflow_runs WHERE "
        "(status = 'failed') != coalesce(error LIKE 'step % failed after %', false)",
        "session times": "SELECT count(*) FROM user_sessions WHERE created_at != start_time "
        "OR end_time != start_time + to_seconds(duration) OR page_views < 1 OR duration < 1",
        "tokens": "SELECT count(*) FROM prompt_outputs WHERE tokens_used != input_tokens + "
        "output_tokens OR prompt_hash != sha256(prompt)",
        "errors": "SELECT count(*) FROM prompt_outputs WHERE (status = 'error') != "
        "(error IS NOT NULL) OR (status = 'error' AND user_rating IS NOT NULL)",
        "ratings": "SELECT count(*) FROM prompt_outputs WHERE user_rating NOT IN (1, 2, 3, 4, 5)",
        "revenue": "SELECT count(*) FROM events WHERE (revenue IS NOT NULL) != "
        "(event_type IN ('subscribe', 'payment'))",
    }
    assert {name: _rows(con, sql)[0][0] for name, sql in checks.items()} == dict.fromkeys(checks, 0)
    share = dict(_rows(
        con, "SELECT status, count(*) / sum(count(*)) OVER () FROM workflow_runs GROUP BY 1"
    ))  # fmt: skip
    assert 0.88 < share["success"] < 0.97
    (flaky,) = _rows(
        con, "SELECT count(*) FROM workflow_steps s JOIN workflow_steps t ON s.run_id = t.run_id "
        "AND s.step_index = t.step_index AND t.attempt = s.attempt + 1 "
        "WHERE s.status = 'failed' AND t.status = 'success'"
    )[0]  # fmt: skip
    assert flaky > 0
    (pii, repeated) = _rows(
        con, "SELECT count(*) FILTER (WHERE regexp_matches(prompt, '[a-z.0-9]+@example\\.com')), "
        "count(*) - count(DISTINCT prompt_hash) FROM prompt_outputs"
    )[0]  # fmt: skip
    assert pii > 0 and repeated > 0


# ------------------------------------------------------------------------- planted effects
def test_ground_truth_describes_every_effect(truth: dict) -> None:
    assert {e["id"] for e in truth["effects"]} == EFFECTS
    assert truth["parameters"]["tenants"] == ["acme", "globex"]
    for effect in truth["effects"]:
        assert START.isoformat() <= effect["start"] < effect["end"] <= DEMO_END.isoformat()
        assert effect["targets"] and effect["description"]
    assert truth["models"]["gpt-4o"]["price_usd_per_1m_input_tokens"] == 2.50
    assert len(_effect(truth, "lagged_correlation")["details"]["latent"]["acme"]) == DAYS


def test_outage(con: duckdb.DuckDBPyConnection, truth: dict) -> None:
    outage = _effect(truth, "outage")
    assert outage["tenants"] == ["acme"]
    day = dt.date.fromisoformat(outage["start"])
    queries = {
        "5xx": "SELECT tenant_id, CAST(created_at AS DATE) = $day, "
        "avg(CAST(status_code >= 500 AS INT)) FROM performance_metrics GROUP BY ALL",
        "ai": "SELECT tenant_id, CAST(created_at AS DATE) = $day, "
        "avg(CAST(status = 'error' AS INT)) FROM prompt_outputs GROUP BY ALL",
        "runs": "SELECT tenant_id, CAST(created_at AS DATE) = $day, "
        "avg(CAST(status = 'failed' AS INT)) FROM workflow_runs GROUP BY ALL",
    }
    for name, sql in queries.items():
        rate = {(t, on): r for t, on, r in _rows(con, sql, {"day": day})}
        assert rate[("acme", True)] > 0.2, name
        assert rate[("acme", True)] > 5 * rate[("acme", False)], name
        assert rate[("globex", True)] < rate[("acme", True)] / 2, name


def test_latency_regression(con: duckdb.DuckDBPyConnection, truth: dict) -> None:
    effect = _effect(truth, "latency_regression")
    day = dt.date.fromisoformat(effect["start"])
    # relative to mistral-small on the same days, so the shared daily factor cancels
    rows = _rows(
        con, "SELECT CAST(created_at AS DATE) >= $day AS after, "
        "avg(response_time_ms) FILTER (WHERE model_id = 'gpt-4o') "
        "/ avg(response_time_ms) FILTER (WHERE model_id = 'mistral-small') "
        "FROM prompt_outputs WHERE status = 'success' GROUP BY 1", {"day": day}
    )  # fmt: skip
    ratio = dict(rows)
    assert ratio[True] / ratio[False] > 1.3
    versions = _rows(
        con, "SELECT model_version, min(CAST(created_at AS DATE)), max(CAST(created_at AS DATE)) "
        "FROM prompt_outputs WHERE model_id = 'gpt-4o' GROUP BY 1 ORDER BY 2"
    )  # fmt: skip
    assert len(versions) == 2
    assert versions[0][2] < day == versions[1][1]


def test_signup_trend(con: duckdb.DuckDBPyConnection) -> None:
    days, counts = zip(
        *_rows(con, "SELECT CAST(created_at AS DATE) - $start, count(*) FROM users GROUP BY 1",
               {"start": START}), strict=True,
    )  # fmt: skip
    slope = np.polyfit(np.array(days), np.log(np.array(counts)), 1)[0]
    assert 0.006 < slope < 0.014
    early, late = _rows(
        con, "SELECT avg(dau) FROM (SELECT CAST(created_at AS DATE) - $start AS d, "
        "count(DISTINCT user_id) dau FROM user_sessions GROUP BY 1) "
        "WHERE d BETWEEN 40 AND 59 OR d >= 100 GROUP BY d >= 100 ORDER BY d >= 100",
        {"start": START},
    )  # fmt: skip
    assert late[0] > 1.3 * early[0]


def test_cheaper_model_rates_like_gpt4o(con: duckdb.DuckDBPyConnection, truth: dict) -> None:
    rating = dict(_rows(
        con, "SELECT model_id, avg(CAST(user_rating AS DOUBLE)) FROM prompt_outputs GROUP BY 1"
    ))  # fmt: skip
    assert abs(rating["mistral-small"] - rating["gpt-4o"]) < 0.1
    assert rating["llama-3-8b"] < rating["gpt-4o"] - 0.5
    models = truth["models"]
    assert models["mistral-small"]["price_usd_per_1m_output_tokens"] < (
        models["gpt-4o"]["price_usd_per_1m_output_tokens"] / 10
    )
    expected = _effect(truth, "cheaper_equal_model")["details"]["expected_mean_rating_v1"]
    assert expected["mistral-small"] == expected["gpt-4o"]


def test_bottleneck_step(con: duckdb.DuckDBPyConnection, truth: dict) -> None:
    day = dt.date.fromisoformat(_effect(truth, "bottleneck")["start"])
    rows = _rows(
        con, "SELECT CAST(s.created_at AS DATE) >= $day AS after, s.step_name, sum(s.duration_ms) "
        "FROM workflow_steps s JOIN workflow_runs r ON r.id = s.run_id "
        "WHERE r.workflow_id = 'lead-enrichment' GROUP BY ALL", {"day": day}
    )  # fmt: skip
    top = {
        after: max((ms, name) for a, name, ms in rows if a == after)[1] for after in (False, True)
    }
    assert top == {False: "enrich_profile", True: "crm_lookup"}


def _daily(con: duckdb.DuckDBPyConnection, sql: str, tenant: str) -> np.ndarray:
    values = np.full(DAYS, np.nan)
    for d, v in _rows(con, sql, {"start": START, "tenant": tenant}):
        values[d] = v
    return values


def _residuals(y: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Residuals of ``y`` on weekday dummies and a linear trend."""
    weekday = np.array([(START + dt.timedelta(days=int(d))).weekday() for d in days])
    x = np.column_stack([np.eye(7)[weekday], days])
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    return y - x @ beta


@pytest.mark.parametrize("tenant", ["acme", "globex"])
def test_ai_latency_leads_session_duration_by_one_day(
    con: duckdb.DuckDBPyConnection, truth: dict, tenant: str
) -> None:
    regression = dt.date.fromisoformat(_effect(truth, "latency_regression")["start"])
    # per-model latency relative to the model's own level, so the mix and the regression cancel
    latency = _daily(
        con, "SELECT d, avg(ln(response_time_ms) - m) FROM (SELECT CAST(created_at AS DATE) "
        "- $start AS d, response_time_ms, avg(ln(response_time_ms)) OVER (PARTITION BY "
        "model_id, model_version) AS m FROM prompt_outputs "
        "WHERE status = 'success' AND tenant_id = $tenant) GROUP BY d", tenant,
    )  # fmt: skip
    duration = _daily(
        con, "SELECT CAST(created_at AS DATE) - $start, ln(avg(duration)) FROM user_sessions "
        "WHERE tenant_id = $tenant GROUP BY 1", tenant,
    )  # fmt: skip
    assert regression > START
    days = np.arange(14, DAYS)  # the first two weeks after launch have few sessions
    lat = _residuals(latency[days], days)
    dur = _residuals(duration[days], days)
    corr = {
        lag: np.corrcoef(np.diff(lat)[: len(days) - 1 - lag], np.diff(dur)[lag:])[0, 1]
        for lag in (0, 1, 2)
    }
    assert corr[1] < -0.3
    assert corr[1] < corr[0] - 0.2 and corr[1] < corr[2] - 0.2
    assert _effect(truth, "lagged_correlation")["lag_days"] == 1


def test_experiment_lift_and_null_experiment(con: duckdb.DuckDBPyConnection, truth: dict) -> None:
    rows = _rows(
        con, "SELECT e.experiment_key, a.variant, avg(CAST(p.user_rating AS DOUBLE)), count(*) "
        "FROM experiment_assignments a JOIN experiments e ON e.id = a.experiment_id "
        "JOIN prompt_outputs p ON p.user_id = a.user_id AND p.created_at >= a.created_at "
        "WHERE p.user_rating IS NOT NULL GROUP BY ALL"
    )  # fmt: skip
    mean = {(key, variant): m for key, variant, m, _ in rows}
    lift = mean[("prompt-v2-rollout", "treatment")] - mean[("prompt-v2-rollout", "control")]
    expected = _effect(truth, "experiment_lift")["magnitude"]
    assert 0.2 < expected < 0.35
    assert abs(lift - expected) < 0.1
    null = mean[("response-streaming", "treatment")] - mean[("response-streaming", "control")]
    assert abs(null) < 0.1
    (versions,) = _rows(
        con, "SELECT count(*) FROM prompt_outputs p JOIN experiment_assignments a "
        "ON p.user_id = a.user_id JOIN experiments e ON e.id = a.experiment_id "
        "WHERE e.experiment_key = 'prompt-v2-rollout' AND p.created_at >= a.created_at "
        "AND (p.prompt_version = 'v2') != (a.variant = 'treatment')"
    )[0]  # fmt: skip
    assert versions == 0
    # the assignment rule written to ground_truth.json, recomputed here
    sample = _rows(
        con, "SELECT e.experiment_key, CAST(a.user_id AS VARCHAR), a.variant "
        "FROM experiment_assignments a JOIN experiments e ON e.id = a.experiment_id "
        "ORDER BY a.id LIMIT 300"
    )  # fmt: skip
    for key, user_id, variant in sample:
        bucket = int(hashlib.md5(f"{key}:{user_id}".encode()).hexdigest()[:8], 16) % 100
        assert variant == ("treatment" if bucket < 50 else "control")
