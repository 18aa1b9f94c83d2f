"""``metrics``, ``correlations``, ``insights`` and ``alerts``: the Insights tab from the shell.

Examples (shell)::

    auterity-lab metrics list
    auterity-lab metrics series -t acme --start 2026-10-31 --end 2026-11-01 -m ai_error_rate \
        --grain hour
    auterity-lab correlations -t acme --start 2026-07-04 --end 2026-11-01 -f csv
    auterity-lab insights -t acme --start 2026-07-04 --end 2026-11-01 -f json
    auterity-lab insights list -t acme --status active
    auterity-lab insights acknowledge -t acme anomaly:2026-09-17
    auterity-lab insights scan -t acme --start 2026-07-04 --end 2026-11-01 --part change-points
    auterity-lab insights deployments -t acme --start 2026-07-04 --end 2026-11-01
    auterity-lab alerts check -t acme --start 2026-09-17 --end 2026-09-18
    auterity-lab alerts rules
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from auterity_lab.cli._common import (
    DataOpt,
    EndOpt,
    FormatOpt,
    OutOpt,
    StartOpt,
    TenantOpt,
    audit_log,
    emit,
    open_workbench,
    security_context,
)
from auterity_lab.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

metrics_app = typer.Typer(help="The metric catalog and its series.", no_args_is_help=True)
insights_app = typer.Typer(
    help="Insights: find them (with --tenant --start --end), list, acknowledge, dismiss, resolve.",
)
alerts_app = typer.Typer(
    help="Alert rules: check them, list them, see what fired.", no_args_is_help=True
)

GrainOpt = Annotated[str, typer.Option("--grain", help="Period: day or hour.")]
AlphaOpt = Annotated[
    float,
    typer.Option(
        "--alpha",
        help="The run's level: FDR and the chance of any false discovery are at most alpha, "
        "split over the families of tests.",
    ),
]
SegmentsOpt = Annotated[
    bool, typer.Option("--segments/--no-segments", help="Also per model, endpoint, workflow step.")
]
NoStoreOpt = Annotated[bool, typer.Option("--no-store", help="Do not write the state tables.")]
RulesOpt = Annotated[
    Path | None,
    typer.Option(
        "--rules", help="Rules YAML (default: $AUTERITY_LAB_ALERT_RULES or the shipped one)."
    ),
]


def register(app: typer.Typer) -> None:
    app.add_typer(metrics_app, name="metrics")
    app.command("correlations")(correlations)
    app.add_typer(insights_app, name="insights")
    app.add_typer(alerts_app, name="alerts")


def _out(frame: pd.DataFrame, fmt: str, out: Path | None, title: str) -> None:
    """Emit with list/dict cells as JSON text (CSV and tables cannot hold them)."""
    if fmt != "json":
        frame = frame.copy()
        for col in frame.columns:
            if any(isinstance(v, list | dict | tuple) for v in frame[col]):
                frame[col] = frame[col].map(
                    lambda v: (
                        json.dumps(v, default=str) if isinstance(v, list | dict | tuple) else v
                    )
                )
    emit(frame, fmt, out, title=title)


# ===================================================================== metrics
@metrics_app.command("list")
def metrics_list(fmt: FormatOpt = "table", out: OutOpt = None) -> None:
    """The metric catalog: name, system, unit, kind, direction, scale, SQL file."""
    from auterity_lab.metrics import catalog

    _out(catalog(), fmt, out, "Metric catalog")


@metrics_app.command("series")
def metrics_series(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    data: DataOpt = None,
    metric: Annotated[
        list[str] | None, typer.Option("--metric", "-m", help="A metric; repeatable.")
    ] = None,
    grain: GrainOpt = "day",
    segments: SegmentsOpt = False,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Metric series per period (tidy: period, system, metric, segment, value, n, unit)."""
    from auterity_lab.metrics import metric_series

    with open_workbench(data, tenant) as wb:
        frame = metric_series(
            wb,
            start=start,
            end=end,
            grain=grain,  # type: ignore[arg-type]
            metrics=metric or None,
            segments=segments,
        )
    _out(frame, fmt, out, "Metric series")


