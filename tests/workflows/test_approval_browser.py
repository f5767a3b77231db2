"""The approval page in a real browser: Debian's Chromium, driven by Playwright.

The approval function of the ``stack`` fixture's deployment is served over real HTTP by the
local AWS's function URL adapter (``albrules.local.function_urls``) in a threaded WSGI server
of this process (moto runs in-process, so the server's threads reach the same local AWS). A
restore waits for approval; the browser opens the link of the approval request and reads the
page, which only reviews (a public link cannot tell who opens it): the decision is taken with
the commands the page shows, `albrules approve` / `reject`, signed, through the
DecisionFunction URL.

The browser is the system's (``ALBRULES_CHROMIUM``, else ``chromium``, ``chromium-browser`` or
``google-chrome`` on PATH); Playwright never downloads one. Without a browser the tests skip,
or fail when ``CI`` is set (``.ci/run`` installs Chromium). ``ALBRULES_UPDATE_DOCS=1`` also
writes the screenshot to docs/approval-page.png.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from albrules import approval
from albrules.approval_page import MINUS, when
from albrules.local.function_urls import FunctionUrls, served_url
from cli_runs import cli
from local_world import REGION
from rule_builders import fixed, host
from stack import Stack, checksum, received, shop, subscribe
from workflows.test_workflows import audit, back_up, catalog, snapshot_key, wait_for_approval

ROOT = Path(__file__).resolve().parents[2]
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
GREEN, RED = "rgb(26, 127, 55)", "rgb(207, 34, 46)"  # the page's added and removed colours


def find_browser() -> str | None:
    configured = os.environ.get("ALBRULES_CHROMIUM")
    if configured:
        return shutil.which(configured) or (configured if Path(configured).exists() else None)
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Chromium for the module, with a fresh profile."""
    executable = find_browser()
    if executable is None:
        why = "no Chromium: set ALBRULES_CHROMIUM or install chromium (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=executable,
            headless=True,
            args=ARGS,
            viewport={"width": 1100, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def approval_url(stack: Stack) -> Iterator[str]:
    """The approval function's URL, served over HTTP on a free port of 127.0.0.1.

    RequestApprovalFunction's links are pointed at it, as `albrules local deploy` does for a
    stack in the local AWS server."""
    server = make_server("127.0.0.1", 0, FunctionUrls(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    name = stack.deployment.physical_id("ApprovalFunction")
    url = served_url(f"http://127.0.0.1:{server.server_port}", REGION, name)
    assert url is not None
    lam = stack.session.client("lambda")
    sender = stack.deployment.physical_id("RequestApprovalFunction")
    env = lam.get_function_configuration(FunctionName=sender)["Environment"]["Variables"]
    lam.update_function_configuration(
        FunctionName=sender, Environment={"Variables": {**env, "ALBRULES_APPROVAL_URL": url}}
    )
    try:
        yield url
    finally:
        server.shutdown()
        thread.join(timeout=10)


@dataclass
class Pending:
    listener: str
    backed_up: str  # the listener's checksum as backed up
    broken: str  # as it is while the restore waits
    execution: str
    link: str  # from the approval request


def pending_restore(stack: Stack, url: str) -> Pending:
    """A restore that waits for approval, with one change of each kind to approve."""
    world = stack.world
    listener = shop(stack)  # priorities 10, 20, 30, 40
    back_up(stack)
    backed_up = checksum(stack, listener)
    rules = {int(r["Priority"]): r["RuleArn"] for r in world.rules(listener)}
    world.elb.delete_rule(RuleArn=rules[10])  # the restore adds it back
    world.elb.set_rule_priorities(  # moves it back to 20
        RulePriorities=[{"RuleArn": rules[20], "Priority": 25}]
    )
    world.elb.modify_rule(RuleArn=rules[30], Actions=[fixed("503")])  # changes it back
    world.rule(listener, 99, [host("rogue.example.com")])  # removes it
    broken = checksum(stack, listener)
    queue = subscribe(stack)
    execution = stack.start(
        "restore",
        {
            "snapshot": snapshot_key(stack, listener),
            "require_approval": True,
            "requested_by": "alice@example.com",
            "reason": "bad deploy of shop at 14:02",
        },
    )
    wait_for_approval(stack, execution)
    message = received(stack, queue)[0]["Message"]
    links = re.findall(rf"{re.escape(url)}\?token=[\w.-]+", message)
    assert links, message
    return Pending(listener, backed_up, broken, execution, links[0])


def status_of(stack: Stack, execution: str) -> str:
    return stack.sfn.describe_execution(executionArn=execution)["status"]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def cell(section: Any, row: str, kind: str) -> str:
    """The text of one cell of a change's diff table (kind: old, new, same or none)."""
    return (
        section.locator("tr", has=section.page.locator(f"th:text-is('{row}')"))
        .locator(f"td.{kind}")
        .inner_text()
    )


def test_the_page_shows_the_plan_and_the_cli_approves(
    stack: Stack, approval_url: str, browser: Any, tmp_path: Path
) -> None:
    waiting = pending_restore(stack, approval_url)
    record = catalog(stack).approval(waiting.execution)
    started = audit(stack, waiting.execution)["started_at"]
    page, other = browser.new_page(), browser.new_page()
    blocked: list[str] = []
    page.on("console", lambda msg: blocked.append(msg.text) if msg.type == "error" else None)

    opened = page.goto(waiting.link)
    assert opened is not None and opened.status == 200
    assert page.title() == "Approve this restore? · albrules"
    assert page.locator("h1").inner_text() == "Approve this restore?"
    facts = page.locator("table.facts").inner_text()
    for shown in (
        "shop",
        waiting.listener,
        "alice@example.com (as given by the requester)",
        "arn:aws:sts::123456789012:user/moto (AWS, CloudTrail)",  # who really started it
        "bad deploy of shop at 14:02",
        when(started),
        when(record["expires_at"]),
        waiting.execution,
    ):
        assert shown in facts, shown
    added = page.locator("section.change.create")
    assert added.count() == 1 and "new rule at priority 10" in added.inner_text()
    assert "path-pattern=/shop/1/*" in cell(added, "Conditions", "new")
    assert added.locator("td.none").inner_text() == "not on the listener"
    removed = page.locator("section.change.delete")
    assert removed.count() == 1 and "host-header=rogue.example.com" in removed.inner_text()
    assert cell(removed, "Priority", "old") == f"{MINUS}99"
    assert "fixed-response 200" in cell(removed, "Actions", "old")
    assert removed.locator("td.none").inner_text() == "removed from the listener"
    moved = page.locator("section.change.move")
    assert moved.count() == 1 and "priority 25 → 20" in moved.inner_text()
    changed = page.locator("section.change.modify")
    assert changed.count() == 1 and "rule at priority 30" in changed.inner_text()
    assert "fixed-response 503" in cell(changed, "Actions", "old")
    assert "forward shop-app" in cell(changed, "Actions", "new")
    assert "path-pattern=/shop/3/*" in cell(changed, "Conditions", "same")
    # The page's own style applies (its CSP hash matches) and nothing was blocked.
    colour = "border-left-color"
    assert added.evaluate(f"e => getComputedStyle(e)['{colour}']") == GREEN
    assert removed.evaluate(f"e => getComputedStyle(e)['{colour}']") == RED
    assert not blocked, blocked

    shot = page.screenshot(full_page=True, path=str(tmp_path / "approval-page.png"))
    width, height = png_size(shot)
    assert width == 1100 and 1000 < height < 6000 and len(shot) > 30_000
    if os.environ.get("ALBRULES_UPDATE_DOCS") == "1":
        (ROOT / "docs" / "approval-page.png").write_bytes(shot)

    assert not page.get_by_role("button").count()  # the page decides nothing
    decide = page.locator("h2:text-is('Your decision') ~ div.decide").inner_text()
    assert f"albrules approve {waiting.execution}" in decide
    assert f"albrules reject {waiting.execution} --reason '...'" in decide
    assert "someone else must approve it" not in page.inner_text("main")  # AllowSelfApproval
    posted = page.request.post(waiting.link, form={"decision": "approve"})
    assert posted.status == 405 and "albrules approve" in posted.text()
    assert status_of(stack, waiting.execution) == "RUNNING"  # opening or posting decides nothing

    code, out, err = cli("approve", waiting.execution, *decide_where(stack), "--wait")
    assert code == 0, (out, err)
    result = stack.finish("restore", waiting.execution)
    assert result.status == "SUCCEEDED", result.cause
    assert checksum(stack, waiting.listener) == waiting.backed_up
    by = audit(stack, waiting.execution)["approval"]["by"]
    assert by == "arn:aws:sts::123456789012:user/moto"  # the signed caller, not the page
    reopened = other.goto(waiting.link)  # the link now says who decided
    assert reopened is not None and reopened.status == 409
    assert other.locator("h1").inner_text() == "Already approved"
    assert "Nothing was done" in other.locator(".banner").inner_text()


def decide_where(stack: Stack) -> list[str]:
    return ["--aws", "--region", REGION, "--decision-url", stack.url("DecisionFunction")]


def test_a_rejection_from_the_cli_needs_a_reason_and_ends_the_restore_unchanged(
    stack: Stack, approval_url: str, browser: Any
) -> None:
    waiting = pending_restore(stack, approval_url)
    record = catalog(stack).approval(waiting.execution)
    page, other = browser.new_page(), browser.new_page()

    key = stack.session.client("secretsmanager").get_secret_value(
        SecretId=stack.deployment.physical_id("ApprovalSigningSecret")
    )["SecretString"]
    old = approval.LinkClaim(waiting.execution, "review", record["nonce"], int(time.time()) - 1)
    expired = page.goto(f"{approval_url}?token={approval.sign(key.encode(), old)}")
    assert expired is not None and expired.status == 403
    assert page.locator("h1").inner_text() == "This approval request has expired"
    assert not page.get_by_role("button").count()
    forged = page.goto(waiting.link[:-3] + ("AAA" if not waiting.link.endswith("AAA") else "BBB"))
    assert forged is not None and forged.status == 403
    assert page.locator("h1").inner_text() == "This link does nothing"
    assert catalog(stack).approval(waiting.execution)["status"] == "pending"

    page.goto(waiting.link)
    other.goto(waiting.link)
    assert not page.get_by_role("button").count()
    assert catalog(stack).approval(waiting.execution)["status"] == "pending"
    code, _, err = cli("reject", waiting.execution, *decide_where(stack))
    assert code == 2 and "--reason" in err  # a rejection needs a reason
    assert catalog(stack).approval(waiting.execution)["status"] == "pending"
    why = "wrong snapshot: take the one from before 14:00"
    code, out, err = cli("reject", waiting.execution, "--reason", why, *decide_where(stack))
    assert code == 0 and f"rejected {waiting.execution}" in out, (out, err)

    result = stack.finish("restore", waiting.execution)
    assert result.status == "FAILED" and result.error == "ApprovalRejected"
    assert "wrong snapshot" in (result.cause or "")
    assert checksum(stack, waiting.listener) == waiting.broken

    late = other.goto(waiting.link)
    assert late is not None and late.status == 409
    assert other.locator("h1").inner_text() == "Already rejected"
    assert "wrong snapshot" in other.locator(".banner").inner_text()
    assert checksum(stack, waiting.listener) == waiting.broken
    assert status_of(stack, waiting.execution) == "FAILED"
