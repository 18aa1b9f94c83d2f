"""Run catalog reports with papermill and publish them: HTML, PDF, CSV/JSON tables and ``run.json``.

A run of report ``NAME`` writes ``OUT/NAME/RUN-ID/``:

- ``NAME.ipynb``: the executed notebook (on failure it shows the failing cell and its error);
- ``NAME.html``: code hidden, plotly charts embedded so they render offline, widget state not
  stored, print CSS that starts each ``h2`` section on a new page;
- ``NAME.pdf``: that HTML printed by headless Chromium (:mod:`auterity_lab.pdf`);
- ``tables/<table>.csv`` and ``.json``: the report's key tables, those the notebook shows with
  :func:`show_table`;
- ``run.json``: parameters, data manifest fingerprint, package version, start, duration,
  status, error, the failing cell, every attempt and every output file with its SHA-256.

Parameters are checked against the catalog (:mod:`auterity_lab.catalog`) before anything is
written. A failed attempt is retried as the catalog says; a run that still fails is recorded,
the alert channels are told, and the last good report stays where it was: ``OUT/NAME/latest``
(``latest-tenant=acme`` for a report per tenant) only ever points to a successful run.
Run ids are predictable: the UTC start (or scheduled) time and the identifying parameters,
``20261101T061500Z-tenant=acme``, so a grid of runs never collides.

Reports shared outside the team can hide small groups: ``suppress_k=K`` shows every key-table
row that describes fewer than K users as ``"<K"`` (with complementary suppression, see
:mod:`auterity_lab.suppression`) in the HTML, PDF, CSV and JSON alike; ``run.json`` records K.
A run as an authenticated identity needs ``reports:run`` and the report's tenant (a report
without a ``tenant`` parameter spans tenants: admin only); every run, denial and failure is
written to the audit log.

Secrets (DSNs, passwords, the HMAC key) never reach outputs: every text file a run writes is
scanned for the configured secrets before it is published, and any found is replaced by
``***`` (``run.json`` counts the replacements).

Examples
--------
>>> run = run_report("daily_digest", {"tenant": "acme"}, "reports")  # doctest: +SKIP
>>> run.status, sorted(p.name for p in run.outputs)                   # doctest: +SKIP
('succeeded', ['daily_digest.html', 'daily_digest.ipynb', 'daily_digest.pdf', ...])
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import html as html_lib
import io
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auterity_lab.audit import audit_log_for, audited
from auterity_lab.catalog import FORMATS, Catalog, ReportSpec, load_catalog
from auterity_lab.config import Settings, load_settings
from auterity_lab.errors import AccessDeniedError, AuterityLabError, ReportError
from auterity_lab.security import SecurityContext, authorize, current_context, require_tenant

if TYPE_CHECKING:
    import pandas as pd

SUPPRESS_K_ENV = "AUTERITY_LAB_REPORT_SUPPRESS_K"
"""Set by the runner for the report's kernel: :func:`show_table` suppresses rows under K users."""

TABLE_MIME = "application/vnd.auterity-lab.table+json"
"""MIME type under which :func:`show_table` hands a table's data to the report runner."""

Notifier = Callable[["ReportRun", ReportSpec], None]

_TABLE_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
_SLUG_UNSAFE = re.compile(r"[^A-Za-z0-9_.=-]+")
# nbconvert's template loads require.js and MathJax from a CDN; reports must work offline, and
# the embedded plotly.js does not need either.
_EXTERNAL_SCRIPT = re.compile(r"<script[^>]+src=[\"']https?://[^>]*>\s*</script>")
_TEXT_SUFFIXES = {".ipynb", ".html", ".csv", ".json"}
_MIN_SECRET = 4  # shorter "secrets" would redact ordinary text


class ReportFailedError(ReportError):
    """A report run failed after its retries; ``run`` is its record (also in ``run.json``)."""

    def __init__(self, message: str, run: ReportRun) -> None:
        super().__init__(message)
        self.run = run


@dataclass(frozen=True)
class Attempt:
    """One execution of the notebook within a run."""

    number: int
    started_at: str
    duration_s: float
    status: str
    error: str | None = None
    failing_cell: int | None = None
    failing_source: str | None = None


