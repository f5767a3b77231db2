"""Which listeners a scheduled backup covers in one account and region, with their descriptions
(one DescribeListeners per load balancer, which the backup then need not repeat)."""

from __future__ import annotations

from typing import Any

from .arns import parse_listener_arn
from .aws import Aws
from .capture import _pages, describe_tags, load_balancer_listeners, resolve_load_balancer
from .errors import InvalidInput


def application_load_balancers(aws: Aws) -> list[str]:
    balancers: list[dict[str, Any]] = _pages(
        f"load balancers in {aws.region}", aws.elbv2.describe_load_balancers, "LoadBalancers"
    )
    return [
        b["LoadBalancerArn"] for b in balancers if b.get("Type", "application") == "application"
    ]


def discover_listeners(
    aws: Aws,
    *,
    account_id: str,
    region: str,
    load_balancers: list[str] | None = None,
    listener_arns: list[str] | None = None,
    tags: dict[str, str] | None = None,
) -> dict[str, dict[str, Any] | None]:
    """Listener ARNs and their DescribeListeners descriptions: those named (no description:
    not read here), else those of the load balancers named, else of every ALB; ``tags`` keeps
    only listeners whose load balancer carries all of them."""
    found: dict[str, dict[str, Any] | None] = {}
    if listener_arns:
        for arn in listener_arns:
            parsed = parse_listener_arn(arn)
            if (parsed.account, parsed.region) != (account_id, region):
                raise InvalidInput(
                    f"listener {arn} is not in account {account_id} region {region}; list it "
                    "under the target of its own account and region"
                )
            found.setdefault(parsed.arn, None)
    else:
        if load_balancers:
            balancers = [resolve_load_balancer(aws, name) for name in load_balancers]
        else:
            balancers = application_load_balancers(aws)
        for balancer in balancers:
            for item in load_balancer_listeners(aws, balancer):
                found.setdefault(item["ListenerArn"], item)
    if tags:
        owners = {arn: parse_listener_arn(arn).load_balancer_arn for arn in found}
        tagged = describe_tags(aws, sorted(set(owners.values())), "load balancer tags")
        found = {
            arn: listener
            for arn, listener in found.items()
            if all(tagged.get(owners[arn], {}).get(k) == v for k, v in tags.items())
        }
    return found
