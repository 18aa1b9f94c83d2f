"""The Workbench: DuckDB over the Parquet extracts, scoped to one tenant.

Every source table is a view that shows only the workbench's tenant's rows. The tenant is bound
as a DuckDB variable (``getvariable('tenant')``), so even the view definitions hold no
formatted value; DuckDB folds it into a filter pushed down to the Parquet scan.

Examples
--------
>>> wb = Workbench.open(demo_dir, tenant="acme")              # doctest: +SKIP
>>> wb.query("daily_user_analytics", start="2026-09-01", end="2026-10-01").head(2)  # doctest: +SKIP
         date  unique_users  total_sessions  ...
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb

from auterity_lab.config import Settings, load_settings
from auterity_lab.errors import (
    DataNotFoundError,
    QueryError,
    QueryParameterError,
    UnknownTenantError,
)
from auterity_lab.manifest import Manifest, TableEntry, empty_select, read_manifest
from auterity_lab.queries import coerce, load_query, placeholders
from auterity_lab.schema import PARTITION_FIELD, Table, source_tables

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

Frame = Literal["pandas", "polars"]
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class Workbench:
    """A tenant-scoped DuckDB session over a data directory. Open with :meth:`open`.

    Attributes
    ----------
    data_dir, tenant, manifest, settings
    """

    def __init__(
        self, data_dir: Path, tenant: str, manifest: Manifest, settings: Settings
    ) -> None:
        self.data_dir = data_dir
        self.tenant = tenant
        self.manifest = manifest
        self.settings = settings
        self._con = duckdb.connect(
            config={
                "threads": settings.duckdb_threads,
                "memory_limit": settings.duckdb_memory_limit,
            }
        )
        self._con.execute("SET TimeZone = 'UTC'")
        self._con.execute("SET VARIABLE tenant = $tenant", {"tenant": tenant})
        for tbl in source_tables():
            self._con.execute(self._view_sql(tbl, manifest.tables.get(tbl.qualified_name)))

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        data_dir: str | Path | None = None,
        *,
        tenant: str,
        settings: Settings | None = None,
    ) -> Workbench:
        """Open the extracts in ``data_dir`` for one tenant.

        Parameters
        ----------
        data_dir
            Folder holding ``manifest.json`` and ``extracts/``; defaults to the configured one.
        tenant
            The tenant whose rows every view shows.

        Raises
        ------
        DataNotFoundError
            The directory, its manifest or a file the manifest lists is missing.
        UnknownTenantError
            No table holds rows of ``tenant``.

        Examples
        --------
        >>> Workbench.open("/nonexistent", tenant="acme")
        Traceback (most recent call last):
        ...
        auterity_lab.errors.DataNotFoundError: data directory /nonexistent does not exist; ...
        """
        settings = settings or load_settings()
        path = Path(data_dir) if data_dir is not None else settings.data_dir
        manifest = read_manifest(path)
        if not isinstance(tenant, str) or not _TENANT.fullmatch(tenant):
            raise UnknownTenantError(f"{tenant!r} is not a valid tenant id")
        if tenant not in manifest.tenants:
            raise UnknownTenantError(
                f"tenant {tenant!r} has no data in {path}; known tenants: "
                f"{', '.join(manifest.tenants) or 'none'}"
            )
        for entry in manifest.tables.values():
            for f in entry.files:
                if not (path / f.path).is_file():
                    raise DataNotFoundError(
                        f"{entry.table}: the manifest lists {f.path}, which is missing from {path}"
                    )
        return cls(path, tenant, manifest, settings)

    def _view_sql(self, tbl: Table, entry: TableEntry | None) -> str:
        if entry is None or not entry.files:
            body = f"SELECT *, CAST(NULL AS DATE) AS {PARTITION_FIELD} FROM ({empty_select(tbl)})"
        else:
            files = ", ".join(
                "'" + str(self.data_dir / f.path).replace("'", "''") + "'" for f in entry.files
            )
            body = (
                f"SELECT * FROM read_parquet([{files}], hive_partitioning = true, "
                f"hive_types = {{'{PARTITION_FIELD}': DATE}}, union_by_name = true)"
            )
        return (
            f"CREATE OR REPLACE VIEW {tbl.name} AS SELECT * FROM ({body}) "
            "WHERE tenant_id = getvariable('tenant')"
        )

    # ------------------------------------------------------------------ querying
    def sql(self, text: str, /, *, frame: Frame = "pandas", **params: Any) -> pd.DataFrame:
        """Run SQL against the tenant's views with named parameters bound by DuckDB.

        Every ``$name`` in ``text`` must have a keyword argument and vice versa.

        Examples
        --------
        >>> wb.sql("SELECT count(*) AS n FROM users WHERE country = $c", c="DE")  # doctest: +SKIP
        """
        used = placeholders(text)
        given = set(params)
        if used != given:
            missing, extra = sorted(used - given), sorted(given - used)
            raise QueryParameterError(
                "SQL parameters do not match: "
                + "; ".join(
                    part
                    for part in (
                        f"missing {', '.join(missing)}" if missing else "",
                        f"not used by the SQL: {', '.join(extra)}" if extra else "",
                    )
                    if part
                )
            )
        bound = {k: _bind_value(k, v) for k, v in params.items()}
        return self._run(text, bound, frame, label="SQL")

    def query(self, name: str, /, *, frame: Frame = "pandas", **params: Any) -> pd.DataFrame:
        """Run ``queries/<name>.sql`` with its declared parameters.

        Raises
        ------
        QueryNotFoundError, QueryParameterError, QueryError
        """
        q = load_query(name)
        return self._run(q.sql, q.bind(params), frame, label=f"query {name!r}")

    def _run(
        self, sql: str, params: dict[str, Any], frame: Frame, *, label: str
    ) -> pd.DataFrame | pl.DataFrame:
        if frame not in ("pandas", "polars"):
            raise QueryParameterError(f"frame must be 'pandas' or 'polars', not {frame!r}")
        try:
            result = self._con.execute(sql, params)
            if frame == "polars":
                return result.pl()
            with warnings.catch_warnings():
                # DuckDB 1.5.5's pandas conversion calls DataFrame.drop(inplace=True) for
                # tz-aware columns, which pandas 3.1 deprecates; the result is unaffected.
                warnings.filterwarnings("ignore", message="The inplace keyword in DataFrame.drop")
                return result.df()
        except duckdb.Error as exc:
            raise QueryError(f"{label} failed for tenant {self.tenant!r}: {exc}") from exc

    # ------------------------------------------------------------------ derived relations
    def register(self, name: str, frame: pd.DataFrame | pl.DataFrame) -> None:
        """Make a small in-memory frame (a price table, a target list) queryable as ``name``.

        Examples
        --------
        >>> wb.register("model_prices", prices)            # doctest: +SKIP
        >>> wb.sql("SELECT * FROM model_prices")           # doctest: +SKIP
        """
        self._check_free_name(name)
        self._con.register(name, frame)

    def create_view(self, name: str, select_sql: str) -> None:
        """Define (or replace) a view over the tenant's views and registered frames.

        The SQL may not take parameters: a view must mean the same thing whenever it is read.
        """
        self._check_free_name(name)
        if placeholders(select_sql):
            raise QueryParameterError(f"view {name!r} cannot take parameters")
        try:
            self._con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {select_sql}")
        except duckdb.Error as exc:
            raise QueryError(f"view {name!r} could not be created: {exc}") from exc

    def _check_free_name(self, name: str) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", name or ""):
            raise QueryParameterError(f"{name!r} is not a valid relation name (lowercase, digits, _)")
        if name in {t.name for t in source_tables()}:
            raise QueryParameterError(f"{name!r} is a source table and cannot be replaced")

    # ------------------------------------------------------------------ housekeeping
    def fingerprint(self, tables: list[str] | None = None) -> str:
        """Manifest fingerprint of the given qualified tables (all by default)."""
        return self.manifest.fingerprint(tables)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Workbench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workbench(data_dir={str(self.data_dir)!r}, tenant={self.tenant!r})"


def _bind_value(name: str, value: Any) -> Any:
    # naive datetimes are UTC, as everywhere in the package
    return coerce(value, "TIMESTAMPTZ", name) if isinstance(value, dt.datetime) else value
