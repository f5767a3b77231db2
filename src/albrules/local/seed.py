"""A realistic sample for the local AWS: two load balancers, four listeners, 33 rules.

Every condition type (host-header, path-pattern, http-header, http-request-method,
query-string, source-ip, regex matching), every common action type (weighted forward with
stickiness, redirect, fixed-response), transforms and tags. Deterministic, so the demo and
tests can rely on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

VPC_CIDR = "10.20.0.0/16"

# One rule of the sample: priority, conditions, actions, transforms, tags.
_SampleRule = tuple[
    int, list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], dict[str, str]
]


def _forward(*groups: tuple[str, int], sticky: int | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "TargetGroups": [{"TargetGroupArn": arn, "Weight": weight} for arn, weight in groups]
    }
    if sticky:
        config["TargetGroupStickinessConfig"] = {"Enabled": True, "DurationSeconds": sticky}
    return {"Type": "forward", "ForwardConfig": config}


def _fixed(status: str, body: str = "", content_type: str = "text/plain") -> dict[str, Any]:
    config = {"StatusCode": status, "ContentType": content_type}
    if body:
        config["MessageBody"] = body
    return {"Type": "fixed-response", "FixedResponseConfig": config}


def _redirect(**config: str) -> dict[str, Any]:
    return {"Type": "redirect", "RedirectConfig": {"StatusCode": "HTTP_301", **config}}


def _host(*values: str) -> dict[str, Any]:
    return {"Field": "host-header", "HostHeaderConfig": {"Values": list(values)}}


def _path(*values: str) -> dict[str, Any]:
    return {"Field": "path-pattern", "PathPatternConfig": {"Values": list(values)}}


def _header(name: str, *values: str) -> dict[str, Any]:
    return {
        "Field": "http-header",
        "HttpHeaderConfig": {"HttpHeaderName": name, "Values": list(values)},
    }


def _method(*values: str) -> dict[str, Any]:
    return {"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": list(values)}}


def _query(**pairs: str) -> dict[str, Any]:
    return {
        "Field": "query-string",
        "QueryStringConfig": {"Values": [{"Key": k, "Value": v} for k, v in pairs.items()]},
    }


def _source(*cidrs: str) -> dict[str, Any]:
    return {"Field": "source-ip", "SourceIpConfig": {"Values": list(cidrs)}}


def _rewrite(kind: str, regex: str, replace: str) -> list[dict[str, Any]]:
    key = "UrlRewriteConfig" if kind == "url-rewrite" else "HostHeaderRewriteConfig"
    return [{"Type": kind, key: {"Rewrites": [{"Regex": regex, "Replace": replace}]}}]


def seed(session: Any, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Create the sample in the account and region of ``session``; returns its ARNs.
    ``progress(rules created, rules to create)`` is told as the rules are created."""
    ec2 = session.client("ec2")
    elb = session.client("elbv2")
    existing = {
        lb["LoadBalancerName"]: lb["LoadBalancerArn"]
        for lb in elb.describe_load_balancers().get("LoadBalancers", [])
    }
    if "shop-web" in existing:
        return _describe(elb, existing)
    vpc = ec2.create_vpc(CidrBlock=VPC_CIDR)["Vpc"]["VpcId"]
    region = session.region_name
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"{region}{az}")[
            "Subnet"
        ]["SubnetId"]
        for i, az in enumerate("ab", start=1)
    ]
    tg: dict[str, str] = {}
    for name in (
        "web-blue",
        "web-green",
        "checkout",
        "search",
        "images",
        "api-v1",
        "api-v2",
        "api-canary",
        "admin",
        "metrics",
    ):
        tg[name] = elb.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc)[
            "TargetGroups"
        ][0]["TargetGroupArn"]
    web = elb.create_load_balancer(Name="shop-web", Subnets=subnets)["LoadBalancers"][0][
        "LoadBalancerArn"
    ]
    api = elb.create_load_balancer(Name="shop-api", Subnets=subnets)["LoadBalancers"][0][
        "LoadBalancerArn"
    ]

    def listener(lb: str, port: int, default: dict[str, Any]) -> str:
        listeners = elb.create_listener(
            LoadBalancerArn=lb, Protocol="HTTP", Port=port, DefaultActions=[default]
        )["Listeners"]
        return cast(str, listeners[0]["ListenerArn"])

    web80 = listener(web, 80, _forward((tg["web-blue"], 1)))
    web8080 = listener(web, 8080, _fixed("404", "not found"))
    api80 = listener(api, 80, _fixed("404", '{"error":"no route"}', "application/json"))
    api9000 = listener(api, 9000, _fixed("403", "forbidden"))

    rules: dict[str, list[_SampleRule]] = {
        web80: [
            (1, [_path("/healthz")], [_fixed("200", "ok")], [], {"owner": "sre"}),
            (
                5,
                [_host("old.shop.example.com")],
                [_redirect(Host="www.shop.example.com")],
                [],
                {"owner": "web"},
            ),
            (
                10,
                [_host("www.shop.example.com"), _path("/checkout/*")],
                [_forward((tg["checkout"], 1))],
                [],
                {"owner": "payments", "tier": "critical"},
            ),
            (
                20,
                [_host("www.shop.example.com"), _path("/cart/*", "/basket/*")],
                [_forward((tg["checkout"], 1))],
                [],
                {"owner": "payments"},
            ),
            (30, [_path("/search*")], [_forward((tg["search"], 1))], [], {"owner": "search"}),
            (
                40,
                [_path("/img/*", "/static/*")],
                [_forward((tg["images"], 1))],
                _rewrite("url-rewrite", "^/static/(.*)$", "/img/$1"),
                {"owner": "web", "cache": "long"},
            ),
            (
                50,
                [_header("X-Canary", "true")],
                [_forward((tg["web-blue"], 80), (tg["web-green"], 20), sticky=3600)],
                [],
                {"owner": "web"},
            ),
            (60, [_query(variant="green")], [_forward((tg["web-green"], 1))], [], {"owner": "web"}),
            (
                70,
                [_method("POST", "PUT"), _path("/account/*")],
                [_forward((tg["web-blue"], 1))],
                [],
                {},
            ),
            (
                80,
                [_host("m.shop.example.com")],
                [_redirect(Host="www.shop.example.com", Path="/mobile/#{path}")],
                [],
                {"owner": "web"},
            ),
            (
                90,
                [
                    {
                        "Field": "host-header",
                        "HostHeaderConfig": {"RegexValues": ["^(eu|us)\\.shop\\.example\\.com$"]},
                    }
                ],
                [_forward((tg["web-blue"], 50), (tg["web-green"], 50), sticky=600)],
                _rewrite("host-header-rewrite", "^(eu|us)\\.shop", "www.shop"),
                {"owner": "web", "geo": "true"},
            ),
            (
                100,
                [_path("/blog"), _method("GET")],
                [_redirect(Host="blog.example.com", Path="/")],
                [],
                {},
            ),
            (
                110,
                [_header("User-Agent", "*bot*", "*crawler*")],
                [_fixed("429", "slow down")],
                [],
                {"owner": "sre"},
            ),
            (
                120,
                [_source("203.0.113.0/24", "198.51.100.0/24")],
                [_fixed("403", "blocked")],
                [],
                {"owner": "security"},
            ),
            (
                130,
                [_path("/promo/*"), _query(utm_source="mail")],
                [_forward((tg["web-green"], 1))],
                [],
                {"campaign": "winter"},
            ),
            (140, [_path("/legacy/*")], [_redirect(Path="/#{path}", Query="from=legacy")], [], {}),
        ],
        web8080: [
            (10, [_path("/metrics")], [_forward((tg["metrics"], 1))], [], {"owner": "sre"}),
            (20, [_source("10.0.0.0/8")], [_forward((tg["admin"], 1))], [], {"owner": "sre"}),
            (30, [_path("/debug/*")], [_fixed("403", "no")], [], {}),
        ],
        api80: [
            (
                1,
                [_path("/v1/*")],
                [_forward((tg["api-v1"], 1))],
                [],
                {"owner": "api", "version": "1"},
            ),
            (
                2,
                [_path("/v2/*")],
                [_forward((tg["api-v2"], 90), (tg["api-canary"], 10), sticky=300)],
                [],
                {"owner": "api", "version": "2"},
            ),
            (
                3,
                [_header("X-Api-Version", "3")],
                [_forward((tg["api-canary"], 1))],
                [],
                {"owner": "api"},
            ),
            (10, [_method("OPTIONS")], [_fixed("204")], [], {"owner": "api"}),
            (20, [_path("/v0/*")], [_fixed("410", "gone")], [], {"owner": "api"}),
            (
                30,
                [
                    {
                        "Field": "path-pattern",
                        "PathPatternConfig": {"RegexValues": ["^/v[0-9]+/internal/.*$"]},
                    }
                ],
                [_fixed("403", "internal")],
                [],
                {"owner": "security"},
            ),
            (40, [_query(debug="1")], [_fixed("400", "debug disabled")], [], {}),
            (
                50,
                [_host("api.shop.example.com"), _path("/docs*")],
                [_redirect(Host="docs.shop.example.com", Path="/api")],
                [],
                {"owner": "docs"},
            ),
            (
                60,
                [_path("/v2/search*")],
                [_forward((tg["search"], 1))],
                _rewrite("url-rewrite", "^/v2/search(.*)$", "/search$1"),
                {"owner": "search"},
            ),
            (
                70,
                [_source("192.0.2.0/24")],
                [_forward((tg["api-canary"], 1))],
                [],
                {"owner": "api"},
            ),
            (
                80,
                [_header("Authorization", "Bearer test-*")],
                [_fixed("401", "test tokens refused")],
                [],
                {},
            ),
            (
                90,
                [_path("/status")],
                [_fixed("200", '{"status":"ok"}', "application/json")],
                [],
                {"owner": "sre"},
            ),
        ],
        api9000: [
            (
                10,
                [_source("10.1.0.0/16"), _path("/admin/*")],
                [_forward((tg["admin"], 1))],
                [],
                {"owner": "sre"},
            ),
            (20, [_path("/metrics")], [_forward((tg["metrics"], 1))], [], {"owner": "sre"}),
        ],
    }
    total = sum(len(items) for items in rules.values())
    done = 0
    for listener_arn, items in rules.items():
        for priority, conditions, actions, transforms, tags in items:
            kwargs: dict[str, Any] = {
                "ListenerArn": listener_arn,
                "Priority": priority,
                "Conditions": conditions,
                "Actions": actions,
            }
            if transforms:
                kwargs["Transforms"] = transforms
            if tags:
                kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
            elb.create_rule(**kwargs)
            done += 1
            if progress:
                progress(done, total)
    return _describe(elb, {"shop-web": web, "shop-api": api})


