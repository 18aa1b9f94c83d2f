"""Experiments (spec A/B testing, ``startModelTuning``, percentage rollouts of §10.2).

Define an experiment, assign users deterministically, analyse the outcome.

Assignment
----------
A user's bucket is ``int(sha256(f"{key}:{user_id}")[:16], 16) % 10000`` (basis points); variants
take consecutive bucket ranges in their listed order, sized by their allocation (percent, up to
two decimals, summing to 100). The same user always gets the same variant of an experiment, and
the buckets of two experiments are independent.

Analysis
--------
Users are the randomisation unit, so every metric is a ratio of per-user sums
(``sum y_i / sum n_i`` over the variant's users, see ``queries/ml_experiment_metrics.sql``) and
its variance comes from the delta method on the per-user moments (clustered by user; for
per-user metrics such as ``requests_per_user`` it is Welch's z-test). Per treatment and metric:
the difference to control and the relative lift with normal intervals, a two-sided p-value,
Benjamini–Hochberg q-values in two families — the primary metric across treatments, and the
secondary metrics across metrics and treatments — and the minimum detectable effect at the
observed sample size (``(z_{1-alpha/2} + z_power) * se``). The sample-ratio-mismatch
check is Pearson's chi-square of the exposed users against the allocation.

Examples
--------
>>> exp = define_experiment("prompt-v2", {"control": 50, "treatment": 50})
>>> exp.assign(["0b2f7f3e-6a0b-4a34-9a52-1f1c5a0e9b11"]).tolist()
['treatment']
>>> readout = analyze_experiment(wb, key="prompt-v2-rollout")                  # doctest: +SKIP
>>> readout.effects.query("metric == 'rating'")                                # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from auterity_lab.arguments import check_share
from auterity_lab.errors import QueryParameterError
from auterity_lab.multiple_testing import bh_qvalues
from auterity_lab.periods import DateRange

if TYPE_CHECKING:
    from auterity_lab.warehouse import Workbench

BUCKETS = 10_000
"""Hash buckets per experiment: allocations have a resolution of 0.01 %."""

METRICS: dict[str, tuple[str, bool]] = {
    "rating": ("mean user_rating of rated outputs", True),
    "high_rated_share": ("share of rated outputs rated >= 4", True),
    "feedback_rate": ("share of outputs that were rated", True),
    "error_rate": ("share of outputs with status error", False),
    "latency_ms": ("mean response time of outputs that did not error", False),
    "requests_per_user": ("outputs per exposed user", True),
}
"""Experiment metrics: name → (definition, whether higher is better)."""

_METRIC_ALIASES = {
    "user_rating": "rating",
    "latency": "latency_ms",
    "requests": "requests_per_user",
}


@dataclass(frozen=True)
class Variant:
    """One arm of an experiment: its name and allocation in percent."""

    name: str
    allocation: float


@dataclass(frozen=True)
class Experiment:
    """An experiment definition: key, variants (first = control unless given) and allocation."""

    key: str
    variants: tuple[Variant, ...]
    control: str

    def bucket(self, user_ids: Iterable[Any]) -> np.ndarray:
        """Each user's bucket in ``[0, BUCKETS)``: a hash of the key and the user id."""
        return np.array(
            [
                int(hashlib.sha256(f"{self.key}:{_user_key(u)}".encode()).hexdigest()[:16], 16)
                % BUCKETS
                for u in user_ids
            ],
            dtype=np.int64,
        )

    def assign(self, user_ids: Iterable[Any]) -> pd.Series:
        """The variant of each user (same user, same variant), indexed like ``user_ids``."""
        ids = list(user_ids)
        edges = np.cumsum([round(v.allocation * BUCKETS / 100) for v in self.variants])
        names = np.array([v.name for v in self.variants], dtype=object)
        return pd.Series(
            names[np.searchsorted(edges, self.bucket(ids), side="right")],
            index=pd.Index(ids, name="user_id"),
            name="variant",
        )

    @property
    def allocation(self) -> dict[str, float]:
        """``{variant: percent}``."""
        return {v.name: v.allocation for v in self.variants}


