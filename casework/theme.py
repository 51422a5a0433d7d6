"""The municipality's look on the web pages: a few design tokens from ``[web] theme``.

Each colour token becomes a CSS custom property of the web front's stylesheet, so the
values are checked here, once, when the settings are read: a value that could end the
declaration (``;``, ``}``) or fetch something (``url(``) is refused."""

from __future__ import annotations

import re
from typing import Any

# token -> (CSS custom property, default): the colours of the pages' own stylesheet.
COLOURS: dict[str, tuple[str, str]] = {
    "color-primary": ("--cw-color-primary", "#004699"),
    "color-primary-text": ("--cw-color-primary-text", "#ffffff"),
    "color-header": ("--cw-color-header", "#ffffff"),
    "color-header-text": ("--cw-color-header-text", "#181818"),
    "color-focus": ("--cw-color-focus", "#004699"),
}
LOGO = "logo"
_COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}|(rgb|hsl)a?\([0-9., %]+\)|[a-z]{3,20}")


def theme_problem(theme: dict[str, Any]) -> str | None:
    """Return what is wrong with a theme table, or None."""
    for key, value in theme.items():
        if key == LOGO:
            if not isinstance(value, str) or not value.lower().endswith((".png", ".svg")):
                return f"logo must be the path of a .png or .svg file, got {value!r}"
            continue
        if key not in COLOURS:
            return (f"unknown token {key!r}; known: {', '.join([*COLOURS, LOGO])}")
        if not isinstance(value, str) or not _COLOUR.fullmatch(value.strip()):
            return (f"{key} must be a colour such as \"#005a9c\" or \"rgb(0, 90, 156)\", "
                    f"got {value!r}")
    return None


def theme_css(theme: dict[str, Any]) -> str:
    """Return the stylesheet that sets the theme's colours (defaults where none is given)."""
    lines = [f"  {prop}: {str(theme.get(token, default)).strip()};"
             for token, (prop, default) in COLOURS.items()]
    return ":root {\n" + "\n".join(lines) + "\n}\n"
