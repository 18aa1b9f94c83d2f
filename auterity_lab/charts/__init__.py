"""Plotly figures for the tabs and reports, one module per tab; this module holds what they share.

Figures display results; they compute nothing.

Examples
--------
>>> label("ai_p95_latency")
'AI p95 latency (ms)'
"""

from __future__ import annotations

import plotly.io as pio

SYSTEM_COLORS = {"auterity": "#2563eb", "neuroweaver": "#9333ea", "relaycore": "#059669"}
_LABELS = {
    "active_users": "Active users",
    "new_users": "New users",
    "sessions": "Sessions",
    "avg_session_duration": "Avg session (s)",
    "revenue": "Revenue (USD)",
    "ai_requests": "AI requests",
    "ai_p95_latency": "AI p95 latency (ms)",
    "ai_error_rate": "AI error rate",
    "ai_mean_rating": "AI mean rating",
    "ai_tokens": "AI tokens",
    "workflow_runs": "Workflow runs",
    "workflow_failure_rate": "Workflow failure rate",
    "workflow_p95_duration": "Workflow p95 (ms)",
}
# metrics where a rise is bad: their delta is coloured red when it goes up
UP_IS_BAD = {"ai_p95_latency", "ai_error_rate", "workflow_failure_rate", "workflow_p95_duration"}


def setup_notebook() -> None:
    """Make figures render both in JupyterLab and in HTML exported by nbconvert (offline).

    ``plotly_mimetype`` is what JupyterLab draws; ``notebook`` embeds plotly.js in the output,
    so an HTML report shows its charts with no network access.
    """
    pio.renderers.default = "plotly_mimetype+notebook"
    pio.templates.default = "plotly_white"


def label(metric: str) -> str:
    """Human label of a metric name."""
    return _LABELS.get(metric, metric.replace("_", " ").capitalize())


def format_for(unit: str) -> str:
    """d3 number format for a unit (``share`` → percent, ``USD`` → dollars)."""
    return {"share": ".1%", "USD": "$,.0f", "rating 1-5": ".2f", "ms": ",.0f"}.get(unit, ",.0f")
