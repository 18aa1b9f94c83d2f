"""AI/ML analytics of Neuroweaver (the spec's ModelHub): performance, cost, prompts, feedback,
model comparison, experiments, optimization suggestions, health and the headline summary.

Every function takes the tenant's :class:`~auterity_lab.warehouse.Workbench` and keyword-only
``start``/``end`` (UTC, end exclusive), does its heavy lifting in ``queries/ml_*.sql`` and
returns tidy DataFrames (or a frozen dataclass of frames).

Examples
--------
>>> import auterity_lab as al
>>> from auterity_lab import ml
>>> wb = al.Workbench.open("data", tenant="acme")                              # doctest: +SKIP
>>> ml.model_performance(wb, start="2026-10-01", end="2026-11-01")             # doctest: +SKIP
>>> ml.optimization_suggestions(wb, start="2026-08-01", end="2026-11-01")      # doctest: +SKIP
"""

from __future__ import annotations

from auterity_lab.ml.comparison import compare_models
from auterity_lab.ml.cost import (
    attach_costs,
    cost_by_model,
    cost_over_time,
    load_prices,
    prices_in_force,
    workflow_costs,
)
from auterity_lab.ml.experiments import (
    Experiment,
    ExperimentAnalysis,
    analyze_experiment,
    assign_variants,
    define_experiment,
    list_experiments,
    load_experiment,
)
from auterity_lab.ml.feedback import feedback_rate, low_rating_terms, rating_distribution
from auterity_lab.ml.health import model_health
from auterity_lab.ml.performance import filter_values, model_performance, performance_over_time
from auterity_lab.ml.prompts import prompt_analytics, prompt_rankings, prompt_version_comparison
from auterity_lab.ml.suggestions import optimization_suggestions
from auterity_lab.ml.summary import ml_summary

__all__ = [
    "Experiment",
    "ExperimentAnalysis",
    "analyze_experiment",
    "assign_variants",
    "attach_costs",
    "compare_models",
    "cost_by_model",
    "cost_over_time",
    "define_experiment",
    "feedback_rate",
    "filter_values",
    "list_experiments",
    "load_experiment",
    "load_prices",
    "low_rating_terms",
    "ml_summary",
    "model_health",
    "model_performance",
    "optimization_suggestions",
    "performance_over_time",
    "prices_in_force",
    "prompt_analytics",
    "prompt_rankings",
    "prompt_version_comparison",
    "rating_distribution",
    "workflow_costs",
]