@dataclass(frozen=True)
class ReportRun:
    """The outcome of one report run (what ``run.json`` holds).

    ``failing_cell`` is the index (0-based, among all cells of the notebook as executed, the
    injected parameters cell included, papermill's error banners not) of the cell that failed
    last, and ``failing_source`` its first line; ``outputs`` lists every file published besides
    ``run.json``; ``key`` holds the
    identifying parameters (those in the run id and the ``latest`` link).
    """

    name: str
    run_id: str
    run_dir: Path
    status: str
    parameters: dict[str, Any]
    notebook: Path
    html: Path | None
    started_at: str
    duration_s: float
    manifest_fingerprint: str | None
    package_version: str
    error: str | None = None
    failing_cell: int | None = None
    failing_source: str | None = None
    pdf: Path | None = None
    tables: tuple[Path, ...] = ()
    outputs: tuple[Path, ...] = ()
    attempts: tuple[Attempt, ...] = ()
    key: dict[str, Any] = field(default_factory=dict)
    scheduled_for: str | None = None
    redactions: int = 0
    suppress_k: int | None = None
    table_rows: int = 0

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    def record(self) -> dict[str, Any]:
        """``run.json``'s content."""
        body = asdict(self)
        body["run_dir"] = str(self.run_dir)
        for name in ("notebook", "html", "pdf"):
            body[name] = _relative(getattr(self, name), self.run_dir)
        body["tables"] = [_relative(p, self.run_dir) for p in self.tables]
        body["outputs"] = [
            {"path": _relative(p, self.run_dir), "bytes": p.stat().st_size, "sha256": _sha256(p)}
            for p in self.outputs
            if p.is_file()
        ]
        return body


# ----------------------------------------------------------------------------- in the notebook
def show_table(
    name: str,
    frame: pd.DataFrame,
    *,
    title: str | None = None,
    formats: Mapping[str, str] | None = None,
    display: pd.DataFrame | None = None,
) -> None:
    """Display ``frame`` as a table and hand its data to the report runner as key table ``name``.

    In JupyterLab and the HTML report it shows as a formatted table; a report run also writes
    it to ``tables/<name>.csv`` and ``.json`` (full precision, not the display format).

    Parameters
    ----------
    name
        File name of the table (lowercase letters, digits, ``_``); unique within a report.
    frame
        The table.
    title
        A caption above the table.
    formats
        Column → Python format string (``"{:+.1%}"``); integers default to ``{:,}`` and other
        numbers to ``{:,.4g}``.
    display
        What to show instead of ``frame`` (e.g. values formatted row by row in their units);
        the data handed on is still ``frame``.

    Examples
    --------
    >>> import pandas as pd
    >>> kpis = pd.DataFrame({"metric": ["sessions"], "value": [1234]})
    >>> show_table("kpis", kpis)                                      # doctest: +SKIP
    """
    from IPython.display import display as show

    if not _TABLE_NAME.fullmatch(name or ""):
        raise ReportError(f"table name {name!r} must be lowercase letters, digits and _")
    frame, display = _suppressed(frame, display)
    shown = frame if display is None else display
    bundle = {
        "text/html": _table_html(shown, title, formats or {}),
        "text/plain": (f"{title}\n" if title else "") + shown.to_string(index=False),
        TABLE_MIME: {"name": name, "title": title, "table": json.loads(_table_json(frame))},
    }
    show(bundle, raw=True)


