"""Fuzzing the library's public functions: only documented errors, never a partial write.

The API is enumerated, not listed by hand: every public function defined in the analytics
modules (overview, business, ml, workflow, unified, health, metrics, stats, insights, alerts,
export, periods, queries, warehouse), plus the ``Workbench`` methods and ``DateRange.of``. A
function added later is fuzzed without touching this file.

Each function gets a parametrised Hypothesis test (its id is the function's name). An example
starts from arguments that work and replaces one or more of them with a hostile value (random
or SQL-ish text, broken or naive or far-future dates, inverted ranges, extreme numbers, wrong
containers, unknown enum values and tenants). The contract:

* the call returns, or raises an :class:`AuterityLabError` subclass; any other exception
  (``ValueError``, ``KeyError``, ``TypeError``, ``duckdb.Error``, ...) is a finding;
* a call that raises leaves the data directory byte-identical.

Two tiers. *Entry points* (functions taking a workbench, loaders, parsers, exports) get every
hostile value, wrong Python types included. *Numeric kernels* (array in, number out: most of
``stats``, a few helpers of ``insights`` and ``metrics``) get hostile numbers and arrays (empty,
NaN, inf, huge, one element, two-dimensional) but not wrong Python types, which are programming
errors there. Object parameters (``wb``, ``state``, ``rule``, ``experiment``, ``result``,
``config``, ``catalog``, ``thresholds``) are never replaced.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import inspect
import math
import os
import resource
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auterity_lab.errors import AuterityLabError
from auterity_lab.periods import DateRange
from auterity_lab.synth import generate_demo
from auterity_lab.warehouse import Workbench
from tests.corpus import (
    SQLISH,
    corpus_summary,
    diff_snapshots,
    hostile_values,
    snapshot,
    tally,
)

__all__ = ["corpus_summary"]
pytestmark = pytest.mark.slow

MODULES = (
    "overview", "business", "ml", "workflow", "unified", "health", "metrics", "stats",
    "insights", "alerts", "export", "periods", "queries", "warehouse",
)
# (array in, number out) functions: hostile numbers and arrays, not wrong Python types
KERNELS = {
    "stats.block_bootstrap_ci", "stats.business_value", "stats.correlation_pvalues",
    "stats.cusum_change_point", "stats.decompose", "stats.effective_n", "stats.fill_gaps",
    "stats.granger_pvalues", "stats.long_run_sd", "stats.mann_kendall", "stats.rank",
    "stats.robust_z", "stats.theil_sen", "stats.welch", "insights.running_level",
    "insights.tail_pvalues", "insights.severity", "insights.fmt_value", "metrics.transform",
    "metrics.series_name", "stats.ar1_long_run_sd", "insights.family_levels",
    "insights.scan_levels", "stats.calibrated_tail_scale",
}
OBJECT_PARAMS = {
    "wb", "self", "state", "rule", "experiment", "result", "config", "catalog", "thresholds",
    "audit", "context", "isf",
}
START, END = "2026-10-17", "2026-11-01"
ARRAY = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0, 8.0, 9.0, 7.0, 9.0, 3.0, 2.0]
CALL_SECONDS = 20.0
SLOW_CALL_SECONDS = 2.0
MEMORY_CAP = 6 * 2**30
# examples per function (slow functions: half); raise FUZZ_EXAMPLES for a deeper run
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 4))
EXAMPLES_SLOW = max(1, EXAMPLES // 2)

# --------------------------------------------------------------------------- the API


def public_api() -> dict[str, Callable[..., Any]]:
    """``module.name`` → function, for every public function defined in :data:`MODULES`."""
    found: dict[str, Callable[..., Any]] = {}
    for short in MODULES:
        mod = importlib.import_module(f"auterity_lab.{short}")
        names = getattr(mod, "__all__", None) or [n for n in dir(mod) if not n.startswith("_")]
        for name in names:
            obj = getattr(mod, name)
            home = getattr(obj, "__module__", "") or ""
            if (
                inspect.isfunction(obj)
                and not name.startswith("_")
                and (home == mod.__name__ or home.startswith(mod.__name__ + "."))
                and obj not in found.values()
            ):
                found[f"{short}.{name}"] = obj
    found["warehouse.Workbench.open"] = Workbench.open
    for method in ("sql", "query", "register", "create_view"):
        found[f"warehouse.Workbench.{method}"] = getattr(Workbench, method)
    found["periods.DateRange.of"] = DateRange.of
    return found


API = public_api()

# --------------------------------------------------------------------------- valid arguments


def _series_frame() -> pd.DataFrame:
    periods = pd.date_range("2026-10-01", periods=21, freq="D", tz="UTC")
    return pd.DataFrame(
        {
            "period": periods,
            "metric": "sessions",
            "segment": "",
            "value": np.asarray(ARRAY + [4.0, 4.0, 4.0, 4.0]),
            "n": 10,
        }
    )


def valid_arguments(
    name: str, fn: Callable[..., Any], wb: Workbench, tmp: Path
) -> dict[str, Any]:
    """Arguments under which ``fn`` is expected to work, by parameter name."""
    from auterity_lab import alerts, ml, stats

    special: dict[str, Any] = {
        "start": START,
        "end": END,
        "on": "2026-10-20",
        "as_of": "2026-11-01",
        "system": "auterity",
        "key": "prompt-v2-rollout",
        "insight": "no-such-insight",
        "rule_id": "no-such-rule",
        "action": "acknowledge",
        "steps": ["signup", "activate"],
        "by": "device",
        "tenant": "acme",
        "name": "daily_user_analytics",
        "text": "-- purpose: x\nSELECT 1 AS one",
        "sql": "SELECT 1",
        "frame": pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}),
        "fmt": "csv",
        "path": tmp / "out.csv",
        "value": 1.5,
        "type_": "INTEGER",
        "label": "x",
        "values": list(ARRAY),
        "x": np.asarray(ARRAY),
        "y": np.asarray(ARRAY[::-1]),
        "before": ARRAY[:8],
        "after": ARRAY[8:],
        "resid": list(ARRAY),
        "z": list(ARRAY),
        "r": 0.3,
        "n_eff": 20.0,
        "n": 5,
        "acf_x": np.asarray([1.0, 0.2]),
        "acf_y": np.asarray([1.0, 0.1]),
        "lag": 1,
        "q_value": 0.01,
        "revenue": 100.0,
        "score": 2.5,
        "alpha": 0.05,
        "simulated": np.asarray(ARRAY),
        "isf": lambda q: -np.log(q),  # exponential tail
        "unit": "ms",
        "scale": "log",
        "metric_names": ["sessions", "ai_p95_latency"],
        "segments": False,
        "series": _series_frame(),
        "variants": {"control": 50.0, "treatment": 50.0},
        "user_ids": ["u1", "u2", "u3"],
        "data_dir": wb.data_dir,
        "select_sql": "SELECT 1 AS one",
        "type": "INTEGER",
    }
    if name == "metrics.metric":
        special["name"] = "sessions"
    if name == "metrics.split_series_name":
        special["name"] = "sessions[gpt-4o]"
    if name in ("warehouse.Workbench.register", "warehouse.Workbench.create_view"):
        special["name"] = "fuzz_relation"
    if name == "metrics.series_name":
        special["segments"] = ["", "gpt-4o"]
    if name == "export.to_bytes":
        special["fmt"] = "json"
    if name == "stats.correlate":
        special["values"] = pd.DataFrame({"a": ARRAY * 2, "b": ARRAY[::-1] * 2})
    if name in ("stats.correlation_records",):
        special["result"] = stats.correlate(
            pd.DataFrame({"a": ARRAY * 2, "b": ARRAY[::-1] * 2}), n_boot=9, granger=False
        )
    if name == "ml.assign_variants":
        special["experiment"] = ml.define_experiment("exp", {"a": 50.0, "b": 50.0})
    if name == "alerts.evaluate_rule":
        special["rule"] = alerts.load_rules().rules[0]
        special["series"] = _series_frame()[["period", "value", "n"]]
    args: dict[str, Any] = {}
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        if p.name in ("wb", "self"):
            args[p.name] = wb
        elif p.name in special and (p.default is p.empty or p.name in ("start", "end")):
            args[p.name] = special[p.name]
        elif p.default is not p.empty:
            args[p.name] = p.default
        elif p.name in special:
            args[p.name] = special[p.name]
        else:
            raise AssertionError(f"{name}: no valid value for parameter {p.name!r}")
    if name == "warehouse.Workbench.sql":
        args["text"] = "SELECT count(*) AS n FROM users WHERE created_at >= $since"
        args["since"] = START
    if name == "warehouse.Workbench.query":
        args["name"] = "daily_user_analytics"
        args.update(start=START, end=END)
    if name == "warehouse.Workbench.open":
        args.update(data_dir=wb.data_dir, tenant="acme")
    if name == "queries.parse_query":
        args["name"] = "fuzz"
    return args


def call(fn: Callable[..., Any], args: dict[str, Any], wb: Workbench) -> Any:
    """Call ``fn`` (positional-only parameters by position); interrupt DuckDB if it runs long."""
    sig = inspect.signature(fn)
    positional = [
        args[p.name]
        for p in sig.parameters.values()
        if p.kind is p.POSITIONAL_ONLY and p.name in args
    ]
    only_positional = {
        p.name for p in sig.parameters.values() if p.kind is inspect.Parameter.POSITIONAL_ONLY
    }
    keywords = {k: v for k, v in args.items() if k not in only_positional}
    timer = threading.Timer(CALL_SECONDS, wb._con.interrupt)
    timer.start()
    try:
        result = fn(*positional, **keywords)
    finally:
        timer.cancel()
    if isinstance(result, Workbench) and result is not wb:
        result.close()
    return result


# --------------------------------------------------------------------------- strategies
def _kernel_values() -> st.SearchStrategy[Any]:
    return st.one_of(_kernel_scalars(), _kernel_arrays())


def _kernel_arrays() -> st.SearchStrategy[Any]:
    floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
    return st.one_of(
        st.lists(floats, max_size=12).map(np.asarray),
        st.just(np.asarray([])),
        st.just(np.asarray([1.0])),
        st.just(np.full(20, np.nan)),
        st.just(np.full(20, 7.0)),
        st.just(np.asarray([[1.0, 2.0], [3.0, 4.0]])),
        st.just(np.asarray(ARRAY) * 1e300),
    )


def _kernel_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from([0, -1, 10**9, -(10**9), 1.5, math.nan, math.inf, -math.inf, 1e308]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(min_value=-(10**6), max_value=10**6),
    )


def _hostile_text() -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(SQLISH), st.text(max_size=20))


def _date_values() -> st.SearchStrategy[Any]:
    day = st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31))
    return st.one_of(
        day,
        day.map(lambda d: d.isoformat()),
        st.datetimes(timezones=st.none() | st.timezones()),
        st.just(pd.Timestamp("2026-10-20", tz="UTC")),
        st.just(pd.NaT),
        st.just(np.datetime64("2026-10-20")),
    )


def _relative_paths() -> st.SearchStrategy[Any]:
    safe = st.text(st.characters(exclude_characters="/\\\x00"), min_size=1, max_size=20)
    return st.one_of(
        safe.filter(lambda t: t not in (".", "..")),
        safe.filter(lambda t: t not in (".", "..")).map(lambda t: Path("out") / t),
        st.sampled_from(["out.xlsx", "out.", "no_such_dir/out.csv", "out.parquet.json"]),
    )


def _is_frame(annotation: Any) -> bool:
    # DataFrame parameters take computed frames, not user input: a wrong type is a programming
    # error (AttributeError), like passing a string as ``wb``.
    return "DataFrame" in str(annotation) and "str" not in str(annotation)


def mutations(name: str, fn: Callable[..., Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict of parameter → hostile value, for one or more of ``fn``'s parameters."""
    names = [
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.name not in OBJECT_PARAMS
        and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        and (name in KERNELS or not _is_frame(p.annotation))
    ]
    if not names:
        return st.just({})
    value = _kernel_values() if name in KERNELS else st.one_of(hostile_values(), _date_values())
    annotations = {p.name: str(p.annotation) for p in inspect.signature(fn).parameters.values()}

    def for_param(param: str) -> st.SearchStrategy[Any]:
        # output paths stay relative (under the scratch folder the fuzz runs in)
        if param == "path":
            return _relative_paths()
        if name in KERNELS and annotations[param] in ("float", "int", "int | None"):
            return _kernel_scalars()  # a kernel's number: hostile numbers only
        if name in KERNELS and annotations[param] == "np.ndarray":
            return _kernel_arrays()  # an array parameter: hostile arrays only
        if name in KERNELS and annotations[param] != "Any":
            return _hostile_text()  # a kernel's name or enum: unknown values of the right type
        return value

    single = st.sampled_from(names).flatmap(lambda n: st.fixed_dictionaries({n: for_param(n)}))
    several = st.sampled_from(names).flatmap(
        lambda first: st.fixed_dictionaries(
            {first: for_param(first)}, optional={n: for_param(n) for n in names if n != first}
        )
    )
    options = [single, several]
    if {"start", "end"} <= set(names):
        options.append(st.just({"start": END, "end": START}))  # inverted
        options.append(st.just({"start": START, "end": START}))  # empty
    return st.one_of(*options)


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny demo (2 tenants, 30 days, ~100 rows a table): quick to query, quick to hash."""
    d = tmp_path_factory.mktemp("fuzz") / "data"
    generate_demo(d, tenants=2, days=30, scale=0.01, seed=3)
    return d


@pytest.fixture(scope="module", autouse=True)
def _memory_cap() -> Iterator[None]:
    """Cap the address space while fuzzing: a huge size parameter must end in a MemoryError
    (a finding), not in the kernel's OOM killer on a machine shared with other work."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = MEMORY_CAP if hard == resource.RLIM_INFINITY else min(MEMORY_CAP, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.fixture(scope="module")
