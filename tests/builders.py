"""Build small data directories from hand-written rows, for hand-worked test cases.

Columns left out are NULL (or a default for NOT NULL ones); ids are generated unless given.

Examples
--------
>>> rows = {"users": [{"tenant_id": "t1", "created_at": "2026-01-01"}]}
>>> d = build_data_dir(tmp, rows)  # doctest: +SKIP
>>> Workbench.open(d, tenant="t1")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from auterity_lab.manifest import empty_select, write_extract
from auterity_lab.schema import Table, source_tables, table

_DEFAULTS = {
    "status": "success",
    "analytics_consent": True,
    "attempt": 1,
    "step_index": 0,
    "step_type": "transform",
    "event_type": "feature_use",
    "service": "svc",
    "endpoint": "/",
    "method": "GET",
    "response_time_ms": 100,
    "status_code": 200,
    "rating": 5,
    "experiment_key": "exp",
    "variant": "control",
    "workflow_id": "wf",
    "step_name": "step",
}


def build_data_dir(
    path: str | Path, rows: Mapping[str, Iterable[Mapping[str, Any]] | pd.DataFrame]
) -> Path:
    """Write every source table (empty where ``rows`` has none) and return the directory.

    ``rows`` maps a table name to a list of dicts or a DataFrame. JSON columns may be given as
    dicts; ``created_at`` defaults to ``start_time``/``started_at`` when those are given.
    The typed JSON copies (``user_sessions.device`` ...) are derived from their JSON column.
    """
    path = Path(path)
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    for tbl in source_tables():
        given = rows.get(tbl.name)
        frame = pd.DataFrame(given) if given is not None else None
        if frame is None or frame.empty:
            write_extract(con, path, tbl, empty_select(tbl), run_id="test")
            continue
        frame = _complete(tbl, frame)
        con.register("_rows", frame)
        write_extract(con, path, tbl, _select(tbl), run_id="test")
        con.unregister("_rows")
    return path


def _complete(tbl: Table, frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    n = len(frame)
    for fallback in ("start_time", "started_at"):
        if "created_at" not in frame and fallback in frame:
            frame["created_at"] = frame[fallback]
    if "id" not in frame and tbl.column("id") is not None:
        offset = zlib.crc32(tbl.name.encode()) << 64  # distinct, stable ids per table
        frame["id"] = [str(uuid.UUID(int=offset + i + 1)) for i in range(n)]
    for col in tbl.columns:
        if col.json_source is not None:
            source, key = col.json_source
            frame[col.name] = [
                (v if isinstance(v, dict) else json.loads(v) if isinstance(v, str) else {}).get(key)
                for v in frame.get(source, pd.Series([None] * n))
            ]
        elif col.name not in frame:
            frame[col.name] = _DEFAULTS.get(col.name) if not col.nullable else None
        elif not col.nullable and col.name in _DEFAULTS:  # rows that left it out get the default
            frame[col.name] = frame[col.name].astype(object).where(
                frame[col.name].notna(), _DEFAULTS[col.name]
            )
        if col.kind == "jsonb":
            frame[col.name] = [
                json.dumps(v) if isinstance(v, dict | list) else v for v in frame[col.name]
            ]
        if col.kind == "timestamptz":
            frame[col.name] = pd.to_datetime(frame[col.name], utc=True)
        if col.kind in ("uuid", "text", "jsonb"):
            frame[col.name] = frame[col.name].astype(object).where(frame[col.name].notna(), None)
            frame[col.name] = [None if v is None else str(v) for v in frame[col.name]]
    return frame[list(tbl.column_names)]


def _select(tbl: Table) -> str:
    return (
        "SELECT "
        + ", ".join(
            f"CAST(CAST({c.name} AS VARCHAR) AS {c.duckdb_type}) AS {c.name}"
            if c.kind in ("uuid", "jsonb") or c.kind.startswith("numeric")
            else f"CAST({c.name} AS {c.duckdb_type}) AS {c.name}"
            for c in tbl.columns
        )
        + " FROM _rows"
    )


__all__ = ["build_data_dir", "table"]
