"""The Workbench: DuckDB over the Parquet extracts, scoped to one tenant.

Every source table is a view that shows only the workbench's tenant's rows. The tenant is bound
as a DuckDB variable (``getvariable('tenant')``), so even the view definitions hold no
formatted value; DuckDB folds it into a filter pushed down to the Parquet scan.

Opened with a :class:`~auterity_lab.security.SecurityContext` (``context=``), the workbench
enforces access control: the context must be bound to the tenant and hold ``analytics:read``;
the views carry the tenant as a literal (no variable to change); raw text columns (prompts,
outputs, feedback text) read ``[redacted <hash>]`` unless ``raw_text:read`` (NULL stays NULL,
equal texts stay equal); row-level queries need ``rows:read``; :meth:`Workbench.sql` needs
``sql:execute`` and ``rows:read`` and accepts one SELECT over the workbench's own relations
only; and once the views exist, DuckDB is locked down (no file but the extracts, no
extensions, no configuration changes). Denials, ad-hoc SQL and raw-text reads are written to
the audit log. Without a context (a data scientist's own notebook) none of this applies.

Opened with ``strict=False``, the workbench checks every table's extract (files present, footers
readable, columns and types as the data model says, extract written for this data model) and
turns a table that fails into a view that raises a clear error naming the table when it is read;
``wb.unavailable`` maps its qualified name to the reason. Analytics that span systems use this to
go on with the systems that are intact.

Every query runs under the resource limits of :mod:`auterity_lab.limits` (a timeout that
interrupts DuckDB, a process-wide cap on concurrent queries, memory errors named as such) and,
unless the cache is disabled or bypassed, through the result cache of :mod:`auterity_lab.cache`.
A workbench may be shared by threads: its one DuckDB connection runs one query at a time (a
lock; the tenant variable, registered frames and temporary views live on that connection),
while cache hits and frame conversion need no lock. ``limit=``/``offset=`` return one page of a
result in a stable order.

Examples
--------
>>> wb = Workbench.open(demo_dir, tenant="acme")              # doctest: +SKIP
>>> wb.query("daily_user_analytics", start="2026-09-01", end="2026-10-01").head(2)  # doctest: +SKIP
         date  unique_users  total_sessions  ...
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import secrets
import threading
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb

from auterity_lab.audit import AuditLog, audit_log_for
from auterity_lab.cache import (
    Reads,
    ResultCache,
    canonical_params,
    digest,
    frame_digest,
    kind_of_query,
    statement_reads,
    tables_fingerprint,
)
from auterity_lab.config import Settings, load_settings
from auterity_lab.errors import (
    AccessDeniedError,
    ConfigError,
    DataNotFoundError,
    ManifestError,
    QueryError,
    QueryParameterError,
    ResourceLimitError,
    UnknownTenantError,
)
from auterity_lab.limits import (
    PAGE_LIMIT_PARAM,
    PAGE_OFFSET_PARAM,
    QueryLimits,
    check_page,
    page_sql,
    run_limited,
)
from auterity_lab.manifest import (
    Manifest,
    TableEntry,
    empty_select,
    manifest_path,
    read_manifest,
)
from auterity_lab.queries import coerce, load_query, placeholders
from auterity_lab.schema import PARTITION_FIELD, Table, source_tables
from auterity_lab.security import (
    RAW_TEXT_COLUMNS,
    RAW_TEXT_QUERIES,
    ROW_LEVEL_QUERIES,
    TEXT_QUERIES,
    SecurityContext,
    authorize,
    check_read_only_sql,
    current_context,
    require_tenant,
)

# Extract types DuckDB reads for a data-model type, where they differ (JSON is stored as text).
_READ_AS = {"JSON": {"JSON", "VARCHAR"}}

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
    import pyarrow as pa

Frame = Literal["pandas", "polars"]
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_QUALIFIED = {t.name: t.qualified_name for t in source_tables()}
_SQL_KIND = "user_analytics"  # TTL kind of ad-hoc SQL
_local = threading.local()  # per thread: a converter connection


class Workbench:
    """A tenant-scoped DuckDB session over a data directory. Open with :meth:`open`.

    Attributes
    ----------
    data_dir, tenant, manifest, settings
    context
        The :class:`~auterity_lab.security.SecurityContext` the workbench acts for, or None.
    cache
        The :class:`~auterity_lab.cache.ResultCache` queries go through, or None when
        ``settings.cache_enabled`` is off or the calling thread is inside :meth:`no_cache`.
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
        context: SecurityContext | None = None,
    ) -> None:
        if context is not None:
            _check_access(context, tenant, None)
        self.data_dir = data_dir
        self.tenant = tenant
        self.context = context
        self._audit: AuditLog | None = audit_log_for(settings, data_dir, context)
        # raw text is masked with a salted hash: equal texts stay equal (distinct counts hold)
        self._mask_salt = (
            None
            if context is None or context.allows("raw_text", "read")
            else _mask_salt(settings, data_dir, tenant)
        )
        self.manifest = manifest
        self._manifest_stamp = _stamp(data_dir)
        self.settings = settings
        self.unavailable: dict[str, str] = {}
        self._limits = QueryLimits.from_settings(settings)
        self._lock = threading.Lock()
        self._frames: dict[str, str | None] = {}  # registered frame -> content digest
        self._views: dict[str, str] = {}  # temporary view -> its SQL
        self._cache = (
            ResultCache.for_settings(settings, data_dir) if settings.cache_enabled else None
        )
        self._local = threading.local()  # per thread: cache bypass depth, read recorders
        self._con = duckdb.connect(
            config={
                "threads": settings.duckdb_threads,
                "memory_limit": settings.duckdb_memory_limit,
            }
        )
        self._con.execute("SET TimeZone = 'UTC'")
        # results travel as Arrow (cache, pages): keep UUIDs as UUIDs, not their text
        self._con.execute("SET arrow_lossless_conversion = true")
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
        if context is not None:
            self._lock_down()

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        data_dir: str | Path | None = None,
        *,
        tenant: str,
        settings: Settings | None = None,
        strict: bool = True,
        context: SecurityContext | None = None,
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
        context
            Who is asking (see the module docs): bound to ``tenant``, with ``analytics:read``.
            Default: :func:`~auterity_lab.security.current_context` (set per CLI invocation and
            per visitor of the served dashboard); None there too: no access control (a personal
            session).

        Raises
        ------
        AccessDeniedError
            ``context`` is bound to another tenant or lacks ``analytics:read`` (checked before
            anything about the data is revealed; the denial is audited).
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
        if settings is not None and not isinstance(settings, Settings):
            raise ConfigError(f"settings must be a Settings, not {type(settings).__name__}")
        if data_dir is not None and not isinstance(data_dir, str | os.PathLike):
            raise DataNotFoundError(f"{data_dir!r} is not a data directory path")
        settings = settings or load_settings()
        path = Path(data_dir) if data_dir is not None else settings.data_dir
        context = context if context is not None else current_context()
        if context is not None:
            _check_access(context, tenant, audit_log_for(settings, path, context))
        if not isinstance(tenant, str) or not _TENANT.fullmatch(tenant):
            raise UnknownTenantError(f"{tenant!r} is not a valid tenant id")
        manifest = read_manifest(path)
        for _ in range(2):  # an extract may publish (and delete old files) as we open
            try:
                return cls._open_manifest(path, tenant, manifest, settings, strict, context)
            except (ManifestError, DataNotFoundError):
                fresh = read_manifest(path)
                if fresh.fingerprint() == manifest.fingerprint():
                    raise
                manifest = fresh
        return cls._open_manifest(path, tenant, manifest, settings, strict, context)

    @classmethod
    def _open_manifest(
        cls,
        path: Path,
        tenant: str,
        manifest: Manifest,
        settings: Settings,
        strict: bool,
        context: SecurityContext | None,
    ) -> Workbench:
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
        return cls(path, tenant, manifest, settings, strict=strict, context=context)

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
        if self.context is None:
            return (
                f"CREATE OR REPLACE VIEW {tbl.name} AS SELECT * FROM ({body}) "
                "WHERE tenant_id = getvariable('tenant')"
            )
        # a context's views hold the tenant as a literal (validated by _TENANT: no quote can
        # occur), so no statement can re-point them; raw text is masked unless allowed
        columns = "*"
        masked = RAW_TEXT_COLUMNS.get(tbl.name, ()) if self._mask_salt else ()
        if masked:
            columns = (
                "* REPLACE ("
                + ", ".join(
                    f"CASE WHEN {c} IS NULL THEN NULL ELSE '[redacted ' || "
                    f"left(sha256('{self._mask_salt}' || {c}), 12) || ']' END AS {c}"
                    for c in masked
                )
                + ")"
            )
        return (
            f"CREATE OR REPLACE VIEW {tbl.name} AS SELECT {columns} FROM ({body}) "
            f"WHERE tenant_id = '{self.tenant}'"
        )

    def current_manifest(self) -> Manifest:
        """The manifest, re-read (and the views re-pointed) if an extract published since the
        last query: a long-lived workbench (a dashboard) sees new data, and cache keys name it.
        """
        if _stamp(self.data_dir) != self._manifest_stamp:
            with self._connection("re-reading the manifest"):
                self._refresh()
        return self.manifest

    def _refresh(self) -> bool:
        """Re-read the manifest; when a publish moved it on, point the views at the new files."""
        self._manifest_stamp = _stamp(self.data_dir)
        fresh = read_manifest(self.data_dir)
        if fresh.fingerprint() == self.manifest.fingerprint():
            return False
        self.manifest = fresh
        for tbl in source_tables():
            if tbl.qualified_name not in self.unavailable:
                self._con.execute(self._view_sql(tbl, fresh.tables.get(tbl.qualified_name)))
        return True

    def _lock_down(self) -> None:
        """No file but the extracts, no extensions, no replacement scans, settings frozen."""
        # whole folders, not a file list: a refreshed manifest's new files (and rebuilt
        # rollups, which filter by the tenant variable) must stay readable once locked
        folders = [str(self.data_dir / name) + "/" for name in ("extracts", "rollups")]
        self._con.execute("SET allowed_directories = $dirs", {"dirs": folders})
        for statement in (
            "SET enable_external_access = false",
            "SET python_enable_replacements = false",
            "SET autoload_known_extensions = false",
            "SET autoinstall_known_extensions = false",
            "SET lock_configuration = true",
        ):
            self._con.execute(statement)

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
    def sql(
        self,
        text: str,
        /,
        *,
        frame: Frame = "pandas",
        limit: int | None = None,
        offset: int | None = None,
        cache: bool = True,
        **params: Any,
    ) -> pd.DataFrame:
        """Run SQL against the tenant's views with named parameters bound by DuckDB.

        Every ``$name`` in ``text`` must have a keyword argument and vice versa. ``limit`` and
        ``offset`` return one page (see :meth:`query`); ``cache=False`` skips the result cache.

        Examples
        --------
        >>> wb.sql("SELECT count(*) AS n FROM users WHERE country = $c", c="DE")  # doctest: +SKIP
        """
        if self.context is not None:
            self._check_ad_hoc(self.context, text)
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
        result = self._run(
            text,
            bound,
            frame,
            label="SQL",
            name="sql",
            kind=_SQL_KIND,
            limit=limit,
            offset=offset,
            use_cache=cache,
        )
        if self.context is not None:
            reads_text = self.context.allows("raw_text", "read") and _RAW_TEXT.search(text)
            self._log("raw_text.read" if reads_text else "sql.execute", text, len(result))
        return result

    def library_sql(self, text: str, /, **params: Any) -> pd.DataFrame:
        """Run SQL written by this package's own analytics, not by a user.

        The same as :meth:`sql` without a context's ad-hoc checks (``sql:execute``, one SELECT
        over known relations), which a viewer's dashboard must not trip over; the views still
        hold only the tenant's rows and masked text. Never pass text a user typed.
        """
        used, given = placeholders(text), set(params)
        if used != given:
            raise QueryParameterError(
                f"SQL parameters do not match: needs {sorted(used)}, given {sorted(given)}"
            )
        bound = {k: _bind_value(k, v) for k, v in params.items()}
        return self._run(
            text,
            bound,
            "pandas",
            label="SQL",
            name="sql",
            kind=_SQL_KIND,
            limit=None,
            offset=None,
            use_cache=True,
        )

    def has_relation(self, name: str) -> bool:
        """Whether ``name`` is a view or frame of this workbench (source, registered, created)."""
        return name in self._relations()

    def _relations(self) -> set[str]:
        return {t.name for t in source_tables()} | set(self._frames) | set(self._views)

    def _check_ad_hoc(self, context: SecurityContext, text: str) -> None:
        try:
            authorize(context, "sql", "execute")
            authorize(context, "rows", "read")  # a SELECT can return any row
            check_read_only_sql(text, self._relations(), con=_converter())
        except AccessDeniedError as exc:
            self._log("sql.execute", text, None, outcome="denied", detail=str(exc))
            raise

    def _log(
        self,
        action: str,
        target: str,
        rows: int | None,
        *,
        outcome: str = "ok",
        detail: str | None = None,
    ) -> None:
        if self._audit is not None:
            self._audit.record(
                action,
                context=self.context,
                tenant=self.tenant,
                target=target,
                rows=rows,
                outcome=outcome,
                detail=detail,
            )

    def query(
        self,
        name: str,
        /,
        *,
        frame: Frame = "pandas",
        limit: int | None = None,
        offset: int | None = None,
        cache: bool = True,
        **params: Any,
    ) -> pd.DataFrame:
        """Run ``queries/<name>.sql`` with its declared parameters.

        Parameters
        ----------
        name
            The query file's name.
        frame
            ``"pandas"`` or ``"polars"``.
        limit, offset
            Return ``limit`` rows (at most ``settings.max_page_size``) after skipping
            ``offset``, in a stable order: the query's ORDER BY, then every column. Pages
            concatenated equal the whole result.
        cache
            False: run the query even if a cached result exists (and do not store it).
        **params
            The query's parameters.

        Raises
        ------
        QueryNotFoundError, QueryParameterError, QueryError
        QueryTimeoutError
            The query ran longer than ``settings.query_timeout_seconds`` and was interrupted.
        ResourceLimitError
            DuckDB ran out of memory, no query slot freed up in time, or the page is too big.

        Examples
        --------
        >>> wb.query("ml_model_performance", start="2026-10-01", end="2026-11-01",
        ...          limit=50, offset=100)                                  # doctest: +SKIP
        """
        q = load_query(name)
        if self.context is not None:
            self._check_query(self.context, name)
        result = self._run(
            q.sql,
            q.bind(params),
            frame,
            label=f"query {name!r}",
            name=name,
            kind=kind_of_query(name),
            limit=limit,
            offset=offset,
            use_cache=cache,
        )
        if self.context is not None and name in TEXT_QUERIES and self._mask_salt is None:
            self._log("raw_text.read", f"query {name}", len(result))
        return result

    def _check_query(self, context: SecurityContext, name: str) -> None:
        needed = [("rows", "read")] if name in ROW_LEVEL_QUERIES else []
        needed += [("raw_text", "read")] if name in RAW_TEXT_QUERIES else []
        try:
            for resource, action in needed:
                authorize(context, resource, action)
        except AccessDeniedError as exc:
            self._log("query", f"query {name}", None, outcome="denied", detail=str(exc))
            raise

    def _run(
        self,
        sql: str,
        params: dict[str, Any],
        frame: Frame,
        *,
        label: str,
        name: str,
        kind: str,
        limit: int | None,
        offset: int | None,
        use_cache: bool,
    ) -> pd.DataFrame | pl.DataFrame:
        if frame not in ("pandas", "polars"):
            raise QueryParameterError(f"frame must be 'pandas' or 'polars', not {frame!r}")
        check_page(limit, offset, self.settings.max_page_size)
        page = {} if limit is None else {PAGE_LIMIT_PARAM: limit, PAGE_OFFSET_PARAM: offset or 0}
        self.current_manifest()
        tables, tokens = self._resolve_reads(sql)
        self._record(tables if tokens is not None else {"*"})
        # a table this workbench found broken raises when read: never answer it from the cache
        cache = self.cache if use_cache and not tables & self.unavailable.keys() else None
        key = None
        if cache is not None and tokens is not None:
            try:
                key = digest(
                    "query",
                    name,
                    digest(sql),
                    canonical_params(params | page),
                    self.tenant,
                    tables_fingerprint(self.manifest, sorted(tables)),
                    canonical_params(tokens),
                    self.text_variant(tables),
                )
            except TypeError:  # a parameter value with no canonical form
                key = None
            hit = cache.get(key, self.tenant) if key is not None else None
            if hit is not None:
                return _to_frame(hit, frame)
        with self._connection(label):
            paged, bound = (
                (page_sql(self._con, sql, params), params | page) if page else (sql, params)
            )
            try:
                table = run_limited(
                    self._con, paged, bound, self._limits, label=label, tenant=self.tenant
                )
            except QueryError as exc:
                # an extract published and deleted the files this workbench's views name
                vanished = any(m in str(exc) for m in ("No files found", "No such file"))
                if not vanished or not self._refresh():
                    raise
                table = None
        if table is None:  # the views now show the new complete state: run it again
            return self._run(
                sql,
                params,
                frame,
                label=label,
                name=name,
                kind=kind,
                limit=limit,
                offset=offset,
                use_cache=use_cache,
            )
        if cache is not None and key is not None:
            table = cache.put(key, self.tenant, name, table, ttl=cache.ttl(kind))
        elif cache is not None:
            cache.note_uncacheable()
        return _to_frame(table, frame)

    # ------------------------------------------------------------------ cache support
    def text_variant(self, tables: Iterable[str] | None = None) -> str:
        """What the views show beyond the tenant: raw or masked text (part of every cache key).

        With ``tables`` (the qualified source tables a result reads), ``"raw"`` when none of
        them has text that is masked (:data:`~auterity_lab.security.RAW_TEXT_COLUMNS`): the
        other views are the same for every variant, so such results are shared by everyone.

        Examples
        --------
        >>> wb.text_variant()                                                   # doctest: +SKIP
        'masked:3f0c...'
        >>> wb.text_variant(["auterity.user_sessions"])                         # doctest: +SKIP
        'raw'
        """
        if self._mask_salt is None:
            return "raw"
        if tables is not None and not any(t.split(".")[-1] in RAW_TEXT_COLUMNS for t in tables):
            return "raw"
        return f"masked:{digest(self._mask_salt)}"

    @property
    def cache(self) -> ResultCache | None:
        if getattr(self._local, "bypass", 0):
            return None
        return self._cache

    @contextlib.contextmanager
    def no_cache(self) -> Iterator[None]:
        """Within the block, this thread's queries and cached functions skip the cache.

        Examples
        --------
        >>> with wb.no_cache():                                               # doctest: +SKIP
        ...     fresh = wb.query("daily_user_analytics", start="2026-10-01", end="2026-11-01")
        """
        self._local.bypass = getattr(self._local, "bypass", 0) + 1
        try:
            yield
        finally:
            self._local.bypass -= 1

    @contextlib.contextmanager
    def record_reads(self) -> Iterator[set[str]]:
        """Collect the qualified source tables the calling thread's queries read in the block.

        ``"*"`` in the set means a query read something the cache cannot track (a file, the
        catalog, a volatile function). Used by :func:`auterity_lab.cache.cached`.
        """
        stack = self._local.__dict__.setdefault("recorders", [])
        reads: set[str] = set()
        stack.append(reads)
        try:
            yield reads
        finally:
            # by identity: a nested call's set may equal this one's by value
            del stack[next(i for i in range(len(stack) - 1, -1, -1) if stack[i] is reads)]

    def relation_state(self) -> dict[str, str]:
        """Registered frames (by content digest) and temporary views (by SQL digest)."""
        state = {n: f"frame:{h}" for n, h in self._frames.items()}
        return state | {n: f"view:{digest(sql)}" for n, sql in self._views.items()}

    def note_reads(self, tables: Iterable[str]) -> None:
        """Count ``tables`` as read in the calling thread's :meth:`record_reads` blocks: what a
        cached function answered from the cache would have read (so an enclosing cached
        function's key and text variant account for them)."""
        self._record(set(tables))

    def _record(self, tables: set[str]) -> None:
        for reads in getattr(self._local, "recorders", ()):
            reads.update(tables)

    def _resolve_reads(
        self, sql: str, _seen: frozenset[str] = frozenset()
    ) -> tuple[set[str], dict[str, str] | None]:
        """Qualified source tables ``sql`` reads and tokens of the frames/views it reads.

        Tokens are None when the result cannot be cached (see :class:`~auterity_lab.cache.Reads`).
        """
        reads: Reads = statement_reads(sql)
        if not reads.cacheable:
            return set(), None
        tables: set[str] = set()
        tokens: dict[str, str] = {}
        for rel in sorted(reads.relations):
            if rel in self._views and rel not in _seen:
                inner_tables, inner = self._resolve_reads(self._views[rel], _seen | {rel})
                if inner is None:
                    return tables | inner_tables, None
                tables |= inner_tables
                tokens |= inner | {rel: f"view:{digest(self._views[rel])}"}
            elif rel in self._frames:
                if self._frames[rel] is None:
                    return tables, None
                tokens[rel] = f"frame:{self._frames[rel]}"
            elif rel in _QUALIFIED:
                tables.add(_QUALIFIED[rel])
            else:  # not a relation the workbench knows: the catalog, or an error to come
                return tables, None
        return tables, tokens

    @contextlib.contextmanager
    def _connection(self, what: str) -> Iterator[None]:
        timeout = self.settings.query_timeout_seconds
        if not self._lock.acquire(timeout=-1 if timeout is None else timeout):
            raise ResourceLimitError(
                f"{what} for tenant {self.tenant!r}: the workbench stayed busy with another "
                f"thread's query for {timeout:g} s (query_timeout_seconds); open one workbench "
                "per thread to run queries side by side"
            )
        try:
            yield
        finally:
            self._lock.release()

    # ------------------------------------------------------------------ derived relations
    def register(self, name: str, frame: pd.DataFrame | pl.DataFrame) -> None:
        """Make a small in-memory frame (a price table, a target list) queryable as ``name``.

        Examples
        --------
        >>> wb.register("model_prices", prices)            # doctest: +SKIP
        >>> wb.sql("SELECT * FROM model_prices")           # doctest: +SKIP
        """
        self._check_free_name(name)
        try:
            content: str | None = frame_digest(frame)
        except TypeError:
            content = None  # queries reading it are not cached
        with self._connection(f"registering {name!r}"):
            self._con.register(name, frame)
            self._views.pop(name, None)
            self._frames[name] = content

    def create_view(self, name: str, select_sql: str) -> None:
        """Define (or replace) a view over the tenant's views and registered frames.

        The SQL may not take parameters: a view must mean the same thing whenever it is read.
        """
        self._check_free_name(name)
        if placeholders(select_sql):
            raise QueryParameterError(f"view {name!r} cannot take parameters")
        with self._connection(f"creating view {name!r}"):
            try:
                self._con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {select_sql}")
            except duckdb.Error as exc:
                raise QueryError(f"view {name!r} could not be created: {exc}") from exc
            self._frames.pop(name, None)
            self._views[name] = select_sql

    def _check_free_name(self, name: str) -> None:
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", name):
            raise QueryParameterError(
                f"{name!r} is not a valid relation name (lowercase, digits, _)"
            )
        if name in {t.name for t in source_tables()}:
            raise QueryParameterError(f"{name!r} is a source table and cannot be replaced")

    # ------------------------------------------------------------------ housekeeping
    def fingerprint(self, tables: list[str] | None = None) -> str:
        """Manifest fingerprint of the given qualified tables (all by default)."""
        return self.manifest.fingerprint(tables)

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def __enter__(self) -> Workbench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        who = "" if self.context is None else f", user={self.context.user_id!r}"
        return f"Workbench(data_dir={str(self.data_dir)!r}, tenant={self.tenant!r}{who})"


