"""The audit log: entries, the hash chain, tamper detection, concurrent writers."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from pathlib import Path

import pytest

from auterity_lab.audit import GENESIS, AuditLog, AuditLogError, audited
from auterity_lab.config import Settings
from auterity_lab.errors import AccessDeniedError
from auterity_lab.security import SecurityContext

VIEWER = SecurityContext("vic", "acme", roles=frozenset({"viewer"}), credential_id="k1")


@pytest.fixture
def log(tmp_path):
    return AuditLog(tmp_path / "audit" / "audit.jsonl")


def _fill(log, n=4):
    for i in range(n):
        log.record("data.export", context=VIEWER, rows=i, target=f"out{i}.csv")


def _lines(log):
    return log.path.read_text().splitlines()


def test_entry_fields_and_chain(log):
    first = log.record("data.export", context=VIEWER, rows=7, target="x.csv")
    second = log.record("report.run", user_id="cron", tenant="globex", outcome="error")
    assert first["prev"] == GENESIS and second["prev"] == first["hash"]
    assert (first["seq"], second["seq"]) == (1, 2)
    assert (first["user"], first["credential"], first["tenant"]) == ("vic", "k1", "acme")
    assert (second["user"], second["tenant"], second["rows"]) == ("cron", "globex", None)
    assert first["ts"].endswith("+00:00")
    # hash recomputed independently: SHA-256 of the sorted compact JSON of every field but hash
    body = {k: v for k, v in json.loads(_lines(log)[0]).items() if k != "hash"}
    expected = hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    assert expected == first["hash"]
    assert log.verify().ok and log.verify().lines == 2


def test_default_location_and_setting(tmp_path):
    assert AuditLog.for_settings(Settings(data_dir=tmp_path)).path == (
        tmp_path / "audit" / "audit.jsonl"
    )
    assert AuditLog.for_settings(Settings(audit_log=tmp_path / "a.log")).path == tmp_path / "a.log"


def test_local_user_when_no_context(log):
    assert log.record("data.export")["user"].startswith("local:")


def test_empty_log_verifies(log):
    result = log.verify()
    assert result.ok and result.lines == 0


def test_changed_line_is_detected(log):
    _fill(log)
    lines = _lines(log)
    entry = json.loads(lines[1])
    entry["rows"] = 1000
    lines[1] = json.dumps(entry, sort_keys=True, separators=(",", ":"))
    log.path.write_text("\n".join(lines) + "\n")
    result = log.verify()
    assert not result.ok and result.line == 2 and "changed" in result.problem


def test_changed_line_with_recomputed_hash_breaks_the_next_link(log):
    _fill(log)
    lines = _lines(log)
    entry = json.loads(lines[1])
    entry["user"] = "someone-else"
    body = {k: v for k, v in entry.items() if k != "hash"}
    entry["hash"] = hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    lines[1] = json.dumps(entry, sort_keys=True, separators=(",", ":"))
    log.path.write_text("\n".join(lines) + "\n")
    result = log.verify()
    assert not result.ok and result.line == 3 and "chain broken" in result.problem


def test_deleted_line_is_detected(log):
    _fill(log)
    lines = _lines(log)
    del lines[2]
    log.path.write_text("\n".join(lines) + "\n")
    result = log.verify()
    assert not result.ok and result.line == 3


def test_deleted_last_line_is_detected_by_the_head(log):
    _fill(log)
    lines = _lines(log)
    log.path.write_text("\n".join(lines[:-1]) + "\n")
    result = log.verify()
    assert not result.ok and "head records entry 4" in result.problem


def test_garbage_line_is_detected(log):
    _fill(log, 2)
    with log.path.open("a") as fh:
        fh.write("not json\n")
    assert not log.verify().ok
    with pytest.raises(AuditLogError, match="last line is damaged"):
        log.record("data.export")


def test_bad_outcome_and_action(log):
    with pytest.raises(AuditLogError, match="outcome"):
        log.record("x", outcome="maybe")
    with pytest.raises(AuditLogError, match="action"):
        log.record("")
    assert not log.path.exists()


def test_long_detail_is_shortened(log):
    assert len(log.record("x", detail="y" * 10_000)["detail"]) == 500


def test_audited_records_ok_denied_and_error(log):
    analyst = SecurityContext("ana", "acme", roles=frozenset({"analyst"}))
    with audited(log, "data.export", context=analyst, permission="data:export") as act:
        act.rows = 5
    with (
        pytest.raises(AccessDeniedError),
        audited(log, "data.export", context=VIEWER, permission="data:export"),
    ):
        pytest.fail("the block must not run when the permission is missing")
    with (
        pytest.raises(ZeroDivisionError),
        audited(log, "report.run", context=analyst, permission="reports:run"),
    ):
        1 / 0  # noqa: B018
    got = [(e["user"], e["outcome"], e["rows"], e["detail"]) for e in log.entries()]
    assert got[0] == ("ana", "ok", 5, None)
    assert got[1][:3] == ("vic", "denied", None) and "data:export" in got[1][3]
    assert got[2] == ("ana", "error", None, "ZeroDivisionError")
    assert log.verify().ok


def _writer(path: str, n: int) -> None:
    log = AuditLog(Path(path))
    for i in range(n):
        log.record("data.export", user_id=f"w{i}", rows=i)


def test_concurrent_writers_keep_one_chain(log):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(log.path), 25)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert all(p.exitcode == 0 for p in procs)
    result = log.verify()
    assert result.ok and result.lines == 100
    assert [e["seq"] for e in log.entries()] == list(range(1, 101))
