"""The business SQL files keep their shared blocks identical and run on their own."""

# ruff: noqa: F811  (test functions take the fixtures imported from test_business_data)

from __future__ import annotations

import re

import pytest

from auterity_lab.business.scope import BREAKDOWNS
from auterity_lab.queries import list_queries, load_query
from auterity_lab.warehouse import Workbench

from .test_business_data import hand, hand_dir  # noqa: F401  (fixtures)

QUERIES = [q for q in list_queries() if q.startswith("business_")]
_SCOPE_PARAMS = {"breakdown", "device", "country", "plan", "channel"}


def _block(sql: str, name: str) -> str | None:
    m = re.search(rf"-- {name}:begin.*?-- {name}:end", sql, flags=re.S)
    return m[0] if m else None


def test_every_query_with_user_filters_shares_one_scope_block() -> None:
    scoped = [q for q in QUERIES if {p.name for p in load_query(q).params} >= _SCOPE_PARAMS]
    assert len(scoped) == 11
    blocks = {q: _block(load_query(q).sql, "scope") for q in scoped}
    assert None not in blocks.values(), [q for q, b in blocks.items() if b is None]
    assert len(set(blocks.values())) == 1, "the scope CTE differs between files"
    block = next(iter(blocks.values()))
    for name, column in BREAKDOWNS.items():  # the SQL knows every breakdown of the registry
        assert f"WHEN '{name}' THEN {column}" in block
        assert f"${name} IS NULL OR list_contains(${name}, {column})" in block


def test_bucketed_queries_share_one_periods_block() -> None:
    blocks = {q: _block(load_query(q).sql, "periods") for q in QUERIES}
    found = {b for b in blocks.values() if b is not None}
    assert len(found) == 1 and sum(b is not None for b in blocks.values()) == 8


@pytest.mark.parametrize("name", QUERIES)
def test_query_runs_standalone_with_its_defaults(hand: Workbench, name: str) -> None:
    q = load_query(name)
    assert q.purpose and q.grain
    params = (
        {"start": "2026-03-02", "end": "2026-03-16"}
        if "start" in {p.name for p in q.params}
        else {}
    )
    if any(p.name == "steps" for p in q.params):
        params["steps"] = ["signup", "activate"]
    frame = hand.query(name, **params)
    assert not frame.empty, name
