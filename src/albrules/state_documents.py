"""The documents the state machines pass between their states, as pydantic models.

Inputs people write (``BackupRequest``, ``RestoreRequest``) refuse unknown fields, so a typo
is an error rather than a silently ignored option. The state documents carry S3 locations and
counts, never whole snapshots: a Step Functions payload is capped at 256 KiB.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .arns import parse_listener_arn
from .errors import InvalidInput
from .moments import parse_time
from .outcomes import RestoreOutcomeName
from .snapshot import pydantic_problems

ACCOUNT_PATTERN = r"^\d{12}$"
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-\d$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: Any, what: str) -> M:
    """Validate ``data`` as ``model``; one clear sentence naming every problem if it fails."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(str(p) for p in pydantic_problems(err))
        raise InvalidInput(f"{what} is not valid ({problems}); fix it and start again") from None


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


# --- backup ------------------------------------------------------------------------------


class BackupTarget(_Strict):
    """One account and region to back up, optionally narrowed to load balancers or listeners."""

    account_id: str = Field(pattern=ACCOUNT_PATTERN)
    region: str = Field(pattern=REGION_PATTERN)
    role_arn: str | None = None
    load_balancers: list[str] | None = None
    listener_arns: list[str] | None = None
    tags: dict[str, str] | None = None


