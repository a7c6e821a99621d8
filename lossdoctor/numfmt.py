"""Numbers as a person reads them, in one place: every report, message and table uses these.

The policy: counts and steps in full with thousands separators (12,345); measured values to
4 significant digits (0.2317, 2.87e12, 5e-5: exponents without `+` or leading zeros); a
fixed-point spec (`:.1f`) that would print 34 digits switches to the significant form;
a percentage never rounds to 100% or 0% unless it is exactly that (99.98%); JSON numbers
keep 7 significant digits (float32 precision), which drops float noise such as
0.00030000000000000003 without losing a digit any logger wrote.
"""

from __future__ import annotations

import math
import re
from typing import Any

DIGITS = 4  # significant digits of a measured value in a report
JSON_DIGITS = 7  # significant digits of a float in JSON output
_EXPONENT = re.compile(r"e([+-])0*(\d+)")
_FIXED_LIMIT = 1e6  # a fixed-point spec on a value this large prints as significant digits
_PERCENT_SPEC = re.compile(r"(?P<head>.*?)\.(?P<prec>\d+)%\Z")


def _tidy_exponent(text: str) -> str:
    """`2.869e+12` -> `2.869e12`, `5e-05` -> `5e-5`."""
    return _EXPONENT.sub(lambda m: "e" + ("-" if m[1] == "-" else "") + m[2], text)


def significant(value: float, digits: int = DIGITS) -> str:
    """A float to `digits` significant digits, plain or in short e-notation."""
    if not math.isfinite(value):
        return _nonfinite(value)
    return _tidy_exponent(f"{value:.{digits}g}")


def _nonfinite(value: float) -> str:
    return "nan" if value != value else ("inf" if value > 0 else "-inf")


def count(n: int | float) -> str:
    """A count or a whole step: 12,345."""
    return f"{int(n):,}"


def step(value: Any) -> str:
    """A step as a person counts it: 12,345 (or 12.5 for a point between two steps)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)  # a field named '...step' holding text: shown as it is
    if isinstance(value, int):
        return count(value)
    if not math.isfinite(value):
        return _nonfinite(value)
    return _tidy_exponent(f"{value:,.{DIGITS}g}")


def value(x: Any, spec: str = "") -> str:
    """A measured value, optionally with a rule template's format spec (`.4g`, `.1f`, `.0%`)."""
    if spec:
        return _with_spec(x, spec)
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, float) and x.is_integer() and abs(x) < _FIXED_LIMIT:
        x = int(x)
    if isinstance(x, int):
        return count(x) if abs(x) < _FIXED_LIMIT else significant(float(x))
    if isinstance(x, float):
        return significant(x)
    return str(x)


def _with_spec(x: Any, spec: str) -> str:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return value(x)  # ':.2f' on a name: the plain form, not a crash
    if isinstance(x, float) and not math.isfinite(x):
        return _nonfinite(x)
    if _PERCENT_SPEC.match(spec):
        return percent(float(x), spec)
    try:
        text = format(x, spec)
    except (ValueError, TypeError):  # ':d' on a float: the plain form, not a crash
        return value(x)
    if spec[-1:] in "fF" and abs(x) >= _FIXED_LIMIT:
        return significant(float(x), 2)  # 1838065732978196627005029440552960.0 -> 1.8e33
    return _tidy_exponent(text)


def percent(fraction: float, spec: str = ".0%") -> str:
    """A share as a percentage; 0.9998 is 99.98%, never a rounded-up 100% (likewise 0%)."""
    m = _PERCENT_SPEC.match(spec)
    head, prec = (m["head"], int(m["prec"])) if m else ("", 0)
    if not math.isfinite(fraction):
        return _nonfinite(fraction)
    text = format(fraction, f"{head}.{prec}%")
    extra = prec
    while extra < prec + 4 and fraction not in (0.0, 1.0, -1.0) and _at_an_edge(text):
        extra += 1
        text = format(fraction, f"{head}.{extra}%")
    return text


def _at_an_edge(text: str) -> bool:
    """True for a shown percentage of exactly 0 or 100 (which a rounded share must not claim)."""
    return abs(float(text.rstrip("%").replace(",", ""))) in (0.0, 100.0)


def ratio(x: float) -> str:
    """A factor: 25.7×; a huge one as 2.3e21× (an overflowed one as 'more than 1e308×')."""
    if not math.isfinite(x):
        return "an overflowing factor (inf)" if x > 0 else _nonfinite(x)
    if abs(x) >= 1e4:
        return f"{significant(x, 2)}×"
    return f"{significant(x, 3)}×"


def orders_of_magnitude(x: float) -> str:
    """A factor in words: '21 orders of magnitude' (for factors of 1,000 and more)."""
    n = int(math.floor(math.log10(abs(x)))) if x and math.isfinite(x) else 0
    return plural(n, "order") + " of magnitude"


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 error`, `2 errors`, `1,310 points`; `many` for irregular plurals."""
    return f"{count(n)} {word if n == 1 else (many or word + 's')}"


def json_number(x: Any) -> Any:
    """A JSON-safe number: whole floats as int, NaN/Inf as strings (JSON has neither), other
    floats to JSON_DIGITS significant digits (no float noise)."""
    if isinstance(x, float):
        if not math.isfinite(x):
            return str(x)
        if x.is_integer() and abs(x) < 2**53:
            return int(x)
        return float(f"{x:.{JSON_DIGITS}g}")
    return x


def json_step(x: Any) -> Any:
    """A step in JSON: exact (whole floats as int), NaN/Inf as strings."""
    if isinstance(x, float):
        if not math.isfinite(x):
            return str(x)
        if x.is_integer() and abs(x) < 2**53:
            return int(x)
    return x
