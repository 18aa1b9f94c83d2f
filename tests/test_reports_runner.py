"""The report runner on a tiny report: parameters checked before anything runs, the catalog's
errors, grid runs with predictable names, tables, retries, a failure that keeps the last good
report and notifies, the time budget, and secrets scrubbed from everything a run writes.

``write_tiny_catalog`` is shared with the scheduler and CLI tests: a notebook that starts fast,
fails on request (a given number of times, counted in a file), sleeps on request and can print
an environment variable.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from auterity_lab.catalog import (
    CatalogError,
    ReportParameterError,
    UnknownReportError,
    load_catalog,
)
from auterity_lab.reports import (
    ReportFailedError,
    ReportRun,
    latest_run,
    load_run,
    notify_channels,
    read_tables,
    run_grid,
    run_history,
    run_report,
)
from auterity_lab.state import StateStore

TINY_PARAMETERS = """\
data_dir = "data"  # where a failure notification is stored (the state of this data directory)
tenant = "acme"
fail_times = 0  # fail this many times (counted in `counter`)
counter = ""  # a file that counts the executions
sleep_s = 0.0
leak = ""  # names of environment variables to print, comma-separated
"""

TINY_BODY = """\
import os
import pathlib
import time

import pandas as pd

from auterity_lab.reports import show_table

if counter:
    path = pathlib.Path(counter)
    n = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(n))
    if n <= fail_times:
        raise RuntimeError(f"planned failure {n}")
"""

TINY_TAIL = """\
time.sleep(sleep_s)
for name in filter(None, leak.split(",")):
    print(name, "is", os.environ.get(name))
show_table("numbers", pd.DataFrame({
    "tenant": [tenant, tenant], "n": [len(tenant), 7],
    "at": pd.to_datetime(["2026-01-02T03:04:05.123456Z", "2026-01-03T00:00:00Z"], utc=True,
                         format="ISO8601"),
    "x": [float("nan"), 0.25],
}))
"""

CATALOG = """\
reports:
  tiny:
    notebook: tiny.ipynb
    title: Tiny
    parameters:
      data_dir: {type: VARCHAR}
      tenant: {type: VARCHAR, required: true}
      fail_times: {type: INTEGER, default: 0}
      counter: {type: VARCHAR, default: ""}
      sleep_s: {type: DOUBLE, default: 0}
      leak: {type: VARCHAR, default: ""}
    schedule: "0 6 * * *"
    grid: {tenant: "*"}
    formats: [html, csv, json]
    channels: [dashboard]
    retries: 1
    retry_delay_s: 0
    timeout_s: 60
  tiny_hourly:
    notebook: tiny.ipynb
    parameters:
      tenant: {type: VARCHAR, default: acme}
      fail_times: {type: INTEGER, default: 0}
      counter: {type: VARCHAR, default: ""}
      sleep_s: {type: DOUBLE, default: 0}
    schedule: "0 * * * *"
    formats: [csv]
    retries: 0
    timeout_s: 8
"""


def write_tiny_catalog(folder: Path, extra: str = "") -> Path:
    """Write ``tiny.ipynb`` and ``reports.yml`` (plus ``extra`` YAML entries) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    nb = new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    params = new_code_cell(TINY_PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        new_markdown_cell("# Tiny report"),
        params,
        new_code_cell(TINY_BODY),
        new_code_cell(TINY_TAIL),
    ]
    for i, cell in enumerate(nb.cells):
        cell.id = f"tiny{i}"
    nbformat.write(nb, folder / "tiny.ipynb")
    path = folder / "reports.yml"
    path.write_text(CATALOG + extra, encoding="utf-8")
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_tiny_catalog(tmp_path / "catalog")


# ----------------------------------------------------------------------------- no kernel needed
def test_parameters_are_checked_before_anything_is_written(tiny: Path, tmp_path: Path) -> None:
    cat = load_catalog(tiny)
    out = tmp_path / "out"
    cases = [
        (
            {"tenant": "acme", "colour": "red"},
            "report .tiny. has no parameter colour; it takes: data_dir, tenant,",
        ),
        ({"tenant": "acme", "fail_times": "twice"}, r"fail_times: 'twice' is not a valid INTEGER"),
        ({"tenant": "acme", "sleep_s": True}, r"sleep_s: True is not a valid DOUBLE"),
        ({}, "report 'tiny' needs parameter tenant"),
    ]
    for params, message in cases:
        with pytest.raises(ReportParameterError, match=message):
            run_report("tiny", params, out, catalog=cat)
    with pytest.raises(ReportParameterError, match="unknown format docx"):
        run_report("tiny", {"tenant": "acme"}, out, catalog=cat, formats=["docx"])
    with pytest.raises(UnknownReportError, match="no report named 'tinny'; available: "):
        run_report("tinny", {}, out, catalog=cat)
    with pytest.raises(ReportParameterError, match=r"day: 'yesterday' is not a valid DATE"):
        run_report("daily_digest", {"tenant": "acme", "day": "yesterday"}, out)
    assert not out.exists()


