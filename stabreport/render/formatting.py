"""Formatting for the page: numbers carried as log10 values (nothing overflows on the way out),
and config text, which a page shows literally."""
from __future__ import annotations

import math
import re
from typing import Any

from markupsafe import Markup, escape

from .i18n import _, ngettext

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def superscript(n: int) -> str:
    return str(n).translate(_SUPERSCRIPT)


NBSP = "\u00a0"  # a number in scientific notation is one word: a line never breaks inside it


def pow10(log10_value: float, digits: int = 2) -> str:
    """10**log10_value in scientific notation, e.g. -8.87 → '1.3 × 10⁻⁹' (no-break spaces
    around the ×, so a table cell or a line of prose never splits a number)."""
    if not math.isfinite(log10_value):
        raise ValueError(f"cannot format 10**{log10_value}: not a finite log10 value")
    exponent = math.floor(log10_value)
    mantissa = round(10 ** (log10_value - exponent), digits - 1)
    if mantissa >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{mantissa:.{digits - 1}f}{NBSP}×{NBSP}10{superscript(exponent)}"


def signed(value: float, decimals: int = 1) -> str:
    """A signed decimal with a true minus sign: '+6.1', '−8.9'."""
    if not math.isfinite(value):
        raise ValueError(f"cannot format {value}: not finite")
    text = f"{value:+.{decimals}f}"
    if float(text) == 0:
        text = f"{0:.{decimals}f}"
    return text.replace("-", "−")


def orders(decades: float) -> str:
    """'about 7 orders of magnitude' for a difference of 6.8 in log10."""
    n = round(abs(decades))
    if n == 0:
        return _("less than one order of magnitude")
    return ngettext("about %(n)s order of magnitude", "about %(n)s orders of magnitude", n) % {"n": n}


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]#+\-.!|$])")


def markdown_literal(text: str) -> Markup:
    """`text` as literal text in a Markdown page: every character that Markdown, attribute lists,
    tables or math would read is backslash-escaped, then the result is HTML-escaped. So config
    text such as `[x](javascript:…)`, `{ onclick=… }` or `$…$` shows as written and makes no link,
    attribute or formula. (Parentheses are left alone: escaped, they would open math.)"""
    return Markup(escape(_MARKDOWN_SPECIAL.sub(r"\\\1", str(text))))


_ATTRIBUTE_SPECIAL = re.compile(r"([\\`*_{}\[\]()#!|$~<>&\"'])")


def attribute_literal(text: str) -> Markup:
    """`text` as the literal value of an HTML attribute in a Markdown page (an image's alt text):
    every character that HTML or Markdown would read becomes a numeric character reference,
    which Markdown leaves alone and the browser turns back into the character."""
    return Markup(_ATTRIBUTE_SPECIAL.sub(lambda m: f"&#{ord(m.group(1))};", str(text)))


class ConfigText(str):
    """Text from the report config. Python sees a plain string (for BibTeX, CSV, figures); a
    template printing it with autoescape on gets `markdown_literal(text)`, through Jinja's
    `__html__` protocol, so config text is data everywhere on the site without a filter to
    remember."""

    __slots__ = ()

    def __html__(self) -> Markup:
        return markdown_literal(self)


class Words(str):
    """Words the code declares in English (a message marked with N_, and its named values) that
    read in the language being rendered wherever they are shown, however long ago they were made:
    a theory's description, computed once for every edition of the site. As a string (compared,
    hashed, written to JSON) it is the English text; `str()` of it, and a template printing it,
    translate the message, then fill in the values."""

    def __new__(cls, message: str, **values: Any) -> "Words":
        self = super().__new__(cls, message % values if values else message)
        self.message, self.values = message, values
        return self

    def __str__(self) -> str:
        text = _(self.message)
        return text % self.values if self.values else text

    def __html__(self) -> Markup:
        return escape(str(self))

    def __reduce__(self) -> tuple:
        return _words, (self.message, self.values)


def _words(message: str, values: dict) -> Words:
    return Words(message, **values)
