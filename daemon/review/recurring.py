"""Recurring problems: the same location, category or tenant again and again, and similar texts.

Pure and deterministic: register rows in, groups out, in a stable order.

Repeats: rows are grouped by one field (``location``, ``category`` or the tenant's ``email``,
compared with spaces collapsed and case folded; blank values are not grouped). A run of at
least ``min_count`` complaints whose first and last were received within ``window_days`` is a
recurring problem; overlapping runs of one value are merged into one group.

Similar texts: each complaint's subject and content are cut at spaces and punctuation into runs
of letters and digits (NFKC, case folded), and each run into its character bigrams and trigrams,
so Chinese and English alike need no word list and no model. Two complaints are similar when
the Jaccard index of their n-gram sets (shared / all) reaches ``threshold``; similar pairs are
joined into groups (transitively). Each group is explained by the passages its members share:
the longest stretches of the first member's text covered by n-grams that at least half of the
members (and two at least) have ("3号楼一楼卫生间", "conditioning").
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, Iterable, Sequence

from daemon.sla import UnreadableTime, as_utc, cell, parse_time, row_reference

REPEAT_FIELDS = ("location", "category", "email")
NGRAM_SIZES = (2, 3)


@dataclass(frozen=True)
class RecurringGroup:
    """``count`` complaints with the same ``field`` value, received ``first`` to ``last``."""

    field: str
    value: str
    references: tuple[str, ...]
    first: datetime
    last: datetime

    @property
    def count(self) -> int:
        return len(self.references)


@dataclass(frozen=True)
class SimilarGroup:
    """Complaints with similar texts; ``shared`` are the passages most of them have in common,
    ``similarity`` the lowest Jaccard index of a pair that joined the group."""

    references: tuple[str, ...]
    shared: tuple[str, ...]
    similarity: float


def normalize_value(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", str(text or "")).split()).casefold()


def _received(row: Any, tz: tzinfo) -> datetime | None:
    try:
        return parse_time(cell(row, "received_at"), tz)
    except UnreadableTime:
        return None


def runs_within(times: Sequence[datetime], window: timedelta, min_count: int) -> list[tuple[int, int]]:
    """Index ranges [start, end] of sorted ``times`` where at least ``min_count`` fall within
    ``window`` of each other, overlapping ranges merged."""
    runs: list[tuple[int, int]] = []
    end = 0
    for start in range(len(times)):
        end = max(end, start)
        while end + 1 < len(times) and as_utc(times[end + 1]) - as_utc(times[start]) <= window:
            end += 1
        if end - start + 1 >= min_count:
            if runs and start <= runs[-1][1]:
                runs[-1] = (runs[-1][0], max(runs[-1][1], end))
            else:
                runs.append((start, end))
    return runs


def find_recurring(rows: Iterable[Any], tz: tzinfo, *, window_days: int = 30, min_count: int = 3,
                   fields: Sequence[str] = REPEAT_FIELDS) -> list[RecurringGroup]:
    """Groups of ``min_count`` or more complaints sharing a field within ``window_days``,
    by field (in ``fields`` order), then by value and first time."""
    rows = list(rows)
    window = timedelta(days=window_days)
    groups: list[RecurringGroup] = []
    for field_key in fields:
        by_value: dict[str, list[tuple[datetime, str, str]]] = defaultdict(list)
        for row in rows:
            value, received = normalize_value(cell(row, field_key)), _received(row, tz)
            if value and received is not None:
                by_value[value].append((received, row_reference(row), cell(row, field_key).strip()))
        for value in sorted(by_value):
            entries = sorted(by_value[value], key=lambda entry: (as_utc(entry[0]), entry[1]))
            times = [entry[0] for entry in entries]
            for start, end in runs_within(times, window, min_count):
                run = entries[start:end + 1]
                groups.append(RecurringGroup(field_key, run[0][2],
                                             tuple(entry[1] for entry in run),
                                             run[0][0], run[-1][0]))
    return groups


# --- similar texts ---------------------------------------------------------------------------

def text_of(row: Any) -> str:
    return f"{cell(row, 'subject')} {cell(row, 'content')}"


def text_runs(text: str) -> list[str]:
    """Runs of letters and digits, NFKC and case folded: ``"Water  leak, B-2!"`` ->
    ``["water", "leak", "b", "2"]``; ``"卫生间漏水，请维修"`` -> ``["卫生间漏水", "请维修"]``."""
    runs, current = [], []
    for char in unicodedata.normalize("NFKC", str(text or "")).casefold():
        if char.isalnum():
            current.append(char)
        elif current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return runs


def char_ngrams(text: str, sizes: Sequence[int] = NGRAM_SIZES) -> frozenset[str]:
    """The character n-grams of each run: ``"漏水了"`` -> {"漏水", "水了", "漏水了"}."""
    return frozenset(run[i:i + size] for run in text_runs(text) for size in sizes
                     for i in range(len(run) - size + 1))


def shared_passages(text: str, common: set[str], shown: int) -> list[str]:
    """The longest stretches of ``text`` covered by n-grams in ``common``, longest first; a
    passage inside a longer one is not repeated.

    >>> shared_passages("请尽快维修", {"请尽快", "维修"}, 5)
    ['请尽快', '维修']
    """
    found: dict[str, None] = {}
    for run in text_runs(text):
        # linked[i]: characters i and i+1 sit inside one common n-gram, so a passage never
        # joins two shared pieces that merely touch ("请尽快" + "维修").
        linked = [False] * max(0, len(run) - 1)
        for size in NGRAM_SIZES:
            for i in range(len(run) - size + 1):
                if run[i:i + size] in common:
                    linked[i:i + size - 1] = [True] * (size - 1)
        start = None
        for i, flag in enumerate(linked + [False]):
            if flag and start is None:
                start = i
            elif not flag and start is not None:
                found.setdefault(run[start:i + 1])
                start = None
    kept: list[str] = []
    for passage in sorted(found, key=lambda passage: (-len(passage), passage)):
        if not any(passage in longer for longer in kept):
            kept.append(passage)
    return kept[:shown]


def similar_pairs(sets: Sequence[frozenset[str]], threshold: float
                  ) -> Iterable[tuple[int, int, float]]:
    """Every pair ``(i, j, score)``, ``i < j``, of ``sets`` with Jaccard ≥ ``threshold`` > 0.

    Prefix filtering (Chaudhuri, Ganti and Kaushik, "A primitive operator for similarity
    joins", ICDE 2006): with each set's grams ranked rarest first, two sets with Jaccard ≥ t
    share a gram among the first ``|x| - ceil(t·|x|) + 1`` of each. Only those prefixes are
    indexed, so the common grams every complaint has ("请尽快", " th") never make every pair a
    candidate: the work grows with the pairs that may match, not with the square of the
    history. Pairs whose sizes alone rule the threshold out are skipped too. Exact: the same
    pairs as comparing all of them.
    """
    frequency = Counter(gram for grams in sets for gram in grams)
    index: dict[str, list[int]] = defaultdict(list)
    for j, grams in enumerate(sets):
        ranked = sorted(grams, key=lambda gram: (frequency[gram], gram))
        prefix = ranked[:len(ranked) - math.ceil(threshold * len(ranked)) + 1]
        candidates = {i for gram in prefix for i in index[gram]}
        for i in sorted(candidates):
            smaller, larger = sorted((len(sets[i]), len(grams)))
            if smaller < threshold * larger:
                continue
            score = jaccard(sets[i], grams)
            if score >= threshold:
                yield i, j, score
        for gram in prefix:
            index[gram].append(j)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def find_similar_texts(rows: Iterable[Any], *, threshold: float = 0.5,
                       shown: int = 8) -> list[SimilarGroup]:
    """Groups of two or more complaints whose texts are similar (Jaccard ≥ ``threshold``),
    the largest group first; each explained by up to ``shown`` shared passages, longest first."""
    found = [(row_reference(row), char_ngrams(text_of(row)), text_of(row)) for row in rows]
    found = sorted((item for item in found if item[0] and item[1]), key=lambda item: item[0])
    items = [(reference, grams) for reference, grams, _ in found]
    texts = [text for _, _, text in found]
    parent = list(range(len(items)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    weakest: dict[int, float] = {}
    pairs = list(similar_pairs([grams for _, grams in items], threshold))
    for i, j, _ in pairs:
        parent[root(j)] = root(i)
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(len(items)):
        members[root(i)].append(i)
    for i, j, score in pairs:
        top = root(i)
        weakest[top] = min(weakest.get(top, 1.0), score)
    groups = []
    for top, positions in members.items():
        if len(positions) < 2:
            continue
        counts = Counter(gram for position in positions for gram in items[position][1])
        common = {gram for gram, count in counts.items() if count >= max(2, len(positions) / 2)}
        groups.append(SimilarGroup(tuple(items[p][0] for p in positions),
                                   tuple(shared_passages(texts[positions[0]], common, shown)),
                                   round(weakest[top], 3)))
    return sorted(groups, key=lambda group: (-len(group.references), group.references))

