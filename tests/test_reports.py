"""The ready-made reports run for real: their HTML holds the headline numbers (computed here
independently with pandas), their PDF has one page per section, their tables match, the planted
outage shows, and no secret of the environment reaches any file produced by any report."""

from __future__ import annotations

import functools
import html
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from auterity_lab.manifest import read_manifest
from auterity_lab.reports import ReportRun, latest_run, load_run

PASSWORD = "S3cr3t-pa55w0rd-xyz"
DSN = f"postgresql://analyst:{PASSWORD}@db.internal:5432/auterity"
HMAC_KEY = "hmac-key-0f9e8d7c6b5a49382716"
SECRETS = (PASSWORD, DSN, HMAC_KEY)

DIGEST_DAY = "2026-09-17"  # the planted outage of acme (ground_truth.json: effect "outage")
REVIEW_WEEK = "2026-10-21"  # a Wednesday: the ISO week of Monday 2026-10-19

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def secret_env() -> Iterator[None]:
    """A DSN with a password and an HMAC key in the environment (report kernels inherit it)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUTERITY_LAB_AUTERITY_DSN", DSN)
        mp.setenv("AUTERITY_LAB_HMAC_KEY", HMAC_KEY)
        yield


@pytest.fixture(scope="module")
def data(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the demo: the reports store insights in the data directory's state."""
    target = tmp_path_factory.mktemp("reports-data") / "demo"
    shutil.copytree(demo_dir, target)
    return target


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("report-runs")


@pytest.fixture(scope="module")
def runs(secret_env: None, data: Path, out: Path) -> dict[str, ReportRun]:
    """The two ready-made reports, run for real through the CLI side by side (each its own
    process and kernel) with every output, the secrets in their environment. (Every other
    report of the catalog runs, with secrets too, in tests/test_notebooks.py.)"""
    commands = {
        name: [
            sys.executable,
            "-m",
            "auterity_lab",
            "report",
            "run",
            name,
            "--data",
            str(data),
            "--out",
            str(out),
            "--as",
            "json",
            *extra,
        ]
        for name, extra in (
            ("daily_digest", ["-p", "tenant=acme", "-p", f"day={DIGEST_DAY}"]),
            ("weekly_review", ["-p", "tenant=globex", "-p", f"week={REVIEW_WEEK}"]),
        )
    }
    procs = {
        name: subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, cmd in commands.items()
    }
    done: dict[str, ReportRun] = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=900)
        assert proc.returncode == 0, f"{name}: {stderr[-3000:]}"
        (row,) = json.loads(stdout)
        done[name] = load_run(row["run_dir"])
    return done


@pytest.fixture(scope="module")
def digest(runs: dict[str, ReportRun]) -> ReportRun:
    return runs["daily_digest"]


@pytest.fixture(scope="module")
def review(runs: dict[str, ReportRun]) -> ReportRun:
    return runs["weekly_review"]


# ----------------------------------------------------------------------------- independent numbers
@functools.cache
def _raw(data: Path, table: str, tenant: str) -> pd.DataFrame:
    files = sorted((data / "extracts").glob(f"*/{table}/date=*/*.parquet"))
    frame = pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
    return frame[frame["tenant_id"] == tenant].reset_index(drop=True)


def _between(frame: pd.DataFrame, start: str, days: int) -> pd.DataFrame:
    lo = pd.Timestamp(start, tz="UTC")
    return frame[(frame["created_at"] >= lo) & (frame["created_at"] < lo + pd.Timedelta(days=days))]


def _numbers(data: Path, tenant: str, start: str, days: int) -> dict[str, float]:
    s = _between(_raw(data, "user_sessions", tenant), start, days)
    e = _between(_raw(data, "events", tenant), start, days)
    p = _between(_raw(data, "prompt_outputs", tenant), start, days)
    w = _between(_raw(data, "workflow_runs", tenant), start, days)
    return {
        "sessions": len(s),
        "active_users": s["user_id"].nunique(),
        "revenue": float(e["revenue"].dropna().astype(float).sum()),
        "ai_requests": len(p),
        "ai_p95_latency": float(np.percentile(p["response_time_ms"], 95)),
        "ai_error_rate": float((p["status"] == "error").mean()),
        "workflow_runs": len(w),
        "workflow_failure_rate": float((w["status"] == "failed").mean()),
    }


