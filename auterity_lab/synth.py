"""Deterministic synthetic demo data for all ten source tables, with planted effects.

:func:`generate_demo` writes the extracts of every table in
:func:`auterity_lab.schema.source_tables` through :func:`auterity_lab.manifest.write_extract` (so
the layout, manifest and schema checks are the real ones) plus ``DIR/ground_truth.json``, which
lists every effect planted in the data so that the analytics and detectors can be tested against
known answers. Same arguments, byte-identical Parquet.

The data
--------
Each tenant launches on the first day of the range: users sign up (about +1 %/day), come back
with decaying probability (about 36 % week-1 retention, DAU/MAU about 12 %), open sessions, call
AI models (Neuroweaver ``prompt_outputs``), rate some answers (``feedback``), go through a signup
→ activate → subscribe funnel with monthly payments (``events``), hit three APIs
(``performance_metrics``) and trigger four workflows whose steps retry, fail and call AI models
(RelayCore ``workflow_runs``/``workflow_steps``). Weekends are quieter. Tenants differ in size
(acme is the largest). Every user's ``created_at`` is inside the range, so active users ramp up
during the first weeks.

Planted effects (see ``ground_truth.json`` for dates, tenants and magnitudes)
----------------------------------------------------------------------------
``lagged_correlation``
    A daily AR(1) latent factor ``L`` per tenant multiplies AI latency on day *d* by
    ``exp(0.25 L_d)`` and mean session duration on day *d + 1* by ``exp(-0.3 L_d)``: AI latency
    leads session duration by one day, negatively.
``outage``
    One day in the first tenant only: ~30 % of API calls return 5xx, ~25 % of AI calls fail and
    ~45 % of workflow runs fail.
``latency_regression``
    From a date on, ``gpt-4o`` runs a new ``model_version`` and is 40 % slower.
``trend``
    New signups grow 1 %/day; active users follow.
``cheaper_equal_model``
    ``mistral-small`` has the rating distribution of ``gpt-4o`` at a fraction of its price;
    ``llama-3-8b`` is cheapest and clearly worse.
``bottleneck``
    From a date on, step ``crm_lookup`` of workflow ``lead-enrichment`` is 4× slower and becomes
    the step with the largest share of run time.
``experiment_lift``
    Experiment ``prompt-v2-rollout``: treatment users get prompt ``v2`` and rate ~0.27 higher.
``experiment_null``
    Experiment ``response-streaming`` changes nothing (a true negative).
``weekly_seasonality``
    Fewer signups, sessions and workflow runs on Saturdays and Sundays; slightly faster AI calls
    and longer sessions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import shutil
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from auterity_lab.errors import ConfigError
from auterity_lab.manifest import write_extract
from auterity_lab.schema import Table, source_tables

DEMO_END = dt.date(2026, 11, 1)
"""Exclusive end of the demo range: the data covers the ``days`` UTC days before it."""

GROUND_TRUTH_NAME = "ground_truth.json"
TENANT_NAMES: tuple[str, ...] = ("acme", "globex", "initech", "umbrella", "hooli", "vandelay")
_TENANT_SIZES = (1.4, 1.0, 0.6, 0.9, 1.2, 0.8)  # relative volume; the default three sum to 3

_US = 1_000_000
_US_PER_DAY = 86_400 * _US
_CHUNK_SESSIONS = 250_000  # sessions generated (and staged) at a time
_RUN_ID = "demo"

# ---------------------------------------------------------------------------- volumes and shape
_BASE_SIGNUPS = 30.0  # signups per day on day 0 for a tenant of size 1 at scale 1
_GROWTH = 0.01  # planted trend: signups grow 1 %/day
_WEEKEND_SIGNUPS = 0.75
_WEEKEND_THINNING = 0.3  # share of return sessions that do not happen on weekends
_RETURNER_SHARE = 0.45
_LIFETIME_DAYS = 24.0
_VISITS_PER_DAY = 0.6
_HOURLY = np.array(
    [2, 1.5, 1, 1, 1, 1.5, 2.5, 4, 5.5, 6.5, 7, 7.5, 8, 8.5, 8.5, 8, 7.5, 7, 6, 5, 4.5, 4, 3.5, 2.5]
)
_HOURLY = _HOURLY / _HOURLY.sum()

# --------------------------------------------------------------------------- planted magnitudes
_LATENT_PHI = 0.6
_K_LATENCY = 0.25
_K_DURATION = 0.3
_WEEKEND_LATENCY = 0.92
_WEEKEND_DURATION = 1.1
_REGRESSION_FACTOR = 1.4
_BOTTLENECK_FACTOR = 4.0
_RATING_SD = 0.9
_RATING_LIFT = 0.35  # latent shift of prompt v2; about +0.27 after rounding to 1..5
_RATED_SHARE = 0.3
_ERROR_RATE = 0.015
_OUTAGE_AI_ERROR_RATE = 0.25
_OUTAGE_RUN_FAILURE = 0.35  # runs forced to fail at one step (plus the AI errors of that day)
# effect dates as a fraction of the range, in 120ths (days=120: end-45, end-30, end-60, ...)
_OUTAGE_AT, _REGRESSION_AT, _BOTTLENECK_AT, _EXPERIMENT_AT, _NULL_EXPERIMENT_AT = 75, 90, 60, 30, 40


@dataclass(frozen=True)
class _Model:
    name: str
    mix: float  # share of interactive calls
    versions: tuple[str, str]  # before / after the latency regression
    ttft_ms: float
    ms_per_token: float
    output_tokens: float  # median
    rating_mu: float  # latent mean of the 1..5 rating (sd _RATING_SD)
    price_in: float  # USD per 1M input tokens
    price_out: float  # USD per 1M output tokens


_MODELS = (
    _Model("gpt-4o", 0.35, ("2024-08-06", "2024-11-20"), 300, 4.0, 220, 4.30, 2.50, 10.00),
    _Model("claude-sonnet", 0.20, ("2024-10-22", "2024-10-22"), 400, 4.2, 260, 4.42, 3.00, 15.00),
    _Model("mistral-small", 0.30, ("2024-09", "2024-09"), 200, 2.0, 200, 4.30, 0.20, 0.60),
    _Model("llama-3-8b", 0.15, ("3.1-instruct", "3.1-instruct"), 130, 1.5, 180, 3.10, 0.05, 0.08),
)
_MODEL_INDEX = {m.name: i for i, m in enumerate(_MODELS)}
_GPT4O = _MODEL_INDEX["gpt-4o"]

# ------------------------------------------------------------------------------- vocabularies
_COUNTRIES = ("US", "GB", "DE", "FR", "IN", "BR", "JP", "CA", "AU", "ES")
_COUNTRY_P = (0.35, 0.10, 0.09, 0.07, 0.12, 0.08, 0.06, 0.06, 0.04, 0.03)
_CITIES = (
    ("US", "New York"), ("US", "San Francisco"), ("US", "Austin"), ("US", "Chicago"),
    ("GB", "London"), ("GB", "Manchester"), ("DE", "Berlin"), ("DE", "Munich"),
    ("DE", "Hamburg"), ("FR", "Paris"), ("FR", "Lyon"), ("IN", "Bengaluru"), ("IN", "Mumbai"),
    ("IN", "Delhi"), ("BR", "São Paulo"), ("BR", "Rio de Janeiro"), ("JP", "Tokyo"),
    ("JP", "Osaka"), ("CA", "Toronto"), ("CA", "Vancouver"), ("AU", "Sydney"),
    ("AU", "Melbourne"), ("ES", "Madrid"), ("ES", "Barcelona"),
)  # fmt: skip
_DEVICES = ("desktop", "mobile", "tablet")
_DEVICE_P = (0.55, 0.38, 0.07)
_PLANS = ("free", "pro", "team")
_PLAN_PRICE = {"pro": 29.00, "team": 99.00}
_CHANNELS = ("organic", "paid_search", "social", "referral", "email")
_CHANNEL_P = (0.40, 0.22, 0.15, 0.13, 0.10)
_CHANNEL_ACTIVATION = np.array([0.60, 0.50, 0.45, 0.75, 0.65])
_SUBSCRIBE_SHARE = 0.2
_FEATURES = ("chat", "summarize", "translate", "workflow_builder", "export", "search", "dashboard")

_CHROME = "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0"
_PLATFORMS = (  # device, os, browser, weight within device, user agent
    ("desktop", "Windows", "Chrome", 0.45,
     f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_CHROME} Safari/537.36"),
    ("desktop", "Windows", "Edge", 0.15,
     f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_CHROME} Safari/537.36 Edg/129.0.0.0"),
    ("desktop", "Windows", "Firefox", 0.05,
     "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0"),
    ("desktop", "macOS", "Chrome", 0.15,
     f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) {_CHROME} Safari/537.36"),
    ("desktop", "macOS", "Safari", 0.15,
     "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.0 Safari/605.1.15"),
    ("desktop", "Linux", "Firefox", 0.05,
     "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"),
    ("mobile", "iOS", "Safari", 0.50,
     "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/18.0 Mobile/15E148 Safari/604.1"),
    ("mobile", "Android", "Chrome", 0.45,
     f"Mozilla/5.0 (Linux; Android 14; Pixel 8) {_CHROME} Mobile Safari/537.36"),
    ("mobile", "Android", "Samsung Internet", 0.05,
     "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36"),
    ("tablet", "iPadOS", "Safari", 0.70,
     "Mozilla/5.0 (iPad; CPU OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.0 Mobile/15E148 Safari/604.1"),
    ("tablet", "Android", "Chrome", 0.30,
     f"Mozilla/5.0 (Linux; Android 14; SM-X710) {_CHROME} Safari/537.36"),
)  # fmt: skip

_ENDPOINTS = (  # service, endpoint, method, median ms, sigma, weight, AI-backed
    ("auterity-api", "/api/v1/auth/login", "POST", 180, 0.4, 0.06, False),
    ("auterity-api", "/api/v1/sessions", "GET", 45, 0.5, 0.10, False),
    ("auterity-api", "/api/v1/events", "POST", 30, 0.5, 0.16, False),
    ("auterity-api", "/api/v1/dashboard", "GET", 320, 0.6, 0.10, False),
    ("auterity-api", "/api/v1/users/me", "GET", 25, 0.4, 0.08, False),
    ("neuroweaver-api", "/v1/completions", "POST", 1100, 0.6, 0.16, True),
    ("neuroweaver-api", "/v1/embeddings", "POST", 90, 0.4, 0.06, False),
    ("neuroweaver-api", "/v1/feedback", "POST", 40, 0.4, 0.05, False),
    ("neuroweaver-api", "/v1/models", "GET", 15, 0.3, 0.03, False),
    ("relaycore-api", "/v1/workflows", "GET", 60, 0.4, 0.06, False),
    ("relaycore-api", "/v1/workflows/{id}/runs", "POST", 150, 0.5, 0.08, False),
    ("relaycore-api", "/v1/runs/{id}", "GET", 35, 0.4, 0.06, False),
)
_STATUS_CODES = (200, 400, 401, 403, 404, 429, 500, 502, 503)
_STATUS_P = (0.955, 0.01, 0.01, 0.005, 0.01, 0.005, 0.003, 0.001, 0.001)
_OUTAGE_STATUS_P = (0.66, 0.01, 0.01, 0.005, 0.01, 0.005, 0.12, 0.06, 0.12)
_STATUS_MESSAGES = (
    None, "400 Bad Request: invalid payload", "401 Unauthorized: token expired", "403 Forbidden",
    "404 Not Found", "429 Too Many Requests: rate limit exceeded", "500 Internal Server Error",
    "502 Bad Gateway: upstream unavailable", "503 Service Unavailable",
)  # fmt: skip
_IP_FIRST_OCTETS = np.array([23, 31, 45, 52, 66, 73, 81, 91, 103, 109, 142, 151, 176, 185, 203])

# ---------------------------------------------------------------------------------- prompts
_DOCS = (
    "customer complaint", "quarterly report", "meeting transcript", "support ticket",
    "product spec", "contract clause", "release notes", "sales call transcript",
    "job description", "incident postmortem", "board memo", "user interview",
)  # fmt: skip
_TOPICS = (
    "our refund policy", "the Q3 roadmap", "SOC 2 compliance", "usage-based pricing",
    "vector databases", "the onboarding checklist", "churn analysis", "A/B testing",
    "the new API rate limits", "data retention rules", "the holiday schedule", "SSO setup",
    "the pricing change", "GDPR requests", "prompt engineering",
)  # fmt: skip
_METRICS = (
    "active users", "revenue", "churn", "signups", "average order value", "support tickets",
    "refunds", "trial conversions", "API errors", "token spend",
)  # fmt: skip
_LANGUAGES = ("German", "French", "Spanish", "Japanese")
_PROMPT_TASKS = (  # category, templates, fillers
    ("summarize", ("Summarize this {} in three bullet points.",
                   "Give me a one-paragraph summary of the {}."), _DOCS),
    ("email", ("Write a polite email reply about {}.",
               "Draft a short announcement email about {}."), _TOPICS),
    ("translate", tuple(f"Translate this {{}} into {lang}." for lang in _LANGUAGES), _DOCS),
    ("explain", ("Explain {} to a new team member.", "What are the pros and cons of {}?",
                 "Create a checklist for {}."), _TOPICS),
    ("analyze", ("Write a SQL query that returns weekly {} by plan.",
                 "Why did {} drop last week? List likely causes."), _METRICS),
    ("extract", ("Classify this {} as urgent or not urgent.",
                 "Extract the action items from this {}."), _DOCS),
    ("ideas", ("Suggest five subject lines for a newsletter about {}.",
               "Brainstorm three blog post ideas about {}."), _TOPICS),
    ("rewrite", ("Rewrite this paragraph about {} to be more concise.",
                 "Make this note about {} sound more professional."), _TOPICS),
)  # fmt: skip
_OUTPUTS = {
    "summarize": (
        "Summary: the document states the main issue, the proposed fix and the next steps.",
        "- Context and goals\n- Two open risks\n- Owners and deadlines for the follow-up",
        "In short: the team agreed on a plan, two risks remain open and a review is scheduled.",
    ),
    "email": (
        "Hi there,\n\nThank you for reaching out. We looked into this and will follow up by "
        "Friday.\n\nBest regards",
        "Subject: A quick update\n\nHello team, here is a short note on what changes and when.",
        "Dear customer, we appreciate your patience and have escalated your request.",
    ),
    "translate": (
        "Here is the translation, keeping the original formatting and tone.",
        "Translation complete. Two idioms were adapted to read naturally.",
        "The translated text follows; product names were left in English.",
    ),
    "explain": (
        "In a nutshell: it exists to reduce risk; start with the basics, then the exceptions.",
        "Pros: faster and cheaper. Cons: more moving parts and a learning curve.",
        "1. Read the policy 2. Ask your lead for access 3. Shadow one full cycle 4. Take notes",
    ),
    "analyze": (
        "SELECT date_trunc('week', created_at) AS week, plan, count(*) FROM events GROUP BY 1, 2;",
        "Likely causes: a tracking change, a seasonal dip, or the pricing page experiment.",
        "Most of the drop comes from mobile users in two countries; check the last release.",
    ),
    "extract": (
        "Urgent: the customer is blocked and mentions a contractual deadline.",
        "Not urgent: informational, no action needed this week.",
        "Action items: 1) send the revised quote 2) schedule a demo 3) update the CRM.",
    ),
    "ideas": (
        "1. What we learned this quarter 2. Five tips to save time 3. Behind the scenes",
        "Ideas: a customer story, a how-to guide and a myth-busting post.",
        "Subject lines: 'New in October', 'Your data, faster', 'Three things we shipped'.",
    ),
    "rewrite": (
        "Here is a more concise version that keeps the key facts and drops the filler.",
        "Revised: clearer structure, active voice and a one-line call to action.",
        "A shorter, more professional version of your note follows.",
    ),
}
_PROMPT_LIBRARY: tuple[tuple[str, int], ...] = tuple(
    (template.format(filler), category)
    for category, (_, templates, fillers) in enumerate(_PROMPT_TASKS)
    for template in templates
    for filler in fillers
)
_FIRST_NAMES = ("jane", "john", "maria", "wei", "arjun", "lucas", "emma", "yuki", "olivia", "noah")
_LAST_NAMES = ("doe", "smith", "garcia", "chen", "patel", "martin", "muller", "tanaka", "rossi")
_ERRORS = (
    "model overloaded (503)", "rate limit exceeded (429)", "upstream connection reset",
    "invalid request: context length exceeded", "content filter triggered",
)  # fmt: skip
_ERROR_P = (0.35, 0.25, 0.2, 0.12, 0.08)
_LOW_COMMENTS = (
    "wrong answer", "hallucinated a source that does not exist", "too long, I asked for a "
    "short answer", "ignored my instructions", "made up numbers", "the translation is wrong",
)  # fmt: skip
_SLOW_COMMENTS = ("too slow", "slow and wrong", "way too slow, took forever")
_MID_COMMENTS = ("ok but a bit long", "fine", "decent, needed edits")
_HIGH_COMMENTS = (
    "perfect, thanks", "exactly what I needed", "great summary", "fast and accurate",
    "saved me an hour",
)  # fmt: skip

# -------------------------------------------------------------------------------- workflows
_COMPANIES = (
    "Northwind", "Contoso", "Fabrikam", "Tailspin Toys", "Wingtip", "Adventure Works",
    "Litware", "Proseware", "Lucerne Publishing", "Alpine Ski House", "Blue Yonder Airlines",
    "Coho Winery", "Fourth Coffee", "Humongous Insurance", "Margie's Travel", "Trey Research",
    "Woodgrove Bank", "Wide World Importers", "Graphic Design Institute", "School of Fine Art",
)  # fmt: skip
_ISSUES = (
    "I was charged twice this month", "The export button does nothing",
    "How do I add a teammate?", "I cannot log in after resetting my password",
    "Please cancel my subscription", "The dashboard shows yesterday's numbers",
    "Can I get an invoice with our VAT number?", "The API returns 429 all the time",
    "How do I connect Slack?", "Our SSO login loops forever",
)  # fmt: skip
@dataclass(frozen=True)
class _AiStep:
    model: str
    input_tokens: float  # median
    prompts: tuple[str, ...]
    outputs: tuple[str, ...]


_AI_STEPS = {
    "enrich_profile": _AiStep(
        "mistral-small", 400,
        tuple(f"Enrich the lead {c}: industry, employee count and headquarters."
              for c in _COMPANIES),
        ("Industry: SaaS; employees: 51-200; headquarters: Austin, TX.",
         "Industry: retail; employees: 1000+; headquarters: Seattle, WA.",
         "Industry: finance; employees: 201-500; headquarters: London, UK."),
    ),
    "classify_ticket": _AiStep(
        "llama-3-8b", 250,
        tuple(f"Classify this support ticket as billing, bug, how-to or account: '{i}'"
              for i in _ISSUES),
        ("billing", "bug", "how-to", "account"),
    ),
    "draft_reply": _AiStep(
        "claude-sonnet", 600,
        tuple(f"Draft a friendly reply to this support ticket: '{i}'" for i in _ISSUES),
        ("Hi! Thanks for flagging this, we have fixed it on our side.",
         "Hello, here are the three steps to do that in settings.",
         "Hi, sorry for the trouble; I have refunded the duplicate charge."),
    ),
    "extract_fields": _AiStep(
        "gpt-4o", 1200,
        tuple(f"Extract vendor, invoice date, total and VAT from the invoice of {c}."
              for c in _COMPANIES),
        ('{"vendor": "Contoso", "date": "2026-09-30", "total": 1200.00, "vat": 0.2}',
         '{"vendor": "Fabrikam", "date": "2026-10-02", "total": 86.40, "vat": 0.19}'),
    ),
    "summarize": _AiStep(
        "gpt-4o", 1500,
        ("Summarize yesterday's KPIs (signups, revenue, errors) for the daily report.",),
        ("Signups up 3%, revenue flat, error rate normal.",
         "Signups steady; two incidents resolved; revenue up 1%."),
    ),
}  # fmt: skip


@dataclass(frozen=True)
class _Step:
    name: str
    kind: str  # ai | http | transform | db
    median_ms: float = 0.0  # non-AI steps
    sigma: float = 0.4
    fail_p: float = 0.0  # per attempt, non-AI steps (AI steps fail when the AI call errors)


@dataclass(frozen=True)
class _Workflow:
    name: str
    share: float  # of event/api/manual runs; 0 = once a day on schedule
    triggers: tuple[tuple[str, float], ...]
    steps: tuple[_Step, ...]


_WORKFLOWS = (
    _Workflow("lead-enrichment", 0.4, (("event", 0.6), ("api", 0.3), ("manual", 0.1)), (
        _Step("fetch_lead", "db", 60), _Step("crm_lookup", "http", 400, 0.5, 0.08),
        _Step("enrich_profile", "ai"), _Step("score_lead", "transform", 35, 0.3),
        _Step("write_crm", "http", 220, 0.5, 0.03))),
    _Workflow("support-triage", 0.35, (("event", 0.8), ("api", 0.15), ("manual", 0.05)), (
        _Step("load_ticket", "db", 50), _Step("classify_ticket", "ai"),
        _Step("route_ticket", "transform", 25, 0.3, 0.005), _Step("draft_reply", "ai"))),
    _Workflow("invoice-processing", 0.25, (("api", 0.5), ("manual", 0.3), ("schedule", 0.2)), (
        _Step("fetch_invoice", "http", 300, 0.5, 0.05), _Step("extract_fields", "ai"),
        _Step("validate_totals", "transform", 40, 0.3, 0.02), _Step("post_ledger", "db", 120),
        _Step("notify_finance", "http", 180, 0.5, 0.02))),
    _Workflow("daily-report", 0.0, (("schedule", 1.0),), (
        _Step("query_metrics", "db", 2500, 0.4, 0.01), _Step("aggregate", "transform", 600, 0.3),
        _Step("summarize", "ai"), _Step("publish_report", "http", 200, 0.4, 0.01))),
)  # fmt: skip
_RUNS_PER_SESSION = 0.1
_RETRYABLE = 0.5
_MAX_ATTEMPTS = 3
_CANCEL_P = 0.02
_STEP_ERRORS = {
    "http": "HTTP 503 from upstream",
    "db": "deadlock detected",
    "transform": "validation error: missing field",
}
_MAX_STEP_MS = 600_000  # steps time out after 10 minutes


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`generate_demo` wrote.

    Attributes
    ----------
    data_dir
        The data directory.
    tenants
        Tenant ids, in generation order.
    rows
        Rows per table, keyed by qualified name (``auterity.users``).
    seconds
        Wall time of the whole generation.
    rows_per_second
        Total rows divided by ``seconds``.
    """

    data_dir: Path
    tenants: tuple[str, ...]
    rows: dict[str, int]
    seconds: float
    rows_per_second: float


