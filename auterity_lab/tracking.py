"""Tracking writers: the spec's ``trackEvent``, ``trackPerformanceMetric``, ``trackPromptOutput``
and ``submitFeedback``, writing into the source databases.

Each writer takes one record (a mapping or its model) and returns the new id, or a list of
records and returns their ids in order. Every record is validated first (types, id and model-id
formats, ranges such as a rating of 1 to 5, the tenant); if any is invalid,
:class:`InvalidRecordError` names each problem and nothing is written. Valid batches go in one
transaction with ``COPY ... FROM STDIN``.

Examples
--------
>>> new_id = track_event({"tenant_id": "acme", "event_type": "signup"})      # doctest: +SKIP
>>> submit_feedback([{"tenant_id": "acme", "prompt_output_id": pid, "rating": 5}])  # doctest: +SKIP
[UUID('6f1c...')]
>>> submit_feedback({"tenant_id": "acme", "prompt_output_id": str(uuid.uuid4()), "rating": 7})
... # doctest: +ELLIPSIS
Traceback (most recent call last):
...
auterity_lab.tracking.InvalidRecordError: submitFeedback: nothing written; record 0: rating: ...
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar, overload

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from auterity_lab.config import Settings
from auterity_lab.errors import AuterityLabError, ConfigError
from auterity_lab.schema import Table, table
from auterity_lab.sources import SOURCE_SCHEMA, connect, describe_dsn, redact, resolve_dsn

if TYPE_CHECKING:
    import psycopg

_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_MODEL_ID = re.compile(r"[a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)?")
_INT32 = 2**31 - 1
_MAX_ERRORS = 10


class InvalidRecordError(ConfigError):
    """A tracking record failed validation; nothing was written."""


class TrackingError(AuterityLabError):
    """The database refused valid records; nothing was written."""


def _timestamp(value: Any) -> Any:
    if isinstance(value, dt.datetime | str):
        return value
    raise ValueError(f"expected a datetime or an ISO 8601 string, not {type(value).__name__}")


def _tenant(value: str) -> str:
    if not _TENANT.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a tenant id (1-64 letters, digits, '_', '.', '-', "
            "starting with a letter or digit)"
        )
    return value


def _model_id(value: str) -> str:
    if len(value) > 100 or not _MODEL_ID.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a model id: lowercase letters, digits, '.', '_', '-', at most 100 "
            "characters, with an optional provider/ prefix (gpt-4o, openai/gpt-4o-mini)"
        )
    return value


def _unstorable(value: Any) -> str | None:
    """Why Postgres text/jsonb cannot store ``value`` (a NUL, a lone surrogate), or None."""
    if isinstance(value, str):
        if "\x00" in value:
            return "a NUL character"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "a lone surrogate (not valid Unicode)"
        return None
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, list):
        return next((why for v in value if (why := _unstorable(v))), None)
    return None


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


Tenant = Annotated[StrictStr, AfterValidator(_tenant)]
Timestamp = Annotated[dt.datetime, BeforeValidator(_timestamp)]
Count = Annotated[StrictInt, Field(ge=0, le=_INT32)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    tenant_id: Tenant
    created_at: Timestamp = Field(default_factory=_now)

    @field_validator("created_at")
    @classmethod
    def _in_utc(cls, value: dt.datetime) -> dt.datetime:
        return _utc(value)

    @model_validator(mode="after")
    def _storable(self) -> _Record:
        # refused here rather than by Postgres half-way through a COPY
        for name, value in self:
            if why := _unstorable(value):
                raise ValueError(f"{name} contains {why}, which Postgres cannot store")
        return self


class TrackingEvent(_Record):
    """A business event (spec ``trackEvent``) → ``auterity.events``."""

    user_id: uuid.UUID | None = None
    session_id: Annotated[StrictStr, Field(max_length=255)] | None = None
    event_type: Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_.:-]{0,63}$")]
    properties: dict[str, Any] | None = None
    revenue: Annotated[Decimal, Field(max_digits=12, decimal_places=2)] | None = None

    @field_validator("properties")
    @classmethod
    def _json(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"properties must be JSON: {exc}") from None
        return value


class PerformanceMetric(_Record):
    """An API call's timing (spec ``trackPerformanceMetric``) → ``auterity.performance_metrics``."""

    service: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    endpoint: Annotated[StrictStr, Field(min_length=1, max_length=255)]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    response_time_ms: Count
    status_code: Annotated[StrictInt, Field(ge=100, le=599)]
    user_agent: StrictStr | None = None
    ip_address: StrictStr | None = None
    user_id: uuid.UUID | None = None
    error_message: StrictStr | None = None

    @field_validator("ip_address")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                return str(ipaddress.ip_address(value))
            except ValueError:
                raise ValueError(f"{value!r} is not an IPv4 or IPv6 address") from None
        return value


