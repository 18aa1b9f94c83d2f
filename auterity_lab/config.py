"""Settings: from ``AUTERITY_LAB_*`` environment variables and an optional YAML file.

Secrets (DSNs, keys) are :class:`pydantic.SecretStr`, so they never print.

Examples
--------
>>> s = Settings(data_dir="/tmp/demo")
>>> s.data_dir.name
'demo'
>>> "hunter2" in repr(Settings(auterity_dsn="postgresql://u:hunter2@h/db"))
False
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from auterity_lab.errors import ConfigError

CONFIG_FILE_ENV = "AUTERITY_LAB_CONFIG"
DEFAULT_DATA_DIR = Path("data")


class Settings(BaseSettings):
    """Everything configurable, with its default.

    Precedence: keyword arguments, then environment (``AUTERITY_LAB_<FIELD>``), then the YAML
    file named by ``AUTERITY_LAB_CONFIG``, then the defaults below.
    """

    model_config = SettingsConfigDict(env_prefix="AUTERITY_LAB_", extra="forbid")

    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Where extracts, manifest and state live.")
    auterity_dsn: SecretStr | None = Field(None, description="Postgres DSN of Auterity.")
    neuroweaver_dsn: SecretStr | None = Field(None, description="Postgres DSN of Neuroweaver.")
    relaycore_dsn: SecretStr | None = Field(None, description="Postgres DSN of RelayCore.")
    postgres_dsn: SecretStr | None = Field(
        None, description="One Postgres DSN for every system whose own DSN is not set."
    )
    hmac_key: SecretStr | None = Field(None, description="Key for hashing identifiers at extract.")
    privacy_policy: Path | None = Field(
        None, description="Privacy policy YAML applied at extract (default: the packaged one)."
    )
    extract_overlap_minutes: int = Field(
        60, ge=0, description="Incremental extracts re-read this much before the watermark."
    )
    duckdb_memory_limit: str = Field("2GB", description="DuckDB memory_limit per workbench.")
    duckdb_threads: int = Field(2, ge=1, le=256, description="DuckDB worker threads.")
    query_timeout_seconds: float | None = Field(
        120.0, gt=0, description="A query running longer is interrupted (None: no limit)."
    )
    max_concurrent_queries: int = Field(
        4, ge=1, le=256, description="Queries one process runs at once; more wait their turn."
    )
    max_page_size: int = Field(
        100_000, ge=1, description="Largest page of rows a row-level result returns at once."
    )
    cache_enabled: bool = Field(True, description="Cache query and analytics results.")
    cache_dir: Path | None = Field(
        None, description="On-disk result cache shared on one machine (default DATA_DIR/cache)."
    )
    cache_memory_entries: int = Field(
        256, ge=0, description="Results kept in the in-process memory layer."
    )
    cache_ttl_seconds: dict[str, float] = Field(
        default_factory=dict,
        description="Cache TTL per kind (user_analytics, system_metrics, ml_performance, "
        "correlations, insights, workflow); overrides the spec's defaults.",
    )
    precompute_dashboard: bool = Field(
        True,
        description="After `extract` and `demo`, compute every tenant's default dashboard view "
        "into the result cache.",
    )
    precompute_keep_days: float = Field(
        7.0, gt=0, description="Days precomputed dashboard results live if no extract changes them."
    )
    cache_redis_url: SecretStr | None = Field(
        None, description="Redis URL of an optional team-wide cache layer."
    )
    jwt_secret: SecretStr | None = Field(None, description="HS256 secret that signs tokens.")
    jwt_public_key: Path | None = Field(None, description="PEM public key for RS256 tokens.")
    jwt_issuer: str | None = Field(None, description="Issuer (iss) every token must carry.")
    api_keys_file: Path | None = Field(
        None, description="YAML of API keys: salted hashes with user, tenant and roles."
    )
    audit_log: Path | None = Field(
        None, description="Append-only audit log (default DATA_DIR/audit/audit.jsonl)."
    )
    rate_limit_per_minute: int = Field(
        100, ge=1, description="Requests one identity may make per minute to the served dashboard."
    )


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Read settings from the environment and an optional YAML file.

    Parameters
    ----------
    config_file
        A YAML mapping of setting names to values; defaults to ``$AUTERITY_LAB_CONFIG``.
    **overrides
        Values that win over both.

    Examples
    --------
    >>> load_settings(duckdb_threads=1).duckdb_threads
    1
    """
    path = config_file or os.environ.get(CONFIG_FILE_ENV)
    file_values: dict[str, Any] = {}
    if path:
        file_values = _read_yaml_mapping(Path(path))
    env_names = {
        name for name in Settings.model_fields if f"AUTERITY_LAB_{name.upper()}" in os.environ
    }
    merged = {k: v for k, v in file_values.items() if k not in env_names} | overrides
    try:
        return Settings(**merged)
    except ValidationError as exc:
        raise ConfigError(f"invalid settings{f' in {path}' if path else ''}: {exc}") from exc


def _read_yaml_mapping(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path} must hold a mapping, not {type(loaded).__name__}")
    return loaded


def packaged_dir(name: str) -> Path:
    """A folder shipped with the package (``queries``, ``notebooks``).

    An installed wheel holds it inside ``auterity_lab/``; a source checkout has it at the top of
    the repository.

    Examples
    --------
    >>> (packaged_dir("queries") / "daily_user_analytics.sql").is_file()
    True
    """
    packaged = resources.files("auterity_lab") / name
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / name
