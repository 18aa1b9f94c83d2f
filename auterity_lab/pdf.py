"""HTML to PDF offline, with the Debian Chromium in headless mode.

Chromium loads the page from disk with networking switched off (no component updates, no sync,
every host name unresolvable), lets its scripts run (plotly draws the charts) and prints it.
Page breaks come from the page's print CSS (:data:`PRINT_CSS` starts each ``h2`` section on a
new page). Each call uses a fresh, throwaway browser profile, so runs in parallel never share one.

Examples
--------
>>> html_to_pdf("reports/daily_digest/latest/daily_digest.html", "digest.pdf")  # doctest: +SKIP
PosixPath('digest.pdf')
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from auterity_lab.errors import ReportError

CHROMIUM_ENV = "AUTERITY_LAB_CHROMIUM"
"""Environment variable naming the Chromium executable (default: ``chromium`` on the PATH)."""

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--no-pdf-header-footer",
    "--run-all-compositor-stages-before-draw",
)
"""Flags of every Chromium run: headless, offline, no first-run work."""

PRINT_CSS = """
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2 { break-before: page; }
  h1, h2, h3 { break-after: avoid; }
  .jp-OutputArea-output, table, .plotly-graph-div { break-inside: avoid; }
  .jp-Notebook, .jp-Cell, .jp-OutputArea { padding: 0 !important; margin: 0 !important; }
  .jp-OutputArea-output, .jp-RenderedHTMLCommon { overflow: visible !important; }
  .jp-RenderedHTMLCommon table { width: 100%; font-size: 8.5pt; table-layout: auto; }
  .jp-RenderedHTMLCommon td, .jp-RenderedHTMLCommon th { padding: 2px 4px; }
  .jp-RenderedHTMLCommon th { white-space: normal !important; overflow-wrap: break-word; }
  .jp-RenderedHTMLCommon td { white-space: nowrap; }
  .jp-RenderedHTMLCommon td.auterity-lab-text { white-space: normal; }
  .modebar-container { display: none !important; }
}
"""
"""Print rules injected into every report's HTML: one page per ``h2`` section, A4."""


def chromium_executable() -> str:
    """The Chromium to run: ``$AUTERITY_LAB_CHROMIUM``, else ``chromium`` on the PATH.

    Raises
    ------
    ReportError
        No Chromium is installed (the message says how to install one).
    """
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        found = shutil.which(configured)
    else:
        found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise ReportError(
            f"PDF output needs Chromium: apt-get install chromium, or set {CHROMIUM_ENV} to its "
            f"executable{f' ({configured!r} is not one)' if configured else ''}"
        )
    return found


def html_to_pdf(
    html: str | Path, pdf: str | Path, *, timeout_s: float = 120.0, script_budget_ms: int = 10_000
) -> Path:
    """Print the HTML file ``html`` to ``pdf`` (written atomically) and return its path.

    Parameters
    ----------
    html, pdf
        The page to print (a file) and where the PDF goes.
    timeout_s
        Chromium is killed after this long.
    script_budget_ms
        Virtual time the page's scripts get before printing (charts draw within it).

    Raises
    ------
    ReportError
        Chromium is missing, failed, timed out or wrote no PDF (the message quotes its output).
    """
    source = Path(html).resolve()
    target = Path(pdf)
    if not source.is_file():
        raise ReportError(f"cannot print {source} to PDF: the file does not exist")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    with tempfile.TemporaryDirectory(prefix="auterity-lab-chromium-") as profile:
        cmd = [
            chromium_executable(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--virtual-time-budget={script_budget_ms}",
            f"--print-to-pdf={tmp}",
            source.as_uri(),
        ]
        try:
            done = subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout_s, check=False
            )
        except subprocess.TimeoutExpired:
            tmp.unlink(missing_ok=True)
            raise ReportError(
                f"Chromium did not print {source.name} within {timeout_s:g} s"
            ) from None
    if done.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
        tmp.unlink(missing_ok=True)
        tail = "\n".join(line for line in done.stderr.splitlines() if "dbus" not in line)[-800:]
        raise ReportError(
            f"Chromium failed to print {source.name} (exit {done.returncode}): {tail}"
        )
    os.replace(tmp, target)
    return target