@dataclass(frozen=True)
class _Calendar:
    """The date range, effect days and sizes shared by every tenant."""

    seed: int
    scale: float
    start: dt.date
    days: int

    @property
    def end(self) -> dt.date:
        return self.start + dt.timedelta(days=self.days)

    @cached_property
    def day_us(self) -> np.ndarray:
        """Start of each day, microseconds since the epoch (UTC)."""
        epoch_day = (self.start - dt.date(1970, 1, 1)).days
        return (epoch_day + np.arange(self.days, dtype=np.int64)) * _US_PER_DAY

    @property
    def end_us(self) -> int:
        return int(self.day_us[-1]) + _US_PER_DAY

    @cached_property
    def weekend(self) -> np.ndarray:
        return np.array(
            [(self.start + dt.timedelta(days=d)).weekday() >= 5 for d in range(self.days)]
        )

    def at(self, fraction_120: int) -> int:
        """Day index at ``fraction_120``/120 of the range."""
        return self.days * fraction_120 // 120

    def date(self, day: int) -> str:
        return (self.start + dt.timedelta(days=day)).isoformat()


@dataclass(frozen=True)
class _Tenant:
    index: int
    name: str
    size: float
    latent: np.ndarray  # L_d for d = -1 .. days-1 (index 0 is the day before the range)


