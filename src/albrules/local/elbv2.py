"""Make moto's ELBv2 behave as AWS documents it, where a backup/restore tool can tell.

Each fix names the moto behaviour it replaces (moto 5.2.5, pinned):

1. ``Transforms`` were accepted and dropped: now stored, returned by DescribeRules, replaced
   by ModifyRule (``Transforms``) or removed (``ResetTransforms``); at most one per type.
2. ``RegexValues`` crashed moto (KeyError): now accepted on host-header, path-pattern and
   http-header conditions and returned.
3. ``SetRulePriorities`` rejected any priority already held, the rule's own included (so a
   swap failed): now the new order as a whole must be conflict-free ("as long as there are no
   priority conflicts in the new order"), and the call is atomic.
4. Priorities outside 1..50000 and more rules than the quota were accepted: now a
   ValidationError and ``TooManyRules`` (rules per load balancer, default rules aside).
5. Deleting the default rule was a server error and deleting a missing rule succeeded: now
   ``OperationNotPermitted`` and ``RuleNotFound``.
6. DescribeRules returned rules in insertion order: now by priority, the default rule last.
7. OIDC client secrets were stored and returned: now never returned; ``UseExistingClientSecret``
   keeps the rule's secret on ModifyRule/ModifyListener; CreateRule needs a ``ClientSecret``.
8. DescribeRules returned only the ``*Config`` form of host-header and path-pattern
   conditions: now also the legacy ``Values``, as AWS does.
9. ``jwt-validation`` actions were rejected: now accepted (API of November 2025).
10. ModifyRule with only transforms was refused, and ModifyRule ignored ``Transforms``.
11. DescribeAccountLimits lacked the per-rule limits and ignored the configured rule quota.

The rule quota is :data:`CONFIG` ``["rules_per_load_balancer"]`` (default 100, like AWS's
adjustable default), settable so benchmarks can model accounts with a raised quota.
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

from moto.core.responses import ActionResult
from moto.elbv2 import models as elbv2_models
from moto.elbv2 import responses as elbv2_responses
from moto.elbv2.exceptions import ELBClientError
from moto.moto_api._internal import mock_random

from ..models import (
    ACTION_CONFIG_KEY,
    CONDITION_CONFIG_KEY,
    TERMINAL_ACTIONS,
    TRANSFORM_CONFIG_KEY,
)

CONFIG: dict[str, int] = {"rules_per_load_balancer": 100}

# The API's own vocabulary (field names and their config keys) is shared with the library;
# the rules enforced below are the emulator's own, written from AWS's documentation.
_FIELDS = CONDITION_CONFIG_KEY
_UNIQUE = ("host-header", "path-pattern", "http-request-method", "source-ip")
_REGEX_FIELDS = ("host-header", "path-pattern", "http-header")
_TERMINAL = TERMINAL_ACTIONS
_ACTION_TYPES = tuple(ACTION_CONFIG_KEY)
_TRANSFORMS = TRANSFORM_CONFIG_KEY


def _error(code: str, message: str) -> ELBClientError:
    return ELBClientError(code, message)


def _validation(message: str) -> ELBClientError:
    return _error("ValidationError", message)


# --- validation as AWS documents it --------------------------------------------------------


def _condition_strings(condition: dict[str, Any]) -> tuple[list[str], list[str]]:
    field: Any = condition.get("Field")  # as the request gave it
    config = condition.get(_FIELDS.get(field, ""), {}) or {}
    if field == "query-string":  # one value per key/value pair; wildcards count in both parts
        pairs = config.get("Values", [])
        return [f"{p.get('Key') or ''}={p.get('Value', '')}" for p in pairs], []
    plain = list(config.get("Values", []) or condition.get("Values", []) or [])
    regex = list(config.get("RegexValues", []) or condition.get("RegexValues", []) or [])
    return plain, regex


def validate_conditions(conditions: list[dict[str, Any]]) -> None:
    if not conditions:
        raise _validation("A rule must have at least one condition")
    counts = Counter(c.get("Field") for c in conditions)
    for unique in _UNIQUE:
        if counts[unique] > 1:
            raise _validation(f"A rule can only have one '{unique}' condition")
    total = 0
    wildcards = 0
    for condition in conditions:
        field: Any = condition.get("Field")  # as the request gave it
        if field not in _FIELDS:
            raise _validation(f"Condition field '{field}' must be one of [{', '.join(_FIELDS)}]")
        for other, key in _FIELDS.items():
            if other != field and key in condition:
                raise _validation(f"'{key}' cannot be specified for a '{field}' condition")
        if condition.get("Values") and field not in ("host-header", "path-pattern"):
            raise _validation(f"The 'Values' field is not compatible with '{field}'")
        config = condition.get(_FIELDS[field], {}) or {}
        if condition.get("Values") and config:
            raise _validation(
                f"You cannot provide both Values and '{_FIELDS[field]}' for a condition of type "
                f"'{field}'"
            )
        plain, regex = _condition_strings(condition)
        if regex and field not in _REGEX_FIELDS:
            raise _validation(f"RegexValues are not supported for '{field}' conditions")
        if regex and plain:
            raise _validation(f"A '{field}' condition takes Values or RegexValues, not both")
        if not plain and not regex:
            raise _validation("A condition value must be specified")
        if field == "http-header":
            name = config.get("HttpHeaderName", "")
            if not name or len(name) > 40:
                raise _validation("The 'HttpHeaderName' must be 1 to 40 characters")
        for value in plain + regex:
            if len(value) > 128:
                raise _validation(f"The '{field}' value is too long; the limit is '128'")
        total += len(plain) + len(regex)
        wildcards += sum(v.count("*") + v.count("?") for v in plain)
    if total > 5:
        raise _error("InvalidConfigurationRequest", "A rule can have at most 5 condition values")
    if wildcards > 5:
        raise _error("InvalidConfigurationRequest", "A rule can have at most 5 wildcards")


def validate_actions(backend: Any, actions: list[dict[str, Any]]) -> None:
    if not actions:
        raise _validation("At least one action must be specified")
    ordered = sorted(enumerate(actions), key=lambda p: (p[1].get("Order") or p[0] + 1, p[0]))
    terminal = [a for a in actions if a.get("Type") in _TERMINAL]
    if len(terminal) != 1:
        raise _error(
            "InvalidLoadBalancerAction",
            "A rule must have exactly one forward, redirect or fixed-response action",
        )
    if ordered[-1][1].get("Type") not in _TERMINAL:
        raise _error(
            "InvalidLoadBalancerAction",
            "The forward, redirect or fixed-response action must be last",
        )
    for index, action in enumerate(actions, start=1):
        kind = action.get("Type")
        if kind not in _ACTION_TYPES:
            raise _validation(f"Action type '{kind}' must be one of [{', '.join(_ACTION_TYPES)}]")
        order = action.get("Order")
        if order is not None and not 1 <= int(order) <= 50000:
            raise _validation(f"Action order {order} is outside 1..50000")
        if kind == "forward":
            arns = backend._get_target_group_arns_from(action_data=action)
            if not arns:
                raise _validation("A forward action needs a target group")
            if len(arns) > 5:
                raise _error("TooManyTargetGroups", "An action can have at most 5 target groups")
            for arn in arns:
                if arn not in backend.target_groups:
                    raise _error("TargetGroupNotFound", f"Target group '{arn}' not found")
        if kind == "fixed-response":
            backend._validate_fixed_response_action(
                elbv2_models.FakeAction(copy.deepcopy(action)), index - 1, index
            )


def validate_transforms(transforms: list[dict[str, Any]]) -> None:
    counts = Counter(t.get("Type") for t in transforms)
    for kind, count in counts.items():
        if kind not in _TRANSFORMS:
            raise _validation(f"Transform type '{kind}' must be one of [{', '.join(_TRANSFORMS)}]")
        if count > 1:
            raise _validation(f"A rule can have only one '{kind}' transform")
    for transform in transforms:
        config = transform.get(_TRANSFORMS[transform["Type"]]) or {}
        if not config.get("Rewrites"):
            raise _validation(f"A '{transform['Type']}' transform needs at least one rewrite")


def _with_legacy_values(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What AWS returns: host-header and path-pattern carry ``Values`` beside their config."""
    out = []
    for condition in copy.deepcopy(conditions):
        field = condition.get("Field")
        if field in ("host-header", "path-pattern"):
            key = _FIELDS[field]
            config = condition.get(key) or {}
            if "Values" in condition and not config:
                condition[key] = {"Values": list(condition["Values"])}
            elif config.get("Values"):
                condition["Values"] = list(config["Values"])
        if field in _REGEX_FIELDS and condition.get("RegexValues"):
            key = _FIELDS[field]
            condition.setdefault(key, {}).setdefault("RegexValues", condition.pop("RegexValues"))
        out.append(condition)
    return out


