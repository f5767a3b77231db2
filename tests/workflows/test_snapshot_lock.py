"""SnapshotLockDays: each snapshot the backup writes is locked (S3 Object Lock, COMPLIANCE) for
that many days. Before its lock ends no one can delete its version, shorten its lock or change
its bytes, not even with the bucket policy gone; a restore still reads it; nothing else the
stack writes (plans, journals, runs) is locked; and with 0 (the default) nothing is."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from albrules import workflows
from stack import Stack, break_listener, deployed_stack, shop
from workflows.test_workflows import back_up, rules_of, snapshot_key

LOCK_DAYS = 2
BALANCERS = ("locked-shop", "restored-shop")


@pytest.fixture
def locked(deployed: Stack) -> Iterator[Stack]:
    """A stack of its own beside the session's (inside its local AWS), with SnapshotLockDays
    set: its locked versions cannot be deleted, as on AWS, so no reset could empty it, and the
    session stack's reset after another test removes every load balancer and extra machine.
    Its load balancers and machines go when the test ends, so no test of the session stack
    meets them."""
    for stack in deployed_stack({"SnapshotLockDays": str(LOCK_DAYS)}):
        yield stack
        elb = stack.world.elb
        for balancer in elb.describe_load_balancers().get("LoadBalancers", []):
            if balancer["LoadBalancerName"] in BALANCERS:
                arn = balancer["LoadBalancerArn"]
                for listener in elb.describe_listeners(LoadBalancerArn=arn)["Listeners"]:
                    elb.delete_listener(ListenerArn=listener["ListenerArn"])
                elb.delete_load_balancer(LoadBalancerArn=arn)
        for group in elb.describe_target_groups().get("TargetGroups", []):
            if group["TargetGroupName"] in {f"{name}-app" for name in BALANCERS}:
                elb.delete_target_group(TargetGroupArn=group["TargetGroupArn"])
        for key in workflows.OUTPUT_KEYS.values():
            stack.sfn.delete_state_machine(stateMachineArn=stack.outputs[key])


def refused(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return str(err.value.response["Error"]["Code"])


def versions(stack: Stack, key: str) -> list[dict[str, Any]]:
    listed = stack.s3.list_object_versions(Bucket=stack.bucket, Prefix=key)
    return [v for v in listed.get("Versions", []) if v["Key"] == key]


def test_a_backed_up_snapshot_cannot_be_deleted_or_overwritten_before_its_lock_ends(
    locked: Stack,
) -> None:
    s3, bucket = locked.s3, locked.bucket
    config = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert config == {"ObjectLockEnabled": "Enabled"}  # no default rule: only snapshots lock
    listener = shop(locked, "locked-shop")
    before = datetime.now(UTC)
    back_up(locked, load_balancers=["locked-shop"])
    key = snapshot_key(locked, listener)
    [version] = versions(locked, key)
    version_id, original = version["VersionId"], s3.get_object(Bucket=bucket, Key=key)
    body = original["Body"].read()
    assert original["ObjectLockMode"] == "COMPLIANCE"
    until = original["ObjectLockRetainUntilDate"]
    earliest = before.replace(microsecond=0)  # S3 gives the date in whole seconds
    assert earliest + timedelta(days=LOCK_DAYS) <= until <= datetime.now(UTC) + timedelta(
        days=LOCK_DAYS
    )

    # An unchanged listener writes nothing: still one version, the locked one.
    output = back_up(locked, load_balancers=["locked-shop"])
    assert (output["unchanged"], output["stored"]) == (1, 0)
    assert [v["VersionId"] for v in versions(locked, key)] == [version_id]

    # The account's administrator, bucket policy removed: the lock is what holds.
    policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    s3.delete_bucket_policy(Bucket=bucket)
    try:
        this = {"Bucket": bucket, "Key": key, "VersionId": version_id}
        assert refused(s3.delete_object, **this) == "AccessDenied"
        assert refused(s3.delete_object, **this, BypassGovernanceRetention=True) == "AccessDenied"
        doomed = {"Objects": [{"Key": key, "VersionId": version_id}]}
        batch = s3.delete_objects(Bucket=bucket, Delete=doomed)
        assert [e["Code"] for e in batch.get("Errors", [])] == ["AccessDenied"]
        for retention in (
            {"Mode": "COMPLIANCE", "RetainUntilDate": datetime.now(UTC) + timedelta(minutes=1)},
            {"Mode": "GOVERNANCE", "RetainUntilDate": until},
        ):
            assert refused(s3.put_object_retention, **this, Retention=retention) == "AccessDenied"
        suspend = {"Status": "Suspended"}
        assert refused(
            s3.put_bucket_versioning, Bucket=bucket, VersioningConfiguration=suspend
        ) == "InvalidBucketState"
        # What S3 allows leaves the locked version as it was: a newer version, a delete marker.
        s3.put_object(Bucket=bucket, Key=key, Body=b'{"swapped": true}')
        s3.delete_object(Bucket=bucket, Key=key)
        kept = s3.get_object(Bucket=bucket, Key=key, VersionId=version_id)
        assert kept["Body"].read() == body and kept["ObjectLockRetainUntilDate"] == until
        # Put the key back as the backup wrote it (deleting the two unlocked versions on top).
        for other in versions(locked, key):
            if other["VersionId"] != version_id:
                s3.delete_object(Bucket=bucket, Key=key, VersionId=other["VersionId"])
        markers = s3.list_object_versions(Bucket=bucket, Prefix=key).get("DeleteMarkers", [])
        for marker in markers:
            s3.delete_object(Bucket=bucket, Key=key, VersionId=marker["VersionId"])
    finally:
        s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    assert s3.get_object(Bucket=bucket, Key=key)["VersionId"] == version_id


def test_a_restore_reads_a_locked_snapshot_and_locks_nothing_else(locked: Stack) -> None:
    listener = shop(locked, "restored-shop")
    back_up(locked, load_balancers=["restored-shop"])
    key = snapshot_key(locked, listener)
    before = rules_of(locked, listener)
    break_listener(locked, listener)

    result = locked.run("restore", {"snapshot": key})

    assert result.status == "SUCCEEDED", result.cause
    assert rules_of(locked, listener) == before
    head = locked.s3.head_object(Bucket=locked.bucket, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    others = [k for k in locked.keys("") if not k.startswith("snapshots/")]
    assert any(k.startswith("plans/") for k in others)
    assert any(k.startswith("pre-restore/") for k in others)
    for other in others:  # plans, journals, pre-restore snapshots, run records: not locked
        head = locked.s3.head_object(Bucket=locked.bucket, Key=other)
        assert "ObjectLockMode" not in head, other
    plan = next(k for k in others if k.startswith("plans/"))
    [version] = versions(locked, plan)
    locked.s3.delete_object(Bucket=locked.bucket, Key=plan, VersionId=version["VersionId"])
    assert versions(locked, plan) == []


def test_with_no_lock_days_nothing_is_locked(stack: Stack) -> None:
    assert refused(stack.s3.get_object_lock_configuration, Bucket=stack.bucket) == (
        "ObjectLockConfigurationNotFoundError"
    )
    listener = shop(stack)
    back_up(stack)
    key = snapshot_key(stack, listener)
    head = stack.s3.head_object(Bucket=stack.bucket, Key=key)
    assert "ObjectLockMode" not in head and "ObjectLockRetainUntilDate" not in head
    stack.s3.delete_object(Bucket=stack.bucket, Key=key, VersionId=head["VersionId"])
    assert versions(stack, key) == []