def _describe(elb: Any, balancers: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"load_balancers": {}, "listeners": {}}
    for name in ("shop-web", "shop-api"):
        arn = balancers[name]
        out["load_balancers"][name] = arn
        for item in elb.describe_listeners(LoadBalancerArn=arn)["Listeners"]:
            rules = elb.describe_rules(ListenerArn=item["ListenerArn"])["Rules"]
            out["listeners"][f"{name}:{item['Port']}"] = {
                "arn": item["ListenerArn"],
                "rules": sum(1 for r in rules if not r["IsDefault"]),
            }
    return out


def break_listener(session: Any, listener_arn: str) -> list[str]:
    """A bad deploy, for the demo: delete, edit, reorder and untag some rules (deterministic)."""
    elb = session.client("elbv2")
    rules = [r for r in elb.describe_rules(ListenerArn=listener_arn)["Rules"] if not r["IsDefault"]]
    rules.sort(key=lambda r: int(r["Priority"]))
    if len(rules) < 8:
        raise ValueError("the listener needs at least 8 rules to break")
    done = []
    for rule in (rules[2], rules[5], rules[9 % len(rules)]):
        elb.delete_rule(RuleArn=rule["RuleArn"])
        done.append(f"deleted the rule at priority {rule['Priority']}")
    for rule in (rules[3], rules[6]):
        elb.modify_rule(
            RuleArn=rule["RuleArn"],
            Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}}],
        )
        done.append(f"replaced the actions of the rule at priority {rule['Priority']} by a 503")
    first, second = rules[0], rules[1]
    elb.set_rule_priorities(
        RulePriorities=[
            {"RuleArn": first["RuleArn"], "Priority": int(second["Priority"])},
            {"RuleArn": second["RuleArn"], "Priority": int(first["Priority"])},
        ]
    )
    done.append(f"swapped the rules at priorities {first['Priority']} and {second['Priority']}")
    tags = elb.describe_tags(ResourceArns=[rules[4]["RuleArn"]])["TagDescriptions"][0]["Tags"]
    if tags:
        elb.remove_tags(ResourceArns=[rules[4]["RuleArn"]], TagKeys=[t["Key"] for t in tags])
        done.append(f"removed the tags of the rule at priority {rules[4]['Priority']}")
    return done
