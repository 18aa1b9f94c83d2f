"""Costs: the price table, the prompt_output_costs view (the contract), and cost analytics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from auterity_lab.errors import ConfigError, QueryParameterError
from auterity_lab.ml import cost
from auterity_lab.warehouse import Workbench

from .test_ml_support import DATA, TENANT, open_rows, output, uid, window
from .test_warehouse import _raw

PRICES = DATA / "prices_change.yml"


def _costed_rows() -> list[dict]:
    # prices (tests/data/ml/prices_change.yml): alpha 1/2 USD per 1M from 2026-01-01, 2/4 from
    # 2026-01-03; beta-* 10/20; beta-large 30/60 from 2026-01-02; gam_* 1/1 (blend 0.5).
    return [
        output(
            "alpha",
            "2026-01-02T10:00",
            id=uid(1),
            input_tokens=1000,
            output_tokens=500,
            tokens_used=1500,
            user_id=uid(101),
            user_rating=5,
        ),
        output(
            "alpha",
            "2026-01-03T00:00",
            id=uid(2),
            input_tokens=1000,
            output_tokens=500,
            tokens_used=1500,
            user_id=uid(101),
            user_rating=2,
        ),
        output(
            "alpha",
            "2026-01-03T05:00",
            id=uid(3),
            tokens_used=1000,
            user_id=uid(102),
            user_rating=4,
        ),
        output("alpha", "2026-01-03T06:00", id=uid(4), input_tokens=400, tokens_used=1000),
        output(
            "beta-small",
            "2026-01-02T00:00",
            id=uid(5),
            input_tokens=100_000,
            output_tokens=10_000,
            user_id=uid(101),
        ),
        output("beta-large", "2026-01-01T23:59", id=uid(6), input_tokens=1000, output_tokens=0),
        output("beta-large", "2026-01-02T00:00", id=uid(7), input_tokens=1000, output_tokens=0),
        output(
            "omega",
            "2026-01-02T00:00",
            id=uid(8),
            input_tokens=1000,
            output_tokens=1000,
            user_id=uid(103),
            user_rating=5,
        ),
        output("alpha", "2025-12-31T23:00", id=uid(9), input_tokens=10, output_tokens=10),
        output("alpha", "2026-01-02T00:00", id=uid(10)),
        output("gamXb", "2026-01-02T00:00", id=uid(11), tokens_used=100),
        output("gam_b", "2026-01-02T00:00", id=uid(12), tokens_used=1_000_000),
    ]


# hand-worked: id -> (cost_usd, price_rule, price entry)
EXPECTED = {
    1: (0.002, "split", "alpha"),  # 1000*1 + 500*2 = 2000 / 1e6
    2: (0.004, "split", "alpha"),  # new price from 2026-01-03 00:00: 1000*2 + 500*4
    3: (0.0025, "blended", "alpha"),  # 1000 * (0.75*2 + 0.25*4) = 2500 / 1e6
    4: (0.0032, "split", "alpha"),  # output derived 1000-400=600: 400*2 + 600*4 = 3200
    5: (1.2, "split", "beta-*"),  # 100000*10 + 10000*20 = 1.2e6 / 1e6
    6: (0.01, "split", "beta-*"),  # exact beta-large not in force yet: pattern 1000*10
    7: (0.03, "split", "beta-large"),  # exact beats pattern: 1000*30
    8: (None, "unpriced", None),  # no price for omega
    9: (None, "unpriced", None),  # before alpha's first price
    10: (None, "unpriced", None),  # no token counts at all
    11: (None, "unpriced", None),  # "_" in gam_* is literal: gamXb does not match
    12: (1.0, "blended", "gam_*"),  # 1e6 * (0.5*1 + 0.5*1) / 1e6
}


@pytest.fixture
def costed(tmp_path: Path) -> Workbench:
    wb = open_rows(tmp_path, {"prompt_outputs": _costed_rows()})
    cost.attach_costs(wb, prices=PRICES)
    return wb


def test_view_costs_each_output_at_the_price_in_force(costed: Workbench) -> None:
    view = costed.sql("SELECT * FROM prompt_output_costs")
    view.index = view["prompt_output_id"].astype(str)
    assert len(view) == len(EXPECTED)
    for n, (usd, rule, entry) in EXPECTED.items():
        row = view.loc[uid(n)]
        assert row["price_rule"] == rule, n
        assert bool(row["priced"]) == (usd is not None), n
        if usd is None:
            assert pd.isna(row["cost_usd"]) and pd.isna(row["price_model"]), n  # never $0
        else:
            assert row["cost_usd"] == pytest.approx(usd, rel=1e-12), n
            assert row["price_model"] == entry, n


def test_view_has_the_contract_columns_and_types(costed: Workbench) -> None:
    described = costed.sql("DESCRIBE prompt_output_costs")
    types = dict(zip(described["column_name"], described["column_type"], strict=True))
    contract = {
        "prompt_output_id": "UUID",
        "model_id": "VARCHAR",
        "created_at": "TIMESTAMP WITH TIME ZONE",
        "input_tokens": "BIGINT",
        "output_tokens": "BIGINT",
        "cost_usd": "DOUBLE",
        "priced": "BOOLEAN",
        "price_rule": "VARCHAR",
    }
    assert list(types)[: len(contract)] == list(contract)
    assert {k: types[k] for k in contract} == contract
    assert set(costed.sql("SELECT DISTINCT price_rule FROM prompt_output_costs")["price_rule"]) == {
        "split",
        "blended",
        "unpriced",
    }


def test_attach_again_replaces_the_prices(costed: Workbench) -> None:
    cost.attach_costs(costed)  # the shipped table knows none of alpha, beta, gam, omega
    assert not costed.sql("SELECT bool_or(priced) AS any FROM prompt_output_costs")["any"].iloc[0]
    frame = cost.load_prices(PRICES)
    cost.attach_costs(costed, prices=frame)
    assert (
        costed.sql("SELECT count(*) FILTER (WHERE priced) AS n FROM prompt_output_costs")["n"].iloc[
            0
        ]
        == 8
    )


def test_cost_by_model_unit_costs(costed: Workbench) -> None:
    got = cost.cost_by_model(costed, start="2026-01-01", end="2026-01-04").set_index("model_id")
    alpha = got.loc["alpha"]
    # alpha in range: ids 1, 2, 3, 4, 10 (9 is before the range); priced 1-4
    assert (
        alpha["requests"] == 5 and alpha["priced_requests"] == 4 and alpha["unpriced_requests"] == 1
    )
    total = 0.002 + 0.004 + 0.0025 + 0.0032
    assert alpha["cost_usd"] == pytest.approx(total)
    assert alpha["cost_per_request"] == pytest.approx(total / 4)
    # users: 101 (ids 1, 2) and 102 (id 3); id 4 has no user and is left out of cost per user
    assert alpha["users"] == 2
    assert alpha["cost_per_user"] == pytest.approx((0.002 + 0.004 + 0.0025) / 2)
    # high rated (>= 4): ids 1 and 3
    assert alpha["high_rated_answers"] == 2
    assert alpha["cost_per_high_rated_answer"] == pytest.approx(total / 2)
    assert alpha["blended_requests"] == 1
    omega = got.loc["omega"]
    assert omega["unpriced_requests"] == 1 and pd.isna(omega["cost_usd"])
    assert pd.isna(omega["cost_per_request"]) and pd.isna(omega["cost_per_high_rated_answer"])
    assert got.index[-2:].tolist() == ["gamXb", "omega"]  # unpriced last
    assert got.loc["beta-large", "cost_usd"] == pytest.approx(0.04)


def test_cost_over_time_and_filters(costed: Workbench) -> None:
    got = cost.cost_over_time(costed, start="2026-01-02", end="2026-01-04", model="alpha")
    assert got["period"].dt.strftime("%Y-%m-%d").tolist() == ["2026-01-02", "2026-01-03"]
    assert got["cost_usd"].tolist() == pytest.approx([0.002, 0.004 + 0.0025 + 0.0032])
    assert got["unpriced_requests"].tolist() == [1, 0]
    with pytest.raises(QueryParameterError, match="grain must be one of hour, day, week"):
        cost.cost_over_time(costed, start="2026-01-02", end="2026-01-04", grain="month")


def test_workflow_costs_hand_worked(tmp_path: Path) -> None:
    runs = [
        {
            "tenant_id": TENANT,
            "id": uid(500),
            "workflow_id": "wf-a",
            "status": "success",
            "started_at": "2026-01-02T10:00",
        },
        {
            "tenant_id": TENANT,
            "id": uid(501),
            "workflow_id": "wf-a",
            "status": "failed",
            "started_at": "2026-01-02T11:00",
        },
        {
            "tenant_id": TENANT,
            "id": uid(502),
            "workflow_id": "wf-b",
            "status": "success",
            "started_at": "2026-01-02T12:00",
        },
    ]
    step = {"tenant_id": TENANT, "step_type": "ai", "status": "success"}
    steps = [
        {**step, "run_id": uid(500), "prompt_output_id": uid(1), "created_at": "2026-01-02T10:00"},
        {
            **step,
            "run_id": uid(500),
            "prompt_output_id": uid(2),
            "created_at": "2026-01-03T00:00",
            "attempt": 2,
        },
        {**step, "run_id": uid(502), "prompt_output_id": uid(8), "created_at": "2026-01-02T12:00"},
        {**step, "run_id": uid(501), "step_type": "db", "created_at": "2026-01-02T11:00"},
    ]
    wb = open_rows(
        tmp_path, {"prompt_outputs": _costed_rows(), "workflow_runs": runs, "workflow_steps": steps}
    )
    got = cost.workflow_costs(wb, start="2026-01-02", end="2026-01-03", prices=PRICES)
    got = got.set_index("workflow_id")
    a = got.loc["wf-a"]
    assert (a["runs"], a["runs_with_ai"], a["ai_calls"], a["unpriced_calls"]) == (2, 1, 2, 0)
    assert a["cost_usd"] == pytest.approx(0.006)  # retry on the new price included
    assert a["cost_per_run"] == pytest.approx(0.003) and a["cost_per_ai_run"] == pytest.approx(
        0.006
    )
    b = got.loc["wf-b"]
    assert b["unpriced_calls"] == 1 and pd.isna(b["cost_usd"]) and pd.isna(b["cost_per_run"])


def test_prices_in_force(costed: Workbench) -> None:
    got = cost.prices_in_force(costed, on="2026-01-02").set_index("model_id")
    assert got.loc["alpha", "input_usd_per_1m"] == 1.0
    assert got.loc["beta-large", "price_model"] == "beta-large"
    assert got.loc["beta-small", "price_model"] == "beta-*"
    assert not got.loc["omega", "priced"] and not got.loc["gamXb", "priced"]
    later = cost.prices_in_force(costed, on="2026-01-03").set_index("model_id")
    assert later.loc["alpha", "output_usd_per_1m"] == 4.0


def test_empty_range_returns_typed_empty_frames(costed: Workbench) -> None:
    for fn in (cost.cost_by_model, cost.cost_over_time, cost.workflow_costs):
        got = fn(costed, start="2030-01-01", end="2030-02-01")
        assert got.empty and "cost_usd" in got.columns, fn.__name__


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "prices:\n  - {model: a, effective_from: 2026-01-01, input_usd_per_1m: -1, "
            "output_usd_per_1m: 1}",
            "greater than or equal to 0",
        ),
        (
            "prices:\n  - {model: a, effective_from: 2026-01-01, input_usd_per_1m: 1, "
            "output_usd_per_1m: 1, colour: red}",
            "colour",
        ),
        ("prices:\n  - {model: a, input_usd_per_1m: 1, output_usd_per_1m: 1}", "effective_from"),
        (
            "prices:\n  - {model: 'a[12]', effective_from: 2026-01-01, input_usd_per_1m: 1, "
            "output_usd_per_1m: 1}",
            "patterns may use",
        ),
        (
            "prices:\n  - {model: a, effective_from: 2026-01-01, input_usd_per_1m: 1, "
            "output_usd_per_1m: 1}\n"
            "  - {model: a, effective_from: 2026-01-01, input_usd_per_1m: 2, output_usd_per_1m: 2}",
            "two prices for 'a' from 2026-01-01",
        ),
        ("prices: [", "not valid YAML"),
    ],
)
def test_bad_price_tables_are_rejected(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "prices.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        cost.load_prices(path)


def test_missing_price_file_and_bad_frame(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        cost.load_prices(tmp_path / "nope.yml")
    with pytest.raises(ConfigError, match="lacks column"):
        cost.resolve_prices(pd.DataFrame({"model": ["a"]}))


def test_environment_variable_overrides_the_shipped_table(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "gpt-4o" in set(cost.load_prices()["model"])
    monkeypatch.setenv(cost.PRICES_ENV, str(PRICES))
    assert set(cost.load_prices()["model"]) == {"alpha", "beta-*", "beta-large", "gam_*"}


def test_shipped_prices_match_the_demo_ground_truth(demo_dir: Path, wb: Workbench) -> None:
    truth = json.loads((demo_dir / "ground_truth.json").read_text())["models"]
    in_force = cost.prices_in_force(wb, on="2026-10-31").set_index("model_id")
    for model, t in truth.items():
        assert in_force.loc[model, "input_usd_per_1m"] == t["price_usd_per_1m_input_tokens"]
        assert in_force.loc[model, "output_usd_per_1m"] == t["price_usd_per_1m_output_tokens"]


def test_demo_costs_equal_pandas(wb: Workbench, demo_dir: Path) -> None:
    start, end = "2026-09-01", "2026-10-01"
    truth = json.loads((demo_dir / "ground_truth.json").read_text())["models"]
    p = window(_raw(demo_dir, "prompt_outputs", "acme"), start, end)
    price_in = p["model_id"].map({m: t["price_usd_per_1m_input_tokens"] for m, t in truth.items()})
    price_out = p["model_id"].map(
        {m: t["price_usd_per_1m_output_tokens"] for m, t in truth.items()}
    )
    p = p.assign(cost=(p["input_tokens"] * price_in + p["output_tokens"] * price_out) / 1e6)
    expected = p.groupby("model_id").agg(cost=("cost", "sum"), n=("cost", "size"))
    high = p[p["user_rating"].astype(float) >= 4].groupby("model_id").size()
    got = cost.cost_by_model(wb, start=start, end=end).set_index("model_id")
    for model in expected.index:
        assert got.loc[model, "cost_usd"] == pytest.approx(expected.loc[model, "cost"], rel=1e-9)
        assert got.loc[model, "cost_per_high_rated_answer"] == pytest.approx(
            expected.loc[model, "cost"] / high[model], rel=1e-9
        )
    assert got["unpriced_requests"].sum() == 0
    day = cost.cost_over_time(wb, start=start, end=end)
    assert day["cost_usd"].sum() == pytest.approx(p["cost"].sum(), rel=1e-9)
    assert np.isfinite(got["cost_per_user"]).all()


def test_cached_cost_analyses_key_on_the_prices_in_effect(demo_dir: Path, tmp_path: Path) -> None:
    from auterity_lab.config import Settings

    settings = Settings(data_dir=demo_dir, cache_dir=tmp_path / "cache")
    kw = {"start": "2026-10-01", "end": "2026-11-01", "grain": "week"}
    doubled = cost.load_prices()
    doubled[["input_usd_per_1m", "output_usd_per_1m"]] *= 2
    with Workbench.open(demo_dir, tenant="acme", settings=settings) as wb:
        base = cost.cost_over_time(wb, **kw)
    with Workbench.open(demo_dir, tenant="acme", settings=settings) as wb:
        again = cost.cost_over_time(wb, **kw)
        assert not wb.has_relation(cost.COST_VIEW)  # a hit attaches nothing
        cost.attach_costs(wb, prices=doubled)  # other prices in effect: another key
        dear = cost.cost_over_time(wb, **kw)
        with wb.no_cache():
            direct = cost.cost_over_time(wb, **kw)
        explicit = cost.cost_over_time(wb, **kw, prices=doubled)
    pd.testing.assert_frame_equal(again, base)
    pd.testing.assert_frame_equal(dear, direct)
    pd.testing.assert_frame_equal(explicit, direct)
    priced = base["cost_usd"].notna()
    assert priced.any()
    np.testing.assert_allclose(dear.loc[priced, "cost_usd"], 2 * base.loc[priced, "cost_usd"])
