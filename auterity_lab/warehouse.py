"""The Workbench: DuckDB over the Parquet extracts, scoped to one tenant.

Every source table is a view that shows only the workbench's tenant's rows. The tenant is bound
as a DuckDB variable (``getvariable('tenant')``), so even the view definitions hold no
formatted value; DuckDB folds it into a filter pushed down to the Parquet scan.

Opened with ``strict=False``, the workbench checks every table's extract (files present, footers
readable, columns and types as the data model says, extract written for this data model) and
turns a table that fails into a view that raises a clear error naming the table when it is read;
``wb.unavailable`` maps its qualified name to the reason. Analytics that span systems use this to
go on with the systems that are intact.

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
    ManifestError,
    QueryError,
    QueryParameterError,
    UnknownTenantError,
)
from auterity_lab.manifest import Manifest, TableEntry, empty_select, read_manifest
from auterity_lab.queries import coerce, load_query, placeholders
from auterity_lab.schema import PARTITION_FIELD, Table, source_tables

# Extract types DuckDB reads for a data-model type, where they differ (JSON is stored as text).
_READ_AS = {"JSON": {"JSON", "VARCHAR"}}

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
    unavailable
        Qualified table name (``relaycore.workflow_runs``) → why its extract cannot be read.
        Always empty for a strict workbench: it refuses to open when a listed file is missing or
        its footer unreadable, and a query that trips over other damage fails with
        :class:`QueryError`.
    """

    def __init__(
        self,
        data_dir: Path,
        tenant: str,
        manifest: Manifest,
        settings: Settings,
        *,
        strict: bool = True,
    ) -> None:
        self.data_dir = data_dir
        self.tenant = tenant
        self.manifest = manifest
        self.settings = settings
        self.unavailable: dict[str, str] = {}
        self._con = duckdb.connect(
            config={
                "threads": settings.duckdb_threads,
                "memory_limit": settings.duckdb_memory_limit,
            }
        )
        self._con.execute("SET TimeZone = 'UTC'")
        self._con.execute("SET VARIABLE tenant = $tenant", {"tenant": tenant})
        for tbl in source_tables():
            entry = manifest.tables.get(tbl.qualified_name)
            problem = None if strict else self._problem(tbl, entry)
            if problem is None:
                try:
                    self._con.execute(self._view_sql(tbl, entry))
                except duckdb.Error as exc:  # a footer that cannot be read
                    raise ManifestError(
                        f"{tbl.qualified_name}: an extract file cannot be read "
                        f"({str(exc).splitlines()[0]}); open the workbench with strict=False to "
                        "work with the other tables"
                    ) from exc
            else:
                self.unavailable[tbl.qualified_name] = problem
                self._con.execute(self._unavailable_view_sql(tbl, problem))

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        data_dir: str | Path | None = None,
        *,
        tenant: str,
        settings: Settings | None = None,
        strict: bool = True,
    ) -> Workbench:
        """Open the extracts in ``data_dir`` for one tenant.

        Parameters
        ----------
        data_dir
            Folder holding ``manifest.json`` and ``extracts/``; defaults to the configured one.
        tenant
            The tenant whose rows every view shows.
        strict
            True (default): a file the manifest lists but the disk lacks is an error. False: every
            table's extract is checked (files present, footers readable, the data model's columns
            and types, written for this data model); a table that fails is recorded in
            :attr:`unavailable` and its view raises :class:`QueryError` naming it when read,
            while the other tables work as usual.

        Raises
        ------
        DataNotFoundError
            The directory or its manifest is missing; with ``strict``, also a listed file.
        UnknownTenantError
            No table holds rows of ``tenant``.
        ManifestError
            With ``strict``, an extract file's footer cannot be read.

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
        if strict:
            for entry in manifest.tables.values():
                for f in entry.files:
                    if not (path / f.path).is_file():
                        raise DataNotFoundError(
                            f"{entry.table}: the manifest lists {f.path}, which is missing from "
                            f"{path}"
                        )
        return cls(path, tenant, manifest, settings, strict=strict)

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

    def _problem(self, tbl: Table, entry: TableEntry | None) -> str | None:
        """Why the extract of ``tbl`` cannot be read as the data model says, or None."""
        if entry is None:
            return "not in the manifest: the table was never extracted"
        if entry.schema_fingerprint != tbl.fingerprint():
            return (
                f"stale extract: written for schema {entry.schema_fingerprint}, the data model is "
                f"now {tbl.fingerprint()}; extract the table again"
            )
        if not entry.files:
            return None
        missing = [f.path for f in entry.files if not (self.data_dir / f.path).is_file()]
        if missing:
            return (
                f"{len(missing)} of {len(entry.files)} extract files are missing "
                f"(first: {missing[0]})"
            )
        files = [str(self.data_dir / f.path) for f in entry.files]
        try:
            columns = self._con.execute(
                "SELECT file_name, list(name) FROM parquet_schema($files) GROUP BY file_name",
                {"files": files},
            ).fetchall()
            read_types = dict(
                self._con.execute(
                    "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
                    "read_parquet($files, union_by_name = true))",
                    {"files": files},
                ).fetchall()
            )
        except duckdb.Error as exc:
            return f"unreadable extract: {str(exc).splitlines()[0]}"
        for file_name, names in columns:
            lacking = [c for c in tbl.column_names if c not in set(names)]
            if lacking:
                rel = Path(file_name).relative_to(self.data_dir)
                return f"column {', '.join(lacking)} missing from {rel}"
        for col in tbl.columns:
            expected = col.duckdb_type
            if read_types[col.name] not in _READ_AS.get(expected, {expected}):
                return (
                    f"column {col.name} is {read_types[col.name]}, the data model says {expected}"
                )
        return None

    def _unavailable_view_sql(self, tbl: Table, problem: str) -> str:
        # Every column and the row filter call error(), so any read of the view raises; the
        # reason is bound as a variable, never formatted into the SQL.
        variable = f"unavailable_{tbl.name}"
        self._con.execute(
            f"SET VARIABLE {variable} = $reason",
            {"reason": f"table {tbl.qualified_name} is unavailable: {problem}"},
        )
        fail = f"error(getvariable('{variable}'))"
        typed = [(c.name, c.duckdb_type) for c in tbl.columns] + [(PARTITION_FIELD, "DATE")]
        cols = ", ".join(f"CAST({fail} AS {t}) AS {name}" for name, t in typed)
        return f"CREATE OR REPLACE VIEW {tbl.name} AS SELECT {cols} WHERE {fail} IS NULL"

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
