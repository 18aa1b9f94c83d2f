"""``ml``: the AI/ML analytics of Neuroweaver (every public function of :mod:`auterity_lab.ml`).

Examples (shell)::

    auterity-lab ml summary -t acme --start 2026-10-01 --end 2026-11-01
    auterity-lab ml performance -t acme --start 2026-10-01 --end 2026-11-01 --model gpt-4o -f csv
    auterity-lab ml cost -t acme --start 2026-10-01 --end 2026-11-01 --prices my_prices.yml
    auterity-lab ml compare -t acme --start 2026-08-01 --end 2026-11-01 -f json
    auterity-lab ml experiment prompt-v2-rollout -t acme --part effects
    auterity-lab ml assign rollout --variant off=90 --variant on=10 USER_ID ...
    auterity-lab ml suggestions -t acme --start 2026-08-01 --end 2026-11-01
"""

from __future__ import annotations

from collections.abc import Callable
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
    emit,
    open_workbench,
)
from auterity_lab.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

ml_app = typer.Typer(
    help="AI/ML analytics: performance, cost, prompts, feedback, comparison, experiments, "
    "suggestions, health.",
    no_args_is_help=True,
)

ModelOpt = Annotated[str | None, typer.Option("--model", help="Only this model_id.")]
VersionOpt = Annotated[str | None, typer.Option("--model-version", help="Only this model_version.")]
PromptVersionOpt = Annotated[
    str | None, typer.Option("--prompt-version", help="Only this prompt_version.")
]
PricesOpt = Annotated[
    Path | None,
    typer.Option(
        "--prices", help="Price YAML (default: $AUTERITY_LAB_PRICES or the shipped table)."
    ),
]
GrainOpt = Annotated[str, typer.Option("--grain", help="Time bucket: hour, day or week.")]
ByOpt = Annotated[
    str, typer.Option("--by", help="Arms: model_id, model_version or prompt_version.")
]


def register(app: typer.Typer) -> None:
    app.add_typer(ml_app, name="ml")


def _emit(
    data: Path | None,
    tenant: str,
    fn: Callable[..., pd.DataFrame],
    fmt: str,
    out: Path | None,
    title: str,
    **kwargs: Any,
) -> None:
    with open_workbench(data, tenant) as wb:
        frame = fn(wb, **kwargs)
    emit(frame, fmt, out, title=title)


def _filters(
    model: str | None, model_version: str | None, prompt_version: str | None
) -> dict[str, str | None]:
    return {"model": model, "model_version": model_version, "prompt_version": prompt_version}


