"""Result cache: memory → disk → Redis, keyed so a new extract invalidates exactly what it changed.

A cached result is found under a key that hashes

* what ran: the query name and a hash of its SQL text (or the function's name and a hash of
  the package's source code),
* the canonical parameters (sorted, typed: ``2026-01-01`` as a date and as a string differ),
* the tenant,
* the fingerprint of exactly the tables the result reads (:func:`tables_fingerprint`:
  ``Manifest.fingerprint`` plus each table's ``written_at`` and run id), plus the content of any
  registered frame and the SQL of any temporary view it reads.

The tables a query reads come from DuckDB's own parse tree (:func:`statement_reads`), with
temporary views followed to what they read. A ``read_parquet`` of derived files (a rollup's
content-addressed day files, see :func:`register_derived_files`) counts as a read of the source
tables they were built from; any other file read makes a result uncacheable.

So writing a new extract of ``events`` changes the key of every result that reads ``events``
and of nothing else; old entries simply stop being asked for and expire. Each kind of result
has a time to live (spec §5): see :data:`DEFAULT_TTL_SECONDS`.

Layers, fastest first; a hit in a slower layer fills the faster ones (with the remaining TTL):

1. memory: an LRU of ``settings.cache_memory_entries`` entries in this process;
2. disk: ``settings.cache_dir`` (default ``DATA_DIR/cache``), one file per entry, written to a
   temporary name and renamed, so notebooks and reports on one machine share it safely;
3. Redis (optional, ``settings.cache_redis_url``): ``SET key value EX ttl`` (SETEX) under the
   prefix ``auterity_lab:cache:<tenant>:``, shared by a team.

An entry is a self-checking byte string: magic bytes, a SHA-256 of everything after it, a JSON
header (key, tenant, expiry, the value's structure), then the frames as Arrow IPC streams. No
pickle: a dataclass is rebuilt only from a module already imported, so a shared Redis cannot
inject code. A corrupt entry is logged, deleted and rebuilt; an entry whose header names another
key or tenant is refused; Redis being down is logged and the cache goes on with the other layers
(retrying Redis after 30 s). Results that cannot be tracked (``random()``, ``read_parquet``, the
catalog) or encoded, and results over :data:`MAX_ENTRY_BYTES`, are not cached.

Caching an analytics function: decorate it with :func:`cached`, naming the tables it reads::

    @cached("ml_performance", tables=["neuroweaver.prompt_outputs", "neuroweaver.feedback"])
    def model_performance(wb, /, *, start, end, model=None) -> pd.DataFrame: ...

The function must return a DataFrame (pandas or polars), a dataclass (or tuple, list, dict) of
frames and plain values (numbers, strings, dates, None), and must depend only on its
parameters, the workbench's data and relations registered on it; anything else is computed but
not cached. Results come back as a hit returns them, also on a miss (numpy scalars as Python
numbers, ``pd.Timestamp`` as ``datetime``), so a first and a second call never differ. Every
query it runs is checked against ``tables``: reading an undeclared table logs an error and the
result is not cached.

Examples
--------
>>> canonical_params({"end": dt.date(2026, 2, 1), "start": "2026-01-01", "models": ["b", "a"]})
'{"end":{"date":"2026-02-01"},"models":["b","a"],"start":"2026-01-01"}'
>>> kind_of_query("ml_model_performance"), DEFAULT_TTL_SECONDS["ml_performance"]
('ml_performance', 600)
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime as dt
import decimal
import functools
import hashlib
import inspect
import io
import json
import logging
import math
import os
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import pyarrow as pa

from auterity_lab.config import packaged_dir
from auterity_lab.errors import ConfigError
from auterity_lab.schema import source_tables

if TYPE_CHECKING:
    from auterity_lab.config import Settings
    from auterity_lab.manifest import Manifest

log = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS: dict[str, int] = {
    "user_analytics": 300,
    "system_metrics": 60,
    "ml_performance": 600,
    "correlations": 1800,
    "insights": 900,
    "workflow": 300,
}
"""Time to live per kind of result (spec §5; ``workflow`` is ours, the spec has no such tab)."""

# Query name prefix → kind; the longest matching prefix wins, "user_analytics" otherwise.
_QUERY_KINDS = {
    "business_": "user_analytics",
    "daily_user_": "user_analytics",
    "overview_": "user_analytics",
    "report_": "user_analytics",
    "ml_": "ml_performance",
    "hourly_ai_": "ml_performance",
    "metric_neuroweaver": "ml_performance",
    "workflow_": "workflow",
    "metric_relaycore": "workflow",
    "health_": "system_metrics",
    "metric_performance": "system_metrics",
    "metric_auterity": "user_analytics",
    "insights_": "insights",
}
REDIS_PREFIX = "auterity_lab:cache:"
MAX_ENTRY_BYTES = 64 * 2**20
"""Results larger than this (encoded) are not cached: row-level dumps belong in pages."""
MEMORY_LAYER_BYTES = 512 * 2**20
"""The memory layer evicts its least recently used entries beyond this many bytes."""
ENTRY_SUFFIX = ".entry"
_MAGIC = b"ALCACHE1"
_HEAD = len(_MAGIC) + 32  # magic, then the SHA-256 of everything after it
_FORMAT = 1
_REDIS_RETRY_SECONDS = 30.0
# table functions whose result depends only on their arguments
_PURE_TABLE_FUNCTIONS = {"range", "generate_series", "unnest"}
# table functions that read files: trackable only over a literal list of derived files
_FILE_TABLE_FUNCTIONS = {"read_parquet", "parquet_scan"}
_GLOB = frozenset("*?[{")
_VOLATILE_FUNCTIONS = {
    "random",
    "uuid",
    "gen_random_uuid",
    "uuidv4",
    "uuidv7",
    "setseed",
    "nextval",
}

T = TypeVar("T")
_parser = threading.local()  # per thread: a DuckDB connection that parses SQL
_derived: dict[str, frozenset[str]] = {}  # derived file path -> the relations it is built from
_equivalent_views: set[str] = set()  # views that answer as their sources do (rollups)
_derived_lock = threading.Lock()


def kind_of_query(name: str) -> str:
    """The TTL kind of ``queries/<name>.sql``.

    Examples
    --------
    >>> kind_of_query("health_relaycore"), kind_of_query("daily_user_analytics")
    ('system_metrics', 'user_analytics')
    """
    matches = [prefix for prefix in _QUERY_KINDS if name.startswith(prefix)]
    return _QUERY_KINDS[max(matches, key=len)] if matches else "user_analytics"


def ttl_seconds(kind: str, overrides: Mapping[str, float] | None = None) -> float:
    """Time to live of a kind: ``overrides`` first, then :data:`DEFAULT_TTL_SECONDS`.

    Raises
    ------
    ConfigError
        An unknown kind.

    Examples
    --------
    >>> ttl_seconds("insights"), ttl_seconds("insights", {"insights": 5})
    (900, 5)
    """
    if overrides and kind in overrides:
        return overrides[kind]
    if kind not in DEFAULT_TTL_SECONDS:
        raise ConfigError(
            f"unknown cache kind {kind!r}; known: {', '.join(sorted(DEFAULT_TTL_SECONDS))}"
        )
    return DEFAULT_TTL_SECONDS[kind]


# ---------------------------------------------------------------------------------- keys
def canonical_params(params: Mapping[str, Any]) -> str:
    """Parameters as canonical JSON: sorted names, values tagged by type.

    Raises
    ------
    TypeError
        A value that has no canonical form (the result is then not cached).
    """
    return json.dumps(
        {str(k): _canonical_value(v) for k, v in params.items()},
        sort_keys=True,
        separators=(",", ":"),
    )


def _canonical_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    if isinstance(value, decimal.Decimal | dt.timedelta | Path):
        return {type(value).__name__: str(value)}
    if isinstance(value, list | tuple):
        return [_canonical_value(v) for v in value]
    if isinstance(value, set | frozenset):
        return {"set": sorted(json.dumps(_canonical_value(v), sort_keys=True) for v in value)}
    if isinstance(value, Mapping):
        return {"map": {str(k): _canonical_value(v) for k, v in sorted(value.items())}}
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        return _canonical_value(value.item())  # numpy scalars
    if _is_frame(value):
        return {"frame": frame_digest(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            "dataclass": type(value).__qualname__,
            "fields": {
                f.name: _canonical_value(getattr(value, f.name)) for f in dataclasses.fields(value)
            },
        }
    raise TypeError(f"{type(value).__name__} has no canonical form for a cache key")


def digest(*parts: str) -> str:
    """SHA-256 (hex, 32 chars) of the parts, separated unambiguously.

    Examples
    --------
    >>> digest("a", "bc") != digest("ab", "c")
    True
    """
    h = hashlib.sha256()
    for part in parts:
        data = part.encode()
        h.update(struct.pack(">Q", len(data)) + data)
    return h.hexdigest()[:32]


def frame_digest(frame: Any) -> str:
    """Content hash of a pandas/polars frame or Arrow table (columns, types and values)."""
    return hashlib.sha256(_ipc_bytes(_to_arrow(frame))).hexdigest()[:32]


def tables_fingerprint(manifest: Manifest, tables: Sequence[str]) -> str:
    """Fingerprint of the current extracts of ``tables``: what a cached result depends on.

    ``Manifest.fingerprint`` (files, sizes, rows, schema) plus each table's ``written_at`` and
    ``run_id``, so a rewrite that happens to produce files of the same names and sizes (fixed
    run ids, as in test data) still changes it. A table missing from the manifest counts too.

    Examples
    --------
    >>> from auterity_lab.manifest import Manifest
    >>> tables_fingerprint(Manifest(), ["auterity.users"]) == tables_fingerprint(Manifest(), [])
    False
    """
    names = sorted(set(tables))
    stamps = []
    for name in names:
        entry = manifest.tables.get(name)
        stamps.append(f"{name}@{entry.written_at}/{entry.run_id}" if entry else f"{name}@-")
    return digest(manifest.fingerprint(names), *stamps)


@functools.cache
def code_version() -> str:
    """Hash of the package's code: its Python source, its SQL files and its packaged YAML
    defaults (prices, SLAs, rules). A function's cached results die with a change to any.

    Examples
    --------
    >>> len(code_version())
    32
    """
    h = hashlib.sha256()
    for root, pattern in (
        (Path(__file__).resolve().parent, "*.py"),
        (Path(__file__).resolve().parent, "*.yml"),
        (packaged_dir("queries"), "*.sql"),
    ):
        for path in sorted(root.rglob(pattern)):
            h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:32]


# ---------------------------------------------------------------------------------- reads
@dataclass(frozen=True)
class Reads:
    """The relations a statement reads, as DuckDB parses it.

    ``relations`` are names of base tables and views (CTE names removed), plus the source
    relations of any derived files it reads (:func:`register_derived_files`). ``cacheable`` is
    False when the result depends on more than those relations: a volatile function
    (``random()``), a table function that reads the catalog (``duckdb_views()``) or files that
    are not registered derived files (``read_parquet('x.parquet')``), or a name in another
    schema. ``files`` are the literal paths its ``read_parquet`` calls name.
    """

    relations: frozenset[str]
    cacheable: bool
    reason: str = ""
    files: frozenset[str] = frozenset()


def statement_reads(sql: str) -> Reads:
    """What ``sql`` reads, from DuckDB's own parse tree (``json_serialize_sql``); memoized.

    Examples
    --------
    >>> sorted(statement_reads("WITH c AS (SELECT * FROM users) "
    ...        "SELECT * FROM c JOIN events USING (id) WHERE $x").relations)
    ['events', 'users']
    >>> statement_reads("SELECT random() FROM users").cacheable
    False
    >>> statement_reads("SELECT * FROM read_parquet('/tmp/x.parquet')").reason
    'read_parquet() of files that are not registered derived files (/tmp/x.parquet)'
    """
    reads = _statement_reads(sql)
    if not reads.files or not reads.cacheable:
        return reads
    with _derived_lock:
        sources = [_derived.get(path) for path in sorted(reads.files)]
    unknown = sorted(p for p, src in zip(sorted(reads.files), sources, strict=True) if src is None)
    if unknown:
        shown = ", ".join(unknown[:3]) + (
            f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
        )
        return dataclasses.replace(
            reads,
            cacheable=False,
            reason=f"read_parquet() of files that are not registered derived files ({shown})",
        )
    return dataclasses.replace(reads, relations=reads.relations.union(*sources))  # type: ignore[arg-type]


def register_derived_files(paths: Sequence[str | Path], *, sources: Sequence[str]) -> None:
    """Declare files built from source relations and never changed under their name.

    A statement that reads such files with ``read_parquet`` over a literal list of their paths
    is then cacheable, and counts as reading ``sources`` (view names such as
    ``"user_sessions"``): its key holds the source tables' fingerprints, and the paths
    themselves through the SQL text of the view that names them. The caller vouches that each
    path is content-addressed (new content gets a new name), as the rollups' day files are
    (:mod:`auterity_lab.rollups`). Registration lasts for the process.

    Raises
    ------
    ConfigError
        A path is empty or holds a glob character (a glob can match new files), or a source is
        not a source table.

    Examples
    --------
    >>> register_derived_files(["/data/rollups/uda/date=2026-10-01/0f1e.parquet"],
    ...                        sources=["user_sessions"])
    >>> sorted(statement_reads("SELECT count(*) FROM read_parquet("
    ...        "['/data/rollups/uda/date=2026-10-01/0f1e.parquet'])").relations)
    ['user_sessions']
    """
    known = {t.name for t in source_tables()}
    names = frozenset(sources)
    if not names or not names <= known:
        raise ConfigError(
            f"derived files need source tables among {sorted(known)}, not {sorted(names)}"
        )
    checked = []
    for path in paths:
        text = str(path)
        if not text or _GLOB & set(text):
            raise ConfigError(f"derived file {text!r} must be a file path without globs")
        checked.append(text)
    with _derived_lock:
        for text in checked:
            _derived[text] = names


def register_equivalent_view(name: str) -> None:
    """Declare that a view, wherever defined, answers as its source tables do (a rollup).

    Whether such a view is defined on a workbench then does not change the key of a
    :func:`cached` function (whose declared tables carry the sources' fingerprints): a result
    cached by a process that had attached the rollup is found by one that had not yet.

    Examples
    --------
    >>> register_equivalent_view("user_day_activity")
    """
    with _derived_lock:
        _equivalent_views.add(name)


@functools.lru_cache(maxsize=2048)
def _statement_reads(sql: str) -> Reads:
    con = getattr(_parser, "con", None)
    if con is None:
        import duckdb

        con = _parser.con = duckdb.connect()
    row = con.execute("SELECT json_serialize_sql($q)", {"q": sql}).fetchone()
    tree = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        return Reads(frozenset(), False, f"not a plain SELECT ({tree.get('error_message', '')})")
    found: set[str] = set()
    ctes: set[str] = set()
    files: set[str] = set()
    problems: list[str] = []
    _walk(tree, found, ctes, problems, files)
    return Reads(
        frozenset(found - ctes), not problems, "; ".join(sorted(set(problems))), frozenset(files)
    )


def _walk(node: Any, found: set[str], ctes: set[str], problems: list[str], files: set[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, found, ctes, problems, files)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind == "BASE_TABLE":
        if node.get("schema_name") not in ("", "main") or node.get("catalog_name"):
            problems.append(f"reads {node.get('schema_name')}.{node['table_name']}")
        found.add(node["table_name"].lower())
    elif kind == "TABLE_FUNCTION":
        name = node.get("function", {}).get("function_name", "").lower()
        if name in _FILE_TABLE_FUNCTIONS:
            paths = _literal_paths(node["function"].get("children", [])[:1])
            if paths is None:
                problems.append(f"calls {name}() on something other than a literal file list")
            else:
                files.update(paths)
        elif name not in _PURE_TABLE_FUNCTIONS:
            problems.append(f"calls table function {name}()")
    elif (
        node.get("class") == "FUNCTION"
        and node.get("function_name", "").lower() in _VOLATILE_FUNCTIONS
    ):
        problems.append(f"calls volatile function {node['function_name']}()")
    cte_map = node.get("cte_map")
    if isinstance(cte_map, dict):
        ctes.update(item["key"].lower() for item in cte_map.get("map", []))
    for value in node.values():
        if isinstance(value, dict | list):
            _walk(value, found, ctes, problems, files)


def _literal_paths(args: list[Any]) -> list[str] | None:
    """The paths of a file function's first argument: a string or a list of strings, else None."""
    if len(args) != 1:
        return None
    arg = args[0]
    items = arg.get("children", []) if arg.get("function_name") == "list_value" else [arg]
    paths = []
    for item in items:
        value = item.get("value", {}) if item.get("class") == "CONSTANT" else {}
        if value.get("is_null", True) or value.get("type", {}).get("id") != "VARCHAR":
            return None
        paths.append(value["value"])
    return paths or None


# ---------------------------------------------------------------------------------- entries
class CorruptEntryError(Exception):
    """A stored entry cannot be decoded (internal: the cache logs it and rebuilds)."""


@dataclass(frozen=True)
class Entry:
    """A decoded cache entry: ``value`` plus when it expires (UNIX seconds)."""

    key: str
    tenant: str
    expires_at: float
    value: Any
    name: str = ""


def encode_entry(key: str, tenant: str, name: str, value: Any, expires_at: float) -> bytes:
    """Serialize a value (frames, dataclasses of frames, plain values) into a self-checking entry.

    Raises
    ------
    TypeError
        The value holds something with no safe encoding (the result is then not cached).

    Examples
    --------
    >>> blob = encode_entry("k", "acme", "q", pa.table({"x": [1, 2]}), time.time() + 60)
    >>> decode_entry(blob).value.column("x").to_pylist()
    [1, 2]
    """
    frames: list[bytes] = []
    structure = _encode_value(value, frames)
    body = b"".join(frames)
    header = json.dumps(
        {
            "format": _FORMAT,
            "key": key,
            "tenant": tenant,
            "name": name,
            "expires_at": expires_at,
            "created_at": time.time(),
            "frames": [len(f) for f in frames],
            "value": structure,
        },
        separators=(",", ":"),
    ).encode()
    rest = struct.pack(">I", len(header)) + header + body
    return _MAGIC + hashlib.sha256(rest).digest() + rest


def decode_entry(blob: bytes) -> Entry:
    """Inverse of :func:`encode_entry`; raises :class:`CorruptEntryError` on any damage."""
    try:
        if blob[: len(_MAGIC)] != _MAGIC:
            raise CorruptEntryError("bad magic bytes")
        rest = blob[_HEAD:]
        if hashlib.sha256(rest).digest() != blob[len(_MAGIC) : _HEAD]:
            raise CorruptEntryError("checksum mismatch")
        (size,) = struct.unpack(">I", rest[:4])
        header = json.loads(rest[4 : 4 + size])
        body = rest[4 + size :]
        if header.get("format") != _FORMAT:
            raise CorruptEntryError(f"format {header.get('format')!r}")
        frames, offset = [], 0
        for length in header["frames"]:
            frames.append(body[offset : offset + length])
            offset += length
        if offset != len(body):
            raise CorruptEntryError("trailing bytes")
        value = _decode_value(header["value"], frames)
        return Entry(
            header["key"],
            header["tenant"],
            float(header["expires_at"]),
            value,
            header.get("name", ""),
        )
    except CorruptEntryError:
        raise
    except Exception as exc:  # any malformed byte string: struct, JSON, Arrow, structure
        raise CorruptEntryError(f"{type(exc).__name__}: {exc}") from exc


def _encode_value(value: Any, frames: list[bytes]) -> Any:
    if isinstance(value, pa.Table):
        frames.append(_ipc_bytes(value))
        return {"t": "arrow", "i": len(frames) - 1}
    if _is_frame(value):
        frames.append(_ipc_bytes(_to_arrow(value)))
        return {"t": type(value).__module__.split(".")[0], "i": len(frames) - 1}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        return {
            "t": "dataclass",
            "cls": f"{cls.__module__}:{cls.__qualname__}",
            "f": {
                f.name: _encode_value(getattr(value, f.name), frames)
                for f in dataclasses.fields(value)
                if f.init
            },
        }
    if isinstance(value, list | tuple):
        return {"t": type(value).__name__, "v": [_encode_value(v, frames) for v in value]}
    if isinstance(value, dict):
        return {
            "t": "dict",
            "v": [[_encode_value(k, frames), _encode_value(v, frames)] for k, v in value.items()],
        }
    return {"t": "plain", "v": _canonical_value(value), "type": _plain_type(value)}


def _plain_type(value: Any) -> str:
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        return "numpy"
    return type(value).__name__


def _decode_value(node: Any, frames: list[bytes]) -> Any:
    kind = node["t"]
    if kind == "arrow":
        return _read_ipc(frames[node["i"]])
    if kind == "pandas":
        return _read_ipc(frames[node["i"]]).to_pandas()
    if kind == "polars":
        import polars as pl

        return pl.from_arrow(_read_ipc(frames[node["i"]]))
    if kind == "dataclass":
        module, qualname = node["cls"].split(":")
        if module not in sys.modules:  # an entry never makes us import anything
            raise CorruptEntryError(f"dataclass from {module}, which is not imported")
        cls: Any = sys.modules[module]
        for part in qualname.split("."):
            cls = getattr(cls, part)
        if not dataclasses.is_dataclass(cls):
            raise CorruptEntryError(f"{node['cls']} is not a dataclass")
        return cls(**{k: _decode_value(v, frames) for k, v in node["f"].items()})
    if kind in ("list", "tuple"):
        items = [_decode_value(v, frames) for v in node["v"]]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {_decode_value(k, frames): _decode_value(v, frames) for k, v in node["v"]}
    if kind == "plain":
        return _plain_from_canonical(node["v"])
    raise CorruptEntryError(f"unknown node type {kind!r}")


def _plain_from_canonical(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain_from_canonical(v) for v in value]
    if not isinstance(value, dict):
        return value
    ((tag, text),) = value.items()
    decoders: dict[str, Callable[[Any], Any]] = {
        "float": float,
        "datetime": dt.datetime.fromisoformat,
        "date": dt.date.fromisoformat,
        "Decimal": decimal.Decimal,
        "PosixPath": Path,
        "timedelta": _parse_timedelta,
        "map": lambda m: {k: _plain_from_canonical(v) for k, v in m.items()},
    }
    if tag not in decoders:
        raise CorruptEntryError(f"unknown plain tag {tag!r}")
    return decoders[tag](text)


def _parse_timedelta(text: str) -> dt.timedelta:
    days, _, clock = text.rpartition(", ") if ", " in text else ("0 days", "", text)
    h, m, s = clock.split(":")
    return dt.timedelta(days=int(days.split()[0]), hours=int(h), minutes=int(m), seconds=float(s))


def _is_frame(value: Any) -> bool:
    module = type(value).__module__
    return type(value).__name__ == "DataFrame" and module.split(".")[0] in ("pandas", "polars")


def _to_arrow(frame: Any) -> pa.Table:
    if isinstance(frame, pa.Table):
        return frame
    if type(frame).__module__.startswith("polars"):
        return frame.to_arrow()
    try:
        return pa.Table.from_pandas(frame, preserve_index=True)
    except (pa.ArrowException, ValueError) as exc:
        raise TypeError(f"frame cannot be stored as Arrow: {exc}") from exc


def _ipc_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _read_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(data).read_all()


# ---------------------------------------------------------------------------------- layers
@dataclass
class LayerStats:
    """Counters of one layer."""

    hits: int = 0
    misses: int = 0
    writes: int = 0
    errors: int = 0


@dataclass
class CacheStats:
    """Hits, misses, writes and errors per layer (``memory``, ``disk``, ``redis``)."""

    layers: dict[str, LayerStats] = field(default_factory=dict)
    uncacheable: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain dict, for printing or JSON."""
        return {
            "layers": {name: dataclasses.asdict(s) for name, s in self.layers.items()},
            "uncacheable": self.uncacheable,
        }


class _MemoryLayer:
    name = "memory"

    def __init__(self, entries: int, max_bytes: int = MEMORY_LAYER_BYTES) -> None:
        self._entries = entries
        self._max_bytes = max_bytes
        self._bytes = 0
        self._data: collections.OrderedDict[str, tuple[str, float, bytes]] = (
            collections.OrderedDict()
        )
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            if item[1] <= time.time():
                self._pop(key)
                return None
            self._data.move_to_end(key)
            return item[2]

    def put(self, key: str, tenant: str, blob: bytes, expires_at: float) -> None:
        if self._entries == 0:
            return
        with self._lock:
            self._pop(key)
            self._data[key] = (tenant, expires_at, blob)
            self._bytes += len(blob)
            while len(self._data) > self._entries or self._bytes > self._max_bytes:
                self._pop(next(iter(self._data)))

    def delete(self, key: str) -> None:
        with self._lock:
            self._pop(key)

    def _pop(self, key: str) -> None:
        item = self._data.pop(key, None)
        if item is not None:
            self._bytes -= len(item[2])

    def clear(self, tenant: str | None) -> int:
        with self._lock:
            doomed = [k for k, v in self._data.items() if tenant is None or v[0] == tenant]
            for k in doomed:
                self._pop(k)
            return len(doomed)


class _DiskLayer:
    name = "disk"

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str, tenant: str) -> Path:
        return self.root / tenant / f"{key}{ENTRY_SUFFIX}"

    def get(self, key: str, tenant: str) -> bytes | None:
        try:
            return self.path(key, tenant).read_bytes()
        except FileNotFoundError:
            return None

    def put(self, key: str, tenant: str, blob: bytes, expires_at: float) -> None:
        target = self.path(key, tenant)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=ENTRY_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(blob)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def delete(self, key: str, tenant: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(key, tenant).unlink()

    def files(self, tenant: str | None = None) -> list[Path]:
        if not self.root.is_dir():
            return []
        pattern = f"{tenant}/*{ENTRY_SUFFIX}" if tenant else f"*/*{ENTRY_SUFFIX}"
        return sorted(p for p in self.root.glob(pattern) if not p.name.startswith(".tmp-"))

    def clear(self, tenant: str | None) -> int:
        removed = 0
        for p in self.files(tenant):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                removed += 1
        return removed


class _RedisLayer:
    name = "redis"

    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self.prefix = prefix
        self._client = redis.Redis.from_url(
            url, socket_timeout=1.0, socket_connect_timeout=1.0, retry_on_timeout=False
        )
        self._down_until = 0.0
        self._errors = (redis.RedisError, OSError)

    def _rkey(self, key: str, tenant: str) -> str:
        return f"{self.prefix}{tenant}:{key}"

    def _call(self, fn: Callable[[], T], stats: LayerStats) -> T | None:
        if time.monotonic() < self._down_until:
            return None
        try:
            return fn()
        except self._errors as exc:
            stats.errors += 1
            self._down_until = time.monotonic() + _REDIS_RETRY_SECONDS
            log.warning(
                "redis cache layer unavailable (%s); using memory and disk only for %.0f s",
                exc,
                _REDIS_RETRY_SECONDS,
            )
            return None

    def get(self, key: str, tenant: str, stats: LayerStats) -> bytes | None:
        return self._call(lambda: self._client.get(self._rkey(key, tenant)), stats)

    def put(self, key: str, tenant: str, blob: bytes, ttl: float, stats: LayerStats) -> None:
        seconds = max(1, math.ceil(ttl))
        self._call(lambda: self._client.set(self._rkey(key, tenant), blob, ex=seconds), stats)

    def delete(self, key: str, tenant: str, stats: LayerStats) -> None:
        self._call(lambda: self._client.delete(self._rkey(key, tenant)), stats)

    def sizes(self, stats: LayerStats) -> list[tuple[str, int]]:
        """(tenant, bytes) of every entry under the prefix."""

        def _sizes() -> list[tuple[str, int]]:
            keys = list(self._client.scan_iter(match=f"{self.prefix}*", count=500))
            out = []
            for key in keys:
                tenant = key.decode()[len(self.prefix) :].split(":", 1)[0]
                out.append((tenant, int(self._client.strlen(key))))
            return out

        return self._call(_sizes, stats) or []

    def clear(self, tenant: str | None, stats: LayerStats) -> int:
        pattern = f"{self.prefix}{tenant}:*" if tenant else f"{self.prefix}*"

        def _clear() -> int:
            keys = list(self._client.scan_iter(match=pattern, count=500))
            return int(self._client.delete(*keys)) if keys else 0

        return self._call(_clear, stats) or 0


# ---------------------------------------------------------------------------------- the cache
class ResultCache:
    """The layered result cache. Get the shared one for a data directory with :meth:`for_settings`.

    Examples
    --------
    >>> import tempfile
    >>> cache = ResultCache(disk_dir=Path(tempfile.mkdtemp()), memory_entries=8)
    >>> cache.get("k1", "acme") is None
    True
    >>> _ = cache.put("k1", "acme", "demo", pa.table({"x": [1]}), ttl=60)
    >>> cache.get("k1", "acme").column("x").to_pylist(), cache.get("k1", "globex") is None
    ([1], True)
    """

    def __init__(
        self,
        *,
        disk_dir: Path | None = None,
        memory_entries: int = 256,
        redis_url: str | None = None,
        redis_prefix: str = REDIS_PREFIX,
        ttl_overrides: Mapping[str, float] | None = None,
    ) -> None:
        self.memory = _MemoryLayer(memory_entries)
        self.disk = _DiskLayer(disk_dir) if disk_dir is not None else None
        self.redis = _RedisLayer(redis_url, redis_prefix) if redis_url else None
        self.ttl_overrides = dict(ttl_overrides or {})
        self._stats = CacheStats(
            {
                name: LayerStats()
                for name in ("memory", "disk", "redis")
                if name == "memory" or getattr(self, name) is not None
            }
        )
        self._lock = threading.Lock()
        self._local = threading.local()

    _shared: dict[tuple[Any, ...], ResultCache] = {}
    _shared_lock = threading.Lock()

    @classmethod
    def for_settings(cls, settings: Settings, data_dir: Path) -> ResultCache:
        """The process-wide cache for these settings (one per cache dir, Redis URL and size)."""
        disk = (settings.cache_dir or Path(data_dir) / "cache").resolve()
        url = settings.cache_redis_url.get_secret_value() if settings.cache_redis_url else None
        ttls = getattr(settings, "cache_ttl_seconds", None) or {}
        for kind in ttls:
            ttl_seconds(kind)  # an unknown kind is a clear error
        ident = (disk, url, settings.cache_memory_entries, tuple(sorted(ttls.items())))
        with cls._shared_lock:
            if ident not in cls._shared:
                cls._shared[ident] = cls(
                    disk_dir=disk,
                    memory_entries=settings.cache_memory_entries,
                    redis_url=url,
                    ttl_overrides=ttls,
                )
            return cls._shared[ident]

    def ttl(self, kind: str) -> float:
        """Time to live of ``kind`` in this cache."""
        return ttl_seconds(kind, self.ttl_overrides)

    @contextlib.contextmanager
    def refreshing(self) -> Iterator[None]:
        """Within the block, this thread's lookups miss every entry it did not store in the
        block: each result is computed and stored anew, once, and then answered from the cache.

        Used to precompute results with a new time to live, even where an entry exists (a
        result several computations of the block share is computed once).

        Examples
        --------
        >>> import tempfile
        >>> cache = ResultCache(disk_dir=Path(tempfile.mkdtemp()))
        >>> _ = cache.put("k1", "acme", "demo", pa.table({"x": [1]}), ttl=60)
        >>> with cache.refreshing():
        ...     missed = cache.get("k1", "acme") is None
        ...     _ = cache.put("k1", "acme", "demo", pa.table({"x": [2]}), ttl=60)
        ...     again = cache.get("k1", "acme")["x"].to_pylist()
        >>> missed, again
        (True, [2])
        """
        outermost = getattr(self._local, "refreshed", None) is None
        if outermost:
            self._local.refreshed = set()
        try:
            yield
        finally:
            if outermost:
                self._local.refreshed = None

    def get(self, key: str, tenant: str) -> Any | None:
        """The live value under ``key`` for ``tenant``, or None; fills the faster layers."""
        refreshed = getattr(self._local, "refreshed", None)
        if refreshed is not None and key not in refreshed:
            return None
        blob_layers: list[tuple[str, Callable[[], bytes | None]]] = [
            ("memory", lambda: self.memory.get(key))
        ]
        if self.disk is not None:
            blob_layers.append(("disk", lambda: self.disk.get(key, tenant)))  # type: ignore[union-attr]
        if self.redis is not None:
            redis_stats = self._stats.layers["redis"]
            blob_layers.append(("redis", lambda: self.redis.get(key, tenant, redis_stats)))  # type: ignore[union-attr]
        missed: list[str] = []
        for name, read in blob_layers:
            blob = read()
            entry = self._check(name, key, tenant, blob) if blob is not None else None
            if entry is None:
                self._count(name, "misses")
                missed.append(name)
                continue
            self._count(name, "hits")
            for faster in missed:
                self._write(faster, key, tenant, blob, entry.expires_at)  # type: ignore[arg-type]
            return entry.value
        return None

    def put(self, key: str, tenant: str, name: str, value: Any, *, ttl: float) -> Any:
        """Store ``value`` in every layer; returns the value as a hit would return it.

        Values that cannot be encoded, or whose frames alone exceed :data:`MAX_ENTRY_BYTES`
        (checked before encoding, so a row-level result costs no copy), are not stored (counted
        as ``uncacheable``) and come back unchanged.
        """
        expires_at = time.time() + ttl
        if _frame_bytes(value) > MAX_ENTRY_BYTES:
            log.debug("result of %s not cached: its frames exceed the entry limit", name)
            self.note_uncacheable()
            return value
        try:
            blob = encode_entry(key, tenant, name, value, expires_at)
        except TypeError as exc:
            log.debug("result of %s not cached: %s", name, exc)
            self.note_uncacheable()
            return value
        if len(blob) > MAX_ENTRY_BYTES:
            log.debug("result of %s not cached: %d bytes", name, len(blob))
            self.note_uncacheable()
            return value
        for layer in self._stats.layers:
            self._write(layer, key, tenant, blob, expires_at)
        refreshed = getattr(self._local, "refreshed", None)
        if refreshed is not None:
            refreshed.add(key)
        return decode_entry(blob).value

    def note_uncacheable(self) -> None:
        """Count a result that was computed but could not be cached."""
        with self._lock:
            self._stats.uncacheable += 1

    def stats(self) -> CacheStats:
        """A copy of the counters."""
        with self._lock:
            return CacheStats(
                {n: dataclasses.replace(s) for n, s in self._stats.layers.items()},
                self._stats.uncacheable,
            )

    def clear(self, tenant: str | None = None) -> dict[str, int]:
        """Remove every entry (of one tenant, if given) from every layer; counts per layer."""
        removed = {"memory": self.memory.clear(tenant)}
        if self.disk is not None:
            removed["disk"] = self.disk.clear(tenant)
        if self.redis is not None:
            removed["redis"] = self.redis.clear(tenant, self._stats.layers["redis"])
        return removed

    def inventory(self) -> list[dict[str, Any]]:
        """What the shared layers hold: one row per layer and tenant.

        Columns: ``layer``, ``tenant``, ``entries``, ``bytes`` and ``expired`` (disk entries
        past their TTL that :meth:`prune` would remove; Redis expires its own).
        """
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        now = time.time()
        if self.disk is not None:
            for path in self.disk.files():
                row = rows.setdefault(("disk", path.parent.name), _inventory_row("disk", path))
                try:
                    size = path.stat().st_size
                    expired = _expires_at(path) <= now
                except (OSError, CorruptEntryError):
                    size, expired = 0, True
                row["entries"] += 1
                row["bytes"] += size
                row["expired"] += int(expired)
        if self.redis is not None:
            for tenant, size in self.redis.sizes(self._stats.layers["redis"]):
                row = rows.setdefault(("redis", tenant), _inventory_row("redis", None, tenant))
                row["entries"] += 1
                row["bytes"] += size
        return [rows[k] for k in sorted(rows)]

    def prune(self) -> int:
        """Delete disk entries past their TTL (and unreadable ones); returns how many."""
        removed = 0
        if self.disk is None:
            return 0
        now = time.time()
        for path in self.disk.files():
            try:
                stale = _expires_at(path) <= now
            except (OSError, CorruptEntryError):
                stale = True
            if stale:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
        return removed

    def _check(self, layer: str, key: str, tenant: str, blob: bytes) -> Entry | None:
        try:
            entry = decode_entry(blob)
        except CorruptEntryError as exc:
            log.warning(
                "corrupt %s cache entry %s for tenant %s ignored and rebuilt: %s",
                layer,
                key,
                tenant,
                exc,
            )
            self._count(layer, "errors")
            self._delete(layer, key, tenant)
            return None
        if entry.key != key or entry.tenant != tenant:
            log.warning(
                "%s cache entry %s belongs to %s/%s; ignored", layer, key, entry.tenant, entry.key
            )
            self._count(layer, "errors")
            return None
        if entry.expires_at <= time.time():
            self._delete(layer, key, tenant)
            return None
        return entry

    def _write(self, layer: str, key: str, tenant: str, blob: bytes, expires_at: float) -> None:
        remaining = expires_at - time.time()
        if remaining <= 0:
            return
        try:
            if layer == "memory":
                self.memory.put(key, tenant, blob, expires_at)
            elif layer == "disk" and self.disk is not None:
                self.disk.put(key, tenant, blob, expires_at)
            elif layer == "redis" and self.redis is not None:
                self.redis.put(key, tenant, blob, remaining, self._stats.layers["redis"])
        except OSError as exc:  # a full or read-only disk must not fail the query
            log.warning("could not write %s cache entry %s: %s", layer, key, exc)
            self._count(layer, "errors")
            return
        self._count(layer, "writes")

    def _delete(self, layer: str, key: str, tenant: str) -> None:
        if layer == "memory":
            self.memory.delete(key)
        elif layer == "disk" and self.disk is not None:
            self.disk.delete(key, tenant)
        elif layer == "redis" and self.redis is not None:
            self.redis.delete(key, tenant, self._stats.layers["redis"])

    def _count(self, layer: str, what: str) -> None:
        with self._lock:
            stats = self._stats.layers[layer]
            setattr(stats, what, getattr(stats, what) + 1)


def _frame_bytes(value: Any) -> int:
    """Memory of the frames directly in ``value`` (a lower bound of their encoded size)."""
    if isinstance(value, pa.Table):
        return int(value.nbytes)
    if _is_frame(value):
        if type(value).__module__.startswith("polars"):
            return int(value.estimated_size())
        usage = value.memory_usage(index=False, deep=False).tolist()
        return sum(  # a bool takes a byte here and a bit in Arrow
            u // 8 if str(d) == "bool" else u for u, d in zip(usage, value.dtypes, strict=True)
        )
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(_frame_bytes(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, list | tuple):
        return sum(_frame_bytes(v) for v in value)
    if isinstance(value, dict):
        return sum(_frame_bytes(v) for v in value.values())
    return 0


def _inventory_row(layer: str, path: Path | None, tenant: str = "") -> dict[str, Any]:
    name = path.parent.name if path is not None else tenant
    return {"layer": layer, "tenant": name, "entries": 0, "bytes": 0, "expired": 0}


def _expires_at(path: Path) -> float:
    """Expiry of a disk entry, read from its header only."""
    with path.open("rb") as f:
        head = f.read(_HEAD + 4)
        if head[: len(_MAGIC)] != _MAGIC or len(head) < _HEAD + 4:
            raise CorruptEntryError(f"{path.name}: bad magic bytes")
        (size,) = struct.unpack(">I", head[_HEAD:])
        try:
            return float(json.loads(f.read(size))["expires_at"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CorruptEntryError(f"{path.name}: unreadable header") from exc


# ---------------------------------------------------------------------------------- functions
class CachingWorkbench(Protocol):
    """What :func:`cached` needs of a workbench (``auterity_lab.warehouse.Workbench``)."""

    tenant: str
    unavailable: dict[str, str]

    @property
    def cache(self) -> ResultCache | None: ...

    def current_manifest(self) -> Manifest: ...

    def relation_state(self) -> dict[str, str]: ...

    def text_variant(self, tables: Iterable[str] | None = None) -> str: ...

    def record_reads(self) -> contextlib.AbstractContextManager[set[str]]: ...

    def note_reads(self, tables: Iterable[str]) -> None: ...


F = TypeVar("F", bound=Callable[..., Any])


def cached(
    kind: str, *, tables: Sequence[str], relations: Sequence[str] | None = None
) -> Callable[[F], F]:
    """Cache an analytics function ``f(wb, /, **params)`` in the workbench's result cache.

    Parameters
    ----------
    kind
        TTL kind (a key of :data:`DEFAULT_TTL_SECONDS`).
    tables
        Qualified names of every source table the function reads (``"auterity.events"``).
        The key holds their manifest fingerprint, so a new extract of any of them (and of no
        other table) gives a new key. Every query run during the call is checked: a read of an
        undeclared table is logged as an error and the result is not cached.
    relations
        The registered frames and temporary views (``wb.register``, ``wb.create_view``) the
        function may read, when it reads no others: only their state enters the key, so what
        other analytics registered on the workbench before (a price table, SLA targets) does
        not split the key. None (default): the state of every registered relation enters it.

    Notes
    -----
    The key also holds the function's qualified name, :func:`code_version`, the canonical
    parameters, the tenant and the state of the registered relations (``relations``, or all)
    when the call starts (frames by content, views by SQL; never the views of
    :func:`register_equivalent_view`). A call that registers relations itself is stored under
    the key of the state it started from and of the state it leaves, so the next call hits.
    Bypass with ``with wb.no_cache(): f(wb, ...)``.

    Examples
    --------
    >>> @cached("ml_performance", tables=["neuroweaver.prompt_outputs"])
    ... def outputs_per_model(wb, /, *, start):
    ...     return wb.query("ml_model_performance", start=start)             # doctest: +SKIP
    """
    ttl_seconds(kind)
    declared = frozenset(tables)
    readable = None if relations is None else frozenset(relations)
    known = {t.qualified_name for t in source_tables()}
    unknown = sorted(declared - known)
    if unknown:
        raise ConfigError(f"cached(): unknown tables {', '.join(unknown)}; known: {sorted(known)}")

    def decorate(fn: F) -> F:
        name = f"{fn.__module__}.{fn.__qualname__}"
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(wb: CachingWorkbench, /, *args: Any, **kwargs: Any) -> Any:
            cache = wb.cache
            if cache is None or declared & wb.unavailable.keys():  # broken tables must raise
                return fn(wb, *args, **kwargs)
            bound = signature.bind(wb, *args, **kwargs)
            bound.apply_defaults()
            params = dict(list(bound.arguments.items())[1:])
            try:
                canon = canonical_params(params)
            except TypeError as exc:
                log.debug("%s not cached: %s", name, exc)
                cache.note_uncacheable()
                return fn(wb, *args, **kwargs)
            base = [
                name,
                code_version(),
                canon,
                wb.tenant,
                wb.text_variant(declared),  # raw text never answers a workbench masking it
                tables_fingerprint(wb.current_manifest(), sorted(declared)),
            ]

            def key_for(state: dict[str, str]) -> str:
                with _derived_lock:
                    kept = {
                        k: v
                        for k, v in state.items()
                        if k not in _equivalent_views and (readable is None or k in readable)
                    }
                return digest(*base, json.dumps(kept, sort_keys=True))

            start_key = key_for(wb.relation_state())
            hit = cache.get(start_key, wb.tenant)
            if hit is not None:
                wb.note_reads(declared)  # an enclosing cached function read these too
                return hit
            with wb.record_reads() as reads:
                result = fn(wb, *args, **kwargs)
            undeclared = sorted(reads - declared - {"*"})
            if "*" in reads or undeclared:
                if undeclared:
                    log.error(
                        "%s read undeclared tables %s; result not cached (add them to "
                        "@cached(tables=...))",
                        name,
                        ", ".join(undeclared),
                    )
                cache.note_uncacheable()
                return result
            ttl = cache.ttl(kind)
            value = cache.put(start_key, wb.tenant, name, result, ttl=ttl)
            end_key = key_for(wb.relation_state())
            if end_key != start_key:
                cache.put(end_key, wb.tenant, name, result, ttl=ttl)
            return value

        return wrapper  # type: ignore[return-value]

    return decorate
