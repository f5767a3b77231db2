"""Where snapshots live: a local file, a local directory or an S3 prefix.

Layout under a directory or prefix (the same for both)::

    <prefix>/<account>/<region>/<load-balancer-name>/<listener-id>/
        <UTC timestamp, to the millisecond>-<checksum[:12]>.json

A snapshot whose content checksum equals the listener's latest stored snapshot is not written
again (unless forced). S3 objects are written with SSE-KMS when a key is given, and carry the
full checksum in their metadata so the comparison costs one HEAD, not a download.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from .aws import Aws, as_albrules_error
from .errors import InvalidInput
from .models import Snapshot, Source, to_milliseconds
from .snapshot import MAX_DOCUMENT_BYTES, Format, dumps, format_for, loads, parse_document
from .snapshot_lock import SnapshotLock

_NAME = re.compile(
    r"(?P<stamp>\d{8}T\d{6}(?:\.\d{3})?Z)-(?P<short>[0-9a-f]{12})\.(?P<ext>json|yaml|yml)$"
)
CHECKSUM_METADATA = "albrules-checksum"
SEAL_METADATA = "albrules-seal"  # albrules.seal: the MAC of a sealed object
# Metadata for the exact bytes of a document written to S3 (albrules.seal makes a seal of them).
Sealing = Callable[[bytes], dict[str, str]]


@dataclass(frozen=True)
class Entry:
    """One stored snapshot, as its location tells it."""

    location: str
    account: str
    region: str
    load_balancer: str
    listener_id: str
    created_at: datetime
    short_checksum: str


@dataclass(frozen=True)
class Saved:
    location: str
    written: bool
    checksum: str
    previous: str | None = None
    sha256: str | None = None  # of the bytes written (None: nothing was written)


def albrules_home() -> Path:
    """Where albrules keeps its own files: ``$ALBRULES_HOME``, else ``~/.albrules``."""
    return Path(os.environ.get("ALBRULES_HOME", "~/.albrules")).expanduser()


def default_pre_restore_location() -> str:
    return str(albrules_home() / "pre-restore")


def stamp(moment: datetime) -> str:
    """``20261123T170000.123Z``: a key's time, to the millisecond, sorting as text."""
    moment = to_milliseconds(moment)
    return moment.strftime("%Y%m%dT%H%M%S.") + f"{moment.microsecond // 1000:03d}Z"


def _parse_stamp(text: str) -> datetime:
    """A key's time; keys written by earlier versions carry whole seconds."""
    fmt = "%Y%m%dT%H%M%S.%fZ" if "." in text else "%Y%m%dT%H%M%SZ"
    return datetime.strptime(text, fmt).replace(tzinfo=UTC)


def relative_key(source: Source, created_at: datetime, checksum: str, fmt: Format) -> str:
    ext = "yaml" if fmt == "yaml" else "json"
    return (
        f"{source.account}/{source.region}/{source.load_balancer_name}/{source.listener_id}/"
        f"{stamp(created_at)}-{checksum[:12]}.{ext}"
    )


def listener_prefix(source: Source) -> str:
    return f"{source.account}/{source.region}/{source.load_balancer_name}/{source.listener_id}/"


def _taken(name: str) -> tuple[datetime, str]:
    """A snapshot file name's sort key: when it was taken, then the name."""
    match = _NAME.match(name)
    assert match is not None
    return _parse_stamp(match["stamp"]), name


def _entry(location: str, relative: str) -> Entry | None:
    parts = relative.strip("/").split("/")
    if len(parts) < 5:
        return None
    match = _NAME.match(parts[-1])
    if not match:
        return None
    account, region, balancer, listener = parts[-5:-1]
    created = _parse_stamp(match["stamp"])
    return Entry(location, account, region, balancer, listener, created, match["short"])


def newest_first(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: (e.created_at, e.location), reverse=True)


def parse_s3(uri: str) -> tuple[str, str]:
    rest = uri[len("s3://") :]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise InvalidInput(f"{uri!r} has no bucket; use s3://BUCKET/PREFIX")
    return bucket, prefix.strip("/")


def is_s3(location: str) -> bool:
    return location.startswith("s3://")