@ml_app.command("summary")
def summary(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    data: DataOpt = None,
    model: ModelOpt = None,
    model_version: VersionOpt = None,
    prompt_version: PromptVersionOpt = None,
    prices: PricesOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Headline figures (getMLAnalytics) with the change against the previous period."""
    from auterity_lab.ml import ml_summary

    _emit(
        data,
        tenant,
        ml_summary,
        fmt,
        out,
        "ML summary",
        start=start,
        end=end,
        prices=prices,
        **_filters(model, model_version, prompt_version),
    )


@ml_app.command("performance")
def performance(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    data: DataOpt = None,
    model: ModelOpt = None,
    model_version: VersionOpt = None,
    prompt_version: PromptVersionOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Per model and version: requests, errors, latency p50/p95/p99, tokens, rating with CI."""
    from auterity_lab.ml import model_performance

    _emit(
        data,
        tenant,
        model_performance,
        fmt,
        out,
        "Model performance",
        start=start,
        end=end,
        **_filters(model, model_version, prompt_version),
    )


@ml_app.command("performance-over-time")
def performance_over_time(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    data: DataOpt = None,
    grain: GrainOpt = "day",
    model: ModelOpt = None,
    model_version: VersionOpt = None,
    prompt_version: PromptVersionOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """The performance figures per hour, day or week and model."""
    from auterity_lab.ml import performance_over_time as fn

    _emit(
        data,
        tenant,
        fn,
        fmt,
        out,
        "Performance over time",
        start=start,
        end=end,
        grain=grain,
        **_filters(model, model_version, prompt_version),
    )


@ml_app.command("filters")
def filters(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    data: DataOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """The models, model versions and prompt versions with outputs in the range."""
    from auterity_lab.ml import filter_values

    _emit(data, tenant, filter_values, fmt, out, "Filter values", start=start, end=end)


@ml_app.command("cost")
def cost(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    data: DataOpt = None,
    model: ModelOpt = None,
    model_version: VersionOpt = None,
    prompt_version: PromptVersionOpt = None,
    prices: PricesOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Spend per model with cost per request, per user and per high-rated answer."""
    from auterity_lab.ml import cost_by_model

    _emit(
        data,
        tenant,
        cost_by_model,
        fmt,
        out,
        "Cost by model",
        start=start,
        end=end,
        prices=prices,
        **_filters(model, model_version, prompt_version),
    )


@ml_app.command("cost-over-time")
def cost_over_time(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    data: DataOpt = None,
    grain: GrainOpt = "day",
    model: ModelOpt = None,
    model_version: VersionOpt = None,
    prompt_version: PromptVersionOpt = None,
    prices: PricesOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Spend per hour, day or week and model (unpriced requests counted, never $0)."""
    from auterity_lab.ml import cost_over_time as fn

    _emit(
        data,
        tenant,
        fn,
        fmt,
        out,
        "Cost over time",
        start=start,
        end=end,
        grain=grain,
        prices=prices,
        **_filters(model, model_version, prompt_version),
    )


@ml_app.command("workflow-costs")
def workflow_costs(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    data: DataOpt = None,
    model: ModelOpt = None,
    model_version: VersionOpt = None,
    prompt_version: PromptVersionOpt = None,
    prices: PricesOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """AI spend per workflow and per workflow run."""
    from auterity_lab.ml import workflow_costs as fn

    _emit(
        data,
        tenant,
        fn,
        fmt,
        out,
        "Workflow AI costs",
        start=start,
        end=end,
        prices=prices,
        **_filters(model, model_version, prompt_version),
    )


@ml_app.command("prices")
def prices_(
    tenant: Annotated[
        str | None,
        typer.Option(
            "--tenant",
            "-t",
            help=(
                "Show the price in force for each of this tenant's models; without it, list the "
                "price table."
            ),
        ),
    ] = None,
    on: Annotated[str | None, typer.Option("--on", help="UTC day (with --tenant).")] = None,
    data: DataOpt = None,
    prices: PricesOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """The price table, or the prices in force on a day for a tenant's models."""
    from auterity_lab.ml import load_prices, prices_in_force

    if tenant is None:
        emit(load_prices(prices), fmt, out, title="Model prices (USD per 1M tokens)")
        return
    if on is None:
        raise ConfigError("--on DAY is required with --tenant")
    _emit(data, tenant, prices_in_force, fmt, out, f"Prices in force on {on}", on=on, prices=prices)


@ml_app.command("prompts")
def prompts(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    data: DataOpt = None,
    model: ModelOpt = None,
    model_version: VersionOpt = None,
    prompt_version: PromptVersionOpt = None,
    prices: PricesOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Per prompt hash and version: volume, rating, latency, tokens, cost, quality score."""
    from auterity_lab.ml import prompt_analytics

    _emit(
        data,
        tenant,
        prompt_analytics,
        fmt,
        out,
        "Prompts",
        start=start,
        end=end,
        prices=prices,
        **_filters(model, model_version, prompt_version),
    )


@ml_app.command("prompt-rankings")
def prompt_rankings(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    data: DataOpt = None,
    n: Annotated[int, typer.Option("--n", help="Prompts per side.")] = 5,
    min_ratings: Annotated[int, typer.Option(help="Ratings a prompt needs.")] = 5,
    model: ModelOpt = None,
    model_version: VersionOpt = None,
    prompt_version: PromptVersionOpt = None,
    prices: PricesOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """The best and worst prompts by quality score."""
    from auterity_lab.ml import prompt_rankings as fn

    _emit(
        data,
        tenant,
        fn,
        fmt,
        out,
        "Best and worst prompts",
        start=start,
        end=end,
        n=n,
        min_ratings=min_ratings,
        prices=prices,
        **_filters(model, model_version, prompt_version),
    )


@ml_app.command("prompt-versions")
def prompt_versions(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    data: DataOpt = None,
    model: ModelOpt = None,
    model_version: VersionOpt = None,
    prices: PricesOpt = None,
    seed: int = 0,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Each prompt version against the one before it (rating, latency, tokens, cost)."""
    from auterity_lab.ml import prompt_version_comparison

    _emit(
        data,
        tenant,
        prompt_version_comparison,
        fmt,
        out,
        "Prompt versions",
        start=start,
        end=end,
        model=model,
        model_version=model_version,
        prices=prices,
        seed=seed,
    )


@ml_app.command("ratings")
def ratings(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    data: DataOpt = None,
    by: Annotated[
        str, typer.Option("--by", help="all, model_id, model_version or prompt_version.")
    ] = "all",
    model: ModelOpt = None,
    model_version: VersionOpt = None,
    prompt_version: PromptVersionOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Rating distribution of the feedback given."""
    from auterity_lab.ml import rating_distribution

    _emit(
        data,
        tenant,
        rating_distribution,
        fmt,
        out,
        "Rating distribution",
        start=start,
        end=end,
        by=by,
        **_filters(model, model_version, prompt_version),
    )


@ml_app.command("feedback-rate")
def feedback_rate(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    data: DataOpt = None,
    by: Annotated[
        str, typer.Option("--by", help="all, model_id, model_version or prompt_version.")
    ] = "all",
    model: ModelOpt = None,
    model_version: VersionOpt = None,
    prompt_version: PromptVersionOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """How many outputs get feedback and comments."""
    from auterity_lab.ml import feedback_rate as fn

    _emit(
        data,
        tenant,
        fn,
        fmt,
        out,
        "Feedback rate",
        start=start,
        end=end,
        by=by,
        **_filters(model, model_version, prompt_version),
    )


@ml_app.command("feedback-terms")
def feedback_terms(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    data: DataOpt = None,
    max_rating: Annotated[int, typer.Option(help="Low rating: <= this.")] = 2,
    top: Annotated[int, typer.Option(help="Number of terms.")] = 20,
    model: ModelOpt = None,
    model_version: VersionOpt = None,
    prompt_version: PromptVersionOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Most frequent words of low-rating comments, with a Fisher test against the others."""
    from auterity_lab.ml import low_rating_terms

    _emit(
        data,
        tenant,
        low_rating_terms,
        fmt,
        out,
        "Low-rating terms",
        start=start,
        end=end,
        max_rating=max_rating,
        top=top,
        **_filters(model, model_version, prompt_version),
    )


@ml_app.command("compare")
def compare(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    data: DataOpt = None,
    by: ByOpt = "model_id",
    reference: Annotated[str | None, typer.Option(help="Compare every arm with this one.")] = None,
    model: ModelOpt = None,
    model_version: VersionOpt = None,
    prompt_version: PromptVersionOpt = None,
    seed: int = 0,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Pairwise rating (Mann–Whitney, Welch CI) and p95 latency (bootstrap) with BH q-values."""
    from auterity_lab.ml import compare_models

    _emit(
        data,
        tenant,
        compare_models,
        fmt,
        out,
        "Model comparison",
        start=start,
        end=end,
        by=by,
        reference=reference,
        seed=seed,
        **_filters(model, model_version, prompt_version),
    )


@ml_app.command("experiments")
def experiments(
    tenant: TenantOpt, data: DataOpt = None, fmt: FormatOpt = "table", out: OutOpt = None
) -> None:
    """The tenant's experiments and how many users each exposed."""
    from auterity_lab.ml import list_experiments

    _emit(data, tenant, list_experiments, fmt, out, "Experiments")


_PARTS = ("effects", "variants", "srm")


@ml_app.command("experiment")
def experiment(
    key: Annotated[str, typer.Argument(help="The experiment key.")],
    tenant: TenantOpt,
    data: DataOpt = None,
    start: Annotated[str | None, typer.Option(help="Default: the experiment start.")] = None,
    end: Annotated[str | None, typer.Option(help="Default: its end or the data's.")] = None,
    metric: Annotated[str | None, typer.Option(help="Primary metric.")] = None,
    part: Annotated[str, typer.Option(help="effects, variants or srm.")] = "effects",
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Analyse an experiment: lift with CI, p/q-values, MDE (effects); per-variant metrics; SRM."""
    from auterity_lab.ml import analyze_experiment

    if part not in _PARTS:
        raise ConfigError(f"--part must be one of {', '.join(_PARTS)}, not {part!r}")
    with open_workbench(data, tenant) as wb:
        result = analyze_experiment(wb, key=key, start=start, end=end, primary_metric=metric)
    emit(getattr(result, part), fmt, out, title=f"Experiment {key}: {part}")


@ml_app.command("assign")
def assign(
    key: Annotated[str, typer.Argument(help="The experiment key.")],
    users: Annotated[list[str] | None, typer.Argument(help="User ids.")] = None,
    variant: Annotated[
        list[str] | None,
        typer.Option("--variant", help="name=percent, in bucket order; repeatable."),
    ] = None,
    users_file: Annotated[
        Path | None,
        typer.Option(
            help="File with one user id a line.", exists=True, dir_okay=False, readable=True
        ),
    ] = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Deterministic variant of each user (hash of key and user id); no data needed."""
    from auterity_lab.ml import assign_variants, define_experiment

    pairs = []
    for item in variant or ["control=50", "treatment=50"]:
        name, sep, pct = item.partition("=")
        try:
            pairs.append((name.strip(), float(pct)))
        except ValueError:
            raise ConfigError(f"--variant {item!r} is not name=percent") from None
        if not sep or not name.strip():
            raise ConfigError(f"--variant {item!r} is not name=percent")
    ids = list(users or [])
    if users_file is not None:
        ids += [line.strip() for line in users_file.read_text().splitlines() if line.strip()]
    if not ids:
        raise ConfigError("give user ids as arguments or --users-file")
    emit(assign_variants(define_experiment(key, pairs), ids), fmt, out, title=f"Assignment {key}")


@ml_app.command("suggestions")
def suggestions(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    data: DataOpt = None,
    model: ModelOpt = None,
    prices: PricesOpt = None,
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind",
            help="cheaper_model, cap_output_tokens, cache_repeated_prompts, "
            "latency_regression; repeatable (default all).",
        ),
    ] = None,
    margin: Annotated[float, typer.Option(help="Non-inferiority margin (share).")] = 0.05,
    seed: int = 0,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Optimization suggestions with estimated monthly savings and their evidence."""
    from auterity_lab.ml import optimization_suggestions

    _emit(
        data,
        tenant,
        optimization_suggestions,
        fmt,
        out,
        "Optimization suggestions",
        start=start,
        end=end,
        model=model,
        prices=prices,
        kinds=kind,
        margin=margin,
        seed=seed,
    )


@ml_app.command("health")
def health(
    tenant: TenantOpt,
    start: StartOpt,
    end: EndOpt,
    data: DataOpt = None,
    model: ModelOpt = None,
    recent_hours: Annotated[float, typer.Option(help="Length of the recent window.")] = 24.0,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """healthy / degraded / down per model: the last hours against the rest of the range."""
    from auterity_lab.ml import model_health

    _emit(
        data,
        tenant,
        model_health,
        fmt,
        out,
        "Model health",
        start=start,
        end=end,
        model=model,
        recent_hours=recent_hours,
    )
