"""S3 Object Lock as AWS documents it, where moto 5.2.5 differs.

What moto already does as AWS does (and is relied on): a bucket created with
``ObjectLockEnabledForBucket`` is versioned and reports ``ObjectLockEnabled``; PutObject with
``ObjectLockMode`` and ``ObjectLockRetainUntilDate`` locks that version (HeadObject reports
both), needs a Content-MD5 or SDK checksum header, and is refused on a bucket without Object
Lock; DeleteObject (and DeleteObjects) of a locked *version* is AccessDenied, with or without
``x-amz-bypass-governance-retention`` for COMPLIANCE; a DeleteObject without a version id only
adds a delete marker, and a PutObject to the same key only adds a version.

What this module makes AWS-like (the S3 User Guide, "Locking objects with Object Lock",
"Configuring S3 Object Lock" and the PutObjectRetention reference):

- **PutObjectRetention** on a version whose retention is in force: a COMPLIANCE retention
  cannot be shortened, changed to GOVERNANCE or removed, by anyone (AccessDenied); a
  GOVERNANCE one only with ``x-amz-bypass-governance-retention: true``. Extending either is
  allowed. (moto applies any new retention.)
- **A retain-until date in the past** is refused (InvalidArgument), on PutObject and on
  PutObjectRetention. (moto accepts it.)
- **Versioning** cannot be suspended on a bucket with Object Lock (InvalidBucketState).
- **Enabling Object Lock on an existing bucket** (PutObjectLockConfiguration) is allowed once
  the bucket is versioned, objects or not, as S3 allows since 2023. (moto wants it empty.)

Not confirmed against AWS, and not modelled: the exact messages (the codes are the documented
ones); that ``s3:BypassGovernanceRetention`` is held by the caller (the header is enough here);
GetObjectRetention (moto answers 500; the tests read the retention with HeadObject).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

_installed = False


def parse_until(text: str | None) -> datetime | None:
    """A retain-until date as S3 carries it (ISO 8601, UTC, with or without fractions)."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def retention_change_refused(
    current: tuple[str | None, str | None],
    new: tuple[str | None, str | None],
    *,
    bypass: bool,
    now: datetime,
) -> bool:
    """Whether AWS refuses replacing retention ``current`` (mode, until) by ``new``: a retention
    in force may be extended, never weakened (COMPLIANCE), or weakened only with the bypass
    header (GOVERNANCE)."""
    mode, until = current[0], parse_until(current[1])
    if mode not in ("COMPLIANCE", "GOVERNANCE") or until is None or until <= now:
        return False  # no retention in force
    new_mode, new_until = new[0], parse_until(new[1])
    weakened = (
        new_until is None
        or new_until < until
        or (mode == "COMPLIANCE" and new_mode != "COMPLIANCE")
    )
    if not weakened:
        return False
    return mode == "COMPLIANCE" or not bypass


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.s3.exceptions import (
        AccessDeniedByLock,
        InvalidArgumentError,
        InvalidBucketState,
    )
    from moto.s3.models import S3Backend
    from moto.s3.responses import S3Response

    def in_the_past(until: str | None) -> bool:
        moment = parse_until(until)
        return moment is not None and moment <= datetime.now(UTC)

    def refuse_past(until: str | None) -> None:
        if in_the_past(until):
            raise InvalidArgumentError(
                "The retain until date must be in the future!", "RetainUntilDate", str(until)
            )

    original_put_object = S3Backend.put_object

    def put_object(self: Any, *args: Any, **kwargs: Any) -> Any:
        refuse_past(kwargs.get("lock_until"))
        return original_put_object(self, *args, **kwargs)

    original_put_retention = S3Response.put_object_retention

    def put_object_retention(self: Any) -> Any:
        retention = self._mode_until_from_body()
        refuse_past(retention[1])
        bucket = self.backend.get_bucket(self.bucket_name)
        if bucket.object_lock_enabled:
            key = self.backend.get_object(
                self.bucket_name, self.parse_key_name(), version_id=self._get_param("versionId")
            )
            bypass = self.headers.get("x-amz-bypass-governance-retention", "").lower() == "true"
            if key is not None and retention_change_refused(
                (key.lock_mode, key.lock_until), retention, bypass=bypass, now=datetime.now(UTC)
            ):
                raise AccessDeniedByLock()
        return original_put_retention(self)

    original_versioning = S3Backend.put_bucket_versioning

    def put_bucket_versioning(self: Any, bucket_name: str, status: str) -> None:
        if self.get_bucket(bucket_name).object_lock_enabled and status != "Enabled":
            raise InvalidBucketState(
                "An Object Lock configuration is present on this bucket, so the versioning "
                "state cannot be changed."
            )
        original_versioning(self, bucket_name, status)

    def put_object_lock_configuration(
        self: Any,
        bucket_name: str,
        lock_enabled: bool,
        mode: str | None = None,
        days: int | None = None,
        years: int | None = None,
    ) -> None:
        bucket = self.get_bucket(bucket_name)
        if not bucket.is_versioned:
            raise InvalidBucketState(
                "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration"
            )
        if lock_enabled:
            bucket.object_lock_enabled = True
        bucket.default_lock_mode = mode
        bucket.default_lock_days = days
        bucket.default_lock_years = years

    S3Backend.put_object = put_object  # type: ignore[method-assign]  # the patch itself
    S3Response.put_object_retention = put_object_retention  # type: ignore[method-assign]
    S3Backend.put_bucket_versioning = put_bucket_versioning  # type: ignore[method-assign]
    S3Backend.put_object_lock_configuration = put_object_lock_configuration  # type: ignore[method-assign]
    _installed = True
