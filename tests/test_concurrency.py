"""Writers and readers at once on one data directory: no corruption, no lost rows.

Against the throwaway Postgres of ``tests/postgres_server.py``:

* two extract processes started together: at most one runs (the other is refused with
  :class:`ExtractError`, the documented lock), and the directory ends as one complete extract;
* an extract process refreshing a table again and again while ten readers open workbenches and
  query it: every answer is one of the complete states the extracts published (the row counts
  of the source at each run), never a mix, a duplicate, or an error.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from auterity_lab.config import Settings
from auterity_lab.errors import AuterityLabError
from auterity_lab.manifest import read_manifest
from auterity_lab.pgseed import seed_postgres
from auterity_lab.synth import generate_demo
from auterity_lab.warehouse import Workbench
from tests.corpus import corpus_summary, tally

from .postgres_server import PgServer

__all__ = ["corpus_summary"]
pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
WRITER = r"""
import json, sys
from auterity_lab.config import Settings
from auterity_lab.errors import AuterityLabError
from auterity_lab.extract import extract
from auterity_lab.privacy import Policy

data, dsn, rounds, *tables = sys.argv[1:]
out = []
print("ready", flush=True)
for i in range(int(rounds)):
    sys.stdin.readline()  # the test prepares the source (and the race), then says go
    try:
        run = extract(data, tables=tables or None, full=True, settings=Settings(postgres_dsn=dsn),
                      policy=Policy.disabled())
        out.append({"ok": run.ok, "rows": {t.table: t.rows for t in run.tables},
                    "errors": [t.error for t in run.tables if t.error]})
    except AuterityLabError as exc:
        out.append({"refused": type(exc).__name__, "message": str(exc)})
    print(json.dumps(out[-1]), flush=True)
"""


@pytest.fixture(scope="module")
def source(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A source database holding a tiny demo (2 tenants, 21 days)."""
    demo = tmp_path_factory.mktemp("concurrency-demo") / "data"
    generate_demo(demo, tenants=2, days=21, scale=0.01, seed=5)
    dsn = pg_server.create_database("concurrency")
    seed_postgres(demo, settings=Settings(postgres_dsn=dsn))
    return dsn


