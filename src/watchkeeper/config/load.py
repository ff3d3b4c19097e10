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
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from watchkeeper.config.base import FIELD_ERROR
from watchkeeper.config.model import Config

__all__ = ["ConfigError", "LoadedConfig", "find_config_file", "load_config", "parse_config"]

DEFAULT_FILE_NAME = "watchkeeper.yml"
#: Error kinds whose message already says what was given.
_COMPLETE_MESSAGES = {"out_of_range", "regex", FIELD_ERROR}
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
            duplicates = _duplicate_keys(node, filename)
            if duplicates:
                raise ConfigError(duplicates)
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


# -- duplicate keys ----------------------------------------------------------


def _duplicate_keys(root: yaml.Node, filename: str) -> list[str]:
    """A key written twice in one mapping: YAML keeps the last one and drops the first quietly."""
    problems: list[str] = []
    stack: list[tuple[yaml.Node, tuple[str, ...]]] = [(root, ())]
    visited: set[int] = set()  # an alias repeats a node, and may even contain itself
    while stack:
        node, path = stack.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *defaults` merges on purpose
                where = ".".join((*path, key.value))
                line = key.start_mark.line + 1
                if key.value in first:
                    problems.append(
                        f"{filename}:{line}: {where}: set twice (first on line "
                        f"{first[key.value]}); YAML would keep only this one: remove one"
                    )
                else:
                    first[key.value] = line
                stack.append((value, (*path, key.value)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*path, str(i))) for i, item in enumerate(node.value))
    return sorted(problems, key=_line_of)


# -- ${ENV} interpolation ----------------------------------------------------


def _interpolate(root: yaml.Node, filename: str) -> set[int]:
    """Substitute ``${VAR}`` / ``${VAR:-default}`` in string scalars, in place.

    Returns the ids of the nodes that received a value from the environment,
    so that error messages never print a secret.
    """
    problems: list[str] = []
    touched: set[int] = set()
    stack: list[yaml.Node] = [root]
    visited: set[int] = set()  # an alias repeats a node, and may even contain itself
    while stack:
        node = stack.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
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
    located = []
    for error in exc.errors(include_url=False):
        raw = list(error["loc"])
        # field_error(): a model validator names the setting below the model.
        raw += list((error.get("ctx") or {}).get("field_path") or ())
        loc, node, key_node = _locate(root, raw)
        located.append((tuple(loc), raw, error, node, key_node))
    # A union (e.g. `str | ProcessConfig`) reports a failure per branch; the
    # branch that got deepest into the value is the one the user meant.
    locs = {loc for loc, *_ in located}
    problems = []
    for loc_t, raw, error, node, key_node in located:
        if any(o[: len(loc_t)] == loc_t and o != loc_t for o in locs):
            continue
        loc = list(loc_t)
        line_node = key_node if error["type"] == "extra_forbidden" and key_node else node
        line = f":{line_node.start_mark.line + 1}" if line_node is not None else ""
        where = ".".join(str(p) for p in loc) or "(top level)"
        message = _message(error, loc, raw, model, node, secret_nodes)
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
    raw_loc: list[Any],
    model: type[BaseModel],
    node: yaml.Node | None,
    secret_nodes: set[int],
) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_fields(model, raw_loc[:-1])
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
    if _is_secret(model, raw_loc):
        return f"{msg} (the value of a secret setting is not shown)"
    got = error.get("input")
    if isinstance(got, str | int | float | bool) and not isinstance(got, dict):
        return f"{msg}, got {got!r}"
    return msg


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models inside ``annotation`` (``X``, ``list[X]``, ``X | Y``...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found += [m for m in _models_in(arg) if m not in found]
    return found


def _is_branch(model: type[BaseModel], part: str) -> bool:
    """Is ``part`` the tag pydantic gives ``model``'s branch of a union?"""
    if part == model.__name__:
        return True
    kind = model.model_fields.get("type")
    return kind is not None and part in typing.get_args(kind.annotation)


def _walk_models(
    model: type[BaseModel], loc: Sequence[Any]
) -> tuple[list[type[BaseModel]], Any | None]:
    """The models at ``loc`` (several for a union) and the last field passed on the way."""
    candidates: list[type[BaseModel]] = [model]
    last_field: Any = None
    for part in loc:
        if isinstance(part, int) or not candidates:
            continue
        branch = [m for m in candidates if _is_branch(m, str(part))]
        if branch and len(candidates) > 1:
            candidates = branch
            continue
        following: list[type[BaseModel]] = []
        for current in candidates:
            field = _field_by_name(current.model_fields, str(part))
            if field is not None:
                last_field = field
                following += [m for m in _models_in(field.annotation) if m not in following]
        candidates = following
    return candidates, last_field


def _allowed_fields(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    candidates, _ = _walk_models(model, loc)
    names: list[str] = []
    for current in candidates:
        for name, f in current.model_fields.items():
            other = f.validation_alias if isinstance(f.validation_alias, str) else None
            for shown in (f.alias or name, other):
                if shown and shown not in names:
                    names.append(shown)
    return names


def _is_secret(model: type[BaseModel], loc: Sequence[Any]) -> bool:
    """Is the value at ``loc`` (part of) a secret setting (``SecretStr`` inside)?"""
    _, field = _walk_models(model, loc)
    return field is not None and _mentions_secret(field.annotation)


def _mentions_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return any(_mentions_secret(arg) for arg in typing.get_args(annotation))


def _field_by_name(fields: Mapping[str, Any], name: str) -> Any:
    for key, field in fields.items():
        if name in (key, field.alias):
            return field
    return None


def _locate(
    root: yaml.Node | None, raw: Sequence[Any]
) -> tuple[list[Any], yaml.Node | None, yaml.Node | None]:
    """The location as written in the file, its value node (or deepest ancestor) and key node.

    Parts pydantic adds for unions (a branch's type or tag) are dropped: they
    are not keys of the file. A part ``"a|b"`` is whichever of the keys is there.
    """
    loc: list[Any] = []
    node, key_node = root, None
    lost = False  # the file has nothing at the location so far
    tagged: set[int] = set()  # nodes whose union tag was dropped (one each at most)
    for i, part in enumerate(raw):
        last = i == len(raw) - 1
        if lost:
            if not _is_union_tag(part):
                loc.append(part)
            continue
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            found = _key(node, part)
            if found is not None:
                key_node, node = found
                loc.append(key_node.value)
            elif id(node) not in tagged and (
                not last or _is_union_tag(part) or _type_of(node) == part
            ):
                tagged.add(id(node))  # a union's tag (`disk` for {type: disk}): not in the file
            else:
                loc.append(part.split("|")[0])  # e.g. a required setting that is missing
                lost = True
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            loc.append(part)
            if part < len(node.value):
                node, key_node = node.value[part], None
            else:
                lost = True
        elif not _is_union_tag(part):
            loc.append(part)
            lost = True
    return loc, node, key_node


def _key(node: yaml.MappingNode, part: str) -> tuple[yaml.Node, yaml.Node] | None:
    for choice in (part, *part.split("|")):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == choice:
                return k, v
    return None


def _type_of(node: yaml.MappingNode) -> str | None:
    found = _key(node, "type")
    return found[1].value if found and isinstance(found[1], yaml.ScalarNode) else None
