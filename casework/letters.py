"""Letters: Jinja2 templates rendered to Typst markup, compiled to PDF by the typst package.

Every value a template prints goes through the environment's ``finalize``: text becomes a Typst
string literal (``#"...";``), so a surname or note with ``#``, ``$``, ``*``, ``_``, ``\\``, ``<``
or ``@`` prints literally and can never run as code. ``StrictUndefined`` makes a missing value
an error, never an empty gap. Fonts are the ones typst embeds (no system fonts, so every machine
prints the same letter); output is PDF/A-2b.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from casework.errors import CaseworkError
from casework.text import shown

TEMPLATE_SUFFIX = ".typ.j2"
FONT = "Libertinus Serif"
PDF_STANDARD = "a-2b"
# A line must not start with something a spreadsheet or a markup language could run.
_RISKY_START = ("=", "+", "-", "@", "#", "\t", "\r", "<", "$", "*", "_", "`", "[", "\\")
_POSTCODE_LINE = re.compile(r"^[1-9][0-9]{3} [A-Z]{2}  \S.*$")
# typst's PDF/A check when no embedded font has a glyph: the text `"\u{f8d0}"` could not be ...
_NOT_SHOWN = re.compile(r'the text `"(?P<text>(?:[^"\\]|\\.)*)"` could not be displayed')


class LetterError(CaseworkError):
    """A template that cannot be rendered, or a letter that cannot be sent as it is."""


def _template_says(template: str) -> str:
    """What a case worker reads on the case page about a template that cannot be made."""
    return (f"het briefsjabloon {shown(template)} ontbreekt of heeft een fout; vraag de "
            "functioneel beheerder het te herstellen.")


class UnprintableText(LetterError):
    """Text none of the letter's fonts has a glyph for: printed, it would be an empty box."""

    def __init__(self, message: str, char: str) -> None:
        super().__init__(message, says=f"er staat een teken in de brief dat het lettertype niet "
                                       f"kan drukken ({describe_char(char)}); verbeter de "
                                       "gegevens van de persoon of de zaak.")
        self.char = char


def describe_char(char: str) -> str:
    """Return a character as people can look it up, never the character itself: 'U+1F600
    GRINNING FACE' (safe in a terminal and a log whatever the character is)."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def _unescape_code_point(match: re.Match[str]) -> str:
    point = int(match[1], 16)
    return chr(point) if point <= 0x10FFFF else "\ufffd"


def _not_shown(message: str) -> str | None:
    """Return the first character typst says no font can display, from its error message."""
    match = _NOT_SHOWN.search(message)
    if not match:
        return None
    text = re.sub(r"\\u\{([0-9a-fA-F]{1,6})\}", _unescape_code_point, match["text"])
    text = re.sub(r"\\(.)", r"\1", text)
    return text[:1] or None


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


def capfirst(value: Any) -> Any:
    """Return text that starts a sentence (or a name without initials) with a capital first
    letter, the rest as it is: 'het WIJ-team' -> 'Het WIJ-team', 'van Dijk' -> 'Van Dijk'.
    Text starting with an apostrophe or d' keeps it small, as Dutch writes 't Hart and
    d'Ancona. Anything but text is returned as it is."""
    if not isinstance(value, str) or isinstance(value, Raw) or not value:
        return value
    if value.startswith(("'", "\u2019")) or value[:2].lower() in ("d'", "d\u2019"):
        return value
    return value[0].upper() + value[1:]


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
        self._shown: dict[str, bool] = {}
        self._prints: dict[str, bool] = {}

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
        env.filters["capfirst"] = capfirst
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
                              "add it or fix the route's letter name",
                              says=_template_says(template)) from None
        except jinja2.UndefinedError as exc:
            raise LetterError(f"template {template}: {exc.message}; the letter would have a "
                              "gap, so it is not made", says=_template_says(template)) from None
        except jinja2.TemplateSyntaxError as exc:
            raise LetterError(f"template {exc.filename or template}, line {exc.lineno}: "
                              f"{exc.message}", says=_template_says(template)) from None
        except LetterError as exc:
            raise LetterError(f"template {template}: {exc}; the letter would have a gap, so "
                              "it is not made", says=_template_says(template)) from None

    def prints(self, template: str, name: str) -> bool:
        """Return whether the template prints the value ``name`` (False for a template that
        is missing or cannot be read: rendering it reports that)."""
        key = f"{template}\0{name}"
        if key not in self._prints:
            import jinja2
            from jinja2 import meta

            try:
                source = self.env.loader.get_source(self.env, template + TEMPLATE_SUFFIX)[0]
                names = meta.find_undeclared_variables(self.env.parse(source))
            except (jinja2.TemplateError, OSError):
                names = set()
            self._prints[key] = name in names
        return self._prints[key]

    def pdf(self, template: str, context: Mapping[str, Any]) -> bytes:
        """Return the letter as PDF/A-2b bytes; UnprintableText when a character has no glyph
        in any embedded font (PDF/A refuses it, so no letter is printed with empty boxes)."""
        source = self.markup(template, context)
        try:
            data: bytes = self.compiler.compile(input=source.encode("utf-8"), format="pdf",
                                                pdf_standards=[PDF_STANDARD],
                                                timestamp=0)
        except Exception as exc:  # typst reports template mistakes as its own error
            first = (str(exc).splitlines() or [""])[0]
            char = _not_shown(first)
            if char:
                raise UnprintableText(f"template {template}: a text has a character the "
                                      f"letter's fonts cannot print ({describe_char(char)})",
                                      char) from None
            raise LetterError(f"template {template}: typst could not compile it: "
                              f"{first}", says=_template_says(template)) from None
        return data

    def unprintable(self, text: str) -> str | None:
        """Return the first character of text that none of the embedded fonts can show (None
        when all can). typst itself is asked, once per character (under a millisecond), so
        its font fallback counts: Greek, Cyrillic and Arabic print, emoji, CJK and private-use
        characters do not."""
        unknown = {char for char in text if char not in self._shown}
        if unknown:
            if self._shows("".join(sorted(unknown))):
                self._shown.update(dict.fromkeys(unknown, True))
            else:
                self._shown.update({char: self._shows(char) for char in unknown})
        return next((char for char in text if not self._shown[char]), None)

    def _shows(self, chars: str) -> bool:
        source = f"#set text(font: {typst_code(FONT)}, lang: \"nl\")\n{typst_text(chars)}"
        try:
            self.compiler.compile(input=source.encode("utf-8"), format="pdf",
                                  pdf_standards=[PDF_STANDARD], timestamp=0)
        except Exception:
            return False
        return True

    def png(self, template: str, context: Mapping[str, Any], ppi: int = 100) -> list[bytes]:
        """Return the pages of the letter as PNG images (same source as the PDF). The PDF is
        made first: a PNG would show a character no font has as an empty box, silently."""
        self.pdf(template, context)
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
