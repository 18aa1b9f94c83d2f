"""Precomputed dashboard views: stored with the long time to live, served without a query,
equal to a computation without the cache, rewritten over short-lived entries, and the CLI
hooks after ``demo``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from auterity_lab import precompute
from auterity_lab.cache import ResultCache, decode_entry
from auterity_lab.config import load_settings
from auterity_lab.dashboard import TABS, PanelContext, default_filters
from auterity_lab.errors import ConfigError, QueryParameterError, UnknownTenantError
from auterity_lab.security import SecurityContext, set_current_context
from auterity_lab.warehouse import Workbench

DAY = 86400.0


def _expiries(cache_dir: Path, tenant: str) -> list[float]:
    """Seconds from now until each disk entry of ``tenant`` expires."""
    return list(_entries(cache_dir, tenant).values())


def _entries(cache_dir: Path, tenant: str) -> dict[str, float]:
    """Each disk entry of ``tenant`` (by file name) → seconds from now until it expires."""
    now = time.time()
    return {
        p.name: decode_entry(p.read_bytes()).expires_at - now
        for p in (cache_dir / tenant).rglob("*.entry")
    }


def _panels(data_dir: Path, tenant: str, tab: str, **settings: object) -> dict[str, object]:
    with Workbench.open(data_dir, tenant=tenant, settings=load_settings(**settings)) as wb:
        ctx = PanelContext(wb, default_filters(wb))
        return {p.name: p.compute(ctx) for p in TABS[tab].panels}


def test_precomputed_tabs_are_served_from_disk_and_equal_a_cold_computation(
    demo_dir: Path, tmp_path: Path
) -> None:
    cache_dir = tmp_path / "cache"
    seen: list[tuple[int, int, str]] = []
    run = precompute.precompute_dashboard(
        demo_dir,
        tenants=["acme"],
        tabs=["overview", "workflow"],
        keep_days=2,
        settings=load_settings(cache_dir=cache_dir),
        progress=lambda done, total, label: seen.append((done, total, label)),
    )
    assert [(t.tenant, t.tab, t.text, t.panels) for t in run.tabs] == [
        ("acme", "overview", "raw", len(TABS["overview"].panels)),
        ("acme", "workflow", "raw", len(TABS["workflow"].panels)),
        ("acme", "overview", "masked", len(TABS["overview"].panels)),
        ("acme", "workflow", "masked", len(TABS["workflow"].panels)),
    ]
    assert run.errors == [] and run.keep_days == 2
    assert seen == [
        (1, 4, "acme/overview"),
        (2, 4, "acme/workflow"),
        (3, 4, "acme/overview (masked text)"),
        (4, 4, "acme/workflow (masked text)"),
    ]
    left = _expiries(cache_dir, "acme")
    assert left and all(2 * DAY - 120 < s <= 2 * DAY for s in left)
    assert not (cache_dir / "globex").exists()

    cold = _panels(demo_dir, "acme", "workflow", cache_enabled=False)
    # a new workbench with the ordinary settings (and so a new memory layer): every lookup is
    # answered by the disk layer, none computes
    ordinary = load_settings(cache_dir=cache_dir)
    warm = _panels(demo_dir, "acme", "workflow", cache_dir=cache_dir)
    stats = ResultCache.for_settings(ordinary, demo_dir).stats()
    assert stats.layers["disk"].hits > 0 and stats.layers["disk"].misses == 0
    assert warm.keys() == cold.keys()
    for name, frame in cold.items():
        pd.testing.assert_frame_equal(warm[name], frame, check_dtype=False, obj=name)


def test_precompute_rewrites_entries_stored_with_a_short_time_to_live(
    demo_dir: Path, tmp_path: Path
) -> None:
    cache_dir = tmp_path / "cache"
    short = {"cache_dir": cache_dir, "cache_ttl_seconds": {"workflow": 60}}
    _panels(demo_dir, "globex", "workflow", **short)
    before = _entries(cache_dir, "globex")
    assert max(before.values()) <= 300 and min(before.values()) <= 60
    precompute.precompute_dashboard(
        demo_dir, tenants=["globex"], tabs=["workflow"], settings=load_settings(cache_dir=cache_dir)
    )
    after = _entries(cache_dir, "globex")
    # found, the short-lived entries would have been kept; they were rewritten to live 7 days
    assert before.keys() <= after.keys() and all(s > 7 * DAY - 120 for s in after.values())


def test_default_tenants_follow_the_security_context(demo_dir: Path, tmp_path: Path) -> None:
    set_current_context(SecurityContext("ana", "initech", roles=frozenset({"viewer"})))
    try:
        run = precompute.precompute_dashboard(
            demo_dir, tabs=["workflow"], settings=load_settings(cache_dir=tmp_path / "c")
        )
    finally:
        set_current_context(None)
    assert [(t.tenant, t.text) for t in run.tabs] == [("initech", "masked")]  # a viewer's view


def test_bad_arguments_are_named(demo_dir: Path, tmp_path: Path) -> None:
    settings = load_settings(cache_dir=tmp_path / "c")
    with pytest.raises(QueryParameterError, match="unknown tab 'charts'; known: overview"):
        precompute.precompute_dashboard(demo_dir, tabs=["charts"], settings=settings)
    for bad in (0, -1.5, float("nan"), True, "7"):
        with pytest.raises(QueryParameterError, match="keep_days must be a positive number"):
            precompute.precompute_dashboard(demo_dir, keep_days=bad, settings=settings)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="result cache is off"):
        precompute.precompute_dashboard(demo_dir, settings=load_settings(cache_enabled=False))
    with pytest.raises(UnknownTenantError):
        precompute.precompute_dashboard(demo_dir, tenants=["umbrella"], settings=settings)
    assert not (tmp_path / "c").exists() or not list((tmp_path / "c").rglob("*.entry"))


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "auterity_lab", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


def test_demo_precomputes_unless_turned_off(tmp_path: Path) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTERITY_LAB_")}
    small = ["--tenants", "1", "--days", "20", "--scale", "0.02"]
    on = _cli("demo", "--data", str(tmp_path / "on"), *small, env=env)
    assert on.returncode == 0, on.stderr
    assert "precomputed the dashboard's default view: 10 tabs (raw and masked text)" in on.stderr
    assert list((tmp_path / "on" / "cache" / "acme").rglob("*.entry"))

    off_env = env | {"AUTERITY_LAB_PRECOMPUTE_DASHBOARD": "false"}
    off = _cli("demo", "--data", str(tmp_path / "off"), *small, env=off_env)
    assert off.returncode == 0, off.stderr
    assert "precomputed" not in off.stderr and not (tmp_path / "off" / "cache").exists()

    again = _cli(
        "precompute", "--data", str(tmp_path / "off"), "--tab", "ml", "--keep-days", "1", env=env
    )
    assert again.returncode == 0, again.stderr
    assert "kept 1 days" in again.stderr and "acme" in again.stderr
    bad = _cli("precompute", "--data", str(tmp_path / "off"), "--tab", "nope", env=env)
    assert bad.returncode == 1 and "unknown tab 'nope'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_after_an_extract_a_failed_precomputation_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from auterity_lab.cli._common import refresh_precomputed
    from auterity_lab.synth import generate_demo

    data = tmp_path / "data"
    generate_demo(data, tenants=1, days=14, scale=0.02, seed=5)
    monkeypatch.setenv("AUTERITY_LAB_CACHE_DIR", str(tmp_path / "cache"))
    next((data / "extracts" / "relaycore" / "workflow_runs").rglob("*.parquet")).unlink()
    refresh_precomputed(data)  # does not raise: the extract it follows has succeeded
    err = capsys.readouterr().err
    assert "default view was not precomputed" in err and "workflow_runs" in err
    assert not list((tmp_path / "cache").rglob("*.entry"))


def test_keys_do_not_depend_on_the_tabs_computed_before(demo_dir: Path, tmp_path: Path) -> None:
    """The AI/ML tab defines the cost relations; the Insights tab, precomputed after it, must
    still be found by a dashboard that opens on Insights first."""
    cache_dir = tmp_path / "cache"
    settings = load_settings(cache_dir=cache_dir)
    precompute.precompute_dashboard(
        demo_dir, tenants=["acme"], tabs=["ml", "insights"], settings=settings
    )
    fresh = load_settings(cache_dir=cache_dir, cache_memory_entries=7)  # its own memory layer
    with Workbench.open(demo_dir, tenant="acme", settings=fresh) as wb:
        ctx = PanelContext(wb, default_filters(wb))
        for panel in TABS["insights"].panels:
            panel.compute(ctx)
        stats = wb.cache.stats()  # type: ignore[union-attr]
    assert stats.layers["disk"].hits > 0 and stats.layers["disk"].misses == 0


def _served(data_dir: Path, cache_dir: Path, tab: str, context: SecurityContext | None) -> dict:
    """The tab's panels for ``context`` through a fresh memory layer, with the cache's counts."""
    fresh = load_settings(cache_dir=cache_dir, cache_memory_entries=11)
    with Workbench.open(data_dir, tenant="acme", settings=fresh, context=context) as wb:
        ctx = PanelContext(wb, default_filters(wb))
        before = wb.cache.stats().layers["disk"]  # type: ignore[union-attr]
        panels = {p.name: p.compute(ctx) for p in TABS[tab].panels}
        after = wb.cache.stats().layers["disk"]  # type: ignore[union-attr]
        with wb.no_cache():
            cold = {p.name: p.compute(PanelContext(wb, ctx.filters)) for p in TABS[tab].panels}
    return {
        "panels": panels,
        "cold": cold,
        "hits": after.hits - before.hits,
        "misses": after.misses - before.misses,
    }


def test_viewers_get_the_precomputed_masked_view(demo_dir: Path, tmp_path: Path) -> None:
    """A user who may not read raw text opens the AI/ML tab: every panel comes from the disk,
    with the prompts masked as a computation without the cache masks them."""
    cache_dir = tmp_path / "cache"
    run = precompute.precompute_dashboard(
        demo_dir, tenants=["acme"], tabs=["ml"], settings=load_settings(cache_dir=cache_dir)
    )
    assert [t.text for t in run.tabs] == ["raw", "masked"] and run.errors == []
    for role in ("viewer", "data_scientist"):
        got = _served(demo_dir, cache_dir, "ml", SecurityContext("u", "acme", roles={role}))
        assert got["hits"] > 0 and got["misses"] == 0, role
        prompts = got["panels"]["prompts"]["prompt_preview"]
        assert prompts.str.startswith("[redacted").all() == (role == "viewer"), role
        for name, frame in got["cold"].items():
            pd.testing.assert_frame_equal(got["panels"][name], frame, obj=f"{role} {name}")


def test_results_without_masked_text_are_shared_by_both_views(
    demo_dir: Path, tmp_path: Path
) -> None:
    """What a data scientist computed (raw text) serves a viewer for every Business panel (no
    prompt or feedback text read), but not for the AI/ML panels, which read masked text."""
    cache_dir = tmp_path / "cache"
    scientist = SecurityContext("ds", "acme", roles={"data_scientist"})
    viewer = SecurityContext("v", "acme", roles={"viewer"})
    for tab in ("business", "ml"):
        _served(demo_dir, cache_dir, tab, scientist)
    business = _served(demo_dir, cache_dir, "business", viewer)
    assert business["hits"] > 0 and business["misses"] == 0
    for name, frame in business["cold"].items():
        pd.testing.assert_frame_equal(business["panels"][name], frame, obj=name)
    assert _served(demo_dir, cache_dir, "ml", viewer)["misses"] > 0


def test_a_raw_text_context_precomputes_both_views_a_viewer_only_its_own(
    demo_dir: Path, tmp_path: Path
) -> None:
    texts = {}
    for role in ("data_scientist", "viewer"):
        set_current_context(SecurityContext("u", "globex", roles={role}))
        try:
            run = precompute.precompute_dashboard(
                demo_dir, tabs=["ml"], settings=load_settings(cache_dir=tmp_path / role)
            )
        finally:
            set_current_context(None)
        texts[role] = [(t.tenant, t.text) for t in run.tabs]
    assert texts == {
        "data_scientist": [("globex", "raw"), ("globex", "masked")],
        "viewer": [("globex", "masked")],
    }
