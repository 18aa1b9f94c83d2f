"""Run a notebook of ``notebooks/`` as a report with papermill and render it to HTML.

Each run writes ``OUT/<name>/<run-id>/``: the executed notebook, ``<name>.html`` (code hidden,
plotly charts embedded so they render offline) and ``run.json`` (parameters, data manifest
fingerprint, package version, start, duration, status, error).

Examples
--------
>>> run = run_report("overview", {"data_dir": "data", "tenant": "acme"}, "reports")  # doctest: +SKIP
>>> run.html.name                                                                       # doctest: +SKIP
'overview.html'
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from auterity_lab.config import packaged_dir
from auterity_lab.errors import AuterityLabError, ReportError

_RUN_ID_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
# nbconvert's template loads require.js and MathJax from a CDN; reports must work offline, and
# the embedded plotly.js does not need either.
_EXTERNAL_SCRIPT = re.compile(r"<script[^>]+src=[\"']https?://[^>]*>\s*</script>")


@dataclass(frozen=True)
class ReportRun:
    """The outcome of one report run."""

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


def notebooks_root() -> Path:
    """Folder of the shipped notebooks."""
    return packaged_dir("notebooks")


def list_reports() -> list[str]:
    """Names of the notebooks that can run as reports.

    Examples
    --------
    >>> "overview" in list_reports()
    True
    """
    return sorted(p.stem for p in notebooks_root().glob("*.ipynb"))


def notebook_parameters(name: str) -> dict[str, dict[str, Any]]:
    """The parameters declared in a notebook's ``parameters`` cell (name → type, default)."""
    import papermill

    return dict(papermill.inspect_notebook(str(_notebook(name))))


def run_report(
    name: str,
    parameters: dict[str, Any],
    out_dir: str | Path,
    *,
    run_id: str | None = None,
    timeout_s: int = 600,
) -> ReportRun:
    """Execute notebook ``name`` with ``parameters`` and write its outputs under ``out_dir``.

    Raises
    ------
    ReportError
        Unknown report or parameter (before any cell runs), or a cell failed (``run.json``
        records the error and the executed notebook shows the failing cell).
    """
    import papermill

    from auterity_lab import __version__

    source = _notebook(name)
    declared = notebook_parameters(name)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise ReportError(
            f"report {name!r} has no parameter {', '.join(unknown)}; it takes: {', '.join(declared)}"
        )
    started = dt.datetime.now(dt.UTC)
    tag = parameters.get("tenant")
    run_id = run_id or _RUN_ID_SAFE.sub(
        "-", f"{started:%Y%m%dT%H%M%SZ}{'-' + str(tag) if tag else ''}-{uuid.uuid4().hex[:6]}"
    )
    run_dir = Path(out_dir) / name / run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    executed = run_dir / f"{name}.ipynb"
    t0 = time.perf_counter()
    error: str | None = None
    html: Path | None = None
    try:
        papermill.execute_notebook(
            str(source),
            str(executed),
            parameters=parameters,
            progress_bar=False,
            execution_timeout=timeout_s,
            cwd=str(Path.cwd()),
            store_widget_state=False,  # live widgets mean nothing in a static report
        )
        html = _to_html(executed, run_dir / f"{name}.html")
    except papermill.PapermillExecutionError as exc:
        error = f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
    run = ReportRun(
        name=name,
        run_id=run_id,
        run_dir=run_dir,
        status="failed" if error else "succeeded",
        parameters=dict(parameters),
        notebook=executed,
        html=html,
        started_at=started.isoformat(timespec="seconds"),
        duration_s=round(time.perf_counter() - t0, 3),
        manifest_fingerprint=_manifest_fingerprint(parameters.get("data_dir")),
        package_version=__version__,
        error=error,
    )
    _write_json(run_dir / "run.json", asdict(run))
    if error:
        raise ReportError(f"report {name!r} failed at {error}; see {executed}")
    return run


def _notebook(name: str) -> Path:
    path = notebooks_root() / f"{name}.ipynb"
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name or "") or not path.is_file():
        raise ReportError(f"no report named {name!r}; available: {', '.join(list_reports())}")
    return path


def _to_html(executed: Path, target: Path) -> Path:
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    target.write_text(_EXTERNAL_SCRIPT.sub("", body), encoding="utf-8")
    return target


def _manifest_fingerprint(data_dir: Any) -> str | None:
    from auterity_lab.manifest import read_manifest

    try:
        return read_manifest(data_dir or ".").fingerprint()
    except AuterityLabError:
        return None


def _write_json(path: Path, body: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(body, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