def _suppressed(
    frame: pd.DataFrame, display: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """``frame`` and ``display`` with rows under K users blanked, when the run asks for it.

    Tables without a user count column (see :func:`auterity_lab.suppression.user_count_columns`)
    describe no users and are left as they are.
    """
    raw = os.environ.get(SUPPRESS_K_ENV)
    if not raw:
        return frame, display
    from auterity_lab.suppression import apply_mask, suppression_mask, user_count_columns

    k = _check_suppress_k(int(raw))
    counts = user_count_columns(frame)
    if not counts:
        return frame, display
    import pandas as pd

    mask = suppression_mask(frame, k, user_count_column=counts)
    blanked = [
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]
    out = apply_mask(frame, mask, k, blanked)
    if display is None:
        return out, None
    if not display.index.equals(frame.index):
        raise ReportError("show_table: display must have the same index as frame to suppress")
    return out, apply_mask(display, mask, k, [c for c in blanked if c in display.columns])


def read_tables(executed: str | Path) -> dict[str, pd.DataFrame]:
    """The key tables an executed notebook showed with :func:`show_table`, by name, in order.

    Examples
    --------
    >>> read_tables("reports/daily_digest/latest/daily_digest.ipynb")["kpis"]   # doctest: +SKIP
    """
    import nbformat
    import pandas as pd

    nb = nbformat.read(str(executed), as_version=4)
    found: dict[str, pd.DataFrame] = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            payload = output.get("data", {}).get(TABLE_MIME)
            if payload is not None:
                text = json.dumps(payload["table"])
                found[payload["name"]] = pd.read_json(io.StringIO(text), orient="table")
    return found


# ----------------------------------------------------------------------------- running
def list_reports(catalog: Catalog | None = None) -> list[str]:
    """Names of the catalog's reports (every shipped notebook is one).

    Examples
    --------
    >>> {"daily_digest", "weekly_review", "overview"} <= set(list_reports())
    True
    """
    return list((catalog or load_catalog()).reports)


def notebook_parameters(name: str, catalog: Catalog | None = None) -> dict[str, dict[str, Any]]:
    """A report's typed parameters: name → ``{"type", "default", "required", "doc"}``.

    Examples
    --------
    >>> notebook_parameters("daily_digest")["day"]["type"]
    'DATE'
    """
    return (catalog or load_catalog())[name].describe()["parameters"]


def run_report(
    name: str,
    parameters: Mapping[str, Any] | None = None,
    out_dir: str | Path = "reports",
    *,
    formats: Sequence[str] | None = None,
    data_dir: str | Path | None = None,
    run_id: str | None = None,
    scheduled_for: dt.datetime | None = None,
    key: Sequence[str] | None = None,
    catalog: Catalog | None = None,
    notify: Notifier | None = None,
    settings: Settings | None = None,
    suppress_k: int | None = None,
    context: SecurityContext | None = None,
) -> ReportRun:
    """Execute report ``name`` with ``parameters`` and publish its outputs under ``out_dir``.

    Parameters
    ----------
    name
        A report of the catalog.
    parameters
        Values for the report's parameters (text is converted to the declared types).
    out_dir
        The runs go to ``out_dir/name/run-id/``.
    formats
        Outputs besides the notebook and ``run.json``: ``html``, ``pdf``, ``csv``, ``json``;
        default: the catalog's.
    data_dir
        The data directory given to a report with a ``data_dir`` parameter when ``parameters``
        do not set it (the catalog's or notebook's default does not count); default: the
        configured one.
    run_id
        Name of the run's folder; default: UTC time and identifying parameters.
    scheduled_for
        The schedule tick this run is for (used in the run id and ``run.json``).
    key
        The identifying parameters; default: the catalog's grid parameters, else ``tenant``.
    catalog
        The catalog; default: :func:`auterity_lab.catalog.load_catalog`.
    notify
        Called with the run and its entry when the run failed after its retries; default: the
        report's alert channels.
    settings
        Where secrets and the default data directory come from; default: the environment.
    suppress_k
        Show key-table rows under this many users as ``"<K"`` (K >= 2); default: no
        suppression.
    context
        Who runs the report (default: :func:`auterity_lab.security.current_context`); needs
        ``reports:run`` and the report's tenant.

    Returns
    -------
    ReportRun
        The successful run.

    Raises
    ------
    UnknownReportError, ReportParameterError
        An unknown report, format or parameter, or an ill-typed value: nothing is written.
    AccessDeniedError
        The caller lacks ``reports:run`` or the report's tenant: nothing is written.
    ReportFailedError
        Every attempt failed; ``run.json`` records the error and failing cell, the alert
        channels were told, and ``.run`` holds the record.

    Examples
    --------
    >>> run_report("weekly_review", {"tenant": "acme", "week": "2026-10-19"})  # doctest: +SKIP
    """
    from auterity_lab.catalog import ReportParameterError

    catalog = catalog or load_catalog()
    spec = catalog[name]
    chosen = tuple(dict.fromkeys(formats if formats is not None else spec.formats))
    bad = [f for f in chosen if f not in FORMATS]
    if bad:
        raise ReportParameterError(
            f"unknown format {', '.join(bad)}; choose from {', '.join(FORMATS)}"
        )
    bound = spec.bind(dict(parameters or {}))
    if suppress_k is not None:
        _check_suppress_k(suppress_k)
    settings = settings or load_settings()
    context = context if context is not None else current_context()
    # where the data is belongs to the run, not to the report: a notebook's literal default
    # ("data") gives way to the data_dir argument or the configured directory
    if "data_dir" in spec.parameters and (parameters or {}).get("data_dir") is None:
        bound["data_dir"] = str(
            Path(data_dir if data_dir is not None else settings.data_dir).resolve()
        )
    _check_notebook_declares(spec)
    log = audit_log_for(settings, bound.get("data_dir") or data_dir, context)
    _check_access(spec, bound, context, log)
    identity = {k: bound.get(k) for k in (key if key is not None else _default_key(spec))}
    started = dt.datetime.now(dt.UTC)
    run_dir = _new_run_dir(
        Path(out_dir) / name, run_id or _run_id(scheduled_for or started, identity)
    )
    with audited(
        log, "report.run", context=context, permission="reports:run",
        tenant=bound.get("tenant"), target=str(run_dir),
    ) as action:  # fmt: skip
        run = _execute(
            spec, bound, run_dir, chosen, identity, started, scheduled_for, settings, suppress_k
        )
        action.rows = run.table_rows
        action.outcome = "ok" if run.succeeded else "error"
        action.detail = f"{run.status}" + (f", suppress_k={suppress_k}" if suppress_k else "")
    if run.succeeded:
        _point_latest(run)
        return run
    told = ""
    try:
        (notify or notify_channels)(run, spec)
    except AuterityLabError as exc:  # a broken channel setup must not hide the report's failure
        told = f"; notifying its channels failed too: {type(exc).__name__}: {exc}"
    raise ReportFailedError(
        f"report {name!r} failed after {len(run.attempts)} attempt(s): {run.error}; "
        f"see {run.notebook}{told}",
        run,
    )


def run_grid(
    name: str,
    grid: Mapping[str, Iterable[Any]],
    parameters: Mapping[str, Any] | None = None,
    out_dir: str | Path = "reports",
    **kwargs: Any,
) -> list[ReportRun]:
    """Run report ``name`` once per combination of the ``grid`` values.

    The runs share one time stamp and their ids and ``latest`` links carry the grid parameters
    (``20261125T201500Z-tenant=acme``, ``...-tenant=globex``), so they never collide. A failed
    combination does not stop the others; it is returned with ``status == "failed"`` (its
    channels were told).

    Raises
    ------
    ReportParameterError
        A grid parameter is also in ``parameters``, or a value is ill-typed (checked for every
        combination before the first run).

    Examples
    --------
    >>> runs = run_grid("daily_digest", {"tenant": ["acme", "globex"]})  # doctest: +SKIP
    >>> [r.run_id for r in runs]                                        # doctest: +SKIP
    ['20261125T201500Z-tenant=acme', '20261125T201500Z-tenant=globex']
    """
    import itertools

    from auterity_lab.catalog import ReportParameterError

    catalog = kwargs.pop("catalog", None) or load_catalog()
    base = dict(parameters or {})
    clash = sorted(set(grid) & set(base))
    if clash:
        raise ReportParameterError(f"{', '.join(clash)} is both a grid parameter and a fixed one")
    keys = list(grid)
    combos = [
        dict(zip(keys, values, strict=True))
        for values in itertools.product(*(list(grid[k]) for k in keys))
    ]
    spec = catalog[name]
    context = kwargs.get("context") or current_context()
    log = audit_log_for(kwargs.get("settings") or load_settings(), kwargs.get("data_dir"), context)
    for combo in combos:
        bound = spec.bind(base | combo)  # every combination is valid before the first one runs
        _check_access(spec, bound, context, log)  # and allowed
    key = kwargs.pop("key", None) or list(dict.fromkeys([*_default_key(spec), *keys]))
    # one time stamp for the whole grid: the runs' ids differ only by their parameters
    stamp = kwargs.get("scheduled_for") or dt.datetime.now(dt.UTC)
    runs = []
    for combo in combos:
        bound = spec.bind(base | combo)
        run_id = _run_id(stamp, {k: bound.get(k) for k in key})
        try:
            runs.append(
                run_report(
                    name, base | combo, out_dir, key=key, catalog=catalog, run_id=run_id, **kwargs
                )
            )
        except ReportFailedError as exc:
            runs.append(exc.run)
    return runs


def latest_run(name: str, out_dir: str | Path = "reports", **key: Any) -> ReportRun | None:
    """The last successful run of ``name`` (for the given identifying parameters), or None.

    Examples
    --------
    >>> latest_run("daily_digest", "reports", tenant="acme").html      # doctest: +SKIP
    """
    link = Path(out_dir) / name / _latest_name(key)
    if not link.exists():
        return None
    return load_run(link.resolve())


HISTORY_COLUMNS = [
    "run_id",
    "status",
    "started_at",
    "duration_s",
    "scheduled_for",
    "key",
    "attempts",
    "error",
    "failing_cell",
    "latest",
]
"""Columns of :func:`run_history`."""


def run_history(name: str, out_dir: str | Path = "reports") -> pd.DataFrame:
    """Every recorded run of report ``name`` under ``out_dir``, newest first.

    Returns
    -------
    DataFrame
        :data:`HISTORY_COLUMNS`: ``key`` as ``tenant=acme``, ``attempts`` the number of
        executions, ``latest`` True for the runs a ``latest`` link points to (the last good
        report of each key).

    Examples
    --------
    >>> run_history("daily_digest", "reports").head(3)                     # doctest: +SKIP
    """
    import pandas as pd

    folder = Path(out_dir) / name
    latest = {p.resolve().name for p in folder.glob("latest*") if p.is_symlink() and p.exists()}
    rows = []
    for record in sorted(folder.glob("*/run.json")):
        if record.parent.is_symlink():
            continue
        body = json.loads(record.read_text(encoding="utf-8"))
        rows.append(
            {
                "run_id": body["run_id"],
                "status": body["status"],
                "started_at": body["started_at"],
                "duration_s": body["duration_s"],
                "scheduled_for": body.get("scheduled_for"),
                "key": ",".join(f"{k}={v}" for k, v in (body.get("key") or {}).items()),
                "attempts": len(body.get("attempts") or []),
                "error": body.get("error"),
                "failing_cell": body.get("failing_cell"),
                "latest": body["run_id"] in latest,
            }
        )
    if not rows:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in HISTORY_COLUMNS})
    frame = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    return frame.sort_values("started_at", ascending=False, kind="stable").reset_index(drop=True)


