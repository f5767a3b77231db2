"""S3 Object Lock in the local AWS, as AWS documents it (albrules.local.object_lock): a locked
version cannot be deleted or its lock weakened, a date in the past is refused, versioning stays
on, and Object Lock can be turned on for an existing versioned bucket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

BUCKET = "locked-bucket"


def code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def create(session: boto3.Session, name: str, **options: Any) -> Any:
    client = session.client("s3")
    if session.region_name != "us-east-1":
        options["CreateBucketConfiguration"] = {"LocationConstraint": session.region_name}
    client.create_bucket(Bucket=name, **options)
    return client


@pytest.fixture
def s3(session: boto3.Session) -> Any:
    return create(session, BUCKET, ObjectLockEnabledForBucket=True)


def locked(s3: Any, mode: str = "COMPLIANCE", days: float = 1) -> tuple[str, datetime]:
    until = datetime.now(UTC) + timedelta(days=days)
    put = s3.put_object(
        Bucket=BUCKET, Key="k", Body=b"v1", ObjectLockMode=mode, ObjectLockRetainUntilDate=until
    )
    return put["VersionId"], until


def test_a_compliance_version_cannot_be_deleted_or_its_lock_weakened(s3: Any) -> None:
    version, until = locked(s3)
    for bypass in (False, True):
        with pytest.raises(ClientError) as err:
            s3.delete_object(
                Bucket=BUCKET, Key="k", VersionId=version, BypassGovernanceRetention=bypass
            )
        assert code(err) == "AccessDenied"
    weaker: list[dict[str, Any]] = [
        {"Mode": "COMPLIANCE", "RetainUntilDate": until - timedelta(hours=1)},
        {"Mode": "GOVERNANCE", "RetainUntilDate": until + timedelta(days=1)},
    ]
    for retention in weaker:
        with pytest.raises(ClientError) as err:
            s3.put_object_retention(
                Bucket=BUCKET,
                Key="k",
                VersionId=version,
                Retention=retention,
                BypassGovernanceRetention=True,
            )
        assert code(err) == "AccessDenied"
    longer = until + timedelta(days=1)
    s3.put_object_retention(
        Bucket=BUCKET,
        Key="k",
        VersionId=version,
        Retention={"Mode": "COMPLIANCE", "RetainUntilDate": longer},
    )
    head = s3.head_object(Bucket=BUCKET, Key="k", VersionId=version)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert abs(head["ObjectLockRetainUntilDate"] - longer) < timedelta(seconds=1)
    # What AWS does allow changes nothing of the locked version: a new version, a delete marker.
    s3.put_object(Bucket=BUCKET, Key="k", Body=b"v2")
    s3.delete_object(Bucket=BUCKET, Key="k")
    body = s3.get_object(Bucket=BUCKET, Key="k", VersionId=version)["Body"].read()
    assert body == b"v1"


def test_a_governance_lock_is_weakened_only_with_the_bypass_header(s3: Any) -> None:
    version, until = locked(s3, "GOVERNANCE")
    shorter = {"Mode": "GOVERNANCE", "RetainUntilDate": until - timedelta(hours=1)}
    with pytest.raises(ClientError) as err:
        s3.put_object_retention(Bucket=BUCKET, Key="k", VersionId=version, Retention=shorter)
    assert code(err) == "AccessDenied"
    s3.put_object_retention(
        Bucket=BUCKET, Key="k", VersionId=version, Retention=shorter, BypassGovernanceRetention=True
    )
    s3.delete_object(Bucket=BUCKET, Key="k", VersionId=version, BypassGovernanceRetention=True)
    assert "Versions" not in s3.list_object_versions(Bucket=BUCKET)


def test_a_date_in_the_past_is_refused_and_versioning_stays_on(s3: Any) -> None:
    with pytest.raises(ClientError) as err:
        locked(s3, days=-1)
    assert code(err) == "InvalidArgument"
    assert "Versions" not in s3.list_object_versions(Bucket=BUCKET)
    with pytest.raises(ClientError) as err:
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    assert code(err) == "InvalidBucketState"
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"


def test_object_lock_is_turned_on_for_an_existing_versioned_bucket(session: boto3.Session) -> None:
    s3 = create(session, "existing")
    s3.put_object(Bucket="existing", Key="old", Body=b"x")
    enable = {"ObjectLockEnabled": "Enabled"}
    with pytest.raises(ClientError) as err:  # versioning first, as AWS requires
        s3.put_object_lock_configuration(Bucket="existing", ObjectLockConfiguration=enable)
    assert code(err) == "InvalidBucketState"
    s3.put_bucket_versioning(Bucket="existing", VersioningConfiguration={"Status": "Enabled"})

    s3.put_object_lock_configuration(Bucket="existing", ObjectLockConfiguration=enable)

    config = s3.get_object_lock_configuration(Bucket="existing")["ObjectLockConfiguration"]
    assert config == {"ObjectLockEnabled": "Enabled"}
    until = datetime.now(UTC) + timedelta(days=1)
    put = s3.put_object(
        Bucket="existing",
        Key="new",
        Body=b"y",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
    )
    with pytest.raises(ClientError) as err:
        s3.delete_object(Bucket="existing", Key="new", VersionId=put["VersionId"])
    assert code(err) == "AccessDenied"
