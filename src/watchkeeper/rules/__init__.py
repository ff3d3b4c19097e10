"""rules room: Prometheus rule files, the alert state machine, the default pack.

The run loop calls :func:`load_rule_groups` once and schedules each
:class:`RuleGroupRunner` (``.name``, ``.interval``, ``.evaluate(now_ms)``).
"""

from watchkeeper.rules.alerting import (
    Alert,
    AlertingRule,
    AlertState,
    RecordingRule,
    RuleHealth,
    RuleOptions,
)
from watchkeeper.rules.group import RuleGroupRunner
from watchkeeper.rules.loader import RuleFileError, load_rule_files, parse_rule_text
from watchkeeper.rules.setup import default_pack_files, load_rule_groups
from watchkeeper.rules.unittest import run_test_file

__all__ = [
    "Alert",
    "AlertState",
    "AlertingRule",
    "RecordingRule",
    "RuleFileError",
    "RuleGroupRunner",
    "RuleHealth",
    "RuleOptions",
    "default_pack_files",
    "load_rule_files",
    "load_rule_groups",
    "parse_rule_text",
    "run_test_file",
]
