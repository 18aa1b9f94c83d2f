"""Write a result frame as CSV, JSON or Parquet (files or bytes), the same way everywhere.

Examples
--------
>>> import pandas as pd
>>> to_bytes(pd.DataFrame({"a": [1]}), "json")
b'[{"a":1}]'
>>> to_bytes(pd.DataFrame({"id": [uuid.UUID(int=1)]}), "json")
b'[{"id":"00000000-0000-0000-0000-000000000001"}]'
"""

from __future__ import annotations

import decimal
import io
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from auterity_lab.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("csv", "json", "parquet")


def to_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    """Serialise ``frame``: CSV with a header, JSON records (ISO dates), or Parquet."""
    if fmt == "csv":
        return frame.to_csv(index=False).encode()
    if fmt == "json":
        return _jsonable(frame).to_json(orient="records", date_format="iso", date_unit="s").encode()
    if fmt == "parquet":
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        return buf.getvalue()
    raise ConfigError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _jsonable(frame: pd.DataFrame) -> pd.DataFrame:
    """UUID and Decimal values become strings and floats (pandas' JSON writer knows neither)."""
    out = frame.copy()
    for col in out.columns[out.dtypes == object]:
        sample = out[col].dropna()
        if sample.empty:
            continue
        first = sample.iloc[0]
        if isinstance(first, uuid.UUID):
            out[col] = out[col].map(lambda v: None if v is None else str(v))
        elif isinstance(first, decimal.Decimal):
            out[col] = out[col].map(lambda v: None if v is None else float(v))
    return out


def write_frame(frame: pd.DataFrame, path: str | Path, fmt: str | None = None) -> Path:
    """Write ``frame`` to ``path`` atomically; the format defaults to the file's suffix."""
    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".")
    data = to_bytes(frame, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path