def test_bind_types_and_defaults(tiny: Path) -> None:
    spec = load_catalog(tiny)["tiny"]
    assert spec.bind({"tenant": "globex", "fail_times": "2", "sleep_s": "0.5"}) == {
        "data_dir": None,
        "tenant": "globex",
        "fail_times": 2,
        "counter": "",
        "sleep_s": 0.5,
        "leak": "",
    }
    digest = load_catalog()["daily_digest"]
    bound = digest.bind(
        {"tenant": "acme", "day": "2026-10-31T12:00:00", "as_of": "2026-11-01T06:15:00+02:00"}
    )
    assert bound["day"] == "2026-10-31" and bound["as_of"] == "2026-11-01T04:15:00+00:00"
    assert bound["top_insights"] == 5 and bound["data_dir"] is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "  bad:\n    notebook: tiny.ipynb\n    schedule: '61 * * * *'\n",
            "is not a cron expression",
        ),
        (
            "  bad:\n    notebook: tiny.ipynb\n    colour: red\n",
            r"bad.colour: Extra inputs are not permitted",
        ),
        (
            "  bad:\n    notebook: tiny.ipynb\n"
            "    parameters: {n: {type: INTEGER, default: many}}\n",
            "'many' is not a valid INTEGER",
        ),
        (
            "  bad:\n    notebook: tiny.ipynb\n    parameters: {n: {type: MONEY}}\n",
            "unknown type 'MONEY'",
        ),
        ("  bad:\n    notebook: missing.ipynb\n", "notebook .*missing.ipynb does not exist"),
        (
            "  bad:\n    notebook: tiny.ipynb\n    grid: {tenant: '*'}\n",
            "grid parameter 'tenant' is not a declared",
        ),
        (
            "  bad:\n    notebook: tiny.ipynb\n    formats: [docx]\n",
            r"bad.formats.0: Input should be",
        ),
        (
            "  bad:\n    notebook: tiny.ipynb\n    retries: -1\n",
            "bad.retries: Input should be greater",
        ),
    ],
)
def test_catalog_errors_name_the_problem(tmp_path: Path, entry: str, message: str) -> None:
    path = write_tiny_catalog(tmp_path, extra=entry)
    with pytest.raises(CatalogError, match=message):
        load_catalog(path)


def test_catalog_covers_every_notebook() -> None:
    cat = load_catalog()
    from auterity_lab.catalog import notebooks_root

    for nb in notebooks_root().glob("*.ipynb"):
        assert nb.stem in cat and cat[nb.stem].source == "notebook"
        assert {"data_dir", "tenant"} <= set(cat[nb.stem].parameters)
    for name in ("daily_digest", "weekly_review"):
        spec = cat[name]
        declared = nbformat.read(spec.notebook, as_version=4)
        assert spec.source == "catalog" and spec.schedule and spec.grid == {"tenant": "*"}
        params = next(c for c in declared.cells if "parameters" in c.metadata.get("tags", []))
        names = set(re.findall(r"^(\w+) =", params.source, re.M))
        assert names == set(spec.parameters), name


