"""Reading watchkeeper.yml: YAML with line numbers, ``${ENV}`` interpolation, exact errors.

The YAML is composed into a node tree first (which keeps each value's line),
environment references are substituted in that tree, and only then is it
turned into Python data and validated. When validation fails, each error's
location is walked back through the node tree to the line it came from, so
the message reads ``watchkeeper.yml:12: collectors.host.interval: must be
between 1 and 3600, got 0``.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from watchkeeper.config.model import Config

__all__ = ["ConfigError", "LoadedConfig", "find_config_file", "load_config", "parse_config"]

DEFAULT_FILE_NAME = "watchkeeper.yml"
#: Error kinds whose message already says what was given.
_COMPLETE_MESSAGES = {"out_of_range", "regex"}
_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """A configuration that cannot be used; ``problems`` holds one line per error."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class LoadedConfig:
    config: Config
    #: The file it came from; ``None`` when running on defaults.
    path: Path | None


def find_config_file(explicit: str | Path | None = None) -> Path | None:
    """The file to read: ``--config``, else ``$WATCHKEEPER_CONFIG``, else ``./watchkeeper.yml``."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("WATCHKEEPER_CONFIG")
    if env:
        return Path(env)
    local = Path(DEFAULT_FILE_NAME)
    return local if local.is_file() else None


def load_config(explicit: str | Path | None = None) -> LoadedConfig:
    """Find, read and validate the configuration; raise ConfigError on any problem."""
    path = find_config_file(explicit)
    if path is None:
        return LoadedConfig(Config(), None)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from exc
    return LoadedConfig(parse_config(text, str(path)), path)


def parse_config(
    text: str, filename: str = DEFAULT_FILE_NAME, model: type[BaseModel] = Config
) -> Any:
    """Validate YAML ``text`` against ``model`` (the whole config by default)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            data: Any = {}
            secret_nodes: set[int] = set()
        else:
            secret_nodes = _interpolate(node, filename)
            data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError([f"{filename}{line}: invalid YAML: {exc.problem or exc}"]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([f"{filename}: invalid YAML: {exc}"]) from exc
    finally:
        loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{filename}:1: expected a mapping of settings at the top level"])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, node, filename, model, secret_nodes)) from exc


# -- ${ENV} interpolation ----------------------------------------------------


def _interpolate(root: yaml.Node, filename: str) -> set[int]:
    """Substitute ``${VAR}`` / ``${VAR:-default}`` in string scalars, in place.

    Returns the ids of the nodes that received a value from the environment,
    so that error messages never print a secret.
    """
    problems: list[str] = []
    touched: set[int] = set()
    stack: list[yaml.Node] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            stack.extend(v for _, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.ScalarNode) and "$" in node.value:
            original = node.value

            def replace(match: re.Match[str], node: yaml.Node = node) -> str:
                if match.group(0) == "$$":
                    return "$"
                name, default = match.group(1), match.group(2)
                value = os.environ.get(name)
                if value is None:
                    if default is not None:
                        return default
                    problems.append(
                        f"{filename}:{node.start_mark.line + 1}: environment variable "
                        f"{name} is not set (write ${{{name}:-default}} for a fallback)"
                    )
                    return ""
                touched.add(id(node))
                return value

            node.value = _ENV_REF.sub(replace, original)
    if problems:
        raise ConfigError(sorted(problems, key=_line_of))
    return touched


def _line_of(problem: str) -> int:
    match = re.search(r":(\d+):", problem)
    return int(match.group(1)) if match else 0


# -- error messages ----------------------------------------------------------


def _describe(
    exc: ValidationError,
    root: yaml.Node | None,
    filename: str,
    model: type[BaseModel],
    secret_nodes: set[int],
) -> list[str]:
    errors = [
        (tuple(p for p in e["loc"] if not _is_union_tag(p)), e)
        for e in exc.errors(include_url=False)
    ]
    # A union (e.g. `str | ProcessConfig`) reports a failure per branch; the
    # branch that got deepest into the value is the one the user meant.
    locs = {loc for loc, _ in errors}
    errors = [
        (loc, e) for loc, e in errors if not any(o[: len(loc)] == loc and o != loc for o in locs)
    ]
    problems = []
    for loc_t, error in errors:
        loc = list(loc_t)
        node, key_node = _find(root, loc)
        line_node = key_node if error["type"] == "extra_forbidden" and key_node else node
        line = f":{line_node.start_mark.line + 1}" if line_node is not None else ""
        where = ".".join(str(p) for p in loc) or "(top level)"
        message = _message(error, loc, model, node, secret_nodes)
        problems.append(f"{filename}{line}: {where}: {message}")
    # One message per location: unions report every branch, keep the first.
    seen: set[str] = set()
    unique = []
    for p in problems:
        head = p.split(": ", 2)[:2]
        key = ": ".join(head)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return sorted(unique, key=lambda p: (_line_of(p), p))


def _is_union_tag(part: Any) -> bool:
    # pydantic adds the branch type (e.g. 'str', 'ProcessConfig') to the loc of union errors.
    return isinstance(part, str) and (part[:1].isupper() or part in {"str", "int", "float"})


def _message(
    error: Any,
    loc: list[Any],
    model: type[BaseModel],
    node: yaml.Node | None,
    secret_nodes: set[int],
) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_fields(model, loc[:-1])
        hint = ""
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        if close:
            hint = f" (did you mean {close[0]!r}?)"
        elif allowed:
            hint = f"; expected one of: {', '.join(sorted(allowed))}"
        return f"unknown setting{hint}"
    if kind == "missing":
        return "required setting is missing"
    msg = str(error["msg"])
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind in _COMPLETE_MESSAGES or "got " in msg:
        return msg
    if node is not None and id(node) in secret_nodes:
        return f"{msg}, got a value from the environment (not shown)"
    got = error.get("input")
    if isinstance(got, str | int | float | bool) and not isinstance(got, dict):
        return f"{msg}, got {got!r}"
    return msg


def _allowed_fields(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields:
            return []
        field = _field_by_name(fields, str(part))
        if field is None:
            return []
        current = _model_in(field.annotation)
        if current is None:
            return []
    fields = getattr(current, "model_fields", {})
    return [f.alias or name for name, f in fields.items()]


def _field_by_name(fields: Mapping[str, Any], name: str) -> Any:
    for key, field in fields.items():
        if name in (key, field.alias):
            return field
    return None


def _model_in(annotation: Any) -> Any:
    """The pydantic model inside ``annotation`` (``X``, ``list[X]``, ``X | None``...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _find(root: yaml.Node | None, loc: Sequence[Any]) -> tuple[yaml.Node | None, yaml.Node | None]:
    """The value node at ``loc`` (or the deepest ancestor found) and its key node."""
    node, key_node = root, None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == str(part):
                    node, key_node = v, k
                    break
            else:
                return node, key_node
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return node, key_node
            node, key_node = node.value[part], None
        else:
            return node, key_node
    return node, key_node