# --- OIDC client secrets: kept, never returned -----------------------------------------------


def _secrets_of(actions: list[Any]) -> dict[str, str]:
    return {
        client: secret
        for action in actions or []
        for client, secret in getattr(action, "_albrules_secrets", {}).items()
    }


def _fake_actions(
    actions: list[dict[str, Any]], existing: dict[str, str], creating: bool
) -> list[Any]:
    """FakeActions with client secrets taken out of what DescribeRules will return."""
    out = []
    for data in copy.deepcopy(actions):
        secrets: dict[str, str] = {}
        config = data.get("AuthenticateOidcConfig")
        if data.get("Type") == "authenticate-oidc" and config is not None:
            client = config.get("ClientId", "")
            use_existing = config.pop("UseExistingClientSecret", False)
            secret = config.pop("ClientSecret", None)
            if use_existing:
                if creating:
                    raise _validation("UseExistingClientSecret cannot be used when creating a rule")
                if client not in existing:
                    raise _validation(
                        f"There is no existing client secret for client ID '{client}'"
                    )
                secret = existing[client]
            if not secret:
                raise _validation("A client secret must be specified for authenticate-oidc")
            secrets[client] = secret
        action = elbv2_models.FakeAction(data)
        # An attribute of this module's own on moto's FakeAction (read by _secrets_of).
        action._albrules_secrets = secrets  # type: ignore[attr-defined]
        out.append(action)
    return out


