"""RestoreTargets: the matcher the restore functions use, and the IAM both templates make of it.

The templates are resolved here as CloudFormation would resolve them (the local deployer's
resolver, the same one ``albrules local deploy`` uses), for each shape of the parameter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from albrules.errors import InvalidInput, RestoreRefused
from albrules.local.deploy import Resolver, load_template, parameter_values
from albrules.targets import RestoreTargets, check_restore_target

ROOT = Path(__file__).resolve().parents[2]
LISTENER = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/{}/0123abcd/4567ef01"
WRITES = {
    "elasticloadbalancing:CreateRule",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:AddListenerCertificates",
    "elasticloadbalancing:RemoveListenerCertificates",
    "elasticloadbalancing:ModifyListenerAttributes",
    "elasticloadbalancing:ModifyRule",
    "elasticloadbalancing:DeleteRule",
    "elasticloadbalancing:SetRulePriorities",
    "elasticloadbalancing:AddTags",
    "elasticloadbalancing:RemoveTags",
    "elasticloadbalancing:CreateListener",  # recreating a deleted listener
    "elasticloadbalancing:DeleteListener",  # and its rollback
}


class Tags:
    """An Aws stand-in whose load balancers and listeners carry the given tags."""

    def __init__(self, tags: dict[str, dict[str, str]]):
        self.tags = tags
        self.calls: list[list[str]] = []

    @property
    def elbv2(self) -> Tags:
        return self

    def describe_tags(self, ResourceArns: list[str]) -> dict[str, Any]:
        self.calls.append(ResourceArns)
        return {
            "TagDescriptions": [
                {
                    "ResourceArn": arn,
                    "Tags": [{"Key": k, "Value": v} for k, v in self.tags.get(arn, {}).items()],
                }
                for arn in ResourceArns
            ]
        }


def lb_arn(name: str) -> str:
    return f"arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/app/{name}/0123abcd"


# --- the matcher ----------------------------------------------------------------------------


def test_empty_allows_every_listener_without_a_call() -> None:
    aws = Tags({})
    for text in ("", None, "  "):
        targets = RestoreTargets.parse(text)
        assert targets.allows_any
        check_restore_target(aws, LISTENER.format("anything"), targets)  # type: ignore[arg-type]
    assert aws.calls == []


def test_a_name_prefix_allows_its_load_balancers_only() -> None:
    targets = RestoreTargets.parse("web-,api")
    assert targets.prefixes == ("web-", "api")
    aws = Tags({})
    for name in ("web-shop", "web-", "api", "api-eu"):
        check_restore_target(aws, LISTENER.format(name), targets)  # type: ignore[arg-type]
    for name in ("web", "Web-shop", "shop-web-", "xapi"):
        with pytest.raises(RestoreRefused, match=rf"load balancer {name}\) is not among"):
            check_restore_target(aws, LISTENER.format(name), targets)  # type: ignore[arg-type]
    assert aws.calls == []  # name prefixes need no AWS call


def test_a_tag_entry_allows_a_tagged_load_balancer_or_listener() -> None:
    targets = RestoreTargets.parse("web-,tag:team=shop,tag:restore=")
    assert targets.tags == (("team", "shop"), ("restore", ""))
    tagged_lb, tagged_listener, other = (
        LISTENER.format("lb1"),
        LISTENER.format("lb2"),
        LISTENER.format("lb3"),
    )
    aws = Tags(
        {
            lb_arn("lb1"): {"team": "shop"},
            tagged_listener: {"restore": ""},
            lb_arn("lb3"): {"team": "pay"},  # same key, other value
            other: {"Team": "shop"},  # keys are case-sensitive
        }
    )
    check_restore_target(aws, tagged_lb, targets)  # type: ignore[arg-type]
    check_restore_target(aws, tagged_listener, targets)  # type: ignore[arg-type]
    with pytest.raises(RestoreRefused) as refused:
        check_restore_target(aws, other, targets)  # type: ignore[arg-type]
    assert str(refused.value) == (
        f"listener {other} (load balancer lb3) is not among the stack's restore targets "
        "(web-,tag:team=shop,tag:restore=); nothing was changed, restore to a listener they "
        "allow or change the stack's RestoreTargets parameter"
    )
    assert aws.calls[-1] == [lb_arn("lb3"), other]  # one DescribeTags for both
    check_restore_target(aws, LISTENER.format("web-x"), targets)  # type: ignore[arg-type]
    assert len(aws.calls) == 3  # a matching prefix is decided without a call


@pytest.mark.parametrize("text", ["web shop", "web,,api", "tag:=x", "tag:team", "a" * 33, "w_b"])
def test_a_malformed_entry_is_one_sentence(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"^the stack's RestoreTargets entry .* is neither"):
        RestoreTargets.parse(text)


@pytest.mark.parametrize("template", ["template.yaml", "member-account.yaml"])
def test_the_parameter_pattern_accepts_what_the_engine_parses(template: str) -> None:
    """Both templates' AllowedPattern and the engine's parser agree on every shape."""
    import re

    pattern = load_template(ROOT / template)["Parameters"]["RestoreTargets"]["AllowedPattern"]
    for good in ("", "web-", "web-,api", "tag:team=shop", "a,tag:k=v=w,tag:x:y=", "a" * 32):
        assert re.fullmatch(pattern, good), good
        RestoreTargets.parse(good)
    for bad in ("web shop", "web,,api", "tag:=x", "tag:team", "a" * 33, "w_b", ",web"):
        assert not re.fullmatch(pattern, bad), bad
        with pytest.raises(InvalidInput):
            RestoreTargets.parse(bad)


# --- the IAM the templates make of it -------------------------------------------------------


def _statements(template: str, targets: str) -> list[dict[str, Any]]:
    """The write statements of the read-write role (member) or ChangeListenersPolicy (central),
    resolved for RestoreTargets=targets."""
    loaded = load_template(ROOT / template)
    if template == "member-account.yaml":
        overrides = {
            "TrustedRoleArns": "arn:aws:iam::111122223333:role/a",
            "ReadOnlyTrustedRoleArns": "arn:aws:iam::111122223333:role/b",
            "ExternalId": "x1",
            "RestoreTargets": targets,
        }
        path = ["MemberRole", "Properties", "Policies", 0, "PolicyDocument", "Statement"]
    else:
        overrides = {"MemberExternalId": "x1", "RestoreTargets": targets}
        path = ["ChangeListenersPolicy", "Properties", "PolicyDocument", "Statement"]
    values: dict[str, Any] = parameter_values(loaded, overrides)
    values.update({"AWS::Partition": "aws", "AWS::AccountId": "210987654321"})
    node: Any = loaded["Resources"]
    for step in path:
        node = node[step]
    resolver = Resolver(loaded, values)
    resolver.refs["SnapshotBucket"] = "bucket"
    resolver.attributes["SnapshotBucket"] = {"Arn": "arn:aws:s3:::bucket"}
    resolved: list[dict[str, Any]] = resolver.resolve(node, template)
    return resolved


@pytest.mark.parametrize("template", ["template.yaml", "member-account.yaml"])
def test_name_prefixes_become_a_deny_outside_their_arns(template: str) -> None:
    statements = _statements(template, "web-,api")
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert set(deny["Action"]) == WRITES
    assert deny["NotResource"] == [
        "arn:*:elasticloadbalancing:*:*:listener/app/web-*",
        "arn:*:elasticloadbalancing:*:*:listener/app/api*",
        "arn:*:elasticloadbalancing:*:*:listener-rule/app/web-*",
        "arn:*:elasticloadbalancing:*:*:listener-rule/app/api*",
        "arn:*:elasticloadbalancing:*:*:loadbalancer/app/web-*",
        "arn:*:elasticloadbalancing:*:*:loadbalancer/app/api*",
    ]
    allows = [s for s in statements if s["Effect"] == "Allow" and "Action" in s]
    written = {a for s in allows for a in ([s["Action"]] if isinstance(s["Action"], str) else
                                          s["Action"]) if a in WRITES}  # fmt: skip
    assert written == WRITES
    for allow in allows:
        if set([allow["Action"]] if isinstance(allow["Action"], str) else allow["Action"]) & WRITES:
            resources = allow["Resource"]
            for resource in resources if isinstance(resources, list) else [resources]:
                assert ":210987654321:listener" in resource or (  # the account stays exact
                    ":210987654321:loadbalancer/app/" in resource
                )


@pytest.mark.parametrize("template", ["template.yaml", "member-account.yaml"])
@pytest.mark.parametrize("targets", ["", "tag:team=shop", "web-,tag:team=shop"])
def test_no_deny_when_iam_cannot_express_the_list(template: str, targets: str) -> None:
    """Empty allows any; a tag entry is the engine's to check (IAM cannot read a load
    balancer's tags when a rule is written), so IAM must not deny the tagged ones."""
    assert [s for s in _statements(template, targets) if s["Effect"] == "Deny"] == []
