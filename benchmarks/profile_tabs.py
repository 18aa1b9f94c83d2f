"""Profile the dashboard tabs: time every panel's compute and every query it runs, cold and warm.

For each tab of :data:`auterity_lab.dashboard.TABS` (one tenant), every panel is computed as the
dashboard does (one shared :class:`~auterity_lab.dashboard.PanelContext` per computation of the
tab) for each range asked for (``30d``: the last 30 days; ``8w``: the dashboard's default eight
weeks; ``full``: everything). Each SQL statement the panels run is timed too, so the slowest step
of a tab shows. Each tab runs in its own process, whose peak resident memory is reported.

``--mode cold`` (default): result cache off, a fresh workbench per tab: every panel computes.

``--mode warm``: the result cache on, in a fresh cache directory per tab (or ``--cache-dir``).
A first process computes the tab once (filling the cache; reported as ``fill``), then computes it
``--repeats`` more times on the same workbench with a new panel context each time (``same
process``: the memory layer answers). A second process then opens a new workbench over the same
cache directory and computes the tab ``--repeats`` times (``new process``: the first call is
answered by the disk layer, the later ones by memory). For warm calls every statement that still
ran (a cache miss or an uncacheable result) is listed with its time, and the time spent outside
SQL is shown as ``python``.

``--mode precomputed``: what a dashboard opened after an extract sees. A first process runs
:func:`auterity_lab.precompute.precompute_dashboard` for the tenant (as ``extract`` and ``demo``
do) into a fresh cache directory, timing each tab (raw text + the masked view's own panels);
then, per tab, a new process opens a workbench on that cache and computes the tab once
(reported as ``first call``).

``--prompts-top N`` computes the AI/ML tab's prompt table with ``prompt_analytics(...,
top=N)``, as the dashboard does once it asks for the rows it shows (a proposed change to
``auterity_lab/dashboard.py``; without it the panel holds every distinct prompt of the range).

Usage::

    python benchmarks/profile_tabs.py DATA_DIR [--tenant acme] [--tabs overview,ml]
        [--ranges 30d,8w,full] [--top 5] [--mode cold|warm|precomputed] [--repeats 3]
        [--prompts-top 200]
        [--json out.json]

Not part of the test suite; numbers vary with the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _instrument(queries: list[tuple[str, str, float, bool]], current: dict[str, str]) -> None:
    """Time every ``Workbench._run`` (one per SQL statement) and note whether the cache hit."""
    from auterity_lab.warehouse import Workbench

    original = Workbench._run

    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        cache = self.cache
        hits_before = _hits(cache)
        t0 = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            label = kwargs.get("label") or kwargs.get("name") or "SQL"
            hit = cache is not None and _hits(cache) > hits_before
            queries.append((current["panel"], str(label), time.perf_counter() - t0, hit))

    Workbench._run = timed  # type: ignore[method-assign]


def _hits(cache: Any) -> int:
    if cache is None:
        return 0
    return sum(layer.hits for layer in cache.stats().layers.values())


def _prompts_top(n: int) -> None:
    """Make the AI/ML tab's prompt panel ask for its ``n`` most used prompts only."""
    from dataclasses import replace

    from auterity_lab import dashboard, ml

    tab = dashboard.TABS["ml"]
    panels = tuple(
        replace(p, compute=lambda c: ml.prompt_analytics(
            c.wb, top=n, **c.filters.range(), model=c.filters.model))
        if p.name == "prompts" else p
        for p in tab.panels
    )
    dashboard.TABS["ml"] = replace(tab, panels=panels)


def _compute_tab(wb: Any, tenant: str, tab: str, start: dt.date, end: dt.date,
                 current: dict[str, str]) -> tuple[float, dict[str, float]]:
    from auterity_lab import dashboard

    ctx = dashboard.PanelContext(wb, dashboard.Filters(tenant, start, end))
    panels: dict[str, float] = {}
    t_tab = time.perf_counter()
    for panel in dashboard.TABS[tab].panels:
        current["panel"] = panel.name
        t0 = time.perf_counter()
        panel.compute(ctx)
        panels[panel.name] = time.perf_counter() - t0
    return time.perf_counter() - t_tab, panels


