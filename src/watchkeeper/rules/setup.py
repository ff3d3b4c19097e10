"""Start-up: turn the ``rules:`` config into runnable groups.

``load_rule_groups`` is what the run loop calls once: it loads the default
pack, the user's rule files (globs allowed) and the threshold sugar, reports
every error together, and arms restoration of alert state from the store.
"""

from __future__ import annotations

import dataclasses
import glob
import logging
from importlib import resources
from pathlib import Path

from watchkeeper.config.rules import AlertOptions, RulesConfig
from watchkeeper.rules.alerting import RuleOptions
from watchkeeper.rules.group import RuleGroupRunner
from watchkeeper.rules.loader import RuleFileError, load_rule_files
from watchkeeper.rules.spec import AlertRuleSpec, GroupSpec
from watchkeeper.rules.thresholds import compile_thresholds
from watchkeeper.store.base import Store

__all__ = ["default_pack_files", "load_rule_groups", "resolve_rule_files", "rule_options"]

log = logging.getLogger("watchkeeper.rules")


def default_pack_files() -> list[Path]:
    pack = resources.files("watchkeeper.rules") / "default_pack"
    return sorted(Path(str(p)) for p in pack.iterdir() if p.name.endswith(".yml"))


def resolve_rule_files(cfg: RulesConfig) -> tuple[list[Path], list[str]]:
    files: list[Path] = list(default_pack_files()) if cfg.default_pack else []
    errors: list[str] = []
    for pattern in cfg.rule_files:
        expanded = str(Path(pattern).expanduser())
        matches = sorted(glob.glob(expanded)) if glob.has_magic(expanded) else [expanded]
        if not matches:
            errors.append(f"rules.rule_files: {pattern!r} matches no file")
        files.extend(Path(m) for m in matches)
    return files, errors


def rule_options(opts: AlertOptions) -> RuleOptions:
    return RuleOptions(
        keep_while=opts.keep_while,
        missed_evaluations=opts.missed_evaluations,
        missing_data=opts.missing_data,
        flap_window_s=float(opts.flap_window),
        flap_max_changes=opts.flap_max_changes,
    )


def _without_disabled(specs: list[GroupSpec], config: RulesConfig) -> list[GroupSpec]:
    """The groups without the alerts ``rules.alerts.<name>.enabled: false`` turns off."""
    off = {name for name, o in config.alerts.items() if not o.enabled}
    if not off:
        return specs
    out = []
    for spec in specs:
        rules = [
            r
            for r in spec.rules
            if not (
                isinstance(r, AlertRuleSpec) and (r.name in off or f"{spec.name}/{r.name}" in off)
            )
        ]
        if rules:
            out.append(dataclasses.replace(spec, rules=rules))
    log.info("alert rules turned off by rules.alerts: %s", ", ".join(sorted(off)))
    return out


def load_rule_groups(
    config: RulesConfig,
    store: Store,
    *,
    external_labels: dict[str, str] | None = None,
    restore: bool = True,
) -> list[RuleGroupRunner]:
    """Load every configured group; raise RuleFileError listing all problems."""
    files, errors = resolve_rule_files(config)
    loaded = load_rule_files(files)
    errors.extend(loaded.errors)
    group, th_options, th_errors = compile_thresholds(config)
    errors.extend(th_errors)
    specs = list(loaded.groups) + ([group] if group else [])
    options = {name: rule_options(o) for name, o in config.alerts.items()}
    for name, th_opt in th_options.items():
        options.setdefault(name, rule_options(th_opt))
    for name, ro in options.items():
        if ro.keep_while:
            import promql_parser

            try:
                promql_parser.parse(ro.keep_while)
            except ValueError as exc:
                errors.append(f"rules.alerts.{name}.keep_while: {exc}")
    known = {r.name for g in specs for r in g.rules} | {
        f"{g.name}/{r.name}" for g in specs for r in g.rules
    }
    for name in config.alerts:
        if name not in known:
            errors.append(f"rules.alerts.{name}: no rule with that name")
    if errors:
        raise RuleFileError(errors)
    specs = _without_disabled(specs, config)
    runners = [
        RuleGroupRunner(
            spec,
            store,
            interval=float(config.evaluation_interval),
            external_labels=external_labels,
            external_url=config.external_url,
            options=options,
        )
        for spec in specs
    ]
    if restore:
        for r in runners:
            r.enable_restore()
    return runners
