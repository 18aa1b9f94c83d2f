"""``workflow ...`` (RelayCore analytics), ``unified`` and ``health``: frames as table, CSV or JSON.

Every public function of :mod:`auterity_lab.workflow` is a ``workflow`` sub-command, made from a
registry: the command takes the function's own keyword parameters as options.

Example: auterity-lab workflow bottlenecks -t acme --start 2026-09-02 --end 2026-11-01 -f csv
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from auterity_lab.cli._common import (
    DataOpt,
    EndOpt,
    FormatOpt,
    OutOpt,
    StartOpt,
    TenantOpt,
    data_dir,
    emit,
    open_workbench,
)
from auterity_lab.errors import ConfigError

workflow_app = typer.Typer(help="Workflow analytics (RelayCore).", no_args_is_help=True)

# command -> (function of auterity_lab.workflow, its keyword parameters besides start/end with
# their defaults, help). Declared here so the CLI starts without importing the analytics; a test
# checks them against the functions' signatures.
_COMMANDS: dict[str, tuple[str, dict[str, Any], str]] = {
    "runs": (
        "run_summary",
        {"workflow": None, "trigger": None},
        "Runs, outcome rates and duration percentiles per workflow and trigger.",
    ),
    "trends": (
        "run_trends",
        {"period": "day", "workflow": None},
        "Runs, outcomes and durations per period and workflow.",
    ),
    "steps": (
        "step_breakdown",
        {"workflow": None, "max_run_days": 1},
        "Each step's share of run time, retries and duration; the bottleneck.",
    ),
    "bottlenecks": (
        "bottlenecks",
        {"workflow": None, "max_run_days": 1},
        "The bottleneck step per workflow against the previous period.",
    ),
    "bottleneck-history": (
        "bottleneck_history",
        {"period": "week", "workflow": None, "max_run_days": 1},
        "Each step's share of run time per period; the bottleneck when.",
    ),
    "shifts": (
        "step_shifts",
        {"workflow": None, "min_days": 5, "confidence": 0.95, "max_run_days": 1},
        "When each step's duration shifted, by how much, and how sure.",
    ),
    "failures": (
        "failure_reasons",
        {"workflow": None, "max_run_days": 1},
        "Failures by reason: root, cascade, tolerated, recovered, cancelled.",
    ),
    "retries": (
        "retry_counts",
        {"workflow": None, "max_run_days": 1},
        "Attempts, retries and their outcome per step.",
    ),
    "flaky": (
        "flaky_steps",
        {"workflow": None, "max_run_days": 1},
        "Steps that fail and then succeed on a retry, flakiest first.",
    ),
    "ai-runs": (
        "ai_cost_by_run",
        {"workflow": None, "prices": None, "max_run_days": 1},
        "AI calls, tokens, cost and AI time of every run.",
    ),
    "ai-workflows": (
        "ai_cost_by_workflow",
        {"workflow": None, "prices": None, "max_run_days": 1},
        "AI calls, tokens and cost per workflow, per run and per successful run.",
    ),
    "ai-steps": (
        "ai_cost_by_step",
        {"workflow": None, "prices": None, "max_run_days": 1},
        "AI calls, tokens, cost and latency per step and model.",
    ),
    "ai-latency": (
        "ai_step_latency",
        {"workflow": None, "max_run_days": 1},
        "Latency of AI steps against the other steps.",
    ),
    "sla": (
        "sla_breaches",
        {"workflow": None, "targets": None},
        "Runs over their workflow's duration target; attainment and error budget.",
    ),
    "sla-trends": (
        "sla_over_time",
        {"period": "day", "workflow": None, "targets": None},
        "Duration target breaches per period and workflow.",
    ),
}

# keyword parameter of a workflow function -> its option
_OPTIONS: dict[str, Any] = {
    "workflow": Annotated[str | None, typer.Option("--workflow", "-w", help="Only this workflow.")],
    "trigger": Annotated[str | None, typer.Option(help="Only runs with this trigger.")],
    "period": Annotated[str, typer.Option(help="day, week or month.")],
    "min_days": Annotated[int, typer.Option(help="Days needed on each side of a shift.")],
    "confidence": Annotated[float, typer.Option(help="Level of the ratio's interval.")],
    "max_run_days": Annotated[int, typer.Option(help="Runs finish within this many days.")],
    "prices": Annotated[Path | None, typer.Option(help="Price YAML (default: the shipped one).")],
    "targets": Annotated[Path | None, typer.Option(help="SLA YAML (default: the shipped one).")],
}
_KW = inspect.Parameter.KEYWORD_ONLY
_COMMON = [
    inspect.Parameter("tenant", _KW, annotation=TenantOpt),
    inspect.Parameter("start", _KW, annotation=StartOpt),
    inspect.Parameter("end", _KW, annotation=EndOpt),
    inspect.Parameter("data", _KW, default=None, annotation=DataOpt),
    inspect.Parameter("fmt", _KW, default="table", annotation=FormatOpt),
    inspect.Parameter("out", _KW, default=None, annotation=OutOpt),
]


def register(app: typer.Typer) -> None:
    for name, (function, options, help_) in _COMMANDS.items():
        workflow_app.command(name, help=help_)(_command(name, function, options))
    app.add_typer(workflow_app, name="workflow")
    app.command("unified")(unified)
    app.command("health")(health)


def _command(name: str, function: str, options: dict[str, Any]) -> Callable[..., None]:
    """A command that opens the workbench, calls ``workflow.<function>`` and emits its frame."""
    own = [inspect.Parameter(p, _KW, annotation=_OPTIONS[p], default=d) for p, d in options.items()]

    def command(**kwargs: Any) -> None:
        from auterity_lab import workflow

        fmt, out = kwargs.pop("fmt"), kwargs.pop("out")
        with open_workbench(kwargs.pop("data"), kwargs.pop("tenant")) as wb:
            frame = getattr(workflow, function)(wb, **kwargs)
        emit(frame, fmt, out, title=f"workflow {name}")

    command.__signature__ = inspect.Signature(_COMMON[:3] + own + _COMMON[3:])  # type: ignore[attr-defined]
    command.__name__ = function
    return command


_PARTS = (
    "sections",
    "kpis",
    "daily",
    "health",
    "checks",
    "workflows",
    "bottlenecks",
    "sla",
    "ai_cost",
)


def unified(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    data: DataOpt = None,
    part: Annotated[str, typer.Option(help=f"What to print: {', '.join(_PARTS)}.")] = "sections",
    as_of: Annotated[
        str | None, typer.Option(help="Assess health at (default: end or now).")
    ] = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Unified analytics of all three systems; a broken system is reported, not fatal."""
    from auterity_lab.unified import unified_analytics
    from auterity_lab.warehouse import Workbench

    if part not in _PARTS:
        raise ConfigError(f"--part must be one of {', '.join(_PARTS)}, not {part!r}")
    with Workbench.open(data_dir(data), tenant=tenant, strict=False) as wb:
        result = unified_analytics(wb, start=start, end=end, as_of=as_of)
    frames: dict[str, Callable[[], Any]] = {
        "sections": result.sections,
        "kpis": result.kpis,
        "daily": result.daily,
        "health": lambda: result.health.systems,
        "checks": lambda: result.health.checks,
    }
    if part in frames:
        frame = frames[part]()
    elif result.relaycore.available and part in result.relaycore.details:
        frame = result.relaycore.details[part]
    else:
        reason = result.relaycore.reason or "; ".join(result.relaycore.notes)
        raise ConfigError(f"relaycore {part} is not available: {reason}")
    emit(frame, fmt, out, title=f"unified {part}")


def health(
    tenant: TenantOpt,
    data: DataOpt = None,
    as_of: Annotated[str | None, typer.Option(help="Instant to assess (default: now).")] = None,
    checks: Annotated[bool, typer.Option("--checks", help="Print every check.")] = False,
    slos: Annotated[Path | None, typer.Option(help="YAML of SLO overrides.")] = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """System health per system (or every check with --checks), with the reasons."""
    from auterity_lab.health import system_health
    from auterity_lab.warehouse import Workbench

    with Workbench.open(data_dir(data), tenant=tenant, strict=False) as wb:
        result = system_health(wb, as_of=as_of, slos=slos)
    emit(
        result.checks if checks else result.systems,
        fmt,
        out,
        title=f"health {result.status} as of {result.as_of:%Y-%m-%d %H:%M} UTC",
    )
