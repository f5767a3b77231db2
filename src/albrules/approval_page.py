"""The approval page: plain server-rendered HTML for one restore waiting for approval.

The approval function (a Lambda function URL) answers with these pages. Each is one HTML
document with no script, no image and no external asset, so it renders offline and in a mail
client's browser. Its only CSS is one ``<style>`` element, which the Content-Security-Policy
allows by hash; forms may post only to the page's own address. Every value that comes from a
plan, an audit record or a request is escaped.

The review page shows the listener and load balancer, who started the restore (the identity
CloudTrail recorded, and the requester's own note, labelled as theirs) and when, the plan as a
before/after diff per rule (added rules green, removed red, moved with both priorities, changed
rules with the changed fields side by side, the default actions), where the OIDC client secrets
it would send go (each authenticate-oidc action it sets: issuer, endpoints, and the secret's
ARN), when the request expires, the four-eyes rule, and the commands that decide. The page
itself decides nothing: a public link cannot establish who opened it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import urlsplit

from .approval import LinkClaim, Review
from .arns import parse_listener_arn
from .errors import InvalidInput
from .labels import describe_action, describe_condition, describe_conditions
from .models import TRANSFORM_CONFIG_KEY
from .operations import EXISTING_SECRET, CreateRule, ModifyListener, ModifyRule
from .plan import Plan, RuleChange

STYLE = """
*{box-sizing:border-box}
body{margin:0;background:#f6f8fa;color:#1f2328;font:15px/1.5 system-ui,-apple-system,
"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:64rem;margin:0 auto;padding:1.25rem 1rem 3rem}
.brand{color:#59636e;font-size:.85rem;letter-spacing:.04em;text-transform:uppercase}
h1{font-size:1.6rem;line-height:1.25;margin:.3rem 0 .5rem}
h2{font-size:1.2rem;margin:2rem 0 .6rem}
h3{font-size:1.05rem;margin:0 0 .4rem}
p{margin:.4rem 0}
code,.v{font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
overflow-wrap:anywhere}
.lead{font-size:1.05rem}
.banner{border-left:6px solid #59636e;background:#fff;padding:.8rem 1rem;margin:1rem 0;
border-radius:6px}
.banner.ok{border-color:#1a7f37}.banner.bad{border-color:#cf222e}
.banner.warn{border-color:#9a6700;background:#fff8c5}
table{border-collapse:collapse;width:100%}
.facts{background:#fff;border:1px solid #d1d9e0;border-radius:6px}
.facts th{width:10rem;text-align:left;vertical-align:top;color:#59636e;font-weight:600}
.facts th,.facts td{padding:.45rem .8rem;border-bottom:1px solid #eef1f4}
.facts tr:last-child th,.facts tr:last-child td{border-bottom:0}
.small{color:#59636e;font-size:.85rem}
.counts{list-style:none;padding:0;margin:.2rem 0 1rem;display:flex;flex-wrap:wrap;gap:.4rem}
.chip,.badge{display:inline-block;border-radius:2rem;padding:.1rem .7rem;font-weight:600;
font-size:.85rem;border:1px solid}
.create .badge,.chip.create{color:#1a7f37;background:#dafbe1;border-color:#1a7f37}
.delete .badge,.chip.delete{color:#cf222e;background:#ffebe9;border-color:#cf222e}
.move .badge,.chip.move{color:#0969da;background:#ddf4ff;border-color:#0969da}
.modify .badge,.chip.modify{color:#9a6700;background:#fff8c5;border-color:#9a6700}
.default-actions .badge,.chip.default-actions{color:#8250df;background:#fbefff;
border-color:#8250df}
.change{background:#fff;border:1px solid #d1d9e0;border-left:6px solid;border-radius:6px;
margin:0 0 1rem;overflow:hidden}
.change.create{border-left-color:#1a7f37}.change.delete{border-left-color:#cf222e}
.change.move{border-left-color:#0969da}.change.modify{border-left-color:#9a6700}
.change.default-actions{border-left-color:#8250df}
.head{padding:.6rem .8rem;border-bottom:1px solid #eef1f4}
.head strong{margin-left:.4rem;font-size:1.02rem}
.head .small{display:block;margin-top:.2rem}
.diff th,.diff td{padding:.4rem .8rem;text-align:left;vertical-align:top;
border-bottom:1px solid #eef1f4}
.diff thead th{font-size:.8rem;color:#59636e;text-transform:uppercase;letter-spacing:.04em;
background:#f6f8fa}
.diff tbody th{width:8rem;color:#59636e;font-weight:600}
.diff td{width:42%}
.diff tr:last-child th,.diff tr:last-child td{border-bottom:0}
td.old{background:#ffebe9}td.new{background:#dafbe1}
td.none{color:#8c959f}td.same{color:#59636e}
.line{display:block}
.mark{font-weight:700;margin-right:.3rem}
.decide{display:grid;grid-template-columns:repeat(auto-fit,minmax(18rem,1fr));gap:1rem}
.box{background:#fff;border:1px solid #d1d9e0;border-radius:6px;padding:1rem}
label{display:block;font-weight:600;margin:.2rem 0 .3rem}
textarea{width:100%;min-height:4.5rem;font:inherit;padding:.4rem;border:1px solid #d1d9e0;
border-radius:6px}
button{font:inherit;font-weight:600;font-size:1rem;color:#fff;border:0;border-radius:6px;
padding:.6rem 1.4rem;margin-top:.6rem;cursor:pointer}
button.approve{background:#1f883d}button.reject{background:#cf222e}
footer{margin-top:2rem;color:#59636e;font-size:.85rem}
"""

#: The page's Content-Security-Policy: nothing loads, no script runs, only the page's own
#: ``<style>`` applies, forms post back to the function URL, no framing.
CSP = (
    "default-src 'none'; "
    f"style-src 'sha256-{base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()}'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}

KIND_WORDS = {
    "create": "Added",
    "delete": "Removed",
    "move": "Moved",
    "modify": "Changed",
    "default-actions": "Default actions",
    "listener-settings": "Listener settings",
}
MINUS = "\u2212"  # a real minus sign: wider than a hyphen, reads as "removed"
KIND_MARKS = {
    "create": "+",
    "delete": MINUS,
    "move": "↕",
    "modify": "~",
    "default-actions": "~",
    "listener-settings": "~",
}
COUNT_WORDS = {
    "create": "added",
    "delete": "removed",
    "move": "moved",
    "modify": "changed",
    "default-actions": "default actions changed",
    "listener-settings": "listener settings changed",
}
REASON_MAX = 2000


# --- the document -----------------------------------------------------------------------------


def respond(status: int, title: str, body: str) -> dict[str, Any]:
    """A function URL response (payload format 2.0) carrying one page."""
    document = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)} · albrules</title><style>{STYLE}</style></head>"
        f'<body><main><div class="brand">albrules · restore approval</div>{body}</main>'
        "</body></html>\n"
    )
    return {"statusCode": status, "headers": dict(HEADERS), "body": document}


def message(
    status: int, title: str, text: str, tone: str = "bad", more: str = ""
) -> dict[str, Any]:
    """A short page: a title and one or two sentences (``more`` is trusted HTML)."""
    return respond(
        status,
        title,
        f'<h1>{escape(title)}</h1><div class="banner {tone}"><p>{escape(text)}</p>{more}</div>',
    )


# --- values -----------------------------------------------------------------------------------


def when(value: Any) -> str:
    """An ISO timestamp or epoch seconds as ``2026-05-01 12:00:00 UTC``."""
    try:
        if isinstance(value, int | float):
            moment = datetime.fromtimestamp(value, UTC)
        else:
            moment = datetime.fromisoformat(str(value))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return str(value) or "not recorded"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def until(expires_at: int, now: float) -> str:
    """``in 9 minutes``, ``in 1 hour 5 minutes``, or ``now``."""
    minutes = int((expires_at - now) // 60)
    if expires_at <= now:
        return "now"
    if minutes < 1:
        return "in less than a minute"
    hours, minutes = divmod(minutes, 60)
    parts = [f"{hours} hour{'s' * (hours != 1)}"] if hours else []
    if minutes:
        parts.append(f"{minutes} minute{'s' * (minutes != 1)}")
    return "in " + " ".join(parts)


def describe_transform(transform: dict[str, Any]) -> str:
    config = transform.get(TRANSFORM_CONFIG_KEY.get(transform.get("Type", ""), ""), {}) or {}
    rewrites = [f"{r.get('Regex')} → {r.get('Replace')}" for r in config.get("Rewrites", [])]
    return f"{transform.get('Type')} {', '.join(rewrites)}".strip()


def _numbered(lines: list[str]) -> list[str]:
    return [f"{i}. {line}" for i, line in enumerate(lines, 1)] if len(lines) > 1 else lines


#: The rows of a rule's diff: (heading, key in the rule, lines for a value, shown when empty).
ROWS: list[tuple[str, str, Callable[[Any], list[str]], bool]] = [
    ("Priority", "priority", lambda v: [str(v)], True),
    ("Conditions", "conditions", lambda v: [describe_condition(c) for c in v] or ["none"], True),
    ("Actions", "actions", lambda v: _numbered([describe_action(a) for a in v]), True),
    ("Transforms", "transforms", lambda v: [describe_transform(t) for t in v], False),
    ("Tags", "tags", lambda v: [f"{k}={v[k]}" for k in sorted(v)], False),
]


def _lines(lines: list[str], mark: str = "") -> str:
    if not lines:
        return '<span class="line">none</span>'
    prefix = f'<span class="mark">{mark}</span>' if mark else ""
    return "".join(f'<span class="line v">{prefix}{escape(line)}</span>' for line in lines)


def _detail(value: Any) -> list[str]:
    """The full value, when its summary does not show what changed."""
    return [json.dumps(value, sort_keys=True, separators=(", ", ": "), ensure_ascii=False)]


def diff_rows(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """The ``<tr>`` rows comparing a rule (or the default actions) before and after.

    A row whose value is the same on both sides spans both columns; a rule that exists on one
    side only gets one cell saying so on the other, spanning every row."""
    rows: list[tuple[str, str, str]] = []  # heading, old cell, new cell ("" = spanned)
    for heading, key, describe, always in ROWS:
        if not any(side is not None and key in side for side in (before, after)):
            continue
        old = describe(before[key]) if before is not None and key in before else []
        new = describe(after[key]) if after is not None and key in after else []
        if not always and not old and not new:
            continue
        if before is not None and after is not None and before.get(key) == after.get(key):
            rows.append((heading, f'<td class="same" colspan="2">{_lines(old)}</td>', ""))
            continue
        if old and old == new:  # the summary hides the change: show the whole values
            old, new = _detail(before[key]), _detail(after[key])  # type: ignore[index]
        rows.append(
            (
                heading,
                f'<td class="old">{_lines(old, MINUS)}</td>' if before is not None else "",
                f'<td class="new">{_lines(new, "+")}</td>' if after is not None else "",
            )
        )
    out = []
    for i, (heading, old_cell, new_cell) in enumerate(rows):
        if before is None and i == 0:
            old_cell = f'<td class="none" rowspan="{len(rows)}">not on the listener</td>'
        if after is None and i == 0:
            new_cell = f'<td class="none" rowspan="{len(rows)}">removed from the listener</td>'
        out.append(f'<tr><th scope="row">{escape(heading)}</th>{old_cell}{new_cell}</tr>')
    return "".join(out)


def _setting_lines(value: Any) -> list[str]:
    if value in (None, [], {}, ""):
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, dict):
        return [f"{k}: {v}" for k, v in sorted(value.items())]
    return [str(value)]


def settings_rows(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """The ``<tr>`` rows of a change of the listener's own settings, one per setting."""
    out = []
    for key in sorted((before or {}).keys() | (after or {}).keys()):
        old = _setting_lines((before or {}).get(key))
        new = _setting_lines((after or {}).get(key))
        out.append(
            f'<tr><th scope="row">{escape(key.replace("_", " "))}</th>'
            f'<td class="old">{_lines(old, MINUS)}</td><td class="new">{_lines(new, "+")}</td></tr>'
        )
    return "".join(out)


def change_card(change: RuleChange) -> str:
    """One change of the plan: a heading and its before/after table."""
    before, after = change.before, change.after
    rule = after or before or {}
    if change.kind == "default-actions":
        title = "what the listener does when no rule matches"
        detail = ""
    elif change.kind == "listener-settings":
        title = "the listener's own settings (certificates, policies, attributes, tags)"
        detail = ", ".join(change.fields)
    elif change.kind == "move" and before and after:
        title = f"priority {before['priority']} → {after['priority']}"
        detail = describe_conditions(rule.get("conditions", []))
    else:
        title = f"rule at priority {rule.get('priority', '?')}"
        if change.kind == "create":
            title = f"new rule at priority {rule.get('priority', '?')}"
        if change.kind == "modify" and before and after and before["priority"] != after["priority"]:
            title = f"rule at priority {before['priority']} → {after['priority']}"
        detail = describe_conditions(rule.get("conditions", []))
    changed = [f for f in change.fields if f not in ("rule",)]
    if change.kind == "modify" and changed:
        detail += f" · changed: {', '.join(changed)}"
    kind = change.kind
    return (
        f'<section class="change {kind}"><div class="head">'
        f'<span class="badge">{KIND_MARKS[kind]} {KIND_WORDS[kind]}</span>'
        f"<strong>{escape(title)}</strong>"
        + (f'<span class="small v">{escape(detail)}</span>' if detail else "")
        + '</div><table class="diff"><thead><tr><th></th><th scope="col">Now</th>'
        '<th scope="col">After the restore</th></tr></thead><tbody>'
        + (
            settings_rows(before, after)
            if change.kind == "listener-settings"
            else diff_rows(before, after)
        )
        + "</tbody></table></section>"
    )


# --- the pages --------------------------------------------------------------------------------


def _listener_facts(listener_arn: str) -> tuple[str, str, str]:
    """(load balancer, short listener id, "account, region") for the page."""
    try:
        parsed = parse_listener_arn(listener_arn)
    except InvalidInput:
        return "unknown", listener_arn or "unknown", ""
    return (
        parsed.load_balancer_name,
        parsed.listener_id[:8],
        f"account {parsed.account}, {parsed.region}",
    )


def _facts(rows: list[tuple[str, str]]) -> str:
    """A two-column table; the values are trusted HTML (escaped by the caller)."""
    body = "".join(f'<tr><th scope="row">{escape(k)}</th><td>{v}</td></tr>' for k, v in rows)
    return f'<table class="facts">{body}</table>'


def _counts(changes: list[RuleChange]) -> str:
    chips = []
    for kind in ("create", "delete", "move", "modify", "default-actions", "listener-settings"):
        n = sum(1 for c in changes if c.kind == kind)
        if n:
            single = kind in ("default-actions", "listener-settings")
            words = COUNT_WORDS[kind] if single else f"{n} {COUNT_WORDS[kind]}"
            chips.append(f'<li class="chip {kind}">{escape(words)}</li>')
    return f'<ul class="counts">{"".join(chips)}</ul>'


def _host(url: Any) -> str:
    try:
        return (urlsplit(str(url)).hostname or "").lower()
    except ValueError:
        return ""


def oidc_actions(plan: Plan) -> list[tuple[str, dict[str, Any], str | None]]:
    """Every authenticate-oidc action the plan would send: (where, its config, the secret's
    source: a secret ARN, ``"existing"`` for the one the listener keeps, None if none)."""
    found = []
    for op in plan.operations:
        if isinstance(op, ModifyListener):
            where, actions = "the default actions", op.default_actions or []
        elif isinstance(op, CreateRule):
            where, actions = f"new rule at priority {op.priority}", op.actions
        elif isinstance(op, ModifyRule) and op.actions is not None:
            where, actions = f"rule at priority {op.priority}", op.actions
        else:
            continue
        for action in actions:
            if action.get("Type") == "authenticate-oidc":
                config = action.get("AuthenticateOidcConfig") or {}
                found.append((where, config, op.oidc.get(str(config.get("ClientId")))))
    return found


def _secret_source(source: str | None) -> str:
    if source == EXISTING_SECRET:
        return (
            '<span class="small">none read: the listener keeps the secret it has for this '
            "client (UseExistingClientSecret)</span>"
        )
    if not source:
        return '<span class="small">none named by the plan</span>'
    return f"<code>{escape(source)}</code>"


def oidc_section(plan: Plan) -> str:
    """Where the restore would send OIDC client secrets: for each authenticate-oidc action,
    its identity provider's issuer and endpoints and the secret's ARN. Empty when none."""
    actions = oidc_actions(plan)
    if not actions:
        return ""
    sent = sum(1 for _, _, source in actions if source and source != EXISTING_SECRET)
    out = [
        f"<h2>Where OIDC client secrets go: {len(actions)} authenticate-oidc "
        f"action{'s' * (len(actions) != 1)}</h2>",
        '<div class="banner warn"><p>'
        + (
            f"This restore reads {sent} client secret{'s' * (sent != 1)} from Secrets Manager "
            "and gives them to the load balancer, which sends them to the token endpoint "
            "below. Approve only if you know these identity providers."
            if sent
            else "This restore sends no client secret: each action keeps the listener's own."
        )
        + "</p></div>",
    ]
    for where, config, source in actions:
        issuer, token = config.get("Issuer"), config.get("TokenEndpoint")
        rows = [
            ("Client ID", f"<code>{escape(str(config.get('ClientId', '?')))}</code>"),
            ("Issuer", f"<code>{escape(str(issuer))}</code>"),
            (
                "Authorization endpoint",
                f"<code>{escape(str(config.get('AuthorizationEndpoint')))}</code>",
            ),
            ("Token endpoint", f"<code>{escape(str(token))}</code>"),
            ("User info endpoint", f"<code>{escape(str(config.get('UserInfoEndpoint')))}</code>"),
            ("Client secret", _secret_source(source)),
        ]
        note = ""
        if source != EXISTING_SECRET and _host(token) != _host(issuer):
            note = (
                '<p class="small">The token endpoint, where the client secret is sent, is not '
                "on the issuer's host.</p>"
            )
        out.append(f"<h3>{escape(where)}</h3>{_facts(rows)}{note}")
    return "".join(out)


def _plan_section(review: Review) -> str:
    if review.listener_plans:  # a whole load balancer: every listener's plan, in port order
        return "".join(
            _listener_plan(review, plan, f" on listener {label}")
            for label, plan in review.listener_plans
        )
    plan = review.plan
    if plan is None:
        return (
            '<h2>What will change</h2><div class="banner warn"><p>The plan could not be read: '
            f"{escape(review.plan_problem or 'unknown reason')}. Do not approve what you "
            "cannot see: reject, or read the plan at "
            f"<code>{escape(review.plan_location or 'no location')}</code>.</p></div>"
        )
    return _listener_plan(review, plan, "")


def _listener_plan(review: Review, plan: Plan, where: str) -> str:
    """One listener's plan: counts, warnings, a card per change."""
    rules = sum(1 for c in plan.changes if c.kind != "default-actions")
    calls = len(plan.operations)
    head = (
        f"<h2>What will change{escape(where)}: {rules} rule{'s' * (rules != 1)}</h2>"
        f'<p class="small">{escape(plan.mode)} restore · {calls} API call{"s" * (calls != 1)}'
        " · “Now” is the listener as it is; “After the restore” is the snapshot</p>"
    )
    if not plan.changes:
        head += '<div class="banner ok"><p>No changes: the listener already matches.</p></div>'
    notes = [*review.warnings, *plan.warnings, *(f"left out: {u}" for u in plan.unresolved)]
    warn = (
        '<div class="banner warn">' + "".join(f"<p>{escape(n)}</p>" for n in notes) + "</div>"
        if notes
        else ""
    )
    cards = "".join(map(change_card, plan.changes))
    return head + _counts(plan.changes) + warn + cards + oidc_section(plan)


def _requester(review: Review) -> str:
    """The verified requester, in words (HTML, escaped)."""
    who = (review.requester or {}).get("arn")
    if who:
        return f"<strong>{escape(str(who))}</strong>"
    return (
        '<span class="small">not known from CloudTrail yet; it is checked when someone '
        "approves</span>"
    )


def _decision_commands(review: Review) -> str:
    """How to decide: the CLI, which signs the decision with the decider's AWS identity."""
    arn = escape(review.claim.execution_arn)
    who = (review.requester or {}).get("arn")
    said = (
        f"{who} started this restore; someone else must approve it."
        if who
        else "Whoever started this restore cannot approve it; someone else must approve it."
    )
    banner = f'<div class="banner warn"><p>{escape(said)}</p></div>'
    rule = "" if review.self_approval_allowed else banner

    return (
        "<h2>Your decision</h2>"
        f"{rule}"
        '<div class="decide">'
        '<div class="box"><h3>Approve</h3><p>The restore changes the listener right away, '
        "then checks it. If a step fails, it rolls back.</p>"
        f"<p><code>albrules approve {arn}</code></p></div>"
        '<div class="box"><h3>Reject</h3><p>The restore ends with no change; the reason is '
        "kept in the audit record.</p>"
        f"<p><code>albrules reject {arn} --reason '...'</code></p></div></div>"
        '<p class="small">This page cannot decide: a link cannot tell who you are. The '
        "commands sign the decision with your AWS credentials, which need "
        "lambda:InvokeFunctionUrl and lambda:InvokeFunction on the stack's DecisionFunction.</p>"
    )


def review_page(review: Review, token: str, now: float) -> dict[str, Any]:
    """The page a valid link opens: what will change, who asked, and how to decide (the
    commands; ``token`` is the link's, which the page no longer needs)."""
    claim, audit = review.claim, review.audit
    lb, listener_id, where = (escape(v) for v in _listener_facts(review.listener_arn))
    expires = claim.expires_at
    title = "Approve this restore?"
    reason = str(audit.get("reason") or "")
    note = str(audit.get("requested_by") or "not given")
    snapshot = str(audit.get("snapshot") or "not recorded")
    facts = _facts(
        [
            ("Load balancer", f'<strong>{lb}</strong> <span class="small">{where}</span>'),
            ("Listener", f"<code>{escape(review.listener_arn or 'unknown')}</code>"),
            ("Started by", f'{_requester(review)} <span class="small">(AWS, CloudTrail)</span>'),
            (
                "Requester's note",
                f'{escape(note)} <span class="small">(as given by the requester)</span>',
            ),
            ("Started at", escape(when(audit.get("started_at") or review.requested_at))),
            ("Reason", escape(reason) if reason else '<span class="small">not given</span>'),
            ("Snapshot", f"<code>{escape(snapshot)}</code>"),
            (
                "Expires",
                f"<strong>{escape(when(expires))}</strong> ({escape(until(expires, now))})",
            ),
            ("Execution", f"<code>{escape(claim.execution_arn)}</code>"),
        ]
    )
    body = (
        f"<h1>{escape(title)}</h1>"
        f'<p class="lead">A restore of <strong>{lb}</strong> listener '
        f"<code>{listener_id}</code> is waiting for approval. Nothing on the listener "
        "changes until someone approves it.</p>"
        f"{facts}{_plan_section(review)}{_decision_commands(review)}"
        f"<footer><p>The first decision wins. This link stops working at "
        f"{escape(when(expires))}.</p></footer>"
    )
    return respond(200, title, body)


def review_only_page() -> dict[str, Any]:
    """A POST to the page: it decides nothing."""
    return message(
        405,
        "Nothing was done",
        "This page cannot approve or reject: decide with albrules approve or albrules reject "
        "(the commands are on the review page), which sign the decision with your AWS identity.",
        tone="warn",
    )


def decided_page(record: dict[str, Any], execution_arn: str) -> dict[str, Any]:
    """A second click, or a link opened after someone decided: says who, does nothing."""
    status = str(record.get("status") or "decided")
    by = str(record.get("decided_by") or "someone")
    at = when(record.get("decided_at")) if record.get("decided_at") else "earlier"
    reason = str(record.get("reason") or "")
    more = f"<p>Their reason: {escape(reason)}</p>" if reason else ""
    more += f'<p class="small">Execution <code>{escape(execution_arn)}</code></p>'
    return message(
        409,
        f"Already {status}",
        f"This restore was already {status} by {by} at {at}. Nothing was done.",
        tone="warn",
        more=more,
    )


def expired_page(claim: LinkClaim) -> dict[str, Any]:
    return message(
        403,
        "This approval request has expired",
        f"It expired at {when(claim.expires_at)}. The restore stopped waiting and did not change "
        "the listener; nothing was done. Start the restore again to get a new request.",
        more=f'<p class="small">Execution <code>{escape(claim.execution_arn)}</code></p>',
    )


def expired_link_page(expires_at: int) -> dict[str, Any]:
    """An expired link not (yet) known to be genuine: says nothing about any restore."""
    return message(
        403,
        "This approval request has expired",
        f"This link expired at {when(expires_at)}; nothing was done. If a restore is still "
        "waiting, use the link of its latest approval request, or decide from the terminal.",
    )


def invalid_page(reason: str) -> dict[str, Any]:
    return message(
        403,
        "This link does nothing",
        f"{reason[:1].upper()}{reason[1:]}. Open the link from the latest approval request, "
        "copied whole.",
    )