def _user_key(user_id: Any) -> str:
    return str(user_id).strip().lower()


def define_experiment(
    key: str,
    variants: Mapping[str, float] | Sequence[tuple[str, float]],
    *,
    control: str | None = None,
) -> Experiment:
    """Validate and build an experiment definition.

    Parameters
    ----------
    key
        The experiment key hashed with each user id.
    variants
        ``{name: allocation percent}`` in bucket order (or a list of pairs); allocations are
        positive, have at most two decimals and sum to 100.
    control
        The variant the others are compared with; default the first.

    Raises
    ------
    QueryParameterError
        Empty key, fewer than two variants, repeated names, or allocations that do not add up.

    Examples
    --------
    >>> define_experiment("rollout", {"off": 90, "on": 10}).allocation
    {'off': 90.0, 'on': 10.0}
    >>> define_experiment("x", {"a": 60, "b": 60})
    Traceback (most recent call last):
    ...
    auterity_lab.errors.QueryParameterError: experiment 'x': allocations sum to 120, not 100
    """
    if not isinstance(key, str) or not key.strip():
        raise QueryParameterError(f"experiment key must be a non-empty string, not {key!r}")
    pairs = list(variants.items()) if isinstance(variants, Mapping) else _pairs(key, variants)
    names = [str(n) for n, _ in pairs]
    if len(pairs) < 2:
        raise QueryParameterError(f"experiment {key!r} needs at least two variants")
    if len(set(names)) != len(names):
        raise QueryParameterError(f"experiment {key!r} repeats a variant name: {names}")
    out = []
    for name, alloc in pairs:
        if isinstance(alloc, bool) or not isinstance(alloc, int | float) or not alloc > 0:
            raise QueryParameterError(
                f"experiment {key!r}: allocation of {name!r} must be > 0, not {alloc!r}"
            )
        if abs(alloc * 100 - round(alloc * 100)) > 1e-6:
            raise QueryParameterError(
                f"experiment {key!r}: allocation of {name!r} has more than two decimals ({alloc})"
            )
        out.append(Variant(str(name), float(alloc)))
    total = sum(v.allocation for v in out)
    if abs(total - 100) > 1e-6:
        raise QueryParameterError(f"experiment {key!r}: allocations sum to {total:g}, not 100")
    control = names[0] if control is None else control
    if control not in names:
        raise QueryParameterError(f"experiment {key!r}: control {control!r} is not a variant")
    return Experiment(key, tuple(out), control)


def _pairs(key: str, variants: Any) -> list[tuple[Any, Any]]:
    bad = isinstance(variants, str | bytes) or not isinstance(variants, Iterable)
    pairs = [] if bad else list(variants)
    if bad or not all(isinstance(p, tuple | list) and len(p) == 2 for p in pairs):
        raise QueryParameterError(
            f"experiment {key!r}: variants must be a mapping or (name, allocation) pairs, "
            f"not {variants!r}"
        )
    return pairs


def assign_variants(experiment: Experiment, user_ids: Iterable[Any]) -> pd.DataFrame:
    """Deterministic assignment of users to the experiment's variants.

    Returns
    -------
    DataFrame
        One row per user id, in input order: ``user_id``, ``bucket`` (0–9999), ``variant``.

    Examples
    --------
    >>> exp = define_experiment("demo", {"control": 50, "treatment": 50})
    >>> assign_variants(exp, ["u1", "u3"]).to_dict("list")
    {'user_id': ['u1', 'u3'], 'bucket': [7800, 3100], 'variant': ['treatment', 'control']}
    """
    if isinstance(user_ids, str | bytes) or not isinstance(user_ids, Iterable):
        raise QueryParameterError(f"user_ids must be a list of user ids, not {user_ids!r}")
    ids = list(user_ids)
    variant = experiment.assign(ids)
    return pd.DataFrame(
        {"user_id": ids, "bucket": experiment.bucket(ids), "variant": variant.to_numpy()}
    )