def _section_pages(pages: list[str], headings: list[str]) -> list[int]:
    """The page each section starts on: every heading opens a page, in order, and the first
    heading opens the first page (a long section may continue on the next page)."""
    starts = [
        i for i, page in enumerate(pages) if any(page.strip().startswith(h) for h in headings)
    ]
    firsts = [next(h for h in headings if pages[i].strip().startswith(h)) for i in starts]
    assert firsts == headings, firsts
    assert starts[0] == 0
    return starts


def _cells(html: str) -> set[str]:
    """Text of every table cell of the HTML."""
    return {re.sub(r"\s+", " ", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)}


def _pages(pdf: Path) -> list[str]:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    n = int(re.search(r"Pages:\s+(\d+)", info)[1])
    return [
        subprocess.run(
            ["pdftotext", "-layout", "-f", str(i), "-l", str(i), str(pdf), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for i in range(1, n + 1)
    ]


# ----------------------------------------------------------------------------- daily digest
def test_digest_html_holds_the_headline_numbers(digest: ReportRun, data: Path) -> None:
    cells = _cells(digest.html.read_text())
    day = _numbers(data, "acme", DIGEST_DAY, 1)
    before = _numbers(data, "acme", "2026-09-16", 1)
    week = _numbers(data, "acme", "2026-09-10", 1)
    for numbers in (day, before, week):
        for metric in ("sessions", "active_users", "ai_requests", "workflow_runs"):
            assert f"{numbers[metric]:,}" in cells, metric
        assert f"${numbers['revenue']:,.2f}" in cells
        assert f"{numbers['ai_p95_latency']:,.0f} ms" in cells
        assert f"{numbers['ai_error_rate']:.2%}" in cells
    change = day["sessions"] / week["sessions"] - 1
    assert f"{change:+.1%}" in cells
    assert "Thursday 17 September 2026" in digest.html.read_text()


def test_digest_shows_the_planted_outage(digest: ReportRun) -> None:
    tables = {p.stem: p for p in digest.tables if p.suffix == ".csv"}
    movers = pd.read_csv(tables["movers_vs_last_week"])
    worse = movers[movers["verdict"] == "worse"].set_index("metric")
    # ground_truth.json: acme's error rates spike on 2026-09-17, from ~0 the week before
    assert {"ai_error_rate", "workflow_failure_rate"} <= set(worse.index)
    assert worse.loc["ai_error_rate", "value"] > 0.1 and worse.loc["ai_error_rate", "from_zero"]
    assert "from 0" in digest.html.read_text()


def test_digest_lists_the_top_open_insights(digest: ReportRun, data: Path) -> None:
    from auterity_lab.state import StateStore

    shown = pd.read_csv(digest.run_dir / "tables" / "insights.csv")
    stored = StateStore.for_data_dir(data).insights("acme")  # what the report's run stored
    stored = stored[stored["status"].isin(["active", "acknowledged"])]
    ends = pd.to_datetime([m["period_end"] for m in stored["metrics"]], utc=True)
    stored = stored[ends > pd.Timestamp(DIGEST_DAY, tz="UTC")]
    rank = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    stored = stored.assign(
        _r=stored["severity"].map(rank), _s=[m["score"] for m in stored["metrics"]]
    )
    expected = stored.sort_values(["_r", "_s"], ascending=[True, False], kind="stable").head(5)
    assert len(shown) == min(5, len(stored)) > 0
    assert shown["id"].tolist() == expected["id"].tolist()
    assert all(title in digest.html.read_text() for title in shown["title"].map(html.escape))


def test_digest_tables_match_the_library(digest: ReportRun, data: Path) -> None:
    from auterity_lab import digest as lib
    from auterity_lab.warehouse import Workbench

    kpis_csv = pd.read_csv(digest.run_dir / "tables" / "kpis.csv")
    kpis_json = pd.DataFrame(json.loads((digest.run_dir / "tables" / "kpis.json").read_text()))
    with Workbench.open(data, tenant="acme") as wb:
        expected = lib.day_comparison(wb, day=DIGEST_DAY).kpis
    for frame in (kpis_csv, kpis_json):
        assert frame["metric"].tolist() == expected["metric"].tolist()
        np.testing.assert_allclose(frame["value"].astype(float), expected["value"], rtol=1e-9)
        np.testing.assert_allclose(
            frame["last_week"].astype(float), expected["last_week"], rtol=1e-9
        )


def test_digest_pdf_has_one_page_per_section(digest: ReportRun, data: Path) -> None:
    pages = _pages(digest.pdf)
    first, movers, hourly, insights = _section_pages(
        pages, ["Daily digest", "Biggest movers", "The day hour by hour", "Top insights"]
    )
    assert len(pages) <= 6
    day = _numbers(data, "acme", DIGEST_DAY, 1)
    assert f"{day['ai_p95_latency']:,.0f} ms" in pages[first]
    assert "change vs the same weekday last week" in pages[movers]  # the chart's axis (plotly)
    assert "hour (UTC)" in pages[hourly]
    top = pd.read_csv(digest.run_dir / "tables" / "insights.csv")["title"].iloc[0]
    assert top.split(" ")[0] in "".join(pages[insights:])


def test_run_record(digest: ReportRun, data: Path, out: Path) -> None:
    record = json.loads((digest.run_dir / "run.json").read_text())
    assert record["status"] == "succeeded" and record["error"] is None
    assert record["parameters"] == {
        "data_dir": str(data.resolve()),
        "tenant": "acme",
        "day": DIGEST_DAY,
        "as_of": None,
        "top_insights": 5,
    }
    assert record["manifest_fingerprint"] == read_manifest(data).fingerprint()
    assert record["package_version"] and record["started_at"] and record["duration_s"] > 0
    assert record["key"] == {"tenant": "acme"} and digest.run_id.endswith("-tenant=acme")
    names = {o["path"] for o in record["outputs"]}
    assert {
        "daily_digest.ipynb",
        "daily_digest.html",
        "daily_digest.pdf",
        "tables/kpis.csv",
        "tables/kpis.json",
    } <= names
    assert latest_run("daily_digest", out, tenant="acme").run_id == digest.run_id


# ----------------------------------------------------------------------------- weekly review
def test_review_html_holds_the_headline_numbers(review: ReportRun, data: Path) -> None:
    cells = _cells(review.html.read_text())
    week = _numbers(data, "globex", "2026-10-19", 7)
    before = _numbers(data, "globex", "2026-10-12", 7)
    for metric in ("sessions", "active_users", "ai_requests", "workflow_runs"):
        assert f"{week[metric]:,}" in cells, metric
        assert f"{before[metric]:,}" in cells, metric
    assert f"${week['revenue']:,.2f}" in cells
    assert f"{week['ai_p95_latency']:,.0f} ms" in cells
    four = [
        _numbers(data, "globex", d, 7)["sessions"]
        for d in ("2026-10-12", "2026-10-05", "2026-09-28", "2026-09-21")
    ]
    assert f"{np.mean(four):,.2f}" in cells or f"{np.mean(four):,.0f}" in cells
    assert "week 43 of 2026" in review.html.read_text()


def test_review_finds_the_planted_bottleneck(review: ReportRun) -> None:
    slow = pd.read_csv(review.run_dir / "tables" / "bottlenecks.csv").set_index("workflow_id")
    assert slow.loc["lead-enrichment", "bottleneck_step"] == "crm_lookup"


def test_review_pdf_has_one_page_per_section(review: ReportRun) -> None:
    pages = _pages(review.pdf)
    starts = _section_pages(
        pages,
        [
            "Weekly business review",
            "What moved",
            "Daily trends",
            "Business",
            "AI and ML",
            "Workflows",
            "Top insights",
        ],
    )
    assert len(pages) <= 10
    assert "RelayCore: workflows" in pages[starts[2]]  # subplot titles of the trend chart
    assert "crm_lookup" in pages[starts[5]]


def test_html_is_offline(digest: ReportRun, review: ReportRun) -> None:
    for run in (digest, review):
        html = run.html.read_text()
        assert not re.search(r"<script[^>]+src=[\"']https?://", html)
        assert html.count('class="plotly-graph-div"') >= 2 and "Plotly.newPlot" in html


# ----------------------------------------------------------------------------- secrets
def test_no_report_output_holds_a_secret(runs: dict[str, ReportRun], out: Path) -> None:
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) > 20  # notebooks, HTML, PDF, tables, run.json of both reports
    for path in files:
        blob = path.read_bytes()
        for secret in SECRETS:
            assert secret.encode() not in blob, f"{secret[:6]}... in {path}"
    for run in runs.values():  # nothing had to be scrubbed: no notebook ever printed one
        assert run.status == "succeeded" and run.redactions == 0, run.name