def load_run(run_dir: str | Path) -> ReportRun:
    """The :class:`ReportRun` recorded in ``run_dir/run.json``."""
    path = Path(run_dir)
    try:
        body = json.loads((path / "run.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path} holds no run.json") from None
    body["run_dir"] = path
    for name in ("notebook", "html", "pdf"):
        body[name] = path / body[name] if body.get(name) else None
    body["tables"] = tuple(path / p for p in body.get("tables", []))
    body["outputs"] = tuple(path / o["path"] for o in body.get("outputs", []))
    body["attempts"] = tuple(Attempt(**a) for a in body.get("attempts", []))
    return ReportRun(**body)


def notify_channels(run: ReportRun, spec: ReportSpec) -> None:
    """Tell the report's alert channels that ``run`` failed (the default ``notify``).

    The failure becomes an alert of rule ``report:<name>`` (severity ``high``, the error and the
    failing cell in its message) delivered by :func:`auterity_lab.channels.deliver` to each of
    the catalog's channels, with the channel settings of the alert rules file: a failing channel
    is retried with backoff and every outcome is recorded in the data directory's state
    (``alert_deliveries``; the ``dashboard`` channel stores it for the Insights tab).
    """
    if not spec.channels:
        return
    import pandas as pd

    from auterity_lab.alerts import load_rules
    from auterity_lab.channels import Alert, deliver
    from auterity_lab.state import StateStore, stable_id

    data_dir = run.parameters.get("data_dir") or load_settings().data_dir
    key = ",".join(f"{k}={v}" for k, v in run.key.items())
    at = pd.Timestamp(run.scheduled_for or run.started_at)
    where = f" at cell {run.failing_cell}" if run.failing_cell is not None else ""
    alert = Alert(
        alert_id=stable_id("report", run.name, run.run_id, run.started_at),
        tenant=str(run.key.get("tenant") or run.parameters.get("tenant") or ""),
        rule_id=f"report:{run.name}",
        rule_name=f"Report {spec.title} failed",
        metric="report_failures",
        segment=key,
        severity="high",
        operator="gt",
        threshold=0.0,
        value=float(len(run.attempts)),
        period=at,
        breach_started=at,
        message=(
            f"report {run.name} ({key or 'no key'}) failed after {len(run.attempts)} "
            f"attempt(s){where}: {run.error}; run {run.run_dir}"
        ),
        channels=tuple(spec.channels),
        fired_at=pd.Timestamp.now(tz="UTC"),
    )
    deliver(
        alert,
        spec.channels,
        settings=load_rules().channels,
        store=StateStore.for_data_dir(data_dir),
    )


# ----------------------------------------------------------------------------- internals
def _execute(
    spec: ReportSpec,
    bound: dict[str, Any],
    run_dir: Path,
    formats: tuple[str, ...],
    identity: dict[str, Any],
    started: dt.datetime,
    scheduled_for: dt.datetime | None,
    settings: Settings,
    suppress_k: int | None = None,
) -> ReportRun:
    from auterity_lab import __version__

    t0 = time.perf_counter()
    executed = run_dir / f"{spec.name}.ipynb"
    attempts: list[Attempt] = []
    outputs: dict[str, Any] = {}
    secrets = _secrets(settings)
    for number in range(1, spec.retries + 2):
        if number > 1 and spec.retry_delay_s:
            time.sleep(spec.retry_delay_s)
        attempt_start = dt.datetime.now(dt.UTC)
        a0 = time.perf_counter()
        with _suppression_env(suppress_k):
            failure = _run_notebook(spec, bound, executed)
        if failure is None:
            try:
                outputs = _render(spec, executed, run_dir, formats, secrets)
            except AuterityLabError as exc:
                failure = {"error": f"rendering: {type(exc).__name__}: {exc}"}
        attempts.append(
            Attempt(
                number=number,
                started_at=attempt_start.isoformat(timespec="seconds"),
                duration_s=round(time.perf_counter() - a0, 3),
                status="failed" if failure else "succeeded",
                **(failure or {}),
            )
        )
        if failure is None:
            break
    redactions = _redact_outputs(run_dir, secrets)
    attempts = [
        replace(
            a,
            error=_redact_text(a.error, secrets)[0] if a.error else None,
            failing_source=_redact_text(a.failing_source, secrets)[0] if a.failing_source else None,
        )
        for a in attempts
    ]  # error texts go into run.json and notifications
    last = attempts[-1]
    run = ReportRun(
        name=spec.name,
        run_id=run_dir.name,
        run_dir=run_dir,
        status=last.status,
        parameters=bound,
        notebook=executed,
        html=outputs.get("html"),
        pdf=outputs.get("pdf"),
        tables=tuple(outputs.get("tables", ())),
        outputs=tuple(
            p for p in sorted(run_dir.rglob("*")) if p.is_file() and p.name != "run.json"
        ),
        started_at=started.isoformat(timespec="seconds"),
        duration_s=round(time.perf_counter() - t0, 3),
        manifest_fingerprint=_manifest_fingerprint(bound.get("data_dir")),
        package_version=__version__,
        error=last.error,
        failing_cell=last.failing_cell,
        failing_source=last.failing_source,
        attempts=tuple(attempts),
        key=identity,
        scheduled_for=scheduled_for.isoformat(timespec="seconds") if scheduled_for else None,
        redactions=redactions,
        suppress_k=suppress_k,
        table_rows=outputs.get("rows", 0),
    )
    _write_json(run_dir / "run.json", run.record())
    return run


def _run_notebook(spec: ReportSpec, bound: dict[str, Any], executed: Path) -> dict[str, Any] | None:
    """Execute the notebook into ``executed``; None on success, else what failed."""
    import papermill
    from nbclient.exceptions import CellTimeoutError

    deadline = time.monotonic() + spec.timeout_s
    try:
        papermill.execute_notebook(
            str(spec.notebook),
            str(executed),
            parameters=bound,
            progress_bar=False,
            cwd=str(Path.cwd()),
            store_widget_state=False,  # live widgets mean nothing in a static report
            execution_timeout=spec.timeout_s,
            # every cell gets what is left of the run's budget
            timeout_func=lambda _cell: max(1, int(deadline - time.monotonic())),
        )
    except papermill.PapermillExecutionError as exc:
        source = (exc.source or "").strip().splitlines()
        return {
            "error": f"cell {exc.cell_index}: {exc.ename}: {exc.evalue}",
            "failing_cell": exc.cell_index,
            "failing_source": source[0] if source else None,
        }
    except CellTimeoutError:
        cell, source = _running_cell(executed)
        return {
            "error": f"cell {cell}: timed out: the report's budget of {spec.timeout_s} s ran out",
            "failing_cell": cell,
            "failing_source": source,
        }
    except Exception as exc:  # the kernel died or could not start: record it like a cell error
        return {"error": f"{type(exc).__name__}: {exc}"}
    return None


def _running_cell(executed: Path) -> tuple[int | None, str | None]:
    import nbformat

    try:
        nb = nbformat.read(str(executed), as_version=4)
    except (OSError, ValueError):
        return None, None
    started = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.get("metadata", {}).get("papermill", {}).get("start_time")
    ]  # the cell that timed out is the last one papermill started
    if not started:
        return None, None
    lines = nb.cells[started[-1]].source.strip().splitlines()
    return started[-1], lines[0] if lines else None


