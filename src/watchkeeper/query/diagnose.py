"""Where in a PromQL expression a parse error is: ``line:col`` as Prometheus gives it.

promql-parser says what is wrong but not where ("unclosed left parenthesis",
"invalid promql query"). A bad rule should name its position, as
``promtool check rules`` does (``1:35: parse error: ...``), so this module
finds it again: a small scanner that knows PromQL's strings, comments and
brackets locates the place each of the parser's messages is about. When it
cannot tell, the message goes out without a position rather than with a
wrong one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["describe_parse_error", "locate_parse_error"]

_CLOSING = {")": "(", "]": "[", "}": "{"}
#: What an expression cannot end with: a binary operator, a modifier or a keyword
#: that needs something after it.
_DANGLING = re.compile(
    r"(?:[-+*/%^,(\[{=<>!~@]|\b(?:and|or|unless|by|without|on|ignoring|group_left|"
    r"group_right|bool|offset|atan2))\s*\Z"
)


@dataclass
class _Scan:
    """Brackets and strings of an expression, found once."""

    #: Offsets of the brackets still open at the end, innermost last.
    open: list[tuple[str, int]] = field(default_factory=list)
    #: Offset of the first closing bracket with no opening one.
    stray_close: int | None = None
    #: Offset of a string that never ends.
    unterminated: int | None = None
    #: (start, end) of every string literal, quotes included.
    strings: list[tuple[int, int]] = field(default_factory=list)
    #: (start, end) of every ``[...]``, brackets included.
    brackets: list[tuple[int, int]] = field(default_factory=list)
    #: (start, end) of every ``{...}``, braces included.
    braces: list[tuple[int, int]] = field(default_factory=list)
    #: The expression with strings and comments blanked out (same offsets).
    code: str = ""


def _scan(text: str) -> _Scan:
    out = _Scan()
    code = list(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'`":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" and c != "`" else 1
            if j >= n:
                out.unterminated = i
                code[i:] = " " * (n - i)
                break
            out.strings.append((i, j + 1))
            code[i : j + 1] = " " * (j + 1 - i)
            i = j + 1
            continue
        if c == "#":
            j = text.find("\n", i)
            j = n if j < 0 else j
            code[i:j] = " " * (j - i)
            i = j
            continue
        if c in "([{":
            out.open.append((c, i))
        elif c in _CLOSING:
            if out.open and out.open[-1][0] == _CLOSING[c]:
                kind, start = out.open.pop()
                if kind == "[":
                    out.brackets.append((start, i + 1))
                elif kind == "{":
                    out.braces.append((start, i + 1))
            elif out.stray_close is None:
                out.stray_close = i
        i += 1
    out.code = "".join(code)
    return out


def _find_word(code: str, word: str, after: str = "") -> int | None:
    m = re.search(rf"(?<![\w:]){re.escape(word)}(?![\w:]){after}", code)
    return m.start() if m else None


def _innermost(scan: _Scan, kind: str) -> int | None:
    for k, start in reversed(scan.open):
        if k == kind:
            return start
    return None


def locate_parse_error(text: str, message: str) -> int | None:
    """The offset in ``text`` that promql-parser's ``message`` is about, or None."""
    scan = _scan(text)
    end = len(scan.code.rstrip())  # the code's end: a trailing comment does not count
    if message.startswith("unterminated quoted string"):
        return scan.unterminated
    if message.startswith("unclosed left parenthesis"):
        return _innermost(scan, "(")
    if message.startswith("unexpected right parenthesis"):
        return scan.stray_close
    if message.startswith("unexpected end of input inside brackets"):
        return _innermost(scan, "[")
    if message.startswith("unexpected end of input inside braces"):
        return _innermost(scan, "{")
    if message.startswith("unexpected end of input"):
        return end
    if m := re.match(r"unexpected character inside brackets: '(.)'", message):
        for start, stop in [*scan.brackets, *((s, end) for k, s in scan.open if k == "[")]:
            at = scan.code.find(m.group(1), start + 1, stop)
            if at >= 0:
                return at
        return None
    if m := re.match(r"bad number or duration syntax: (\S+)", message):
        return _find_word(scan.code, m.group(1))
    if m := re.match(r"unexpected identifier '([^']*)' in label matching", message):
        for start, stop in [*scan.braces, *((s, end) for k, s in scan.open if k == "{")]:
            found = _find_word(scan.code[start:stop], m.group(1))
            if found is not None:
                return start + found
        return None
    if m := re.match(r"unknown function with name '([^']*)'", message):
        return _find_word(scan.code, m.group(1), after=r"\s*\(")
    if m := re.match(r"illegal regex for (.*)", message, re.DOTALL):
        # Only the strings of =~ and !~ matchers are regular expressions.
        for start, stop in scan.strings:
            before = scan.code[:start].rstrip()
            if before.endswith(("=~", "!~")) and m.group(1) in text[start + 1 : stop - 1]:
                return start
        return None
    if message.startswith("invalid promql query") and _DANGLING.search(scan.code[:end]):
        return end  # an operator or keyword with nothing after it
    return None


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def describe_parse_error(text: str, message: str) -> str:
    """``line:col: parse error: message`` (Prometheus's form), or without the position."""
    offset = locate_parse_error(text, message)
    if offset is None:
        return f"parse error: {message}"
    line, col = _line_col(text, offset)
    return f"{line}:{col}: parse error: {message}"
