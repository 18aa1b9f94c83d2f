"""The dashboard served by Voila, in headless Chromium (Debian's, driven by Playwright) at 1400 px
and 600 px wide: tabs and charts visible, nothing overflowing sideways, a tab computed on first
click, the live-update state shown, an export link offered. Screenshots go to the test's tmp dir."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import papermill
import pytest

from auterity_lab.config import packaged_dir

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TAB_TITLES = ["Overview", "Business", "AI/ML", "Workflow", "Insights"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One Voila server for the module, on the dashboard notebook with the demo's parameters."""
    pytest.importorskip("voila")
    root = tmp_path_factory.mktemp("voila")
    data = root / "demo"
    shutil.copytree(demo_dir, data)
    notebook = root / "dashboard.ipynb"
    papermill.execute_notebook(  # parameters injected, nothing run: Voila runs it per visitor
        str(packaged_dir("notebooks") / "dashboard.ipynb"),
        str(notebook),
        prepare_only=True,
        parameters={
            "data_dir": str(data),
            "tenant": "acme",
            "tenants": ["globex"],
            "start": "2026-09-06",
            "end": "2026-11-01",
        },
    )
    port = _free_port()
    voila = Path(sys.executable).with_name("voila")
    log = (root / "voila.log").open("w")
    proc = subprocess.Popen(
        [
            str(voila),
            str(notebook),
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            "--show_tracebacks=True",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
        env={**os.environ, "AUTERITY_LAB_DATA_DIR": str(data)},
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
                break
            except OSError:
                assert proc.poll() is None, (root / "voila.log").read_text()
                assert time.monotonic() < deadline, "voila did not start"
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _fits(page: object) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # type: ignore[attr-defined]


def _visible_charts(page: object) -> int:
    charts = page.locator(".auterity-dashboard .js-plotly-plot:visible")  # type: ignore[attr-defined]
    return sum(
        1
        for i in range(charts.count())
        if (charts.nth(i).bounding_box() or {}).get("width", 0) > 50
    )


def test_dashboard_in_chromium_at_1400_and_600_px(served: str, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(served, timeout=240_000)
            tabs = page.locator(".auterity-dashboard .lm-TabBar-tab")
            tabs.first.wait_for(timeout=240_000)
            page.wait_for_function(
                "document.querySelectorAll('.auterity-dashboard .js-plotly-plot').length >= 3",
                timeout=120_000,
            )
            assert tabs.all_inner_texts() == TAB_TITLES
            assert _visible_charts(page) >= 3  # health, KPI cards, daily trends
            state = page.locator(".auterity-live-state")
            assert (
                state.get_attribute("data-status") == "polling"
                and "polling every 30 s" in state.inner_text()
            )
            assert page.get_by_text("Tenant").first.is_visible()  # two tenants: the filter shows
            assert _fits(page)
            page.screenshot(path=str(tmp_path / "overview-1400.png"), full_page=True)

            tabs.nth(1).click()  # Business is computed now, on first opening
            page.wait_for_function(
                "[...document.querySelectorAll('.auterity-dashboard .js-plotly-plot')]"
                ".filter(e => e.offsetParent !== null).length >= 7",
                timeout=120_000,
            )
            assert _fits(page)
            page.screenshot(path=str(tmp_path / "business-1400.png"), full_page=True)

            page.set_viewport_size({"width": 600, "height": 1000})
            page.wait_for_timeout(1500)  # charts follow their container's width
            assert _visible_charts(page) >= 7
            widths = page.evaluate(
                "[...document.querySelectorAll('.auterity-dashboard .js-plotly-plot')]"
                ".filter(e => e.offsetParent !== null).map(e => e.getBoundingClientRect().right)"
            )
            assert max(widths) <= 600, widths
            assert _fits(page), page.evaluate("document.documentElement.scrollWidth")
            page.screenshot(path=str(tmp_path / "business-600.png"), full_page=True)
            tabs.nth(0).click()
            page.wait_for_timeout(1000)
            assert _visible_charts(page) >= 3 and _fits(page)
            page.screenshot(path=str(tmp_path / "overview-600.png"), full_page=True)

            page.get_by_role("button", name="Export CSV").click()
            link = page.locator("a[download$='.zip']")
            link.wait_for(timeout=60_000)
            assert link.get_attribute("download") == "acme-overview-2026-09-06_2026-11-01.zip"
        finally:
            browser.close()
    shots = sorted(p.name for p in tmp_path.glob("*.png"))
    assert shots == [
        "business-1400.png",
        "business-600.png",
        "overview-1400.png",
        "overview-600.png",
    ]
    assert all((tmp_path / s).stat().st_size > 10_000 for s in shots)