def list_experiments(wb: Workbench, /) -> pd.DataFrame:
    """The tenant's experiments, newest first.

    Returns
    -------
    DataFrame
        ``experiment_id``, ``experiment_key``, ``name``, ``status``, ``variants`` (JSON text),
        ``primary_metric``, ``started_at``, ``ended_at``, ``created_at``, ``assigned_users``,
        ``first_exposure``, ``last_exposure``, ``data_end``.

    Examples
    --------
    >>> list_experiments(wb)[["experiment_key", "assigned_users"]]             # doctest: +SKIP
    """
    return wb.query("ml_experiments")


def load_experiment(wb: Workbench, /, *, key: str) -> Experiment:
    """The definition of experiment ``key`` as stored in the ``experiments`` table (newest).

    Raises
    ------
    QueryParameterError
        No such experiment, or its stored variants are not a valid definition.
    """
    row = _experiment_row(wb, key)
    return _definition(key, row["variants"])


def _experiment_row(wb: Workbench, key: str) -> pd.Series:
    if not isinstance(key, str):
        raise QueryParameterError(f"experiment key must be text, not {key!r}")
    found = list_experiments(wb)
    rows = found[found["experiment_key"] == key]
    if rows.empty:
        known = ", ".join(sorted(found["experiment_key"].unique())) or "none"
        raise QueryParameterError(f"no experiment {key!r} for tenant {wb.tenant!r}; known: {known}")
    return rows.iloc[0]


def _definition(key: str, variants_json: str | None) -> Experiment:
    try:
        items = json.loads(variants_json or "[]")
        pairs = [(str(v["name"]), v["allocation"]) for v in items]
    except (ValueError, TypeError, KeyError) as exc:
        raise QueryParameterError(
            f"experiment {key!r}: stored variants are not a list of {{name, allocation}}: "
            f"{variants_json!r}"
        ) from exc
    return define_experiment(key, pairs)


@dataclass(frozen=True)
class ExperimentAnalysis:
    """The readout of :func:`analyze_experiment`.

    Attributes
    ----------
    experiment
        The definition analysed.
    start, end
        The analysis window (UTC).
    primary_metric
        The metric the experiment was designed for.
    variants
        One row per variant and metric: ``variant``, ``metric``, ``users``, ``value``, ``se``,
        ``ci_low``, ``ci_high``, ``numerator``, ``denominator``.
    effects
        One row per treatment and metric against control: ``variant``, ``control``, ``metric``,
        ``primary``, ``higher_is_better``, ``users_control``, ``users_variant``,
        ``value_control``, ``value_variant``, ``difference``, ``ci_low``, ``ci_high``, ``lift``,
        ``lift_ci_low``, ``lift_ci_high``, ``z``, ``p_value``, ``q_value``, ``significant``,
        ``mde``, ``mde_relative``.
    srm
        One row per variant with the sample-ratio check: ``variant``, ``allocation``,
        ``observed_users``, ``expected_users``, ``conflicted_users``, ``chi2``, ``df``,
        ``p_value`` and ``mismatch`` (p below ``srm_alpha``; the same on every row).
    """

    experiment: Experiment
    start: Any
    end: Any
    primary_metric: str
    variants: pd.DataFrame
    effects: pd.DataFrame
    srm: pd.DataFrame