_RAW_TEXT = re.compile(
    r"\b(" + "|".join(sorted({c for cols in RAW_TEXT_COLUMNS.values() for c in cols})) + r")\b",
    re.IGNORECASE,
)


def _check_access(context: SecurityContext, tenant: str, log: AuditLog | None) -> None:
    """The context's tenant and ``analytics:read``; a denial is audited."""
    try:
        if not isinstance(tenant, str) or not _TENANT.fullmatch(tenant):
            raise UnknownTenantError(f"{tenant!r} is not a valid tenant id")
        require_tenant(context, tenant)
        authorize(context, "analytics", "read")
    except AccessDeniedError as exc:
        if log is not None:
            log.record("workbench.open", context=context, tenant=tenant, outcome="denied",
                       detail=str(exc))  # fmt: skip
        raise


_PROCESS_SECRET = secrets.token_hex(32).encode()


def _mask_salt(settings: Settings, data_dir: Path, tenant: str) -> str:
    """Hex salt of the text mask, stable per tenant (so masked results can share the cache).

    Derived from the HMAC key when one is set, else from a random secret kept beside the
    data (``DATA_DIR/.mask_secret``, created once, readable by its owner only).
    """
    if settings.hmac_key is not None:
        key = settings.hmac_key.get_secret_value().encode()
    else:
        path = data_dir / ".mask_secret"
        try:
            if not path.exists():  # written whole, then linked: never read half-written
                tmp = data_dir / f".mask_secret.{secrets.token_hex(8)}.tmp"
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w", encoding="ascii") as fh:
                    fh.write(secrets.token_hex(32))
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    pass  # another process was first; its secret wins
                finally:
                    tmp.unlink()
            key = path.read_bytes().strip()
        except OSError:  # a read-only data directory: a secret for this process only
            key = _PROCESS_SECRET
    return hashlib.sha256(key + b"|raw-text-mask|" + tenant.encode()).hexdigest()[:32]


def _bind_value(name: str, value: Any) -> Any:
    # naive datetimes are UTC, as everywhere in the package
    return coerce(value, "TIMESTAMPTZ", name) if isinstance(value, dt.datetime) else value


def _converter() -> duckdb.DuckDBPyConnection:
    """This thread's DuckDB connection for converting Arrow to pandas."""
    con = getattr(_local, "con", None)
    if con is None:
        con = _local.con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
    return con


def _to_frame(table: pa.Table, frame: Frame) -> pd.DataFrame | pl.DataFrame:
    if frame == "polars":
        return _converter().from_arrow(table).pl()
    with warnings.catch_warnings():
        # DuckDB 1.5.5's pandas conversion calls DataFrame.drop(inplace=True) for tz-aware
        # columns, which pandas 3.1 deprecates; the result is unaffected.
        warnings.filterwarnings("ignore", message="The inplace keyword in DataFrame.drop")
        return _converter().from_arrow(table).df()


def _stamp(data_dir: Path) -> tuple[int, int, int] | None:
    """What changes when the manifest is replaced (written to a new file, then renamed)."""
    try:
        st = manifest_path(data_dir).stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size
