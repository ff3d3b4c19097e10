"""Load and validate Prometheus rule files, reporting every error at once.

Each error names the file, line and column, the group and the rule, and the
parser's message, like ``promtool check rules``; a file with five mistakes
gets five lines, not one traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import promql_parser
import yaml

from watchkeeper.model import is_valid_label_name, is_valid_metric_name
from watchkeeper.query.diagnose import describe_parse_error
from watchkeeper.rules.spec import AlertRuleSpec, GroupSpec, RecordRuleSpec, RuleSpec
from watchkeeper.rules.template import TemplateError, parse_template

__all__ = [
    "RuleFileError",
    "RuleLoadResult",
    "load_rule_files",
    "parse_prom_duration",
    "parse_rule_text",
]


class RuleFileError(ValueError):
    """One or more rule files are invalid; ``errors`` lists every problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class RuleLoadResult:
    groups: list[GroupSpec] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def raise_for_errors(self) -> None:
        if self.errors:
            raise RuleFileError(self.errors)


_DURATION = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_UNIT_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)


def parse_prom_duration(text: Any) -> float:
    """Seconds in a Prometheus duration (``5m``, ``1h30m``, ``0s``), as strict as Prometheus."""
    if isinstance(text, bool) or not isinstance(text, str):
        raise ValueError(f"not a valid duration string: {text!r}")
    if text == "0":
        return 0.0
    m = _DURATION.match(text)
    if not text or m is None:
        raise ValueError(f'not a valid duration string: "{text}"')
    ms = sum(int(g) * unit for g, unit in zip(m.groups(), _UNIT_MS, strict=True) if g)
    return ms / 1000


