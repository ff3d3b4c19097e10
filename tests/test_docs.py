"""The configuration documentation must not drift from the configuration models.

Three things are checked against ``watchkeeper.config``:

* every ```yaml block of docs/configuration.md and README.md is a valid
  watchkeeper.yml (``parse_config``), with the environment variables it uses
  set here. A block that is only part of a file says so on its first line:
  ``# fragment: notify.receivers`` is validated nested under that path;
  a bare ``# fragment`` only has to be valid YAML;
* every table introduced by ``<!-- model: package.module.Class -->`` names
  real settings of that model, and each default written as one code literal
  (`` `10s` ``) or as ``required`` is the model's real default;
* every setting of every model reachable from ``Config`` has a row in the
  table of its model or of one of its base classes, so a new setting cannot
  be added without documenting it.
"""

from __future__ import annotations

import importlib
import re
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pytest
import yaml
from pydantic import BaseModel, TypeAdapter
from pydantic.fields import FieldInfo

from watchkeeper.config.load import ConfigError, parse_config
from watchkeeper.config.model import Config

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DOC = ROOT / "docs" / "configuration.md"
DOCS_WITH_CONFIG_BLOCKS = [CONFIG_DOC, ROOT / "README.md"]

#: Realistic values for the ``${VAR}`` references of the examples (a Django shop).
EXAMPLE_ENV = {
    "DATABASE_URL": "postgresql://shop:s3cret@127.0.0.1:5432/shop",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/1",
    "REDIS_PASSWORD": "s3cret",
    "MYSQL_PASSWORD": "s3cret",
    "RABBITMQ_PASSWORD": "s3cret",
    "SMTP_HOST": "smtp.shop.example",
    "SMTP_PASSWORD": "s3cret",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/XXXX",
    "PAGERDUTY_ROUTING_KEY": "0123456789abcdef0123456789abcdef",
    "ALERT_WEBHOOK_SECRET": "s3cret",
    "HEALTHCHECKS_URL": "https://hc-ping.com/0b5f1d2e-6c4a-4e1f-9a57-3b2f7a0c9d11",
    "WATCHKEEPER_SCRAPE_TOKEN": "wk_0123456789",
}
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}")


# -- YAML blocks -----------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int  # of the opening fence
    text: str

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


def yaml_blocks(doc: Path) -> list[Block]:
    blocks: list[Block] = []
    lines = doc.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```yaml":
            start = i
            i += 1
            body: list[str] = []
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            assert i < len(lines), f"{doc}:{start + 1}: unclosed ```yaml block"
            blocks.append(Block(doc, start + 1, "\n".join(body) + "\n"))
        i += 1
    return blocks


ALL_BLOCKS = [b for doc in DOCS_WITH_CONFIG_BLOCKS for b in yaml_blocks(doc)]


def as_whole_file(block: Block) -> str | None:
    """The block as a complete watchkeeper.yml, or None for a bare ``# fragment``."""
    first, _, rest = block.text.partition("\n")
    match = re.fullmatch(r"#\s*fragment\s*(?::\s*([\w.]+))?\s*", first)
    if match is None:
        return block.text
    path = match.group(1)
    if path is None:
        return None
    parts = path.split(".")
    header = [f"{'  ' * depth}{part}:" for depth, part in enumerate(parts)]
    indent = "  " * len(parts)
    body = [f"{indent}{line}" if line.strip() else line for line in rest.splitlines()]
    return "\n".join(header + body) + "\n"


def test_the_docs_have_config_examples() -> None:
    in_config_doc = [b for b in ALL_BLOCKS if b.doc == CONFIG_DOC]
    assert len(in_config_doc) >= 20
    assert "\n## Complete example\n" in CONFIG_DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=lambda b: b.where)
