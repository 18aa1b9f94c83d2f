"""AI/ML queries answered from the prompt-output rollups when they may (same frames).

``queries/rollups/ml_model_performance.sql`` and ``queries/rollups/ml_latency_histogram.sql``
read the rollups ``model_days``, ``model_user_days`` and ``model_latency_days``
(:mod:`auterity_lab.rollups`), which keep model and model version but not the prompt version:
a prompt-version filter or arm reads the rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from auterity_lab import rollups

if TYPE_CHECKING:
    import pandas as pd

    from auterity_lab.warehouse import Workbench

FORM_ROLLUPS: dict[str, tuple[str, ...]] = {
    "ml_model_performance": ("model_days", "model_user_days", "model_latency_days"),
    "ml_latency_histogram": ("model_latency_days",),
}
"""Query name → the rollups its form in ``queries/rollups/`` reads."""


def query(wb: Workbench, name: str, /, **params: Any) -> pd.DataFrame:
    """``wb.query(name, **params)``, from the rollup form when the rollups can answer it.

    Examples
    --------
    >>> query(wb, "ml_model_performance", start=s, end=e, model=None,
    ...       model_version=None, prompt_version=None)                    # doctest: +SKIP
    """
    by_prompt = params.get("prompt_version") is not None or params.get("by") == "prompt_version"
    on = () if by_prompt else FORM_ROLLUPS[name]
    return rollups.query_or_rows(wb, name, on=on, **params)
