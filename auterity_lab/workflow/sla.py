"""Workflow run duration SLAs: per-workflow targets from config, breaches and the error budget.

Targets come from ``sla.yaml`` shipped with this package (see that file for the format), a YAML
file named by ``$AUTERITY_LAB_WORKFLOW_SLA``, or a path / mapping / :class:`SlaConfig` passed as
``targets``. A run breaches when its ``duration_ms`` exceeds its workflow's ``target_ms``; the
workflow meets its objective when at least ``objective`` of its measured runs stay within target.

Examples
--------
>>> config = load_sla_config()
>>> config.target("lead-enrichment").target_ms, config.target("unknown-flow").target_ms
(4000.0, 10000.0)
>>> sla_breaches(wb, start="2026-10-01", end="2026-11-01")             # doctest: +SKIP
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scipy import stats
from statsmodels.stats.multitest import multipletests

from auterity_lab.cache import cached, frame_digest
from auterity_lab.errors import ConfigError
from auterity_lab.workflow import _common

if TYPE_CHECKING:
    from auterity_lab.warehouse import Workbench

SLA_ENV = "AUTERITY_LAB_WORKFLOW_SLA"
"""Environment variable naming an SLA YAML that replaces the shipped one."""

TARGETS_RELATION = "workflow_sla_targets"
"""Name under which the targets are registered on a workbench for the SLA queries."""


class SlaTarget(BaseModel):
    """One workflow's run duration target and the share of runs that must meet it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target_ms: float = Field(gt=0, description="A run breaches when its duration_ms is above.")
    objective: float = Field(0.95, gt=0, lt=1, description="Share of runs that must be within.")


class SlaConfig(BaseModel):
    """Targets per workflow id, and the default for workflows not listed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: SlaTarget
    workflows: dict[str, SlaTarget] = Field(default_factory=dict)

    def target(self, workflow_id: str) -> SlaTarget:
        """The target of ``workflow_id`` (the default when it is not listed)."""
        return self.workflows.get(workflow_id, self.default)

    def frame(self) -> pd.DataFrame:
        """The listed targets: ``workflow_id``, ``target_ms``, ``objective``."""
        return pd.DataFrame(
            [(w, t.target_ms, t.objective) for w, t in sorted(self.workflows.items())],
            columns=["workflow_id", "target_ms", "objective"],
        ).astype({"workflow_id": object, "target_ms": float, "objective": float})


SlaSource = str | Path | Mapping[str, Any] | SlaConfig | None
"""A YAML path, a mapping of the YAML's shape, a loaded :class:`SlaConfig`, or None (default)."""


def load_sla_config(source: SlaSource = None) -> SlaConfig:
    """Read and validate SLA targets.

    Parameters
    ----------
    source
        A YAML path, a mapping in the shape of the shipped ``sla.yaml``, or a
        :class:`SlaConfig` (returned as is). None means ``$AUTERITY_LAB_WORKFLOW_SLA`` if set,
        else the shipped file.

    Raises
    ------
    ConfigError
        The file is missing or not YAML, or a value is invalid (an unknown key, a target that
        is not positive, an objective outside (0, 1)).

    Examples
    --------
    >>> load_sla_config({"default": {"target_ms": 500}}).target("x").objective
    0.95
    >>> load_sla_config({"default": {"target_ms": -1}})
    Traceback (most recent call last):
    ...
    auterity_lab.errors.ConfigError: SLA targets (mapping) are invalid: ...
    """
    if isinstance(source, SlaConfig):
        return source
    if isinstance(source, Mapping):
        raw, label = source, "mapping"
    else:
        path = _sla_path(source)
        label = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise ConfigError(f"SLA file {path} does not exist") from exc
        except (OSError, UnicodeDecodeError) as exc:  # a directory, a name too long, binary
            raise ConfigError(f"SLA file {path} cannot be read: {exc}") from exc
        return _parsed_file(text, label)  # the file is read every time, parsed once per text
    return _validated(raw, label)


@functools.lru_cache(maxsize=32)
def _parsed_file(text: str, label: str) -> SlaConfig:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"SLA file {label} is not valid YAML: {exc}") from exc
    return _validated(raw, label)


def _validated(raw: Any, label: str) -> SlaConfig:
    try:
        return SlaConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"SLA targets ({label}) are invalid: {problems}") from exc