def _writer(data: Path, dsn: str, rounds: int, *tables: str) -> subprocess.Popen[str]:
    """An extract process, imported and waiting for :func:`_go`."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data), dsn, str(rounds), *tables],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    return proc


def _go(proc: subprocess.Popen[str], *, wait: bool = True) -> dict | None:
    """Let the writer run one extract; with ``wait``, return its result."""
    proc.stdin.write("go\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline()) if wait else None


def _source_counts(dsn: str, names: list[str]) -> dict[str, int]:
    with psycopg.connect(dsn) as con:
        return {n: con.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in names}


def _check_consistent(data: Path) -> dict[str, int]:
    """Every listed file exists with its recorded rows; nothing unlisted; ids unique."""
    manifest = read_manifest(data)
    listed = {f.path for e in manifest.tables.values() for f in e.files}
    on_disk = {str(p.relative_to(data)) for p in (data / "extracts").rglob("*.parquet")}
    assert on_disk == listed, (on_disk ^ listed)
    assert not list((data / ".staging").glob("*")) if (data / ".staging").exists() else True
    counts = {}
    with Workbench.open(data, tenant="acme") as wb:
        for qualified, entry in manifest.tables.items():
            name = qualified.split(".")[1]
            n, distinct = wb.sql(
                f"SELECT count(*) AS n, count(DISTINCT id) AS d FROM {name}"
            ).iloc[0] if name != "workflow_steps" else (None, None)
            assert n == distinct
            counts[name] = entry.rows
    return counts


def test_two_extracts_at_once_one_runs_and_the_result_is_complete(
    source: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first, second = _writer(data, source, 1), _writer(data, source, 1)
    _go(first, wait=False)
    # wait until the first one holds the data directory (its spill folder exists), then race
    deadline = time.monotonic() + 120
    while not list((data / ".staging").glob("extract-spill.*")) and first.poll() is None:
        assert time.monotonic() < deadline, "the first extract never started"
        time.sleep(0.01)
    _go(second, wait=False)
    out_first, err_first = first.communicate(timeout=300)
    out_second, err_second = second.communicate(timeout=300)
    assert first.returncode == 0, err_first
    assert second.returncode == 0, err_second
    results = [json.loads(out_first), json.loads(out_second)]
    tally("concurrency: extract processes", 2)
    assert results[0]["ok"], results[0]
    assert results[1] == {
        "refused": "ExtractError",
        "message": f"another extract is running on {data}",
    }
    names = [q.split(".")[1] for q in read_manifest(data).tables]
    assert _check_consistent(data) == _source_counts(source, names)
    # the refused run left nothing behind, and a later run is a no-op incremental
    again = _writer(data, source, 1)
    assert _go(again)["ok"]
    again.communicate(timeout=60)
    assert _check_consistent(data) == _source_counts(source, names)


def test_readers_see_old_or_new_complete_state_while_an_extract_publishes(
    source: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    rounds, readers = 4, 10
    states: list[int] = []
    writer = _writer(data, source, rounds, "events")
    first = _go(writer)
    assert first["ok"], first
    states.append(first["rows"]["auterity.events"])
    # the acme share of each published state, filled in as the writer publishes
    acme: list[int] = []
    seen: list[tuple[int, int]] = []
    problems: list[str] = []
    stop = threading.Event()

    def acme_rows() -> int:
        with Workbench.open(data, tenant="acme") as wb:
            return int(wb.sql("SELECT count(*) AS n FROM events", cache=False)["n"].iloc[0])

    acme.append(acme_rows())

    def read(k: int) -> None:
        # reader 0 is a dashboard: one workbench for the whole test; the others are report
        # runs: open, then a few queries over the same workbench
        queries = 10**9 if k == 0 else 3
        while not stop.is_set():
            try:
                with Workbench.open(data, tenant="acme") as wb:
                    for _ in range(queries):
                        if stop.is_set():
                            return
                        row = wb.sql(
                            "SELECT count(*) AS n, count(DISTINCT id) AS d FROM events"
                        ).iloc[0]
                        seen.append((int(row["n"]), int(row["d"])))
                        time.sleep(0.02 if k == 0 else 0)
            except AuterityLabError as exc:
                problems.append(f"reader {k}: {type(exc).__name__}: {exc}")
                return

    threads = [threading.Thread(target=read, args=(k,)) for k in range(readers)]
    for t in threads:
        t.start()
    try:
        for _ in range(rounds - 1):
            with psycopg.connect(source, autocommit=True) as con:
                for _ in range(7):
                    con.execute(
                        "INSERT INTO events (id, tenant_id, event_type, created_at) "
                        "VALUES (%s, 'acme', 'feature_use', now() - interval '1 day')",
                        (str(uuid.uuid4()),),
                    )
            result = _go(writer)
            assert result["ok"], result
            states.append(result["rows"]["auterity.events"])
            acme.append(acme[-1] + 7)
            time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=120)
        writer.communicate(timeout=60)
    tally("concurrency: reader queries during extracts", len(seen))
    tally("concurrency: extract rounds with readers", rounds)
    assert not problems, problems[:3]
    assert states == [states[0] + 7 * i for i in range(rounds)]  # no lost or duplicated rows
    assert seen and all(n == d for n, d in seen), "a reader saw duplicated rows"
    assert {n for n, _ in seen} <= set(acme), (sorted({n for n, _ in seen}), acme)
    assert _check_consistent(data)["events"] == states[-1]


def test_a_workbench_opened_before_an_extract_still_answers(source: str, tmp_path: Path) -> None:
    """A long-lived reader (a dashboard) keeps working across a publish: old or new state."""
    data = tmp_path / "data"
    writer = _writer(data, source, 2, "events")
    assert _go(writer)["ok"]
    with Workbench.open(data, tenant="acme") as wb:
        before = int(wb.sql("SELECT count(*) AS n FROM events", cache=False)["n"].iloc[0])
        with psycopg.connect(source, autocommit=True) as con:
            con.execute(
                "INSERT INTO events (id, tenant_id, event_type, created_at) "
                "VALUES (%s, 'acme', 'feature_use', now() - interval '1 day')",
                (str(uuid.uuid4()),),
            )
        assert _go(writer)["ok"]
        writer.communicate(timeout=60)
        tally("concurrency: long-lived readers across a publish")
        after = int(wb.sql("SELECT count(*) AS n FROM events", cache=False)["n"].iloc[0])
    assert after in (before, before + 1)
