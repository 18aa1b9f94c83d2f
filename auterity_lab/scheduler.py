"""Scheduled reports: run every report whose cron time has passed since its last successful run.

:func:`run_due` is meant to be called by cron every minute (``auterity-lab report due``). For each
report of the catalog with a ``schedule`` (cron, UTC) and each combination of its ``grid`` (e.g.
every tenant of the data directory), the *tick* is the newest cron time at or before now. The
combination is due when its last successful run was for an earlier tick (or it never ran). Ticks
missed while nothing called are not replayed one by one: the newest one runs once (catch-up, not
backfill). A tick whose run failed after the catalog's retries has told the alert channels and
is not attempted again by later calls; the next tick runs as usual, and ``report run`` reruns it
by hand.

Two calls that overlap never run the same report twice: each (report, grid combination) runs
under an exclusive, non-blocking file lock (``OUT/.schedule/locks/``), and its state is
re-read once the lock is held. A run whose process died (its state says ``running`` but nobody
holds the lock) is due again. State lives in ``OUT/.schedule/state.json``, changed under its own
lock and replaced atomically.

Examples
--------
>>> results = run_due("reports", data_dir="data")                            # doctest: +SKIP
>>> [(r.report, r.key, r.status) for r in results]                           # doctest: +SKIP
[('daily_digest', {'tenant': 'acme'}, 'succeeded'), ...]
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import itertools
import json
import os
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from auterity_lab.catalog import EVERY_TENANT, Catalog, ReportSpec, load_catalog
from auterity_lab.config import Settings, load_settings
from auterity_lab.errors import AuterityLabError, ReportError
from auterity_lab.queries import to_utc
from auterity_lab.reports import Notifier, ReportFailedError, run_report

SCHEDULE_DIR = ".schedule"
"""Folder of the scheduler's state and locks inside the output folder."""

STATUS_COLUMNS = [
    "report",
    "key",
    "schedule",
    "tick",
    "due",
    "last_status",
    "last_success_tick",
    "last_success_run",
    "last_run",
    "next_tick",
]
"""Columns of :func:`schedule_status`."""

_STATE_LOCK_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class DueRun:
    """One report run that is due: the report, its grid combination and the cron tick."""

    report: str
    key: dict[str, Any]
    tick: dt.datetime
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        """State key of the combination: ``daily_digest|tenant=acme``."""
        return "|".join([self.report, *(f"{k}={v}" for k, v in self.key.items())])


@dataclass(frozen=True)
class DueResult:
    """What :func:`run_due` did with one due run: ``succeeded``, ``failed`` or ``skipped``."""

    report: str
    key: dict[str, Any]
    tick: dt.datetime
    status: str
    run_dir: Path | None = None
    error: str | None = None


def due_runs(
    out_dir: str | Path = "reports",
    *,
    now: Any = None,
    data_dir: str | Path | None = None,
    catalog: Catalog | None = None,
    settings: Settings | None = None,
) -> list[DueRun]:
    """The runs :func:`run_due` would start now (reads state, runs nothing).

    Parameters
    ----------
    out_dir
        The report output folder (holds ``.schedule/``).
    now
        The current time (default: the clock); naive means UTC.
    data_dir
        The data directory whose tenants a ``tenant: "*"`` grid covers.
    catalog, settings
        Defaults: the configured catalog and settings.

    Raises
    ------
    ReportError
        A scheduled report's grid covers every tenant but the data directory has no manifest.

    Examples
    --------
    >>> due_runs("reports", now="2026-11-02T06:20", data_dir="data")[0].tick    # doctest: +SKIP
    datetime.datetime(2026, 11, 2, 6, 15, tzinfo=datetime.timezone.utc)
    """
    clock = _now(now)
    catalog = catalog or load_catalog()
    data = _data_dir(data_dir, settings)
    state = _read_state(Path(out_dir))
    return [
        run
        for spec in catalog.scheduled()
        for run in _candidates(spec, clock, data)
        if _is_due(state.get(run.slug), run.tick, locked=_locked(Path(out_dir), run))
    ]


def run_due(
    out_dir: str | Path = "reports",
    *,
    now: Any = None,
    data_dir: str | Path | None = None,
    catalog: Catalog | None = None,
    settings: Settings | None = None,
    notify: Notifier | None = None,
) -> list[DueResult]:
    """Run every scheduled report (and grid combination) that is due; safe to call every minute.

    Runs one after the other. A combination another call is running is ``skipped``; a failed run
    is ``failed`` (after its retries, its channels told); neither stops the others.

    Returns
    -------
    list of DueResult
        One per due combination, in catalog order.

    Examples
    --------
    >>> run_due("reports", data_dir="data", now="2026-11-02T06:20")           # doctest: +SKIP
    """
    out = Path(out_dir)
    catalog = catalog or load_catalog()
    settings = settings or load_settings()
    data = _data_dir(data_dir, settings)
    results = []
    for run in due_runs(out, now=now, data_dir=data, catalog=catalog, settings=settings):
        results.append(_run_one(out, run, catalog, data, settings, notify))
    return results