def sla_breaches(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    workflow: str | None = None,
    targets: SlaSource = None,
) -> pd.DataFrame:
    """Per workflow: runs over their duration target, attainment against the objective.

    Cancelled runs are not judged. Whether a workflow misses its objective by more than chance
    is tested with a one-sided exact binomial test (H0: each run breaches with probability
    ``1 - objective``); ``q_value`` adjusts the p-values across workflows (Benjamini-Hochberg).

    Parameters
    ----------
    wb
        The tenant's workbench.
    start, end
        The half-open UTC range ``[start, end)`` of the runs' start.
    workflow
        Only this workflow; None means all.
    targets
        See :func:`load_sla_config`.

    Returns
    -------
    DataFrame
        One row per workflow: ``target_ms``, ``objective``, ``target_source`` (``config`` or
        ``default``), ``runs``, ``measured`` (with a duration), ``breaches``, ``unfinished``,
        ``attainment`` (share within target), ``meets_objective``, ``allowed_breaches`` (the
        error budget), ``budget_used`` (breaches / allowed; above 1 the budget is exhausted),
        ``p95_ms``, ``worst_ms``, ``excess_ms`` (summed time over target), ``p_value`` and
        ``q_value``.

    Examples
    --------
    >>> sla_breaches(wb, start="2026-10-01", end="2026-11-01", workflow="lead-enrichment")
    ... # doctest: +SKIP
    """
    config = register_targets(wb, targets)  # first: the cached part's key holds the targets
    return _sla_breaches(wb, **_bound(config, start, end, workflow))


@cached("workflow", tables=["relaycore.workflow_runs"], relations=[TARGETS_RELATION])
def _sla_breaches(wb: Workbench, /, **bound: Any) -> pd.DataFrame:
    """:func:`sla_breaches` once the targets are registered on ``wb``."""
    frame = wb.query("workflow_sla", **bound)
    allowed = 1.0 - frame["objective"].to_numpy(dtype=float)
    frame["p_value"] = stats.binom.sf(
        frame["breaches"].to_numpy() - 1, frame["measured"].to_numpy(), allowed
    )
    frame.loc[frame["measured"] == 0, "p_value"] = float("nan")
    tested = frame["p_value"].notna()
    frame["q_value"] = float("nan")
    if tested.any():
        frame.loc[tested, "q_value"] = multipletests(frame.loc[tested, "p_value"], method="fdr_bh")[
            1
        ]
    return frame


def sla_over_time(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    period: str = "day",
    workflow: str | None = None,
    targets: SlaSource = None,
) -> pd.DataFrame:
    """Breaches of each workflow's duration target per period.

    Returns
    -------
    DataFrame
        One row per (``period_start``, ``workflow_id``) for every period of the range and every
        workflow with a judged run: ``target_ms``, ``objective``, ``measured``, ``breaches``,
        ``attainment`` (NaN without measured runs) and ``meets_objective``.

    Examples
    --------
    >>> sla_over_time(wb, start="2026-08-01", end="2026-11-01", period="week")  # doctest: +SKIP
    """
    config = load_sla_config(targets)
    bound = _bound(config, start, end, workflow, period=_common.period(period))
    register_targets(wb, config)
    return wb.query("workflow_sla_over_time", **bound)


def register_targets(wb: Workbench, targets: SlaSource = None) -> SlaConfig:
    """Register the listed targets on ``wb`` as ``workflow_sla_targets``; return the config.

    Targets equal to the ones registered already are not registered again.
    """
    config = load_sla_config(targets)
    frame = config.frame()
    if wb.relation_state().get(TARGETS_RELATION) != f"frame:{frame_digest(frame)}":
        wb.register(TARGETS_RELATION, frame)
    return config


def _bound(
    config: SlaConfig, start: Any, end: Any, workflow: str | None, **extra: Any
) -> dict[str, Any]:
    return _common.params(
        start,
        end,
        workflow=workflow,
        default_target_ms=config.default.target_ms,
        default_objective=config.default.objective,
        **extra,
    )


def _sla_path(source: str | Path | None) -> Path:
    if source is not None:
        if not isinstance(source, str | Path):
            kind = type(source).__name__
            raise ConfigError(f"SLA source must be a path or a mapping, not {kind}")
        return Path(source)
    if env := os.environ.get(SLA_ENV):
        return Path(env)
    return Path(str(resources.files("auterity_lab.workflow") / "sla.yaml"))
