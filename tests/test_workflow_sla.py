"""Workflow SLAs: targets from config (file, mapping, env), hand-worked breaches, budget; demo."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from auterity_lab.errors import ConfigError
from auterity_lab.warehouse import Workbench
from auterity_lab.workflow import load_sla_config, sla_breaches, sla_over_time

from .builders import build_data_dir
from .test_warehouse import _raw

START, END = "2026-03-01", "2026-03-09"
TARGETS = {
    "default": {"target_ms": 1000, "objective": 0.9},
    "workflows": {"A": {"target_ms": 100, "objective": 0.8}},
}


def _run(
    n: int, wf: str, ms: int | None, status: str = "success", day: int = 2
) -> dict[str, object]:
    return {
        "id": str(uuid.UUID(int=n)),
        "tenant_id": "t1",
        "workflow_id": wf,
        "status": status,
        "started_at": f"2026-03-0{day}T10:00:{n:02d}Z",
        "duration_ms": ms,
    }


RUNS = [
    _run(1, "A", 50),
    _run(2, "A", 90, day=3),
    _run(3, "A", 120, status="failed", day=3),
    _run(4, "A", 300),
    _run(5, "A", None, status="running"),
    _run(6, "A", 999, status="cancelled"),
    _run(7, "B", 500),
    _run(8, "B", 1500),
]


@pytest.fixture(scope="module")
def hand(tmp_path_factory: pytest.TempPathFactory) -> Workbench:
    d = build_data_dir(tmp_path_factory.mktemp("sla"), {"workflow_runs": RUNS})
    with Workbench.open(d, tenant="t1") as wb:
        yield wb


def test_breaches_hand_worked(hand: Workbench) -> None:
    got = sla_breaches(hand, start=START, end=END, targets=TARGETS).set_index("workflow_id")
    a = got.loc["A"]
    assert (a["target_ms"], a["objective"], a["target_source"]) == (100, 0.8, "config")
    assert (a["runs"], a["measured"], a["breaches"], a["unfinished"]) == (
        5,
        4,
        2,
        1,
    )  # cancelled left out
    assert (a["attainment"], a["meets_objective"]) == (0.5, False)
    assert a["allowed_breaches"] == pytest.approx(0.8) and a["budget_used"] == pytest.approx(2.5)
    assert (a["worst_ms"], a["excess_ms"]) == (300, 220)
    assert a["p95_ms"] == pytest.approx(273)
    assert a["p_value"] == pytest.approx(1 - (0.8**4 + 4 * 0.2 * 0.8**3))
    b = got.loc["B"]
    assert (b["target_ms"], b["objective"], b["target_source"], b["breaches"]) == (
        1000,
        0.9,
        "default",
        1,
    )
    assert b["p_value"] == pytest.approx(0.19)
    assert got["q_value"].tolist() == pytest.approx([0.19, 0.19])  # Benjamini-Hochberg of the two


def test_over_time_hand_worked(hand: Workbench) -> None:
    got = sla_over_time(hand, start="2026-03-02", end="2026-03-04", targets=TARGETS, workflow="A")
    assert got["measured"].tolist() == [2, 2] and got["breaches"].tolist() == [1, 1]
    assert got["attainment"].tolist() == [0.5, 0.5]
    assert not got["meets_objective"].any()


def test_targets_from_file_env_and_mapping_agree(
    hand: Workbench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sla.yaml"
    path.write_text(yaml.safe_dump(TARGETS))
    from_mapping = sla_breaches(hand, start=START, end=END, targets=TARGETS)
    from_file = sla_breaches(hand, start=START, end=END, targets=path)
    monkeypatch.setenv("AUTERITY_LAB_WORKFLOW_SLA", str(path))
    from_env = sla_breaches(hand, start=START, end=END)
    pd.testing.assert_frame_equal(from_mapping, from_file)
    pd.testing.assert_frame_equal(from_mapping, from_env)


def test_shipped_targets_and_bad_config(tmp_path: Path) -> None:
    shipped = load_sla_config()
    assert shipped.target("lead-enrichment").target_ms == 4000
    assert shipped.target("never-heard-of-it") == shipped.default
    with pytest.raises(ConfigError, match=r"workflows\.A\.objective"):
        load_sla_config(
            {"default": {"target_ms": 1}, "workflows": {"A": {"target_ms": 5, "objective": 1.5}}}
        )
    with pytest.raises(ConfigError, match="target_mss"):
        load_sla_config({"default": {"target_mss": 1}})
    with pytest.raises(ConfigError, match="does not exist"):
        load_sla_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("default: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_sla_config(bad)


def test_empty_range(hand: Workbench) -> None:
    empty = sla_breaches(hand, start="2030-01-01", end="2030-01-02")
    assert empty.empty and {"p_value", "q_value", "budget_used"} <= set(empty.columns)


def test_demo_bottleneck_breaks_the_lead_enrichment_sla(wb: Workbench, demo_dir: Path) -> None:
    truth = json.loads((demo_dir / "ground_truth.json").read_text())
    (effect,) = [e for e in truth["effects"] if e["kind"] == "bottleneck"]
    wf = effect["targets"][0]["filter"]["workflow_id"]
    before = sla_breaches(wb, start=truth["parameters"]["start"], end=effect["start"]).set_index(
        "workflow_id"
    )
    after = sla_breaches(wb, start=effect["start"], end=effect["end"]).set_index("workflow_id")
    assert before.loc[wf, "meets_objective"] and before.loc[wf, "p_value"] > 0.05
    assert not after.loc[wf, "meets_objective"] and after.loc[wf, "q_value"] < 0.01
    # second implementation: breaches counted in pandas against the shipped targets
    runs = _raw(demo_dir, "workflow_runs", "acme")
    runs = runs[
        (runs["created_at"] >= pd.Timestamp(effect["start"], tz="UTC"))
        & (runs["status"] != "cancelled")
    ]
    config = load_sla_config()
    for name, group in runs.groupby("workflow_id"):
        target = config.target(name)
        assert after.loc[name, "breaches"] == (group["duration_ms"] > target.target_ms).sum()
        assert after.loc[name, "p_value"] == pytest.approx(
            stats.binomtest(
                int(after.loc[name, "breaches"]),
                len(group),
                1 - target.objective,
                alternative="greater",
            ).pvalue
        )
    assert np.isfinite(after["q_value"]).all()