def test_yaml_block_is_a_valid_config(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    refs = {m.group(1) for m in _ENV_REF.finditer(block.text) if m.group(2) is None}
    unknown = sorted(refs - EXAMPLE_ENV.keys())
    assert not unknown, f"{block.where}: add a value for {unknown} to EXAMPLE_ENV"
    for name, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(name, value)
    text = as_whole_file(block)
    if text is None:
        yaml.safe_load(block.text)  # a bare fragment still has to be YAML
        return
    try:
        parse_config(text, block.where)
    except ConfigError as exc:
        pytest.fail(f"{block.where}: the example is refused:\n{exc}\n--- as validated:\n{text}")


def test_fragments_are_validated_nested() -> None:
    block = Block(
        CONFIG_DOC, 1, "# fragment: notify.route\nreceiver: console\nrepeat_interval: 15m\n"
    )
    text = as_whole_file(block)
    assert text is not None
    assert parse_config(text).notify.route.repeat_interval == 900.0
    bad = Block(CONFIG_DOC, 1, "# fragment: notify.route\nrepeat_interval: soon\n")
    with pytest.raises(ConfigError):
        parse_config(as_whole_file(bad) or "")


# -- setting tables ------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    model: type[BaseModel]
    setting: str
    default: str
    line: int


def _import(dotted: str) -> type[BaseModel]:
    module, _, name = dotted.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    assert isinstance(cls, type), dotted
    assert issubclass(cls, BaseModel), dotted
    return cls


def setting_tables(doc: Path) -> dict[type[BaseModel], list[Row]]:
    """The rows of each ``<!-- model: ... -->`` table, by model."""
    tables: dict[type[BaseModel], list[Row]] = {}
    lines = doc.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        marker = re.fullmatch(r"<!-- model: ([\w.]+) -->", line.strip())
        if marker is None:
            continue
        model = _import(marker.group(1))
        rows = tables.setdefault(model, [])
        j = i + 3  # the marker, the header, the separator
        assert lines[i + 1].startswith("| setting | default |"), f"{doc}:{i + 2}: table header"
        while j < len(lines) and lines[j].startswith("|"):
            cells = [c.strip() for c in lines[j].strip().strip("|").split(" | ")]
            name = re.match(r"\[?`([^`]+)`", cells[0])
            assert name, f"{doc}:{j + 1}: the first cell must start with `setting`"
            rows.append(Row(model, name.group(1), cells[1], j + 1))
            j += 1
        assert rows, f"{doc}:{i + 1}: a model marker without a table"
    return tables


TABLES = setting_tables(CONFIG_DOC)


def field_named(model: type[BaseModel], name: str) -> FieldInfo | None:
    for key, field in model.model_fields.items():
        if name in (key, field.alias, field.validation_alias):
            return field
    return None


def models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in typing.get_args(annotation):
        yield from models_in(arg)


def reachable_models(root: type[BaseModel] = Config) -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = []
    stack = [root]
    while stack:
        model = stack.pop()
        if model in seen:
            continue
        seen.append(model)
        for field in model.model_fields.values():
            stack.extend(models_in(field.annotation))
    return seen


def documented_row(model: type[BaseModel], key: str, field: FieldInfo) -> Row | None:
    """The row for ``field`` in the table of ``model`` or of its nearest documented base."""
    names = {key, field.alias, field.validation_alias} - {None}
    for cls in model.__mro__:
        for row in TABLES.get(cls, []):
            if row.setting in names:
                return row
    return None


FIELDS = [
    (model, key, field) for model in reachable_models() for key, field in model.model_fields.items()
]


def test_every_table_row_is_a_real_setting() -> None:
    wrong = [
        f"docs/configuration.md:{row.line}: {row.model.__name__} has no setting {row.setting!r}"
        for rows in TABLES.values()
        for row in rows
        if field_named(row.model, row.setting) is None
    ]
    assert not wrong, "\n".join(wrong)


def test_every_setting_is_documented() -> None:
    missing = [
        f"{model.__module__}.{model.__name__}.{field.alias or key}"
        for model, key, field in FIELDS
        if documented_row(model, key, field) is None
    ]
    assert not missing, "settings without a row in docs/configuration.md:\n" + "\n".join(missing)
    assert len(FIELDS) > 150


def _check_default(model: type[BaseModel], key: str, field: FieldInfo, row: Row) -> str | None:
    where = f"docs/configuration.md:{row.line}: {model.__name__}.{row.setting}"
    if row.default == "required":
        return None if field.is_required() else f"{where}: documented required, has a default"
    literal = re.fullmatch(r"`([^`]+)`", row.default)
    if literal is None:
        return None  # described in words ("the host name", "inherited"): not checkable
    if field.is_required():
        return f"{where}: documented default {row.default}, but the setting is required"
    annotation: Any = field.annotation
    if field.metadata:  # constraints and validators pydantic moved out of Annotated[...]
        annotation = Annotated[(annotation, *field.metadata)]
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    try:
        documented = adapter.validate_python(yaml.safe_load(literal.group(1)))
    except Exception as exc:
        return f"{where}: documented default {row.default} is not a valid value: {exc}"
    actual = field.get_default(call_default_factory=True)
    if documented != actual:
        return f"{where}: documented default {row.default} == {documented!r}, model has {actual!r}"
    return None


def test_documented_defaults_are_the_models_defaults() -> None:
    checked = 0
    problems = []
    for model, key, field in FIELDS:
        row = documented_row(model, key, field)
        if row is None:
            continue
        problem = _check_default(model, key, field, row)
        if problem:
            problems.append(problem)
        checked += 1
    assert not problems, "\n".join(problems)
    assert checked > 150


def test_a_wrong_documented_default_is_caught() -> None:
    from watchkeeper.config.collectors import HostConfig

    key, field = "interval", HostConfig.model_fields["interval"]
    assert _check_default(HostConfig, key, field, Row(HostConfig, key, "`10s`", 1)) is None
    assert _check_default(HostConfig, key, field, Row(HostConfig, key, "`15s`", 1))
    assert _check_default(HostConfig, key, field, Row(HostConfig, key, "required", 1))


def test_documented_root_route_defaults_are_the_notifiers() -> None:
    """The route's root defaults live in the notifier, not the model: check them too."""
    from watchkeeper.config.duration import parse_duration
    from watchkeeper.config.notify import DEFAULT_RECEIVER, RouteConfig
    from watchkeeper.notify.route import DEFAULTS

    rows = {row.setting: row for row in TABLES[RouteConfig]}

    def root(setting: str) -> Any:
        found = re.search(r"root: `([^`]+)`", rows[setting].default)
        assert found, f"docs/configuration.md:{rows[setting].line}: say the root default"
        return yaml.safe_load(found.group(1))

    assert root("receiver") == DEFAULT_RECEIVER
    assert tuple(root("group_by")) == DEFAULTS["group_by"]
    for setting in ("group_wait", "group_interval", "repeat_interval"):
        assert parse_duration(root(setting)) == DEFAULTS[setting], setting


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_links_inside_the_page_lead_somewhere() -> None:
    text = CONFIG_DOC.read_text(encoding="utf-8")
    outside_code = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    anchors = {_slug(h) for h in re.findall(r"^#+ (.+)$", outside_code, flags=re.MULTILINE)}
    links = set(re.findall(r"\]\(#([^)]+)\)", outside_code))
    assert links
    assert not sorted(links - anchors)
    rules_doc = ROOT / "docs" / "rules.md"
    rule_anchors = {
        _slug(h) for h in re.findall(r"^#+ (.+)$", rules_doc.read_text(), flags=re.MULTILINE)
    }
    assert not sorted(set(re.findall(r"\]\(rules\.md#([^)]+)\)", text)) - rule_anchors)


def test_the_complete_example_does_what_the_page_says(monkeypatch: pytest.MonkeyPatch) -> None:
    """Critical to PagerDuty and e-mail/Slack, the rest to e-mail/Slack, every 15 minutes;
    muted on Sundays 02:00-04:00 in Istanbul; the threshold levels inhibit each other."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from watchkeeper.alerts.inhibit import Inhibitor, InhibitRule
    from watchkeeper.alerts.maintenance import MaintenanceWindow
    from watchkeeper.model import Labels
    from watchkeeper.notify.route import Route

    for name, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(name, value)
    text = CONFIG_DOC.read_text(encoding="utf-8").split("\n## Complete example\n", 1)[1]
    block = yaml_blocks_in(text)[0]
    cfg = parse_config(block, "complete example")
    route = Route.from_config(cfg.notify.route)

    def receivers(**labels: str) -> list[str]:
        return [r.receiver for r in route.match(Labels(labels))]

    assert receivers(alertname="ProbeFailed", severity="critical") == ["oncall", "team"]
    assert receivers(alertname="HostHighLoad", severity="warning") == ["team"]
    assert {r.repeat_interval for r in route.walk()} == {900.0}
    team = {r.name: r for r in cfg.notify.receivers}["team"]
    assert team.email_configs
    assert team.slack_configs
    assert cfg.notify.heartbeat is not None

    window = MaintenanceWindow.from_config(cfg.notify.maintenance[0])
    istanbul = ZoneInfo("Europe/Istanbul")

    def at(day: int, hour: int, minute: int = 0) -> int:  # June 2025: the 1st is a Sunday
        return int(datetime(2025, 6, day, hour, minute, tzinfo=istanbul).timestamp() * 1000)

    assert window.active(at(1, 2))
    assert window.active(at(1, 3, 59))
    assert not window.active(at(1, 4))
    assert not window.active(at(2, 3))  # Monday

    inhibitor = Inhibitor([InhibitRule.from_config(r) for r in cfg.notify.inhibit_rules])
    common = {"inhibit_key": "threshold:host_cpu_usage_percent", "instance": "shop-web-1"}
    critical = Labels(
        {**common, "alertname": "HostCpuUsagePercentCritical", "severity": "critical"}
    )
    warning = Labels({**common, "alertname": "HostCpuUsagePercentWarning", "severity": "warning"})
    inhibitor.update([critical, warning])
    assert inhibitor.inhibited(warning)
    assert not inhibitor.inhibited(critical)


def yaml_blocks_in(text: str) -> list[str]:
    return re.findall(r"^```yaml\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE)
