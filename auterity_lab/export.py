"""Write a result frame as CSV, JSON or Parquet (files or bytes), the same way everywhere.

:func:`export_frame` is the audited export: it checks ``data:export`` for an authenticated
caller, writes the file atomically, and records who exported how many rows of which tenant
where (outcome ``ok``, ``denied`` or ``error``) in the audit log.

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

from auterity_lab.audit import audited
from auterity_lab.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from auterity_lab.audit import AuditLog
    from auterity_lab.security import SecurityContext

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
    for col in [c for c in out.columns if out[c].dtype.kind == "O"]:
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


def export_frame(
    frame: pd.DataFrame,
    path: str | Path,
    fmt: str | None = None,
    *,
    audit: AuditLog | None = None,
    context: SecurityContext | None = None,
    tenant: str | None = None,
    what: str | None = None,
) -> Path:
    """Export ``frame`` to ``path`` as :func:`write_frame` does, checked and audited.

    Parameters
    ----------
    frame, path, fmt
        As :func:`write_frame`.
    audit
        The audit log to record the export in (None: not recorded).
    context
        The caller; needs ``data:export`` (None: a personal session, not checked).
    tenant
        Whose data the frame holds (default: the context's tenant).
    what
        A short description for the log (the query or table name).

    Raises
    ------
    AccessDeniedError
        The caller lacks ``data:export``: nothing is written; the denial is logged.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from auterity_lab.audit import AuditLog
    >>> folder = Path(tempfile.mkdtemp())
    >>> log = AuditLog(folder / "audit.jsonl")
    >>> _ = export_frame(pd.DataFrame({"a": [1, 2]}), folder / "a.csv", audit=log, tenant="acme")
    >>> [(e["action"], e["rows"], e["tenant"]) for e in log.entries()]
    [('data.export', 2, 'acme')]
    """
    with audited(
        audit, "data.export", context=context, permission="data:export", tenant=tenant,
        target=str(path),
    ) as action:  # fmt: skip
        action.detail = what
        written = write_frame(frame, path, fmt)
        action.rows = len(frame)
    return written