def analyze_experiment(
    wb: Workbench,
    /,
    *,
    key: str,
    start: Any = None,
    end: Any = None,
    experiment: Experiment | None = None,
    primary_metric: str | None = None,
    confidence: float = 0.95,
    power: float = 0.8,
    srm_alpha: float = 0.001,
) -> ExperimentAnalysis:
    """Per-variant metrics, lift with CI, p-values, SRM check and MDE of one experiment.

    Parameters
    ----------
    wb
        The tenant's workbench.
    key
        The experiment key.
    start, end
        Analysis window (UTC): users first exposed in ``[start, end)`` and their outcomes
        until ``end``. Default: the experiment's ``started_at`` and its ``ended_at`` (else the
        end of the data).
    experiment
        The definition to check allocations against; default the stored one.
    primary_metric
        One of :data:`METRICS`; default the stored ``primary_metric`` (else ``rating``).
    confidence, power
        Level of the intervals (``alpha = 1 - confidence`` for significance and the MDE) and
        the power of the minimum detectable effect.
    srm_alpha
        A sample ratio mismatch is flagged when the chi-square p-value is below this.

    Returns
    -------
    ExperimentAnalysis

    Raises
    ------
    QueryParameterError
        Unknown experiment or metric, a bad window, or assignments to variants the definition
        does not have.

    Examples
    --------
    >>> r = analyze_experiment(wb, key="prompt-v2-rollout")                     # doctest: +SKIP
    >>> r.srm["mismatch"].iloc[0], r.effects.loc[r.effects["primary"], "lift"]  # doctest: +SKIP
    """
    confidence = check_share("confidence", confidence)
    power = check_share("power", power)
    srm_alpha = check_share("srm_alpha", srm_alpha)
    row = _experiment_row(wb, key)
    experiment = experiment or _definition(key, row["variants"])
    metric = _metric_name(primary_metric or row["primary_metric"] or "rating")
    window = DateRange.of(
        start if start is not None else row["started_at"],
        end
        if end is not None
        else (row["ended_at"] if pd.notna(row["ended_at"]) else _after(row["data_end"])),
    )
    sums = wb.query("ml_experiment_metrics", experiment_key=key, **window.params())
    unknown = sorted(set(sums["variant"]) - set(experiment.allocation))
    if unknown:
        raise QueryParameterError(
            f"experiment {key!r}: users are assigned to variants {unknown} that the definition "
            f"({', '.join(experiment.allocation)}) does not have"
        )
    variants = _variant_metrics(sums, confidence)
    effects = _effects(variants, experiment, metric, confidence, power)
    srm = _srm(sums, experiment, srm_alpha)
    return ExperimentAnalysis(experiment, window.start, window.end, metric, variants, effects, srm)


def _metric_name(name: str) -> str:
    name = _METRIC_ALIASES.get(name, name)
    if name not in METRICS:
        raise QueryParameterError(
            f"unknown experiment metric {name!r}; known: {', '.join(METRICS)}"
        )
    return name


def _after(ts: Any) -> Any:
    if ts is None or pd.isna(ts):
        raise QueryParameterError("the tenant has no data to analyse; give start and end")
    return pd.Timestamp(ts) + pd.Timedelta(microseconds=1)


