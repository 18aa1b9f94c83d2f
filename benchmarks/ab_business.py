"""A/B the Business tab cold: two source trees of the package, alternating, same data.

Each round starts one fresh process per tree (old, new, old, new, ...), opens a workbench with
the result cache off and computes every panel of the dashboard's Business tab once, as the
dashboard does (one shared :class:`~auterity_lab.dashboard.PanelContext`). Every SQL statement is
timed and named after the query file it runs (``(new: rollup)`` marks a statement the new tree
answered from its form in ``queries/rollups/``). The table gives, per tree, the minimum and the
median over the rounds of the whole tab, of each panel and of each statement (statements of one
query are numbered in the order they ran: the KPIs run several). A fresh process per round is
what "cold" means here: nothing cached, not even DuckDB's Parquet metadata.

Typical use: the last commit against the working tree::

    git archive HEAD | tar -x -C /tmp/old
    nice python benchmarks/ab_business.py DATA_DIR --old /tmp/old --rounds 5

``DATA_DIR`` needs the rollups the new tree reads (``auterity_lab.rollups.build_rollups``); the
old tree ignores those it does not know. Not part of the test suite; numbers vary with the
machine, so only the old/new ratio in the same run means something.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _child(data_dir: str, tenant: str, start: str, end: str) -> dict[str, Any]:
    """Run in the child process: compute the tab once and return the timings."""
    os.environ["AUTERITY_LAB_CACHE_ENABLED"] = "false"
    import auterity_lab
    from auterity_lab import dashboard
    from auterity_lab.warehouse import Workbench

    src = Path(auterity_lab.__file__).resolve().parents[1] / "queries"
    names = {p.read_text(encoding="utf-8"): (p.stem, "rows") for p in src.glob("*.sql")}
    forms = src.glob("rollups/*.sql")
    names |= {p.read_text(encoding="utf-8"): (p.stem, "rollup") for p in forms}
    statements: list[tuple[str, tuple[str, str], float]] = []
    panel = {"name": ""}
    original = Workbench._run

    def timed(self: Any, sql: str, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original(self, sql, *args, **kwargs)
        finally:
            name = names.get(sql, (kwargs.get("label", "SQL"), "rows"))
            statements.append((panel["name"], name, time.perf_counter() - t0))

    Workbench._run = timed  # type: ignore[method-assign]
    t0 = time.perf_counter()
    wb = Workbench.open(data_dir, tenant=tenant, strict=False)
    opened = time.perf_counter() - t0
    filters = dashboard.Filters(tenant, dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    ctx = dashboard.PanelContext(wb, filters)
    panels: dict[str, float] = {}
    t_tab = time.perf_counter()
    for p in dashboard.TABS["business"].panels:
        panel["name"] = p.name
        t0 = time.perf_counter()
        p.compute(ctx)
        panels[p.name] = time.perf_counter() - t0
    total = time.perf_counter() - t_tab
    wb.close()
    seen: dict[str, int] = {}
    named, paths = {}, {}
    for where, (name, path), seconds in statements:
        key = f"{where}: {name}"
        seen[key] = seen.get(key, 0) + 1
        key = f"{key} #{seen[key]}" if seen[key] > 1 else key
        named[key], paths[key] = seconds, path
    return {"total": total, "open": opened, "panels": panels, "statements": named, "paths": paths}


def _run_tree(src: Path, args: argparse.Namespace) -> dict[str, Any]:
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(1, sys.argv[2]); "
        "from ab_business import _child; "
        "print(json.dumps(_child(*sys.argv[3:])))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(src), str(ROOT / "benchmarks"), args.data_dir,
         args.tenant, args.start, args.end],
        check=True, capture_output=True, text=True, cwd=src,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def _summary(values: list[float]) -> str:
    return f"{min(values):7.3f} {statistics.median(values):7.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data_dir")
    parser.add_argument("--old", required=True, help="source tree of the old package")
    parser.add_argument("--new", default=str(ROOT), help="source tree of the new package")
    parser.add_argument("--tenant", default="acme")
    parser.add_argument("--start", default="2026-09-06", help="first day (the default 8 weeks)")
    parser.add_argument("--end", default="2026-11-01", help="exclusive end day")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="write every round's timings here")
    args = parser.parse_args()
    trees = {"old": Path(args.old).resolve(), "new": Path(args.new).resolve()}
    runs: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
    for i in range(args.rounds):
        for label, src in trees.items():
            runs[label].append(_run_tree(src, args))
            print(f"round {i + 1} {label}: {runs[label][-1]['total']:.3f} s", file=sys.stderr)
    print(f"Business tab cold, {args.tenant} {args.start}..{args.end}, {args.rounds} rounds "
          "(min median, seconds)")  # fmt: skip
    print(f"{'':62s} {'old min  median':>15s}  {'new min  median':>15s}  new/old (median)")

    def row(label: str, old: list[float], new: list[float]) -> None:
        ratio = statistics.median(new) / statistics.median(old) if old and new else float("nan")
        o = _summary(old) if old else f"{'-':>15s}"
        n = _summary(new) if new else f"{'-':>15s}"
        print(f"{label[:62]:62s} {o}  {n}  {ratio:6.2f}")

    row("TAB total", [r["total"] for r in runs["old"]], [r["total"] for r in runs["new"]])
    for name in runs["new"][0]["panels"]:
        row(f"  panel {name}", [r["panels"][name] for r in runs["old"]],
            [r["panels"][name] for r in runs["new"]])  # fmt: skip
    keys = list(dict.fromkeys([*runs["old"][0]["statements"], *runs["new"][0]["statements"]]))
    for key in keys:
        old = [r["statements"][key] for r in runs["old"] if key in r["statements"]]
        new = [r["statements"][key] for r in runs["new"] if key in r["statements"]]
        path = runs["new"][0]["paths"].get(key, "-")
        row(f"    {key}{' (new: rollup)' if path == 'rollup' else ''}", old, new)
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
