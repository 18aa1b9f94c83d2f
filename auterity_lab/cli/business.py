"""``business``: the business analytics of :mod:`auterity_lab.business`, one subcommand each.

Example: auterity-lab business retention -t acme --start 2026-09-07 --end 2026-11-02 -f csv
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from auterity_lab.cli._common import (
    DataOpt,
    EndOpt,
    FormatOpt,
    OutOpt,
    StartOpt,
    TenantOpt,
    emit,
    open_workbench,
)

if TYPE_CHECKING:
    import pandas as pd

business_app = typer.Typer(
    help="Business analytics: users, retention, lifecycle, funnels, revenue, performance.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(business_app, name="business")


_ANY = "any"
BreakdownOpt = Annotated[
    str | None, typer.Option("--breakdown", "-b", help="Split by device, country, plan or channel.")
]
DeviceOpt = Annotated[
    list[str] | None, typer.Option("--device", help="Keep users with this device; repeatable.")
]
CountryOpt = Annotated[
    list[str] | None, typer.Option("--country", help="Keep users from this country; repeatable.")
]
PlanOpt = Annotated[
    list[str] | None, typer.Option("--plan", help="Keep users on this plan; repeatable.")
]
ChannelOpt = Annotated[
    list[str] | None,
    typer.Option("--channel", help="Keep users from this acquisition channel; repeatable."),
]
IntervalOpt = Annotated[
    str, typer.Option("--interval", "-i", help="day, week, month (or range: one period).")
]
PeriodsOpt = Annotated[
    int | None, typer.Option("--periods", help="Show periods 0..N (default: all).")
]


def _run(
    data: Any,
    tenant: str,
    fmt: str,
    out: Any,
    title: str,
    compute: Callable[..., pd.DataFrame],
    **kwargs: Any,
) -> None:
    with open_workbench(data, tenant) as wb:
        frame = compute(wb, **kwargs)
    emit(frame, fmt, out, title=f"{title} ({tenant})")


def _event(value: str | None) -> str | None:
    return None if value == _ANY else value


@business_app.command("users")
def users(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    interval: IntervalOpt = "week",
    breakdown: BreakdownOpt = None,
    device: DeviceOpt = None,
    country: CountryOpt = None,
    plan: PlanOpt = None,
    channel: ChannelOpt = None,
    data: DataOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Total, new and active users (DAU/WAU/MAU), sessions, durations, bounce rate, engagement."""
    from auterity_lab.business import user_activity

    _run(
        data,
        tenant,
        fmt,
        out,
        "user activity",
        user_activity,
        start=start,
        end=end,
        interval=interval,
        breakdown=breakdown,
        device=device,
        country=country,
        plan=plan,
        channel=channel,
    )