def _variant_metrics(sums: pd.DataFrame, confidence: float) -> pd.DataFrame:
    n = sums["users"].to_numpy(float)
    sy, sn = sums["sum_y"].to_numpy(float), sums["sum_n"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ybar, nbar = sy / n, sn / n
        ratio = sy / sn
        s_yy = (sums["sum_yy"].to_numpy(float) - n * ybar**2) / (n - 1)
        s_nn = (sums["sum_nn"].to_numpy(float) - n * nbar**2) / (n - 1)
        s_yn = (sums["sum_yn"].to_numpy(float) - n * ybar * nbar) / (n - 1)
        var = (s_yy - 2 * ratio * s_yn + ratio**2 * s_nn) / (n * nbar**2)
    se = np.sqrt(np.clip(var, 0, None))
    z = stats.norm.ppf(0.5 + confidence / 2)
    return pd.DataFrame(
        {
            "variant": sums["variant"],
            "metric": sums["metric"],
            "users": sums["users"],
            "value": ratio,
            "se": se,
            "ci_low": ratio - z * se,
            "ci_high": ratio + z * se,
            "numerator": sy,
            "denominator": sn,
        }
    )


def _effects(
    variants: pd.DataFrame,
    experiment: Experiment,
    primary: str,
    confidence: float,
    power: float,
) -> pd.DataFrame:
    z_ci = stats.norm.ppf(0.5 + confidence / 2)
    z_power = stats.norm.ppf(power)
    by = variants.set_index(["variant", "metric"])
    rows = []
    for v in experiment.variants if len(variants) else ():
        if v.name == experiment.control:
            continue
        for metric, (_, higher_is_better) in METRICS.items():
            c = _get(by, experiment.control, metric)
            t = _get(by, v.name, metric)
            diff = t["value"] - c["value"]
            se = math.sqrt(t["se"] ** 2 + c["se"] ** 2)
            ratio = t["value"] / c["value"] if c["value"] else math.nan
            lift_se = (
                abs(ratio) * math.sqrt((t["se"] / t["value"]) ** 2 + (c["se"] / c["value"]) ** 2)
                if c["value"] and t["value"]
                else math.nan
            )
            zstat = diff / se if se > 0 else math.nan
            mde = (z_ci + z_power) * se
            rows.append(
                {
                    "variant": v.name,
                    "control": experiment.control,
                    "metric": metric,
                    "primary": metric == primary,
                    "higher_is_better": higher_is_better,
                    "users_control": int(c["users"]),
                    "users_variant": int(t["users"]),
                    "value_control": c["value"],
                    "value_variant": t["value"],
                    "difference": diff,
                    "ci_low": diff - z_ci * se,
                    "ci_high": diff + z_ci * se,
                    "lift": ratio - 1,
                    "lift_ci_low": ratio - 1 - z_ci * lift_se,
                    "lift_ci_high": ratio - 1 + z_ci * lift_se,
                    "z": zstat,
                    "p_value": 2 * stats.norm.sf(abs(zstat)) if se > 0 else math.nan,
                    "mde": mde,
                    "mde_relative": mde / abs(c["value"]) if c["value"] else math.nan,
                }
            )
    out = pd.DataFrame(rows, columns=_EFFECT_COLUMNS)
    q = np.full(len(out), np.nan)
    primary_rows = out["primary"].to_numpy(bool)
    for family in (primary_rows, ~primary_rows):  # primary metric, secondary metrics
        q[family] = bh_qvalues(out.loc[family, "p_value"].to_numpy(float))
    out.insert(out.columns.get_loc("p_value") + 1, "q_value", q)
    out.insert(out.columns.get_loc("q_value") + 1, "significant", out["q_value"] < 1 - confidence)
    return out


_EFFECT_COLUMNS = [
    "variant",
    "control",
    "metric",
    "primary",
    "higher_is_better",
    "users_control",
    "users_variant",
    "value_control",
    "value_variant",
    "difference",
    "ci_low",
    "ci_high",
    "lift",
    "lift_ci_low",
    "lift_ci_high",
    "z",
    "p_value",
    "mde",
    "mde_relative",
]  # q_value and significant are inserted after p_value


def _get(by: pd.DataFrame, variant: str, metric: str) -> dict[str, float]:
    if (variant, metric) in by.index:
        row = by.loc[(variant, metric)]
        return {"users": float(row["users"]), "value": float(row["value"]), "se": float(row["se"])}
    return {"users": 0.0, "value": math.nan, "se": math.nan}


def _srm(sums: pd.DataFrame, experiment: Experiment, alpha: float) -> pd.DataFrame:
    per_variant = sums[sums["metric"] == "requests_per_user"].set_index("variant")
    names = [v.name for v in experiment.variants] if len(per_variant) else []
    observed = np.array([per_variant["users"].get(n, 0) for n in names], dtype=float)
    conflicted = [int(per_variant["conflicted_users"].get(n, 0)) for n in names]
    share = np.array([experiment.allocation[n] for n in names], dtype=float) / 100
    expected = observed.sum() * share
    chi2, p = stats.chisquare(observed, expected) if len(names) else (math.nan, math.nan)
    return pd.DataFrame(
        {
            "variant": names,
            "allocation": share * 100,
            "observed_users": observed.astype(np.int64),
            "expected_users": expected,
            "conflicted_users": conflicted,
            "chi2": float(chi2),
            "df": len(names) - 1,
            "p_value": float(p),
            "mismatch": bool(p < alpha),
        }
    )