_GROUP_KEYS = {"name", "interval", "rules", "limit", "query_offset"}
_RULE_KEYS = {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"}


def _pos(node: yaml.Node) -> str:
    return f"{node.start_mark.line + 1}:{node.start_mark.column + 1}"


def _mapping(node: yaml.Node) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    assert isinstance(node, yaml.MappingNode)
    return {str(k.value): (k, v) for k, v in node.value}


def _scalar(node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        return node
    return yaml.safe_load(yaml.serialize(node))


def parse_rule_text(text: str, filename: str = "<string>") -> RuleLoadResult:
    """Validate one rule file's text; every problem goes into ``errors``."""
    out = RuleLoadResult()
    err = out.errors.append
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{filename}:{mark.line + 1}:{mark.column + 1}" if mark else filename
        err(f"{where}: invalid YAML: {getattr(exc, 'problem', None) or exc}")
        return out
    if root is None:
        return out
    if not isinstance(root, yaml.MappingNode):
        err(f"{filename}:{_pos(root)}: a rule file must be a mapping with a 'groups' list")
        return out
    top = _mapping(root)
    for key, (knode, _) in top.items():
        if key != "groups":
            err(f"{filename}:{_pos(knode)}: field {key} not found in type rulefmt.RuleGroups")
    if "groups" not in top:
        return out
    gnode = top["groups"][1]
    if isinstance(gnode, yaml.ScalarNode) and _scalar(gnode) is None:
        return out
    if not isinstance(gnode, yaml.SequenceNode):
        err(f"{filename}:{_pos(gnode)}: 'groups' must be a list")
        return out
    seen: set[str] = set()
    for gi, g in enumerate(gnode.value):
        group = _parse_group(g, gi, filename, seen, err)
        if group is not None:
            out.groups.append(group)
    return out


def _parse_group(
    g: yaml.Node, gi: int, filename: str, seen: set[str], err: Any
) -> GroupSpec | None:
    where = f"{filename}:{_pos(g)}"
    if not isinstance(g, yaml.MappingNode):
        err(f"{where}: group {gi + 1} must be a mapping")
        return None
    fields = _mapping(g)
    for key, (knode, _) in fields.items():
        if key not in _GROUP_KEYS:
            err(f"{filename}:{_pos(knode)}: field {key} not found in type rulefmt.RuleGroup")
    name_node = fields.get("name", (None, None))[1]
    name = _scalar(name_node) if name_node is not None else None
    if not isinstance(name, str) or not name:
        err(f"{where}: group {gi + 1}: groupname must not be empty")
        name = f"#{gi + 1}"
    elif name in seen:
        err(f"{where}: {name}: repeated in the same file")
    seen.add(name)
    interval: float | None = None
    if "interval" in fields:
        inode = fields["interval"][1]
        try:
            interval = parse_prom_duration(_scalar(inode))
        except ValueError as exc:
            err(f"{filename}:{_pos(inode)}: group {name!r}: interval: {exc}")
    limit = 0
    if "limit" in fields:
        lval = _scalar(fields["limit"][1])
        if isinstance(lval, int) and not isinstance(lval, bool) and lval >= 0:
            limit = lval
        else:
            err(f"{filename}:{_pos(fields['limit'][1])}: group {name!r}: limit must be an integer")
    rules: list[RuleSpec] = []
    if "rules" in fields:
        rnode = fields["rules"][1]
        if isinstance(rnode, yaml.SequenceNode):
            for ri, r in enumerate(rnode.value):
                rule = _parse_rule(r, ri, name, filename, err)
                if rule is not None:
                    rules.append(rule)
        elif _scalar(rnode) is not None:
            err(f"{filename}:{_pos(rnode)}: group {name!r}: rules must be a list")
    return GroupSpec(name=name, file=filename, rules=rules, interval_s=interval, limit=limit)


def _parse_rule(r: yaml.Node, ri: int, group: str, filename: str, err: Any) -> RuleSpec | None:
    where = f"{filename}:{_pos(r)}"
    if not isinstance(r, yaml.MappingNode):
        err(f"{where}: group {group!r}, rule {ri + 1}: a rule must be a mapping")
        return None
    fields = _mapping(r)
    values = {k: _scalar(v) for k, (_, v) in fields.items()}
    rname = values.get("alert") or values.get("record") or ""
    label = f"group {group!r}, rule {ri + 1}" + (f" ({rname})" if rname else "")
    ok = True

    def bad(node: yaml.Node | None, msg: str) -> None:
        nonlocal ok
        ok = False
        at = f"{filename}:{_pos(node)}" if node is not None else where
        err(f"{at}: {label}: {msg}")

    for key, (knode, _) in fields.items():
        if key not in _RULE_KEYS:
            bad(knode, f"field {key} not found in type rulefmt.Rule")
    is_alert = "alert" in fields
    is_record = "record" in fields
    if is_alert and is_record:
        bad(None, "only one of 'record' and 'alert' must be set")
    elif not is_alert and not is_record:
        bad(None, "one of 'record' or 'alert' must be set")
    if is_record:
        rec = values["record"]
        if not isinstance(rec, str) or not is_valid_metric_name(rec):
            bad(fields["record"][1], f"invalid recording rule name: {rec}")
        for key in ("annotations", "for", "keep_firing_for"):
            if key in fields:
                bad(fields[key][0], f"invalid field '{key}' in recording rule")
    if is_alert:
        alert = values["alert"]
        if not isinstance(alert, str) or not alert or not is_valid_metric_name(alert):
            bad(fields["alert"][1], f"invalid alert name: {alert}")
    expr = values.get("expr")
    ast = None
    if "expr" not in fields or expr is None or (isinstance(expr, str) and not expr.strip()):
        bad(None, "field 'expr' must be set in rule")
    else:
        enode = fields["expr"][1]
        expr = str(expr)
        try:
            ast = promql_parser.parse(expr)
        except (ValueError, TypeError) as exc:
            bad(enode, f"could not parse expression: {describe_parse_error(expr, str(exc))}")
    durations = {}
    for key in ("for", "keep_firing_for"):
        if key in fields and is_alert:
            try:
                durations[key] = parse_prom_duration(values[key])
            except ValueError as exc:
                bad(fields[key][1], f"{key}: {exc}")
    labels = _string_map(fields, "labels", bad)
    annotations = _string_map(fields, "annotations", bad)
    for lname, lval in labels.items():
        if lname == "__name__" or not is_valid_label_name(lname):
            bad(fields["labels"][1], f"invalid label name: {lname}")
        if is_alert:
            _check_template(lval, f"label {lname}", fields["labels"][1], bad)
    if is_alert:
        for aname, aval in annotations.items():
            if not is_valid_label_name(aname):
                bad(fields["annotations"][1], f"invalid annotation name: {aname}")
            _check_template(aval, f"annotation {aname}", fields["annotations"][1], bad)
    if not ok or ast is None:
        return None
    origin = f"{filename}:{r.start_mark.line + 1}"
    expr = str(expr)
    if is_alert:
        return AlertRuleSpec(
            name=str(values["alert"]),
            expr=expr,
            ast=ast,
            for_s=durations.get("for", 0.0),
            keep_firing_for_s=durations.get("keep_firing_for", 0.0),
            labels=labels,
            annotations=annotations,
            origin=origin,
        )
    return RecordRuleSpec(
        name=str(values["record"]), expr=expr, ast=ast, labels=labels, origin=origin
    )


def _string_map(
    fields: dict[str, tuple[yaml.Node, yaml.Node]], key: str, bad: Any
) -> dict[str, str]:
    if key not in fields:
        return {}
    node = fields[key][1]
    if isinstance(node, yaml.ScalarNode) and _scalar(node) is None:
        return {}
    if not isinstance(node, yaml.MappingNode):
        bad(node, f"{key} must be a mapping of strings")
        return {}
    out: dict[str, str] = {}
    for k, v in node.value:
        val = _scalar(v)
        if isinstance(val, yaml.Node):
            bad(v, f"{key}.{k.value} must be a string")
            continue
        out[str(k.value)] = "" if val is None else _yaml_str(val, v)
    return out


def _yaml_str(val: Any, node: yaml.Node) -> str:
    # Go's YAML decoder keeps the literal text of a scalar decoded into a string.
    if isinstance(node, yaml.ScalarNode):
        return str(node.value)
    return str(val)


def _check_template(text: str, what: str, node: yaml.Node, bad: Any) -> None:
    try:
        parse_template(text, what)
    except TemplateError as exc:
        bad(node, f"{what}: template: {exc}")


def load_rule_files(paths: Iterable[str | Path]) -> RuleLoadResult:
    """Load every file, collecting all errors across all files."""
    out = RuleLoadResult()
    for path in paths:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            out.errors.append(f"{p}: cannot read: {exc.strerror or exc}")
            continue
        res = parse_rule_text(text, str(p))
        out.groups.extend(res.groups)
        out.errors.extend(res.errors)
    return out