def generate_demo(
    data_dir: str | Path,
    *,
    tenants: int = 3,
    days: int = 120,
    scale: float = 1.0,
    seed: int = 7,
    end: dt.date = DEMO_END,
    progress: Callable[[str, int], None] | None = None,
) -> DemoSummary:
    """Write deterministic synthetic extracts of every source table, plus their ground truth.

    Parameters
    ----------
    data_dir
        Data directory; created if missing. An existing demo in it is replaced.
    tenants
        Number of tenants (``acme``, ``globex``, ``initech``, ...), at least 1.
    days
        Number of UTC days before ``end`` that the data covers, at least 14.
    scale
        Volume: 1.0 is about 100k sessions and 100k prompt outputs for 3 tenants over 120 days.
    seed
        Seed of every random draw; the same arguments give byte-identical Parquet files.
    end
        Exclusive end date of the range.
    progress
        Called as ``progress(qualified_table_name, rows)`` after each table is published.

    Returns
    -------
    DemoSummary
        Rows per table and throughput.

    Raises
    ------
    ConfigError
        An argument is out of range.

    Examples
    --------
    >>> import tempfile
    >>> s = generate_demo(tempfile.mkdtemp(), tenants=1, days=14, scale=0.02)
    >>> s.tenants, s.rows["auterity.users"] > 0
    (('acme',), True)
    """
    _validate(tenants=tenants, days=days, scale=scale, seed=seed, end=end)
    began = time.perf_counter()
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    cal = _Calendar(seed=seed, scale=float(scale), start=end - dt.timedelta(days=days), days=days)
    names = tenant_ids(tenants)
    staging_root = data_dir / ".staging"
    staging_root.mkdir(exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix="synth-", dir=staging_root))
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone='UTC'")
        con.execute(f"SET temp_directory='{_sql_str(str(stage / 'duckdb.tmp'))}'")
        con.execute(f"SET memory_limit='{_memory_limit_mb()}MB'")
        con.execute("SET enable_progress_bar=false")
        # with more threads, a partitioned COPY loses the ORDER BY within files (DuckDB 1.5.5):
        # row order, and so the bytes, would depend on thread timing
        con.execute("SET threads=1")
        generated = [_generate_tenant(con, cal, i, name, stage) for i, name in enumerate(names)]
        source = {"kind": "demo", "seed": seed, "scale": float(scale), "tenants": tenants,
                  "days": days, "end": end.isoformat()}  # fmt: skip
        rows: dict[str, int] = {}
        for tbl in source_tables():
            files = sorted(str(p) for p in (stage / tbl.name).glob("*.parquet"))
            entry = write_extract(
                con, data_dir, tbl, _publish_sql(tbl), {"files": files}, run_id=_RUN_ID,
                replace_partitions="all", source=source,
            )  # fmt: skip
            rows[tbl.qualified_name] = entry.rows
            if progress is not None:
                progress(tbl.qualified_name, entry.rows)
        _write_json(data_dir / GROUND_TRUTH_NAME, _ground_truth(cal, generated))
    finally:
        con.close()
        shutil.rmtree(stage, ignore_errors=True)
        if staging_root.is_dir() and not any(staging_root.iterdir()):
            staging_root.rmdir()
    seconds = time.perf_counter() - began
    total = sum(rows.values())
    return DemoSummary(data_dir, names, rows, seconds, total / seconds if seconds > 0 else 0.0)


def tenant_ids(n: int) -> tuple[str, ...]:
    """The first ``n`` demo tenant ids.

    Examples
    --------
    >>> tenant_ids(3)
    ('acme', 'globex', 'initech')
    >>> tenant_ids(7)[-1]
    'tenant-07'
    """
    return tuple(
        TENANT_NAMES[i] if i < len(TENANT_NAMES) else f"tenant-{i + 1:02d}" for i in range(n)
    )


def _validate(*, tenants: object, days: object, scale: object, seed: object, end: object) -> None:
    def is_int(v: object) -> bool:
        return isinstance(v, int | np.integer) and not isinstance(v, bool)

    if not is_int(tenants) or tenants < 1:  # type: ignore[operator]
        raise ConfigError(f"tenants must be an integer >= 1, got {tenants!r}")
    if not is_int(days) or days < 14:  # type: ignore[operator]
        raise ConfigError(f"days must be an integer >= 14, got {days!r}")
    if (
        isinstance(scale, bool)
        or not isinstance(scale, int | float | np.integer | np.floating)
        or not math.isfinite(scale)
        or scale <= 0
    ):
        raise ConfigError(f"scale must be a finite number > 0, got {scale!r}")
    if not is_int(seed) or seed < 0:  # type: ignore[operator]
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")
    if not isinstance(end, dt.date) or isinstance(end, dt.datetime):
        raise ConfigError(f"end must be a datetime.date, got {end!r}")


# ============================================================================ one tenant
def _generate_tenant(
    con: duckdb.DuckDBPyConnection, cal: _Calendar, index: int, name: str, stage: Path
) -> _Tenant:
    """Generate one tenant's rows of every table into ``stage/<table>/`` Parquet files."""
    size = _TENANT_SIZES[index] if index < len(_TENANT_SIZES) else 1.0
    rng = _rng(cal, index, "latent")
    latent = np.empty(cal.days + 1)
    latent[0] = rng.normal()
    shocks = rng.normal(0.0, math.sqrt(1 - _LATENT_PHI**2), cal.days)
    for d in range(cal.days):
        latent[d + 1] = _LATENT_PHI * latent[d] + shocks[d]
    ten = _Tenant(index, name, size, latent)

    users = _users(cal, ten)
    sessions = _sessions(cal, ten, users)
    _stage(stage, "users", ten, "all", _users_table(ten, users))
    _stage(stage, "events", ten, "funnel", _funnel_events(cal, ten, users, sessions))
    exposure = _experiments(con, cal, ten, users, sessions, stage)

    counts = np.bincount(sessions["day"], minlength=cal.days)
    chunk_of_day = (np.cumsum(counts) - counts) // _CHUNK_SESSIONS
    bounds = np.searchsorted(sessions["day"], np.arange(cal.days + 1))
    for chunk in np.unique(chunk_of_day):
        chunk_days = np.flatnonzero(chunk_of_day == chunk)
        idx = np.arange(bounds[chunk_days[0]], bounds[chunk_days[-1] + 1])
        _session_chunk(cal, ten, users, sessions, exposure, idx, int(chunk), stage)
        _workflow_chunk(cal, ten, chunk_days, counts[chunk_days], int(chunk), stage)
    return ten


