"""A/B timing of the AI/ML and Workflow tabs' queries: a base revision's SQL against the tree's.

For every query the two tabs run cold (with the parameters the dashboard passes for its default
eight weeks; ``ml_summary`` also for the period before, as :func:`auterity_lab.ml.ml_summary`
asks), the base revision's file (``git show BASE:queries/<name>.sql``) and the working tree's
run on one workbench, interleaved (old, new, new, old, ...) for ``--rounds`` rounds each, with
the result cache off. The view ``prompt_output_costs`` is redefined from the matching revision
of ``queries/ml_prompt_output_costs.sql`` before each run, so a change to the view is measured
too. Both results are compared (same columns, dtypes and row order; floats within 1e-9
relative); the min and median wall time of each side, their ratio and the median process
CPU time (less disturbed by other work on a shared machine) are printed, with sums per tab.

Run it with ``nice`` on a shared machine; the numbers are only comparable within one run.

Usage::

    nice python benchmarks/ab_ml_workflow.py DATA_DIR [--tenant acme] [--weeks 8]
        [--rounds 3] [--base HEAD] [--queries ml_summary,workflow_sla] [--json out.json]

Not part of the test suite; numbers vary with the machine.
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

COST_VIEW_QUERY = "ml_prompt_output_costs"

ML_QUERIES = (
    "ml_summary",
    "ml_summary@previous",
    "ml_prompts_top",
    "ml_model_performance",
    "ml_cost_over_time",
)
WORKFLOW_QUERIES = (
    "workflow_step_breakdown",
    "workflow_ai_workflows",
    "workflow_step_periods",
    "workflow_runs_summary",
    "workflow_runs_over_time",
    "workflow_sla",
)

_EXTRA_PARAMS: dict[str, dict[str, Any]] = {
    "ml_prompts_top": {"top": 200},  # the dashboard's table (auterity_lab.dashboard._TABLE_ROWS)
    "ml_cost_over_time": {"grain": "day"},
    "workflow_runs_over_time": {"period": "week"},  # eight weeks: weekly (dashboard._interval)
    "workflow_step_periods": {"period": "week"},
}


def _revision_text(base: str, name: str) -> str:
    """The query file ``name`` at revision ``base`` (empty if it did not exist there)."""
    done = subprocess.run(
        ["git", "show", f"{base}:queries/{name}.sql"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout if done.returncode == 0 else ""


def _params(case: str, start: dt.datetime, end: dt.datetime, sql: str) -> dict[str, Any]:
    """The dashboard's parameters of one case (``name@previous``: the period before)."""
    name, _, variant = case.partition("@")
    if variant == "previous":
        start, end = start - (end - start), start
    wanted = {"start": start, "end": end, **_EXTRA_PARAMS.get(name, {})}
    return {k: v for k, v in wanted.items() if f"${k}" in sql}


def _run(wb: Any, view_sql: str, sql: str, params: dict[str, Any]) -> tuple[float, float, Any]:
    """(wall seconds, process CPU seconds, result) of one query."""
    from auterity_lab.ml.cost import COST_VIEW
    from auterity_lab.queries import parse_query

    wb.create_view(COST_VIEW, view_sql)
    query = parse_query("ab", sql)
    bound = query.bind(params)
    t0, c0 = time.perf_counter(), time.process_time()
    frame = wb.sql(query.sql, cache=False, **{k: v for k, v in bound.items() if f"${k}" in sql})
    return time.perf_counter() - t0, time.process_time() - c0, frame


def _same(old: Any, new: Any) -> str:
    import pandas as pd

    try:
        pd.testing.assert_frame_equal(
            old.reset_index(drop=True), new.reset_index(drop=True), check_exact=False, rtol=1e-9
        )
    except AssertionError as exc:
        return "DIFFERENT: " + " ".join(str(exc).split())[:300]
    return "equal"


_STATS = ("old_min", "old_median", "new_min", "new_median", "old_cpu", "new_cpu")
"""Per query: min and median wall seconds of each side, then the median process CPU seconds."""


