"""A small evaluator of resource-policy statements (the subset the stack's bucket policy uses),
written from the IAM User Guide's policy-evaluation and condition-operator pages, independent
of moto's engine (which evaluates no principal and only the StringEquals operator).

Supported: ``Effect``; ``Principal`` ``"*"`` or ``{"AWS": ...}`` (an ARN, or an account id or
its root ARN, which stands for every principal of the account: ``aws:PrincipalAccount``);
``Action``/``NotAction`` and ``Resource``/``NotResource`` with ``*`` and ``?`` wildcards; the
condition operators ``String(Not)Equals``, ``String(Not)EqualsIgnoreCase``, ``String(Not)Like``,
``Arn(Not)Equals``, ``Arn(Not)Like`` and ``Bool``, each with ``...IfExists``; several values of
one key are ORed, several keys and operators ANDed. A key missing from the request context
makes a positive operator false and a negated one true ("...IfExists" makes it true). An
explicit Deny wins over any Allow.

Not supported (a statement using them raises :class:`Unsupported`): other operators, policy
variables, ``NotPrincipal``, multi-valued context keys (``ForAnyValue``/``ForAllValues``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

Decision = Literal["Allow", "Deny"] | None


class Unsupported(ValueError):
    """The statement uses something this evaluator does not model."""


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _like(pattern: str, value: str, *, case: bool = True) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None


def _matches(patterns: Any, value: str, *, case: bool = True) -> bool:
    return any(_like(str(p), value, case=case) for p in as_list(patterns))


_Test = Callable[[str, str], bool]
_POSITIVE: dict[str, _Test] = {
    "StringEquals": lambda want, got: want == got,
    "StringEqualsIgnoreCase": lambda want, got: want.lower() == got.lower(),
    "StringLike": lambda want, got: _like(want, got),
    "ArnEquals": lambda want, got: want == got,
    "ArnLike": lambda want, got: _like(want, got),
    "Bool": lambda want, got: want.lower() == got.lower(),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def condition_keys(statement: dict[str, Any]) -> set[str]:
    """The context keys a statement's conditions read (lower case)."""
    return {k.lower() for block in (statement.get("Condition") or {}).values() for k in block}


def _condition_holds(operator: str, key: str, wanted: Any, context: dict[str, str]) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    negated = base in _NEGATED
    test = _POSITIVE.get(_NEGATED.get(base, base))
    if test is None or base.startswith(("ForAnyValue", "ForAllValues")):
        raise Unsupported(f"condition operator {operator}")
    found = {k.lower(): v for k, v in context.items()}.get(key.lower())
    if found is None:
        return if_exists or negated
    matched = any(test(str(w), str(found)) for w in as_list(wanted))
    return not matched if negated else matched


def _conditions_hold(statement: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, block in (statement.get("Condition") or {}).items():
        for key, wanted in block.items():
            if not _condition_holds(operator, key, wanted, context):
                return False
    return True


def _principal_matches(statement: dict[str, Any], context: dict[str, str]) -> bool:
    if "NotPrincipal" in statement:
        raise Unsupported("NotPrincipal")
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if isinstance(principal, dict) and "AWS" in principal:
        wanted = as_list(principal["AWS"])
        caller = context.get("aws:PrincipalArn")
        if "*" in wanted or (caller is not None and caller in wanted):
            return True
        # An account (its id or root ARN) stands for every principal of that account.
        account = context.get("aws:PrincipalAccount")
        return account is not None and any(_account_principal(w) == account for w in wanted)
    return False


def _account_principal(value: Any) -> str | None:
    found = re.fullmatch(r"(\d{12})|arn:[^:]+:iam::(\d{12}):root", str(value))
    return (found.group(1) or found.group(2)) if found else None


def statement_applies(
    statement: dict[str, Any], action: str, resource: str, context: dict[str, str]
) -> bool:
    """Whether the statement applies to this request (its effect then counts)."""
    if "NotAction" in statement:
        if _matches(statement["NotAction"], action, case=False):
            return False
    elif not _matches(statement.get("Action", []), action, case=False):
        return False
    if "NotResource" in statement:
        if _matches(statement["NotResource"], resource):
            return False
    elif not _matches(statement.get("Resource", []), resource):
        return False
    return _principal_matches(statement, context) and _conditions_hold(statement, context)


def evaluate(
    policy: dict[str, Any], action: str, resource: str, context: dict[str, str]
) -> Decision:
    """The policy's decision for the request: "Deny" (an explicit deny), "Allow", or None."""
    decision: Decision = None
    for statement in as_list(policy.get("Statement", [])):
        if statement_applies(statement, action, resource, context):
            if statement.get("Effect") == "Deny":
                return "Deny"
            decision = "Allow"
    return decision
