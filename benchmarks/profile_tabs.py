"""Profile the dashboard tabs: time every panel's compute and every query it runs.

For each tab of :data:`auterity_lab.dashboard.TABS` (one tenant, a fresh workbench per tab, so
the tab is computed cold), every panel is computed as the dashboard does (one shared
:class:`~auterity_lab.dashboard.PanelContext` per tab) for the last 30 days and for the full
range. Each SQL statement the panels run is timed too, so the slowest step of a tab shows.
Each tab runs in its own process (result cache off), whose peak resident memory is reported.

Usage::

    python benchmarks/profile_tabs.py DATA_DIR [--tenant acme] [--tabs overview,ml]
        [--ranges 30d,full] [--top 5] [--json out.json]

Not part of the test suite; numbers vary with the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any


def _profile_tab(data_dir: str, tenant: str, tab: str, start: dt.date, end: dt.date) -> dict:
    os.environ["AUTERITY_LAB_CACHE_ENABLED"] = "false"  # cold: every panel computes
    from auterity_lab import dashboard
    from auterity_lab.warehouse import Workbench

    queries: list[tuple[str, str, float]] = []
    original = Workbench._run
    current = {"panel": ""}

    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            label = kwargs.get("label") or kwargs.get("name") or "SQL"
            queries.append((current["panel"], str(label), time.perf_counter() - t0))

    Workbench._run = timed  # type: ignore[method-assign]
    t0 = time.perf_counter()
    wb = Workbench.open(data_dir, tenant=tenant, strict=False)
    opened = time.perf_counter() - t0
    ctx = dashboard.PanelContext(wb, dashboard.Filters(tenant, start, end))
    panels: dict[str, float] = {}
    t_tab = time.perf_counter()
    for panel in dashboard.TABS[tab].panels:
        current["panel"] = panel.name
        t0 = time.perf_counter()
        panel.compute(ctx)
        panels[panel.name] = time.perf_counter() - t0
    total = time.perf_counter() - t_tab
    wb.close()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "tab": tab,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "open_s": opened,
        "total_s": total,
        "peak_mib": peak_mib,
        "panels": panels,
        "queries": queries,
    }


def _run_in_child(args: tuple) -> dict:
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(_profile_tab, args)


def _extent(data_dir: str, tenant: str) -> tuple[dt.date, dt.date]:
    from auterity_lab.digest import latest_complete_day
    from auterity_lab.warehouse import Workbench

    with Workbench.open(data_dir, tenant=tenant) as wb:
        last = latest_complete_day(wb) + dt.timedelta(days=1)
        first = wb.sql("SELECT min(date) AS d FROM user_sessions")["d"].iloc[0]
    return _as_date(first), last


def _as_date(value: Any) -> dt.date:
    return value.date() if hasattr(value, "date") and callable(value.date) else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir")
    parser.add_argument("--tenant", default="acme")
    parser.add_argument("--tabs", default="overview,business,ml,workflow,insights")
    parser.add_argument("--ranges", default="30d,full")
    parser.add_argument("--top", type=int, default=4, help="slowest queries shown per tab")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    first, last = _extent(args.data_dir, args.tenant)
    ranges = {"30d": (last - dt.timedelta(days=30), last), "full": (first, last)}
    results = []
    for rng in args.ranges.split(","):
        start, end = ranges[rng]
        for tab in args.tabs.split(","):
            r = _run_in_child((args.data_dir, args.tenant, tab, start, end))
            r["range"] = rng
            results.append(r)
            slow = sorted(r["queries"], key=lambda q: -q[2])[: args.top]
            print(
                f"{tab:9s} {rng:4s} total {r['total_s']:6.3f}s  open {r['open_s']:.3f}s  "
                f"peak {r['peak_mib']:6.0f} MiB"
            )
            for name, secs in sorted(r["panels"].items(), key=lambda kv: -kv[1]):
                print(f"    panel {name:12s} {secs:6.3f}s")
            for panel, label, secs in slow:
                print(f"      query {secs:6.3f}s  [{panel}] {label}")
            sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
