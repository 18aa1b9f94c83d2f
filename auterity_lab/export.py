"""Write a result frame as CSV, JSON or Parquet (files or bytes), the same way everywhere.

Examples
--------
>>> import pandas as pd
>>> to_bytes(pd.DataFrame({"a": [1]}), "json")
b'[{"a":1}]'
"""

from __future__ import annotations

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
        return frame.to_json(orient="records", date_format="iso", date_unit="s").encode()
    if fmt == "parquet":
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        return buf.getvalue()
    raise ConfigError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


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