def _users(cal: _Calendar, ten: _Tenant) -> dict[str, np.ndarray]:
    """Users: signups per day growing 1 %/day (the planted trend), attributes, funnel."""
    rng = _rng(cal, ten.index, "users")
    weekend = cal.weekend
    lam = (
        _BASE_SIGNUPS * ten.size * cal.scale * np.exp(_GROWTH * np.arange(cal.days))
        * np.where(weekend, _WEEKEND_SIGNUPS, 1.0)
    )  # fmt: skip
    day = np.repeat(np.arange(cal.days), rng.poisson(lam))
    created = cal.day_us[day] + _time_of_day(rng, len(day))
    order = np.argsort(created, kind="stable")
    day, created = day[order], created[order]
    n = len(day)
    channel = rng.choice(len(_CHANNELS), n, p=_CHANNEL_P)
    # funnel: signup -> activate (60 %) -> subscribe (20 % of activated) -> monthly payments
    activated_at = created + (rng.exponential(1.5, n) * _US_PER_DAY).astype(np.int64)
    activated = (rng.random(n) < _CHANNEL_ACTIVATION[channel]) & (activated_at < cal.end_us)
    subscribed_at = activated_at + (rng.exponential(5.0, n) * _US_PER_DAY).astype(np.int64)
    subscribed = activated & (rng.random(n) < _SUBSCRIBE_SHARE) & (subscribed_at < cal.end_us)
    paid_plan = np.where(rng.random(n) < 0.75, 1, 2)
    cancelled_at = subscribed_at + (rng.exponential(120.0, n) * _US_PER_DAY).astype(np.int64)
    cancelled = subscribed & (cancelled_at < cal.end_us)
    return {
        "id": _uuid_bytes(rng, n),
        "day": day,
        "created": created,
        "country": rng.choice(len(_COUNTRIES), n, p=_COUNTRY_P),
        "device": rng.choice(len(_DEVICES), n, p=_DEVICE_P),
        "channel": channel,
        "consent": rng.random(n) >= 0.05,
        "ip": np.stack(
            [rng.choice(_IP_FIRST_OCTETS, n), rng.integers(0, 256, n), rng.integers(0, 256, n),
             rng.integers(1, 255, n)], axis=1,
        ),  # fmt: skip
        "activated": activated,
        "activated_at": activated_at,
        "subscribed": subscribed,
        "subscribed_at": subscribed_at,
        "paid_plan": paid_plan,
        "cancelled": cancelled,
        "cancelled_at": cancelled_at,
        "plan": np.where(subscribed & ~cancelled, paid_plan, 0),
        "returner": rng.random(n) < _RETURNER_SHARE,
        "lifetime": rng.exponential(_LIFETIME_DAYS, n),
        "visit_rate": rng.gamma(2.0, _VISITS_PER_DAY / 2.0, n),
    }


def _sessions(cal: _Calendar, ten: _Tenant, users: dict[str, np.ndarray]) -> dict[str, Any]:
    """Session skeleton: one session at signup, then returns with decaying probability."""
    rng = _rng(cal, ten.index, "sessions")
    n = len(users["day"])
    visits = rng.poisson(np.where(users["returner"], users["visit_rate"] * users["lifetime"], 0.0))
    ret_user = np.repeat(np.arange(n), visits)
    age = 1 + (rng.random(len(ret_user)) * users["lifetime"][ret_user]).astype(np.int64)
    ret_day = users["day"][ret_user] + age
    keep = ret_day < cal.days
    ret_user, ret_day = ret_user[keep], ret_day[keep]
    keep = ~(cal.weekend[ret_day] & (rng.random(len(ret_day)) < _WEEKEND_THINNING))
    ret_user, ret_day = ret_user[keep], ret_day[keep]
    ret_start = cal.day_us[ret_day] + _time_of_day(rng, len(ret_day))
    user = np.concatenate([np.arange(n), ret_user])
    start = np.concatenate([users["created"], ret_start])
    order = np.lexsort((user, start))
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    day = np.concatenate([users["day"], ret_day])[order]
    return {
        "user": user[order],
        "start": start[order],
        "day": day,
        "signup_session": position[:n],
        "id": _uuid_bytes(rng, len(order)),
        "token": _session_tokens(rng, len(order)),
    }


def _experiments(
    con: duckdb.DuckDBPyConnection,
    cal: _Calendar,
    ten: _Tenant,
    users: dict[str, np.ndarray],
    sessions: dict[str, Any],
    stage: Path,
) -> np.ndarray:
    """Stage both experiments and their assignments; return the v2 exposure time per user.

    Users are exposed at their first session after the experiment starts; the variant is
    ``treatment`` iff ``int(md5('<key>:<user_id>')[:8], 16) % 100 < 50``. The returned array holds,
    per user, the exposure time of treatment users of ``prompt-v2-rollout`` (int64 max otherwise).
    """
    rng = _rng(cal, ten.index, "experiments")
    n_users = len(users["day"])
    experiments, assignments = [], []
    v2_from = np.full(n_users, np.iinfo(np.int64).max)
    for key, name, at in _EXPERIMENTS:
        started = int(cal.day_us[cal.at(at)]) + 9 * 3600 * _US
        later = sessions["start"] >= started
        exposed, first = np.unique(sessions["user"][later], return_index=True)
        exposed_at = sessions["start"][later][first]
        treatment = _treatment(con, key, _uuid_array(users["id"][exposed]))
        if key == _LIFT_EXPERIMENT:
            v2_from[exposed[treatment]] = exposed_at[treatment]
        exp_id = _uuid_bytes(rng, 1)
        experiments.append({
            "id": _uuid_array(exp_id), "tenant_id": pa.array([ten.name]),
            "experiment_key": pa.array([key]), "name": pa.array([name]),
            "status": pa.array(["running"]),
            "variants": pa.array([json.dumps([{"name": "control", "allocation": 50},
                                              {"name": "treatment", "allocation": 50}])]),
            "primary_metric": pa.array(["rating"]), "started_at": _ts(np.array([started])),
            "ended_at": pa.nulls(1, pa.timestamp("us", tz="UTC")),
            "created_at": _ts(np.array([started - 2 * 3600 * _US])),
        })  # fmt: skip
        m = len(exposed)
        assignments.append({
            "id": _uuid_array(_uuid_bytes(rng, m)), "tenant_id": _repeat(ten.name, m),
            "experiment_id": _uuid_array(np.repeat(exp_id, m, axis=0)),
            "user_id": _uuid_array(users["id"][exposed]),
            "variant": _pick(("control", "treatment"), treatment.astype(np.int64)),
            "created_at": _ts(exposed_at),
        })  # fmt: skip
    _stage(stage, "experiments", ten, "all", pa.concat_tables(pa.table(e) for e in experiments))
    _stage(stage, "experiment_assignments", ten, "all",
           pa.concat_tables(pa.table(a) for a in assignments))  # fmt: skip
    return v2_from


_LIFT_EXPERIMENT = "prompt-v2-rollout"
_EXPERIMENTS = (  # key, name, start (120ths of the range)
    (_LIFT_EXPERIMENT, "Prompt template v2 (concise system prompt)", _EXPERIMENT_AT),
    ("response-streaming", "Stream responses token by token", _NULL_EXPERIMENT_AT),
)


def _treatment(con: duckdb.DuckDBPyConnection, key: str, user_ids: pa.Array) -> np.ndarray:
    """Variant by hash: ``int(md5(f"{key}:{user_id}")[:8], 16) % 100 < 50`` (as DuckDB computes)."""
    con.register("_synth_ids", pa.table({"i": np.arange(len(user_ids)), "user_id": user_ids}))
    try:
        out = con.execute(
            "SELECT ('0x' || substr(md5($key || ':' || CAST(user_id AS VARCHAR)), 1, 8))::UBIGINT "
            "% 100 < 50 AS t FROM _synth_ids ORDER BY i",
            {"key": key},
        ).fetchnumpy()
    finally:
        con.unregister("_synth_ids")
    return np.asarray(out["t"], dtype=bool)


# ---------------------------------------------------------------------- users and funnel events
def _users_table(ten: _Tenant, users: dict[str, np.ndarray]) -> pa.Table:
    n = len(users["day"])
    number = pc.cast(pa.array(np.arange(1, n + 1)), pa.string())
    return pa.table({
        "id": _uuid_array(users["id"]), "tenant_id": _repeat(ten.name, n),
        "email": pc.binary_join_element_wise("user", number, "@example.com", ""),
        "country": _pick(_COUNTRIES, users["country"]), "device": _pick(_DEVICES, users["device"]),
        "plan": _pick(_PLANS, users["plan"]),
        "acquisition_channel": _pick(_CHANNELS, users["channel"]),
        "analytics_consent": pa.array(users["consent"]), "created_at": _ts(users["created"]),
    })  # fmt: skip


_EVENT_TYPES = ("signup", "activate", "subscribe", "payment", "cancel", "feature_use")
_PROPERTIES = (
    *(json.dumps({"channel": c}) for c in _CHANNELS),
    *(json.dumps({"plan": p}) for p in _PLANS),
    *(json.dumps({"feature": f}) for f in _FEATURES),
)
_PLAN_PROPS = len(_CHANNELS)  # index of {"plan": "free"} in _PROPERTIES
_FEATURE_PROPS = len(_CHANNELS) + len(_PLANS)


def _funnel_events(
    cal: _Calendar, ten: _Tenant, users: dict[str, np.ndarray], sessions: dict[str, Any]
) -> pa.Table:
    """signup, activate, subscribe, monthly payment and cancel events of every user."""
    rng = _rng(cal, ten.index, "funnel")
    n = len(users["day"])
    sub = np.flatnonzero(users["subscribed"])
    stop = np.where(users["cancelled"], users["cancelled_at"], cal.end_us)[sub]
    period = 30 * _US_PER_DAY
    n_pay = (stop - users["subscribed_at"][sub] - 1) // period
    pay_user = np.repeat(sub, n_pay)
    pay_k = np.arange(len(pay_user)) - np.repeat(np.cumsum(n_pay) - n_pay, n_pay) + 1
    canc = np.flatnonzero(users["cancelled"])
    act = np.flatnonzero(users["activated"])
    user = np.concatenate([np.arange(n), act, sub, pay_user, canc])
    kind = np.concatenate([np.full(n, 0), np.full(len(act), 1), np.full(len(sub), 2),
                           np.full(len(pay_user), 3), np.full(len(canc), 4)])  # fmt: skip
    at = np.concatenate([
        users["created"], users["activated_at"][act], users["subscribed_at"][sub],
        users["subscribed_at"][pay_user] + pay_k * period, users["cancelled_at"][canc],
    ])  # fmt: skip
    plan_prop = _PLAN_PROPS + users["paid_plan"][user]
    props = np.select([kind == 0, kind == 1], [users["channel"][user], -1], plan_prop)
    price = np.array([0.0, _PLAN_PRICE["pro"], _PLAN_PRICE["team"]])[users["paid_plan"][user]]
    has_revenue = (kind == 2) | (kind == 3)
    signup_token = sessions["token"].take(pa.array(sessions["signup_session"][user]))
    return pa.table({
        "id": _uuid_array(_uuid_bytes(rng, len(user))), "tenant_id": _repeat(ten.name, len(user)),
        "user_id": _uuid_array(users["id"][user]),
        "session_id": pc.if_else(pa.array(kind == 0), signup_token, _NULL_STR),
        "event_type": _pick(_EVENT_TYPES, kind), "properties": _pick(_PROPERTIES, props),
        "revenue": pa.array(price, mask=~has_revenue), "created_at": _ts(at),
    })  # fmt: skip


