"""Privacy at the extract boundary: the PII scrubber on a labelled corpus, masks, keyed hashes,
consent and retention; the Postgres tests extract the seeded demo data with the policy on."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import shutil
import uuid
from collections import Counter
from pathlib import Path

import duckdb
import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from auterity_lab.cli import app
from auterity_lab.config import Settings
from auterity_lab.errors import ConfigError
from auterity_lab.extract import extract
from auterity_lab.manifest import read_manifest
from auterity_lab.privacy import (
    PII_KINDS,
    PREFILTER,
    Policy,
    enforce_retention,
    find_pii,
    hmac_params,
    install,
    load_policy,
    pseudonymize,
    scrub_json,
    scrub_text,
)
from auterity_lab.schema import table
from auterity_lab.warehouse import Workbench

from .test_extract import rows

CORPUS = Path(__file__).parent / "data" / "pii_corpus.jsonl"
KEY = "test-hmac-key-0123456789abcdef"
runner = CliRunner()


def _corpus() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    install(c)
    return c


# ----------------------------------------------------------------------------- the scrubber
def test_scrubber_precision_and_recall_on_the_labelled_corpus(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Entity level: a finding is right when it overlaps a labelled entity of the same kind.

    ``tuned`` rows were written while the scrubber was built; ``heldout`` rows were written
    afterwards and never used to change it.
    """
    counts: Counter[tuple[str, str, str]] = Counter()  # (split, kind, tp|fp|fn)
    leaks = []
    for row in _corpus():
        split, text = row.get("split", "tuned"), row["text"]
        labels = [
            (e["kind"], text.index(e["value"]), text.index(e["value"]) + len(e["value"]))
            for e in row["pii"]
        ]
        hit = set()
        for m in find_pii(text):
            match = [
                lab for lab in labels if lab[0] == m.kind and m.start < lab[2] and lab[1] < m.end
            ]
            counts[split, m.kind, "tp" if match else "fp"] += 1
            hit.update(match)
        for lab in labels:
            if lab not in hit:
                counts[split, lab[0], "fn"] += 1
        scrubbed = scrub_text(text)
        leaks += [e["value"] for e in row["pii"] if e["value"] in scrubbed]

    def pr(split: str | None, kind: str | None) -> tuple[float, float, int]:
        n = {
            k: sum(
                v
                for (s, kd, k2), v in counts.items()
                if k2 == k and split in (None, s) and kind in (None, kd)
            )
            for k in ("tp", "fp", "fn")
        }
        return (
            n["tp"] / max(1, n["tp"] + n["fp"]),
            n["tp"] / max(1, n["tp"] + n["fn"]),
            n["tp"] + n["fn"],
        )

    with capsys.disabled():
        print("\nPII scrubber on tests/data/pii_corpus.jsonl (entity level)")
        print(f"{'':10}{'precision':>10}{'recall':>8}{'labelled':>10}")
        for kind in PII_KINDS:
            p, r, n = pr(None, kind)
            print(f"{kind:10}{p:10.3f}{r:8.3f}{n:10d}")
        for split in ("tuned", "heldout"):
            p, r, n = pr(split, None)
            print(f"{split:10}{p:10.3f}{r:8.3f}{n:10d}")
        p_all, r_all, n_all = pr(None, None)
        print(
            f"{'all':10}{p_all:10.3f}{r_all:8.3f}{n_all:10d}   "
            f"values left in the text: {len(leaks)}"
        )
    assert pr("tuned", None)[:2] >= (0.98, 0.98)
    assert pr("heldout", None)[0] >= 0.95 and pr("heldout", None)[1] >= 0.9
    assert len(leaks) <= 2, leaks


def test_sql_scrubber_equals_python_and_prefilter_admits_every_finding(
    con: duckdb.DuckDBPyConnection,
) -> None:
    texts = [row["text"] for row in _corpus()]
    got = con.execute(
        "SELECT privacy_scrub(t, $p) FROM unnest($texts) WITH ORDINALITY AS u(t, i) ORDER BY i",
        {"p": PREFILTER, "texts": texts},
    ).fetchall()
    assert [g[0] for g in got] == [scrub_text(t) for t in texts]
    for t in texts:
        if find_pii(t):
            assert re.search(PREFILTER, t), t


