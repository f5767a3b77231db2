"""Checks against the documented ELBv2 limits, reported as problems with document paths.

Every check runs and every problem is returned; nothing here calls AWS. Account-specific
quotas come in through :class:`Limits` (see ``Limits.from_account``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from .errors import Problem
from .models import TERMINAL_ACTIONS, Action, ConditionField, Rule

PRIORITY_MIN, PRIORITY_MAX = 1, 50000
ORDER_MIN, ORDER_MAX = 1, 50000
VALUE_MAX_LEN = 128
HEADER_NAME_MAX_LEN = 40
REWRITE_MAX_LEN = 1024
UNIQUE_CONDITIONS: tuple[ConditionField, ...] = (
    "host-header",
    "path-pattern",
    "http-request-method",
    "source-ip",
)


@dataclass(frozen=True)
class Limits:
    """Quotas that bound a listener's rules. Defaults are AWS's documented defaults."""

    rules_per_load_balancer: int = 100
    condition_values_per_rule: int = 5
    condition_wildcards_per_rule: int = 5
    target_groups_per_action: int = 5

    _ACCOUNT_NAMES = {
        "rules-per-application-load-balancer": "rules_per_load_balancer",
        "condition-values-per-alb-rule": "condition_values_per_rule",
        "condition-wildcards-per-alb-rule": "condition_wildcards_per_rule",
        "target-groups-per-action-on-application-load-balancer": "target_groups_per_action",
    }

    @classmethod
    def from_account_limits(cls, limits: list[dict[str, Any]]) -> Limits:
        """Build from DescribeAccountLimits ``Limits``; names it does not return keep defaults."""
        found = {}
        for item in limits:
            attr = cls._ACCOUNT_NAMES.get(item.get("Name", ""))
            if attr and str(item.get("Max", "")).isdigit():
                found[attr] = int(item["Max"])
        return replace(cls(), **found)


def _condition_strings(condition: Any) -> tuple[list[str], list[str]]:
    """(plain values, regex values) of a condition, wherever the document put them."""
    plain: list[str] = list(condition.Values or [])
    regex: list[str] = list(condition.RegexValues or [])
    for config in (
        condition.HostHeaderConfig,
        condition.PathPatternConfig,
        condition.HttpHeaderConfig,
        condition.HttpRequestMethodConfig,
        condition.SourceIpConfig,
    ):
        if config is not None:
            plain += config.Values or []
            regex += getattr(config, "RegexValues", None) or []
    if condition.QueryStringConfig is not None:
        for pair in condition.QueryStringConfig.Values or []:
            plain.append(f"{pair.Key}={pair.Value}" if pair.Key is not None else pair.Value)
    return plain, regex


def check_actions(actions: list[Action], path: str, limits: Limits) -> list[Problem]:
    problems: list[Problem] = []
    if not actions:
        return [Problem(path, "at least one action is required")]
    orders = [a.Order for a in actions if a.Order is not None]
    for i, action in enumerate(actions):
        if action.Order is not None and not ORDER_MIN <= action.Order <= ORDER_MAX:
            problems.append(
                Problem(f"{path}[{i}].Order", f"Order {action.Order} is outside 1..50000")
            )
    for order, count in Counter(orders).items():
        if count > 1:
            problems.append(Problem(path, f"{count} actions share Order {order}"))
    if len(actions) > 1 and len(orders) != len(actions):
        problems.append(Problem(path, "every action needs an Order when there is more than one"))
    terminal = [i for i, a in enumerate(actions) if a.Type in TERMINAL_ACTIONS]
    if len(terminal) != 1:
        problems.append(
            Problem(
                path,
                f"exactly one forward, redirect or fixed-response action is required, "
                f"found {len(terminal)}",
            )
        )
    elif len(orders) == len(actions):
        last = max(range(len(actions)), key=lambda i: actions[i].Order or 0)
        if last != terminal[0]:
            problems.append(
                Problem(
                    f"{path}[{terminal[0]}]",
                    f"the {actions[terminal[0]].Type} action must come last by Order",
                )
            )
    for i, action in enumerate(actions):
        here = f"{path}[{i}]"
        if action.Type == "forward" and action.ForwardConfig is not None:
            groups = action.ForwardConfig.TargetGroups or []
            if len(groups) > limits.target_groups_per_action:
                problems.append(
                    Problem(
                        f"{here}.ForwardConfig.TargetGroups",
                        f"{len(groups)} target groups; an action takes at most "
                        f"{limits.target_groups_per_action}",
                    )
                )
            arns = [g.TargetGroupArn for g in groups]
            if len(set(arns)) != len(arns):
                problems.append(
                    Problem(f"{here}.ForwardConfig.TargetGroups", "a target group is listed twice")
                )
            if action.TargetGroupArn and groups and arns != [action.TargetGroupArn]:
                problems.append(
                    Problem(here, "TargetGroupArn and ForwardConfig name different target groups")
                )
            sticky = action.ForwardConfig.TargetGroupStickinessConfig
            if sticky is not None and sticky.Enabled and sticky.DurationSeconds is None:
                problems.append(
                    Problem(
                        f"{here}.ForwardConfig.TargetGroupStickinessConfig",
                        "DurationSeconds is required when stickiness is enabled",
                    )
                )
        if action.AuthenticateOidcConfig is not None and (
            action.AuthenticateOidcConfig.ClientSecret is not None
        ):
            problems.append(
                Problem(
                    f"{here}.AuthenticateOidcConfig.ClientSecret",
                    "a snapshot must not hold a client secret; pass it at restore time "
                    "with --oidc-secret CLIENT_ID=SECRET_ARN",
                )
            )
    return problems


def check_rule(rule: Rule, path: str, limits: Limits) -> list[Problem]:
    problems: list[Problem] = []
    if not PRIORITY_MIN <= rule.priority <= PRIORITY_MAX:
        problems.append(
            Problem(f"{path}.priority", f"priority {rule.priority} is outside 1..50000")
        )
    if not rule.conditions:
        problems.append(Problem(f"{path}.conditions", "a rule needs at least one condition"))
    fields = Counter(c.Field for c in rule.conditions)
    for field in UNIQUE_CONDITIONS:
        if fields[field] > 1:
            problems.append(
                Problem(
                    f"{path}.conditions",
                    f"{fields[field]} {field} conditions; a rule takes at most one",
                )
            )
    total_values = 0
    wildcards = 0
    for i, condition in enumerate(rule.conditions):
        here = f"{path}.conditions[{i}]"
        plain, regex = _condition_strings(condition)
        if not plain and not regex:
            problems.append(Problem(here, f"the {condition.Field} condition has no value"))
        total_values += len(plain) + len(regex)
        wildcards += sum(v.count("*") + v.count("?") for v in plain)
        for value in plain + regex:
            if len(value) > VALUE_MAX_LEN:
                problems.append(
                    Problem(here, f"value {value[:20]!r}... is longer than {VALUE_MAX_LEN}")
                )
        header = condition.HttpHeaderConfig
        if header is not None and len(header.HttpHeaderName) > HEADER_NAME_MAX_LEN:
            problems.append(
                Problem(
                    f"{here}.HttpHeaderConfig.HttpHeaderName",
                    f"header name is longer than {HEADER_NAME_MAX_LEN}",
                )
            )
    if total_values > limits.condition_values_per_rule:
        problems.append(
            Problem(
                f"{path}.conditions",
                f"{total_values} condition values; a rule takes at most "
                f"{limits.condition_values_per_rule}",
            )
        )
    if wildcards > limits.condition_wildcards_per_rule:
        problems.append(
            Problem(
                f"{path}.conditions",
                f"{wildcards} wildcards; a rule takes at most "
                f"{limits.condition_wildcards_per_rule}",
            )
        )
    problems += check_actions(rule.actions, f"{path}.actions", limits)
    kinds = Counter(t.Type for t in rule.transforms)
    for kind, count in kinds.items():
        if count > 1:
            problems.append(
                Problem(f"{path}.transforms", f"{count} {kind} transforms; a rule takes one")
            )
    for i, transform in enumerate(rule.transforms):
        config = transform.HostHeaderRewriteConfig or transform.UrlRewriteConfig
        if config is None:
            continue
        if not config.Rewrites:
            problems.append(Problem(f"{path}.transforms[{i}]", "a transform needs a rewrite"))
        for rewrite in config.Rewrites:
            if len(rewrite.Regex) > REWRITE_MAX_LEN or len(rewrite.Replace) > REWRITE_MAX_LEN:
                problems.append(
                    Problem(
                        f"{path}.transforms[{i}]",
                        f"Regex and Replace are at most {REWRITE_MAX_LEN} characters",
                    )
                )
    for key in rule.tags:
        if key.startswith("aws:"):
            problems.append(
                Problem(f"{path}.tags", f"tag key {key!r} uses the reserved aws: prefix")
            )
    return problems


def check_rules(
    rules: list[Rule], limits: Limits, path: str = "rules", *, check_each: bool = True
) -> list[Problem]:
    """Every rule's own checks (unless ``check_each`` is false: done already) and the
    priorities' uniqueness."""
    problems: list[Problem] = []
    for i, rule in enumerate(rules if check_each else ()):
        problems += check_rule(rule, f"{path}[{i}]", limits)
    used: dict[int, list[int]] = {}
    for i, rule in enumerate(rules):  # one pass: 50,000 rules must not cost 50,000 squared
        used.setdefault(rule.priority, []).append(i)
    for priority, at in sorted(used.items()):
        if len(at) > 1:
            where = ", ".join(f"{path}[{i}]" for i in at[:5])
            where += f" and {len(at) - 5:,} more" if len(at) > 5 else ""
            problems.append(Problem(path, f"priority {priority} is used {len(at)} times ({where})"))
    return problems


def check_rule_count(
    listener_rules: int, other_rules: int, limits: Limits, path: str = "rules"
) -> list[Problem]:
    """The quota counts every rule on the load balancer (all listeners, default rules aside)."""
    total = listener_rules + other_rules
    if total <= limits.rules_per_load_balancer:
        return []
    others = f" plus {other_rules} on its other listeners" if other_rules else ""
    return [
        Problem(
            path,
            f"{listener_rules} rules{others} is {total}; the account allows "
            f"{limits.rules_per_load_balancer} per load balancer",
        )
    ]
