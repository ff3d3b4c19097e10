"""A small, safe interpreter for the Go text/template subset rule files use.

Prometheus expands alert labels and annotations with Go templates
(``{{ $labels.instance }}``, ``{{ $value | humanizePercentage }}``,
``{{ if gt $value 90.0 }}...{{ end }}``, ``{{ printf "%.1f" $value }}``,
``{{ with query "up" }}{{ . | first | value }}{{ end }}``). Jinja2 is a
different language, so this module parses that syntax itself; nothing is
ever passed to ``eval``. Errors carry the template name and position.
"""

from __future__ import annotations

import html
import math
import re
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from watchkeeper.rules.gofmt import go_float, go_g, go_sprintf, go_value

__all__ = ["Template", "TemplateError", "expand", "parse_template"]


class TemplateError(ValueError):
    """A template that does not parse or fails while expanding."""


# -- lexing ----------------------------------------------------------------------
_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<raw>`[^`]*`)
    | (?P<chr>'(?:[^'\\]|\\.)')
    | (?P<num>[-+]?(?:0[xX][0-9a-fA-F_]+|\d[\d_]*\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?))
    | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
    | (?P<field>(?:\.[A-Za-z0-9_]+)+|\.)
    | (?P<op>:=|=|\||\(|\)|,)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)


@dataclass
class _Tok:
    kind: str
    text: str


def _tokens(src: str, where: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    src = src.rstrip()
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if m is None or m.end() == pos:
            raise TemplateError(f"{where}: unexpected {src[pos:].strip()[:20]!r} in command")
        kind = m.lastgroup or ""
        out.append(_Tok(kind, m.group(kind)))
        pos = m.end()
    return out


# -- AST -----------------------------------------------------------------------------
@dataclass
class _Pipe:
    decl: list[str]
    cmds: list[list[Any]]  # each command: operands (tokens or nested _Pipe)
    assign: bool = False  # `=` rather than `:=`


@dataclass
class _Text:
    text: str


@dataclass
class _Action:
    pipe: _Pipe


@dataclass
class _Control:
    kind: str  # if / range / with
    pipe: _Pipe
    body: list[Any] = field(default_factory=list)
    other: list[Any] = field(default_factory=list)


class Template:
    """A parsed template; ``expand(data, funcs)`` renders it."""

    def __init__(self, name: str, nodes: list[Any]) -> None:
        self.name = name
        self.nodes = nodes


def parse_template(text: str, name: str = "template") -> Template:
    parts: list[tuple[str, str, int]] = []  # (kind, text, offset)
    pos = 0
    trim_next = False
    for m in _ACTION.finditer(text):
        chunk = text[pos : m.start()]
        if trim_next:
            chunk = chunk.lstrip()
        if m.group(1):
            chunk = chunk.rstrip()
        if chunk:
            parts.append(("text", chunk, pos))
        parts.append(("action", m.group(2), m.start()))
        trim_next = bool(m.group(3))
        pos = m.end()
    rest = text[pos:]
    if "{{" in rest:
        raise TemplateError(f"{name}:{_line(text, pos + rest.index('{{'))}: unclosed action")
    if trim_next:
        rest = rest.lstrip()
    if rest:
        parts.append(("text", rest, pos))
    nodes, _i, end = _parse_list(parts, 0, name, text)
    if end is not None:
        raise TemplateError(f"{name}: unexpected {{{{{end}}}}}")
    return Template(name, nodes)


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _parse_list(
    parts: list[tuple[str, str, int]], i: int, name: str, src: str
) -> tuple[list[Any], int, str | None]:
    nodes: list[Any] = []
    while i < len(parts):
        kind, body, off = parts[i]
        where = f"{name}:{_line(src, off)}"
        i += 1
        if kind == "text":
            nodes.append(_Text(body))
            continue
        stripped = body.strip()
        if stripped.startswith("/*"):
            if not stripped.endswith("*/"):
                raise TemplateError(f"{where}: unclosed comment")
            continue
        word = stripped.split(None, 1)[0] if stripped else ""
        if not stripped:
            raise TemplateError(f"{where}: missing value for command")
        if word in ("end", "else"):
            return nodes, i - 1, stripped
        if word in ("if", "range", "with"):
            ctrl, i = _parse_control(word, stripped[len(word) :], parts, i, name, src, where)
            nodes.append(ctrl)
            continue
        if word in ("define", "template", "block", "break", "continue"):
            raise TemplateError(f"{where}: {{{{{word}}}}} is not supported in rule templates")
        nodes.append(_Action(_parse_pipe(stripped, where)))
    return nodes, i, None


def _parse_control(
    word: str,
    pipe_text: str,
    parts: list[tuple[str, str, int]],
    i: int,
    name: str,
    src: str,
    where: str,
) -> tuple[_Control, int]:
    """Parse an if/range/with body up to and including its {{end}}.

    ``{{else if x}}`` becomes a nested control in the else branch that shares
    the same {{end}}, as in Go.
    """
    ctrl = _Control(word, _parse_pipe(pipe_text, where))
    ctrl.body, i, end = _parse_list(parts, i, name, src)
    if end is None:
        raise TemplateError(f"{where}: unexpected EOF, missing {{{{end}}}} for {word}")
    i += 1  # past {{else...}} or {{end}}
    if end.startswith("else"):
        tail = end[4:].strip()
        if tail:
            sub = tail.split(None, 1)[0]
            if sub not in ("if", "with"):
                raise TemplateError(f"{where}: unexpected {tail!r} after else")
            nested, i = _parse_control(sub, tail[len(sub) :], parts, i, name, src, where)
            ctrl.other = [nested]
            return ctrl, i
        ctrl.other, i, end = _parse_list(parts, i, name, src)
        if end != "end":
            raise TemplateError(f"{where}: missing {{{{end}}}} for {word}")
        i += 1
    elif end != "end":
        raise TemplateError(f"{where}: unexpected {{{{{end}}}}}")
    return ctrl, i


def _parse_pipe(text: str, where: str) -> _Pipe:
    toks = _tokens(text, where)
    decl: list[str] = []
    assign = False
    if len(toks) >= 2 and toks[0].kind == "var" and toks[1].text in (":=", "="):
        decl = [toks[0].text]
        assign = toks[1].text == "="
        toks = toks[2:]
    elif (
        len(toks) >= 4
        and toks[0].kind == "var"
        and toks[1].text == ","
        and toks[2].kind == "var"
        and toks[3].text == ":="
    ):
        decl = [toks[0].text, toks[2].text]
        toks = toks[4:]
    pipe, rest = _parse_cmds(toks, where)
    if rest:
        raise TemplateError(f"{where}: unexpected {rest[0].text!r}")
    pipe.decl = decl
    pipe.assign = assign
    if not pipe.cmds:
        raise TemplateError(f"{where}: missing value for command")
    return pipe


def _parse_cmds(toks: list[_Tok], where: str) -> tuple[_Pipe, list[_Tok]]:
    cmds: list[list[Any]] = []
    cur: list[Any] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if t.text == ")":
            break
        if t.text == "|":
            if not cur:
                raise TemplateError(f"{where}: missing command before |")
            cmds.append(cur)
            cur = []
            i += 1
            continue
        if t.text == "(":
            sub, rest = _parse_cmds(toks[i + 1 :], where)
            if not rest or rest[0].text != ")":
                raise TemplateError(f"{where}: unclosed left paren")
            cur.append(sub)
            i = len(toks) - len(rest) + 1
            continue
        if t.kind == "op":
            raise TemplateError(f"{where}: unexpected {t.text!r} in command")
        cur.append(t)
        i += 1
    if cur:
        cmds.append(cur)
    elif cmds:
        raise TemplateError(f"{where}: missing command after |")
    return _Pipe([], cmds), toks[i:]


# -- functions -------------------------------------------------------------------
def _to_float(v: Any) -> float:
    if isinstance(v, bool):
        raise TemplateError(f"can't convert {v!r} to float")
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            raise TemplateError(f'strconv.ParseFloat: parsing "{v}": invalid syntax') from None
    raise TemplateError(f"can't convert {v!r} to float")


def humanize(v: Any) -> str:
    x = _to_float(v)
    if x == 0 or math.isnan(x) or math.isinf(x):
        return go_g(x, 4)
    if abs(x) >= 1:
        prefix = ""
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(x) < 1000:
                break
            prefix = p
            x /= 1000
        return go_g(x, 4) + prefix
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(x) >= 1:
            break
        prefix = p
        x *= 1000
    return go_g(x, 4) + prefix


def humanize1024(v: Any) -> str:
    x = _to_float(v)
    if abs(x) <= 1 or math.isnan(x) or math.isinf(x):
        return go_g(x, 4)
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(x) < 1024:
            break
        prefix = p
        x /= 1024
    return go_g(x, 4) + prefix


def humanize_duration(v: Any) -> str:
    x = _to_float(v)
    if math.isnan(x) or math.isinf(x):
        return go_g(x, 4)
    if x == 0:
        return go_g(x, 4) + "s"
    if abs(x) >= 1:
        sign = ""
        if x < 0:
            sign = "-"
            x = -x
        d = int(x)
        seconds, minutes, hours, days = d % 60, (d // 60) % 60, (d // 3600) % 24, d // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{go_g(x, 4)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(x) >= 1:
            break
        prefix = p
        x *= 1000
    return f"{go_g(x, 4)}{prefix}s"


def humanize_percentage(v: Any) -> str:
    return go_g(_to_float(v) * 100, 4) + "%"


def humanize_timestamp(v: Any) -> str:
    x = _to_float(v)
    if math.isnan(x) or math.isinf(x):
        return go_g(x, 4)
    t = datetime.fromtimestamp(x, UTC)
    frac = f"{t.microsecond:06d}".rstrip("0")
    return t.strftime("%Y-%m-%d %H:%M:%S") + (f".{frac}" if frac else "") + " +0000 UTC"


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    return "other"


def _cmp(op: str) -> Callable[..., bool]:
    def fn(a: Any, *bs: Any) -> bool:
        if not bs:
            raise TemplateError(f"missing argument for comparison {op}")
        for b in bs:
            ka, kb = _kind(a), _kind(b)
            if ka != kb or (ka == "other" and op not in ("eq", "ne")):
                raise TemplateError(f"error calling {op}: incompatible types for comparison")
            if op == "eq" and a == b:
                return True
        if op == "eq":
            return False
        b = bs[0]
        return bool({"ne": a != b, "lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[op])

    return fn


def _truth(v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, bool | int | float | str | list | dict | tuple):
        return bool(v)
    return True


def _re_replace_all(pattern: str, repl: str, text: str) -> str:
    from watchkeeper.query.functions import _go_expand

    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise TemplateError(f"error parsing regexp: {exc}") from None
    return rx.sub(lambda m: _go_expand(repl, m), text)


def _first(v: Any) -> Any:
    if not isinstance(v, list) or not v:
        raise TemplateError("first() called on vector with no elements")
    return v[0]


def _sort_by_label(label: str, v: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(v, key=lambda s: s["Labels"].get(label, ""))


def _strip_port(host: str) -> str:
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def _index(v: Any, *keys: Any) -> Any:
    for k in keys:
        try:
            v = v[k] if not isinstance(v, dict) else v.get(k, "")
        except (IndexError, KeyError, TypeError):
            raise TemplateError(f"error calling index: cannot index with {k!r}") from None
    return v


def _title(s: str) -> str:
    return re.sub(r"(^|[^\w'])(\w)", lambda m: m.group(1) + m.group(2).upper(), s)


def base_functions() -> dict[str, Callable[..., Any]]:
    return {
        "humanize": humanize,
        "humanize1024": humanize1024,
        "humanizeDuration": humanize_duration,
        "humanizePercentage": humanize_percentage,
        "humanizeTimestamp": humanize_timestamp,
        "printf": lambda f, *a: go_sprintf(f, *a),
        "print": lambda *a: "".join(go_value(x) for x in a),
        "println": lambda *a: " ".join(go_value(x) for x in a) + "\n",
        "len": lambda v: len(v),
        "index": _index,
        "eq": _cmp("eq"),
        "ne": _cmp("ne"),
        "lt": _cmp("lt"),
        "le": _cmp("le"),
        "gt": _cmp("gt"),
        "ge": _cmp("ge"),
        "not": lambda v: not _truth(v),
        "toUpper": lambda s: str(s).upper(),
        "toLower": lambda s: str(s).lower(),
        "title": lambda s: _title(str(s)),
        "match": lambda p, s: re.search(p, s) is not None,
        "reReplaceAll": _re_replace_all,
        "safeHtml": lambda s: s,
        "html": lambda *a: html.escape("".join(go_value(x) for x in a)),
        "js": lambda *a: "".join(go_value(x) for x in a).replace("'", "\\'").replace('"', '\\"'),
        "urlquery": lambda *a: urllib.parse.quote_plus("".join(go_value(x) for x in a)),
        "stripPort": _strip_port,
        "stripDomain": lambda h: h if h.replace(".", "").isdigit() else h.split(".", 1)[0],
        "first": _first,
        "label": lambda name, s: s["Labels"].get(name, ""),
        "value": lambda s: s["Value"],
        "strvalue": lambda s: s["Labels"].get("__value__", ""),
        "sortByLabel": _sort_by_label,
        "args": lambda *a: {f"arg{i}": x for i, x in enumerate(a)},
        "parseDuration": _parse_duration,
        "toTime": lambda v: datetime.fromtimestamp(_to_float(v), UTC),
    }


def _parse_duration(text: str) -> float:
    import promql_parser

    try:
        return float(promql_parser.parse_duration(text).total_seconds())
    except ValueError as exc:
        raise TemplateError(str(exc)) from None


_BASE = base_functions()


# -- evaluation ------------------------------------------------------------------
_AND_OR = ("and", "or")


class _Exec:
    def __init__(self, tmpl: Template, funcs: dict[str, Callable[..., Any]]) -> None:
        self.tmpl = tmpl
        self.funcs = funcs
        self.out: list[str] = []

    def run(self, nodes: Sequence[Any], dot: Any, scope: list[dict[str, Any]]) -> None:
        for node in nodes:
            if isinstance(node, _Text):
                self.out.append(node.text)
            elif isinstance(node, _Action):
                val = self.pipe(node.pipe, dot, scope)
                if not node.pipe.decl:
                    self.out.append(go_value(val))
            else:
                self.control(node, dot, scope)

    def control(self, node: _Control, dot: Any, scope: list[dict[str, Any]]) -> None:
        inner = [*scope, {}]
        val = self.pipe(node.pipe, dot, inner)
        if node.kind == "if":
            self.run(node.body if _truth(val) else node.other, dot, inner)
        elif node.kind == "with":
            if _truth(val):
                self.run(node.body, val, inner)
            else:
                self.run(node.other, dot, inner)
        else:  # range
            items: list[tuple[Any, Any]]
            if isinstance(val, dict):
                items = sorted(val.items())
            elif isinstance(val, list | tuple):
                items = list(enumerate(val))
            elif isinstance(val, int) and not isinstance(val, bool):
                items = [(i, i) for i in range(val)]
            elif val is None:
                items = []
            else:
                raise TemplateError(f"range can't iterate over {go_value(val)}")
            if not items:
                self.run(node.other, dot, inner)
            for key, item in items:
                frame = [*scope, {}]
                if len(node.pipe.decl) == 2:
                    frame[-1][node.pipe.decl[0]] = key
                    frame[-1][node.pipe.decl[1]] = item
                elif node.pipe.decl:
                    frame[-1][node.pipe.decl[0]] = item
                self.run(node.body, item, frame)

    def pipe(self, pipe: _Pipe, dot: Any, scope: list[dict[str, Any]]) -> Any:
        val: Any = _NOTHING
        for cmd in pipe.cmds:
            val = self.command(cmd, dot, scope, val)
        if pipe.decl and len(pipe.decl) == 1:
            name = pipe.decl[0]
            if pipe.assign:
                for frame in reversed(scope):
                    if name in frame:
                        frame[name] = val
                        break
                else:
                    raise TemplateError(f"undefined variable: {name}")
            else:
                scope[-1][name] = val
        return val

    def command(self, cmd: list[Any], dot: Any, scope: list[dict[str, Any]], prev: Any) -> Any:
        head = cmd[0]
        if (
            isinstance(head, _Tok)
            and head.kind == "ident"
            and head.text not in ("true", "false", "nil")
        ):
            name = head.text
            if name in _AND_OR:
                result: Any = None
                for arg in cmd[1:]:
                    result = self.operand(arg, dot, scope)
                    if (name == "and") != _truth(result):
                        return result
                if prev is not _NOTHING:
                    result = prev
                return result
            fn = self.funcs.get(name)
            if fn is None:
                raise TemplateError(f'function "{name}" not defined')
            args = [self.operand(a, dot, scope) for a in cmd[1:]]
            if prev is not _NOTHING:
                args.append(prev)
            try:
                return fn(*args)
            except TemplateError:
                raise
            except (TypeError, ValueError, KeyError, IndexError) as exc:
                raise TemplateError(f"error calling {name}: {exc}") from None
        if len(cmd) > 1 or prev is not _NOTHING:
            raise TemplateError(f"can't give argument to non-function {_show(head)}")
        return self.operand(head, dot, scope)

    def operand(self, tok: Any, dot: Any, scope: list[dict[str, Any]]) -> Any:
        if isinstance(tok, _Pipe):
            return self.pipe(tok, dot, scope)
        kind, text = tok.kind, tok.text
        if kind == "str":
            return _unquote(text)
        if kind == "raw":
            return text[1:-1]
        if kind == "chr":
            return ord(_unquote('"' + text[1:-1] + '"'))
        if kind == "num":
            clean = text.replace("_", "")
            if re.fullmatch(r"[-+]?(0[xX][0-9a-fA-F]+|\d+)", clean):
                return int(clean, 0)
            return float(clean)
        if kind == "ident":
            if text in ("true", "false"):
                return text == "true"
            if text == "nil":
                return None
            fn = self.funcs.get(text)
            if fn is None:
                raise TemplateError(f'function "{text}" not defined')
            return fn()
        if kind == "var":
            name, *path = text.split(".")
            for frame in reversed(scope):
                if name in frame:
                    return _walk(frame[name], path)
            raise TemplateError(f"undefined variable: {name}")
        if kind == "field":
            path = [p for p in text.split(".") if p]
            return _walk(dot, path)
        raise TemplateError(f"unexpected {text!r}")


_NOTHING = object()


def _walk(val: Any, path: list[str]) -> Any:
    for p in path:
        if isinstance(val, dict):
            val = val.get(p, "" if all(isinstance(x, str) for x in val.values()) else None)
        else:
            raise TemplateError(f"can't evaluate field {p} in type {_kind(val)}")
    return val


def _show(tok: Any) -> str:
    return tok.text if isinstance(tok, _Tok) else "(pipeline)"


def _unquote(text: str) -> str:
    body = text[1:-1]
    try:
        return body.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError:
        raise TemplateError(f"invalid string {text}") from None


def expand(
    tmpl: Template,
    data: dict[str, Any],
    funcs: dict[str, Callable[..., Any]] | None = None,
    variables: dict[str, Any] | None = None,
    *,
    complete: bool = False,
) -> str:
    """Render ``tmpl`` with ``.`` = ``data`` and ``$`` = ``data``.

    ``funcs`` are added to :func:`base_functions`; with ``complete=True`` they
    already include them (callers expanding often build the table once).
    """
    ex = _Exec(tmpl, funcs if complete and funcs is not None else {**_BASE, **(funcs or {})})
    scope: list[dict[str, Any]] = [{"$": data, **(variables or {})}]
    try:
        ex.run(tmpl.nodes, data, scope)
    except TemplateError as exc:
        raise TemplateError(f"template: {tmpl.name}: {exc}") from None
    except RecursionError:
        raise TemplateError(f"template: {tmpl.name}: too deeply nested") from None
    return "".join(ex.out)


_ = go_float  # re-exported helper used by callers formatting $value
