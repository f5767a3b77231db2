"""Every message the state machines send to the SNS topic, built in one place.

Each message has:

- a subject that says what happened and to which listener (load balancer name and port, or
  load balancer name and listener id) or to how many. SNS takes a subject of ASCII text with
  no line breaks or control characters, shorter than 100 characters (SNS ``Publish`` API
  reference), so :func:`subject` makes it so;
- a short plain-text body: what happened in one sentence, the counts, the plan summary, and
  what to do next, with exact commands;
- the execution's ARN and a link to it in the Step Functions console of its own region and
  partition (:func:`console_link`).

The handlers only build a state document and publish (or let the state machine publish) what
these functions return. ``docs/notifications.md`` shows a real example of each.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .arns import parse_listener_arn
from .errors import InvalidInput
from .state_documents import (
    BackupSummary,
    ListenerResult,
    LoadBalancerRestoreState,
    Notification,
    PlanSummary,
    RestoreState,
    StepError,
)
from .versions import ChangeEvent
from .workflows import explain_cause

if TYPE_CHECKING:
    from .drill import DrillReport

SUBJECT_LIMIT = 99  # SNS: "less than 100 characters"
SHOWN_LISTENERS = 20  # listeners named in a backup message; the rest are counted
SHOWN_FAILURES = 20

# The console of each partition. The commercial one has regional endpoints
# (https://REGION.console.aws.amazon.com, AWS General Reference, "AWS Management Console
# endpoints"); for China and GovCloud the partition's console host is used with ?region=.
CONSOLE_HOSTS = {
    "aws": "{region}.console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}

OUTCOME_WORDS = {
    "RESTORED": "succeeded",
    "NO_CHANGES": "found nothing to change",
    "DRY_RUN": "planned (dry run)",
    "ROLLED_BACK": "failed and was rolled back",
    "ROLLBACK_FAILED": "failed and the ROLLBACK FAILED",
    "REJECTED": "was rejected",
    "TIMED_OUT": "timed out waiting for approval",
    "REFUSED": "was refused",
    "LOCKED": "was refused: the listener is locked",
    "LISTENER_CHANGED": "was stopped: the listener changed",
    "FAILED": "failed before any change",
}

HEADLINES = {
    "RESTORED": "The restore of {label} succeeded: the listener now matches the snapshot "
    "(checked after the changes).",
    "NO_CHANGES": "The restore of {label} found nothing to change: the listener already matches "
    "the snapshot.",
    "DRY_RUN": "Dry run of a restore of {label}: the plan is below; nothing was changed.",
    "ROLLED_BACK": "The restore of {label} failed and was rolled back: the listener is as it was "
    "before the restore (checked after the rollback).",
    "ROLLBACK_FAILED": "ACTION NEEDED: {label} is NOT as it was before the restore. "
    "The restore failed and the rollback failed too.",
    "REJECTED": "The restore of {label} was rejected; nothing was changed.",
    "TIMED_OUT": "Nobody approved the restore of {label} in time; nothing was changed.",
    "REFUSED": "The restore of {label} was refused before any change; nothing was changed.",
    "LOCKED": "The restore of {label} was refused: another restore holds the listener's lock; "
    "nothing was changed.",
    "LISTENER_CHANGED": "The restore of {label} was stopped: the listener changed after its "
    "pre-restore snapshot was taken; nothing was changed.",
    "FAILED": "The restore of {label} failed before any change (not because of its input: a "
    "timeout or an error of albrules); nothing was changed. Start it again, and report the "
    "error below if it repeats.",
}

LINK_LABELS = {"review": "Review the plan and decide", "approve": "Approve", "reject": "Reject"}


# --- the parts every message shares -----------------------------------------------------------


def subject(text: str) -> str:
    """``text`` as SNS accepts a subject: printable ASCII on one line, under 100 characters."""
    clean = "".join(ch if " " <= ch <= "~" else " " for ch in text)
    clean = " ".join(clean.split())
    if len(clean) > SUBJECT_LIMIT:
        clean = clean[: SUBJECT_LIMIT - 3].rstrip() + "..."
    return clean


def fitted(template: str, label: str) -> str:
    """``template`` with ``{label}`` filled in as a subject, shortening the label (never the
    words around it, which say what happened) when the whole would be too long."""
    room = SUBJECT_LIMIT - len(template.replace("{label}", ""))
    if len(label) > room:
        label = label[: max(room - 3, 1)].rstrip() + "..."
    return subject(template.replace("{label}", label))


def listener_label(listener_arn: str | None, port: int | None = None) -> str:
    """``shop:443`` when the port is known, else ``shop listener 1a2b3c4d``."""
    if not listener_arn:
        return "an unknown listener"
    try:
        parsed = parse_listener_arn(listener_arn)
    except InvalidInput:
        return listener_arn
    if port:
        return f"{parsed.load_balancer_name}:{port}"
    return f"{parsed.load_balancer_name} listener {parsed.listener_id[:8]}"


def console_link(execution_arn: str) -> str | None:
    """The execution's page in the Step Functions console of its own region and partition
    (None for an ARN that is not an execution's, or a partition without a known console)."""
    parts = execution_arn.split(":")
    if len(parts) < 8 or parts[0] != "arn" or parts[2] != "states" or parts[5] != "execution":
        return None
    partition, region = parts[1], parts[3]
    host = CONSOLE_HOSTS.get(partition)
    if host is None or not region:
        return None
    return (
        f"https://{host.format(region=region)}/states/home?region={region}"
        f"#/v2/executions/details/{execution_arn}"
    )


def execution_lines(execution_arn: str) -> list[str]:
    link = console_link(execution_arn)
    region = execution_arn.split(":")[3] if execution_arn.count(":") >= 3 else "its region"
    return [
        f"Execution: {execution_arn}",
        f"Console: {link}"
        if link
        else f"Console: open Step Functions in {region} and search for the execution above",
    ]


def _error_line(error: StepError) -> str:
    name = error.Error or "Error"
    cause = explain_cause(error.Cause) or "(no cause given)"
    return cause if cause.startswith(name) else f"{name}: {cause}"


def _kinds(counts: Iterable[tuple[int, str]]) -> str:
    return ", ".join(f"{n} {word}" for n, word in counts if n)


def plan_lines(plan: PlanSummary | None, plan_location: str | None) -> list[str]:
    """``Plan: 4 mutating call(s) for 4 changed rule(s): 1 to create, ...`` and the first
    calls, numbered (the same words as ``albrules plan``)."""
    if plan is None:
        return []
    lines = [f"Plan: {plan.headline()}."]
    lines += [f"  warning: {item}" for item in plan.warnings]
    if not plan.changes:
        return lines
    lines += [f"  {op}" for op in plan.operations]
    if plan.more:
        lines.append(f"  ... and {plan.more} more (full plan: {plan_location})")
    for item in plan.unresolved:
        lines.append(f"  not planned: {item}")
    return lines


def rule_changes(state: RestoreState) -> int:
    """How many rules a restore's plan changes (the default actions count as one)."""
    if state.plan is None:
        return state.changes or 0
    return state.plan.rules + int(bool(state.plan.default_actions))


def _body(*sections: list[str]) -> str:
    """Sections separated by one blank line; empty sections left out."""
    return "\n\n".join("\n".join(section) for section in sections if section)


# --- backup -----------------------------------------------------------------------------------


def _changes(result: ListenerResult) -> int:
    drift = result.drift
    if drift is None:
        return 0
    return drift.added + drift.removed + drift.changed + drift.moved + int(drift.default_actions)


def _drift_section(drifted: list[ListenerResult]) -> list[str]:
    lines = []
    for result in drifted[:SHOWN_LISTENERS]:
        drift = result.drift
        assert drift is not None
        counts = _kinds(
            [
                (drift.added, "added"),
                (drift.removed, "removed"),
                (drift.changed, "changed"),
                (drift.moved, "moved"),
            ]
        )
        if drift.default_actions:
            counts = f"{counts}, default actions changed" if counts else "default actions changed"
        lines += [
            f"{listener_label(result.listener_arn, result.port)}: {counts}",
            f"  listener: {result.listener_arn}",
            *(f"  - {line}" for line in drift.lines or []),
        ]
        if drift.more:
            lines.append(f"  - and {drift.more} more")
        if drift.previous:
            lines += [
                f"  previous snapshot: {drift.previous}",
                f"  new snapshot:      {result.location}",
                f"  whole difference:  albrules plan {drift.previous}",
                f"  to undo it:        albrules restore {drift.previous}",
            ]
        else:
            lines.append(f"  new snapshot:      {result.location}")
    if len(drifted) > SHOWN_LISTENERS:
        lines.append(f"... and {len(drifted) - SHOWN_LISTENERS} more listener(s) drifted.")
    return lines


def _counts_line(summary: BackupSummary) -> str:
    return (
        f"Backup: {summary.listeners} listener(s), {summary.rules} rule(s): {summary.stored} "
        f"stored, {summary.unchanged} unchanged, {summary.failed} failed."
    )


def backup_failed(
    summary: BackupSummary,
    drifted: list[ListenerResult],
    execution_arn: str,
    results_location: str | None = None,
) -> Notification:
    """Some listeners (or whole targets) were not backed up; drift found is told here too."""
    unreachable = len(summary.discovery_failures)
    parts = []
    if summary.failed:
        parts.append(f"{summary.failed} of {summary.listeners} listener(s) failed")
    if unreachable:
        parts.append(f"{unreachable} target(s) not reachable")
    if drifted:
        parts.append(f"drift on {len(drifted)}")
    head = [
        "The backup did not back up every listener; the others were backed up.",
        _counts_line(summary),
    ]
    if summary.location:
        head.append(f"Snapshots: {summary.location}")
    failures = []
    if summary.failed_listeners:
        failures.append("Not backed up:")
        for result in summary.failed_listeners[:SHOWN_FAILURES]:
            error = _error_line(StepError(Error=result.error, Cause=result.cause))
            failures.append(f"- {listener_label(result.listener_arn)}: {error}"[:400])
            failures.append(f"  listener: {result.listener_arn}")
        hidden = summary.failed - min(len(summary.failed_listeners), SHOWN_FAILURES)
        if hidden > 0:
            failures.append(f"... and {hidden} more")
    if unreachable:
        failures.append("Targets not reachable (none of their listeners was backed up):")
        for failure in summary.discovery_failures[:SHOWN_FAILURES]:
            where = f"account {failure.account_id} {failure.region}"
            failures.append(f"- {where}: {failure.error}"[:400])
    drift = ["Drift since the previous snapshots:", *_drift_section(drifted)] if drifted else []
    after = ["Fix the cause, then run the backup again; unchanged listeners are not written twice."]
    if results_location:
        after.append(f"Every listener's result: {results_location}")
    return Notification(
        subject=subject("albrules backup: " + ", ".join(parts)),
        message=_body(head, failures, drift, after, execution_lines(execution_arn)),
    )


def drift_detected(
    summary: BackupSummary,
    drifted: list[ListenerResult],
    execution_arn: str,
    results_location: str | None = None,
) -> Notification:
    """Listeners whose rules changed since their previous snapshot (the backup itself worked)."""
    changes = sum(_changes(r) for r in drifted)
    if len(drifted) == 1:
        only = drifted[0]
        what = f"{listener_label(only.listener_arn, only.port)} ({changes} rule change(s))"
    else:
        what = f"{len(drifted)} listeners ({changes} rule change(s))"
    head = [
        f"Drift detected: {len(drifted)} listener(s) changed since their previous snapshot.",
        _counts_line(summary),
    ]
    if summary.location:
        head.append(f"Snapshots: {summary.location}")
    after = [
        "If a change was not intended, `albrules plan PREVIOUS` shows the whole difference and "
        "`albrules restore PREVIOUS` puts the listener back as it was (commands above).",
    ]
    if results_location:
        after.append(f"Every listener's result: {results_location}")
    return Notification(
        subject=fitted("albrules: drift detected on {label}", what),
        message=_body(head, _drift_section(drifted), after, execution_lines(execution_arn)),
    )


def backup_notifications(
    summary: BackupSummary,
    results: list[ListenerResult],
    execution_arn: str,
    results_location: str | None = None,
) -> tuple[Notification | None, Notification | None]:
    """(failure message, drift message). When listeners failed, one message tells both, so
    a run sends at most one; a clean run with no drift sends none."""
    drifted = [r for r in results if r.status == "stored" and r.drift is not None]
    if summary.failed or summary.discovery_failures:
        return backup_failed(summary, drifted, execution_arn, results_location), None
    if drifted:
        return None, drift_detected(summary, drifted, execution_arn, results_location)
    return None, None


# --- restore ----------------------------------------------------------------------------------


def _when(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _who(state: RestoreState | LoadBalancerRestoreState) -> list[str]:
    request = state.request
    note = request.get("requested_by") or "not given"
    lines = [f"Requested by (as given by the requester): {note}"]
    if request.get("reason"):
        lines.append(f"Reason: {request['reason']}")
    return lines


def _chosen(state: RestoreState) -> list[str]:
    """Why this snapshot, when the input chose it by time or by event (``at``,
    ``before_change``): the restore's own words, from the catalog."""
    reason = (state.snapshot_choice or {}).get("reason")
    return [f"Chosen as {reason}"] if reason else []


def approval_request(
    state: RestoreState, links: dict[str, str] | None, expires_at: int
) -> Notification:
    """A restore waits for a person: the plan, the links and the commands that decide."""
    note = state.recreate
    listener = state.listener_arn or (note.old_listener_arn if note else None)
    label = listener_label(listener)
    head = [
        f"A restore of {label} is waiting for your approval; nothing has been changed yet.",
        f"Listener: {listener}",
        *(
            [
                f"Recreate: the listener no longer exists; create listener {note.protocol}:"
                f"{note.port} on load balancer {note.load_balancer_name}, then the plan below"
            ]
            if note
            else []
        ),
        *_who(state),
        f"Snapshot: {state.snapshot_location}",
        *_chosen(state),
        f"Expires: {_when(expires_at)} (no decision by then: the restore ends, nothing changed)",
    ]
    decide = []
    for kind, url in (links or {}).items():
        decide.append(f"{LINK_LABELS.get(kind, kind.capitalize())}: {url}")
    decide += [
        "Or from a terminal:",
        f"  albrules approve {state.execution_arn}",
        f"  albrules reject {state.execution_arn} --reason '...'",
    ]
    return Notification(
        subject=fitted(
            f"albrules: approve restore of {{label}} ({rule_changes(state)} rule change(s))", label
        ),
        message=_body(
            head,
            plan_lines(state.plan or PlanSummary(changes=0), state.plan_location),
            decide,
            execution_lines(state.execution_arn),
        ),
    )


def recovery_commands(state: RestoreState) -> list[str]:
    """The exact commands that put a listener back from its pre-restore snapshot."""
    pre = state.pre_restore_location
    if not pre:
        return ["The pre-restore snapshot's location is not known; find it in the execution."]
    target = f" --listener-arn {state.listener_arn}" if state.listener_arn else ""
    secrets = state.request.get("oidc_secrets") or {}
    extra = "".join(f" --oidc-secret {c}={arn}" for c, arn in sorted(secrets.items()))
    where = ""
    if state.listener_arn:
        try:
            parsed = parse_listener_arn(state.listener_arn)
            where = f" (with credentials for account {parsed.account} in {parsed.region})"
        except InvalidInput:
            where = ""
    return [
        f"Put it back by hand from the pre-restore snapshot, taken just before the restore{where}:",
        f"  albrules plan {pre}{target}{extra}",
        f"  albrules restore {pre}{target}{extra} --yes",
        "The first command shows what the second will change. docs/runbook.md has the details.",
    ]


def restore_outcome(state: RestoreState, outcome: str) -> Notification:
    """How a restore ended, for whoever started it and whoever is on call."""
    note = state.recreate
    listener = state.listener_arn or (note.old_listener_arn if note else None)
    label = listener_label(listener)
    count = rule_changes(state)
    changes = f" ({count} rule change(s))" if count else ""
    head = [HEADLINES[outcome].format(label=label)]
    recovery = recovery_commands(state) if outcome == "ROLLBACK_FAILED" else []
    recreated = []
    if note is not None:
        made = f"as {note.listener_arn}" if note.listener_arn else "(deleted again or never made)"
        recreated = [
            f"Recreated: {note.old_listener_arn} no longer existed; listener {note.protocol}:"
            f"{note.port} on load balancer {note.load_balancer_name} {made}"
        ]
    facts = [
        f"Listener: {listener or 'not known (the input was refused)'}",
        *recreated,
        *_who(state),
        f"Snapshot: {state.snapshot_location or state.request.get('snapshot')}",
        *_chosen(state),
    ]
    if state.pre_restore_location:
        facts.append(f"Pre-restore snapshot: {state.pre_restore_location}")
    if state.plan_location:
        facts.append(f"Plan: {state.plan_location}")
    if state.journal_location:
        facts.append(f"Journal of the calls made: {state.journal_location}")
    errors = []
    if state.error is not None:
        errors.append(f"What went wrong: {_error_line(state.error)}")
    if state.rollback_error is not None:
        errors.append(f"Why the rollback failed: {_error_line(state.rollback_error)}")
    return Notification(
        subject=fitted(f"albrules: restore of {{label}} {OUTCOME_WORDS[outcome]}{changes}", label),
        message=_body(
            head,
            recovery,
            facts,
            errors,
            plan_lines(state.plan, state.plan_location),
            execution_lines(state.execution_arn),
        ),
    )


# --- change-triggered backups (NotifyOnChange) -------------------------------------------------

SHOWN_CHANGES = 20


def change_noted(
    listener_arn: str,
    port: int | None,
    events: list[ChangeEvent],
    lines: list[str],
    previous: str | None,
    location: str,
) -> Notification:
    """A listener changed: who changed it, through which calls, and the rules changed (in the
    drift view's words), with the snapshot taken after it."""
    who = list(dict.fromkeys(e.by for e in events)) or ["someone CloudTrail did not name"]
    label = listener_label(listener_arn, port)
    head = [
        f"Listener {label} was changed by {', '.join(who)}.",
        f"  listener: {listener_arn}",
    ]
    calls = [f"  - {e.time} {e.name} by {e.by} (event {e.id})" for e in events[:SHOWN_CHANGES]]
    if len(events) > SHOWN_CHANGES:
        calls.append(f"  - and {len(events) - SHOWN_CHANGES} more call(s)")
    if previous is None:
        changed = ["Rules changed: this is its first snapshot, nothing to compare with."]
    elif lines:
        changed = [
            "Rules changed since the previous snapshot:",
            *(f"  - {line[:160]}" for line in lines[:SHOWN_CHANGES]),
        ]
        if len(lines) > SHOWN_CHANGES:
            changed.append(f"  - and {len(lines) - SHOWN_CHANGES} more")
    else:
        changed = ["Rules changed: none (it routes as its previous snapshot did)."]
    after = [f"New snapshot:      {location}"]
    if previous:
        after += [
            f"Previous snapshot: {previous}",
            f"To undo it:        albrules restore {previous}",
        ]
    return Notification(
        subject=fitted("albrules: {label} changed", label),
        message=_body(head, ["Calls:", *calls], changed, after),
    )


def drill_results(reports: list[DrillReport], load_balancer: str) -> Notification:
    """Scheduled drills ended: how many snapshots proved restorable, and each that did not
    with its reasons (a backup that cannot be restored, found before the incident)."""
    failed = [r for r in reports if not r.restorable]
    if failed:
        head = (
            f"{len(failed)} of {len(reports)} drilled snapshot(s) could not be restored on "
            f"{load_balancer}."
        )
        title = f"albrules: {len(failed)} snapshot(s) not restorable"
    else:
        head = (
            f"All {len(reports)} drilled snapshot(s) were restored on {load_balancer} and verified."
        )
        title = f"albrules: {len(reports)} snapshot(s) restorable"
    lines = []
    for report in failed:
        lines.append(f"{report.status}: {report.listener_arn}")
        lines.append(f"  snapshot: {report.snapshot}")
        lines += [f"  - {reason[:300]}" for reason in report.reasons[:SHOWN_CHANGES]]
        if len(report.reasons) > SHOWN_CHANGES:
            lines.append(f"  - and {len(report.reasons) - SHOWN_CHANGES} more")
    ok = [f"restorable: {r.listener_arn} ({r.rules} rules)" for r in reports if r.restorable]
    tail = [f"To drill one by hand: albrules drill SNAPSHOT --load-balancer {load_balancer}"]
    return Notification(subject=subject(title), message=_body([head], lines, ok, tail))


# --- a restore of a whole load balancer -------------------------------------------------------

LISTENER_WORDS = {
    "restored": "restored and verified",
    "rolled back": "rolled back to its pre-restore snapshot (checked)",
    "rollback failed": "NOT rolled back: put it back by hand from its pre-restore snapshot",
    "unchanged": "unchanged",
    # a listener that no longer existed, recreated from its snapshot
    "recreated": "recreated from its snapshot and verified",
    "deleted": "recreated, then deleted again (the load balancer is as it was)",
}
RECREATION_FAILED = "NOT rolled back: delete the listener this restore created by hand"


def _listener_line(item: dict[str, Any]) -> str:
    """One listener of a whole-load-balancer restore: where, what happened (a recreated one
    names its old listener and the new one)."""
    old = item.get("old_listener_arn")
    label = listener_label(item.get("listener_arn") or old, item.get("port"))
    status = str(item["status"])
    words = LISTENER_WORDS.get(status, status)
    if old:
        words = RECREATION_FAILED if status == "rollback failed" else words
        new = item.get("listener_arn")
        words += f" (was {old}" + (f"; created {new})" if new else ")")
    if item.get("pre_restore"):
        words += f" (pre-restore snapshot: {item['pre_restore']})"
    return f"- {label}: {words}"


def load_balancer_outcome(
    state: LoadBalancerRestoreState, outcome: str, listeners: list[dict[str, Any]]
) -> Notification:
    """How a restore of every listener of a load balancer ended, naming each listener."""
    name = str(state.request.get("load_balancer") or "a load balancer")
    label = f"load balancer {name}"
    head = [HEADLINES[outcome].format(label=label).replace("the listener ", "every listener ")]
    lines = [_listener_line(item) for item in listeners]
    facts = [
        f"Load balancer: {state.load_balancer_arn or name}",
        *_who(state),
    ]
    if state.plan_location:
        facts.append(f"Plan: {state.plan_location}")
    errors = [f"What went wrong: {_error_line(state.error)}"] if state.error else []
    return Notification(
        subject=fitted(f"albrules: restore of {{label}} {OUTCOME_WORDS[outcome]}", label),
        message=_body(
            head,
            ["Listeners:", *lines] if lines else [],
            facts,
            errors,
            plan_lines(state.plan, state.plan_location),
            execution_lines(state.execution_arn),
        ),
    )
