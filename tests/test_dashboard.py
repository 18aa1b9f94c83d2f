"""The dashboard as a Python object: lazy tabs, filters that recompute only what reads them,
exports of the visible tab (checked against independent numbers), persisted actions with the
user's callbacks, and live updates marking panels stale."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import shutil
import subprocess
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from auterity_lab.dashboard import TABS, Dashboard, dashboard
from auterity_lab.errors import QueryParameterError
from auterity_lab.state import StateStore
from auterity_lab.warehouse import Workbench

from .builders import build_data_dir

START, END = "2026-09-06", "2026-11-01"


@pytest.fixture(scope="module")
def data(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the demo: actions and insights write to the data directory's state."""
    target = tmp_path_factory.mktemp("dashboard-data") / "demo"
    shutil.copytree(demo_dir, target)
    return target


@pytest.fixture(scope="module")
def app(data: Path) -> Iterator[Dashboard]:
    with Workbench.open(data, tenant="acme") as wb:
        board = dashboard(wb, tenants=["globex"], start=START, end=END, live=False)
        yield board
        board.close()


def _raw(data: Path, table: str, tenant: str) -> pd.DataFrame:
    files = sorted((data / "extracts").glob(f"*/{table}/date=*/*.parquet"))
    frame = pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
    t = frame["created_at"]
    keep = (
        (frame["tenant_id"] == tenant)
        & (t >= pd.Timestamp(START, tz="UTC"))
        & (t < pd.Timestamp(END, tz="UTC"))
    )
    return frame[keep]


def test_tabs_are_computed_when_first_opened(app: Dashboard) -> None:
    assert list(TABS) == ["overview", "business", "ml", "workflow", "insights"]
    assert list(app.tab.titles) == ["Overview", "Business", "AI/ML", "Workflow", "Insights"]
    assert {tab for tab, _ in app.computed} == {"overview"}
    assert app.visible_tab == "overview"
    app.select("ml")
    assert {tab for tab, _ in app.computed} == {"overview", "ml"}
    assert [p for t, p in app.computed if t == "ml"] == [
        "summary",
        "models",
        "latency",
        "cost",
        "prompts",
    ]
    app.select("overview")  # nothing changed: nothing is recomputed
    assert len([1 for t, _ in app.computed if t == "overview"]) == 3


def test_a_filter_change_recomputes_only_what_reads_it(app: Dashboard) -> None:
    app.select("business")
    app.select("ml")
    before = len(app.computed)
    assert app.set_filters(model="gpt-4o") == ("model",)
    assert app.computed[before:] == [
        ("ml", p) for p in ("summary", "models", "latency", "cost", "prompts")
    ]
    models = app.frames["ml"]["models"]
    assert set(models["model_id"]) == {"gpt-4o"}
    app.select("business")  # the model does not concern the Business tab
    app.select("overview")
    assert app.computed[before + 5 :] == []
    app.select("business")
    mark = len(app.computed)
    app.set_filters(device="mobile")
    assert [p for _, p in app.computed[mark:]] == [
        "kpis",
        "activity",
        "retention",
        "funnel",
        "revenue",
        "breakdown",
    ]
    assert ("business", "performance") not in app.computed[mark:]  # API performance has no device
    app.select("ml")  # the model's panels do not read the device
    assert app.computed[mark + 6 :] == []
    with pytest.raises(QueryParameterError, match="must be after start"):
        app.set_filters(end=START)
    with pytest.raises(QueryParameterError, match="unknown filter colour"):
        app.set_filters(colour="red")
    app.set_filters(model=None, device=None)
    assert app.filters.model is None and app.filter_controls["model"].value is None


def test_tenant_filter_switches_every_panel(app: Dashboard, data: Path) -> None:
    assert app.filter_controls["tenant"].layout.display == "flex"  # two tenants: the filter shows
    app.select("overview")
    mark = len(app.computed)
    app.filter_controls["tenant"].value = "globex"  # as a click in the filter bar
    try:
        assert [p for _, p in app.computed[mark:]] == ["health", "kpis", "daily"]
        kpis = app.frames["overview"]["kpis"].set_index("metric")
        assert kpis.loc["sessions", "value"] == len(_raw(data, "user_sessions", "globex"))
    finally:
        app.filter_controls["tenant"].value = "acme"
    with pytest.raises(QueryParameterError, match="tenant 'initech' is not among acme, globex"):
        app.set_filters(tenant="initech")


def test_csv_and_json_exports_hold_the_visible_tabs_data(
    app: Dashboard, data: Path, tmp_path: Path
) -> None:
    app.select("overview")
    app.export_dir = tmp_path
    try:
        csv = app.export("csv")
    finally:
        app.export_dir = None
    assert (
        csv.filename == f"acme-overview-{START}_{END}.zip" and csv.path == tmp_path / csv.filename
    )
    with zipfile.ZipFile(io.BytesIO(csv.data)) as archive:
        assert sorted(archive.namelist()) == ["daily.csv", "health.csv", "kpis.csv", "meta.json"]
        kpis = pd.read_csv(archive.open("kpis.csv")).set_index("metric")
        daily = pd.read_csv(archive.open("daily.csv"))
        meta = json.loads(archive.read("meta.json"))
    sessions = _raw(data, "user_sessions", "acme")
    prompts = _raw(data, "prompt_outputs", "acme")
    assert kpis.loc["sessions", "value"] == len(sessions)
    assert kpis.loc["ai_p95_latency", "value"] == pytest.approx(
        np.percentile(prompts["response_time_ms"], 95)
    )
    assert daily["sessions"].sum() == len(sessions) and len(daily) == 56
    assert meta["filters"] == {
        "tenant": "acme",
        "start": START,
        "end": END,
        "model": None,
        "device": None,
        "country": None,
    }
    assert meta["data_fingerprint"] == app.wb.fingerprint()
    body = json.loads(app.export("json").data)
    assert set(body["tables"]) == {"health", "kpis", "daily"}
    assert {r["metric"]: r["value"] for r in body["tables"]["kpis"]}["sessions"] == len(sessions)
    assert body["meta"]["tab"] == "overview"


