"""The package's errors: one root, specific children, each naming what is wrong.

Examples
--------
>>> from auterity_lab.errors import AuterityLabError, UnknownTenantError
>>> issubclass(UnknownTenantError, AuterityLabError)
True
"""

from __future__ import annotations


class AuterityLabError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(ValueError, AuterityLabError):
    """A setting, a config file or a parameter value is invalid."""


class DataNotFoundError(FileNotFoundError, AuterityLabError):
    """A data directory, manifest or extract file does not exist."""


class ManifestError(AuterityLabError):
    """The manifest is unreadable or disagrees with the files on disk."""


class SchemaError(AuterityLabError):
    """Data does not match the canonical data model (missing or retyped column)."""


class UnknownTenantError(LookupError, AuterityLabError):
    """The tenant is not present in the data directory."""


class QueryNotFoundError(LookupError, AuterityLabError):
    """No file ``queries/<name>.sql`` exists."""


class QueryParameterError(ValueError, AuterityLabError):
    """A query was called with missing, extra or ill-typed parameters."""


class QueryError(AuterityLabError):
    """DuckDB failed to run a query; the message names the query."""


class ExtractError(AuterityLabError):
    """Extracting a table from a source database failed."""


class ReportError(AuterityLabError):
    """A report could not be run or rendered."""


class UnifiedAnalyticsError(AuterityLabError):
    """No system's section of unified analytics could be computed; the message gives each reason."""


class ResourceLimitError(AuterityLabError):
    """A query hit a configured limit (memory, time, concurrent queries, page size)."""


class QueryTimeoutError(ResourceLimitError):
    """A query ran longer than the configured timeout and was interrupted."""


class AuthenticationError(AuterityLabError):
    """A token or API key is missing, malformed, unsigned, tampered, expired or unknown."""


class AccessDeniedError(PermissionError, AuterityLabError):
    """An authenticated identity lacks the permission or the tenant it asked for."""
