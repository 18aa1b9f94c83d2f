"""Options and output shared by the command modules."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from auterity_lab.config import load_settings
from auterity_lab.errors import ConfigError
from auterity_lab.export import to_bytes, write_frame

if TYPE_CHECKING:
    import pandas as pd

    from auterity_lab.warehouse import Workbench

console = Console(stderr=True)

DataOpt = Annotated[
    Path | None,
    typer.Option("--data", "-d", help="Data directory (default: $AUTERITY_LAB_DATA_DIR or ./data)."),
]
TenantOpt = Annotated[str, typer.Option("--tenant", "-t", help="Tenant whose data to read.")]
ParamOpt = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="A parameter as key=value; repeatable.")
]
FormatOpt = Annotated[
    str, typer.Option("--format", "-f", help="Output format: table, csv, json or parquet.")
]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file, not stdout.")]
StartOpt = Annotated[str, typer.Option("--start", help="Inclusive start (ISO date/time, UTC).")]
EndOpt = Annotated[str, typer.Option("--end", help="Exclusive end (ISO date/time, UTC).")]


def data_dir(path: Path | None) -> Path:
    """The data directory from the option, else from settings."""
    return path if path is not None else load_settings().data_dir


def open_workbench(path: Path | None, tenant: str) -> Workbench:
    from auterity_lab.warehouse import Workbench

    return Workbench.open(data_dir(path), tenant=tenant)


def parse_params(pairs: list[str] | None) -> dict[str, str]:
    """``["a=1", "b=x"]`` → ``{"a": "1", "b": "x"}``."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"parameter {pair!r} is not key=value")
        out[key.strip()] = value
    return out


def emit(frame: pd.DataFrame, fmt: str, out: Path | None, *, title: str = "") -> None:
    """Print ``frame`` (rich table, or CSV/JSON/Parquet bytes) or write it to ``out``."""
    if fmt == "table":
        if out is not None:
            raise ConfigError("--format table prints to the terminal; use csv, json or parquet with --out")
        table = Table(title=title or None, show_lines=False)
        for col in frame.columns:
            table.add_column(str(col), overflow="fold")
        for row in frame.itertuples(index=False):
            table.add_row(*(_cell(v) for v in row))
        Console().print(table)
        return
    if out is not None:
        write_frame(frame, out, fmt)
        console.print(f"wrote {len(frame)} rows to {out}")
        return
    if fmt == "parquet":
        raise ConfigError("parquet is binary: give --out FILE")
    sys.stdout.buffer.write(to_bytes(frame, fmt))
    if fmt == "json":
        sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()


def _cell(value: object) -> str:
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return "" if value is None else str(value)
