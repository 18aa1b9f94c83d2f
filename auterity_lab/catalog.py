"""The report catalog: which notebooks run as reports, with typed parameters, schedule and outputs.

The catalog is a YAML file (the packaged ``reports.yml``, or the file named by
``$AUTERITY_LAB_REPORT_CATALOG``). Each entry names a notebook and declares its parameters with
a type and default (checked and converted before any cell runs), a cron schedule (UTC), the
parameters a scheduled run fans out over (``grid``), its output formats, the alert channels told
about a failure, retries and a time budget. Every notebook directly under ``notebooks/`` that the
file does not list is a report too, with parameter types inferred from its ``parameters`` cell.

Examples
--------
>>> cat = load_catalog()
>>> spec = cat["daily_digest"]
>>> spec.schedule, spec.formats
('15 6 * * *', ('html', 'pdf', 'csv', 'json'))
>>> spec.bind({"tenant": "acme", "day": "2026-10-31"})["day"]
'2026-10-31'
>>> spec.bind({"tenant": "acme", "day": "yesterday"})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
auterity_lab.catalog.ReportParameterError: report 'daily_digest': parameter day: 'yesterday' is ...
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from auterity_lab.config import packaged_dir
from auterity_lab.errors import ConfigError, QueryParameterError, ReportError
from auterity_lab.queries import SUPPORTED_TYPES, coerce

CATALOG_ENV = "AUTERITY_LAB_REPORT_CATALOG"
"""Environment variable naming a catalog file that replaces the packaged one."""

FORMATS = ("html", "pdf", "csv", "json")
"""Output formats a report can have besides the executed notebook and ``run.json``."""

EVERY_TENANT = "*"
"""Grid value meaning every tenant of the data directory."""

Format = Literal["html", "pdf", "csv", "json"]
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class CatalogError(ConfigError):
    """The catalog file is missing, not YAML, or an entry is invalid."""


class UnknownReportError(LookupError, ReportError):
    """No report of that name is in the catalog."""


class ReportParameterError(QueryParameterError, ReportError):
    """A report parameter is unknown, missing or of the wrong type (raised before any cell runs)."""


# ----------------------------------------------------------------------------- the file's shape
class _Param(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = "VARCHAR"
    default: Any = None
    required: bool = False
    doc: str = ""
    choices: tuple[str, ...] | None = None

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in SUPPORTED_TYPES:
            raise ValueError(f"unknown type {value!r}; use one of {', '.join(SUPPORTED_TYPES)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> _Param:
        if self.required and self.default is not None:
            raise ValueError("a required parameter cannot have a default")
        if self.default is not None:
            coerce(self.default, self.type, "default")  # raises QueryParameterError if ill-typed
        return self


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    notebook: str
    title: str = ""
    description: str = ""
    parameters: dict[str, _Param] = Field(default_factory=dict)
    schedule: str | None = None
    grid: dict[str, str | list[str]] = Field(default_factory=dict)
    formats: list[Format] = Field(default_factory=lambda: ["html"])
    channels: list[str] = Field(default_factory=list)
    retries: int = Field(0, ge=0, le=10)
    retry_delay_s: float = Field(30.0, ge=0)
    timeout_s: int = Field(900, gt=0)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        from croniter import croniter

        if value is not None and not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a cron expression (minute hour day month weekday)")
        return value

    @model_validator(mode="after")
    def _grid_params(self) -> _Entry:
        for key, values in self.grid.items():
            if key not in self.parameters:
                raise ValueError(f"grid parameter {key!r} is not a declared parameter")
            if values == EVERY_TENANT and key != "tenant":
                raise ValueError(
                    f"grid {key}: {EVERY_TENANT!r} (every tenant) only applies to tenant"
                )
            if isinstance(values, str) and values != EVERY_TENANT:
                raise ValueError(f"grid {key}: give a list of values or {EVERY_TENANT!r}")
        for name in self.parameters:
            if not _NAME.fullmatch(name):
                raise ValueError(f"parameter name {name!r} is not a Python identifier in lowercase")
        return self


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reports: dict[str, _Entry] = Field(default_factory=dict)


# ----------------------------------------------------------------------------- the public API
@dataclass(frozen=True)
class ParamSpec:
    """One typed report parameter.

    ``default`` None means no default: the notebook receives None unless the parameter is given
    (``required`` parameters must be given). ``inherited`` marks a parameter of a notebook not in
    the catalog whose default is an expression: it is passed only when given.
    """

    name: str
    type: str
    default: Any = None
    required: bool = False
    doc: str = ""
    choices: tuple[str, ...] | None = None
    inherited: bool = False

    def convert(self, value: Any, report: str) -> Any:
        """``value`` as the notebook receives it: checked, typed, dates as ISO text."""
        try:
            typed = coerce(value, self.type, self.name)
        except QueryParameterError as exc:
            raise ReportParameterError(f"report {report!r}: {exc}") from None
        if self.choices is not None and typed is not None and typed not in self.choices:
            raise ReportParameterError(
                f"report {report!r}: parameter {self.name}: {typed!r} is not one of "
                f"{', '.join(self.choices)}"
            )
        return _notebook_value(typed)


@dataclass(frozen=True)
class ReportSpec:
    """A catalog entry: the notebook, its typed parameters and how the report is run."""

    name: str
    notebook: Path
    title: str
    description: str = ""
    parameters: Mapping[str, ParamSpec] = field(default_factory=dict)
    schedule: str | None = None
    grid: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    formats: tuple[str, ...] = ("html",)
    channels: tuple[str, ...] = ()
    retries: int = 0
    retry_delay_s: float = 30.0
    timeout_s: int = 900
    source: Literal["catalog", "notebook"] = "catalog"

    def bind(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Check ``values`` against the declared parameters; fill defaults; convert types.

        Returns
        -------
        dict
            Every declared parameter (but inherited ones not given) with its notebook value:
            dates and timestamps as ISO text, lists of text, numbers, booleans, or None.

        Raises
        ------
        ReportParameterError
            An unknown parameter, a missing required one, or a value of the wrong type.

        Examples
        --------
        >>> load_catalog()["daily_digest"].bind({"tenant": "acme", "colour": "red"})
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        auterity_lab.catalog.ReportParameterError: report 'daily_digest' has no parameter colour...
        """
        unknown = sorted(set(values) - set(self.parameters))
        if unknown:
            raise ReportParameterError(
                f"report {self.name!r} has no parameter {', '.join(unknown)}; "
                f"it takes: {', '.join(self.parameters) or 'none'}"
            )
        missing = [
            p.name for p in self.parameters.values() if p.required and values.get(p.name) is None
        ]
        if missing:
            raise ReportParameterError(f"report {self.name!r} needs parameter {', '.join(missing)}")
        bound: dict[str, Any] = {}
        for p in self.parameters.values():
            if p.name in values:
                bound[p.name] = p.convert(values[p.name], self.name)
            elif not p.inherited:
                bound[p.name] = p.convert(p.default, self.name)
        return bound

    def describe(self) -> dict[str, Any]:
        """The entry as plain data (for ``report list`` and ``run.json``)."""
        return {
            "name": self.name,
            "title": self.title,
            "notebook": str(self.notebook),
            "parameters": {
                p.name: {
                    "type": p.type,
                    "default": _notebook_value(p.default),
                    "required": p.required,
                    "doc": p.doc,
                }
                for p in self.parameters.values()
            },
            "schedule": self.schedule,
            "grid": {k: list(v) if isinstance(v, tuple) else v for k, v in self.grid.items()},
            "formats": list(self.formats),
            "channels": list(self.channels),
            "retries": self.retries,
            "retry_delay_s": self.retry_delay_s,
            "timeout_s": self.timeout_s,
            "source": self.source,
        }


