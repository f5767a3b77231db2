"""The DynamoDB table of the SAM application: snapshot catalog, restore locks, audit, approvals.

One table, keys ``pk``/``sk`` (strings):

- ``LISTENER#<arn>`` / ``SNAPSHOT#<created_at>#<id>``: a version of the listener (a stored
  snapshot, newest last), with its ``trigger``, ``execution_arn`` and the CloudTrail ``events``
  it covers (:class:`albrules.versions.Version`);
- ``LISTENER#<arn>`` / ``DELETION#<time>#<event id>``: the listener's deletion, seen in CloudTrail;
- ``LISTENER#<arn>`` / ``RECREATED#<time>#<listener id>``: a restore recreated the listener as
  another (``recreated_as``), or made this one in place of another (``recreated_from``);
- ``SNAPSHOT#<id>`` / ``SNAPSHOT``: the same snapshot, found by its catalog id;
- ``EVENT#<CloudTrail event id>`` / ``EVENT``: the version that recorded that event;
- ``LB#<load balancer arn>`` / ``LISTENER#<arn>``: the load balancer's catalogued listeners;
- ``CHANGES#<arn>`` / ``PENDING``: changes seen and not yet snapshotted (settling): one
  ``event#<event id>`` attribute per event, ``quiet_at``, ``seen`` (a count) and ``settling``
  (the execution that will back them up, until ``settling_until``);
- ``LOCK#<arn>`` / ``LOCK``: the restore lock of a listener (conditional writes);
- ``RESTORE#<execution arn>`` / ``AUDIT``: who restored what, the plan and the outcome;
- ``APPROVAL#<execution arn>`` / ``APPROVAL``: a pending approval and its task token;
- ``DRILL#<listener arn>`` / ``DRILL#<time>``: a restore drill of one of the listener's
  snapshots (:mod:`albrules.drill`): its status, reasons and scratch load balancer. A key of
  its own, so the drills' writer can write nothing else (``dynamodb:LeadingKeys``).

A snapshot's catalog id is the first 12 hex digits of its checksum, the same short checksum
its file name carries, so the id a person reads in ``albrules list`` finds it here too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .aws import Aws, as_albrules_error, error_code
from .errors import ApprovalError, ListenerLocked, LockLost
from .versions import MAX_EVENTS, ChangeEvent, Version

# The default lifetime of a lock. The restore machine and the CLI choose theirs (see
# albrules.locks): a lock outlives the longest wait for approval.
LOCK_SECONDS = 24 * 3600
# The attribute name prefix of a pending change (CHANGES#<arn>/PENDING), then its event id.
PENDING_EVENT = "event#"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _when(epoch: Any) -> str:
    """An ``expires_at`` (epoch seconds) as an ISO time, for messages."""
    try:
        return datetime.fromtimestamp(int(epoch), UTC).isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError, OSError):
        return "?"


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as plain Python (strings, numbers, booleans, maps, lists)."""
    out: dict[str, Any] = {}
    for key, value in item.items():
        out[key] = _value(value)
    return out


def _value(value: dict[str, Any]) -> Any:
    ((kind, inner),) = value.items()
    if kind == "S":
        return inner
    if kind == "N":
        return int(inner) if inner.lstrip("-").isdigit() else float(inner)
    if kind == "BOOL":
        return inner
    if kind == "NULL":
        return None
    if kind == "M":
        return _plain(inner)
    if kind == "L":
        return [_value(v) for v in inner]
    return inner