# --- the patched backend methods ---------------------------------------------------------------


def _listener_of(backend: Any, listener_arn: str) -> Any:
    for balancer in backend.load_balancers.values():
        if listener_arn in balancer.listeners:
            return balancer.listeners[listener_arn]
    raise _error("ListenerNotFound", "The specified listener does not exist.")


def _find_rule(backend: Any, rule_arn: str) -> tuple[Any, Any]:
    for balancer in backend.load_balancers.values():
        for listener in balancer.listeners.values():
            for rule in listener.rules.values():  # the default rule is keyed by 0, not its ARN
                if rule.arn == rule_arn:
                    return listener, rule
    raise _error("RuleNotFound", "One or more rules not found")


def _rules_on_balancer(backend: Any, load_balancer_arn: str) -> int:
    balancer = backend.load_balancers.get(load_balancer_arn)
    if balancer is None:
        return 0
    return sum(len(listener._non_default_rules) for listener in balancer.listeners.values())


def _check_priority(priority: Any) -> int:
    try:
        value = int(priority)
    except (TypeError, ValueError):
        raise _validation(f"Priority '{priority}' is not a number") from None
    if not 1 <= value <= 50000:
        raise _validation(
            f"1 validation error detected: Value '{value}' at 'priority' failed to satisfy "
            "constraint: Member must have value between 1 and 50000"
        )
    return value