@dataclass(frozen=True)
class Catalog:
    """The reports by name; ``path`` is the catalog file they came from."""

    reports: Mapping[str, ReportSpec]
    path: Path

    def __getitem__(self, name: str) -> ReportSpec:
        try:
            return self.reports[name]
        except (KeyError, TypeError):
            raise UnknownReportError(
                f"no report named {name!r}; available: {', '.join(self.reports)}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self.reports

    def __iter__(self) -> Iterator[ReportSpec]:
        return iter(self.reports.values())

    def __len__(self) -> int:
        return len(self.reports)

    def scheduled(self) -> list[ReportSpec]:
        """The reports that have a schedule."""
        return [r for r in self if r.schedule]


def catalog_path() -> Path:
    """The catalog file in use: ``$AUTERITY_LAB_REPORT_CATALOG`` or the packaged ``reports.yml``."""
    env = os.environ.get(CATALOG_ENV)
    return Path(env) if env else Path(__file__).with_name("reports.yml")


def notebooks_root() -> Path:
    """Folder of the shipped notebooks."""
    return packaged_dir("notebooks")


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Read the catalog, adding a report for every shipped notebook it does not list.

    Parameters
    ----------
    path
        A catalog YAML file; defaults to :func:`catalog_path`. A ``notebook`` ending in
        ``.ipynb`` is a path relative to that file; otherwise it names a shipped notebook
        (``reports/daily_digest`` is ``notebooks/reports/daily_digest.ipynb``).

    Raises
    ------
    CatalogError
        The file is missing or not YAML, an entry is invalid (unknown key, bad cron, ill-typed
        default), or a notebook it names does not exist.

    Examples
    --------
    >>> cat = load_catalog()
    >>> overview = cat["overview"]
    >>> cat["weekly_review"].source, overview.source, overview.parameters["start"].type
    ('catalog', 'notebook', 'DATE')
    """
    file = Path(path) if path is not None else catalog_path()
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise CatalogError(f"report catalog {file} does not exist") from None
    except yaml.YAMLError as exc:
        raise CatalogError(f"report catalog {file} is not valid YAML: {exc}") from None
    try:
        parsed = _File.model_validate(raw)
    except ValidationError as exc:
        raise CatalogError(f"report catalog {file}: {_first_errors(exc)}") from None
    except QueryParameterError as exc:
        raise CatalogError(f"report catalog {file}: {exc}") from None
    reports: dict[str, ReportSpec] = {}
    for name, entry in parsed.reports.items():
        if not _NAME.fullmatch(name):
            raise CatalogError(
                f"report catalog {file}: {name!r} is not a report name (a-z, 0-9, _)"
            )
        reports[name] = _spec(name, entry, file)
    listed = {spec.notebook.resolve() for spec in reports.values()}
    for nb in sorted(notebooks_root().glob("*.ipynb")):
        if nb.stem not in reports and nb.resolve() not in listed:
            reports[nb.stem] = _notebook_spec(nb)
    return Catalog(dict(sorted(reports.items())), file)


def notebook_parameters(path: Path) -> dict[str, dict[str, Any]]:
    """The parameters of a notebook's ``parameters`` cell (name → papermill's description)."""
    import papermill

    return dict(papermill.inspect_notebook(str(path)))


def _spec(name: str, entry: _Entry, file: Path) -> ReportSpec:
    if entry.notebook.endswith(".ipynb"):
        notebook = (file.parent / entry.notebook).resolve()
    else:
        notebook = notebooks_root() / f"{entry.notebook}.ipynb"
    if not notebook.is_file():
        raise CatalogError(f"report {name!r}: notebook {notebook} does not exist")
    params = {
        pname: ParamSpec(pname, p.type, p.default, p.required, p.doc, p.choices)
        for pname, p in entry.parameters.items()
    }
    grid = {k: v if isinstance(v, str) else tuple(v) for k, v in entry.grid.items()}
    return ReportSpec(
        name=name,
        notebook=notebook,
        title=entry.title or _title(notebook, name),
        description=entry.description,
        parameters=params,
        schedule=entry.schedule,
        grid=grid,
        formats=tuple(dict.fromkeys(entry.formats)),
        channels=tuple(entry.channels),
        retries=entry.retries,
        retry_delay_s=entry.retry_delay_s,
        timeout_s=entry.timeout_s,
    )


def _notebook_spec(path: Path) -> ReportSpec:
    params = {name: _inferred(name, info) for name, info in notebook_parameters(path).items()}
    return ReportSpec(
        name=path.stem,
        notebook=path,
        title=_title(path, path.stem),
        parameters=params,
        source="notebook",
    )


def _inferred(name: str, info: Mapping[str, Any]) -> ParamSpec:
    """A parameter's type from its literal default in the notebook (``"2026-08-03"`` is a DATE)."""
    doc = str(info.get("help") or "")
    try:
        value = ast.literal_eval(str(info.get("default")))
    except (ValueError, SyntaxError):
        return ParamSpec(name, "VARCHAR", None, doc=doc, inherited=True)
    if isinstance(value, bool):
        return ParamSpec(name, "BOOLEAN", value, doc=doc)
    if isinstance(value, int):
        return ParamSpec(name, "INTEGER", value, doc=doc)
    if isinstance(value, float):
        return ParamSpec(name, "DOUBLE", value, doc=doc)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return ParamSpec(name, "VARCHAR[]", list(value), doc=doc)
    if isinstance(value, str) and _ISO_DAY.fullmatch(value):
        return ParamSpec(name, "DATE", value, doc=doc)
    if isinstance(value, str) or value is None:
        return ParamSpec(name, "VARCHAR", value, doc=doc)
    return ParamSpec(name, "VARCHAR", None, doc=doc, inherited=True)


def _title(notebook: Path, fallback: str) -> str:
    """The notebook's first markdown heading."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return fallback
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", [])).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def _notebook_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def _first_errors(exc: ValidationError, limit: int = 5) -> str:
    parts = []
    for err in exc.errors()[:limit]:
        where = ".".join(str(p) for p in err["loc"])
        parts.append(f"{where}: {err['msg']}")
    more = f"; and {exc.error_count() - limit} more" if exc.error_count() > limit else ""
    return "; ".join(parts) + more