def test_scrub_json_keeps_valid_json_and_numbers() -> None:
    doc = {"to": "ana@example.org", "n": 4111111111111111, "nested": [{"ip": "10.0.0.1"}, "plain"]}
    out = json.loads(scrub_json(json.dumps(doc)))
    assert out == {"to": "[EMAIL]", "n": 4111111111111111, "nested": [{"ip": "[IP]"}, "plain"]}
    clean = '{"feature":  "export"}'
    assert scrub_json(clean) == clean  # untouched, byte for byte
    assert scrub_json("not json: bob@example.com") == "not json: [EMAIL]"


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40))
@settings(max_examples=200, deadline=None)
def test_scrubbing_twice_changes_nothing_more(text: str) -> None:
    once = scrub_text(text)
    assert scrub_text(once) == once


# ----------------------------------------------------------------------------- masks and hashes
@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("ana.garcia@example.org", "a***@example.org"),
        ("192.168.14.201", "192.168.*.*"),
        ("2001:db8:85a3::8a2e:370:7334", "2001:db8:*"),
        ("+1-555-9895", "+*-***-**95"),
        ("(212) 555-0187", "(***) ***-**87"),
        ("Mozilla/5.0", "M***"),
        ("", ""),
        (None, None),
    ],
)
def test_masks_keep_a_recognisable_shape(
    con: duckdb.DuckDBPyConnection, value: str | None, masked: str | None
) -> None:
    assert con.execute("SELECT privacy_mask($v::VARCHAR)", {"v": value}).fetchone()[0] == masked


@given(st.lists(st.text(max_size=30), min_size=1, max_size=20), st.sampled_from([KEY, "k" * 100]))
@settings(max_examples=25, deadline=None)
def test_sql_hmac_equals_python_hmac(values: list[str], key: str) -> None:
    con = duckdb.connect()
    install(con)
    got = con.execute(
        "SELECT privacy_hash_text(v, $hmac_ipad, $hmac_opad) "
        "FROM unnest($v) WITH ORDINALITY AS u(v, i) ORDER BY i",
        {"v": values, **hmac_params(key)},
    ).fetchall()
    assert [g[0] for g in got] == [
        hmac.new(key.encode(), v.encode(), hashlib.sha256).hexdigest() for v in values
    ]
    ident = uuid.uuid4()
    (as_uuid,) = con.execute(
        "SELECT privacy_hash_uuid($u::UUID, $hmac_ipad, $hmac_opad)",
        {"u": str(ident), **hmac_params(key)},
    ).fetchone()
    assert as_uuid == uuid.UUID(hex=pseudonymize(str(ident), key)[:32])


def test_short_keys_are_refused() -> None:
    with pytest.raises(ConfigError, match="at least 16"):
        hmac_params("short")


