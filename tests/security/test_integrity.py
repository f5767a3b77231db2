"""Attacks on what a restore reads: someone who can write to the bucket swaps a snapshot or a
reviewed plan. The restore refuses before any change, naming the object; the listener is as
it was and no mutating ELBv2 call was made."""

from __future__ import annotations

import json
from typing import Any

from albrules import approval
from albrules.aws import Aws
from albrules.models import Snapshot
from albrules.seal import Seal
from albrules.snapshot import expected_checksum, loads
from local_world import Calls
from rule_builders import fixed
from security.people import approve_as_other, catalog, wait_for_approval
from stack import Stack, break_listener, checksum, shop


def back_up(stack: Stack) -> None:
    result = stack.run("backup", stack.backup_targets())
    assert result.status == "SUCCEEDED", result.cause


def snapshot_key(stack: Stack, listener: str) -> str:
    listener_id = listener.rsplit("/", 1)[-1]
    return sorted(k for k in stack.keys("snapshots/") if f"/{listener_id}/" in k)[-1]


def plan_key(execution_arn: str) -> str:
    return f"plans/{execution_arn.rsplit(':', 1)[-1]}.json"


def metadata(stack: Stack, key: str) -> dict[str, str]:
    return dict(stack.s3.head_object(Bucket=stack.bucket, Key=key)["Metadata"])


def rewrite(stack: Stack, key: str, body: bytes, meta: dict[str, str] | None = None) -> None:
    """The attacker's PutObject: new bytes, with ``meta`` (a genuine object's seal) or none."""
    extra: dict[str, Any] = {"Metadata": meta} if meta else {}
    stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=body, **extra)


def forged_snapshot(stack: Stack, key: str) -> bytes:
    """The stored snapshot with every rule answering 418, and a correct SHA-256 checksum."""
    document = stack.read_json(key)
    for rule in document["rules"]:
        rule["actions"] = [{**fixed("418"), "Order": 1}]
    document["checksum"] = expected_checksum(Snapshot.model_validate(document))
    body = json.dumps(document, indent=1).encode()
    loads(body, "the forged snapshot")  # valid, checksum included: only the seal can tell
    return body


def test_a_swapped_snapshot_is_refused_before_any_change(stack: Stack, calls: Calls) -> None:
    listener = shop(stack)
    back_up(stack)
    key = snapshot_key(stack, listener)
    genuine = metadata(stack, key)
    assert Seal.from_metadata(genuine) is not None  # the backup sealed it
    forged = forged_snapshot(stack, key)
    break_listener(stack, listener)
    broken = checksum(stack, listener)

    for meta, said in ((None, "has no seal"), (genuine, "does not verify")):
        rewrite(stack, key, forged, meta)  # no seal at all, then the genuine object's seal
        calls.clear()
        result = stack.run("restore", {"snapshot": key, "require_approval": True})

        assert result.status == "FAILED" and result.error == "RestoreRefused", result.cause
        assert f"s3://{stack.bucket}/{key}" in result.cause and said in result.cause
        assert checksum(stack, listener) == broken
        assert calls.mutating == []
        assert stack.keys("plans/") == []  # refused before a plan was made, let alone approved


def test_a_plan_swapped_after_approval_was_asked_is_refused_at_apply(
    stack: Stack, calls: Calls
) -> None:
    listener = shop(stack)
    back_up(stack)
    key = snapshot_key(stack, listener)
    break_listener(stack, listener)
    broken = checksum(stack, listener)
    # A genuine, sealed plan of another restore of the same listener (a dry run of one rule).
    other = stack.run(
        "restore", {"snapshot": key, "dry_run": True, "mode": "selective", "priorities": [10]}
    )
    assert other.status == "SUCCEEDED", other.cause
    sealed_elsewhere = plan_key(other.execution_arn)

    swaps = {
        "a rewrite under the plan's own seal": lambda target: rewrite(
            stack, target, b'{"plan": {"operations": []}}', metadata(stack, target)
        ),
        "another restore's sealed plan": lambda target: stack.s3.copy_object(
            Bucket=stack.bucket,
            Key=target,
            CopySource={"Bucket": stack.bucket, "Key": sealed_elsewhere},
            MetadataDirective="COPY",
        ),
    }
    for how, swap in swaps.items():
        execution = stack.start("restore", {"snapshot": key, "require_approval": True})
        record = wait_for_approval(stack, execution)
        assert record["plan_sha256"]  # the approval request names the plan it asks about
        swap(plan_key(execution))
        claim = approval.LinkClaim(execution, "review", record["nonce"], record["expires_at"])
        review = approval.load_review(Aws(stack.session), catalog(stack), claim)
        assert review.plan is None and "was replaced" in str(review.plan_problem), how
        calls.clear()
        approve_as_other(stack, execution)
        result = stack.finish("restore", execution)

        assert result.status == "FAILED" and result.error == "RestoreRefused", (how, result.cause)
        assert f"s3://{stack.bucket}/{plan_key(execution)}" in result.cause, how
        assert checksum(stack, listener) == broken, how
        assert calls.mutating == [], how
