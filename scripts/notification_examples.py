"""Produce a real example of every kind of notification, from a local run of the application.

template.yaml is deployed into the embedded local AWS (in this process), the sample load
balancers are seeded, an SQS queue is subscribed to the stack's topic, and the real state
machines are run through each case: drift, a backup with a failed listener, an approval
request, a restore that succeeds, one rolled back, one whose rollback fails, and the other
restore outcomes. What arrives on the queue is printed as Markdown, or written into
docs/notifications.md between its markers:

    .venv/bin/python scripts/notification_examples.py           # print
    .venv/bin/python scripts/notification_examples.py --write   # update docs/notifications.md
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
    os.environ.pop(key, None)
REGION = "eu-west-1"
os.environ.update(
    AWS_ACCESS_KEY_ID="examples", AWS_SECRET_ACCESS_KEY="examples", AWS_DEFAULT_REGION=REGION
)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from albrules import accounts, approval, local, workflows  # noqa: E402
from albrules.aws import Aws  # noqa: E402
from albrules.catalog import Catalog  # noqa: E402
from albrules.local import faults, lambdas  # noqa: E402
from albrules.local.deploy import deploy  # noqa: E402
from albrules.local.seed import break_listener, seed  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "notifications.md"
BEGIN = "<!-- BEGIN EXAMPLES (scripts/notification_examples.py --write; do not edit by hand) -->"
END = "<!-- END EXAMPLES -->"
ACCOUNT = "123456789012"
REFUSED_CALL = {"code": "ValidationError", "message": "injected: the call was refused"}


class Run:
    """The deployed application, the seeded listeners and the subscribed queue."""

    def __init__(self, session: boto3.Session, outputs: dict[str, str]):
        self.session = session
        self.outputs = outputs
        self.sfn = session.client("stepfunctions")
        self.sqs = session.client("sqs")
        self.elb = session.client("elbv2")
        self.queue = self.sqs.create_queue(QueueName="notifications")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])
        session.client("sns").subscribe(
            TopicArn=outputs["NotificationTopicArn"],
            Protocol="sqs",
            Endpoint=arn["Attributes"]["QueueArn"],
        )
        self.catalog = Catalog(Aws(session), outputs["CatalogTableName"])

    def run(self, kind: str, payload: dict[str, Any]) -> workflows.ExecutionOutcome:
        arn = self.outputs[workflows.OUTPUT_KEYS[kind]]
        return workflows.run(self.sfn, kind, arn, payload, timeout=120, poll=0.05)

    def start(self, kind: str, payload: dict[str, Any]) -> str:
        return workflows.start(self.sfn, self.outputs[workflows.OUTPUT_KEYS[kind]], payload)

    def finish(self, kind: str, execution_arn: str) -> workflows.ExecutionOutcome:
        described = workflows.wait(self.sfn, execution_arn, 120, poll=0.05)
        return workflows.outcome(self.sfn, kind, execution_arn, described)

    def backup(self) -> workflows.ExecutionOutcome:
        return self.run("backup", {"targets": [{"account_id": ACCOUNT, "region": REGION}]})

    def messages(self) -> list[dict[str, Any]]:
        """Every notification delivered since the last call (SNS delivers before returning)."""
        found = []
        while True:
            page = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10)
            batch = page.get("Messages", [])
            if not batch:
                return found
            for message in batch:
                found.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])

    def latest_snapshot(self, listener: str) -> str:
        rows = self.catalog.snapshots(listener, limit=1)
        return str(rows[0]["location"])

    def wait_for_approval(self, execution_arn: str) -> None:
        import time

        for _ in range(600):
            record = self.catalog.approval(execution_arn)
            if record and record.get("status") == "pending":
                return
            time.sleep(0.05)
        raise RuntimeError("the restore never asked for approval")

    def decide(self, execution_arn: str, decision: Any, by: str, reason: str = "") -> None:
        approval.decide(
            Aws(self.session), self.catalog, execution_arn, decision, by=by, reason=reason
        )


Case = tuple[str, str, str, Callable[[], Any]]


def cases(run: Run, listeners: dict[str, Any]) -> list[Case]:
    """(title, what happened, a word of its subject, the step that makes it happen), in
    order; a step shared by two cases runs once."""
    web = listeners["shop-web:80"]["arn"]
    api = listeners["shop-api:80"]["arn"]
    first: dict[str, str] = {}

    def first_backup() -> None:
        outcome = run.backup()
        assert outcome.status == "SUCCEEDED", outcome.cause
        assert not run.messages(), "a first backup sends no message"
        first["web"] = run.latest_snapshot(web)

    def drift() -> None:
        break_listener(run.session, web)
        assert run.backup().status == "SUCCEEDED"

    def failed_and_drift() -> None:
        break_listener(run.session, api)
        doomed = listeners["shop-web:8080"]["arn"]

        def delete_it(event: Any, context: Any) -> None:
            if doomed in [i["listener_arn"] for i in event["Items"]]:  # deleted while it runs
                run.elb.delete_listener(ListenerArn=doomed)

        lambdas.before_invoke("SnapshotListenersFunction", delete_it)
        try:
            assert run.backup().error == "BackupIncomplete"
        finally:
            lambdas.clear_hooks()

    def approval_then_success() -> None:
        execution = run.start(
            "restore",
            {
                "snapshot": first["web"],
                "require_approval": True,
                "requested_by": "alice@example.com",
                "reason": "INC-4711: bad deploy of shop-web routing",
            },
        )
        run.wait_for_approval(execution)
        run.decide(execution, "approve", by="bob@example.com")
        assert run.finish("restore", execution).status == "SUCCEEDED"

    def rolled_back() -> None:
        break_listener(run.session, web)
        faults.inject("CreateRule", nth=2, **REFUSED_CALL)
        try:
            outcome = run.run("restore", {"snapshot": first["web"], "requested_by": "alice"})
        finally:
            faults.clear()
        assert outcome.error == "RestoreRolledBack", outcome.cause

    def rollback_failed() -> None:
        faults.inject("CreateRule", nth=2, **REFUSED_CALL)
        faults.inject("DeleteRule", nth=1, times=0, **REFUSED_CALL)
        try:
            outcome = run.run("restore", {"snapshot": first["web"], "requested_by": "alice"})
        finally:
            faults.clear()
        assert outcome.error == "RollbackFailed", outcome.cause

    def dry_run() -> None:
        outcome = run.run("restore", {"snapshot": first["web"], "dry_run": True})
        assert outcome.status == "SUCCEEDED", outcome.cause

    def rejected() -> None:
        execution = run.start(
            "restore", {"snapshot": first["web"], "require_approval": True, "requested_by": "al"}
        )
        run.wait_for_approval(execution)
        run.decide(execution, "reject", by="carol@example.com", reason="wrong snapshot")
        assert run.finish("restore", execution).error == "ApprovalRejected"

    def no_changes() -> None:
        current = run.latest_snapshot(api)
        assert run.run("restore", {"snapshot": current}).status == "SUCCEEDED"

    def refused() -> None:
        outcome = run.run("restore", {"snapshot": "snapshots/no-such-snapshot.json"})
        assert outcome.status == "FAILED"

    return [
        ("", "The first backup of each listener: no message.", "", first_backup),
        (
            "Drift detected",
            "The scheduled backup ran after someone changed the rules of shop-web:80 by hand "
            "(`albrules local break`: two rules deleted, two changed to a 503, two swapped, one "
            "untagged).",
            "drift detected",
            drift,
        ),
        (
            "Backup: a listener failed (and another drifted)",
            "shop-web:8080 was deleted while the backup ran, and shop-api:80 had been changed "
            "since its previous snapshot: one message tells both.",
            "failed",
            failed_and_drift,
        ),
        (
            "Approval request",
            "A restore of shop-web:80 from its first snapshot, started with "
            "`require_approval`. (It was then approved; next message.)",
            "approve restore",
            approval_then_success,
        ),
        ("Restore succeeded", "The approved restore.", "succeeded", approval_then_success),
        (
            "Restore rolled back",
            "The listener was broken again and restored; the local AWS refused the second "
            "CreateRule, so the restore rolled back.",
            "rolled back",
            rolled_back,
        ),
        (
            "Rollback failed",
            "As above, but the local AWS also refused every DeleteRule, so the rollback could "
            "not finish.",
            "ROLLBACK FAILED",
            rollback_failed,
        ),
        ("Dry run", "`dry_run: true`.", "dry run", dry_run),
        ("Restore rejected", "An approver rejected a restore.", "was rejected", rejected),
        (
            "Nothing to change",
            "A restore of the snapshot the listener already matches.",
            "nothing to change",
            no_changes,
        ),
        ("Refused", "A restore of a snapshot that does not exist.", "was refused", refused),
    ]


def collect() -> list[tuple[str, str, dict[str, Any]]]:
    config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
    examples: list[tuple[str, str, dict[str, Any]]] = []
    with mock_aws(config=config):
        local.install()
        session = boto3.Session(region_name=REGION)
        deployment = deploy(
            ROOT / "template.yaml", {"MemberExternalId": "examples"}, aws=session, save=False
        )
        listeners = seed(session)["listeners"]
        run = Run(session, deployment.outputs)
        pool: list[dict[str, Any]] = []
        done: set[Callable[[], Any]] = set()
        for title, what, marker, step in cases(run, listeners):
            if step not in done:
                step()
                done.add(step)
                pool += run.messages()
            if not title:
                continue
            found = next(m for m in pool if marker in m["Subject"])
            pool.remove(found)
            examples.append((title, what, found))
        extra = [m["Subject"] for m in pool if "approve restore" not in m["Subject"]]
        assert not extra, f"messages no case expected: {extra}"  # (the rejected one asked too)
        accounts.forget()
    return examples


def markdown(examples: list[tuple[str, str, dict[str, Any]]]) -> str:
    parts = [BEGIN, ""]
    for title, what, message in examples:
        parts += [
            f"### {title}",
            "",
            what,
            "",
            "```text",
            f"Subject: {message['Subject']}",
            "",
            message["Message"],
            "```",
            "",
        ]
    parts.append(END)
    return "\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update docs/notifications.md")
    args = parser.parse_args()
    with contextlib.redirect_stdout(sys.stderr):  # the handlers' logs and metrics
        examples = collect()
    text = markdown(examples)
    if not args.write:
        sys.stdout.write(text + "\n")
        return 0
    doc = DOC.read_text()
    start, end = doc.index(BEGIN), doc.index(END) + len(END)
    DOC.write_text(doc[:start] + text + doc[end:])
    print(f"wrote {len(text.splitlines())} lines of examples into {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