def _profile_tab(data_dir: str, tenant: str, tab: str, start: dt.date, end: dt.date,
                 mode: str = "cold", cache_dir: str = "", repeats: int = 0,
                 prompts_top: int = 0) -> dict:
    """One process: compute the tab once (cold, or filling the cache), then ``repeats`` times."""
    if mode == "cold":
        os.environ["AUTERITY_LAB_CACHE_ENABLED"] = "false"  # cold: every panel computes
    else:
        os.environ["AUTERITY_LAB_CACHE_ENABLED"] = "true"
        os.environ["AUTERITY_LAB_CACHE_DIR"] = cache_dir
    from auterity_lab.warehouse import Workbench

    if prompts_top:
        _prompts_top(prompts_top)
    queries: list[tuple[str, str, float, bool]] = []
    current = {"panel": ""}
    _instrument(queries, current)
    t0 = time.perf_counter()
    wb = Workbench.open(data_dir, tenant=tenant, strict=False)
    opened = time.perf_counter() - t0
    calls = []
    for _ in range(1 + repeats):
        queries.clear()
        hits = _hits(wb.cache)
        total, panels = _compute_tab(wb, tenant, tab, start, end, current)
        ran = [q for q in queries if not q[3]]
        calls.append({
            "total_s": total,
            "panels": panels,
            "queries": [q[:3] for q in queries],
            "ran": [q[:3] for q in ran],
            "sql_s": sum(q[2] for q in ran),
            "hits": _hits(wb.cache) - hits,  # query and function results
        })
    stats = wb.cache.stats() if wb.cache is not None else None
    wb.close()
    return {
        "tab": tab,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "open_s": opened,
        "calls": calls,
        "uncacheable": stats.uncacheable if stats else None,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _run_in_child(*args: Any) -> dict:
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(_profile_tab, args)


def _extent(data_dir: str, tenant: str) -> tuple[dt.date, dt.date]:
    from auterity_lab.digest import latest_complete_day
    from auterity_lab.warehouse import Workbench

    with Workbench.open(data_dir, tenant=tenant) as wb, wb.no_cache():
        last = latest_complete_day(wb) + dt.timedelta(days=1)
        first = wb.sql("SELECT min(date) AS d FROM user_sessions")["d"].iloc[0]
    return _as_date(first), last


def _as_date(value: Any) -> dt.date:
    return value.date() if hasattr(value, "date") and callable(value.date) else value


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def _print_cold(r: dict, top: int) -> None:
    call = r["calls"][0]
    print(
        f"{r['tab']:9s} {r['range']:4s} total {call['total_s']:6.3f}s  open {r['open_s']:.3f}s  "
        f"peak {r['peak_mib']:6.0f} MiB"
    )
    for name, secs in sorted(call["panels"].items(), key=lambda kv: -kv[1]):
        print(f"    panel {name:12s} {secs:6.3f}s")
    for panel, label, secs in sorted(call["queries"], key=lambda q: -q[2])[:top]:
        print(f"      query {secs:6.3f}s  [{panel}] {label}")


def _print_warm(r: dict, top: int) -> None:
    same, new = r["same_process"], r["new_process"]
    fill = same["calls"][0]
    print(
        f"{r['tab']:9s} {r['range']:4s} fill {fill['total_s']:7.3f}s | same process "
        f"{_ms(r['warm_same_s'])} | new process first {_ms(r['warm_new_first_s'])}, then "
        f"{_ms(r['warm_new_s'])} (open {new['open_s']:.3f}s) | peak {same['peak_mib']:.0f}/"
        f"{new['peak_mib']:.0f} MiB"
    )
    for label, calls in (("same", same["calls"][1:]), ("new", new["calls"][:1])):
        for call in calls[:1]:
            python = call["total_s"] - call["sql_s"]
            print(
                f"    {label:4s}: {len(call['ran'])} statements ran ({_ms(call['sql_s'])}), "
                f"{call['hits']} cache hits, python {_ms(python)}"
            )
            for name, secs in sorted(call["panels"].items(), key=lambda kv: -kv[1])[:top]:
                print(f"      panel {name:12s} {_ms(secs)}")
            for panel, q, secs in sorted(call["ran"], key=lambda q: -q[2])[:top]:
                print(f"      ran   {_ms(secs)}  [{panel}] {q}")


def _warm(args: argparse.Namespace, tab: str, start: dt.date, end: dt.date) -> dict:
    with tempfile.TemporaryDirectory(prefix="profile-tabs-cache-") as tmp:
        cache_dir = args.cache_dir or tmp
        same = _run_in_child(args.data_dir, args.tenant, tab, start, end, "warm", cache_dir,
                             args.repeats, args.prompts_top)
        new = _run_in_child(args.data_dir, args.tenant, tab, start, end, "warm", cache_dir,
                            max(args.repeats - 1, 0), args.prompts_top)
    later = [c["total_s"] for c in new["calls"][1:]]
    return {
        "tab": tab,
        "same_process": same,
        "new_process": new,
        "warm_same_s": statistics.median(c["total_s"] for c in same["calls"][1:]),
        "warm_new_first_s": new["calls"][0]["total_s"],
        "warm_new_s": statistics.median(later) if later else new["calls"][0]["total_s"],
    }


def _precompute(data_dir: str, tenant: str, tabs: list[str], cache_dir: str) -> dict:
    """One process: precompute the tenant's default dashboard view into ``cache_dir``."""
    from auterity_lab.config import load_settings
    from auterity_lab.precompute import precompute_dashboard

    run = precompute_dashboard(data_dir, tenants=[tenant], tabs=tabs,
                               settings=load_settings(cache_dir=cache_dir))
    tabs: dict[str, dict[str, float]] = {}
    for t in run.tabs:  # the raw-text view, then the masked one (only what it does not share)
        tabs.setdefault(t.tab, {})[t.text] = t.seconds
    return {"seconds": run.seconds, "tabs": tabs, "errors": run.errors}


def _precomputed(args: argparse.Namespace) -> list[dict]:
    tabs = args.tabs.split(",")
    start, end = _default_range(args.data_dir, args.tenant)
    with tempfile.TemporaryDirectory(prefix="profile-tabs-cache-") as cache_dir:
        with mp.get_context("spawn").Pool(1) as pool:
            pre = pool.apply(_precompute, (args.data_dir, args.tenant, tabs, cache_dir))
        print(f"precomputed {len(tabs)} tabs of {args.tenant} (raw and masked text) in "
              f"{pre['seconds']:.1f} s"
              + (f"; failed: {pre['errors']}" if pre["errors"] else ""))
        results = []
        for tab in tabs:
            r = _run_in_child(args.data_dir, args.tenant, tab, start, end, "warm", cache_dir, 0,
                              0)
            call = r["calls"][0]
            took = pre["tabs"][tab]
            print(f"{tab:9s} precompute {took.get('raw', 0):5.2f} s + masked "
                  f"{took.get('masked', 0):5.2f} s | first call in a new process "
                  f"{_ms(call['total_s'])} (open {r['open_s']:.3f} s), {len(call['ran'])} "
                  f"statements ran | peak {r['peak_mib']:.0f} MiB")
            results.append({**r, "precompute_s": pre["tabs"][tab], "range": "default",
                            "load_average": os.getloadavg()})
            sys.stdout.flush()
    return results


def _default_range(data_dir: str, tenant: str) -> tuple[dt.date, dt.date]:
    from auterity_lab.dashboard import default_filters
    from auterity_lab.warehouse import Workbench

    with Workbench.open(data_dir, tenant=tenant) as wb, wb.no_cache():
        f = default_filters(wb)
    return f.start, f.end


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir")
    parser.add_argument("--tenant", default="acme")
    parser.add_argument("--tabs", default="overview,business,ml,workflow,insights")
    parser.add_argument("--ranges", default="30d,full", help="of 30d, 8w, full")
    parser.add_argument("--top", type=int, default=4, help="slowest queries shown per tab")
    parser.add_argument("--mode", choices=("cold", "warm", "precomputed"), default="cold")
    parser.add_argument("--repeats", type=int, default=3, help="warm calls per process")
    parser.add_argument("--cache-dir", default="", help="warm: cache dir (default: a fresh one)")
    parser.add_argument("--prompts-top", type=int, default=0,
                        help="AI/ML tab: prompt table of the N most used prompts (0: all)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.mode == "warm" and args.repeats < 1:
        parser.error("--repeats must be at least 1 in warm mode")
    if args.mode == "precomputed":
        results = _precomputed(args)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
        return 0
    first, last = _extent(args.data_dir, args.tenant)
    ranges = {
        "30d": (last - dt.timedelta(days=30), last),
        "8w": (last - dt.timedelta(weeks=8), last),
        "full": (first, last),
    }
    results = []
    for rng in args.ranges.split(","):
        start, end = ranges[rng]
        for tab in args.tabs.split(","):
            if args.mode == "cold":
                r = _run_in_child(args.data_dir, args.tenant, tab, start, end, "cold", "", 0,
                                  args.prompts_top)
                r["range"] = rng
                _print_cold(r, args.top)
            else:
                r = _warm(args, tab, start, end)
                r["range"] = rng
                _print_warm(r, args.top)
            r["load_average"] = os.getloadavg()
            results.append(r)
            sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