def fuzz_wb(fuzz_dir: Path) -> Iterator[Workbench]:
    # relative paths among the hostile values land in a scratch folder, never in the repository
    with contextlib.chdir(fuzz_dir.parent), Workbench.open(fuzz_dir, tenant="acme") as bench:
        yield bench


SLOW = {
    # long-running even with good arguments: fewer examples
    "stats.correlations", "insights.generate_insights", "insights.scan",
    "unified.unified_analytics",
    "stats.correlate", "ml.prompt_version_comparison", "insights.deployment_checks",
    "alerts.check_alerts", "stats.block_bootstrap_ci", "health.system_health",
}


@pytest.mark.usefixtures("corpus_summary")
@pytest.mark.parametrize("name", sorted(API))
def test_only_documented_errors_and_no_partial_write(
    name: str, fuzz_wb: Workbench, fuzz_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    fn = API[name]
    tmp = tmp_path_factory.mktemp("out")
    baseline = valid_arguments(name, fn, fuzz_wb, tmp)
    examples = EXAMPLES_SLOW if name in SLOW else EXAMPLES

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(mutation=mutations(name, fn))
    def fuzz(mutation: dict[str, Any]) -> None:
        args = {**baseline, **mutation}
        before = snapshot(fuzz_dir)
        started = time.monotonic()
        tally("fuzz: library calls")
        try:
            call(fn, args, fuzz_wb)
        except AuterityLabError:
            tally("fuzz: library calls refused with a documented error")
            changed = diff_snapshots(before, snapshot(fuzz_dir))
            assert not changed, f"{name}({mutation!r}) failed but changed {changed[:5]}"
        except Exception as exc:  # the finding: anything else escaping
            raise AssertionError(
                f"{name}({_show(mutation)}) raised {type(exc).__module__}.{type(exc).__name__}: "
                f"{str(exc)[:300]}"
            ) from exc
        elapsed = time.monotonic() - started
        if elapsed > SLOW_CALL_SECONDS:
            tally(f"fuzz: slow call ({elapsed:.1f} s) {name}({_show(mutation)[:120]})")
        assert elapsed < CALL_SECONDS * 1.5, f"{name}({_show(mutation)}) ran {elapsed:.0f} s"

    fuzz()
    tally("fuzz: library functions")


def _show(mutation: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r:.80}" for k, v in mutation.items())


def test_the_api_is_enumerated() -> None:
    """The enumeration finds every module's entry points (a guard against a silent empty list)."""
    assert {"overview.headline_kpis", "business.retention", "ml.compare_models",
            "workflow.bottlenecks", "unified.unified_analytics", "health.system_health",
            "metrics.metric_series", "stats.correlations", "insights.generate_insights",
            "alerts.check_alerts", "export.write_frame", "periods.DateRange.of",
            "queries.coerce", "warehouse.Workbench.query"} <= set(API)
    assert len(API) >= 100


def test_overview_system_must_be_a_known_name(fuzz_wb: Workbench) -> None:
    """Found by an earlier fuzz run (other example counts): kept as a plain reproduction."""
    from auterity_lab import overview

    with pytest.raises(AuterityLabError, match="system"):
        overview.system_daily(fuzz_wb, system=[], start=START, end=END)
