"""The archive tabs, backend-neutral: which tabs they are, and where a moved row's cells go.

Closed complaints move from the Register tab to ``Archive <year>`` tabs (``daemon.aftercare``
decides which and when); a reopened one moves back. Both backends move whole rows, every column
included, also columns staff added, so a row is copied by header text, not by position:

- a column ParkDesk knows (``sheet_layout.REGISTER_COLUMNS``) goes to the column with that
  header in the target tab, whatever its position or wording (``编号`` or ``编号 Reference``);
- a staff column goes to the target column with the same header text;
- a column the target lacks is added after the target's last header, header text included, so
  nothing is dropped;
- a new archive tab gets the source's header row as it is.

Pure functions of header rows and cells; the backends do the reading and writing.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from daemon.aftercare import ARCHIVE_TAB_PREFIX
from daemon.register import map_header, normalize_header
from daemon.register.errors import RegisterError
from daemon.sheet_layout import REGISTER_COLUMNS

ARCHIVE_TITLE = re.compile(rf"^{re.escape(ARCHIVE_TAB_PREFIX)}\s+(\S.*)$", re.IGNORECASE)
COLUMN_HEADERS = {column.key: column.header for column in REGISTER_COLUMNS}


def is_archive_tab(title: str) -> bool:
    """True for ``"Archive 2025"`` and ``"archive 2024 old"``; False for ``"Archived"``."""
    return bool(ARCHIVE_TITLE.match(str(title).strip()))


def archive_year(title: str) -> int | None:
    """The year an archive tab is named for: ``"Archive 2025"`` -> 2025; None if it names none."""
    match = ARCHIVE_TITLE.match(str(title).strip())
    if not match:
        return None
    year = re.match(r"(\d{4})\b", match.group(1))
    return int(year.group(1)) if year else None


def archive_tabs_newest_first(titles: Iterable[str]) -> list[str]:
    """The archive tabs among ``titles``, the newest year first; tabs without a year come last.

    ``["Register", "Archive 2024", "Archive 2025", "Archive misc"]`` ->
    ``["Archive 2025", "Archive 2024", "Archive misc"]``.
    """
    found = [title for title in titles if is_archive_tab(title)]
    return sorted(found, key=lambda title: (-(archive_year(title) or 0), title.casefold()))


def find_tab(titles: Iterable[str], wanted: str) -> str | None:
    """The existing tab that is ``wanted``: the same title, else the same title in another case
    (Google refuses two tabs whose titles differ only in case)."""
    titles = list(titles)
    if wanted in titles:
        return wanted
    folded = wanted.casefold()
    return next((title for title in titles if title.casefold() == folded), None)


def check_moves(moves: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """``moves`` cleaned: tab -> references, empty tabs dropped, references stripped.

    ``RegisterError`` if a tab is not an archive tab (``Archive <year>``) or a reference is
    listed twice: nothing would then be moved.
    """
    cleaned: dict[str, list[str]] = {}
    spelling: dict[str, str] = {}  # tabs differing only in case are one tab
    seen: dict[str, str] = {}
    for tab, references in moves.items():
        tab = spelling.setdefault(str(tab).strip().casefold(), str(tab).strip())
        if not is_archive_tab(tab):
            raise RegisterError(
                f"{tab!r} is not an archive tab; rows move only to tabs named "
                f"'{ARCHIVE_TAB_PREFIX} <year>', such as '{ARCHIVE_TAB_PREFIX} 2025'.")
        for reference in references:
            reference = str(reference).strip()
            if not reference:
                continue
            if reference.casefold() in seen:
                raise RegisterError(
                    f"{reference} is listed twice (for {seen[reference.casefold()]} and {tab}); "
                    "nothing was moved.")
            seen[reference.casefold()] = tab
            cleaned.setdefault(tab, []).append(reference)
    return cleaned


def choose_sheet_id(title: str, taken: Collection[int]) -> int:
    """A sheetId for a new tab, chosen before it exists so one batch can create and fill it:
    derived from the title (the same title gives the same id), moved on past ids in use."""
    sheet_id = zlib.crc32(title.encode("utf-8")) & 0x3FFFFFFF or 1
    while sheet_id in taken:
        sheet_id = sheet_id % 0x3FFFFFFF + 1
    return sheet_id


def filled_columns(rows: Iterable[Sequence[str]]) -> set[int]:
    """0-based indexes of the columns holding text in any of ``rows``."""
    return {index for row in rows for index, cell in enumerate(row) if str(cell).strip()}


def header_width(header: Sequence[str]) -> int:
    """Columns up to and including the last non-blank header cell."""
    return max((index + 1 for index, cell in enumerate(header) if str(cell).strip()), default=0)


@dataclass(frozen=True)
class ColumnPlan:
    """Where each source column goes in the target tab.

    ``positions[i]`` is the target index of source column ``i`` (None: blank and unused, so
    nothing to copy); ``added`` are the header cells to write in the target's header row
    (target index, text), always consecutive; ``width`` is the target's width after them;
    ``keys`` maps each column ParkDesk knows to its target index.
    """

    positions: tuple[int | None, ...]
    added: tuple[tuple[int, str], ...]
    width: int
    keys: Mapping[str, int]

    def place(self, cells: Sequence[str]) -> list[str]:
        """One source row's cells as a target row: ``width`` cells, "" where nothing goes."""
        placed = [""] * self.width
        for index, position in enumerate(self.positions):
            if position is not None and index < len(cells):
                placed[position] = "" if cells[index] is None else str(cells[index])
        return placed

    def header(self, target_header: Sequence[str]) -> list[str]:
        """The target's header row once ``added`` is written."""
        header = [str(cell) for cell in target_header] + [""] * self.width
        for index, text in self.added:
            header[index] = text
        return header[: max(self.width, len(target_header))]


