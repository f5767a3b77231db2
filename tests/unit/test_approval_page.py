"""The approval page's HTML (albrules.approval_page), rendered from plans built here.

Every change kind has its card; values from rules, the audit record and the request are
escaped (a ``<script>`` in a path pattern stays text); the page loads nothing and runs no
script, and its Content-Security-Policy allows exactly its own style element.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from typing import Any

import pytest

from albrules import approval
from albrules import approval_page as pages
from albrules.approval import LinkClaim, Review
from albrules.errors import ApprovalError
from albrules.operations import CreateRule, DeleteRule, ModifyListener, ModifyRule
from albrules.plan import Desired, Plan, RuleChange

LISTENER = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/50dc6c495c0c9188/"
    "f2f7dc8efc522ab2"
)
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:albrules-restore:r1"
NOW = 1_800_000_000
HOSTILE = "/<script>alert(1)</script>"


def path(*values: str) -> dict[str, Any]:
    return {"Field": "path-pattern", "PathPatternConfig": {"Values": list(values)}}


def forward(name: str) -> dict[str, Any]:
    arn = f"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{name}/1"
    return {
        "Type": "forward",
        "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": arn, "TargetGroupName": name}]},
    }


def fixed(status: str, body: str | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"StatusCode": status}
    if body is not None:
        config["MessageBody"] = body
    return {"Type": "fixed-response", "FixedResponseConfig": config}


def rule(priority: int, *paths: str, actions: list | None = None, **extra: Any) -> dict:
    return {
        "priority": priority,
        "conditions": [path(*paths)],
        "actions": actions or [forward("app")],
        "transforms": extra.get("transforms", []),
        "tags": extra.get("tags", {}),
    }


def every_kind() -> list[RuleChange]:
    rewrite = {
        "Type": "url-rewrite",
        "UrlRewriteConfig": {"Rewrites": [{"Regex": "^/old/(.*)$", "Replace": "/new/$1"}]},
    }
    return [
        RuleChange(
            kind="default-actions",
            label="default actions",
            fields=["actions"],
            before={"actions": [fixed("503")]},
            after={"actions": [fixed("404")]},
        ),
        RuleChange(kind="create", label="p10", fields=["rule"], after=rule(10, HOSTILE)),
        RuleChange(
            kind="move",
            label="p20",
            fields=["priority"],
            before=rule(25, "/moved/*"),
            after=rule(20, "/moved/*"),
        ),
        RuleChange(
            kind="modify",
            label="p30",
            fields=["actions", "transforms", "tags", "priority"],
            before=rule(
                31,
                "/changed/*",
                actions=[fixed("503", "old text")],
                tags={"owner": '"><img src=x onerror=alert(1)>'},
            ),
            after=rule(
                30,
                "/changed/*",
                actions=[fixed("503", "new text")],
                transforms=[rewrite],
                tags={"owner": "web"},
            ),
        ),
        RuleChange(kind="delete", label="p99", fields=["rule"], before=rule(99, "/gone/*")),
    ]


def review(changes: list[RuleChange] | None = None, **overrides: Any) -> Review:
    plan = Plan(
        listener_arn=LISTENER,
        mode="full",
        operations=[],
        changes=every_kind() if changes is None else changes,
        expected=Desired(default_actions=[], rules=[]),
    )
    fields: dict[str, Any] = {
        "claim": LinkClaim(EXECUTION, "review", "nonce", NOW + 9 * 60 + 30),
        "listener_arn": LISTENER,
        "requested_at": "2027-01-15T08:00:05+00:00",
        "audit": {
            "requested_by": "<b>mallory</b>",
            "started_at": "2027-01-15T08:00:00+00:00",
            "reason": "</td><script>steal()</script>",
            "snapshot": "s3://bucket/snapshots/x.json",
        },
        "plan": plan,
        "warnings": ["target group <tg> was mapped by name"],
        "plan_location": "s3://bucket/plans/r1.json",
        "requester": {"arn": "arn:aws:iam::123456789012:user/<alice>", "type": "IAMUser"},
    }
    fields.update(overrides)
    return Review(**fields)


def cards(body: str) -> dict[str, str]:
    """The text of each change card, by kind."""
    found = re.findall(r'<section class="change ([a-z-]+)">(.*?)</section>', body, re.S)
    return {kind: html.unescape(re.sub(r"<[^>]+>", " ", inner)) for kind, inner in found}


def text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def test_every_change_kind_has_its_card_with_before_and_after() -> None:
    page = pages.review_page(review(), "tok", NOW)
    assert page["statusCode"] == 200
    body = page["body"]
    shown = cards(body)
    assert list(shown) == ["default-actions", "create", "move", "modify", "delete"]
    chips = re.findall(r'<li class="chip ([a-z-]+)">(.*?)</li>', body)
    assert chips == [
        ("create", "1 added"),
        ("delete", "1 removed"),
        ("move", "1 moved"),
        ("modify", "1 changed"),
        ("default-actions", "default actions changed"),
    ]
    assert "fixed-response 503" in shown["default-actions"]
    assert "fixed-response 404" in shown["default-actions"]
    assert "new rule at priority 10" in shown["create"] and "not on the listener" in shown["create"]
    assert "priority 25 → 20" in shown["move"]
    assert "rule at priority 31 → 30" in shown["modify"]
    assert "changed: actions, transforms, tags, priority" in shown["modify"]
    assert "url-rewrite ^/old/(.*)$ → /new/$1" in shown["modify"]
    assert (
        "rule at priority 99" in shown["delete"] and "removed from the listener" in shown["delete"]
    )

    modify = re.search(r'<section class="change modify">(.*?)</section>', body, re.S)
    assert modify is not None
    rows = dict(re.findall(r'<th scope="row">(\w+)</th>(.*?)</tr>', modify.group(1), re.S))
    assert 'class="same"' in rows["Conditions"]  # unchanged: one cell across both columns
    # Both sides summarise as "fixed-response 503": the whole values show what changed.
    assert '"MessageBody": "old text"' in text(rows["Actions"])
    assert '"MessageBody": "new text"' in text(rows["Actions"])
    assert 'class="old"' in rows["Priority"] and 'class="new"' in rows["Priority"]


def test_the_facts_name_the_listener_who_when_and_the_expiry() -> None:
    body = pages.review_page(review(), "tok", NOW)["body"]
    facts = text(re.search(r'<table class="facts">(.*?)</table>', body, re.S).group(1))  # type: ignore[union-attr]
    assert "Load balancer shop account 123456789012, us-east-1" in facts
    assert f"Listener {LISTENER}" in facts
    # Who started it is AWS's word (CloudTrail); the input's requested_by is only a note.
    assert "Started by arn:aws:iam::123456789012:user/<alice> (AWS, CloudTrail)" in facts
    assert "Requester's note <b>mallory</b> (as given by the requester)" in facts
    assert "Started at 2027-01-15 08:00:00 UTC" in facts
    assert "Expires 2027-01-15 08:09:30 UTC (in 9 minutes)" in facts
    assert f"Execution {EXECUTION}" in facts
    assert "target group <tg> was mapped by name" in text(body)
    assert "f2f7dc8e" in text(body)  # the short listener id in the lead


def test_hostile_values_stay_text() -> None:
    body = pages.review_page(review(), 'tok"><script>x()</script>', NOW)["body"]
    lowered = body.lower()
    assert "<script" not in lowered and "<img" not in lowered and "<b>" not in lowered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body  # the path pattern, as text
    assert "&lt;/td&gt;&lt;script&gt;steal()&lt;/script&gt;" in body
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in body
    assert "tok&quot;" not in body and "tok\"" not in body  # the token is not on the page
    assert "user/&lt;alice&gt;" in body
    tags = set(re.findall(r"<([a-z0-9]+)[\s>]", lowered))  # nothing that loads or runs
    assert tags <= {
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "main",
        "div",
        "h1",
        "h2",
        "h3",
        "p",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "span",
        "strong",
        "code",
        "ul",
        "li",
        "section",
        "footer",
        "br",
    }, tags
    assert " style=" not in body and " on" not in re.sub(r">[^<]*<", "><", body)
    odd = pages.review_page(review(listener_arn="<i>not an arn</i>"), "tok", NOW)["body"]
    assert "<i>" not in odd and "&lt;i&gt;not an arn&lt;/i&gt;" in odd


def test_the_policy_allows_only_the_pages_own_style() -> None:
    page = pages.review_page(review(), "tok", NOW)
    headers = page["headers"]
    csp = headers["Content-Security-Policy"]
    style = re.search(r"<style>(.*?)</style>", page["body"], re.S).group(1)  # type: ignore[union-attr]
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert csp == (
        f"default-src 'none'; style-src 'sha256-{digest}'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    assert page["body"].count("<style>") == 1 and "unsafe" not in csp
    assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"


def test_the_page_decides_nothing_and_gives_the_commands_and_the_four_eyes_rule() -> None:
    body = pages.review_page(review(), "tok", NOW)["body"]
    assert "<form" not in body and "<button" not in body and "<input" not in body
    shown = text(body)
    assert f"albrules approve {EXECUTION}" in shown
    assert f"albrules reject {EXECUTION} --reason '...'" in shown
    assert (
        "arn:aws:iam::123456789012:user/<alice> started this restore; someone else must "
        "approve it." in shown
    )
    allowed = text(pages.review_page(review(self_approval_allowed=True), "tok", NOW)["body"])
    assert "someone else must approve it" not in allowed
    unknown = text(pages.review_page(review(requester=None), "tok", NOW)["body"])
    assert "Started by not known from CloudTrail yet" in unknown
    assert "whoever started this restore started this restore" not in unknown
    posted = pages.review_only_page()
    assert posted["statusCode"] == 405 and "albrules approve" in text(posted["body"])


def test_an_unreadable_plan_is_said_and_reject_stays_possible() -> None:
    broken = review(plan=None, plan_problem="s3://bucket/plans/r1.json does not exist")
    body = pages.review_page(broken, "tok", NOW)["body"]
    assert "The plan could not be read: s3://bucket/plans/r1.json does not exist" in text(body)
    assert "Do not approve what you cannot see" in text(body)
    assert f"albrules reject {EXECUTION}" in text(body)


def test_the_pages_that_do_nothing() -> None:
    decided = pages.decided_page(
        {
            "status": "rejected",
            "decided_by": "bob",
            "decided_at": "2027-01-15T08:01:00+00:00",
            "reason": "<wrong>",
        },
        EXECUTION,
    )
    assert decided["statusCode"] == 409
    assert "This restore was already rejected by bob at 2027-01-15 08:01:00 UTC. Nothing was " in (
        text(decided["body"])
    )
    assert "&lt;wrong&gt;" in decided["body"]
    expired = pages.expired_page(LinkClaim(EXECUTION, "approve", "n", NOW))
    assert expired["statusCode"] == 403 and "It expired at 2027-01-15 08:00:00 UTC" in (
        text(expired["body"])
    )
    invalid = pages.invalid_page("this approval link is not valid; nothing was done")
    assert invalid["statusCode"] == 403
    assert "This approval link is not valid; nothing was done." in text(invalid["body"])


def test_times() -> None:
    assert pages.when(NOW) == "2027-01-15 08:00:00 UTC"
    assert pages.when("2027-01-15T09:00:00+01:00") == "2027-01-15 08:00:00 UTC"
    assert pages.when("2027-01-15T08:00:00") == "2027-01-15 08:00:00 UTC"
    assert pages.when("yesterday") == "yesterday"
    assert pages.until(NOW + 30, NOW) == "in less than a minute"
    assert pages.until(NOW + 60, NOW) == "in 1 minute"
    assert pages.until(NOW + 3900, NOW) == "in 1 hour 5 minutes"
    assert pages.until(NOW + 7200, NOW) == "in 2 hours"
    assert pages.until(NOW - 1, NOW) == "now"


def test_every_link_opens_the_review_page_and_only_old_links_imply_a_decision() -> None:
    key = b"k" * 32
    links = approval.links("https://x.lambda-url.us-east-1.on.aws", key, EXECUTION, "n", NOW)
    assert list(links) == ["review", "approve", "reject"]
    for kind, link in links.items():
        assert link.startswith("https://x.lambda-url.us-east-1.on.aws/?token=")
        claim = approval.verify_token(key, link.split("?token=", 1)[1], now=NOW - 1)
        assert (claim.decision, claim.nonce, claim.expires_at) == (kind, "n", NOW)
        assert claim.default_decision == (None if kind == "review" else kind)
    with pytest.raises(approval.LinkExpired) as expired:
        approval.verify_token(key, links["review"].split("?token=", 1)[1], now=NOW)
    assert expired.value.claim.execution_arn == EXECUTION
    with pytest.raises(ApprovalError, match="not valid"):
        approval.verify_token(b"another key", links["review"].split("?token=", 1)[1], now=0)


# --- where OIDC client secrets go -------------------------------------------------------------

SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:albrules/shop-AbCdEf"


def oidc_action(client: str, host: str = "idp.example.com", token_host: str | None = None) -> dict:
    return {
        "Type": "authenticate-oidc",
        "Order": 1,
        "AuthenticateOidcConfig": {
            "Issuer": f"https://{host}",
            "AuthorizationEndpoint": f"https://{host}/authorize",
            "TokenEndpoint": f"https://{token_host or host}/token",
            "UserInfoEndpoint": f"https://{host}/userinfo",
            "ClientId": client,
        },
    }


def oidc_plan() -> Plan:
    created = [oidc_action("shop", token_host="evil.example.net"), {**forward("app"), "Order": 2}]
    kept = [oidc_action("<b>kept</b>"), {**forward("app"), "Order": 2}]
    return Plan(
        listener_arn=LISTENER,
        mode="full",
        operations=[
            ModifyListener(
                listener_arn=LISTENER,
                default_actions=[oidc_action("front"), {**fixed("200"), "Order": 2}],
                oidc={"front": SECRET},
            ),
            ModifyRule(
                rule_arn="r1", priority=30, actions=kept, oidc={"<b>kept</b>": "existing"}
            ),
            ModifyRule(rule_arn="r2", priority=40, conditions=[path("/x")]),
            CreateRule(
                listener_arn=LISTENER,
                priority=10,
                conditions=[path("/private/*")],
                actions=created,
                oidc={"shop": SECRET},
            ),
            DeleteRule(rule_arn="r3", priority=99, oidc_clients=["gone"]),
        ],
        changes=[RuleChange(kind="create", label="p10", fields=["rule"], after=rule(10, "/p"))],
        expected=Desired(default_actions=[], rules=[]),
    )


def oidc_tables(body: str) -> dict[str, dict[str, str]]:
    """Each authenticate-oidc action's facts on the page, by where it is set."""
    section = body.split("<h2>Where OIDC client secrets go", 1)[1].split("<h2>", 1)[0]
    found = re.findall(r"<h3>(.*?)</h3><table class=\"facts\">(.*?)</table>", section, re.S)
    return {
        html.unescape(where): {
            html.unescape(k): text(v)
            for k, v in re.findall(r'<th scope="row">(.*?)</th><td>(.*?)</td>', table, re.S)
        }
        for where, table in found
    }