# ================================================================ correlations
def correlations(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    data: DataOpt = None,
    grain: GrainOpt = "day",
    segments: SegmentsOpt = False,
    max_lag: Annotated[int, typer.Option("--max-lag", help="Largest lead/lag tested.")] = 7,
    method: Annotated[str, typer.Option("--method", help="spearman or pearson.")] = "spearman",
    detrend: Annotated[str, typer.Option("--detrend", help="stl, seasonal_diff or none.")] = "stl",
    alpha: AlphaOpt = 0.05,
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap resamples (0: none).")] = 999,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed.")] = 0,
    part: Annotated[
        str, typer.Option("--part", help="significant, pairs, tests or series.")
    ] = "significant",
    no_store: NoStoreOpt = False,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Cross-system correlations (calculateCorrelations): every pair and lag, with n, p, BH q,
    bootstrap CI, best lag and Granger tests; stored in system_correlations."""
    from auterity_lab.stats import correlations as run

    parts = {
        "significant": lambda r: r.significant(),
        "pairs": lambda r: r.pairs,
        "tests": lambda r: r.tests,
        "series": lambda r: r.series,
    }
    if part not in parts:
        raise ConfigError(f"--part must be one of {', '.join(parts)}, not {part!r}")
    with open_workbench(data, tenant) as wb:
        result = run(
            wb,
            start=start,
            end=end,
            grain=grain,
            segments=segments,  # type: ignore[arg-type]
            max_lag=max_lag,
            method=method,
            detrend=detrend,
            alpha=alpha,  # type: ignore[arg-type]
            n_boot=n_boot,
            seed=seed,
            store=not no_store,
        )
    _out(parts[part](result), fmt, out, f"Correlations ({part})")


# ==================================================================== insights
INSIGHT_VIEW = [
    "id",
    "status",
    "severity",
    "score",
    "insight_type",
    "title",
    "description",
    "affected_systems",
    "metrics",
    "evidence",
    "recommendations",
    "insight_key",
    "period_start",
    "period_end",
]


@insights_app.callback(invoke_without_command=True)
def insights(
    ctx: typer.Context,
    tenant: Annotated[
        str | None, typer.Option("--tenant", "-t", help="Tenant whose data to read.")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--start", help="Inclusive start (ISO, UTC).")
    ] = None,
    end: Annotated[str | None, typer.Option("--end", help="Exclusive end (ISO, UTC).")] = None,
    data: DataOpt = None,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", "-k", help="Only this kind; repeatable.")
    ] = None,
    grain: GrainOpt = "day",
    segments: SegmentsOpt = True,
    alpha: AlphaOpt = 0.05,
    n_boot: Annotated[
        int, typer.Option("--n-boot", help="Bootstrap resamples of correlations.")
    ] = 999,
    no_store: NoStoreOpt = False,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Find insights (generateInsights) over [start, end), store them and print them.

    Without a subcommand, --tenant, --start and --end are required.
    """
    if ctx.invoked_subcommand is not None:
        return
    missing = [
        name for name, v in (("--tenant", tenant), ("--start", start), ("--end", end)) if not v
    ]
    if missing:
        raise typer.BadParameter(
            f"{', '.join(missing)} required (or use a subcommand: "
            "list, acknowledge, dismiss, resolve, scan, deployments)"
        )
    from auterity_lab.insights import generate_insights

    with open_workbench(data, tenant) as wb:  # type: ignore[arg-type]
        report = generate_insights(
            wb,
            start=start,
            end=end,
            kinds=kind or None,
            grain=grain,
            segments=segments,
            alpha=alpha,  # type: ignore[arg-type]
            n_boot=n_boot,
            store=not no_store,
        )
    frame = report.insights
    _out(frame[[c for c in INSIGHT_VIEW if c in frame.columns]], fmt, out, "Insights")