def plan_columns(
    source_header: Sequence[str],
    target_header: Sequence[str],
    *,
    filled: Collection[int],
    target_width: int | None = None,
    required_keys: Iterable[str] = (),
) -> ColumnPlan:
    """Where the columns of rows moved from a tab with ``source_header`` go in the target.

    ``filled``: the source columns holding text in the moved rows (a blank-headed column is
    copied only if it holds some). ``target_width``: columns of the target already in use (its
    header width by default); new columns start after them. ``required_keys``: columns
    ParkDesk knows that must exist in the target (they are added with their bilingual header).

    A target with an empty header row (a new tab) takes the source's header row as it is.
    """
    source = [str(cell if cell is not None else "") for cell in source_header]
    width = max([len(source), *(index + 1 for index in filled)])
    source += [""] * (width - len(source))
    target = [str(cell if cell is not None else "") for cell in target_header]
    if header_width(target) == 0:
        added = tuple((index, text) for index, text in enumerate(source) if text.strip())
        keys = map_header(source, REGISTER_COLUMNS)
        for key in required_keys:
            if key not in keys:
                keys[key] = width
                added += ((width, COLUMN_HEADERS[key]),)
                width += 1
        return ColumnPlan(tuple(range(len(source))), added, width, keys)

    source_keys = {index: key for key, index in map_header(source, REGISTER_COLUMNS).items()}
    target_keys = map_header(target, REGISTER_COLUMNS)
    taken = set(target_keys.values())
    used = next_free = max(header_width(target), target_width or 0)
    positions: list[int | None] = []
    added: list[tuple[int, str]] = []
    for index, text in enumerate(source):
        key = source_keys.get(index)
        position = target_keys.get(key) if key else None
        if position is None and not key and text.strip():
            wanted = normalize_header(text)
            position = next((j for j, cell in enumerate(target)
                             if j not in taken and normalize_header(cell) == wanted), None)
        if position is None and not text.strip():
            if index not in filled:
                positions.append(None)
                continue
            # A blank-headed column: the same place if that is blank-headed in the target too
            # (an archive tab made from this Register), else a new column.
            if index < used and index not in taken and not str(
                    target[index] if index < len(target) else "").strip():
                position = index
        if position is None:
            position = next_free
            next_free += 1
            added.append((position, text))
            if key:
                target_keys[key] = position
        taken.add(position)
        positions.append(position)
    for key in required_keys:
        if key not in target_keys:
            target_keys[key] = next_free
            added.append((next_free, COLUMN_HEADERS[key]))
            next_free += 1
    return ColumnPlan(tuple(positions), tuple(added), next_free, target_keys)
