"""Category and priority of a complaint from the config's keyword rules.

Pure decisions: a function of the text and the rules. The subject counts more than the body
(a keyword in the subject scores 3, in the body 1). Ties go to the rule listed first in the
config, which is the park's own order of importance. For priority, any match of a more urgent
priority wins over the count: one mention of 火灾 (fire) makes a complaint urgent whatever
else it says. Nothing matched -> the configured default, flagged for staff to check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

SUBJECT_WEIGHT = 3
BODY_WEIGHT = 1


@dataclass(frozen=True)
class Classification:
    category: str          # category key
    priority: str          # priority key
    matched: tuple[str, ...]  # keywords that decided, for the Activity trail
    needs_check: bool      # nothing matched for category or priority: staff should look


def keyword_score(keywords: Iterable[str], subject: str, body: str) -> tuple[int, list[str]]:
    """Weighted count of keyword hits (case-insensitive), and which keywords hit."""
    subject_folded, body_folded = subject.casefold(), body.casefold()
    score, hits = 0, []
    for keyword in keywords:
        word = keyword.strip().casefold()
        if not word:
            continue
        in_subject, in_body = word in subject_folded, word in body_folded
        if in_subject or in_body:
            hits.append(keyword)
            score += SUBJECT_WEIGHT * in_subject + BODY_WEIGHT * in_body
    return score, hits


def classify(subject: str, body: str, *, categories: Sequence, priorities: Sequence,
             default_category: str, default_priority: str) -> Classification:
    """Pick the category with the best weighted score, and the most urgent priority that matches.

    ``categories`` and ``priorities`` are the config's entries (objects with ``key`` and
    ``keywords``); priorities are listed from most to least urgent.
    """
    best_category, best_score, category_hits = default_category, 0, []
    for category in categories:
        score, hits = keyword_score(category.keywords, subject, body)
        if score > best_score:
            best_category, best_score, category_hits = category.key, score, hits

    priority, priority_hits = default_priority, []
    for candidate in priorities:
        score, hits = keyword_score(candidate.keywords, subject, body)
        if score:
            priority, priority_hits = candidate.key, hits
            break

    return Classification(
        category=best_category,
        priority=priority,
        matched=tuple(category_hits + priority_hits),
        needs_check=not category_hits,
    )