def test_every_oidc_action_shows_its_issuer_endpoints_and_the_secret_it_would_send() -> None:
    body = pages.review_page(review(plan=oidc_plan()), "tok", NOW)["body"]
    assert "Where OIDC client secrets go: 3 authenticate-oidc actions" in text(body)
    assert "This restore reads 2 client secrets from Secrets Manager" in text(body)
    shown = oidc_tables(body)
    assert list(shown) == ["the default actions", "rule at priority 30", "new rule at priority 10"]
    assert shown["new rule at priority 10"] == {
        "Client ID": "shop",
        "Issuer": "https://idp.example.com",
        "Authorization endpoint": "https://idp.example.com/authorize",
        "Token endpoint": "https://evil.example.net/token",
        "User info endpoint": "https://idp.example.com/userinfo",
        "Client secret": SECRET,
    }
    assert shown["the default actions"]["Client secret"] == SECRET
    assert shown["rule at priority 30"]["Client ID"] == "<b>kept</b>"  # escaped, shown as text
    assert "UseExistingClientSecret" in shown["rule at priority 30"]["Client secret"]
    # The secret goes to the token endpoint: one on another host than the issuer is pointed out.
    notes = re.findall(r"</table>(<p class=\"small\">.*?</p>)", body.split("Where OIDC", 1)[1])
    assert len(notes) == 1 and "not on the issuer's host" in notes[0]
    assert "<b>kept</b>" not in body


def test_a_plan_without_oidc_actions_has_no_oidc_section() -> None:
    body = pages.review_page(review(), "tok", NOW)["body"]
    assert "Where OIDC client secrets go" not in body
    assert pages.oidc_actions(oidc_plan())[1] == (
        "rule at priority 30",
        oidc_action("<b>kept</b>")["AuthenticateOidcConfig"],
        "existing",
    )


def test_a_whole_load_balancer_shows_each_listeners_plan() -> None:
    one = review().plan
    assert one is not None
    only_delete = [c for c in every_kind() if c.kind == "delete"]
    other = one.model_copy(update={"changes": only_delete})
    body = pages.review_page(
        review(plan=None, listener_plans=[("port 80", one), ("port 8081", other)]), "tok", NOW
    )["body"]
    headings = [text(h) for h in re.findall(r"<h2>(What will change.*?)</h2>", body)]
    assert headings == [
        "What will change on listener port 80: 4 rules",
        "What will change on listener port 8081: 1 rule",
    ]
    assert "could not be read" not in body
    assert len(re.findall(r'<section class="change ', body)) == 6  # 5 cards, then 1
