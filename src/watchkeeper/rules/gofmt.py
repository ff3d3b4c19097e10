"""Go's number formatting, so annotations read exactly as Prometheus writes them.

``{{ $value }}`` prints a float with Go's ``%v`` (``1e+06``, ``85.5``), and the
``humanize*`` helpers use ``%.4g``; Python's defaults differ in the details
(``inf`` vs ``+Inf``, exponent thresholds), which users would notice.
"""

from __future__ import annotations

import math
import re

__all__ = ["go_float", "go_g", "go_sprintf"]


def go_float(v: float) -> str:
    """``fmt.Sprint(v)`` for a float64: shortest digits, %e when exp < -4 or >= 6."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "-0" if math.copysign(1, v) < 0 else "0"
    digits, exp = _shortest(v)
    sign = "-" if v < 0 else ""
    if exp < -4 or exp >= 6:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return sign + _positional(digits, exp)


def _shortest(v: float) -> tuple[str, int]:
    text = f"{abs(v):.17e}"
    # Find the shortest digit string that round-trips, as Go's 'g' -1 does.
    for prec in range(1, 18):
        cand = f"{abs(v):.{prec - 1}e}"
        if float(cand) == abs(v):
            text = cand
            break
    mant, e = text.split("e")
    digits = mant.replace(".", "").rstrip("0") or "0"
    return digits, int(e)


def _positional(digits: str, exp: int) -> str:
    if exp < 0:
        return "0." + "0" * (-exp - 1) + digits
    if len(digits) <= exp + 1:
        return digits + "0" * (exp + 1 - len(digits))
    return digits[: exp + 1] + "." + digits[exp + 1 :]


def go_g(v: float, prec: int) -> str:
    """``fmt.Sprintf("%.<prec>g", v)``."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return f"%.{prec}g" % v


_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*))?([a-zA-Z%])")


def go_sprintf(fmt: str, *args: object) -> str:
    """A faithful-enough ``fmt.Sprintf`` for what rule templates use."""
    out: list[str] = []
    pos = 0
    ai = 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width, prec, verb = m.groups()
        if verb == "%":
            out.append("%")
            continue
        if ai >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[ai]
        ai += 1
        spec = f"%{flags}{width or ''}{'.' + prec if prec is not None else ''}"
        out.append(_one(spec, verb, arg))
    out.append(fmt[pos:])
    if ai < len(args):
        extra = ", ".join(f"{type(a).__name__}={go_value(a)}" for a in args[ai:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def go_value(arg: object) -> str:
    if isinstance(arg, bool):
        return "true" if arg else "false"
    if isinstance(arg, float):
        return go_float(arg)
    if arg is None:
        return "<no value>"
    if isinstance(arg, dict):
        inner = " ".join(f"{k}:{go_value(v)}" for k, v in sorted(arg.items()))
        return f"map[{inner}]"
    return str(arg)


def _one(spec: str, verb: str, arg: object) -> str:
    if verb in "feEgG":
        if isinstance(arg, bool) or not isinstance(arg, int | float):
            return f"%!{verb}({_gotype(arg)}={go_value(arg)})"
        v = float(arg)
        if math.isnan(v) or math.isinf(v):
            return go_g(v, 4)
        if verb in "gG" and "." not in spec:
            return go_float(v) if spec == "%" else (spec + verb) % v
        return (spec + verb) % v
    if verb == "d":
        if isinstance(arg, int) and not isinstance(arg, bool):
            return (spec + "d") % arg
        return f"%!d({_gotype(arg)}={go_value(arg)})"
    if verb in "sv":
        text = go_value(arg)
        return (spec + "s") % text
    if verb == "q":
        return '"' + go_value(arg).replace("\\", "\\\\").replace('"', '\\"') + '"'
    if verb in "xX":
        if isinstance(arg, int):
            return (spec + verb) % arg
        text = go_value(arg).encode().hex()
        return text.upper() if verb == "X" else text
    if verb == "t" and isinstance(arg, bool):
        return go_value(arg)
    return f"%!{verb}({_gotype(arg)}={go_value(arg)})"


def _gotype(arg: object) -> str:
    if isinstance(arg, bool):
        return "bool"
    if isinstance(arg, int):
        return "int"
    if isinstance(arg, float):
        return "float64"
    return "string"
