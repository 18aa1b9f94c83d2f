"""ipywidgets front-ends, one module per tab; this module holds the shared filter widgets.

Widgets display results; computing stays in the library (``overview``, ``business`` ...).

Examples
--------
>>> start, end = date_range_picker("2026-08-01", "2026-11-01")
>>> start.value.isoformat(), end.value.isoformat()
('2026-08-01', '2026-11-01')
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go

from auterity_lab.periods import DateRange


def date_range_picker(start: Any, end: Any) -> tuple[widgets.DatePicker, widgets.DatePicker]:
    """Two date pickers initialised to ``[start, end)``."""
    rng = DateRange.of(start, end)
    layout = widgets.Layout(width="auto")
    return (
        widgets.DatePicker(description="From", value=rng.start.date(), layout=layout),
        widgets.DatePicker(description="To", value=rng.end.date(), layout=layout),
    )


def replace_figure_data(target: go.FigureWidget, source: go.Figure) -> None:
    """Swap the traces' data of a displayed figure for those of a freshly built one."""
    with target.batch_update():
        for old, new in zip(target.data, source.data, strict=True):
            old.update(new.to_plotly_json())
