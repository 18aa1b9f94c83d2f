"""User feedback (spec ``submitFeedback``): rating distribution, feedback rate, and the words
that low ratings use.

All three read the ``feedback`` rows given on outputs created in ``[start, end)``.

Examples
--------
>>> rating_distribution(wb, start="2026-10-01", end="2026-11-01", by="model_id")  # doctest: +SKIP
>>> low_rating_terms(wb, start="2026-08-01", end="2026-11-01", top=10)            # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from auterity_lab.arguments import check_count
from auterity_lab.errors import QueryParameterError
from auterity_lab.ml._params import ai_params
from auterity_lab.multiple_testing import bh_qvalues

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pandas as pd

    from auterity_lab.warehouse import Workbench

GROUPINGS = ("all", "model_id", "model_version", "prompt_version")
"""Arms of the feedback figures: all together, per model, per model @ version, per prompt
version."""

STOPWORDS: frozenset[str] = frozenset(
    {
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "don",
        "didn",
        "doesn",
        "isn",
        "wasn",
        "thanks",
        "thank",
        "please",
    }
)
"""English words that say nothing about an answer; low_rating_terms never counts them (terms
are split at apostrophes, so "don't" leaves "don", listed here, and "t", too short to count)."""


def rating_distribution(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    by: str = "all",
    model: str | None = None,
    model_version: str | None = None,
    prompt_version: str | None = None,
) -> pd.DataFrame:
    """How often each rating was given, per arm.

    Parameters
    ----------
    by
        ``all`` (one arm called ``all``), ``model_id``, ``model_version`` (``model @ version``)
        or ``prompt_version``.

    Returns
    -------
    DataFrame
        One row per ``arm`` and ``rating`` (1–5 always present, plus any other value given):
        ``n`` (feedback rows) and ``share`` (of the arm's ratings). Empty without feedback.

    Examples
    --------
    >>> rating_distribution(wb, start="2026-10-01", end="2026-11-01")             # doctest: +SKIP
    """
    return wb.query(
        "ml_feedback_distribution",
        by=_check_by(by),
        **ai_params(
            start, end, model=model, model_version=model_version, prompt_version=prompt_version
        ),
    )


def feedback_rate(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    by: str = "all",
    model: str | None = None,
    model_version: str | None = None,
    prompt_version: str | None = None,
) -> pd.DataFrame:
    """How many outputs get feedback and comments, and what the feedback says, per arm.

    Returns
    -------
    DataFrame
        One row per ``arm``: ``outputs``, ``outputs_with_feedback``, ``feedback_rate``
        (outputs with feedback / outputs), ``feedback`` (rows), ``mean_rating``,
        ``low_rated_share`` (rating <= 2), ``high_rated_share`` (rating >= 4), ``comments``
        (non-blank), ``comment_rate`` (comments / feedback rows).

    Examples
    --------
    >>> feedback_rate(wb, start="2026-10-01", end="2026-11-01", by="model_id")    # doctest: +SKIP
    """
    return wb.query(
        "ml_feedback_rate",
        by=_check_by(by),
        **ai_params(
            start, end, model=model, model_version=model_version, prompt_version=prompt_version
        ),
    )


def low_rating_terms(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    max_rating: int = 2,
    top: int = 20,
    min_length: int = 3,
    extra_stopwords: Iterable[str] = (),
    model: str | None = None,
    model_version: str | None = None,
    prompt_version: str | None = None,
) -> pd.DataFrame:
    """The most frequent words of low-rating comments, and whether low ratings use them more.

    Parameters
    ----------
    max_rating
        Comments with a rating ``<= max_rating`` are low-rating (default 2 of 5).
    top
        Number of terms returned (the most frequent in low-rating comments).
    min_length, extra_stopwords
        Shortest term counted; words to ignore besides :data:`STOPWORDS`.

    Returns
    -------
    DataFrame
        Up to ``top`` rows, most frequent first: ``term``, ``low_comments`` (low-rating comments
        containing it), ``low_share`` (of low-rating comments), ``other_comments``,
        ``other_share`` (of the other comments), ``lift`` (``low_share / other_share``; inf when
        no other comment uses it), ``p_value`` (one-sided Fisher exact test that the term is
        more frequent in low-rating comments), ``q_value`` (Benjamini–Hochberg over every term
        of the low-rating comments, not only the ``top``), ``example`` (a low-rating comment).

    Examples
    --------
    >>> low_rating_terms(wb, start="2026-08-01", end="2026-11-01", top=5)         # doctest: +SKIP
    """
    check_count("max_rating", max_rating)
    stopwords = sorted(STOPWORDS | {str(w).lower() for w in extra_stopwords})
    terms = wb.query(
        "ml_feedback_terms",
        max_rating=max_rating,
        min_length=check_count("min_length", min_length),
        stopwords=stopwords,
        **ai_params(
            start, end, model=model, model_version=model_version, prompt_version=prompt_version
        ),
    )
    k = terms["low_comments"].to_numpy(float)
    other = terms["other_comments"].to_numpy(float)
    low_total = terms["low_total"].to_numpy(float)
    other_total = terms["other_total"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms["low_share"] = k / low_total
        terms["other_share"] = np.where(other_total > 0, other / other_total, np.nan)
        terms["lift"] = terms["low_share"] / terms["other_share"]
    # P(X >= k) for X ~ hypergeometric(all comments, low comments, comments with the term)
    terms["p_value"] = stats.hypergeom.sf(k - 1, low_total + other_total, low_total, k + other)
    terms["q_value"] = bh_qvalues(terms["p_value"].to_numpy(float))
    columns = [
        "term",
        "low_comments",
        "low_share",
        "other_comments",
        "other_share",
        "lift",
        "p_value",
        "q_value",
        "example",
    ]
    return terms[columns].head(check_count("top", top)).reset_index(drop=True)


def _check_by(by: str) -> str:
    if by not in GROUPINGS:
        raise QueryParameterError(f"by must be one of {', '.join(GROUPINGS)}, not {by!r}")
    return by
