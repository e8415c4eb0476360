"""The digest's chart: complaints received per week, by category, as a small PNG.

``weekly_counts`` is pure (register rows, the park's time zone, the last week to show);
``category_chart_png`` draws the counts as stacked bars with matplotlib's Agg backend (no
display needed) and returns the PNG bytes, or None when matplotlib is not installed.

No tofu boxes: a fresh server often has no Chinese font. Every label is checked against the
glyphs of the fonts matplotlib will use (DejaVu Sans, plus the first font on the machine that
has Chinese characters, if any); a category name that cannot be drawn is shown by its config
key (``facilities``), and the title falls back to English. Weeks are labelled by their Monday
("11-16"), which every font can draw.
"""

from __future__ import annotations

import io
import logging
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any, Iterable, Sequence

from daemon.review.figures import read_time
from daemon.sla import as_utc, cell

log = logging.getLogger("parkdesk.review")

WEEKS_SHOWN = 8
MOST_CATEGORIES = 6          # more categories than this: the rest are added up as one
SIZE_INCHES = (6.4, 3.2)
DOTS_PER_INCH = 80           # 512 x 256 pixels: clear in a mail client, a few dozen KB
BASE_FONT = "DejaVu Sans"    # shipped with matplotlib, so always there
CJK_PROBE = "投诉类别每周"    # a font drawing these is taken as a Chinese font
TITLES = {"zh-CN": ("每周收到的投诉（按类别）", "周一日期"),
          "en": ("Complaints received per week, by category", "Week starting")}
FALLBACK_TITLES = TITLES["en"]
REST_LABELS = {"zh-CN": "其他类别", "en": "other categories"}
FALLBACK_REST = "other categories"
BLANK_CATEGORY = "-"


def monday_of(moment: datetime, tz: tzinfo) -> date:
    local = as_utc(moment).astimezone(tz).date()
    return local - timedelta(days=local.weekday())


def weekly_counts(rows: Iterable[Any], tz: tzinfo, last_monday: date,
                  weeks: int = WEEKS_SHOWN) -> tuple[list[date], dict[str, list[int]]]:
    """The Mondays of the ``weeks`` weeks ending with the week of ``last_monday`` (park time),
    and per category (the register's category cell, stripped) the complaints received in each.
    Categories are ordered by their total, largest first, then by name."""
    mondays = [last_monday - timedelta(weeks=weeks - 1 - index) for index in range(weeks)]
    position = {monday: index for index, monday in enumerate(mondays)}
    counts: dict[str, list[int]] = {}
    for row in rows:
        received = read_time(row, "received_at", tz)
        if received is None:
            continue
        index = position.get(monday_of(received, tz))
        if index is None:
            continue
        category = cell(row, "category").strip() or BLANK_CATEGORY
        counts.setdefault(category, [0] * weeks)[index] += 1
    ordered = sorted(counts.items(), key=lambda item: (-sum(item[1]), item[0]))
    return mondays, dict(ordered)


def fold_small_categories(series: dict[str, list[int]], rest_label: str,
                          most: int = MOST_CATEGORIES) -> dict[str, list[int]]:
    """The ``most - 1`` largest series as they are and the others added up, if there are
    more than ``most``."""
    if len(series) <= most:
        return dict(series)
    items = list(series.items())
    kept = dict(items[:most - 1])
    rest = [sum(values) for values in zip(*(values for _, values in items[most - 1:]))]
    kept[rest_label] = rest
    return kept


# --- fonts -----------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def chart_fonts() -> tuple[tuple[str, ...], frozenset[int]]:
    """The font families to draw with (DejaVu Sans, then a Chinese font if the machine has
    one) and the code points they can draw together."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    families = [BASE_FONT]
    covered = set(FT2Font(font_manager.findfont(BASE_FONT, fallback_to_default=True)).get_charmap())
    probe = {ord(char) for char in CJK_PROBE}
    for entry in sorted(font_manager.fontManager.ttflist, key=lambda entry: entry.name):
        try:
            charmap = FT2Font(entry.fname).get_charmap()
        except (OSError, RuntimeError, ValueError):
            continue
        # The Last Resort font maps every character to a box naming its Unicode block:
        # tofu by design. A real Chinese font has a glyph of its own for each character.
        if probe <= charmap.keys() and len({charmap[point] for point in probe}) == len(probe):
            families.append(entry.name)
            covered |= set(charmap)
            break
    return tuple(families), frozenset(covered)


def drawable(text: str) -> bool:
    """True if every character of ``text`` has a glyph in the chart's fonts."""
    _, covered = chart_fonts()
    return all(ord(char) in covered or char.isspace() for char in text)


def category_label(name: str, config: Any) -> str:
    """The category as shown: its name if the fonts can draw it, else its config key, else
    the name with the undrawable characters left out ("?" if nothing is left)."""
    if drawable(name):
        return name
    for category in config.categories:
        if name in (category.name, category.key) and drawable(category.key):
            return category.key
    kept = "".join(char for char in name if drawable(char)).strip()
    return kept or "?"


def chart_texts(config: Any, categories: Sequence[str]) -> dict[str, Any]:
    """Every text the chart draws: title, axis label, legend labels (merged where two
    categories end up with the same label)."""
    language = config.park.language
    title, axis = TITLES.get(language, FALLBACK_TITLES)
    if not (drawable(title) and drawable(axis)):
        title, axis = FALLBACK_TITLES
    rest = REST_LABELS.get(language, FALLBACK_REST)
    rest_shown = rest if drawable(rest) else FALLBACK_REST
    labels = {name: rest_shown if name == rest else category_label(name, config)
              for name in categories}
    return {"title": title, "axis": axis, "labels": labels}


# --- drawing ---------------------------------------------------------------------------------

def category_chart_png(rows: Iterable[Any], config: Any, now: datetime,
                       weeks: int = WEEKS_SHOWN) -> bytes | None:
    """The PNG of complaints per week by category over the ``weeks`` complete weeks before
    ``now`` (park time); None if matplotlib is missing."""
    try:
        import matplotlib
    except ImportError:
        log.warning("matplotlib is not installed: the digest goes out without its chart")
        return None
    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    tz = config.park.tz
    last_monday = monday_of(now, tz) - timedelta(weeks=1)
    mondays, series = weekly_counts(rows, tz, last_monday, weeks)
    series = fold_small_categories(series, REST_LABELS.get(config.park.language, FALLBACK_REST))
    texts = chart_texts(config, list(series))
    merged: dict[str, list[int]] = {}
    for name, values in series.items():
        label = texts["labels"][name]
        merged[label] = [a + b for a, b in zip(merged.get(label, [0] * weeks), values)]

    families, _ = chart_fonts()
    figure = Figure(figsize=SIZE_INCHES, dpi=DOTS_PER_INCH)
    axes = figure.add_subplot()
    positions = list(range(weeks))
    bottom = [0] * weeks
    for label, values in merged.items():
        axes.bar(positions, values, bottom=bottom, label=label, width=0.7)
        bottom = [a + b for a, b in zip(bottom, values)]
    axes.set_xticks(positions, [monday.strftime("%m-%d") for monday in mondays])
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_title(texts["title"], fontsize=10, family=list(families))
    axes.set_xlabel(texts["axis"], fontsize=8, family=list(families))
    axes.tick_params(labelsize=7)
    axes.spines[["top", "right"]].set_visible(False)
    if merged:
        axes.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0),
                    prop={"family": list(families), "size": 7})
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