class Store:
    """A snapshot location. ``aws`` is needed only for S3."""

    def __init__(self, location: str, aws: Aws | None = None):
        self.location = location
        self.aws = aws
        if is_s3(location):
            self.bucket, self.prefix = parse_s3(location)
        else:
            self.path = Path(location).expanduser()

    # -- kinds --
    @property
    def is_file(self) -> bool:
        """A single snapshot file (by extension, or an existing file)."""
        if is_s3(self.location):
            return format_for(self.location) is not None
        return self.path.is_file() or (
            not self.path.is_dir() and format_for(str(self.path)) is not None
        )

    def _s3_key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def _s3(self, operation: str, where: str, **kwargs: Any) -> Any:
        assert self.aws is not None
        try:
            return getattr(self.aws.s3, operation)(**kwargs)
        except (ClientError, BotoCoreError) as err:
            raise as_albrules_error(err, service="s3", where=where) from err

    # -- reading --
    def list(self) -> list[Entry]:
        if is_s3(self.location):
            entries = []
            kwargs: dict[str, Any] = {"Bucket": self.bucket}
            if self.prefix:
                kwargs["Prefix"] = self.prefix + "/"
            while True:
                page = self._s3("list_objects_v2", self.location, **kwargs)
                for item in page.get("Contents", []):
                    key = item["Key"]
                    relative = key[len(self.prefix) :] if self.prefix else key
                    entry = _entry(f"s3://{self.bucket}/{key}", relative)
                    if entry:
                        entries.append(entry)
                if not page.get("IsTruncated"):
                    break
                kwargs["ContinuationToken"] = page["NextContinuationToken"]
            return newest_first(entries)
        if self.path.is_file():
            entry = _entry(str(self.path), "/".join(self.path.parts[-5:]))
            return [entry] if entry else []
        if not self.path.exists():
            raise InvalidInput(f"{self.location} does not exist; give a directory or s3:// prefix")
        entries = []
        for file in self.path.rglob("*"):
            if file.is_file():
                entry = _entry(str(file), str(file.relative_to(self.path)))
                if entry:
                    entries.append(entry)
        return newest_first(entries)

    def latest_checksum(self, source: Source) -> tuple[str, str] | None:
        """(location, full checksum) of the listener's newest snapshot here, if any."""
        if self.is_file:
            if is_s3(self.location):
                return self._s3_checksum(self.prefix) if self._s3_exists(self.prefix) else None
            if not self.path.exists():
                return None
            return str(self.path), _checksum_of(self.path.read_bytes(), str(self.path))
        prefix = listener_prefix(source)
        if is_s3(self.location):
            key_prefix = self._s3_key(prefix)
            newest = None
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": key_prefix}
            while True:
                page = self._s3("list_objects_v2", self.location, **kwargs)
                for item in page.get("Contents", []):
                    name = item["Key"].rsplit("/", 1)[-1]
                    if _NAME.match(name) and (
                        newest is None or _taken(name) > _taken(newest.rsplit("/", 1)[-1])
                    ):
                        newest = item["Key"]
                if not page.get("IsTruncated"):
                    break
                kwargs["ContinuationToken"] = page["NextContinuationToken"]
            return self._s3_checksum(newest) if newest else None
        folder = self.path / prefix
        if not folder.is_dir():
            return None
        names = sorted((f.name for f in folder.iterdir() if _NAME.match(f.name)), key=_taken)
        if not names:
            return None
        file = folder / names[-1]
        return str(file), _checksum_of(file.read_bytes(), str(file))

    def _s3_exists(self, key: str) -> bool:
        assert self.aws is not None
        try:
            self.aws.s3.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as err:
            if str(err.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise as_albrules_error(err, service="s3", where=f"s3://{self.bucket}/{key}") from err

    def _s3_checksum(self, key: str) -> tuple[str, str]:
        uri = f"s3://{self.bucket}/{key}"
        head = self._s3("head_object", uri, Bucket=self.bucket, Key=key)
        checksum = head.get("Metadata", {}).get(CHECKSUM_METADATA)
        if not checksum:
            body = self._s3("get_object", uri, Bucket=self.bucket, Key=key)["Body"].read()
            checksum = _checksum_of(body, uri)
        return uri, checksum

    # -- writing --
    def save(
        self,
        snapshot: Snapshot,
        *,
        fmt: Format | None = None,
        force: bool = False,
        kms_key_id: str | None = None,
        seal: Sealing | None = None,
        lock: SnapshotLock | None = None,
    ) -> Saved:
        """Write unless the listener's latest snapshot here has the same checksum. ``seal``
        gives the metadata that seals the bytes (S3 only), set by the same PutObject; so does
        ``lock`` its S3 Object Lock retention (S3 only)."""
        if kms_key_id and not is_s3(self.location):
            raise InvalidInput(
                "--kms-key-id applies to S3 locations (SSE-KMS); a local file is not encrypted "
                "by albrules, so drop --kms-key-id or write to s3://BUCKET/PREFIX"
            )
        if lock and not is_s3(self.location):
            raise InvalidInput(
                f"{self.location} is not in S3; a snapshot lock (SnapshotLockDays) is an S3 "
                "Object Lock, so back up to the stack's s3:// bucket"
            )
        fmt = fmt or format_for(self.location) or "json"
        previous = None if force else self.latest_checksum(snapshot.source)
        if previous and previous[1] == snapshot.checksum and self._sealed_enough(previous[0], seal):
            return Saved(previous[0], False, snapshot.checksum, previous[0])
        body = dumps(snapshot, fmt)
        sha256 = hashlib.sha256(body).hexdigest()
        relative = relative_key(snapshot.source, snapshot.created_at, snapshot.checksum, fmt)
        if is_s3(self.location):
            key = self.prefix if self.is_file else self._s3_key(relative)
            self.put_bytes(
                key,
                body,
                fmt=fmt,
                kms_key_id=kms_key_id,
                checksum=snapshot.checksum,
                metadata=seal(body) if seal else None,
                lock=lock,
            )
            return Saved(f"s3://{self.bucket}/{key}", True, snapshot.checksum, None, sha256)
        target = self.path if self.is_file else self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(body)
        tmp.replace(target)
        return Saved(
            str(target), True, snapshot.checksum, previous[0] if previous else None, sha256
        )

    def _sealed_enough(self, location: str, seal: Sealing | None) -> bool:
        """Whether the stored ``location`` may stand for a new snapshot: always, unless new
        snapshots are sealed and it is an S3 object without a seal (written before sealing)."""
        if seal is None or not is_s3(location):
            return True
        bucket, key = parse_s3(location)
        head = self._s3("head_object", location, Bucket=bucket, Key=key)
        return bool(head.get("Metadata", {}).get(SEAL_METADATA))

    def put_bytes(
        self,
        key: str,
        body: bytes,
        *,
        fmt: str = "json",
        kms_key_id: str | None = None,
        checksum: str | None = None,
        metadata: dict[str, str] | None = None,
        lock: SnapshotLock | None = None,
    ) -> str:
        uri = f"s3://{self.bucket}/{key}"
        kwargs: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "Body": body,
            "ContentType": "application/yaml" if fmt == "yaml" else "application/json",
        }
        meta = dict(metadata or {})
        if checksum:
            meta[CHECKSUM_METADATA] = checksum
        if meta:
            kwargs["Metadata"] = meta
        if kms_key_id:
            kwargs["ServerSideEncryption"] = "aws:kms"
            kwargs["SSEKMSKeyId"] = kms_key_id
        if lock:  # the SDK adds the checksum header S3 requires with a retention
            kwargs.update(lock.put_object_arguments(datetime.now(UTC)))
        self._s3("put_object", uri, **kwargs)
        return uri

    def write_file(self, relative: str, body: bytes, *, kms_key_id: str | None = None) -> str:
        """Write a file under this location (a restore's journal, a plan); its location."""
        if is_s3(self.location):
            return self.put_bytes(self._s3_key(relative), body, kms_key_id=kms_key_id)
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        return str(target)


