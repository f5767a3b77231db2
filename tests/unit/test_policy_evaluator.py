"""The independent policy evaluator (albrules.local.policies) follows the IAM User Guide's
rules for the operators the stack's bucket policy uses."""

from __future__ import annotations

import pytest

from albrules.local.policies import Unsupported, evaluate

ROLE = "arn:aws:iam::123456789012:role/stack-WriterRole-ABC"


def deny_unless(operator: str, value: object) -> dict:
    return {
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:Put*",
                "Resource": "arn:aws:s3:::b/snapshots/*",
                "Condition": {operator: {"aws:PrincipalArn": value}},
            }
        ]
    }


@pytest.mark.parametrize("operator", ["ArnNotLike", "StringNotLike", "StringNotEquals"])
def test_a_negated_deny_spares_the_named_roles_only(operator: str) -> None:
    policy = deny_unless(operator, [ROLE, "arn:aws:iam::123456789012:role/other"])
    res = "arn:aws:s3:::b/snapshots/x.json"
    assert evaluate(policy, "s3:PutObject", res, {"aws:PrincipalArn": ROLE}) is None
    user = {"aws:PrincipalArn": "arn:aws:iam::123456789012:user/u"}
    assert evaluate(policy, "s3:PutObject", res, user) == "Deny"
    assert evaluate(policy, "s3:PutObject", res, {}) == "Deny"  # a missing key: negated is true
    assert evaluate(policy, "s3:GetObject", res, user) is None  # another action
    assert evaluate(policy, "s3:PutObject", "arn:aws:s3:::b/runs/x", user) is None


def test_wildcards_ifexists_and_bool() -> None:
    like = deny_unless("ArnLike", "arn:aws:iam::*:user/*")
    res = "arn:aws:s3:::b/snapshots/x"
    assert evaluate(like, "s3:PutObject", res, {"aws:PrincipalArn": ROLE}) is None
    assert evaluate(like, "s3:PutObject", res, {}) is None  # missing: positive is false
    assert evaluate(deny_unless("ArnLikeIfExists", "x"), "s3:PutObject", res, {}) == "Deny"
    tls = {
        "Statement": {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    }
    assert evaluate(tls, "s3:GetObject", res, {"aws:SecureTransport": "true"}) is None
    assert evaluate(tls, "s3:GetObject", res, {"aws:SecureTransport": "false"}) == "Deny"


def test_an_operator_it_does_not_model_is_said_so() -> None:
    with pytest.raises(Unsupported):
        policy = deny_unless("NumericLessThan", "1")
        evaluate(policy, "s3:PutObject", "arn:aws:s3:::b/snapshots/x", {})
