"""Untrusted text: the one check that text holds no control characters before it is stored.

Names, addresses, notes and the other text people send in are data. A control character in
them (C0, DEL, C1, NUL) can move a terminal's cursor, hide text or end a string early in
another program, and a lone surrogate cannot be stored or printed at all, so both are refused
where the text enters; tab and newline only in notes, where people write lines.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

_MULTILINE_OK = frozenset("\t\n")


def unclean(text: str, multiline: bool = False) -> str | None:
    """Return what is wrong with the text ('a control character (U+001B)'), or None when clean.

    Tab and newline are allowed when ``multiline`` (notes); the character is named by its
    code point, never shown, so the message itself is clean.
    """
    if text.isprintable():  # every character printable (the space is): one pass in C
        return None
    for char in text:
        if char.isprintable() or char == " ":
            continue
        category = unicodedata.category(char)
        if category == "Cc":
            if multiline and char in _MULTILINE_OK:
                continue
            return f"a control character (U+{ord(char):04X})"
        if category == "Cs":
            return f"a broken character (U+{ord(char):04X}, a lone surrogate)"
    return None


def shown(value: Any, limit: int = 60) -> str:
    """Return a value someone typed, quoted for a message: control characters escaped, long
    text cut, and any run of 8 or more digits (in any script) masked, because a number typed
    in the wrong place may be a BSN and a message must never repeat one."""
    text = masked(value if isinstance(value, str) else json.dumps(value, default=str))
    return repr(text if len(text) <= limit else text[:limit - 3] + "...")


def masked(text: str) -> str:
    """Return text with any run of 8 or more digits (in any script) as as many '*': a number
    typed in the wrong place (a file's name, a message) may be a BSN."""
    out: list[str] = []
    run: list[str] = []
    for char in [*text, ""]:
        if char and char.isdigit():
            run.append(char)
            continue
        out.append("*" * len(run) if len(run) >= 8 else "".join(run))
        run = []
        out.append(char)
    return "".join(out)