@insights_app.command("list")
def insights_list(
    tenant: TenantOpt,
    data: DataOpt = None,
    status: Annotated[
        str | None, typer.Option("--status", help="active, acknowledged, resolved or dismissed.")
    ] = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """The stored insights of a tenant, most severe first."""
    from auterity_lab.insights import list_insights

    with open_workbench(data, tenant) as wb:
        frame = list_insights(wb, status=status)
    cols = ["id", "status", "severity", "insight_type", "title", "insight_key", "updated_at"]
    _out(frame if fmt == "json" else frame[cols], fmt, out, "Stored insights")


def _action(action: str) -> Any:
    def command(
        insight: Annotated[str, typer.Argument(help="The insight's id or insight_key.")],
        tenant: TenantOpt,
        data: DataOpt = None,
        fmt: FormatOpt = "table",
        out: OutOpt = None,
    ) -> None:
        from auterity_lab.insights import update_insight

        with open_workbench(data, tenant) as wb:
            row = update_insight(wb, insight, action=action)
        _out(
            row[["id", "insight_key", "title", "status", "updated_at"]].to_frame().T,
            fmt,
            out,
            f"Insight {action}d",
        )

    command.__doc__ = f"{action.capitalize()} an insight (by id or insight_key)."
    return command


for _name in ("acknowledge", "dismiss", "resolve"):
    insights_app.command(_name)(_action(_name))


@insights_app.command("scan")
def insights_scan(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    data: DataOpt = None,
    part: Annotated[
        str, typer.Option("--part", help="anomalies, incidents, trends, change-points or skipped.")
    ] = "anomalies",
    all_rows: Annotated[
        bool, typer.Option("--all", help="Every test, not only the significant ones.")
    ] = False,
    grain: GrainOpt = "day",
    segments: SegmentsOpt = True,
    alpha: AlphaOpt = 0.05,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """The anomaly, incident, trend and change-point tests behind the insights."""
    from auterity_lab.insights import scan

    flags = {
        "anomalies": "is_anomaly",
        "incidents": "is_incident",
        "trends": "is_trend",
        "change-points": "is_change_point",
        "skipped": None,
    }
    if part not in flags:
        raise ConfigError(f"--part must be one of {', '.join(flags)}, not {part!r}")
    with open_workbench(data, tenant) as wb:
        found = scan(wb, start=start, end=end, grain=grain, segments=segments, alpha=alpha)  # type: ignore[arg-type]
    frame = {
        "anomalies": found.anomalies,
        "incidents": found.incidents,
        "trends": found.trends,
        "change-points": found.change_points,
        "skipped": found.skipped,
    }[part]
    flag = flags[part]
    if flag and not all_rows and not frame.empty:
        frame = frame[frame[flag].astype(bool)]
    _out(frame.reset_index(drop=True), fmt, out, f"Scan: {part}")


@insights_app.command("deployments")
def insights_deployments(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    data: DataOpt = None,
    baseline_days: Annotated[
        int, typer.Option("--baseline-days", help="Days before a deploy.")
    ] = 14,
    window_days: Annotated[int, typer.Option("--window-days", help="Days after a deploy.")] = 14,
    alpha: AlphaOpt = 0.05,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """The spec's deployment check for every deploy found in the AI calls."""
    from auterity_lab.insights import DeploymentThresholds, deployment_checks

    th = DeploymentThresholds(baseline_days=baseline_days, window_days=window_days)
    with open_workbench(data, tenant) as wb:
        frame = deployment_checks(wb, start=start, end=end, thresholds=th, alpha=alpha)
    _out(frame, fmt, out, "Deployment checks")


# ====================================================================== alerts
@alerts_app.command("check")
def alerts_check(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    data: DataOpt = None,
    rules: RulesOpt = None,
    rule: Annotated[
        list[str] | None, typer.Option("--rule", help="Only this rule id; repeatable.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Evaluate and log, deliver nothing.")
    ] = False,
    part: Annotated[str, typer.Option("--part", help="alerts, deliveries or rules.")] = "alerts",
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Evaluate the alert rules over [start, end) and deliver what fires."""
    from auterity_lab.alerts import check_alerts

    with open_workbench(data, tenant) as wb:
        result = check_alerts(
            wb, start=start, end=end, rules=rules, rule_ids=rule or None, notify=not dry_run
        )
    parts = {"alerts": result.alerts, "deliveries": result.deliveries, "rules": result.rules}
    if part not in parts:
        raise ConfigError(f"--part must be one of {', '.join(parts)}, not {part!r}")
    _out(parts[part], fmt, out, f"Alert check ({part})")


@alerts_app.command("rules")
def alerts_rules(rules: RulesOpt = None, fmt: FormatOpt = "table", out: OutOpt = None) -> None:
    """The alert rules (validated)."""
    from auterity_lab.alerts import load_rules, rules_table

    _out(rules_table(load_rules(rules)), fmt, out, "Alert rules")


@alerts_app.command("history")
def alerts_history(
    tenant: TenantOpt, data: DataOpt = None, fmt: FormatOpt = "table", out: OutOpt = None
) -> None:
    """Alerts fired for a tenant, newest first, with each channel's delivery outcome."""
    from auterity_lab.alerts import alert_history

    with open_workbench(data, tenant) as wb:
        frame = alert_history(wb)
    _out(frame, fmt, out, "Alert history")


@alerts_app.command("acknowledge")
def alerts_acknowledge(
    rule_id: Annotated[str, typer.Argument(help="The firing rule's id.")],
    tenant: TenantOpt,
    data: DataOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Mute a firing rule until its breach ends."""
    from auterity_lab.alerts import acknowledge_alert
    from auterity_lab.audit import audited

    with open_workbench(data, tenant) as wb, audited(
        audit_log(), "alert.acknowledge", context=security_context(),
        permission="insights:write", tenant=tenant, target=rule_id,
    ) as action:  # fmt: skip
        row = acknowledge_alert(wb, rule_id)
        action.rows = 1
    _out(row.to_frame().T, fmt, out, "Alert acknowledged")
