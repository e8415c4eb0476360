"""Turn an HTML mail body into readable plain text for the register.

Uses the stdlib ``html.parser``: mail HTML needs no DOM, only its text in reading order with
the line structure a person sees. Paragraphs and headings become blank-line separated
blocks; ``<br>``, ``<div>``, ``<li>`` and table rows become line breaks; table cells on one
row are joined with `` | ``; ``<blockquote>`` lines get a ``> `` prefix (so quoted replies
look like quoted plain text); ``<script>``, ``<style>``, ``<title>`` and Outlook's ``<xml>``
islands are dropped; entities are decoded. Malformed markup never raises.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_SKIPPED = frozenset(("script", "style", "title", "xml", "template"))
_PARAGRAPHS = frozenset(("p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "table",
                         "pre", "blockquote", "figure"))
_LINES = frozenset(("div", "tr", "li", "dt", "dd", "section", "article", "header", "footer",
                    "address", "center", "form", "fieldset", "nav", "aside", "main", "caption",
                    "tbody", "thead", "tfoot", "hr", "body", "html", "option"))
_CELLS = frozenset(("td", "th"))
_VOID = frozenset(("br", "hr", "img", "meta", "link", "input", "area", "base", "col", "wbr"))
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0\u200b\u3000]+")


def html_to_text(html: str) -> str:
    """Readable text of an HTML document or fragment.

    >>> html_to_text("<p>Hello&nbsp;<b>world</b></p><p>line<br>two</p><script>x()</script>")
    'Hello world\\n\\nline\\ntwo'
    """
    collector = _TextCollector()
    try:
        collector.feed(html)
        collector.close()
    except Exception:  # noqa: BLE001 - html.parser on hostile input; keep what was read
        pass
    return collector.text()


class _TextCollector(HTMLParser):
    """Collects text and pending line breaks while the parser walks the markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        self._pending_breaks = 0  # newlines owed before the next text
        self._skip_depth = 0
        self._pre_depth = 0
        self._quote_depth = 0
        self._cell_separator_due = False
        self._row_has_text = False
        self._at_line_start = True

    # --- parser callbacks ---------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            if tag not in _VOID:
                self._skip_depth += 1
            return
        if tag == "br":
            self._pending_breaks += 1
            return
        self._open_block(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._pending_breaks += 1
        elif tag in _PARAGRAPHS or tag in _LINES:
            self._want_breaks(2 if tag in _PARAGRAPHS else 1)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)
        if tag == "blockquote":
            self._want_breaks(2)
            self._quote_depth = max(0, self._quote_depth - 1)
            return
        if tag in _PARAGRAPHS:
            self._want_breaks(2)
        elif tag in _LINES:
            self._want_breaks(1)

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._pre_depth:
            for number, line in enumerate(data.split("\n")):
                if number:
                    self._pending_breaks += 1
                if line:
                    self._emit(line.replace("\u00a0", " "))
            return
        text = _SPACES.sub(" ", data)
        if self._at_line_start or self._pending_breaks:
            text = text.lstrip(" ")
        elif self._out and self._out[-1].endswith(" "):
            text = text.lstrip(" ")
        if text:
            self._emit(text)

    # --- helpers ------------------------------------------------------------------------

    def _open_block(self, tag: str) -> None:
        if tag == "pre":
            self._pre_depth += 1
        if tag == "blockquote":
            self._want_breaks(2)
            self._quote_depth += 1
            return
        if tag == "tr":
            self._row_has_text = False
            self._cell_separator_due = False
        if tag in _CELLS:
            if self._row_has_text:
                self._cell_separator_due = True
            return
        if tag == "li":
            self._want_breaks(1)
            self._emit("- ")
            return
        if tag == "hr":
            self._want_breaks(1)
            self._emit("----------")
            self._want_breaks(1)
            return
        if tag in _PARAGRAPHS:
            self._want_breaks(2)
        elif tag in _LINES:
            self._want_breaks(1)

    def _want_breaks(self, count: int) -> None:
        self._pending_breaks = max(self._pending_breaks, count)

    def _emit(self, text: str) -> None:
        if self._pending_breaks:
            if self._out:
                self._out.append("\n" * self._pending_breaks)
                self._at_line_start = True
            self._pending_breaks = 0
            self._cell_separator_due = self._cell_separator_due and not self._at_line_start
        if self._cell_separator_due:
            self._out.append(" | ")
            self._cell_separator_due = False
        if self._at_line_start and self._quote_depth:
            self._out.append("> " * self._quote_depth)
        self._out.append(text)
        self._at_line_start = False
        self._row_has_text = True

    def text(self) -> str:
        joined = "".join(self._out)
        lines = [line.rstrip() for line in joined.split("\n")]
        cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
        return cleaned.strip("\n")