def _render(
    spec: ReportSpec,
    executed: Path,
    run_dir: Path,
    formats: tuple[str, ...],
    secrets: tuple[list[str], list[str]],
) -> dict[str, Any]:
    from auterity_lab.export import write_frame

    out: dict[str, Any] = {}
    if "html" in formats or "pdf" in formats:
        html = run_dir / f"{spec.name}.html"
        _to_html(executed, html, spec)
        _redact_file(html, secrets)  # before Chromium prints it
        out["html"] = html
        if "pdf" in formats:
            from auterity_lab.pdf import html_to_pdf

            out["pdf"] = html_to_pdf(html, run_dir / f"{spec.name}.pdf")
            if "html" not in formats:
                html.unlink()
                del out["html"]
    tables = []
    out["rows"] = 0
    for table_name, frame in read_tables(executed).items():
        out["rows"] += len(frame)
        for fmt in ("csv", "json"):
            if fmt in formats:
                tables.append(write_frame(frame, run_dir / "tables" / f"{table_name}.{fmt}", fmt))
    out["tables"] = tables
    return out


def _to_html(executed: Path, target: Path, spec: ReportSpec) -> Path:
    import nbformat
    from nbconvert import HTMLExporter

    from auterity_lab.pdf import PRINT_CSS

    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    nb = nbformat.read(executed, as_version=4)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": spec.title}})
    body = _EXTERNAL_SCRIPT.sub("", body)
    body = body.replace("</head>", f"<style>{PRINT_CSS}</style>\n</head>", 1)
    target.write_text(body, encoding="utf-8")
    return target