# -------------------------------------------------------------------------- per session chunk
def _session_chunk(
    cal: _Calendar,
    ten: _Tenant,
    users: dict[str, np.ndarray],
    sessions: dict[str, Any],
    v2_from: np.ndarray,
    idx: np.ndarray,
    chunk: int,
    stage: Path,
) -> None:
    """Stage the sessions ``idx`` and what happens in them: feature events, API calls, AI calls."""
    rng = _rng(cal, ten.index, "session-chunk", chunk)
    n = len(idx)
    user = sessions["user"][idx]
    start = sessions["start"][idx]
    day = sessions["day"][idx]
    weekend = cal.weekend[day]
    bounce = rng.random(n) < 0.35
    seconds = np.where(
        bounce, rng.lognormal(math.log(25), 0.8, n), rng.lognormal(math.log(300), 0.9, n)
    )
    seconds *= np.exp(-_K_DURATION * ten.latent[day]) * np.where(weekend, _WEEKEND_DURATION, 1.0)
    duration = np.maximum(1, np.round(seconds)).astype(np.int64)
    page_views = np.where(bounce, 1, 2 + rng.poisson(duration / 120.0))
    event_count = page_views + rng.poisson(1.0 + 0.5 * page_views)
    conversions = rng.binomial(event_count, 0.04)
    device = np.where(rng.random(n) < 0.92, users["device"][user], rng.choice(3, n, p=_DEVICE_P))
    platform = _conditional_choice(rng, device, [p[0] for p in _PLATFORMS], _DEVICES,
                                   np.array([p[3] for p in _PLATFORMS]))  # fmt: skip
    travelling = rng.random(n) >= 0.97
    country = np.where(travelling, rng.choice(10, n, p=_COUNTRY_P), users["country"][user])
    city = _conditional_choice(
        rng, country, [c[0] for c in _CITIES], _COUNTRIES, np.ones(len(_CITIES))
    )
    _stage(stage, "user_sessions", ten, f"s{chunk:05d}", pa.table({
        "id": _uuid_array(sessions["id"][idx]), "tenant_id": _repeat(ten.name, n),
        "user_id": _uuid_array(users["id"][user]),
        "session_id": sessions["token"].take(pa.array(idx)),
        "start_time": _ts(start), "end_time": _ts(start + duration * _US),
        "duration": pa.array(duration), "page_views": pa.array(page_views),
        "event_count": pa.array(event_count), "conversions": pa.array(conversions),
        # rounded half away from zero, as SQL round() does
        "conversion_rate": pa.array(np.floor(conversions / event_count * 1e4 + 0.5) / 1e4),
        "device": _pick(_DEVICES, device),
        "os": _pick([p[1] for p in _PLATFORMS], platform),
        "browser": _pick([p[2] for p in _PLATFORMS], platform),
        "country": _pick(_COUNTRIES, country), "city": _pick([c[1] for c in _CITIES], city),
        "created_at": _ts(start),
    }))  # fmt: skip

    def within(rate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Poisson(rate) moments inside each session: (session position, time), before the end."""
        k = rng.poisson(rate)
        pos = np.repeat(np.arange(n), k)
        at = start[pos] + (rng.random(len(pos)) * duration[pos] * _US).astype(np.int64)
        keep = at < cal.end_us
        return pos[keep], at[keep]

    pos, at = within(0.2 + 0.25 * (page_views - 1).clip(0, 6))
    m = len(pos)
    _stage(stage, "events", ten, f"s{chunk:05d}", pa.table({
        "id": _uuid_array(_uuid_bytes(rng, m)), "tenant_id": _repeat(ten.name, m),
        "user_id": _uuid_array(users["id"][user[pos]]),
        "session_id": sessions["token"].take(pa.array(idx[pos])),
        "event_type": _pick(_EVENT_TYPES, np.full(m, 5)),
        "properties": _pick(_PROPERTIES, _FEATURE_PROPS + rng.integers(0, len(_FEATURES), m)),
        "revenue": pa.nulls(m, pa.float64()), "created_at": _ts(at),
    }))  # fmt: skip

    pos, at = within(np.full(n, 1.0))
    _stage(stage, "performance_metrics", ten, f"s{chunk:05d}",
           _api_calls(rng, cal, ten, users, user[pos], platform[pos], at))  # fmt: skip

    pos, at = within(np.where(bounce, 0.2, 1.23))
    _interactive_prompts(rng, cal, ten, users, user[pos], at, v2_from, chunk, stage)


def _api_calls(
    rng: np.random.Generator,
    cal: _Calendar,
    ten: _Tenant,
    users: dict[str, np.ndarray],
    user: np.ndarray,
    platform: np.ndarray,
    at: np.ndarray,
) -> pa.Table:
    m = len(user)
    day = _day_of(cal, at)
    ep = rng.choice(len(_ENDPOINTS), m, p=[e[5] for e in _ENDPOINTS])
    median = np.array([e[3] for e in _ENDPOINTS])[ep]
    sigma = np.array([e[4] for e in _ENDPOINTS])[ep]
    ai = np.array([e[6] for e in _ENDPOINTS])[ep]
    ms = median * rng.lognormal(0.0, sigma)
    ms *= np.where(ai, np.exp(_K_LATENCY * ten.latent[day + 1]), 1.0)
    outage = _outage_mask(cal, ten, day)
    status = np.where(
        outage,
        rng.choice(len(_STATUS_CODES), m, p=_OUTAGE_STATUS_P),
        rng.choice(len(_STATUS_CODES), m, p=_STATUS_P),
    )
    ip = users["ip"][user]
    return pa.table({
        "id": _uuid_array(_uuid_bytes(rng, m)), "tenant_id": _repeat(ten.name, m),
        "service": _pick([e[0] for e in _ENDPOINTS], ep),
        "endpoint": _pick([e[1] for e in _ENDPOINTS], ep),
        "method": _pick([e[2] for e in _ENDPOINTS], ep),
        "response_time_ms": pa.array(np.maximum(1, np.round(ms)).astype(np.int64)),
        "status_code": pa.array(np.array(_STATUS_CODES)[status]),
        "user_agent": _pick([p[4] for p in _PLATFORMS], platform),
        "ip_address": pc.binary_join_element_wise(
            *(pc.cast(pa.array(ip[:, j]), pa.string()) for j in range(4)), "."
        ),
        "user_id": _uuid_array(users["id"][user]),
        "error_message": _pick(_STATUS_MESSAGES, status),
        "created_at": _ts(at),
    })  # fmt: skip


def _interactive_prompts(
    rng: np.random.Generator,
    cal: _Calendar,
    ten: _Tenant,
    users: dict[str, np.ndarray],
    user: np.ndarray,
    at: np.ndarray,
    v2_from: np.ndarray,
    chunk: int,
    stage: Path,
) -> None:
    """Stage AI calls made in sessions, their ratings and the ``feedback`` rows."""
    m = len(user)
    day = _day_of(cal, at)
    model = rng.choice(len(_MODELS), m, p=[md.mix for md in _MODELS])
    lib = rng.choice(len(_PROMPT_LIBRARY), m, p=_PROMPT_POPULARITY)
    category = np.array([c for _, c in _PROMPT_LIBRARY])[lib]
    error_p = np.where(_outage_mask(cal, ten, day), _OUTAGE_AI_ERROR_RATE, _ERROR_RATE)
    error = rng.random(m) < error_p
    call = _llm_calls(rng, cal, ten, model, day, _CATEGORY_INPUT_TOKENS[category], error)
    v2 = at >= v2_from[user]
    # prompt text: a library prompt (repeats exactly: cacheable), 30 % with a unique ticket
    # reference, 2 % with fake PII (email and phone number) for the privacy scrubber to find
    kind = rng.choice(3, m, p=(0.68, 0.30, 0.02))
    library = _pick([p for p, _ in _PROMPT_LIBRARY], lib).cast(pa.string())
    ticket = pc.cast(pa.array(rng.integers(10_000, 1_000_000, m)), pa.string())
    first = _pick(_FIRST_NAMES, rng.integers(0, len(_FIRST_NAMES), m)).cast(pa.string())
    email = pc.binary_join_element_wise(
        first, ".", _pick(_LAST_NAMES, rng.integers(0, len(_LAST_NAMES), m)).cast(pa.string()),
        pc.cast(pa.array(rng.integers(1, 100, m)), pa.string()), "@example.com", "",
    )
    phone = pc.binary_join_element_wise(
        "+1-555-", pc.cast(pa.array(rng.integers(1000, 10_000, m)), pa.string()), ""
    )
    prompt = pc.case_when(
        pc.make_struct(pa.array(kind == 1), pa.array(kind == 2)),
        pc.binary_join_element_wise(library, " Context: ticket #", ticket, ""),
        pc.binary_join_element_wise(
            "Reply to ", email, " (phone ", phone, ") about this: ", library, ""
        ),
        library,
    )
    variant = rng.integers(0, 3, m)
    canned = _pick([o for c, _, _ in _PROMPT_TASKS for o in _OUTPUTS[c]], category * 3 + variant)
    output = pc.if_else(
        pa.array(kind == 2),
        pc.binary_join_element_wise("Hi ", first, ", thanks for your message. ",
                                    canned.cast(pa.string()), " I will also call you at ", phone,
                                    ".", ""),
        canned.cast(pa.string()),
    )  # fmt: skip
    # ratings: 30 % of successful calls; latent normal per model, +lift for prompt v2
    ok = ~call["error"]
    fb_at = at + call["latency"] * 1000 + (rng.exponential(30.0, m) * _US).astype(np.int64)
    rated = ok & (rng.random(m) < _RATED_SHARE) & (fb_at < cal.end_us)
    mu = np.array([md.rating_mu for md in _MODELS])[model] + np.where(v2, _RATING_LIFT, 0.0)
    rating = np.clip(np.round(mu + rng.normal(0.0, _RATING_SD, m)), 1, 5).astype(np.int64)
    rating = np.where(rated, rating, 0)
    slow = call["latency"] > 2.0 * np.array([_median_latency(md) for md in _MODELS])[model]
    comment_kind = np.select(
        [(rating >= 1) & (rating <= 2) & slow, (rating >= 1) & (rating <= 2), rating == 5,
         (rating >= 3) & (rating <= 4)],
        [0, 1, 2, 3], -1,
    )  # fmt: skip
    comment_p = np.array([0.8, 0.6, 0.25, 0.05, 0.0])[comment_kind]
    comments = (_SLOW_COMMENTS, _LOW_COMMENTS, _HIGH_COMMENTS, _MID_COMMENTS)
    offsets = np.cumsum([0] + [len(c) for c in comments])
    pick = offsets[comment_kind.clip(0)] + (
        rng.random(m) * np.array([len(c) for c in comments])[comment_kind.clip(0)]
    ).astype(np.int64)
    pick = np.where((comment_kind >= 0) & (rng.random(m) < comment_p), pick, -1)
    feedback = _pick([c for group in comments for c in group], pick)
    ids = _uuid_bytes(rng, m)
    _stage(stage, "prompt_outputs", ten, f"s{chunk:05d}", _prompt_outputs_table(
        ten, ids, users["id"][user], prompt, pc.if_else(pa.array(ok), output, _NULL_STR), model,
        call, np.where(v2, 1, 0), np.where(rated, rating, -1), feedback, at,
    ))  # fmt: skip
    r = np.flatnonzero(rated)
    _stage(stage, "feedback", ten, f"s{chunk:05d}", pa.table({
        "id": _uuid_array(_uuid_bytes(rng, len(r))), "tenant_id": _repeat(ten.name, len(r)),
        "prompt_output_id": _uuid_array(ids[r]), "user_id": _uuid_array(users["id"][user[r]]),
        "rating": pa.array(rating[r]), "comment": feedback.take(pa.array(r)),
        "created_at": _ts(fb_at[r]),
    }))  # fmt: skip


def _zipf(n: int, exponent: float) -> np.ndarray:
    """Zipf-like popularity of ``n`` items in a fixed shuffled order (independent of the seed)."""
    w = 1.0 / (1 + np.random.default_rng(2024).permutation(n)) ** exponent
    return w / w.sum()


_PROMPT_POPULARITY = _zipf(len(_PROMPT_LIBRARY), 0.8)
_CATEGORY_INPUT_TOKENS = np.array([900, 350, 500, 200, 300, 400, 150, 450], dtype=float)
_PROMPT_VERSIONS = ("v1", "v2", "v3")


def _median_latency(model: _Model) -> float:
    return model.ttft_ms + model.ms_per_token * model.output_tokens


def _llm_calls(
    rng: np.random.Generator,
    cal: _Calendar,
    ten: _Tenant,
    model: np.ndarray,
    day: np.ndarray,
    input_median: np.ndarray | float,
    error: np.ndarray,
) -> dict[str, np.ndarray]:
    """Tokens, latency (ms) and errors of AI calls; latency carries the latent factor."""
    m = len(model)
    ttft = np.array([md.ttft_ms for md in _MODELS])[model]
    per_token = np.array([md.ms_per_token for md in _MODELS])[model]
    out_median = np.array([md.output_tokens for md in _MODELS])[model]
    output_tokens = np.maximum(1, rng.lognormal(np.log(out_median), 0.5)).astype(np.int64)
    input_tokens = np.maximum(5, rng.lognormal(np.log(input_median), 0.6, m)).astype(np.int64)
    regressed = (model == _GPT4O) & (day >= cal.at(_REGRESSION_AT))
    latency = (
        (ttft + per_token * output_tokens)
        * rng.lognormal(0.0, 0.25, m)
        * np.exp(_K_LATENCY * ten.latent[day + 1])
        * np.where(cal.weekend[day], _WEEKEND_LATENCY, 1.0)
        * np.where(regressed, _REGRESSION_FACTOR, 1.0)
        * np.where(rng.random(m) < 0.015, rng.uniform(2.0, 5.0, m), 1.0)
    )
    latency = np.where(error, rng.lognormal(math.log(250), 0.6, m), latency)
    output_tokens = np.where(error, 0, output_tokens)
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "latency": np.maximum(1, np.round(latency)).astype(np.int64),
        "error": error,
        "error_kind": np.where(error, rng.choice(len(_ERRORS), m, p=_ERROR_P), -1),
        "version": regressed.astype(np.int64),
    }


def _prompt_outputs_table(
    ten: _Tenant,
    ids: np.ndarray,
    user_ids: np.ndarray | None,
    prompt: pa.Array,
    output: pa.Array,
    model: np.ndarray,
    call: dict[str, np.ndarray],
    prompt_version: np.ndarray,
    rating: np.ndarray,
    feedback: pa.Array,
    at: np.ndarray,
) -> pa.Table:
    m = len(model)
    versions = [v for md in _MODELS for v in md.versions]
    return pa.table({
        "id": _uuid_array(ids), "tenant_id": _repeat(ten.name, m),
        "user_id": _uuid_array(user_ids) if user_ids is not None else pa.nulls(m, pa.uuid()),
        "prompt": prompt, "output": output,
        "model_id": _pick([md.name for md in _MODELS], model),
        "model_version": _pick(versions, model * 2 + call["version"]),
        "prompt_version": _pick(_PROMPT_VERSIONS, prompt_version),
        "tokens_used": pa.array(call["input_tokens"] + call["output_tokens"]),
        "input_tokens": pa.array(call["input_tokens"]),
        "output_tokens": pa.array(call["output_tokens"]),
        "response_time_ms": pa.array(call["latency"]),
        "status": _pick(("success", "error"), call["error"].astype(np.int64)),
        "error": _pick(_ERRORS, call["error_kind"]),
        "user_rating": pa.array(rating, mask=rating < 0),
        "user_feedback": feedback, "created_at": _ts(at),
    })  # fmt: skip


# ----------------------------------------------------------------------------------- workflows
def _workflow_chunk(
    cal: _Calendar, ten: _Tenant, chunk_days: np.ndarray, sessions_per_day: np.ndarray, chunk: int,
    stage: Path,
) -> None:
    """Stage the workflow runs started on ``chunk_days``, their step attempts and AI calls."""
    rng = _rng(cal, ten.index, "workflows", chunk)
    runs, steps, outputs = [], [], []
    for wf in _WORKFLOWS:
        if wf.share:
            per_day = rng.poisson(_RUNS_PER_SESSION * wf.share * sessions_per_day)
            day = np.repeat(chunk_days, per_day)
            start = cal.day_us[day] + np.minimum(_time_of_day(rng, len(day)), 23 * 3600 * _US)
        else:
            day = chunk_days
            start = cal.day_us[day] + 6 * 3600 * _US + rng.integers(0, 5 * _US, len(day))
        run, step, out = _runs(rng, cal, ten, wf, day, start)
        runs.append(run)
        steps.append(step)
        outputs.append(out)
    _stage(stage, "workflow_runs", ten, f"w{chunk:05d}", pa.concat_tables(runs))
    _stage(stage, "workflow_steps", ten, f"w{chunk:05d}", pa.concat_tables(steps))
    _stage(stage, "prompt_outputs", ten, f"w{chunk:05d}", pa.concat_tables(outputs))


def _attempts(
    rng: np.random.Generator, wf: _Workflow, ai_error_p: np.ndarray, forced: np.ndarray
) -> dict[str, np.ndarray]:
    """Which step attempts of each run happen, and how the run ends.

    Each attempt fails with its step's probability (AI steps: the AI error rate of the day); a
    failed attempt is retried (50 %, up to 3 attempts); a step that still fails fails the run
    and later steps do not run. ``forced`` runs fail at a random step whatever the retries
    (the outage). A few runs are cancelled by a user during a random step.
    Returns per-row arrays (``run``, ``step``, ``attempt``, ``failed``, ``cancelled``, in
    execution order) and per-run arrays (``run_failed``, ``run_cancelled``, ``end_row``: the
    row that failed or was cancelled, -1 for successful runs).
    """
    n_runs, n_steps = len(forced), len(wf.steps)
    is_ai = np.array([st.kind == "ai" for st in wf.steps])
    fail_p = np.where(is_ai, ai_error_p[:, None], np.array([st.fail_p for st in wf.steps]))
    shape = (n_runs, n_steps, _MAX_ATTEMPTS)
    fail = rng.random(shape) < fail_p[:, :, None]
    retry = rng.random(shape) < _RETRYABLE
    forced_step = rng.integers(0, n_steps, n_runs)
    fail[forced, forced_step[forced], :] = True
    retry[forced, forced_step[forced], :] = True
    attempted = np.ones(shape, dtype=bool)
    for k in range(1, _MAX_ATTEMPTS):
        attempted[:, :, k] = attempted[:, :, k - 1] & fail[:, :, k - 1] & retry[:, :, k - 1]
    n_attempts = attempted.sum(axis=2)
    step_failed = np.take_along_axis(fail, (n_attempts - 1)[:, :, None], axis=2)[:, :, 0]
    failed = step_failed.any(axis=1)
    first_fail = np.where(failed, step_failed.argmax(axis=1), n_steps)
    cancel_step = rng.integers(0, n_steps, n_runs)
    cancelled = (rng.random(n_runs) < _CANCEL_P) & (cancel_step < first_fail)
    failed &= ~cancelled
    end_step = np.where(cancelled, cancel_step, np.where(failed, first_fail, n_steps - 1))
    rows = attempted & (np.arange(n_steps)[None, :] <= end_step[:, None])[:, :, None]
    rows[cancelled, cancel_step[cancelled], 1:] = False
    run, step, attempt = np.nonzero(rows)  # C order = execution order
    row_cancelled = cancelled[run] & (step == cancel_step[run])
    row_failed = fail[run, step, attempt] & ~row_cancelled
    ends = (step == end_step[run]) & (attempt == rows.sum(axis=2)[run, step] - 1)
    end_row = np.full(n_runs, -1)
    end_row[run[ends]] = np.flatnonzero(ends)
    end_row[~(failed | cancelled)] = -1
    return {
        "run": run, "step": step, "attempt": attempt, "failed": row_failed,
        "cancelled": row_cancelled, "run_failed": failed, "run_cancelled": cancelled,
        "end_row": end_row,
    }  # fmt: skip


def _runs(
    rng: np.random.Generator,
    cal: _Calendar,
    ten: _Tenant,
    wf: _Workflow,
    day: np.ndarray,
    start: np.ndarray,
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Runs of one workflow, their step attempts, and the AI calls of the AI attempts.

    Steps run back to back, so a run's duration is the sum of its attempts' durations. An AI
    attempt is an AI call (``prompt_outputs`` row, linked by ``prompt_output_id``) whose latency
    plus a little overhead is the attempt's duration and whose error is the attempt's failure.
    """
    outage = _outage_mask(cal, ten, day)
    att = _attempts(
        rng, wf, np.where(outage, _OUTAGE_AI_ERROR_RATE, _ERROR_RATE),
        outage & (rng.random(len(day)) < _OUTAGE_RUN_FAILURE),
    )  # fmt: skip
    r, s = att["run"], att["step"]
    n_runs, n_rows = len(day), len(r)
    names = np.array([st.name for st in wf.steps])
    median = np.array([st.median_ms for st in wf.steps])[s]
    median *= np.where(
        (names[s] == "crm_lookup") & (day[r] >= cal.at(_BOTTLENECK_AT)), _BOTTLENECK_FACTOR, 1.0
    )
    sigma = np.array([st.sigma for st in wf.steps])[s]
    ms = median * rng.lognormal(0.0, sigma)
    # AI attempts: one AI call each, with the step's model, prompts and outputs
    ai_row = np.flatnonzero((np.array([st.kind for st in wf.steps])[s] == "ai") & ~att["cancelled"])
    k = len(ai_row)
    model, in_median = np.zeros(k, dtype=np.int64), np.ones(k)
    prompt_code, output_code = np.zeros(k, dtype=np.int64), np.zeros(k, dtype=np.int64)
    prompts: list[str] = []
    outputs: list[str] = []
    for i, st in enumerate(wf.steps):
        if st.kind != "ai":
            continue
        spec, hit = _AI_STEPS[st.name], s[ai_row] == i
        model[hit], in_median[hit] = _MODEL_INDEX[spec.model], spec.input_tokens
        prompt_code[hit] = len(prompts) + rng.integers(0, len(spec.prompts), int(hit.sum()))
        output_code[hit] = len(outputs) + rng.integers(0, len(spec.outputs), int(hit.sum()))
        prompts += spec.prompts
        outputs += spec.outputs
    call = _llm_calls(rng, cal, ten, model, day[r[ai_row]], in_median, att["failed"][ai_row])
    ms[ai_row] = call["latency"] + rng.integers(10, 60, k)
    ms[att["cancelled"]] = rng.uniform(20.0, 1000.0, int(att["cancelled"].sum()))
    dur = np.clip(np.round(ms), 1, _MAX_STEP_MS).astype(np.int64)
    before = np.cumsum(dur) - dur
    step_at = start[r] + (before - before[np.searchsorted(r, np.arange(n_runs))][r]) * 1000
    run_ms = np.bincount(r, weights=dur, minlength=n_runs).astype(np.int64)
    out_ids = _uuid_bytes(rng, k)
    calls = _prompt_outputs_table(
        ten, out_ids, None, _pick(prompts, prompt_code).cast(pa.string()),
        _pick(outputs, np.where(call["error"], -1, output_code)).cast(pa.string()), model, call,
        np.full(k, 2), np.full(k, -1), pa.nulls(k, pa.string()), step_at[ai_row],
    )  # fmt: skip
    # errors: the AI call's error, the step type's error, or the cancellation
    error_vocab = (*_ERRORS, *_STEP_ERRORS.values(), "cancelled by user")
    type_error = len(_ERRORS) + np.array([list(_STEP_ERRORS).index(st.kind) if st.kind != "ai"
                                          else 0 for st in wf.steps])  # fmt: skip
    step_error = np.where(att["failed"], type_error[s], -1)
    step_error[ai_row] = call["error_kind"]
    step_error[att["cancelled"]] = len(error_vocab) - 1
    link = np.zeros(n_rows, dtype=np.int64)
    link[ai_row] = np.arange(k)
    has_link = np.zeros(n_rows, dtype=bool)
    has_link[ai_row] = True
    run_ids = _uuid_bytes(rng, n_runs)
    steps = pa.table({
        "id": _uuid_array(_uuid_bytes(rng, n_rows)), "tenant_id": _repeat(ten.name, n_rows),
        "run_id": _uuid_array(run_ids[r]), "step_index": pa.array(s),
        "step_name": _pick(list(names), s), "step_type": _pick([st.kind for st in wf.steps], s),
        "attempt": pa.array(att["attempt"] + 1),
        "status": _pick(_RUN_STATUS, np.select([att["cancelled"], att["failed"]], [2, 1], 0)),
        "started_at": _ts(step_at), "duration_ms": pa.array(dur),
        "error": _pick(error_vocab, step_error),
        "prompt_output_id": _uuid_array(np.concatenate([out_ids, np.zeros((1, 16), np.uint8)])[
            np.where(has_link, link, k)], has_link),
        "created_at": _ts(step_at),
    })  # fmt: skip
    end = att["end_row"].clip(0)
    end_step = _pick(list(names), s[end]).cast(pa.string())
    run_error = pc.case_when(
        pc.make_struct(pa.array(att["run_failed"]), pa.array(att["run_cancelled"])),
        pc.binary_join_element_wise(
            "step ", end_step, " failed after ",
            pc.cast(pa.array(att["attempt"][end] + 1), pa.string()), " attempt(s): ",
            _pick(error_vocab, step_error[end]).cast(pa.string()), "",
        ),
        pc.binary_join_element_wise("cancelled by user during step ", end_step, ""),
        _NULL_STR,
    )  # fmt: skip
    triggers = [t for t, _ in wf.triggers]
    run_status = np.select([att["run_cancelled"], att["run_failed"]], [2, 1], 0)
    runs = pa.table({
        "id": _uuid_array(run_ids), "tenant_id": _repeat(ten.name, n_runs),
        "workflow_id": _repeat(wf.name, n_runs), "status": _pick(_RUN_STATUS, run_status),
        "trigger": _pick(triggers, rng.choice(len(triggers), n_runs,
                                              p=[p for _, p in wf.triggers])),
        "started_at": _ts(start), "finished_at": _ts(start + run_ms * 1000),
        "duration_ms": pa.array(run_ms), "error": run_error, "created_at": _ts(start),
    })  # fmt: skip
    return runs, steps, calls


_RUN_STATUS = ("success", "failed", "cancelled")


# ------------------------------------------------------------------------------ ground truth
def _expected_rating(mu: float) -> float:
    """Mean of ``clip(round(N(mu, sd)), 1, 5)``: the rating a model with latent mean ``mu`` gets."""

    def cdf(x: float) -> float:
        return 0.5 * (1 + math.erf((x - mu) / (_RATING_SD * math.sqrt(2))))

    edges = (-math.inf, 1.5, 2.5, 3.5, 4.5, math.inf)
    return sum(k * (cdf(edges[k]) - cdf(edges[k - 1])) for k in range(1, 6))


def _ground_truth(cal: _Calendar, generated: list[_Tenant]) -> dict[str, Any]:
    all_tenants = [t.name for t in generated]
    start, end = cal.date(0), cal.end.isoformat()
    outage, regression = cal.at(_OUTAGE_AT), cal.at(_REGRESSION_AT)
    bottleneck, experiment = cal.at(_BOTTLENECK_AT), cal.at(_EXPERIMENT_AT)
    rating = {md.name: round(_expected_rating(md.rating_mu), 4) for md in _MODELS}
    lift = sum(md.mix * (_expected_rating(md.rating_mu + _RATING_LIFT)
                         - _expected_rating(md.rating_mu)) for md in _MODELS)  # fmt: skip

    def target(system: str, table: str, metric: str, **kw: Any) -> dict[str, Any]:
        return {"system": system, "table": table, "metric": metric, **kw}

    effects = [
        {
            "id": "lagged_correlation", "kind": "lagged_correlation", "tenants": all_tenants,
            "start": start, "end": end, "direction": "negative", "lag_days": 1,
            "magnitude": -_K_DURATION,
            "description": "A daily AR(1) factor L raises AI latency on day d and lowers mean "
                           "session duration on day d+1.",
            "targets": [
                target("neuroweaver", "prompt_outputs", "response_time_ms", role="cause",
                       transform="x exp(k * L_d)", k=_K_LATENCY),
                target("auterity", "user_sessions", "duration", role="effect",
                       transform="x exp(k * L_(d-1))", k=-_K_DURATION),
            ],
            "details": {"ar1_phi": _LATENT_PHI, "latent_sd": 1.0,
                        "latent": {t.name: np.round(t.latent[1:], 4).tolist() for t in generated}},
        },
        {
            "id": "outage", "kind": "outage", "tenants": all_tenants[:1],
            "start": cal.date(outage), "end": cal.date(outage + 1), "direction": "up",
            "lag_days": None, "magnitude": None,
            "description": "A one-day incident: API 5xx, AI errors and workflow failures spike.",
            "targets": [
                target("auterity", "performance_metrics", "5xx_rate",
                       baseline=round(sum(_STATUS_P[6:]), 4),
                       value=round(sum(_OUTAGE_STATUS_P[6:]), 4)),
                target("neuroweaver", "prompt_outputs", "error_rate",
                       baseline=_ERROR_RATE, value=_OUTAGE_AI_ERROR_RATE),
                target("relaycore", "workflow_runs", "failure_rate", baseline=0.04, value=0.45),
            ],
        },
        {
            "id": "latency_regression", "kind": "level_shift", "tenants": all_tenants,
            "start": cal.date(regression), "end": end, "direction": "up", "lag_days": None,
            "magnitude": _REGRESSION_FACTOR,
            "description": "gpt-4o switches to a new model_version and gets 40% slower.",
            "targets": [target("neuroweaver", "prompt_outputs", "response_time_ms",
                               filter={"model_id": "gpt-4o"}, unit="ratio",
                               model_version_before=_MODELS[_GPT4O].versions[0],
                               model_version_after=_MODELS[_GPT4O].versions[1])],
        },
        {
            "id": "trend", "kind": "trend", "tenants": all_tenants, "start": start, "end": end,
            "direction": "up", "lag_days": None, "magnitude": _GROWTH,
            "description": "New signups grow 1% per day (exponential); active users follow after "
                           "the launch ramp-up of the first weeks.",
            "targets": [target("auterity", "users", "signups_per_day", unit="log growth per day"),
                        target("auterity", "events", "signup_events_per_day",
                               filter={"event_type": "signup"}, unit="log growth per day")],
        },
        {
            "id": "cheaper_equal_model", "kind": "model_comparison", "tenants": all_tenants,
            "start": start, "end": end, "direction": "equal", "lag_days": None,
            "magnitude": 0.0,
            "description": "mistral-small rates like gpt-4o at a fraction of the price; llama-3-8b "
                           "is cheapest and clearly worse.",
            "targets": [target("neuroweaver", "prompt_outputs", "user_rating",
                               models=["mistral-small", "gpt-4o"])],
            "details": {"expected_mean_rating_v1": rating, "cheaper": "mistral-small",
                        "reference": "gpt-4o", "worse": "llama-3-8b"},
        },
        {
            "id": "bottleneck", "kind": "bottleneck", "tenants": all_tenants,
            "start": cal.date(bottleneck), "end": end, "direction": "up", "lag_days": None,
            "magnitude": _BOTTLENECK_FACTOR,
            "description": "Step crm_lookup of lead-enrichment gets 4x slower and becomes the step "
                           "with the largest share of run time.",
            "targets": [target("relaycore", "workflow_steps", "duration_ms", unit="ratio",
                               filter={"workflow_id": "lead-enrichment",
                                       "step_name": "crm_lookup"})],
        },
        {
            "id": "experiment_lift", "kind": "experiment", "tenants": all_tenants,
            "start": cal.date(experiment), "end": end, "direction": "up", "lag_days": None,
            "magnitude": round(lift, 4),
            "description": "Treatment users of prompt-v2-rollout get prompt v2 and rate higher.",
            "targets": [target("neuroweaver", "prompt_outputs", "user_rating", unit="rating points",
                               filter={"prompt_version": "v2"})],
            "details": {"experiment_key": _LIFT_EXPERIMENT, "treatment": "treatment",
                        "control": "control", "latent_lift": _RATING_LIFT,
                        "assignment":
                            "treatment iff int(md5(f'{key}:{user_id}')[:8], 16) % 100 < 50",
                        "exposure": "first session after started_at"},
        },
        {
            "id": "experiment_null", "kind": "experiment", "tenants": all_tenants,
            "start": cal.date(cal.at(_NULL_EXPERIMENT_AT)), "end": end, "direction": "none",
            "lag_days": None, "magnitude": 0.0,
            "description": "Experiment response-streaming has no effect on anything.",
            "targets": [target("neuroweaver", "prompt_outputs", "user_rating")],
            "details": {"experiment_key": "response-streaming"},
        },
        {
            "id": "weekly_seasonality", "kind": "seasonality", "tenants": all_tenants,
            "start": start, "end": end, "direction": "down", "lag_days": None, "magnitude": None,
            "description": "Saturdays and Sundays: fewer signups, sessions and workflow runs; "
                           "slightly faster AI calls and longer sessions.",
            "targets": [
                target("auterity", "users", "signups_per_day", weekend_factor=_WEEKEND_SIGNUPS),
                target("auterity", "user_sessions", "sessions_per_day",
                       weekend_factor=round(1 - _WEEKEND_THINNING, 4)),
                target("auterity", "user_sessions", "duration", weekend_factor=_WEEKEND_DURATION),
                target("neuroweaver", "prompt_outputs", "response_time_ms",
                       weekend_factor=_WEEKEND_LATENCY),
            ],
        },
    ]  # fmt: skip
    return {
        "version": 1,
        "generator": "auterity_lab.synth",
        "parameters": {"seed": cal.seed, "scale": cal.scale, "tenants": all_tenants,
                       "days": cal.days, "start": start, "end": end},  # fmt: skip
        "dates": "start inclusive, end exclusive, UTC days",
        "models": {
            md.name: {"price_usd_per_1m_input_tokens": md.price_in,
                      "price_usd_per_1m_output_tokens": md.price_out,
                      "median_latency_ms": round(_median_latency(md)),
                      "expected_mean_rating_v1": rating[md.name],
                      "versions": sorted(set(md.versions)), "share_of_interactive_calls": md.mix}
            for md in _MODELS
        },  # fmt: skip
        "workflows": {wf.name: [{"step": s.name, "type": s.kind} for s in wf.steps]
                      for wf in _WORKFLOWS},  # fmt: skip
        "effects": effects,
    }


# ------------------------------------------------------------------------------------ helpers
def _rng(cal: _Calendar, tenant: int, stream: str, chunk: int = 0) -> np.random.Generator:
    """An independent generator per (seed, tenant, purpose, chunk): order of generation is free."""
    return np.random.default_rng([cal.seed, tenant, zlib.crc32(stream.encode()), chunk])


def _time_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """Microseconds into a UTC day, following a daily activity profile."""
    hour = rng.choice(24, n, p=_HOURLY)
    return hour * 3600 * _US + rng.integers(0, 3600 * _US, n)


def _day_of(cal: _Calendar, at: np.ndarray) -> np.ndarray:
    return ((at - cal.day_us[0]) // _US_PER_DAY).clip(0, cal.days - 1)


def _outage_mask(cal: _Calendar, ten: _Tenant, day: np.ndarray) -> np.ndarray:
    return (day == cal.at(_OUTAGE_AT)) & (ten.index == 0)


def _conditional_choice(
    rng: np.random.Generator, given: np.ndarray, row_key: list[str], keys: tuple[str, ...],
    weight: np.ndarray,
) -> np.ndarray:
    """For each ``given`` (an index into ``keys``), a row whose key matches, drawn by ``weight``."""
    out = np.empty(len(given), dtype=np.int64)
    for k, key in enumerate(keys):
        rows = np.flatnonzero(np.array(row_key) == key)
        hit = given == k
        out[hit] = rng.choice(rows, int(hit.sum()), p=weight[rows] / weight[rows].sum())
    return out


def _uuid_bytes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random version-4 UUIDs as an (n, 16) uint8 matrix."""
    b = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    b[:, 6] = (b[:, 6] & 0x0F) | 0x40
    b[:, 8] = (b[:, 8] & 0x3F) | 0x80
    return b


def _uuid_array(b: np.ndarray, valid: np.ndarray | None = None) -> pa.ExtensionArray:
    """UUID array from an (n, 16) byte matrix; rows where ``valid`` is False are null."""
    bitmap = None
    if valid is not None:
        bitmap = pa.py_buffer(np.packbits(valid, bitorder="little").tobytes())
    storage = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(16), len(b), [bitmap, pa.py_buffer(np.ascontiguousarray(b).tobytes())]
    )
    return pa.ExtensionArray.from_storage(pa.uuid(), storage)


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _session_tokens(rng: np.random.Generator, n: int) -> pa.StringArray:
    """``s_<16 hex digits>`` strings built from random bytes, without a per-row loop."""
    raw = rng.integers(0, 256, size=(n, 8), dtype=np.uint8)
    chars = np.empty((n, 18), dtype=np.uint8)
    chars[:, 0], chars[:, 1] = ord("s"), ord("_")
    chars[:, 2::2] = _HEX[raw >> 4]
    chars[:, 3::2] = _HEX[raw & 0x0F]
    offsets = np.arange(0, 18 * (n + 1), 18, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(chars.tobytes()))


def _pick(vocab: tuple[str | None, ...] | list[str], codes: np.ndarray) -> pa.DictionaryArray:
    """Dictionary-encoded strings ``vocab[codes]``; negative codes and ``None`` entries are null."""
    codes = np.asarray(codes)
    null_entries = np.array([v is None for v in vocab] + [False])
    mask = (codes < 0) | null_entries[np.where(codes < 0, len(vocab), codes)]
    indices = pa.array(codes.clip(0).astype(np.int32), mask=mask)
    return pa.DictionaryArray.from_arrays(indices, pa.array([v or "" for v in vocab], pa.string()))


_NULL_STR = pa.scalar(None, pa.string())


def _repeat(value: str, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), n)


def _ts(us: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(us, dtype=np.int64), type=pa.timestamp("us", tz="UTC"))


def _stage(stage: Path, table: str, ten: _Tenant, piece: str, data: pa.Table) -> None:
    """Write one staged Parquet piece; pieces of a table are read back together when publishing."""
    folder = stage / table
    folder.mkdir(exist_ok=True)
    pq.write_table(data, folder / f"{ten.index:04d}-{piece}.parquet", compression="lz4")


_SQL_EXPRESSIONS: dict[str, dict[str, str]] = {
    "user_sessions": {
        "events": "json_object('event_count', event_count, 'conversions', conversions, "
        "'conversion_rate', conversion_rate)",
        "device_info": "json_object('device', device, 'os', os, 'browser', browser)",
        "location_info": "json_object('country', country, 'city', city)",
    },
    "prompt_outputs": {"prompt_hash": "sha256(prompt)"},
}


def _publish_sql(tbl: Table) -> str:
    """SELECT of the table's exact columns and types from its staged pieces (``$files``)."""
    exprs = _SQL_EXPRESSIONS.get(tbl.name, {})
    cols = ", ".join(
        f"CAST({exprs.get(c.name, c.name)} AS {c.duckdb_type}) AS {c.name}" for c in tbl.columns
    )
    return f"SELECT {cols} FROM read_parquet($files)"


def _memory_limit_mb() -> int:
    """A third of physical memory (at least 1 GB): DuckDB spills the extract sorts beyond it."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 << 30
    return max(1024, total // 3 >> 20)


def _sql_str(value: str) -> str:
    return value.replace("'", "''")


def _write_json(path: Path, body: dict[str, Any]) -> None:
    """Write JSON atomically (temp file in the same directory, then rename)."""
    tmp = path.with_name(f".{path.name}.{hashlib.sha256(str(path).encode()).hexdigest()[:8]}.tmp")
    tmp.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