def create_rule(
    self: Any,
    listener_arn: str,
    conditions: list[dict[str, Any]],
    priority: int,
    actions: list[dict[str, Any]],
    tags: list[dict[str, str]] | None = None,
    transforms: list[dict[str, Any]] | None = None,
) -> Any:
    listener = _listener_of(self, listener_arn)
    priority = _check_priority(priority)
    validate_conditions(conditions)
    validate_actions(self, actions)
    validate_transforms(transforms or [])
    if any(r.priority == priority for r in listener.rules.values() if not r.is_default):
        raise _error("PriorityInUse", "The specified priority is in use.")
    if _rules_on_balancer(self, listener.load_balancer_arn) >= CONFIG["rules_per_load_balancer"]:
        raise _error(
            "TooManyRules", "You've reached the limit on the number of rules per load balancer"
        )
    fake_actions = _fake_actions(actions, {}, creating=True)
    for action in fake_actions:
        if action.type == "forward":
            for arn in self._get_target_group_arns_from(action_data=action.data):
                self.target_groups[arn].load_balancer_arns.append(listener.load_balancer_arn)
    arn = (
        listener_arn.replace(":listener/", ":listener-rule/") + f"/{mock_random.get_random_hex(16)}"
    )
    # moto's CloudFormationModel declares abstract methods FakeListenerRule never defines; it
    # is no ABC at runtime, and moto builds its rules the same way.
    rule = elbv2_models.FakeListenerRule(  # type: ignore[abstract]
        listener.arn, arn, _with_legacy_values(conditions), priority, fake_actions
    )
    rule.transforms = copy.deepcopy(transforms or [])  # type: ignore[attr-defined]  # see install
    listener.register(arn, rule)
    self.tagging_service.tag_resource(arn, tags)
    return rule


def modify_rule(
    self: Any,
    rule_arn: str,
    conditions: list[dict[str, Any]] | None = None,
    actions: list[dict[str, Any]] | None = None,
    transforms: list[dict[str, Any]] | None = None,
    reset_transforms: bool = False,
) -> Any:
    _, rule = _find_rule(self, rule_arn)
    if transforms and reset_transforms:
        raise _validation("Transforms and ResetTransforms cannot be specified together")
    if not conditions and not actions and not transforms and not reset_transforms:
        raise _validation("Conditions, Actions or Transforms must be specified")
    if rule.is_default and (conditions or transforms or reset_transforms):
        raise _error(
            "OperationNotPermitted",
            "The default rule's conditions and transforms cannot be modified",
        )
    if conditions:
        validate_conditions(conditions)
    if actions:
        validate_actions(self, actions)
    if transforms:
        validate_transforms(transforms)
    new_actions = (
        _fake_actions(actions, _secrets_of(rule.actions), creating=False) if actions else None
    )
    if conditions:
        rule.conditions = _with_legacy_values(conditions)
    if new_actions is not None:
        rule.actions = new_actions
    if transforms:
        rule.transforms = copy.deepcopy(transforms)
    if reset_transforms:
        rule.transforms = []
    return rule


def delete_rule(self: Any, arn: str) -> None:
    listener, rule = _find_rule(self, arn)
    if rule.is_default:
        raise _error("OperationNotPermitted", "The default rule cannot be deleted")
    listener.remove_rule(arn)


def set_rule_priorities(self: Any, rule_priorities: list[dict[str, Any]]) -> list[Any]:
    wanted: dict[str, int] = {}
    for item in rule_priorities:
        priority = _check_priority(item.get("Priority"))
        if item["RuleArn"] in wanted:
            raise _validation(f"Rule '{item['RuleArn']}' was specified more than once")
        wanted[item["RuleArn"]] = priority
    if len(set(wanted.values())) != len(wanted):
        raise _validation("A priority was specified for more than one rule")
    found = {}
    for arn in wanted:
        listener, rule = _find_rule(self, arn)
        if rule.is_default:
            raise _error("OperationNotPermitted", "The default rule's priority cannot be changed")
        found[arn] = (listener, rule)
    for listener in {id(lst): lst for lst, _ in found.values()}.values():
        final = Counter(
            wanted.get(r.arn, r.priority) for r in listener.rules.values() if not r.is_default
        )
        if any(count > 1 for count in final.values()):
            raise _error("PriorityInUse", "The specified priority is in use.")
    for arn, (_, rule) in found.items():
        rule.priority = wanted[arn]
    return [rule for _, rule in found.values()]


def describe_rules(self: Any, listener_arn: str | None, rule_arns: list[str] | None) -> list[Any]:
    rules = _original["describe_rules"](self, listener_arn, rule_arns)
    return sorted(rules, key=lambda r: (r.is_default, int(r.priority) if not r.is_default else 0))