class BackupRequest(_Strict):
    targets: list[BackupTarget] = Field(min_length=1)
    location: str | None = None

    @field_validator("location")
    @classmethod
    def _s3_only(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("s3://"):
            raise ValueError("must be an s3://BUCKET/PREFIX location")
        return value


class ListenerItem(_Strict):
    """One listener to back up, with how to reach it, where to store it, and the execution it
    belongs to (so the batch function's logs name both)."""

    listener_arn: str
    account_id: str
    region: str
    role_arn: str | None = None
    location: str
    execution_arn: str | None = None
    # The listener as discovery's DescribeListeners gave it (the fields a snapshot takes) and
    # when: the batch reuses it while fresh instead of describing the listener again.
    description: dict[str, Any] | None = None
    described_at: str | None = None
    # This batch's share of the account's Describe budget (DescribeCallsPerSecond divided
    # among the batches that run at once).
    describe_calls_per_second: float | None = Field(default=None, gt=0)
    # The run's trigger in the catalog: the schedule, or a person's manual run (who started
    # the execution, from its StartExecution event in CloudTrail).
    trigger: Literal["schedule", "manual"] = "schedule"


class ListenerBatch(_Strict):
    """What one child execution of the backup Map is given: a batch of listeners, as the Map's
    ItemBatcher makes it (``{"Items": [...]}``)."""

    items: list[ListenerItem] = Field(alias="Items", min_length=1)


class DriftNote(_Strict):
    """How a listener changed since its previous snapshot. In the Map's results only the counts
    (a payload stays small); the whole report is in S3 (``runs/drift/...``), from which
    ``summarise_backup`` fills in the rest for the listeners a message names."""

    added: int = 0
    removed: int = 0
    changed: int = 0
    moved: int = 0
    default_actions: bool = False
    previous: str | None = None  # the previous snapshot's location
    lines: list[str] | None = None  # the first changes, one short line each
    more: int = 0  # changes not in ``lines``


class ListenerResult(_Strict):
    listener_arn: str
    status: Literal["stored", "unchanged", "failed"]
    location: str | None = None
    snapshot_id: str | None = None
    rules: int = 0
    port: int | None = None
    drift: DriftNote | None = None  # set when the new snapshot differs from the previous one
    error: str | None = None
    cause: str | None = None


class BatchFailure(_Strict):
    """A batch whose function failed as a whole (it timed out, or crashed): its listeners."""

    listener_arns: list[str]
    error: str | None = None
    cause: str | None = None


class BatchResult(_Strict):
    """What one child execution of the backup Map returns: a result per listener of its
    batch, or (when the batch function failed as a whole) the failure and the listeners."""

    results: list[ListenerResult] = Field(default_factory=list)
    failed_batch: BatchFailure | None = None


class BackupSettings(_Strict):
    max_concurrency: int = 10
    batch_size: int = 10
    tolerated_failure_percentage: int = 10


class S3Object(_Strict):
    bucket: str
    key: str


class DiscoveryFailure(_Strict):
    account_id: str
    region: str
    error: str


class BackupSummary(_Strict):
    listeners: int
    rules: int
    stored: int
    unchanged: int
    failed: int
    drifted: int = 0  # listeners whose rules changed since their previous snapshot
    failed_listeners: list[ListenerResult] = Field(default_factory=list)
    discovery_failures: list[DiscoveryFailure] = Field(default_factory=list)
    location: str | None = None


class Notification(_Strict):
    subject: str
    message: str


class BackupState(_Strict):
    request: dict[str, Any]
    execution_arn: str
    settings: BackupSettings = Field(default_factory=BackupSettings)
    location: str | None = None
    listener_count: int | None = None
    items: S3Object | None = None
    discovery_failures: list[DiscoveryFailure] = Field(default_factory=list)
    map_run: dict[str, Any] | None = None
    summary: BackupSummary | None = None
    notification: Notification | None = None  # something failed (tells the drift too)
    drift_notification: Notification | None = None  # nothing failed, some listeners drifted


# --- restore -----------------------------------------------------------------------------


class RestoreRequest(_Strict):
    """What a restore is asked to do. The snapshot is named (``snapshot``: an S3 key or URI in
    the stack's bucket, or a catalog id) or chosen from the listener's history in the catalog:
    ``at`` (the latest snapshot of ``listener_arn`` taken at or before that time) or
    ``before_change`` (the latest snapshot before that CloudTrail event; see
    :mod:`albrules.history`)."""

    snapshot: str | None = Field(default=None, min_length=1)
    at: str | None = Field(default=None, min_length=1, max_length=64)
    # a CloudTrail eventID (a UUID); bounded well under DynamoDB's 2,048-byte partition key
    before_change: str | None = Field(default=None, min_length=1, max_length=128)
    listener_arn: str | None = None
    mode: Literal["full", "selective"] | None = None
    priorities: list[int] | None = None
    match: list[str] | None = None
    target_listener_arn: str | None = None
    map_target_groups_by_name: bool = False
    # leave rules the AWS Load Balancer Controller or CloudFormation manages out of the plan
    skip_managed: bool = False
    dry_run: bool = False
    require_approval: bool = False
    oidc_secrets: dict[str, str] | None = None
    # Recreate the snapshot's listener when it no longer exists (a format 2 snapshot): on the
    # snapshot's load balancer or ``load_balancer`` (ARN or name), certificates mapped OLD->NEW.
    recreate_listener: bool = False
    load_balancer: str | None = Field(default=None, min_length=1, max_length=400)
    certificate_map: dict[str, str] | None = None
    requested_by: str | None = None
    reason: str | None = None

    @field_validator("listener_arn", "target_listener_arn")
    @classmethod
    def _canonical_listener(cls, value: str | None) -> str | None:
        """One spelling per listener (no surrounding whitespace): the lock's key."""
        if value is None:
            return None
        try:
            return parse_listener_arn(value).arn
        except InvalidInput as err:
            raise ValueError(str(err)) from None

    @field_validator("at")
    @classmethod
    def _readable_time(cls, value: str | None) -> str | None:
        """A time the restore can read, and not in the future (chosen at the lock step)."""
        if value is not None:
            try:
                parse_time(value, now=datetime.now(UTC), what="at")
            except InvalidInput as err:
                raise ValueError(str(err).split("; ")[0]) from None
        return value

    @model_validator(mode="after")
    def _one_snapshot(self) -> RestoreRequest:
        given = [n for n in ("snapshot", "at", "before_change") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "give one of snapshot (an S3 key, s3:// URI or catalog id), at (with "
                "listener_arn) or before_change (a CloudTrail event id)"
                + (f", not {' and '.join(given)}" if given else "")
            )
        if self.at is not None and self.listener_arn is None:
            raise ValueError("at needs listener_arn: the listener whose history to choose from")
        if not self.recreate_listener and (self.load_balancer or self.certificate_map):
            raise ValueError("load_balancer and certificate_map need recreate_listener: true")
        if self.recreate_listener and (
            self.target_listener_arn or self.mode == "selective" or self.priorities or self.match
        ):
            raise ValueError(
                "recreate_listener restores the whole listener into a new one; drop "
                "target_listener_arn, mode selective, priorities and match"
            )
        return self


class RestoreSettings(_Strict):
    """Set by the restore machine's first state from the stack's parameters (never the input)."""

    approval_timeout_seconds: int = 3600
    approval_policy: Literal["required", "optional"] = "required"


class PlanSummary(_Strict):
    """A restore plan in a few words: ``changes`` counts its mutating calls, the rest the rules
    they change (one call can change several rules: every move shares one reorder)."""

    changes: int
    creates: int = 0
    modifies: int = 0
    moves: int = 0
    deletes: int = 0
    default_actions: int = 0
    operations: list[str] = Field(default_factory=list)
    more: int = 0
    unresolved: list[str] = Field(default_factory=list)
    # managed rules the plan changes (the owner reverts them), or leaves out (albrules.managed)
    warnings: list[str] = Field(default_factory=list)

    @property
    def rules(self) -> int:
        """Rules the plan changes (created, modified, moved or deleted)."""
        return self.creates + self.modifies + self.moves + self.deletes

    def headline(self) -> str:
        """``7 mutating call(s) for 8 changed rule(s): 3 to create, ...``, as ``albrules plan``
        says it (no trailing full stop)."""
        if not self.changes:
            return "no change: the listener already matches the snapshot"
        kinds = ", ".join(
            f"{n} to {verb}"
            for n, verb in (
                (self.creates, "create"),
                (self.modifies, "modify"),
                (self.moves, "move"),
                (self.deletes, "delete"),
            )
            if n
        )
        what = f"{self.rules} changed rule(s)"
        if self.default_actions:
            what += " and the default actions"
        return f"{self.changes} mutating call(s) for {what}" + (f": {kinds}" if kinds else "")


class StepError(BaseModel):
    """What a ``Catch`` puts at ``$.error``."""

    model_config = ConfigDict(extra="allow")
    Error: str | None = ""
    Cause: str | None = ""


class ApprovalTask(_Strict):
    """What "Wait for approval" gives its function: the restore state and the task token."""

    state: RestoreState
    task_token: str = ""


class RecreateNote(_Strict):
    """A restore that recreates its listener: where (the lock is the load balancer's port
    while no listener ARN exists) and, once made, the new listener."""

    old_listener_arn: str
    load_balancer_arn: str
    load_balancer_name: str
    port: int = Field(ge=1, le=65535)
    protocol: str
    lock_key: str
    listener_arn: str | None = None  # the listener created


class RestoreState(_Strict):
    request: dict[str, Any]
    execution_arn: str
    started_at: str | None = None
    settings: RestoreSettings = Field(default_factory=RestoreSettings)
    listener_arn: str | None = None
    recreate: RecreateNote | None = None
    snapshot_location: str | None = None
    # input ``at``/``before_change``: the snapshot chosen from the catalog, and why
    snapshot_choice: dict[str, Any] | None = None
    snapshot_sha256: str | None = None  # of the snapshot's bytes, read and seal-checked once
    pre_restore_location: str | None = None
    pre_restore_sha256: str | None = None  # of the pre-restore snapshot's bytes, as written
    base_fingerprint: str | None = None  # the listener's state the plan starts from
    plan_location: str | None = None
    plan_sha256: str | None = None  # of the plan document's bytes, as written and approved
    journal_location: str | None = None
    plan: PlanSummary | None = None
    changes: int | None = None
    phase: Literal["restore", "rollback"] = "restore"
    applied: int | None = None
    # Sliced apply and rollback (albrules.slices): the last slice stopped before the end of
    # its plan (time ran short) and the machine runs it again; how many slices each has run.
    more_to_do: bool = False
    apply_slices: int = Field(default=0, ge=0)
    rollback_slices: int = Field(default=0, ge=0)
    rollback_plan_location: str | None = None  # the rollback's plan, sealed by its 1st slice
    rollback_plan_sha256: str | None = None
    approval: dict[str, Any] | None = None
    error: StepError | None = None
    rollback_error: StepError | None = None
    outcome: RestoreOutcomeName | None = None
    notification: Notification | None = None
    # one listener of a whole-load-balancer restore: its records' folder under the
    # execution's, and the whole plan it is part of (what an approval approved)
    records_part: str | None = None
    whole_plan_location: str | None = None
    whole_plan_sha256: str | None = None

    def parsed_request(self) -> RestoreRequest:
        return parse(RestoreRequest, self.request, "the restore input")

    @property
    def lock_key(self) -> str | None:
        """What the restore's lock is keyed by: the listener, or (recreating one) its load
        balancer and port."""
        return self.recreate.lock_key if self.recreate else self.listener_arn


ApprovalTask.model_rebuild()


# --- change-triggered backups ---------------------------------------------------------------


class ChangeState(_Strict):
    """The change backup machine's state: the listener whose changes it settles, the
    execution (its name is the settling claim in the catalog), how long to wait next, and
    what the last step did."""

    listener_arn: str
    execution_arn: str
    owner: str = Field(description="the execution's name: its claim on the pending changes")
    wait_seconds: int = Field(default=30, ge=0)
    status: Literal["waiting", "stored", "deleted", "done"] = "waiting"
    version: str | None = None
    events: int = 0
    notification: Notification | None = None


# --- restore of a whole load balancer (albrules.fleet_restore) -------------------------------

LOAD_BALANCER_NAME_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$"


class LoadBalancerRestoreRequest(_Strict):
    """The restore machine's input for every listener of a load balancer: its name, and
    each listener's latest snapshot under ``from`` (an s3:// prefix in the stack's bucket) or
    its version ``at`` a time (from the catalog)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    load_balancer: str = Field(pattern=LOAD_BALANCER_NAME_PATTERN)
    from_location: str | None = Field(default=None, alias="from", min_length=1)
    at: str | None = Field(default=None, min_length=1, max_length=64)
    recreate_listener: bool = False
    certificate_map: dict[str, str] | None = None  # for the listeners recreated: OLD=NEW
    account_id: str | None = Field(default=None, pattern=ACCOUNT_PATTERN)
    region: str | None = Field(default=None, pattern=REGION_PATTERN)
    map_target_groups_by_name: bool = False
    dry_run: bool = False
    require_approval: bool = False
    oidc_secrets: dict[str, str] | None = None
    requested_by: str | None = None
    reason: str | None = None

    @field_validator("from_location")
    @classmethod
    def _s3_prefix(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("s3://"):
            raise ValueError("from must be an s3://BUCKET/PREFIX of snapshots")
        return value

    @field_validator("at")
    @classmethod
    def _readable_time(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_time(value, now=datetime.now(UTC), what="at")
            except InvalidInput as err:
                raise ValueError(str(err).split("; ")[0]) from None
        return value

    @model_validator(mode="after")
    def _one_source(self) -> LoadBalancerRestoreRequest:
        if self.from_location is None and self.at is None:
            raise ValueError(
                "give from (an s3:// prefix: each listener's latest snapshot there) or at (a "
                "time: each listener's version then, from the catalog)"
            )
        if self.certificate_map and not self.recreate_listener:
            raise ValueError("certificate_map needs recreate_listener: true")
        return self


class LoadBalancerListener(_Strict):
    """One listener of a whole-load-balancer restore, planned: where its documents are (the
    payload carries keys, never documents) and its records' folder."""

    listener_arn: str | None = None  # None: missing, recreated (``recreate``)
    port: int | None = None
    records_part: str
    snapshot_location: str
    snapshot_sha256: str | None = None  # of its bytes, as read when planned
    pre_restore_location: str | None = None  # a recreation has none: nothing to go back to
    pre_restore_sha256: str | None = None
    base_fingerprint: str = ""
    plan_location: str
    plan_sha256: str
    changes: int
    recreate: RecreateNote | None = None

    @property
    def lock_key(self) -> str:
        """Its restore lock: the listener, or (recreating it) its load balancer and port."""
        if self.recreate is not None:
            return self.recreate.lock_key
        assert self.listener_arn is not None
        return self.listener_arn


class ListenerRollback(_Strict):
    """What the compensation did to one listener."""

    records_part: str  # which listener of the plan (its records' folder)
    status: Literal["rolled back", "rollback failed"]
    journal_location: str | None = None
    error: StepError | None = None


class LoadBalancerRestoreState(_Strict):
    """The restore machine's state on its load-balancer path."""

    request: dict[str, Any]
    execution_arn: str
    started_at: str | None = None
    settings: RestoreSettings = Field(default_factory=RestoreSettings)
    load_balancer_arn: str | None = None
    listeners: list[LoadBalancerListener] = Field(default_factory=list)
    rollback_order: list[LoadBalancerListener] = Field(default_factory=list)  # newest first
    unchanged: list[str] = Field(default_factory=list)  # already match their snapshots
    left_alone: list[dict[str, str]] = Field(default_factory=list)
    locked: list[str] = Field(default_factory=list)  # every listener whose lock it took
    plan_location: str | None = None  # the whole plan (every listener's), as approved
    plan_sha256: str | None = None
    plan: PlanSummary | None = None
    changes: int | None = None
    approval: dict[str, Any] | None = None
    error: StepError | None = None
    rollbacks: list[ListenerRollback] | None = None
    rollback_map_error: StepError | None = None  # the compensation itself failed
    outcome: RestoreOutcomeName | None = None
    notification: Notification | None = None

    def parsed_request(self) -> LoadBalancerRestoreRequest:
        return parse(LoadBalancerRestoreRequest, self.request, "the restore input")


def dump_load_balancer(state: LoadBalancerRestoreState) -> dict[str, Any]:
    """:func:`dump`, each listener's item whole: the Maps' ItemSelector names every field of
    an item, and a path to a field that is not there fails the execution (a null does not)."""
    document = dump(state)
    for name in ("listeners", "rollback_order"):
        document[name] = [item.model_dump(mode="json") for item in getattr(state, name)]
    return document