# ----------------------------------------------------------------------------- real runs
def test_grid_runs_have_predictable_names_and_tables(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    runs = run_grid("tiny", {"tenant": ["acme", "globex"]}, out_dir=out, catalog=load_catalog(tiny))
    assert [r.status for r in runs] == ["succeeded", "succeeded"]
    (stamp,) = {r.run_id.split("-tenant=")[0] for r in runs}  # one stamp for the whole grid
    assert re.fullmatch(r"\d{8}T\d{6}Z", stamp)
    assert [r.run_id.split("-tenant=")[1] for r in runs] == ["acme", "globex"]
    assert len({r.run_dir for r in runs}) == 2
    for r in runs:
        tenant = r.key["tenant"]
        assert latest_run("tiny", out, tenant=tenant).run_id == r.run_id
        assert {p.name for p in r.tables} == {"numbers.csv", "numbers.json"}
        table = read_tables(r.notebook)["numbers"]
        assert table["tenant"].tolist() == [tenant, tenant]
        assert table["at"].tolist() == [
            pd.Timestamp("2026-01-02T03:04:05.123456Z"),
            pd.Timestamp("2026-01-03T00:00:00Z"),
        ]
        assert pd.isna(table["x"].iloc[0]) and table["x"].iloc[1] == 0.25
        csv = pd.read_csv(r.run_dir / "tables" / "numbers.csv")
        assert csv["n"].tolist() == [len(tenant), 7]
        records = json.loads((r.run_dir / "tables" / "numbers.json").read_text())
        assert records[0]["x"] is None and records[1]["at"].startswith("2026-01-03T00:00:00")
        assert load_run(r.run_dir) == r
    # the same combination again in the same second gets its own folder
    from auterity_lab.reports import _new_run_dir

    assert _new_run_dir(out / "tiny", runs[0].run_id).name == f"{runs[0].run_id}-2"
    assert _new_run_dir(out / "tiny", runs[0].run_id).name == f"{runs[0].run_id}-3"


def test_retry_failure_notification_and_last_good_report(tiny: Path, tmp_path: Path) -> None:
    cat = load_catalog(tiny)
    out = tmp_path / "out"
    counter = tmp_path / "count"
    told: list[tuple[ReportRun, str]] = []

    def notify(run: ReportRun, spec: object) -> None:
        told.append((run, spec.name))

    # fails once, then succeeds on the retry: a good report
    good = run_report(
        "tiny",
        {"tenant": "acme", "fail_times": 1, "counter": str(counter)},
        out,
        catalog=cat,
        notify=notify,
    )
    assert good.status == "succeeded" and [a.status for a in good.attempts] == [
        "failed",
        "succeeded",
    ]
    first = good.attempts[0]
    assert first.failing_cell == 3 and first.failing_source == "import os"
    assert "RuntimeError: planned failure 1" in first.error
    assert not told
    # fails every time: recorded, notified once after the retries, last good report kept
    counter.unlink()
    with pytest.raises(ReportFailedError, match="failed after 2 attempt") as caught:
        run_report(
            "tiny",
            {"tenant": "acme", "fail_times": 9, "counter": str(counter)},
            out,
            catalog=cat,
            notify=notify,
        )
    bad = caught.value.run
    assert counter.read_text() == "2"  # one retry, as the catalog says
    assert [r.run_id for r, _ in told] == [bad.run_id] and told[0][1] == "tiny"
    record = json.loads((bad.run_dir / "run.json").read_text())
    assert record["status"] == "failed" and record["failing_cell"] == 3
    assert record["error"].startswith("cell 3: RuntimeError: planned failure 2")
    assert len(record["attempts"]) == 2 and record["html"] is None
    executed = nbformat.read(bad.notebook, as_version=4)  # papermill's banners + the failing cell
    failed = [c for c in executed.cells if any(o.get("ename") for o in c.get("outputs", []))]
    assert len(failed) == 1 and failed[0].source.startswith(bad.failing_source)
    assert "papermill-error-cell-tag" in executed.cells[0].metadata["tags"]
    assert latest_run("tiny", out, tenant="acme").run_id == good.run_id
    assert (good.run_dir / "tiny.html").is_file()
    history = run_history("tiny", out)
    assert history["status"].tolist() == ["failed", "succeeded"]
    assert history["latest"].tolist() == [False, True]
    # the default notification: an alert through the alert channels, stored for the dashboard
    data = tmp_path / "data"
    notify_channels(replace(bad, parameters={**bad.parameters, "data_dir": str(data)}), cat["tiny"])
    stored = StateStore.for_data_dir(data).read("dashboard_alerts", tenant="acme")
    assert stored["rule_id"].tolist() == ["report:tiny"]
    assert (
        "planned failure 2" in stored["message"].iloc[0]
        and "at cell 3" in stored["message"].iloc[0]
    )
    sent = StateStore.for_data_dir(data).read("alert_deliveries", tenant="acme")
    assert sent[["channel", "status"]].values.tolist() == [["dashboard", "delivered"]]


def test_the_time_budget_stops_a_run(tiny: Path, tmp_path: Path) -> None:
    with pytest.raises(ReportFailedError, match="timed out") as caught:
        run_report("tiny_hourly", {"sleep_s": 30}, tmp_path / "out", catalog=load_catalog(tiny))
    run = caught.value.run
    assert run.failing_cell == 4 and run.failing_source == "time.sleep(sleep_s)"
    assert run.duration_s < 25


def test_secrets_printed_by_a_notebook_are_scrubbed(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "pw-Zq8-unguessable"
    dsn = f"postgresql://etl:{password}@warehouse.internal/relaycore"
    key = "k3y-4-hmac-0123456789"
    monkeypatch.setenv("AUTERITY_LAB_RELAYCORE_DSN", dsn)
    monkeypatch.setenv("AUTERITY_LAB_HMAC_KEY", key)
    cat = load_catalog(tiny)
    out = tmp_path / "out"
    leak = "AUTERITY_LAB_RELAYCORE_DSN,AUTERITY_LAB_HMAC_KEY"
    run = run_report("tiny", {"tenant": "acme", "leak": leak}, out, catalog=cat)
    assert run.redactions > 0
    for path in out.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            assert password.encode() not in blob and key.encode() not in blob, path
    text = run.notebook.read_text()
    # the DSN is described without its password; the key is masked
    assert (
        "AUTERITY_LAB_RELAYCORE_DSN is postgresql://etl@warehouse.internal:5432/relaycore" in text
    )
    assert "AUTERITY_LAB_HMAC_KEY is ***" in text
    assert "AUTERITY_LAB_HMAC_KEY is ***" in run.html.read_text()