class PromptOutput(_Record):
    """One AI call (spec ``trackPromptOutput``) → ``neuroweaver.prompt_outputs``.

    ``prompt_hash`` defaults to the SHA-256 of ``prompt``; ``tokens_used`` to
    ``input_tokens + output_tokens``.
    """

    user_id: uuid.UUID | None = None
    prompt: StrictStr | None = None
    output: StrictStr | None = None
    prompt_hash: Annotated[StrictStr, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    model_id: Annotated[StrictStr, AfterValidator(_model_id)]
    model_version: Annotated[StrictStr, Field(max_length=50)] | None = None
    prompt_version: Annotated[StrictStr, Field(max_length=50)] | None = None
    tokens_used: Count | None = None
    input_tokens: Count | None = None
    output_tokens: Count | None = None
    response_time_ms: Count | None = None
    status: Literal["success", "error"] = "success"
    error: StrictStr | None = None
    user_rating: Annotated[Decimal, Field(ge=1, le=5, max_digits=3, decimal_places=2)] | None = None
    user_feedback: StrictStr | None = None

    @model_validator(mode="after")
    def _derived(self) -> PromptOutput:
        split = (self.input_tokens, self.output_tokens)
        if None not in split:
            total = sum(split)  # type: ignore[arg-type]
            if self.tokens_used is None:
                self.tokens_used = total
            elif self.tokens_used != total:
                raise ValueError(
                    f"tokens_used ({self.tokens_used}) is not "
                    f"input_tokens + output_tokens ({total})"
                )
        if self.prompt_hash is None and self.prompt is not None:
            self.prompt_hash = hashlib.sha256(self.prompt.encode()).hexdigest()
        return self


class Feedback(_Record):
    """A rating of an AI answer (spec ``submitFeedback``) → ``neuroweaver.feedback``."""

    prompt_output_id: uuid.UUID
    user_id: uuid.UUID | None = None
    rating: Annotated[StrictInt, Field(ge=1, le=5)]
    comment: Annotated[StrictStr, Field(max_length=10_000)] | None = None


R = TypeVar("R", bound=_Record)


@overload
def track_event(records: Mapping[str, Any] | TrackingEvent, /, **kw: Any) -> uuid.UUID: ...
@overload
def track_event(
    records: Sequence[Mapping[str, Any] | TrackingEvent], /, **kw: Any
) -> list[uuid.UUID]: ...
def track_event(records: Any, /, **kw: Any) -> uuid.UUID | list[uuid.UUID]:
    """Record business events (spec ``trackEvent``); return the new id(s).

    Keywords: ``conn`` (an open psycopg connection), else ``dsn``, else the Auterity DSN of
    ``settings``.

    Examples
    --------
    >>> track_event({"tenant_id": "acme", "event_type": "subscribe",
    ...              "revenue": "29.00"})  # doctest: +SKIP
    UUID('0b6f...')
    """
    return _write("trackEvent", TrackingEvent, table("events"), records, **kw)


@overload
def track_performance_metric(
    records: Mapping[str, Any] | PerformanceMetric, /, **kw: Any
) -> uuid.UUID: ...
@overload
def track_performance_metric(
    records: Sequence[Mapping[str, Any] | PerformanceMetric], /, **kw: Any
) -> list[uuid.UUID]: ...
def track_performance_metric(records: Any, /, **kw: Any) -> uuid.UUID | list[uuid.UUID]:
    """Record API call timings (spec ``trackPerformanceMetric``); return the new id(s).

    Examples
    --------
    >>> track_performance_metric({"tenant_id": "acme", "service": "api", "endpoint": "/v1/x",
    ...     "method": "GET", "response_time_ms": 42, "status_code": 200})  # doctest: +SKIP
    UUID('4e1d...')
    """
    return _write(
        "trackPerformanceMetric", PerformanceMetric, table("performance_metrics"), records, **kw
    )


@overload
def track_prompt_output(records: Mapping[str, Any] | PromptOutput, /, **kw: Any) -> uuid.UUID: ...
@overload
def track_prompt_output(
    records: Sequence[Mapping[str, Any] | PromptOutput], /, **kw: Any
) -> list[uuid.UUID]: ...
def track_prompt_output(records: Any, /, **kw: Any) -> uuid.UUID | list[uuid.UUID]:
    """Record AI calls (spec ``trackPromptOutput``); return the new id(s).

    Examples
    --------
    >>> track_prompt_output({"tenant_id": "acme", "model_id": "gpt-4o", "prompt": "Hi",
    ...     "input_tokens": 3, "output_tokens": 9, "response_time_ms": 420})  # doctest: +SKIP
    UUID('9a0c...')
    """
    return _write("trackPromptOutput", PromptOutput, table("prompt_outputs"), records, **kw)


@overload
def submit_feedback(records: Mapping[str, Any] | Feedback, /, **kw: Any) -> uuid.UUID: ...
@overload
def submit_feedback(
    records: Sequence[Mapping[str, Any] | Feedback], /, **kw: Any
) -> list[uuid.UUID]: ...
def submit_feedback(records: Any, /, **kw: Any) -> uuid.UUID | list[uuid.UUID]:
    """Record ratings of AI answers (spec ``submitFeedback``); return the new id(s).

    Examples
    --------
    >>> submit_feedback({"tenant_id": "acme", "prompt_output_id": pid,
    ...                  "rating": 4})  # doctest: +SKIP
    UUID('c3d2...')
    """
    return _write("submitFeedback", Feedback, table("feedback"), records, **kw)


def validate(name: str, model: type[R], records: Sequence[Any]) -> list[R]:
    """Validate every record; raise :class:`InvalidRecordError` listing all problems.

    Examples
    --------
    >>> validate("submitFeedback", Feedback, [{"tenant_id": "acme", "rating": 5}])
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auterity_lab.tracking.InvalidRecordError: submitFeedback: nothing written; record 0: ...
    """
    valid: list[R] = []
    problems: list[str] = []
    for i, record in enumerate(records):
        if isinstance(record, model):
            valid.append(record)
            continue
        if not isinstance(record, Mapping):
            problems.append(
                f"record {i}: expected a mapping or {model.__name__}, not {type(record).__name__}"
            )
            continue
        try:
            valid.append(model.model_validate(dict(record)))
        except ValidationError as exc:
            problems.extend(f"record {i}: {_describe(err)}" for err in exc.errors())
    if problems:
        more = f"; and {len(problems) - _MAX_ERRORS} more" if len(problems) > _MAX_ERRORS else ""
        raise InvalidRecordError(
            f"{name}: nothing written; " + "; ".join(problems[:_MAX_ERRORS]) + more
        )
    return valid


def _write(
    name: str,
    model: type[R],
    tbl: Table,
    records: Any,
    *,
    conn: psycopg.Connection | None = None,
    dsn: str | SecretStr | None = None,
    settings: Settings | None = None,
) -> uuid.UUID | list[uuid.UUID]:
    single = isinstance(records, Mapping | BaseModel)
    if not single and (isinstance(records, str | bytes) or not isinstance(records, Sequence)):
        raise InvalidRecordError(
            f"{name}: expected a record (mapping) or a list of records, "
            f"not {type(records).__name__}"
        )
    valid = validate(name, model, [records] if single else list(records))
    if valid:
        if conn is not None:
            _copy(conn, tbl, valid, name)
        else:
            raw = dsn if dsn is not None else resolve_dsn(tbl.system, settings)
            with connect(raw) as own:
                _copy(own, tbl, valid, name, dsn=raw)
    ids = [r.id for r in valid]
    return ids[0] if single else ids


def _copy(
    conn: psycopg.Connection,
    tbl: Table,
    records: Sequence[_Record],
    name: str,
    dsn: str | SecretStr | None = None,
) -> None:
    import psycopg
    from psycopg import sql
    from psycopg.types.json import Jsonb

    cols = [c.name for c in tbl.source_columns]
    jsonb = {c.name for c in tbl.source_columns if c.kind == "jsonb"}
    statement = sql.SQL("COPY {}.{} ({}) FROM STDIN").format(
        sql.Identifier(SOURCE_SCHEMA),
        sql.Identifier(tbl.name),
        sql.SQL(", ").join(map(sql.Identifier, cols)),
    )
    try:
        with conn.transaction(), conn.cursor() as cur, cur.copy(statement) as copy:
            for record in records:
                values = record.model_dump()
                copy.write_row(
                    [
                        Jsonb(values[c]) if c in jsonb and values[c] is not None else values[c]
                        for c in cols
                    ]
                )
    except psycopg.Error as exc:
        where = describe_dsn(dsn) if dsn is not None else "the given connection"
        message = redact(str(exc).strip(), [dsn] if dsn is not None else [])
        raise TrackingError(
            f"{name}: {where} refused the records, nothing written: {message}"
        ) from None


def _describe(err: Mapping[str, Any]) -> str:
    loc = ".".join(str(part) for part in err["loc"])
    value = err.get("input")
    # echo short scalar inputs only: a long text may itself be personal data
    short = isinstance(value, int | float | Decimal) or (
        isinstance(value, str) and len(value) <= 40
    )
    shown = f" (got {value!r})" if short and err["type"] not in ("missing", "value_error") else ""
    message = f"{err['msg'].removeprefix('Value error, ')}{shown}"
    return f"{loc}: {message}" if loc else message
