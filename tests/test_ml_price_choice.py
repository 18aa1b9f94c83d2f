"""The cost view's price choice against a second implementation, on random price tables.

``prompt_output_costs`` looks exact entries up by their validity interval (from the price table
alone) and lists model-days only for patterns; the rule it must keep is the documented one:
among the entries in force on the output's UTC day whose model equals the output's (exact) or
whose glob matches it, the exact one wins, then the longer pattern, then the latest date.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Iterator

import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from auterity_lab.ml.cost import attach_costs, load_prices
from auterity_lab.warehouse import Workbench

from .test_ml_support import open_rows, output, uid

MODELS = ["a-1", "a-2", "b-x", "c", "a_1"]
NAMES = ["a-1", "a-2", "b-x", "c", "a-*", "*-1", "?-x", "*", "a_?", "b-*"]
DAYS = [dt.date(2026, 1, d) for d in range(1, 7)]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workbench]:
    """One output per model and day, at noon, plus a model-less one; ids number them."""
    rows = [
        output(
            model,
            f"{day.isoformat()}T12:00:00",
            id=uid(10 * i + j),
            input_tokens=1000 * (i + 1),
            output_tokens=100 * (j + 1),
        )
        for i, model in enumerate(MODELS)
        for j, day in enumerate(DAYS)
    ] + [output(None, "2026-01-03T12:00:00", id=uid(999), input_tokens=5, output_tokens=5)]
    with open_rows(tmp_path_factory.mktemp("price_choice"), {"prompt_outputs": rows}) as bench:
        yield bench


def _best(entries: list[dict], model: str | None, day: dt.date) -> list[dict]:
    """The entries the rule allows for (model, day): all tied for first place."""
    if model is None:
        return []
    candidates = [
        e
        for e in entries
        if e["effective_from"] <= day
        and (
            fnmatch.fnmatchcase(model, e["model"])
            if any(c in e["model"] for c in "*?")
            else e["model"] == model
        )
    ]

    def key(e: dict) -> tuple:
        pattern = any(c in e["model"] for c in "*?")
        return (pattern, -len(e["model"].replace("*", "").replace("?", "")), -e["ordinal"])

    if not candidates:
        return []
    first = min(key(e) for e in candidates)
    return [e for e in candidates if key(e) == first]


entry = st.fixed_dictionaries(
    {
        "model": st.sampled_from(NAMES),
        "effective_from": st.sampled_from(DAYS),
        "input_usd_per_1m": st.integers(1, 50),
        "output_usd_per_1m": st.integers(1, 50),
    }
)


@settings(max_examples=40, deadline=None)
@given(st.lists(entry, max_size=8, unique_by=lambda e: (e["model"], e["effective_from"])))
def test_view_chooses_the_documented_price(
    outputs: Workbench, tmp_path_factory: pytest.TempPathFactory, entries: list[dict]
) -> None:
    path = tmp_path_factory.mktemp("prices") / "prices.yml"
    path.write_text(
        yaml.safe_dump(
            {"prices": [e | {"effective_from": str(e["effective_from"])} for e in entries]}
        )
    )
    attach_costs(outputs, prices=load_prices(path))
    for e in entries:
        e["ordinal"] = e["effective_from"].toordinal()
    with outputs.no_cache():
        view = outputs.sql(
            "SELECT prompt_output_id, model_id, date, price_model, price_effective_from, "
            "cost_usd, price_rule FROM prompt_output_costs"
        )
    assert len(view) == len(MODELS) * len(DAYS) + 1  # one row per output, never more
    for row in view.itertuples():
        model = None if pd.isna(row.model_id) else row.model_id
        allowed = _best(entries, model, pd.Timestamp(row.date).date())
        if not allowed:
            assert row.price_rule == "unpriced" and pd.isna(row.cost_usd), row
            continue
        chosen = [
            e
            for e in allowed
            if e["model"] == row.price_model
            and e["effective_from"] == pd.Timestamp(row.price_effective_from).date()
        ]
        assert len(chosen) == 1, (row, allowed)
        i, j = divmod(int(str(row.prompt_output_id).replace("-", ""), 16), 10)
        usd = (
            1000 * (i + 1) * chosen[0]["input_usd_per_1m"]
            + 100 * (j + 1) * chosen[0]["output_usd_per_1m"]
        ) / 1e6
        assert row.price_rule == "split" and row.cost_usd == pytest.approx(usd, rel=1e-12)