def _table_html(frame: pd.DataFrame, title: str | None, formats: Mapping[str, str]) -> str:
    import pandas as pd

    fmt: dict[str, Any] = {}
    for col in frame.columns:
        if col in formats:
            fmt[col] = formats[col]
        elif pd.api.types.is_bool_dtype(frame[col]):
            continue
        elif pd.api.types.is_integer_dtype(frame[col]):
            fmt[col] = "{:,}"
        elif pd.api.types.is_float_dtype(frame[col]):
            fmt[col] = "{:,.4g}"
    # headers wrap at spaces, not inside identifiers
    styler = (
        frame.style.format(fmt, na_rep="–")
        .hide(axis="index")
        .format_index(lambda c: str(c).replace("_", " "), axis="columns")
    )
    long_text = [
        c
        for c in frame.columns
        if not pd.api.types.is_numeric_dtype(frame[c]) and frame[c].astype(str).str.len().max() > 30
    ]
    if long_text:  # prose wraps in print; numbers and short labels stay on one line
        classes = pd.DataFrame("", index=frame.index, columns=frame.columns)
        classes[long_text] = "auterity-lab-text"
        styler = styler.set_td_classes(classes)
    if title:
        styler = styler.set_caption(html_lib.escape(title))
    styler = styler.set_table_attributes('class="auterity-lab-table"')
    return styler.to_html()