def _typed(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": str(value)}
    if value is None:
        return {"NULL": True}
    if isinstance(value, dict):
        return {"M": {k: _typed(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [_typed(v) for v in value]}
    return {"S": str(value)}


@dataclass
class Catalog:
    """The table, through one account's session."""

    aws: Aws
    table: str

    @property
    def _db(self) -> Any:
        return self.aws.client("dynamodb")

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._db, operation)(TableName=self.table, **kwargs)
        except (ClientError, BotoCoreError) as err:
            raise as_albrules_error(err, service="dynamodb", where=f"table {self.table}") from err

    def _get(self, pk: str, sk: str, *, consistent: bool = False) -> dict[str, Any] | None:
        """One item as plain Python, or None."""
        kwargs: dict[str, Any] = {"ConsistentRead": True} if consistent else {}
        found = self._call("get_item", Key={"pk": _s(pk), "sk": _s(sk)}, **kwargs).get("Item")
        return _plain(found) if found else None

    def _write_if(self, operation: str, **kwargs: Any) -> bool:
        """A conditional write: whether its condition held (and it was made)."""
        try:
            getattr(self._db, operation)(TableName=self.table, **kwargs)
        except ClientError as err:
            if error_code(err) == "ConditionalCheckFailedException":
                return False
            raise as_albrules_error(err, service="dynamodb", where=f"table {self.table}") from err
        except BotoCoreError as err:
            raise as_albrules_error(err, service="dynamodb", where=f"table {self.table}") from err
        return True

    # -- snapshots and the listener's history --
    def record_snapshot(
        self,
        *,
        snapshot_id: str,
        listener_arn: str,
        location: str,
        checksum: str,
        rules: int,
        created_at: str,
        trigger: str = "schedule",
        execution_arn: str | None = None,
        events: list[ChangeEvent] | None = None,
    ) -> str:
        """Record a version of the listener (and index it by id, events and load balancer).
        Returns its sort key."""
        sort_key = f"SNAPSHOT#{created_at}#{snapshot_id}"
        common = {
            "snapshot_id": _s(snapshot_id),
            "listener_arn": _s(listener_arn),
            "location": _s(location),
            "checksum": _s(checksum),
            "rules": _n(rules),
            "created_at": _s(created_at),
            **self._provenance(trigger, execution_arn, events or []),
        }
        self._call(
            "put_item",
            Item={"pk": _s(f"LISTENER#{listener_arn}"), "sk": _s(sort_key), **common},
        )
        self._call(
            "put_item", Item={"pk": _s(f"SNAPSHOT#{snapshot_id}"), "sk": _s("SNAPSHOT"), **common}
        )
        self._index(listener_arn, sort_key, events or [])
        return sort_key

    def record_deletion(
        self, *, listener_arn: str, deleted_at: str, events: list[ChangeEvent]
    ) -> str:
        """Record that the listener was deleted (its last snapshot stays the one to restore).
        Returns the record's sort key."""
        first = events[0].id if events else "unknown"
        sort_key = f"DELETION#{deleted_at}#{first}"
        self._call(
            "put_item",
            Item={
                "pk": _s(f"LISTENER#{listener_arn}"),
                "sk": _s(sort_key),
                "kind": _s("deletion"),
                "listener_arn": _s(listener_arn),
                "created_at": _s(deleted_at),
                **self._provenance("change", None, events),
            },
        )
        self._index(listener_arn, sort_key, events)
        return sort_key

    def record_recreation(
        self,
        *,
        old_listener_arn: str,
        new_listener_arn: str,
        at: str,
        execution_arn: str | None = None,
    ) -> None:
        """Link a recreated listener to the one it replaces: ``RECREATED#<at>#<id>`` under the
        old listener naming the new one (``recreated_as``), and under the new one naming the
        old (``recreated_from``)."""
        extra = {"execution_arn": _s(execution_arn)} if execution_arn else {}
        for listener, other, field_name in (
            (old_listener_arn, new_listener_arn, "recreated_as"),
            (new_listener_arn, old_listener_arn, "recreated_from"),
        ):
            self._call(
                "put_item",
                Item={
                    "pk": _s(f"LISTENER#{listener}"),
                    "sk": _s(f"RECREATED#{at}#{other.rsplit('/', 1)[-1]}"),
                    "kind": _s("recreation"),
                    "listener_arn": _s(listener),
                    "created_at": _s(at),
                    "trigger": _s("restore"),
                    field_name: _s(other),
                    **extra,
                },
            )
        self._index(new_listener_arn, "", [])

    @staticmethod
    def _provenance(
        trigger: str, execution_arn: str | None, events: list[ChangeEvent]
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {"trigger": _s(trigger)}
        if execution_arn:
            fields["execution_arn"] = _s(execution_arn)
        if events:
            kept = [e.model_dump(exclude_none=True) for e in events[:MAX_EVENTS]]
            fields["events"] = _typed(kept)
            fields["changed_by"] = _typed(list(dict.fromkeys(e.by for e in events)))
        if len(events) > MAX_EVENTS:
            fields["more_events"] = _n(len(events) - MAX_EVENTS)
        return fields

    def _index(self, listener_arn: str, sort_key: str, events: list[ChangeEvent]) -> None:
        balancer = _load_balancer_of(listener_arn)
        if balancer:
            self._call(
                "put_item",
                Item={"pk": _s(f"LB#{balancer}"), "sk": _s(f"LISTENER#{listener_arn}")},
            )
            # by name too: a load balancer recreated under the same name has a new ARN
            self._call("put_item", Item={"pk": _s(_name_key(balancer)), "sk": _s(f"LB#{balancer}")})
        for event in events[:MAX_EVENTS]:
            self._call(
                "put_item",
                Item={
                    "pk": _s(f"EVENT#{event.id}"),
                    "sk": _s("EVENT"),
                    "listener_arn": _s(listener_arn),
                    "version": _s(sort_key),
                    "name": _s(event.name),
                },
            )

    def find_snapshot(self, snapshot_id: str) -> dict[str, Any] | None:
        return self._get(f"SNAPSHOT#{snapshot_id}", "SNAPSHOT")

    def snapshots(self, listener_arn: str, limit: int = 20) -> list[dict[str, Any]]:
        """The listener's catalogued snapshots, newest first."""
        page = self._call(
            "query",
            KeyConditionExpression="pk = :pk AND begins_with(sk, :sk)",
            ExpressionAttributeValues={
                ":pk": _s(f"LISTENER#{listener_arn}"),
                ":sk": _s("SNAPSHOT#"),
            },
            ScanIndexForward=False,
            Limit=limit,
        )
        return [_plain(i) for i in page.get("Items", [])]

    def history(self, listener_arn: str, since: str | None = None) -> list[Version]:
        """Every version of the listener (snapshots and deletions), newest first; ``since``
        (an ISO time as the catalog writes them) keeps those taken at or after it."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _s(f"LISTENER#{listener_arn}")},
        }
        items: list[dict[str, Any]] = []
        while True:
            page = self._call("query", **kwargs)
            items += [_plain(i) for i in page.get("Items", [])]
            if not page.get("LastEvaluatedKey"):
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        versions = [_version(item) for item in items]
        if since is not None:
            versions = [v for v in versions if v.taken_at >= since]
        return sorted(versions, key=lambda v: (v.taken_at, v.sort_key), reverse=True)

    def find_event(self, event_id: str) -> dict[str, Any] | None:
        """Which version recorded a CloudTrail event: ``listener_arn`` and ``version`` (its
        sort key), or None."""
        return self._get(f"EVENT#{event_id}", "EVENT")

    def load_balancer_listeners(self, load_balancer_arn: str) -> list[str]:
        """The listeners of a load balancer that have versions in the catalog."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _s(f"LB#{load_balancer_arn}")},
        }
        found: list[str] = []
        while True:
            page = self._call("query", **kwargs)
            found += [str(i["sk"]["S"])[len("LISTENER#") :] for i in page.get("Items", [])]
            if not page.get("LastEvaluatedKey"):
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def listeners_of_load_balancers_named(self, load_balancer_arn: str) -> list[str]:
        """The listeners with versions of every load balancer with the name (account, region)
        of ``load_balancer_arn``, whatever its ARN (one recreated by a pipeline has a new one):
        the name index (``LB#NAME#...`` items, written with each version) names the ARNs, and
        the ARN given is always one of them (versions recorded before the index)."""
        arns = {load_balancer_arn}
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _s(_name_key(load_balancer_arn))},
        }
        while True:
            page = self._call("query", **kwargs)
            arns |= {str(i["sk"]["S"])[len("LB#") :] for i in page.get("Items", [])}
            if not page.get("LastEvaluatedKey"):
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted({arn for b in arns for arn in self.load_balancer_listeners(b)})

    # -- changes settling (change-triggered backups) --
    def note_change(
        self, listener_arn: str, event: dict[str, Any], quiet_at: int
    ) -> dict[str, Any]:
        """Add a CloudTrail event to the listener's pending changes (one attribute per event
        id, so noting it twice is noting it once) and push its quiet time to ``quiet_at``
        (epoch seconds). Returns the pending item as it is now."""
        found = self._call(
            "update_item",
            Key={"pk": _s(f"CHANGES#{listener_arn}"), "sk": _s("PENDING")},
            UpdateExpression="SET #e = :event, quiet_at = :quiet, listener_arn = :l ADD seen :one",
            ExpressionAttributeNames={"#e": f"{PENDING_EVENT}{event['id']}"},
            ExpressionAttributeValues={
                ":event": _typed(event),
                ":quiet": _n(quiet_at),
                ":l": _s(listener_arn),
                ":one": _n(1),
            },
            ReturnValues="ALL_NEW",
        )
        return _plain(found.get("Attributes") or {})

    def pending_changes(self, listener_arn: str) -> dict[str, Any] | None:
        return self._get(f"CHANGES#{listener_arn}", "PENDING", consistent=True)

    def claim_settling(self, listener_arn: str, owner: str, until: int) -> bool:
        """Make ``owner`` (an execution name) the one settling the listener's changes until
        ``until`` (epoch seconds), unless another holds it and has not expired."""
        now = int(time.time())
        return self._write_if(
            "update_item",
            Key={"pk": _s(f"CHANGES#{listener_arn}"), "sk": _s("PENDING")},
            UpdateExpression="SET settling = :me, settling_until = :until",
            ConditionExpression=(
                "attribute_exists(pk) AND (attribute_not_exists(settling) "
                "OR settling_until < :now OR settling = :me)"
            ),
            ExpressionAttributeValues={":me": _s(owner), ":until": _n(until), ":now": _n(now)},
        )

    def release_settling(self, listener_arn: str, owner: str) -> None:
        """Give up settling (an execution that could not be started)."""
        self._write_if(
            "update_item",
            Key={"pk": _s(f"CHANGES#{listener_arn}"), "sk": _s("PENDING")},
            UpdateExpression="REMOVE settling, settling_until",
            ConditionExpression="settling = :me",
            ExpressionAttributeValues={":me": _s(owner)},
        )

    def finish_changes(
        self, listener_arn: str, owner: str, seen: int, event_ids: list[str]
    ) -> bool:
        """The changes ``owner`` backed up are recorded: delete the pending item if no event
        came since it was read (``seen`` unchanged) and return True; otherwise remove just
        the events covered and return False (the newer ones are settled next)."""
        key = {"pk": _s(f"CHANGES#{listener_arn}"), "sk": _s("PENDING")}
        if self._write_if(
            "delete_item",
            Key=key,
            ConditionExpression="seen = :seen AND settling = :me",
            ExpressionAttributeValues={":seen": _n(seen), ":me": _s(owner)},
        ):
            return True
        if event_ids:
            names = {f"#e{i}": f"{PENDING_EVENT}{e}" for i, e in enumerate(event_ids)}
            self._call(
                "update_item",
                Key=key,
                UpdateExpression="REMOVE " + ", ".join(names),
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames=names,
            )
        return False

    # -- locks --
    def acquire_lock(self, listener_arn: str, owner: str, seconds: int = LOCK_SECONDS) -> None:
        """Take the listener's lock for ``owner`` for ``seconds``, or raise ListenerLocked
        naming the holder. ``listener_arn`` must be canonical (``parse_listener_arn().arn``).

        A lock whose ``expires_at`` has passed (a crashed restore) may be taken over; taking
        a lock ``owner`` already holds renews it."""
        now = int(time.time())
        try:
            self._db.put_item(
                TableName=self.table,
                Item={
                    "pk": _s(f"LOCK#{listener_arn}"),
                    "sk": _s("LOCK"),
                    "owner": _s(owner),
                    "acquired_at": _s(_now()),
                    "expires_at": _n(now + seconds),
                },
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now OR #o = :me",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":now": _n(now), ":me": _s(owner)},
            )
        except ClientError as err:
            if error_code(err) != "ConditionalCheckFailedException":
                raise as_albrules_error(
                    err, service="dynamodb", where=f"table {self.table}"
                ) from err
            raise ListenerLocked(
                f"listener {listener_arn} is locked by {self._holder_words(listener_arn)}; "
                "nothing was changed, wait for that restore to end (or stop it) and start again"
            ) from None
        except BotoCoreError as err:
            raise as_albrules_error(err, service="dynamodb", where=f"table {self.table}") from err

    def hold_lock(self, listener_arn: str, owner: str, seconds: int) -> None:
        """Check that ``owner`` still holds the listener's lock and that it has not expired,
        and extend it to ``seconds`` from now (one conditional write). Raises LockLost
        otherwise, naming who holds it now: the caller must then change nothing."""
        now = int(time.time())
        try:
            self._db.update_item(
                TableName=self.table,
                Key={"pk": _s(f"LOCK#{listener_arn}"), "sk": _s("LOCK")},
                UpdateExpression="SET expires_at = :until",
                ConditionExpression="#o = :me AND expires_at >= :now",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={
                    ":me": _s(owner),
                    ":now": _n(now),
                    ":until": _n(now + seconds),
                },
            )
        except ClientError as err:
            if error_code(err) != "ConditionalCheckFailedException":
                raise as_albrules_error(
                    err, service="dynamodb", where=f"table {self.table}"
                ) from err
            holder = self.lock_holder(listener_arn)
            if holder is None:
                now_held = "nobody holds it now"
            elif holder.get("owner") == owner:
                now_held = f"it expired at {_when(holder.get('expires_at'))}"
            else:
                now_held = f"it is held by {self._holder_words(listener_arn, holder)}"
            raise LockLost(
                f"this restore no longer holds the lock of listener {listener_arn} "
                f"({now_held}); nothing was changed, start the restore again"
            ) from None
        except BotoCoreError as err:
            raise as_albrules_error(err, service="dynamodb", where=f"table {self.table}") from err

    def lock_holder(self, listener_arn: str) -> dict[str, Any] | None:
        return self._get(f"LOCK#{listener_arn}", "LOCK", consistent=True)

    def _holder_words(self, listener_arn: str, holder: dict[str, Any] | None = None) -> str:
        """``restore OWNER since WHEN (until WHEN)``, for a refusal."""
        holder = holder or self.lock_holder(listener_arn) or {}
        return (
            f"restore {holder.get('owner', '?')} since {holder.get('acquired_at', '?')} "
            f"(the lock expires at {_when(holder.get('expires_at'))})"
        )

    def release_lock(self, listener_arn: str, owner: str) -> bool:
        """Release the lock if ``owner`` holds it. Returns whether it did."""
        return self._write_if(
            "delete_item",
            Key={"pk": _s(f"LOCK#{listener_arn}"), "sk": _s("LOCK")},
            ConditionExpression="#o = :me",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":me": _s(owner)},
        )

    # -- audit --
    def write_audit(
        self, execution_arn: str, fields: dict[str, Any], *, only_if_outcome: str | None = None
    ) -> bool:
        """Create or update the restore's audit record with ``fields``. With
        ``only_if_outcome``, only an existing record whose outcome is that one is updated;
        returns whether the record was written."""
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values = {f":v{i}": _typed(v) for i, v in enumerate(fields.values())}
        sets = ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
        condition: dict[str, Any] = {}
        if only_if_outcome is not None:
            names["#outcome"] = "outcome"
            values[":only"] = _s(only_if_outcome)
            condition["ConditionExpression"] = "attribute_exists(pk) AND #outcome = :only"
        try:
            self._db.update_item(
                TableName=self.table,
                Key={"pk": _s(f"RESTORE#{execution_arn}"), "sk": _s("AUDIT")},
                UpdateExpression=f"SET {sets}",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                **condition,
            )
        except ClientError as err:
            if only_if_outcome is not None and error_code(err) == "ConditionalCheckFailedException":
                return False
            raise as_albrules_error(err, service="dynamodb", where=f"table {self.table}") from err
        except BotoCoreError as err:
            raise as_albrules_error(err, service="dynamodb", where=f"table {self.table}") from err
        return True

    def audit(self, execution_arn: str) -> dict[str, Any] | None:
        return self._get(f"RESTORE#{execution_arn}", "AUDIT")

    # -- approvals --
    def put_approval(self, execution_arn: str, fields: dict[str, Any]) -> None:
        item = {"pk": _s(f"APPROVAL#{execution_arn}"), "sk": _s("APPROVAL")}
        item.update({k: _typed(v) for k, v in fields.items()})
        self._call("put_item", Item=item)

    def approval(self, execution_arn: str) -> dict[str, Any] | None:
        return self._get(f"APPROVAL#{execution_arn}", "APPROVAL", consistent=True)

    def decide_approval(
        self,
        execution_arn: str,
        nonce: str,
        decision: str,
        by: str,
        reason: str = "",
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Mark a pending approval decided, once, and not yet delivered (``delivered`` false
        until it is delivered: :meth:`update_approval`). Returns the record (with its token)."""
        now = int(time.time())
        fields = {"decided_by": by, "decided_at": _now(), "reason": reason, "delivered": False}
        fields.update(extra or {})
        names = {"#s": "status", **{f"#f{i}": k for i, k in enumerate(fields)}}
        values = {f":v{i}": _typed(v) for i, v in enumerate(fields.values())}
        sets = ", ".join(["#s = :d", *(f"#f{i} = :v{i}" for i in range(len(fields)))])
        try:
            result = self._db.update_item(
                TableName=self.table,
                Key={"pk": _s(f"APPROVAL#{execution_arn}"), "sk": _s("APPROVAL")},
                UpdateExpression=f"SET {sets}",
                ConditionExpression="#s = :pending AND nonce = :n AND expires_at > :now",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    ":d": _s(decision),
                    ":pending": _s("pending"),
                    ":n": _s(nonce),
                    ":now": _n(now),
                    **values,
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as err:
            if error_code(err) != "ConditionalCheckFailedException":
                raise as_albrules_error(
                    err, service="dynamodb", where=f"table {self.table}"
                ) from err
            current = self.approval(execution_arn)
            if current is None:
                raise ApprovalError(
                    f"no approval is pending for {execution_arn}; check the execution ARN"
                ) from None
            if current.get("status") != "pending":
                raise ApprovalError(
                    f"the restore {execution_arn} was already {current.get('status')} by "
                    f"{current.get('decided_by', '?')}; nothing was done"
                ) from None
            if int(current.get("expires_at", 0)) <= now:
                raise ApprovalError(
                    f"the approval request for {execution_arn} has expired; nothing was done"
                ) from None
            raise ApprovalError(
                f"this approval link is not the current one for {execution_arn}; nothing was done"
            ) from None
        return _plain(result["Attributes"])

    def update_approval(
        self, execution_arn: str, fields: dict[str, Any], *, status: str | None = None
    ) -> bool:
        """Set ``fields`` on the approval record (only while its status is ``status``, if
        given). Returns whether it did."""
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values = {f":v{i}": _typed(v) for i, v in enumerate(fields.values())}
        condition = "attribute_exists(pk)"
        if status is not None:
            names["#s"] = "status"
            values[":status"] = _s(status)
            condition += " AND #s = :status"
        return self._write_if(
            "update_item",
            Key={"pk": _s(f"APPROVAL#{execution_arn}"), "sk": _s("APPROVAL")},
            UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    # -- restore drills --
    def record_drill(self, listener_arn: str, at: str, fields: dict[str, Any]) -> str:
        """Record a drill of the listener's snapshot; returns its sort key."""
        sort_key = f"DRILL#{at}"
        item = {k: _typed(v) for k, v in fields.items() if v is not None}
        self._call(
            "put_item",
            Item={
                "pk": _s(f"DRILL#{listener_arn}"),
                "sk": _s(sort_key),
                "listener_arn": _s(listener_arn),
                "at": _s(at),
                **item,
            },
        )
        return sort_key

    def drills(self, listener_arn: str, limit: int = 20) -> list[dict[str, Any]]:
        """The listener's drills, newest first."""
        page = self._call(
            "query",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _s(f"DRILL#{listener_arn}")},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [_plain(i) for i in page.get("Items", [])]

    def catalogued_listeners(self) -> list[str]:
        """Every listener with versions in the catalog (from the load balancer index, ``LB#``
        items): a scan that reads the keys only."""
        kwargs: dict[str, Any] = {
            "FilterExpression": "begins_with(pk, :lb)",
            "ExpressionAttributeValues": {":lb": _s("LB#")},
            "ProjectionExpression": "pk, sk",
            "Select": "SPECIFIC_ATTRIBUTES",
        }
        found: list[str] = []
        while True:
            page = self._call("scan", **kwargs)
            found += [str(i["sk"]["S"])[len("LISTENER#") :] for i in page.get("Items", [])]
            if not page.get("LastEvaluatedKey"):
                return sorted(set(found))
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def audits(self, listener_arn: str) -> list[dict[str, Any]]:
        """Every restore's audit record for a listener, newest first (a filtered scan: the
        audit records are keyed by execution)."""
        kwargs: dict[str, Any] = {
            "FilterExpression": "begins_with(pk, :restore) AND sk = :audit AND listener_arn = :l",
            "ExpressionAttributeValues": {
                ":restore": _s("RESTORE#"),
                ":audit": _s("AUDIT"),
                ":l": _s(listener_arn),
            },
        }
        found: list[dict[str, Any]] = []
        while True:
            page = self._call("scan", **kwargs)
            found += [_plain(i) for i in page.get("Items", [])]
            if not page.get("LastEvaluatedKey"):
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        for item in found:
            item["execution_arn"] = str(item.get("pk", ""))[len("RESTORE#") :]
        return sorted(found, key=lambda i: str(i.get("started_at", "")), reverse=True)


def _load_balancer_of(listener_arn: str) -> str | None:
    """``...:loadbalancer/app/NAME/ID`` of ``...:listener/app/NAME/ID/LISTENER``."""
    head, sep, path = listener_arn.partition(":listener/")
    parts = path.split("/")
    if not sep or len(parts) != 4:
        return None
    return f"{head}:loadbalancer/{'/'.join(parts[:3])}"


def _name_key(load_balancer_arn: str) -> str:
    """The name index's key of a load balancer: ``LB#NAME#<account>/<region>/<name>``."""
    parts = load_balancer_arn.split(":")
    name = load_balancer_arn.split("/")[-2] if "/" in load_balancer_arn else load_balancer_arn
    return (
        f"LB#NAME#{parts[4] if len(parts) > 4 else ''}/{parts[3] if len(parts) > 3 else ''}/{name}"
    )


def _version(item: dict[str, Any]) -> Version:
    """A catalog item of ``LISTENER#<arn>`` as a :class:`Version` (items written before
    versions had triggers were all written by the scheduled backup)."""
    kind = item.get("kind") if item.get("kind") in ("deletion", "recreation") else "snapshot"
    return Version.model_validate(
        {
            **item,
            "kind": kind,
            "taken_at": item.get("created_at", ""),
            "trigger": item.get("trigger") or "schedule",
            "events": item.get("events") or [],
            "sort_key": item.get("sk", ""),
        }
    )
