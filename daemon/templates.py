"""Jinja2 templates for every message ParkDesk sends, per language, text and HTML.

A message is three files in ``templates/<language>/``: ``NAME.subject.j2`` (one line),
``NAME.txt.j2`` (the plain-text part) and, optionally, ``NAME.html.j2``. Undefined variables
are errors (StrictUndefined), so a typo in a template fails loudly, not silently. HTML is
autoescaped: a tenant's ``<script>`` is shown, not run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2

# The top-level templates/ folder of the source tree (beside pyproject.toml); an installed
# ParkDesk has them as the data package ``parkdesk_templates`` (see pyproject.toml).
_SOURCE_ROOT = Path(__file__).resolve().parent.parent
_SOURCE_TEMPLATES = _SOURCE_ROOT / "templates"
INSTALLED_TEMPLATES_PACKAGE = "parkdesk_templates"


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str | None


def default_templates_dir() -> Path:
    """Where the shipped templates are: the source tree's ``templates/`` when running from a
    checkout, else the installed data package's folder (``pip install .``)."""
    if _SOURCE_TEMPLATES.is_dir() and (_SOURCE_ROOT / "pyproject.toml").is_file():
        return _SOURCE_TEMPLATES
    return installed_templates_dir() or _SOURCE_TEMPLATES


def installed_templates_dir() -> Path | None:
    """The folder of the installed ``parkdesk_templates`` package, or None if not installed.

    It holds no Python module (only ``<language>/*.j2``), so it is a namespace package: its
    folder is found from the import spec's search locations, which works for both kinds.
    """
    import importlib.util

    try:
        spec = importlib.util.find_spec(INSTALLED_TEMPLATES_PACKAGE)
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        if Path(location).is_dir():
            return Path(location)
    return None


class Templates:
    """Renders ``NAME`` in one language from a templates folder."""

    def __init__(self, language: str, root: Path | None = None):
        self.root = Path(root) if root else default_templates_dir()
        self.language = language
        folder = self.root / language
        if not folder.is_dir():
            raise FileNotFoundError(
                f"No templates for language {language!r}: the folder {folder} does not exist "
                f"(park.language must be one of: {', '.join(self.languages())})"
            )
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(folder)),
            undefined=jinja2.StrictUndefined,
            autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
            keep_trailing_newline=True,
        )

    def languages(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def render(self, name: str, **context) -> RenderedMail:
        subject = self._env.get_template(f"{name}.subject.j2").render(**context)
        text = self._env.get_template(f"{name}.txt.j2").render(**context)
        try:
            html_template = self._env.get_template(f"{name}.html.j2")
        except jinja2.TemplateNotFound:
            html = None
        else:
            html = html_template.render(**context)
        return RenderedMail(subject=" ".join(subject.split()), text=text, html=html)