def _table_json(frame: pd.DataFrame) -> str:
    return frame.to_json(orient="table", index=False, date_format="iso", date_unit="us")


def _check_suppress_k(k: int) -> int:
    from auterity_lab.catalog import ReportParameterError

    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ReportParameterError(f"suppress_k must be an integer >= 2, not {k!r}")
    return k


def _check_access(
    spec: ReportSpec, bound: Mapping[str, Any], context: SecurityContext | None, log: Any
) -> None:
    """``reports:run`` and the report's tenant (admin only for a report across tenants)."""
    if context is None:
        return
    tenant = bound.get("tenant")
    try:
        authorize(context, "reports", "run")
        if tenant is not None:
            require_tenant(context, str(tenant))
        elif not context.is_admin:
            raise AccessDeniedError(
                f"report {spec.name!r} has no tenant parameter (it spans tenants): admin only"
            )
    except AccessDeniedError as exc:
        if log is not None:
            log.record("report.run", context=context, tenant=tenant, target=spec.name,
                       outcome="denied", detail=str(exc))  # fmt: skip
        raise


_ENV_LOCK = threading.Lock()


@contextlib.contextmanager
def _suppression_env(k: int | None) -> Iterator[None]:
    """The report's kernel inherits ``SUPPRESS_K_ENV`` (runs in threads take turns)."""
    if k is None:
        yield
        return
    with _ENV_LOCK:
        previous = os.environ.get(SUPPRESS_K_ENV)
        os.environ[SUPPRESS_K_ENV] = str(k)
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(SUPPRESS_K_ENV, None)
            else:
                os.environ[SUPPRESS_K_ENV] = previous