def _checksum_of(data: bytes, name: str) -> str:
    document = parse_document(data, name)
    return str(document.get("checksum", "")) if isinstance(document, dict) else ""


def read_bytes(location: str, aws: Aws | None) -> bytes:
    """The bytes of a snapshot at a path or S3 URI, with one clear error if unreadable."""
    return read_object(location, aws)[0]


def read_object(location: str, aws: Aws | None) -> tuple[bytes, dict[str, str]]:
    """The bytes of a document at a path or S3 URI and its S3 metadata (from the same
    GetObject, so they belong to the same version; {} for a local file)."""
    if is_s3(location):
        if aws is None:
            raise InvalidInput(f"reading {location} needs AWS credentials")
        bucket, key = parse_s3(location)
        try:
            head = aws.s3.head_object(Bucket=bucket, Key=key)
            size = head.get("ContentLength", 0)
            if size > MAX_DOCUMENT_BYTES:
                raise InvalidInput(
                    f"{location} is {size / 1048576:.1f} MiB; a snapshot is at most "
                    f"{MAX_DOCUMENT_BYTES // 1048576} MiB, so this is not a snapshot file"
                )
            got = aws.s3.get_object(Bucket=bucket, Key=key)
            metadata = {str(k): str(v) for k, v in (got.get("Metadata") or {}).items()}
            return cast(bytes, got["Body"].read()), metadata
        except (ClientError, BotoCoreError) as err:
            raise as_albrules_error(err, service="s3", where=location) from err
    path = Path(location).expanduser()
    if path.is_dir():
        raise InvalidInput(
            f"{location} is a directory; give one snapshot file (see `albrules list`)"
        )
    if not path.exists():
        raise InvalidInput(f"{location} does not exist; check the path (see `albrules list`)")
    size = path.stat().st_size
    if size > MAX_DOCUMENT_BYTES:
        raise InvalidInput(
            f"{location} is {size / 1048576:.1f} MiB; a snapshot is at most "
            f"{MAX_DOCUMENT_BYTES // 1048576} MiB, so this is not a snapshot file"
        )
    try:
        return path.read_bytes(), {}
    except OSError as err:
        raise InvalidInput(f"cannot read {location}: {err.strerror}") from None


def read_snapshot(location: str, aws: Aws | None, fmt: str | None = None) -> Snapshot:
    return loads(read_bytes(location, aws), location, format_for(location, fmt))
