"""Letters: Jinja2 templates rendered to Typst markup, compiled to PDF by the typst package.

Every value a template prints goes through the environment's ``finalize``: text becomes a Typst
string literal (``#"...";``), so a surname or note with ``#``, ``$``, ``*``, ``_``, ``\\``, ``<``
or ``@`` prints literally and can never run as code. ``StrictUndefined`` makes a missing value
an error, never an empty gap. Fonts are the ones typst embeds (no system fonts, so every machine
prints the same letter); output is PDF/A-2b.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from casework.errors import CaseworkError

TEMPLATE_SUFFIX = ".typ.j2"
FONT = "Libertinus Serif"
PDF_STANDARD = "a-2b"
# A line must not start with something a spreadsheet or a markup language could run.
_RISKY_START = ("=", "+", "-", "@", "#", "\t", "\r", "<", "$", "*", "_", "`", "[", "\\")
_POSTCODE_LINE = re.compile(r"^[1-9][0-9]{3} [A-Z]{2}  \S.*$")


class LetterError(CaseworkError):
    """A template that cannot be rendered, or a letter that cannot be sent as it is."""


class Raw(str):
    """Typst markup a template may print as it is (only made by this module)."""


def typst_text(value: str) -> str:
    """Return value as a Typst string literal that prints literally in markup."""
    escaped = (value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("\r", "").replace("\t", " "))
    return f'#"{escaped}";'


def typst_code(value: Any) -> Raw:
    """Return value as a Typst string literal for code (function arguments): "..."."""
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return Raw(f'"{escaped}"')


def _finalize(value: Any) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool) or value is None:
        raise LetterError(f"a value it prints is missing ({value!r}); give the value, or "
                          "print it only {% if %} it is there")
    if isinstance(value, int | float):
        return str(value)
    return typst_text(str(value))


@dataclass(frozen=True)
class Window:
    """The envelope window, in mm from the top left of the page."""

    left: float
    top: float
    width: float
    height: float


class LetterRenderer:
    """Renders letters from one templates folder with one typst compiler (fonts loaded once)."""

    def __init__(self, templates_dir: Path, window: Window, max_pages: int) -> None:
        self.templates_dir = templates_dir
        self.window = window
        self.max_pages = max_pages

    @cached_property
    def env(self) -> Any:
        import jinja2

        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(self.templates_dir)),
            undefined=jinja2.StrictUndefined,
            finalize=_finalize,
            autoescape=False,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters["code"] = typst_code
        return env

    @cached_property
    def compiler(self) -> Any:
        import typst

        return typst.Compiler(ignore_system_fonts=True)

    def templates(self) -> list[str]:
        """Return the letter templates (not the base layout)."""
        return sorted(p.name[: -len(TEMPLATE_SUFFIX)]
                      for p in self.templates_dir.glob(f"*{TEMPLATE_SUFFIX}")
                      if not p.name.startswith("_"))

    def markup(self, template: str, context: Mapping[str, Any]) -> str:
        """Return the Typst markup of a letter; LetterError names the template and the gap."""
        import jinja2

        try:
            tpl = self.env.get_template(template + TEMPLATE_SUFFIX)
            return str(tpl.render(**context, window=self.window, font=FONT))
        except jinja2.TemplateNotFound as exc:
            raise LetterError(f"letter template {exc.name} not found in {self.templates_dir}; "
                              "add it or fix the route's letter name") from None
        except jinja2.UndefinedError as exc:
            raise LetterError(f"template {template}: {exc.message}; the letter would have a "
                              "gap, so it is not made") from None
        except jinja2.TemplateSyntaxError as exc:
            raise LetterError(f"template {exc.filename or template}, line {exc.lineno}: "
                              f"{exc.message}") from None
        except LetterError as exc:
            raise LetterError(f"template {template}: {exc}; the letter would have a gap, so "
                              "it is not made") from None

    def pdf(self, template: str, context: Mapping[str, Any]) -> bytes:
        """Return the letter as PDF/A-2b bytes."""
        source = self.markup(template, context)
        try:
            data: bytes = self.compiler.compile(input=source.encode("utf-8"), format="pdf",
                                                pdf_standards=[PDF_STANDARD],
                                                timestamp=0)
        except Exception as exc:  # typst reports template mistakes as its own error
            raise LetterError(f"template {template}: typst could not compile it: "
                              f"{str(exc).splitlines()[0]}") from None
        return data

    def png(self, template: str, context: Mapping[str, Any], ppi: int = 100) -> list[bytes]:
        """Return the pages of the letter as PNG images (same source as the PDF)."""
        source = self.markup(template, context)
        pages = self.compiler.compile(input=source.encode("utf-8"), format="png", ppi=ppi)
        return pages if isinstance(pages, list) else [pages]


def address_lines(name: str, street_line: str, postcode: str, city: str) -> list[str]:
    """Return the address block as PostNL wants it: '1234 AB  CITY' (two spaces, capitals)."""
    return [name, street_line, f"{postcode}  {city.upper()}"]


def check_address(lines: list[str]) -> str | None:
    """Return why an address block cannot go out (None when it can)."""
    if not 3 <= len(lines) <= 7:
        return f"the address has {len(lines)} lines; it needs 3 to 7"
    for line in lines:
        if not line.strip():
            return "the address has an empty line"
        if line.startswith(_RISKY_START):
            return f"an address line starts with {line[0]!r}, which could be read as a formula"
        if len(line) > 60:
            return "an address line is longer than 60 characters"
    if not _POSTCODE_LINE.match(lines[-1]):
        return (f"the last address line {lines[-1]!r} is not '1234 AB  CITY' (postcode, two "
                "spaces, the city in capitals)")
    return None


def dutch_date(day: date) -> str:
    """Return '23 november 2026'."""
    from babel.dates import format_date

    return str(format_date(day, format="long", locale="nl"))


def dutch_moment(moment: datetime, tz: Any) -> str:
    """Return 'maandag 30 november 2026 om 10.00 uur'."""
    from babel.dates import format_datetime

    return str(format_datetime(moment, "EEEE d MMMM y 'om' HH.mm 'uur'", locale="nl",
                               tzinfo=tz))


def case_reference(workflow_id: str, case_id: int) -> str:
    """Return the case reference printed as 'Ons kenmerk': KIK-000123 for kansen-in-kaart."""
    letters = "".join(part[0] for part in workflow_id.split("-") if part).upper()
    return f"{letters or 'CW'}-{case_id:06d}"
