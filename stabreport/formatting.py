"""Formatting numbers that are carried as log10 values, so nothing overflows on the way out."""
from __future__ import annotations

import math

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def superscript(n: int) -> str:
    return str(n).translate(_SUPERSCRIPT)


def pow10(log10_value: float, digits: int = 2) -> str:
    """10**log10_value in scientific notation, e.g. -8.87 → '1.3 × 10⁻⁹'."""
    if not math.isfinite(log10_value):
        raise ValueError(f"cannot format 10**{log10_value}: not a finite log10 value")
    exponent = math.floor(log10_value)
    mantissa = round(10 ** (log10_value - exponent), digits - 1)
    if mantissa >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{mantissa:.{digits - 1}f} × 10{superscript(exponent)}"


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
        return "less than one order of magnitude"
    return f"about {n} order{'s' if n != 1 else ''} of magnitude"
