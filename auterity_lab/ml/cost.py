"""What the AI calls cost: a dated price table, and costs per model, user, run and answer.

Prices are USD per 1M input and output tokens per model (``prices.yml`` shipped with the package;
see that file for the format and the matching and blending rules). :func:`attach_costs` registers
the table on a workbench and defines the view ``prompt_output_costs`` — one costed row per prompt
output — that the cost analytics here and the workflow analytics read.

Examples
--------
>>> prices = load_prices().set_index("model")
>>> prices.loc["mistral-small", ["input_usd_per_1m", "output_usd_per_1m"]].tolist()
[0.2, 0.6]
>>> attach_costs(wb)                                                          # doctest: +SKIP
>>> wb.sql("SELECT price_rule, count(*) AS n FROM prompt_output_costs GROUP BY 1")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from auterity_lab.cache import cached, digest, frame_digest
from auterity_lab.errors import ConfigError
from auterity_lab.ml._params import ai_params, check_grain
from auterity_lab.queries import coerce, load_query

if TYPE_CHECKING:
    from auterity_lab.warehouse import Workbench

PRICES_ENV = "AUTERITY_LAB_PRICES"
"""Environment variable naming a price YAML that replaces the shipped table."""

COST_VIEW = "prompt_output_costs"
PRICE_TABLE = "model_prices"
COST_RELATIONS = (PRICE_TABLE, COST_VIEW)
"""The relations :func:`attach_costs` defines."""

PriceSource = str | Path | pd.DataFrame | None
"""A price YAML path, an already loaded price frame (:func:`load_prices`), or None (default)."""

_GLOB_CHARS = re.compile(r"[*?]")


class _Price(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)
    effective_from: dt.date
    input_usd_per_1m: float = Field(ge=0)
    output_usd_per_1m: float = Field(ge=0)
    blended_input_share: float | None = Field(None, ge=0, le=1)

    @field_validator("model")
    @classmethod
    def _plain_glob(cls, value: str) -> str:
        if "[" in value or "]" in value:
            raise ValueError("patterns may use * and ? only, not [...] classes")
        return value


class _PriceFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    blended_input_share: float = Field(0.75, ge=0, le=1)
    prices: list[_Price]


def load_prices(source: str | Path | None = None) -> pd.DataFrame:
    """Read and validate a price table.

    Parameters
    ----------
    source
        A YAML file in the shape of the shipped ``prices.yml``. None means the file named by
        ``$AUTERITY_LAB_PRICES`` if set, else the shipped table.

    Returns
    -------
    DataFrame
        One row per price entry, ordered by model and date: ``model`` (id or glob pattern),
        ``is_pattern``, ``like_pattern`` (the SQL ``LIKE`` form of the glob, ``\\`` escapes),
        ``specificity`` (characters other than wildcards), ``effective_from`` (date),
        ``input_usd_per_1m``, ``output_usd_per_1m``, ``blended_input_share``.

    Raises
    ------
    ConfigError
        The file is missing, not YAML, misses a field or has a bad value (negative price, an
        unknown key, two entries for the same model and date).

    Examples
    --------
    >>> load_prices()[["model", "input_usd_per_1m"]].head(3).to_dict("split")["data"]
    [['claude-sonnet', 3.0], ['gpt-4o', 5.0], ['gpt-4o', 2.5]]
    """
    path = _price_path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"price table {path} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:  # a directory, a name too long, binary
        raise ConfigError(f"price table {path} cannot be read: {exc}") from exc
    return _parsed_prices(text, str(path)).copy()  # read every time, parsed once per text


@functools.lru_cache(maxsize=32)
def _parsed_prices(text: str, path: str) -> pd.DataFrame:
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"price table {path} is not valid YAML: {exc}") from exc
    try:
        parsed = _PriceFile.model_validate(loaded)
    except ValidationError as exc:
        raise ConfigError(f"price table {path} is invalid: {exc}") from exc
    return _price_frame(parsed)


def _price_path(source: str | Path | None) -> Path:
    if source is not None:
        if not isinstance(source, str | Path):
            raise ConfigError(
                f"prices must be a path or a price frame, not {type(source).__name__}"
            )
        return Path(source)
    if env := os.environ.get(PRICES_ENV):
        return Path(env)
    return Path(str(resources.files("auterity_lab.ml") / "prices.yml"))


def _price_frame(parsed: _PriceFile) -> pd.DataFrame:
    rows = [
        {
            "model": p.model,
            "is_pattern": bool(_GLOB_CHARS.search(p.model)),
            "like_pattern": _like(p.model),
            "specificity": len(_GLOB_CHARS.sub("", p.model)),
            "effective_from": p.effective_from,
            "input_usd_per_1m": p.input_usd_per_1m,
            "output_usd_per_1m": p.output_usd_per_1m,
            "blended_input_share": (
                parsed.blended_input_share
                if p.blended_input_share is None
                else p.blended_input_share
            ),
        }
        for p in parsed.prices
    ]
    frame = pd.DataFrame(rows, columns=_PRICE_COLUMNS)
    dupes = frame[frame.duplicated(["model", "effective_from"], keep=False)]
    if not dupes.empty:
        first = dupes.iloc[0]
        raise ConfigError(
            f"price table has two prices for {first['model']!r} from {first['effective_from']}"
        )
    return frame.sort_values(["model", "effective_from"], ignore_index=True)


_PRICE_COLUMNS = [
    "model",
    "is_pattern",
    "like_pattern",
    "specificity",
    "effective_from",
    "input_usd_per_1m",
    "output_usd_per_1m",
    "blended_input_share",
]


def _like(glob: str) -> str:
    escaped = glob.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def resolve_prices(prices: PriceSource = None) -> pd.DataFrame:
    """The price frame for ``prices``: a loaded frame is checked, a path or None is loaded.

    Examples
    --------
    >>> resolve_prices(load_prices()).shape[1]
    8
    """
    if isinstance(prices, pd.DataFrame):
        missing = [c for c in _PRICE_COLUMNS if c not in prices.columns]
        if missing:
            raise ConfigError(
                f"price frame lacks column(s) {', '.join(missing)}; build it with load_prices()"
            )
        return prices[_PRICE_COLUMNS]
    return load_prices(prices)


def attach_costs(wb: Workbench, /, *, prices: PriceSource = None) -> None:
    """Register the price table as ``model_prices`` and define the view ``prompt_output_costs``.

    Calling it again replaces both (e.g. with another price table).

    Parameters
    ----------
    wb
        The tenant's workbench.
    prices
        A price YAML path, a frame from :func:`load_prices`, or None for ``$AUTERITY_LAB_PRICES``
        / the shipped table.

    Notes
    -----
    The view has one row per prompt output of the tenant with the columns
    ``prompt_output_id`` (UUID), ``model_id``, ``created_at``, ``input_tokens``, ``output_tokens``
    (BIGINT; a missing one is derived from ``tokens_used`` when the other is known),
    ``cost_usd`` (DOUBLE, NULL when unpriced), ``priced`` (BOOLEAN), ``price_rule``
    (``'split'`` | ``'blended'`` | ``'unpriced'``), then ``tokens`` (total), ``price_model`` and
    ``price_effective_from`` (the entry used). See ``queries/ml_prompt_output_costs.sql``.

    Examples
    --------
    >>> attach_costs(wb, prices="my_prices.yml")                               # doctest: +SKIP
    >>> wb.sql("SELECT sum(cost_usd) AS usd FROM prompt_output_costs")         # doctest: +SKIP
    """
    frame = resolve_prices(prices)
    wb.register(PRICE_TABLE, frame)
    wb.create_view(COST_VIEW, load_query("ml_prompt_output_costs").sql)


def ensure_costs(wb: Workbench, prices: PriceSource) -> None:
    """Attach costs unless ``prompt_output_costs`` already exists and no ``prices`` were given."""
    if prices is not None or not wb.has_relation(COST_VIEW):
        attach_costs(wb, prices=prices)


def costs_identity(wb: Workbench, prices: PriceSource) -> str:
    """What the cost relations hold once ``ensure_costs(wb, prices)`` has run, without running it.

    The price table by content and the view by its SQL: a cached cost analysis takes it as a
    parameter (so its key names the prices) and attaches the costs only on a miss, so that a
    hit needs neither the price table nor the view.

    Examples
    --------
    >>> costs_identity(wb, None) == costs_identity(wb, load_prices())      # doctest: +SKIP
    True
    """
    if prices is None and wb.has_relation(COST_VIEW):
        state = wb.relation_state()
        return json.dumps({name: state.get(name) for name in COST_RELATIONS}, sort_keys=True)
    attached = {
        PRICE_TABLE: f"frame:{frame_digest(resolve_prices(prices))}",
        COST_VIEW: f"view:{digest(load_query('ml_prompt_output_costs').sql)}",
    }
    return json.dumps(attached, sort_keys=True)


def cost_by_model(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    model: str | None = None,
    model_version: str | None = None,
    prompt_version: str | None = None,
    prices: PriceSource = None,
) -> pd.DataFrame:
    """AI spend per model with unit costs: per request, per user, per high-rated answer.

    Parameters
    ----------
    wb
        The tenant's workbench.
    start, end
        The UTC range ``[start, end)`` of the outputs' ``created_at``.
    model, model_version, prompt_version
        Optional filters; None means all.
    prices
        A price YAML path or frame; None uses the costs already attached to ``wb`` (else
        ``$AUTERITY_LAB_PRICES`` / the shipped table).

    Returns
    -------
    DataFrame
        One row per ``model_id``, most expensive first, unpriced models last: ``requests``,
        ``priced_requests``, ``unpriced_requests``, ``input_tokens``, ``output_tokens``,
        ``tokens``, ``cost_usd`` (priced outputs only; NaN — never 0 — when none is priced),
        ``cost_per_request``, ``users``, ``cost_per_user``, ``high_rated_answers``,
        ``cost_per_high_rated_answer`` (cost of all priced calls / priced answers rated >= 4),
        ``blended_requests`` (costed by the blended rule).

    Examples
    --------
    >>> cost_by_model(wb, start="2026-10-01", end="2026-11-01")              # doctest: +SKIP
    """
    ensure_costs(wb, prices)
    return wb.query(
        "ml_cost_by_model",
        **ai_params(
            start, end, model=model, model_version=model_version, prompt_version=prompt_version
        ),
    )


def cost_over_time(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    grain: str = "day",
    model: str | None = None,
    model_version: str | None = None,
    prompt_version: str | None = None,
    prices: PriceSource = None,
) -> pd.DataFrame:
    """AI spend per ``hour``, ``day`` or ``week`` and model.

    Returns
    -------
    DataFrame
        One row per ``period`` (UTC bucket start) and ``model_id`` with outputs: ``requests``,
        ``priced_requests``, ``unpriced_requests``, ``tokens``, ``cost_usd`` (NaN when no output
        of the bucket is priced), ``cost_per_request``.

    Examples
    --------
    >>> cost_over_time(wb, start="2026-10-01", end="2026-11-01", grain="week")  # doctest: +SKIP
    """
    params = ai_params(
        start, end, model=model, model_version=model_version, prompt_version=prompt_version
    )
    params["grain"] = check_grain(grain)
    return _cost_over_time(wb, params, prices=prices, costs=costs_identity(wb, prices))


@cached("ml_performance", tables=["neuroweaver.prompt_outputs"], relations=[])
def _cost_over_time(
    wb: Workbench, params: dict[str, Any], /, *, prices: PriceSource, costs: str
) -> pd.DataFrame:
    """:func:`cost_over_time`, keyed by the prices in effect (``costs``)."""
    ensure_costs(wb, prices)
    return wb.query("ml_cost_over_time", **params)


def workflow_costs(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    model: str | None = None,
    model_version: str | None = None,
    prompt_version: str | None = None,
    prices: PriceSource = None,
) -> pd.DataFrame:
    """AI spend per workflow: what the AI calls of its steps cost per run.

    Returns
    -------
    DataFrame
        One row per ``workflow_id`` with runs created in ``[start, end)``: ``runs``,
        ``runs_with_ai``, ``ai_calls`` (every step attempt that called a model, retries
        included), ``unpriced_calls``, ``cost_usd`` (NaN when no call is priced),
        ``cost_per_run`` (over all runs), ``cost_per_ai_run`` (over runs with an AI call).
        The model filters restrict the AI calls counted, not the runs.

    Examples
    --------
    >>> workflow_costs(wb, start="2026-10-01", end="2026-11-01")  # doctest: +SKIP
    """
    ensure_costs(wb, prices)
    return wb.query(
        "ml_workflow_costs",
        **ai_params(
            start, end, model=model, model_version=model_version, prompt_version=prompt_version
        ),
    )


def prices_in_force(wb: Workbench, /, *, on: Any, prices: PriceSource = None) -> pd.DataFrame:
    """The price in force on the UTC day ``on`` for every model the tenant has called.

    Returns
    -------
    DataFrame
        One row per ``model_id``: ``priced`` (False when no entry is in force: such calls are
        reported as unpriced), ``price_model`` (the matching entry: id or pattern),
        ``effective_from``, ``input_usd_per_1m``, ``output_usd_per_1m``,
        ``blended_input_share``.

    Examples
    --------
    >>> prices_in_force(wb, on="2026-10-31")                                 # doctest: +SKIP
    """
    ensure_costs(wb, prices)
    return wb.query("ml_prices_in_force", on=coerce(on, "DATE", "on"))