def modify_listener(
    self: Any,
    arn: str,
    port: Any = None,
    protocol: str | None = None,
    ssl_policy: str | None = None,
    certificates: list[dict[str, Any]] | None = None,
    actions: list[dict[str, Any]] | None = None,
) -> Any:
    """ModifyListener (moto's signature): default actions validated, OIDC secrets kept."""
    listener = _listener_of(self, arn)
    fake = None
    if actions:
        validate_actions(self, actions)
        fake = _fake_actions(actions, _secrets_of(listener.default_actions), creating=False)
    result = _original["modify_listener"](
        self, arn, port, protocol, ssl_policy, certificates, actions=[]
    )
    if fake is not None:
        listener.default_actions = fake
        listener._default_rule[0].actions = fake
    return result


def create_listener(self: Any, *args: Any, **kwargs: Any) -> Any:
    """CreateListener: default actions validated as AWS does, OIDC secrets kept out of replies."""
    listener = _original["create_listener"](self, *args, **kwargs)
    fake = _fake_actions(kwargs.get("actions") or [], {}, creating=True)
    listener.default_actions = fake
    listener._default_rule[0].actions = fake
    return listener


def _validate_fake_actions(self: Any, actions: list[Any]) -> None:
    """moto's own action check (used by CreateListener), replaced by the documented one."""
    validate_actions(self, [copy.deepcopy(a.data) for a in actions])


# --- the patched response handlers -------------------------------------------------------------


def response_create_rule(self: Any) -> Any:
    params = self._get_params()
    rule = self.elbv2_backend.create_rule(
        listener_arn=params["ListenerArn"],
        conditions=params["Conditions"],
        priority=params["Priority"],
        actions=params["Actions"],
        tags=params.get("Tags"),
        transforms=params.get("Transforms"),
    )
    return ActionResult({"Rules": [rule]})


def response_modify_rule(self: Any) -> Any:
    params = self._get_params()
    rule = self.elbv2_backend.modify_rule(
        rule_arn=params["RuleArn"],
        conditions=params.get("Conditions"),
        actions=params.get("Actions"),
        transforms=params.get("Transforms"),
        reset_transforms=bool(params.get("ResetTransforms")),
    )
    return ActionResult({"Rules": [rule]})


def response_describe_account_limits(self: Any) -> Any:
    limits = {
        "application-load-balancers": 50,
        "condition-values-per-alb-rule": 5,
        "condition-wildcards-per-alb-rule": 5,
        "listeners-per-application-load-balancer": 50,
        "rules-per-application-load-balancer": CONFIG["rules_per_load_balancer"],
        "target-groups": 3000,
        "target-groups-per-action-on-application-load-balancer": 5,
        "target-groups-per-application-load-balancer": 100,
        "targets-per-application-load-balancer": 1000,
    }
    return ActionResult({"Limits": [{"Name": k, "Max": str(v)} for k, v in limits.items()]})


_original: dict[str, Any] = {}


def install() -> None:
    """Patch moto's ELBv2 in this process (idempotent)."""
    backend = elbv2_models.ELBv2Backend
    response = elbv2_responses.ELBV2Response
    if _original:
        return
    for name in ("describe_rules", "modify_listener", "create_listener"):
        _original[name] = getattr(backend, name)
    patches: dict[type, dict[str, Any]] = {
        backend: {
            "create_rule": create_rule,
            "modify_rule": modify_rule,
            "delete_rule": delete_rule,
            "set_rule_priorities": set_rule_priorities,
            "describe_rules": describe_rules,
            "modify_listener": modify_listener,
            "create_listener": create_listener,
            "_validate_actions": _validate_fake_actions,
        },
        response: {
            "create_rule": response_create_rule,
            "modify_rule": response_modify_rule,
            "describe_account_limits": response_describe_account_limits,
        },
        # A class default, for rules made elsewhere.
        elbv2_models.FakeListenerRule: {"transforms": []},
        elbv2_models.FakeRule: {"transforms": []},
    }
    for cls, attributes in patches.items():
        for name, value in attributes.items():
            setattr(cls, name, value)