# ----------------------------------------------------------------------------- the policy file
@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (
            {"anonymization": {"columns": {"users.mail": "mask"}}},
            "users has no source column 'mail'",
        ),
        ({"anonymization": {"columns": {"users.id": "mask"}}}, "mask applies to text columns"),
        (
            {"anonymization": {"columns": {"users.tenant_id": "remove"}}},
            "cannot remove a NOT NULL column",
        ),
        (
            {"anonymization": {"columns": {"users.country": "hash"}}},
            "varchar.2. cannot hold a 64-digit hash",
        ),
        ({"anonymization": {"columns": {"users.email": "blur"}}}, "'hash', 'mask' or 'remove'"),
        ({"scrubber": {"columns": ["events.revenue"]}}, "reads text and jsonb columns"),
        ({"consent": {"required": True, "tables": ["experiments"]}}, "has no user_id column"),
        (
            {"categories": {"a": ["sessions"]}, "dataRetention": {"a": 5}},
            "unknown table 'sessions'",
        ),
        (
            {"dataRetention": {"a": 5}, "categories": {"a": ["events"], "b": ["events"]}},
            "no dataRetention days",
        ),
        ({"dataRetention": {"a": 0}, "categories": {"a": ["events"]}}, "at least 1 day"),
        ({"retention": {"a": 5}}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_policies_name_the_problem(tmp_path: Path, policy: dict, message: str) -> None:
    path = tmp_path / "policy.yml"
    path.write_text(json.dumps(policy))
    with pytest.raises(ConfigError, match=message) as info:
        load_policy(path)
    assert str(path) in str(info.value)


def test_packaged_policy_and_settings() -> None:
    p = load_policy(settings=Settings(privacy_policy=None))
    assert p.rule("users", "email") == "mask" and p.scrubs("prompt_outputs", "prompt")
    assert p.needs_consent("feedback") and p.retention("workflow_steps") == ("systemLogs", 180)
    assert p.retention("users") is None
    with pytest.raises(ConfigError, match="does not exist"):
        load_policy(settings=Settings(privacy_policy="/nonexistent/policy.yml"))


# ----------------------------------------------------------------------------- extracts (Postgres)
pg = pytest.mark.postgres


def _source(dsn: str, sql: str) -> list[tuple]:
    with psycopg.connect(dsn) as c:
        return c.execute(sql).fetchall()


@pytest.fixture(scope="module")
def private_extract(seeded_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo data extracted with the packaged (default) policy."""
    d = tmp_path_factory.mktemp("pg-private")
    names = [
        "users",
        "events",
        "performance_metrics",
        "prompt_outputs",
        "feedback",
        "workflow_steps",
    ]
    extract(d, tables=names, settings=Settings(postgres_dsn=seeded_dsn)).raise_for_errors()
    return d


@pg
def test_default_policy_scrubs_masks_and_leaves_out_non_consenting_users(
    seeded_dsn: str, private_extract: Path
) -> None:
    refused = {
        str(r[0]) for r in _source(seeded_dsn, "SELECT id FROM users WHERE NOT analytics_consent")
    }
    assert refused
    users = rows(private_extract, table("users"))
    assert not refused & set(users["id"].map(str))
    assert users["email"].str.fullmatch(r"[^@]\*\*\*@[\w.-]+").all()
    for name in ("events", "performance_metrics", "prompt_outputs", "feedback"):
        got = rows(private_extract, table(name))
        (expected,) = _source(
            seeded_dsn,
            f"SELECT count(*) FROM {name} WHERE user_id IS NULL OR user_id NOT IN "
            "(SELECT id FROM users WHERE NOT analytics_consent)",
        )[0]
        assert len(got) == expected, name
        assert not refused & set(got["user_id"].dropna().map(str)), name
    prompts = rows(private_extract, table("prompt_outputs"))["prompt"].dropna()
    (with_pii,) = _source(
        seeded_dsn,
        "SELECT count(*) FROM prompt_outputs WHERE prompt LIKE '%@%' "
        "AND (user_id IS NULL OR user_id NOT IN "
        "(SELECT id FROM users WHERE NOT analytics_consent))",
    )[0]
    assert with_pii > 0 and prompts.str.contains("[EMAIL]", regex=False).sum() == with_pii
    assert not prompts.str.contains("@").any() and not prompts.str.contains(r"\+1-555-\d{4}").any()
    ips = rows(private_extract, table("performance_metrics"))["ip_address"].dropna()
    assert ips.str.fullmatch(r"\d+\.\d+\.\*\.\*|[0-9a-f]*:[0-9a-f]*:\*").all()
    props = rows(private_extract, table("events"))["properties"].dropna()
    assert props.map(json.loads).map(type).eq(dict).all()


@pg
def test_hashed_ids_are_keyed_hmacs_and_still_join(seeded_dsn: str, tmp_path: Path) -> None:
    policy = Policy.model_validate(
        {
            "anonymization": {
                "columns": {
                    "users.id": "hash",
                    "user_sessions.user_id": "hash",
                    "prompt_outputs.user_id": "hash",
                    "users.email": "remove",
                }
            },
        }
    )
    s = Settings(postgres_dsn=seeded_dsn, hmac_key=KEY)
    extract(
        tmp_path, tables=["users", "user_sessions", "prompt_outputs"], settings=s, policy=policy
    ).raise_for_errors()
    raw_users = [str(r[0]) for r in _source(seeded_dsn, "SELECT id FROM users")]
    users = rows(tmp_path, table("users"))
    assert sorted(users["id"].map(str)) == sorted(
        str(uuid.UUID(hex=pseudonymize(u, KEY)[:32])) for u in raw_users
    )
    assert users["email"].isna().all()
    with Workbench.open(tmp_path, tenant="acme") as wb:
        joined = wb.sql(
            "SELECT count(*) AS n FROM user_sessions s JOIN users u ON u.id = s.user_id"
        )["n"][0]
        ai = wb.sql(
            "SELECT count(DISTINCT p.user_id) AS n FROM prompt_outputs p "
            "JOIN users u ON u.id = p.user_id"
        )["n"][0]
    (expected,) = _source(
        seeded_dsn,
        "SELECT count(*) FROM user_sessions s JOIN users u ON u.id = s.user_id "
        "WHERE s.tenant_id = 'acme'",
    )[0]
    (expected_ai,) = _source(
        seeded_dsn,
        "SELECT count(DISTINCT p.user_id) FROM prompt_outputs p JOIN users u "
        "ON u.id = p.user_id WHERE p.tenant_id = 'acme'",
    )[0]
    assert (joined, ai) == (expected, expected_ai) and expected > 0


# ----------------------------------------------------------------------------- retention
def test_retention_deletes_old_partitions_and_records_it(demo_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(demo_dir, data)
    policy_file = tmp_path / "policy.yml"
    policy_file.write_text(
        json.dumps(
            {
                "dataRetention": {"systemLogs": 30, "aiPrompts": 365},
                "categories": {
                    "systemLogs": ["workflow_runs", "workflow_steps"],
                    "aiPrompts": ["prompt_outputs"],
                },
            }
        )
    )
    before = read_manifest(data)
    old = [
        f
        for f in before.tables["relaycore.workflow_steps"].files
        if f.path.split("date=")[1][:10] < "2026-10-02"
    ]
    dry = runner.invoke(
        app,
        [
            "privacy",
            "enforce",
            "--data",
            str(data),
            "--policy",
            str(policy_file),
            "--today",
            "2026-11-01",
            "--dry-run",
        ],
    )
    assert dry.exit_code == 0, dry.output
    assert read_manifest(data) == before  # a dry run deletes nothing
    results = {
        r.table: r
        for r in enforce_retention(
            data, policy=load_policy(policy_file), today=dt.date(2026, 11, 1)
        )
    }
    steps = results["relaycore.workflow_steps"]
    assert steps.cutoff == dt.date(2026, 10, 2) and steps.rows == sum(f.rows for f in old) > 0
    assert results["neuroweaver.prompt_outputs"].partitions == ()  # 365 days keep the whole demo
    after = read_manifest(data)
    assert (
        after.tables["relaycore.workflow_steps"].rows
        == before.tables["relaycore.workflow_steps"].rows - steps.rows
    )
    assert after.tables["relaycore.workflow_steps"].min_ts >= "2026-10-02"
    assert all(not (data / f.path).exists() for f in old)
    records = [r for r in after.runs if r["kind"] == "privacy_enforce"]
    assert {r["table"] for r in records} == {"relaycore.workflow_runs", "relaycore.workflow_steps"}
    assert (
        next(r for r in records if r["table"] == "relaycore.workflow_steps")["rows"] == steps.rows
    )
    with Workbench.open(data, tenant="acme") as wb:
        assert wb.sql(
            "SELECT min(created_at) >= TIMESTAMPTZ '2026-10-02' AS ok FROM workflow_steps"
        )["ok"][0]
    assert (
        enforce_retention(data, policy=load_policy(policy_file), today=dt.date(2026, 11, 1))[0].rows
        == 0
    )


def test_privacy_cli_shows_the_policy_and_scrubs_text() -> None:
    shown = runner.invoke(app, ["privacy", "show"])
    assert shown.exit_code == 0, shown.output
    body = json.loads(shown.stdout)
    assert body["anonymization"]["columns"]["users.email"] == "mask"
    assert body["dataRetention"]["aiPrompts"] == 365
    scrubbed = runner.invoke(app, ["privacy", "scrub", "write to ana@example.org from 10.1.2.3"])
    assert scrubbed.stdout.strip() == "write to [EMAIL] from [IP]"