def test_html_and_pdf_exports_draw_the_tab(app: Dashboard, tmp_path: Path) -> None:
    app.select("workflow")
    page = app.export("html").data.decode()
    assert page.count('class="plotly-graph-div"') == len(TABS["workflow"].panels)
    assert not re.search(r"<script[^>]+src=[\"']https?://", page)  # plotly.js is inline: offline
    assert "Where run time goes" in page and "tenant acme" in page
    pdf = tmp_path / "workflow.pdf"
    pdf.write_bytes(app.export("pdf").data)
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    for panel in TABS["workflow"].panels:
        assert panel.title in text
    assert "lead-enrichment" in text
    with pytest.raises(QueryParameterError, match="format must be one of"):
        app.export("xlsx")


def test_insight_and_alert_actions_persist_and_call_back(app: Dashboard, data: Path) -> None:
    from auterity_lab.alerts import check_alerts
    from auterity_lab.insights import generate_insights

    wb = app.wb
    found = generate_insights(wb, start="2026-07-04", end="2026-11-01", kinds=["anomaly", "trend"])
    assert (found.insights["status"] == "active").sum() >= 2  # the demo plants several effects
    fired = check_alerts(wb, start="2026-09-16", end="2026-09-19").alerts
    assert len(fired) >= 1  # the planted outage of 2026-09-17 breaches an error-rate rule
    told: dict[str, list[tuple[str, str]]] = {"insight": [], "alert": []}
    app.on_insight_action = lambda i, a: told["insight"].append((i, a))
    app.on_alert_action = lambda i, a: told["alert"].append((i, a))
    try:
        app.refresh("insights")  # the lists are re-read from the state store
        app.select("insights")
        ids = list(app.insight_list.buttons)[:2]
        assert ids == list(app.frames["insights"]["insights"]["id"][:2])
        app.insight_list.buttons[ids[0]]["acknowledge"].click()
        app.insight_list.buttons[ids[1]]["dismiss"].click()
        store = StateStore.for_data_dir(data)
        stored = store.read("unified_insights", tenant="acme").set_index("id")
        assert (
            stored.loc[ids[0], "status"] == "acknowledged"
            and stored.loc[ids[1], "status"] == "dismissed"
        )
        assert told["insight"] == [(ids[0], "acknowledge"), (ids[1], "dismiss")]
        assert (
            ids[0] in app.insight_list.buttons and ids[1] not in app.insight_list.buttons
        )  # closed
        # the lifecycle refuses to reopen a dismissed insight: a message, no callback
        app.insight_list._click(ids[1], "acknowledge")
        assert "cannot become acknowledged" in app.insight_list.message.value
        assert len(told["insight"]) == 2
        # alerts: the same buttons, persisted per alert
        alert_id = str(fired["alert_id"].iloc[0])
        app.alert_list.buttons[alert_id]["acknowledge"].click()
        app.alert_list.buttons[alert_id]["resolve"].click()
        statuses = json.loads((data / "state" / "alert_status.json").read_text())
        assert statuses["acme"][alert_id]["status"] == "resolved"
        assert told["alert"] == [(alert_id, "acknowledge"), (alert_id, "resolve")]
        assert alert_id not in app.alert_list.buttons
        assert (
            app.frames["insights"]["alerts"].set_index("alert_id").loc[alert_id, "status"]
            == "resolved"
        )
    finally:
        app.on_insight_action = app.on_alert_action = None


def test_live_updates_show_their_state_and_redraw(tmp_path: Path) -> None:
    from auterity_lab.config import Settings
    from auterity_lab.live import LiveFeed

    day = dt.datetime(2026, 10, 1, 9, tzinfo=dt.UTC)
    rows = {
        "users": [{"tenant_id": "acme", "created_at": day, "device": "mobile", "country": "DE"}],
        "user_sessions": [{"tenant_id": "acme", "created_at": day, "duration": 60}],
        "prompt_outputs": [
            {"tenant_id": "acme", "model_id": "gpt-4o", "response_time_ms": 500, "created_at": day}
        ],
        "workflow_runs": [{"tenant_id": "acme", "started_at": day, "duration_ms": 1000}],
    }
    data = build_data_dir(tmp_path / "data", rows)
    with (
        LiveFeed(data, settings=Settings(data_dir=data), poll_interval_s=0.2) as feed,
        Workbench.open(data, tenant="acme") as wb,
    ):
        app = dashboard(wb, start="2026-09-25", end="2026-10-03", live=feed)  # a feed it is given
        try:
            assert "polling every 0.2 s" in app.live_indicator.value
            assert feed.wait_until_idle(60)
            mark = len(app.computed)
            more = [
                *rows["prompt_outputs"],
                {**rows["prompt_outputs"][0], "created_at": day.replace(hour=10)},
            ]
            build_data_dir(data, {**rows, "prompt_outputs": more})
            deadline = time.monotonic() + 30
            while len(app.computed) == mark:
                assert time.monotonic() < deadline, "the dashboard never redrew"
                time.sleep(0.05)
            deadline = time.monotonic() + 30
            while (
                app.frames["overview"]["kpis"].set_index("metric").loc["ai_requests", "value"] != 2
            ):
                assert time.monotonic() < deadline
                time.sleep(0.05)
        finally:
            app.close()
        assert feed.state.status == "polling"  # a feed given to the dashboard stays open