def _check_notebook_declares(spec: ReportSpec) -> None:
    from auterity_lab.catalog import CatalogError, notebook_parameters

    if spec.source != "catalog":
        return
    declared = notebook_parameters(spec.notebook)
    missing = sorted(set(spec.parameters) - set(declared))
    if missing:
        raise CatalogError(
            f"report {spec.name!r}: the catalog declares {', '.join(missing)}, which the "
            f"notebook's parameters cell ({spec.notebook.name}) does not"
        )


def _default_key(spec: ReportSpec) -> list[str]:
    if spec.grid:
        return list(spec.grid)
    return ["tenant"] if "tenant" in spec.parameters else []


def _run_id(at: dt.datetime, identity: Mapping[str, Any]) -> str:
    stamp = at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return "-".join([stamp, *(f"{k}={_slug(v)}" for k, v in identity.items())])


def _latest_name(identity: Mapping[str, Any]) -> str:
    return "-".join(["latest", *(f"{k}={_slug(v)}" for k, v in identity.items())])


def _slug(value: Any) -> str:
    text = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    return _SLUG_UNSAFE.sub("_", text)[:60] or "_"


def _new_run_dir(parent: Path, run_id: str) -> Path:
    if not re.fullmatch(r"[A-Za-z0-9_.=,-]{1,200}", run_id) or run_id.startswith("."):
        raise ReportError(f"run id {run_id!r} must be letters, digits and _ . = , -")
    parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        candidate = parent / (run_id if n == 1 else f"{run_id}-{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise ReportError(f"{parent} already holds 999 runs named {run_id}")


def _point_latest(run: ReportRun) -> None:
    link = run.run_dir.parent / _latest_name(run.key)
    tmp = link.with_name(f".{link.name}.{uuid.uuid4().hex}")
    os.symlink(run.run_dir.name, tmp, target_is_directory=True)
    os.replace(tmp, link)


def _secrets(settings: Settings) -> tuple[list[str], list[str]]:
    """(DSNs, other secret values) configured in ``settings``."""
    from pydantic import SecretStr

    dsns, others = [], []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr) and len(value.get_secret_value()) >= _MIN_SECRET:
            (dsns if name.endswith("_dsn") else others).append(value.get_secret_value())
    return dsns, others


def _redact_text(text: str, secrets: tuple[list[str], list[str]]) -> tuple[str, int]:
    from auterity_lab.sources import redact

    dsns, others = secrets
    cleaned = redact(text, dsns) if dsns else text
    for value in others:
        cleaned = cleaned.replace(value, "***")
    changes = 0 if cleaned == text else max(1, sum(text.count(s) for s in [*dsns, *others]))
    return cleaned, changes


def _redact_file(path: Path, secrets: tuple[list[str], list[str]]) -> int:
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    cleaned, changes = _redact_text(text, secrets)
    if changes:
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(cleaned, encoding="utf-8", errors="surrogateescape")
        os.replace(tmp, path)
    return changes


def _redact_outputs(run_dir: Path, secrets: tuple[list[str], list[str]]) -> int:
    if not any(secrets):
        return 0
    return sum(
        _redact_file(p, secrets)
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and p.suffix in _TEXT_SUFFIXES
    )


def _manifest_fingerprint(data_dir: Any) -> str | None:
    from auterity_lab.manifest import read_manifest

    try:
        return read_manifest(data_dir or ".").fingerprint()
    except AuterityLabError:
        return None


def _relative(path: Path | None, base: Path) -> str | None:
    if path is None:
        return None
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_json(path: Path, body: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(body, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


__all__ = [
    "HISTORY_COLUMNS",
    "TABLE_MIME",
    "Attempt",
    "ReportFailedError",
    "ReportRun",
    "latest_run",
    "list_reports",
    "load_run",
    "notebook_parameters",
    "read_tables",
    "run_grid",
    "run_history",
    "run_report",
    "show_table",
]
