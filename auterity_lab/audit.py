"""An append-only, hash-chained audit log of sensitive actions.

Exports, raw-text reads, insight and alert status changes, report runs, ad-hoc SQL and every
denial are written as one JSON line each: who (user, credential), what (action, target), which
tenant, when (UTC), how many rows, and the outcome (``ok``, ``denied``, ``error``). Each line
carries the SHA-256 of the line before it (``prev``) and its own (``hash``), so a changed,
inserted or deleted line breaks the chain; a head file beside the log records the last hash, so
cutting lines off the end is detected too. Lines are appended with ``O_APPEND`` and ``fsync``
under an exclusive lock, so concurrent writers never interleave or fork the chain.

Examples
--------
>>> import tempfile
>>> log = AuditLog(Path(tempfile.mkdtemp()) / "audit.jsonl")
>>> entry = log.record("data.export", user_id="ana", tenant="acme", rows=12, target="out.csv")
>>> entry["outcome"], entry["rows"], log.verify().ok
('ok', 12, True)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import getpass
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auterity_lab.errors import AccessDeniedError, AuterityLabError

if TYPE_CHECKING:
    from auterity_lab.config import Settings
    from auterity_lab.security import SecurityContext

AUDIT_DIR = "audit"
AUDIT_FILE = "audit.jsonl"
GENESIS = "0" * 64
OUTCOMES = ("ok", "denied", "error")
_MAX_TEXT = 500
_FIELDS = (
    "seq", "ts", "user", "credential", "tenant", "action", "target", "rows", "outcome", "detail",
    "prev",
)  # fmt: skip


class AuditLogError(AuterityLabError):
    """The audit log cannot be written or read (or its last line is damaged)."""


@dataclass(frozen=True)
class Verification:
    """Result of :meth:`AuditLog.verify`: ``ok``, lines checked, and the first problem found."""

    ok: bool
    lines: int
    problem: str | None = None
    line: int | None = None


@dataclass
class AuditedAction:
    """What :func:`audited` yields: set ``rows`` (optionally ``detail``, ``outcome``) in the block.

    ``outcome`` turns a block that finished without an exception into ``error`` (e.g. a report
    run that failed and was recorded as failed).
    """

    rows: int | None = None
    detail: str | None = None
    outcome: str = "ok"


class AuditLog:
    """The audit log at ``path`` (created on first write, with its folder).

    Examples
    --------
    >>> AuditLog.for_settings(Settings(data_dir="/srv/lab")).path   # doctest: +SKIP
    PosixPath('/srv/lab/audit/audit.jsonl')
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._head = self.path.with_name(f"{self.path.name}.head")
        self._lock = self.path.with_name(f".{self.path.name}.lock")

    def __repr__(self) -> str:
        return f"AuditLog({str(self.path)!r})"

    @classmethod
    def for_settings(cls, settings: Settings, data_dir: str | Path | None = None) -> AuditLog:
        """``settings.audit_log``, else ``<data_dir or settings.data_dir>/audit/audit.jsonl``."""
        if settings.audit_log is not None:
            return cls(settings.audit_log)
        root = Path(data_dir if data_dir is not None else settings.data_dir)
        return cls(root / AUDIT_DIR / AUDIT_FILE)

    # ------------------------------------------------------------------ writing
    def record(
        self,
        action: str,
        *,
        context: SecurityContext | None = None,
        user_id: str | None = None,
        tenant: str | None = None,
        target: str | None = None,
        rows: int | None = None,
        outcome: str = "ok",
        detail: str | None = None,
    ) -> dict[str, Any]:
        """Append one entry and return it (with its ``seq``, ``prev`` and ``hash``).

        ``user`` is the context's user, else ``user_id``, else ``local:<OS user>``; ``tenant``
        defaults to the context's tenant.
        """
        if outcome not in OUTCOMES:
            raise AuditLogError(f"audit outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
        if not isinstance(action, str) or not action:
            raise AuditLogError("audit action must be a non-empty string")
        body: dict[str, Any] = {
            "ts": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
            "user": context.user_id if context else (user_id or f"local:{_os_user()}"),
            "credential": context.credential_id if context else None,
            "tenant": tenant if tenant is not None else (context.tenant_id if context else None),
            "action": action,
            "target": _short(target),
            "rows": None if rows is None else int(rows),
            "outcome": outcome,
            "detail": _short(detail),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked():
            seq, prev = self._tail()
            entry = {"seq": seq + 1, **body, "prev": prev}
            entry["hash"] = _digest(entry)
            line = (json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n").encode()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                written = os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            if written != len(line):
                raise AuditLogError(f"audit log {self.path}: short write ({written} bytes)")
            self._write_head(entry["seq"], entry["hash"])
        return entry

    # ------------------------------------------------------------------ reading
    def entries(self) -> list[dict[str, Any]]:
        """Every entry, oldest first (:class:`AuditLogError` on a line that is not JSON)."""
        out = []
        for number, raw in enumerate(self._lines(), start=1):
            try:
                out.append(json.loads(raw))
            except json.JSONDecodeError as exc:
                raise AuditLogError(f"audit log {self.path}: line {number} is not JSON") from exc
        return out

    def verify(self) -> Verification:
        """Check the chain: every hash, every ``prev`` link, ``seq`` order and the head file."""
        prev, seq, count = GENESIS, 0, 0
        for count, raw in enumerate(self._lines(), start=1):
            try:
                entry = json.loads(raw)
            except json.JSONDecodeError:
                return Verification(False, count, "line is not JSON", count)
            if not isinstance(entry, dict) or set(entry) != {*_FIELDS, "hash"}:
                return Verification(False, count, "line does not have the audit fields", count)
            if entry["prev"] != prev:
                return Verification(
                    False, count, "chain broken: a line before it was changed or deleted", count
                )
            if entry["seq"] != seq + 1:
                jump = f"sequence jumps from {seq} to {entry['seq']}"
                return Verification(False, count, jump, count)
            if _digest(entry) != entry["hash"]:
                return Verification(False, count, "hash mismatch: the line was changed", count)
            prev, seq = entry["hash"], entry["seq"]
        head = self._read_head()
        if head is not None and head != (seq, prev):
            return Verification(
                False, count, f"log ends at entry {seq} but the head records entry {head[0]}"
            )
        if head is None and count:
            return Verification(False, count, "head file is missing")
        return Verification(True, count)

    # ------------------------------------------------------------------ internals
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self._lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _lines(self) -> Iterator[str]:
        try:
            with self.path.open("r", encoding="utf-8", errors="replace") as fh:
                for raw in fh:
                    if raw.strip():
                        yield raw
        except FileNotFoundError:
            return
        except OSError as exc:
            raise AuditLogError(f"audit log {self.path} cannot be read: {exc.strerror}") from exc

    def _tail(self) -> tuple[int, str]:
        """``(seq, hash)`` of the last entry; the head file is trusted only if the log agrees."""
        last = _last_line(self.path)
        if last is None:
            return 0, GENESIS
        try:
            entry = json.loads(last)
            return int(entry["seq"]), str(entry["hash"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise AuditLogError(
                f"audit log {self.path}: the last line is damaged; run `auterity-lab audit verify`"
            ) from exc

    def _write_head(self, seq: int, digest: str) -> None:
        tmp = self._head.with_name(f".{self._head.name}.tmp")
        tmp.write_text(json.dumps({"seq": seq, "hash": digest}), encoding="utf-8")
        os.replace(tmp, self._head)

    def _read_head(self) -> tuple[int, str] | None:
        try:
            head = json.loads(self._head.read_text(encoding="utf-8"))
            return int(head["seq"]), str(head["hash"])
        except FileNotFoundError:
            return None
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError):
            return -1, ""


def audit_log_for(
    settings: Settings, data_dir: str | Path | None, context: SecurityContext | None
) -> AuditLog | None:
    """The log to audit an action in, or None when nothing asks for auditing.

    An action is audited when it runs as an authenticated identity, when authentication is
    configured, or when ``settings.audit_log`` is set; a personal setup with none of these has
    nobody to hold to account and writes nothing.

    Examples
    --------
    >>> from auterity_lab.config import Settings
    >>> audit_log_for(Settings(data_dir="/tmp/x"), None, None) is None
    True
    >>> audit_log_for(Settings(data_dir="/tmp/x", jwt_secret="s" * 32), None, None).path
    PosixPath('/tmp/x/audit/audit.jsonl')
    """
    configured = settings.jwt_secret or settings.jwt_public_key or settings.api_keys_file
    if context is None and not configured and settings.audit_log is None:
        return None
    return AuditLog.for_settings(settings, data_dir)


@contextlib.contextmanager
def audited(
    log: AuditLog | None,
    action: str,
    *,
    context: SecurityContext | None = None,
    permission: str | None = None,
    tenant: str | None = None,
    target: str | None = None,
) -> Iterator[AuditedAction]:
    """Check ``permission`` (when there is a context), run the block, record the outcome.

    A denial is recorded as ``denied`` and re-raised; an exception in the block is recorded as
    ``error`` (with its type) and re-raised; otherwise ``ok`` with the ``rows`` the block set.
    ``log=None`` checks the permission and records nothing.

    Examples
    --------
    >>> import tempfile
    >>> log = AuditLog(Path(tempfile.mkdtemp()) / "a.jsonl")
    >>> with audited(log, "data.export", tenant="acme") as act:
    ...     act.rows = 3
    >>> [(e["action"], e["rows"], e["outcome"]) for e in log.entries()]
    [('data.export', 3, 'ok')]
    """
    from auterity_lab.security import authorize

    common = {"context": context, "tenant": tenant, "target": target}
    if context is not None and permission is not None:
        resource, _, verb = permission.partition(":")
        try:
            authorize(context, resource, verb)
        except AccessDeniedError as exc:
            if log is not None:
                log.record(action, outcome="denied", detail=str(exc), **common)
            raise
    act = AuditedAction()
    try:
        yield act
    except BaseException as exc:
        if log is not None:
            log.record(action, outcome="error", detail=type(exc).__name__, rows=act.rows, **common)
        raise
    if log is not None:
        log.record(action, outcome=act.outcome, rows=act.rows, detail=act.detail, **common)


def _digest(entry: dict[str, Any]) -> str:
    body = {k: entry[k] for k in _FIELDS}
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def _last_line(path: Path) -> str | None:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            end = fh.tell()
            chunk, pos = b"", end
            while pos > 0:
                step = min(65536, pos)
                pos -= step
                fh.seek(pos)
                chunk = fh.read(step) + chunk
                lines = chunk.rstrip(b"\n").split(b"\n")
                if len(lines) > 1 or pos == 0:
                    last = lines[-1].decode("utf-8", errors="replace").strip()
                    return last or None
    except FileNotFoundError:
        return None
    return None


def _short(value: object) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())