def schedule_status(
    out_dir: str | Path = "reports",
    *,
    now: Any = None,
    data_dir: str | Path | None = None,
    catalog: Catalog | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Every scheduled report and grid combination: its tick, whether it is due, how it last went.

    Returns
    -------
    DataFrame
        :data:`STATUS_COLUMNS`: ``key`` as ``tenant=acme``; ``tick`` the newest cron time at or
        before now and ``next_tick`` the one after; ``due``; ``last_status`` (``succeeded``,
        ``failed``, ``running`` or None), ``last_success_tick``, ``last_success_run`` (its run
        id) and ``last_run``.

    Examples
    --------
    >>> schedule_status("reports", data_dir="data")[["report", "key", "due"]]   # doctest: +SKIP
    """
    from croniter import croniter

    clock = _now(now)
    catalog = catalog or load_catalog()
    data = _data_dir(data_dir, settings)
    state = _read_state(Path(out_dir))
    rows = []
    for spec in catalog.scheduled():
        for run in _candidates(spec, clock, data):
            entry = state.get(run.slug) or {}
            rows.append(
                {
                    "report": run.report,
                    "key": ",".join(f"{k}={v}" for k, v in run.key.items()),
                    "schedule": spec.schedule,
                    "tick": run.tick,
                    "due": _is_due(entry, run.tick, locked=_locked(Path(out_dir), run)),
                    "last_status": entry.get("last_status"),
                    "last_success_tick": _parse(entry.get("last_success_tick")),
                    "last_success_run": entry.get("last_success_run"),
                    "last_run": entry.get("last_run"),
                    "next_tick": croniter(spec.schedule, clock).get_next(dt.datetime),
                }
            )
    if not rows:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in STATUS_COLUMNS})
    return pd.DataFrame(rows, columns=STATUS_COLUMNS)


# ----------------------------------------------------------------------------- one run
def _run_one(
    out: Path,
    run: DueRun,
    catalog: Catalog,
    data_dir: Path,
    settings: Settings,
    notify: Notifier | None,
) -> DueResult:
    with _run_lock(out, run) as held:
        if not held:
            return DueResult(
                run.report, run.key, run.tick, "skipped", error="another call is running it"
            )
        if not _is_due(_read_state(out).get(run.slug), run.tick, locked=False):
            return DueResult(
                run.report, run.key, run.tick, "skipped", error="already done by another call"
            )
        _update_state(
            out,
            run.slug,
            last_status="running",
            last_attempt_tick=run.tick.isoformat(),
            last_run=None,
        )
        spec = catalog[run.report]
        try:
            done = run_report(
                run.report,
                run.parameters,
                out,
                data_dir=data_dir,
                scheduled_for=run.tick,
                key=list(run.key),
                catalog=catalog,
                notify=notify,
                settings=settings,
            )
        except ReportFailedError as exc:
            _update_state(out, run.slug, last_status="failed", last_run=exc.run.run_id)
            return DueResult(
                run.report, run.key, run.tick, "failed", exc.run.run_dir, exc.run.error
            )
        except AuterityLabError as exc:  # bad parameters or catalog: nothing ran, nobody was told
            _update_state(out, run.slug, last_status="failed", last_run=None)
            _notify_config_error(spec, run, exc, notify)
            return DueResult(
                run.report, run.key, run.tick, "failed", None, f"{type(exc).__name__}: {exc}"
            )
        _update_state(
            out,
            run.slug,
            last_status="succeeded",
            last_run=done.run_id,
            last_success_tick=run.tick.isoformat(),
            last_success_run=done.run_id,
        )
        return DueResult(run.report, run.key, run.tick, "succeeded", done.run_dir)


def _notify_config_error(
    spec: ReportSpec, run: DueRun, exc: Exception, notify: Notifier | None
) -> None:
    """A scheduled report that cannot even start is reported like a failed run."""
    from auterity_lab import __version__
    from auterity_lab.reports import ReportRun, notify_channels

    record = ReportRun(
        name=spec.name,
        run_id="",
        run_dir=Path(),
        status="failed",
        parameters=run.parameters,
        notebook=spec.notebook,
        html=None,
        started_at=_utcnow().isoformat(timespec="seconds"),
        duration_s=0.0,
        manifest_fingerprint=None,
        package_version=__version__,
        error=f"{type(exc).__name__}: {exc}",
        key=run.key,
        scheduled_for=run.tick.isoformat(timespec="seconds"),
    )
    (notify or notify_channels)(record, spec)


# ----------------------------------------------------------------------------- what is due
def _candidates(spec: ReportSpec, clock: dt.datetime, data_dir: Path) -> list[DueRun]:
    from croniter import croniter

    assert spec.schedule is not None
    base = clock.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    tick = croniter(spec.schedule, base).get_prev(dt.datetime).astimezone(dt.UTC)
    grid = {k: _grid_values(spec, k, v, data_dir) for k, v in spec.grid.items()}
    keys = list(grid)
    runs = []
    for values in itertools.product(*(grid[k] for k in keys)):
        combo = dict(zip(keys, values, strict=True))
        params: dict[str, Any] = dict(combo)
        if "as_of" in spec.parameters:
            params["as_of"] = tick.isoformat()
        runs.append(DueRun(spec.name, combo, tick, params))
    return runs


def _grid_values(
    spec: ReportSpec, key: str, values: str | tuple[str, ...], data_dir: Path
) -> list[str]:
    if values != EVERY_TENANT:
        return list(values)
    from auterity_lab.manifest import read_manifest

    try:
        return list(read_manifest(data_dir).tenants)
    except AuterityLabError as exc:
        raise ReportError(
            f"report {spec.name!r} runs for every tenant, but {data_dir} cannot say which: {exc}"
        ) from None


def _is_due(entry: Mapping[str, Any] | None, tick: dt.datetime, *, locked: bool) -> bool:
    if locked:
        return False
    if not entry:
        return True
    success = _parse(entry.get("last_success_tick"))
    if success is not None and success >= tick:
        return False
    attempted = _parse(entry.get("last_attempt_tick"))
    # a failed tick has been retried and reported; a "running" one whose lock is free died
    return not (attempted == tick and entry.get("last_status") == "failed")


# ----------------------------------------------------------------------------- state and locks
def _schedule_dir(out: Path) -> Path:
    return out / SCHEDULE_DIR


def _read_state(out: Path) -> dict[str, dict[str, Any]]:
    path = _schedule_dir(out) / "state.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise ReportError(f"scheduler state {path} is not valid JSON: {exc}") from None


def _update_state(out: Path, slug: str, **changes: Any) -> None:
    folder = _schedule_dir(out)
    folder.mkdir(parents=True, exist_ok=True)
    with _flock(folder / "state.lock", blocking=True):
        state = _read_state(out)
        entry = state.setdefault(slug, {})
        entry.update(changes)
        entry["updated_at"] = _utcnow().isoformat(timespec="seconds")
        path = folder / "state.json"
        tmp = path.with_name(f".state.{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)


def _lock_path(out: Path, run: DueRun) -> Path:
    safe = "".join(c if c.isalnum() or c in "_.=-" else "_" for c in run.slug.replace("|", "--"))
    return _schedule_dir(out) / "locks" / f"{safe}.lock"


def _locked(out: Path, run: DueRun) -> bool:
    path = _lock_path(out, run)
    if not path.exists():
        return False
    with _flock(path, blocking=False) as held:
        return not held


@contextlib.contextmanager
def _run_lock(out: Path, run: DueRun) -> Iterator[bool]:
    path = _lock_path(out, run)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _flock(path, blocking=False) as held:
        yield held


@contextlib.contextmanager
def _flock(path: Path, *, blocking: bool) -> Iterator[bool]:
    """Hold an exclusive lock on ``path``; yields False at once when ``blocking`` is False and
    another holder has it."""
    with open(path, "a+") as handle:
        deadline = time.monotonic() + _STATE_LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not blocking:
                    yield False
                    return
                if time.monotonic() > deadline:
                    raise ReportError(
                        f"{path} stayed locked for {_STATE_LOCK_TIMEOUT_S:.0f} s"
                    ) from None
                time.sleep(0.05)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ----------------------------------------------------------------------------- helpers
def _data_dir(data_dir: str | Path | None, settings: Settings | None) -> Path:
    if data_dir is not None:
        return Path(data_dir).resolve()
    return Path((settings or load_settings()).data_dir).resolve()


def _now(value: Any) -> dt.datetime:
    return to_utc(value) if value is not None else _utcnow()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _parse(value: Any) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else None