def _measure(
    wb: Any,
    case: str,
    views: dict[str, str],
    base: str,
    rounds: int,
    start: dt.datetime,
    end: dt.datetime,
) -> dict[str, Any]:
    """Run one case old/new interleaved, print its line and return its statistics."""
    from auterity_lab.queries import queries_root

    name = case.partition("@")[0]
    texts = {
        "old": _revision_text(base, name),
        "new": (queries_root() / f"{name}.sql").read_text(encoding="utf-8"),
    }
    wall: dict[str, list[float]] = {"old": [], "new": []}
    cpu: dict[str, list[float]] = {"old": [], "new": []}
    frames: dict[str, Any] = {}
    for i in range(rounds):
        for side in ("old", "new") if i % 2 == 0 else ("new", "old"):
            if texts[side]:
                params = _params(case, start, end, texts[side])
                took, used, frames[side] = _run(wb, views[side], texts[side], params)
                wall[side].append(took)
                cpu[side].append(used)
    row: dict[str, Any] = {"query": case}
    for side in ("old", "new"):
        row[f"{side}_min"] = min(wall[side]) if wall[side] else None
        row[f"{side}_median"] = statistics.median(wall[side]) if wall[side] else None
        row[f"{side}_cpu"] = statistics.median(cpu[side]) if cpu[side] else None
    row["result"] = _same(frames["old"], frames["new"]) if len(frames) == 2 else "new query"
    ratio = (
        row["new_median"] / row["old_median"]
        if row["old_median"] and row["new_median"]
        else float("nan")
    )
    cells = " ".join(f"{row[k]:8.3f}" if row[k] is not None else f"{'-':>8}" for k in _STATS[:4])
    cpus = " ".join(f"{row[k]:8.3f}" if row[k] is not None else f"{'-':>8}" for k in _STATS[4:])
    print(f"{case:26} {cells} {ratio:8.2f} {cpus}  {row['result']}")
    sys.stdout.flush()
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir")
    parser.add_argument("--tenant", default="acme")
    parser.add_argument("--weeks", type=int, default=8, help="range: the last N weeks of data")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--base", default="HEAD", help="git revision of the old SQL")
    parser.add_argument("--queries", default=",".join(ML_QUERIES + WORKFLOW_QUERIES))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    os.environ["AUTERITY_LAB_CACHE_ENABLED"] = "false"
    sys.path.insert(0, str(ROOT))
    from auterity_lab.dashboard import default_filters
    from auterity_lab.ml.cost import attach_costs
    from auterity_lab.queries import queries_root
    from auterity_lab.workflow.sla import register_targets

    wb = __import__("auterity_lab.warehouse", fromlist=["Workbench"]).Workbench.open(
        args.data_dir, tenant=args.tenant, strict=False
    )
    attach_costs(wb)
    register_targets(wb, None)  # the SLA targets relation workflow_sla reads
    last = default_filters(wb).end
    end = dt.datetime.combine(last, dt.time(), tzinfo=dt.UTC)
    start = end - dt.timedelta(weeks=args.weeks)
    views = {
        "old": _revision_text(args.base, COST_VIEW_QUERY),
        "new": (queries_root() / f"{COST_VIEW_QUERY}.sql").read_text(encoding="utf-8"),
    }
    print(
        f"{args.tenant}, [{start:%Y-%m-%d}, {end:%Y-%m-%d}), base {args.base}, "
        f"{args.rounds} rounds each; wall and process CPU seconds"
    )
    print(
        f"{'query':26} {'old min':>8} {'old med':>8} {'new min':>8} {'new med':>8} "
        f"{'new/old':>8} {'old cpu':>8} {'new cpu':>8}  result"
    )
    results = [
        _measure(wb, case, views, args.base, args.rounds, start, end)
        for case in args.queries.split(",")
    ]
    for tab in ("ml", "workflow"):
        rows = [r for r in results if r["query"].startswith(tab + "_")]
        if rows:
            total = {k: sum(r[k] or 0.0 for r in rows) for k in _STATS}
            print(
                f"{tab + ' (sum)':26} "
                + " ".join(f"{total[k]:8.3f}" for k in _STATS[:4])
                + f" {total['new_median'] / total['old_median']:8.2f} "
                + " ".join(f"{total[k]:8.3f}" for k in _STATS[4:])
            )
    if args.json:
        args.json.write_text(
            json.dumps({"load_average": os.getloadavg(), "rows": results}, indent=1)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