@business_app.command("stickiness")
def stickiness(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    breakdown: BreakdownOpt = None,
    device: DeviceOpt = None,
    country: CountryOpt = None,
    plan: PlanOpt = None,
    channel: ChannelOpt = None,
    data: DataOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Daily DAU, 7-day WAU, 30-day MAU and DAU/MAU."""
    from auterity_lab.business import stickiness as compute

    _run(
        data,
        tenant,
        fmt,
        out,
        "stickiness",
        compute,
        start=start,
        end=end,
        breakdown=breakdown,
        device=device,
        country=country,
        plan=plan,
        channel=channel,
    )


@business_app.command("active-days")
def active_days(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    interval: IntervalOpt = "day",
    breakdown: BreakdownOpt = None,
    device: DeviceOpt = None,
    country: CountryOpt = None,
    plan: PlanOpt = None,
    channel: ChannelOpt = None,
    data: DataOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """How many users were active on exactly k days (weeks, months) of the range."""
    from auterity_lab.business import active_days as compute

    _run(
        data,
        tenant,
        fmt,
        out,
        "active days",
        compute,
        start=start,
        end=end,
        interval=interval,
        breakdown=breakdown,
        device=device,
        country=country,
        plan=plan,
        channel=channel,
    )


@business_app.command("acquisition")
def acquisition(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    interval: IntervalOpt = "week",
    window_days: Annotated[
        int, typer.Option(help="Conversions within this many days of signup.")
    ] = 30,
    activation_event: Annotated[str, typer.Option(help="Event type of activation.")] = "activate",
    paid_event: Annotated[
        str, typer.Option(help="Event type of the conversion to paid.")
    ] = "subscribe",
    breakdown: BreakdownOpt = "channel",
    device: DeviceOpt = None,
    country: CountryOpt = None,
    plan: PlanOpt = None,
    channel: ChannelOpt = None,
    data: DataOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """New users per channel over time, with activation and paid conversion (Wilson CIs)."""
    from auterity_lab.business import acquisition as compute

    _run(
        data,
        tenant,
        fmt,
        out,
        "acquisition",
        compute,
        start=start,
        end=end,
        interval=interval,
        window_days=window_days,
        activation_event=activation_event,
        paid_event=paid_event,
        breakdown=breakdown,
        device=device,
        country=country,
        plan=plan,
        channel=channel,
    )


@business_app.command("retention")
def retention(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    interval: IntervalOpt = "week",
    periods: PeriodsOpt = None,
    mode: Annotated[str, typer.Option(help="first_time or recurring.")] = "first_time",
    cohort_event: Annotated[
        str, typer.Option(help="Event type that starts a cohort; $session = session start; any.")
    ] = "$session",
    return_event: Annotated[
        str, typer.Option(help="Event type that counts as a return; $session; any.")
    ] = "$session",
    unbounded: Annotated[bool, typer.Option(help="Count returns in period k or later.")] = False,
    breakdown: BreakdownOpt = None,
    device: DeviceOpt = None,
    country: CountryOpt = None,
    plan: PlanOpt = None,
    channel: ChannelOpt = None,
    data: DataOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Retention cohort matrix (one row per cell) with Wilson intervals."""
    from auterity_lab.business import retention as compute

    _run(
        data,
        tenant,
        fmt,
        out,
        "retention",
        compute,
        start=start,
        end=end,
        interval=interval,
        periods=periods,
        mode=mode,
        cohort_event=_event(cohort_event),
        return_event=_event(return_event),
        unbounded=unbounded,
        breakdown=breakdown,
        device=device,
        country=country,
        plan=plan,
        channel=channel,
    )


@business_app.command("lifecycle")
def lifecycle(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    interval: IntervalOpt = "week",
    event: Annotated[
        str, typer.Option(help="Event type that makes a user active; $session; any.")
    ] = "$session",
    breakdown: BreakdownOpt = None,
    device: DeviceOpt = None,
    country: CountryOpt = None,
    plan: PlanOpt = None,
    channel: ChannelOpt = None,
    data: DataOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """New, returning, resurrecting and dormant users per period."""
    from auterity_lab.business import lifecycle as compute

    _run(
        data,
        tenant,
        fmt,
        out,
        "lifecycle",
        compute,
        start=start,
        end=end,
        interval=interval,
        event=_event(event),
        breakdown=breakdown,
        device=device,
        country=country,
        plan=plan,
        channel=channel,
    )


@business_app.command("funnel")
def funnel(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    step: Annotated[
        list[str],
        typer.Option("--step", "-s", help='A step: "EVENT [key=value ...]"; repeat in order.'),
    ],
    window: Annotated[str, typer.Option(help="Conversion window: 30m, 36h, 14d, 2w.")] = "14d",
    order: Annotated[str, typer.Option(help="ordered, strict or any.")] = "ordered",
    breakdown_property: Annotated[
        str | None,
        typer.Option(help="Split by this property of the first entry event (first touch)."),
    ] = None,
    breakdown: BreakdownOpt = None,
    device: DeviceOpt = None,
    country: CountryOpt = None,
    plan: PlanOpt = None,
    channel: ChannelOpt = None,
    data: DataOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Funnel: per-step users, conversion (Wilson CIs), drop-off, median/p90 time to convert."""
    from auterity_lab.business import Step
    from auterity_lab.business import funnel as compute

    _run(
        data,
        tenant,
        fmt,
        out,
        "funnel",
        compute,
        start=start,
        end=end,
        steps=[Step.parse(s) for s in step],
        window=window,
        order=order,
        breakdown_property=breakdown_property,
        breakdown=breakdown,
        device=device,
        country=country,
        plan=plan,
        channel=channel,
    )


@business_app.command("revenue")
def revenue(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    interval: IntervalOpt = "week",
    breakdown: BreakdownOpt = None,
    device: DeviceOpt = None,
    country: CountryOpt = None,
    plan: PlanOpt = None,
    channel: ChannelOpt = None,
    data: DataOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Revenue, paying users, ARPU, ARPPU and conversion to paid per period."""
    from auterity_lab.business import revenue as compute

    _run(
        data,
        tenant,
        fmt,
        out,
        "revenue",
        compute,
        start=start,
        end=end,
        interval=interval,
        breakdown=breakdown,
        device=device,
        country=country,
        plan=plan,
        channel=channel,
    )


@business_app.command("mrr")
def mrr(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    interval: IntervalOpt = "month",
    subscribe_event: Annotated[
        str, typer.Option(help="Event type that starts a subscription.")
    ] = "subscribe",
    renew_event: Annotated[str, typer.Option(help="Event type of a renewal payment.")] = "payment",
    cancel_event: Annotated[
        str, typer.Option(help="Event type that ends a subscription.")
    ] = "cancel",
    breakdown: BreakdownOpt = None,
    device: DeviceOpt = None,
    country: CountryOpt = None,
    plan: PlanOpt = None,
    channel: ChannelOpt = None,
    data: DataOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """MRR per period: opening, new, expansion, reactivation, contraction, churn, closing."""
    from auterity_lab.business import mrr as compute

    _run(
        data,
        tenant,
        fmt,
        out,
        "MRR",
        compute,
        start=start,
        end=end,
        interval=interval,
        subscribe_event=subscribe_event,
        renew_event=renew_event,
        cancel_event=cancel_event,
        breakdown=breakdown,
        device=device,
        country=country,
        plan=plan,
        channel=channel,
    )


@business_app.command("ltv")
def ltv(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    interval: IntervalOpt = "month",
    periods: PeriodsOpt = None,
    breakdown: BreakdownOpt = None,
    device: DeviceOpt = None,
    country: CountryOpt = None,
    plan: PlanOpt = None,
    channel: ChannelOpt = None,
    data: DataOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Cumulative revenue per signup cohort (LTV curve)."""
    from auterity_lab.business import ltv as compute

    _run(
        data,
        tenant,
        fmt,
        out,
        "LTV",
        compute,
        start=start,
        end=end,
        interval=interval,
        periods=periods,
        breakdown=breakdown,
        device=device,
        country=country,
        plan=plan,
        channel=channel,
    )


@business_app.command("performance")
def performance(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    interval: Annotated[
        str, typer.Option("--interval", "-i", help="hour, day, week, month or range.")
    ] = "hour",
    level: Annotated[str, typer.Option(help="endpoint, service or all.")] = "endpoint",
    service: Annotated[
        list[str] | None, typer.Option(help="Keep this service; repeatable.")
    ] = None,
    data: DataOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """System performance: requests, 5xx/4xx error rates, p50/p95/p99 latency per interval."""
    from auterity_lab.business import system_performance

    _run(
        data,
        tenant,
        fmt,
        out,
        "system performance",
        system_performance,
        start=start,
        end=end,
        interval=interval,
        level=level,
        service=service,
    )


@business_app.command("summary")
def summary(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    device: DeviceOpt = None,
    country: CountryOpt = None,
    plan: PlanOpt = None,
    channel: ChannelOpt = None,
    data: DataOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Headline business KPIs with the change against the previous period (getBusinessMetrics)."""
    from auterity_lab.business import business_metrics

    _run(
        data,
        tenant,
        fmt,
        out,
        "business metrics",
        business_metrics,
        start=start,
        end=end,
        device=device,
        country=country,
        plan=plan,
        channel=channel,
    )


@business_app.command("segments")
def segments(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    by: Annotated[str, typer.Option(help="device, country, plan or channel.")] = "device",
    device: DeviceOpt = None,
    country: CountryOpt = None,
    plan: PlanOpt = None,
    channel: ChannelOpt = None,
    data: DataOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """User and revenue KPIs side by side for each device, country, plan or channel."""
    from auterity_lab.business import segment_kpis

    _run(
        data,
        tenant,
        fmt,
        out,
        f"segments by {by}",
        segment_kpis,
        start=start,
        end=end,
        by=by,
        device=device,
        country=country,
        plan=plan,
        channel=channel,
    )


@business_app.command("dimensions")
def dimensions(
    tenant: TenantOpt,
    data: DataOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """The values the filters and breakdowns can take, with user counts."""
    from auterity_lab.business import dimension_values

    _run(data, tenant, fmt, out, "dimensions", dimension_values)
