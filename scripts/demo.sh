#!/usr/bin/env bash
# The whole story on the embedded local AWS, no AWS account needed:
# set up, start the local AWS, seed, back up, break the rules, plan, restore, check;
# then a restore whose apply fails part-way, and the automatic rollback.
# Then the same story through the SAM application (template.yaml) deployed into the local AWS:
# a scheduled-style backup, a restore that waits for approval, and one that rolls back;
# a change by another IAM user in the history, restore --at, and a deleted listener recreated.
# Every expected outcome is checked: the demo exits non-zero if one does not happen.
set -euo pipefail
cd "$(dirname "$0")/.."

ALBRULES=${ALBRULES:-albrules}
PORT=${DEMO_PORT:-4566}
OUT=demo-out
export ALBRULES_HOME="$PWD/$OUT/home"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
PY=$(dirname "$(command -v "$ALBRULES")")/python  # albrules's own Python, with boto3
[ -x "$PY" ] || PY=python3
run() { printf '\033[2m$ albrules %s\033[0m\n' "$*"; "$ALBRULES" "$@"; }

rm -rf "$OUT" && mkdir -p "$OUT"
"$ALBRULES" local down --port "$PORT" >/dev/null 2>&1 || true
trap '"$ALBRULES" local down --port "$PORT" >/dev/null 2>&1 || true' EXIT

say "1. Start the local AWS (moto plus albrules' fidelity layer) and use it"
eval "$("$ALBRULES" local up --port "$PORT")"
echo "AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL"

say "2. Seed two load balancers with listeners and rules"
run local seed --port "$PORT"
WEB=$("$ALBRULES" local seed --port "$PORT" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["listeners"]["shop-web:80"]["arn"])')

say "3. Back up every listener of both load balancers"
run backup --load-balancer shop-web --load-balancer shop-api --out "$OUT/backups"
run list "$OUT/backups"
SNAPSHOT=$(ls "$OUT"/backups/*/*/shop-web/"${WEB##*/}"/*.json)
run show "$SNAPSHOT"

say "4. Nothing changed, so a second backup writes nothing"
run backup --listener-arn "$WEB" --out "$OUT/backups"

say "5. A bad deploy breaks shop-web:80 (rules deleted, edited, reordered, untagged)"
run local break --port "$PORT" --listener-arn "$WEB"

say "5b. Drift: what changed since the backup (exit code 5: drift found)"
set +e
run drift --listener-arn "$WEB" --against "$OUT/backups"
CODE=$?
set -e
echo "exit code: $CODE"
[ "$CODE" -eq 5 ] || { echo "expected exit code 5 (drift found), got $CODE"; exit 1; }

say "6. The plan: minimal, ordered, with a per-rule diff"
run plan "$SNAPSHOT"

say "7. Restore it (pre-restore snapshot, apply, verify)"
run restore "$SNAPSHOT" --yes

say "8. The listener is back: same checksum as the backup, and nothing left to plan"
run backup --listener-arn "$WEB" --out "$OUT/backups"
run plan "$SNAPSHOT"

say "9. Break it again, and make AWS fail the 2nd CreateRule of the next restore"
run local break --port "$PORT" --listener-arn "$WEB"
BEFORE=$("$ALBRULES" backup --listener-arn "$WEB" --out "$OUT/broken.json" --force | awk '{print $NF}')
run local fault CreateRule --nth 2 --port "$PORT"

say "10. The restore fails part-way and rolls back by itself (exit code 3)"
set +e
run restore "$SNAPSHOT" --yes
CODE=$?
set -e
echo "exit code: $CODE"
[ "$CODE" -eq 3 ] || { echo "expected exit code 3 (rolled back)"; exit 1; }
AFTER=$("$ALBRULES" backup --listener-arn "$WEB" --out "$OUT/after-rollback.json" --force | awk '{print $NF}')
echo "listener checksum before the failed restore: $BEFORE, after the rollback: $AFTER"
[ "$BEFORE" = "$AFTER" ] || { echo "the rollback did not bring the listener back"; exit 1; }

say "11. With AWS healthy again, the same restore goes through"
run restore "$SNAPSHOT" --yes

fail() { echo "demo failed: $*" >&2; exit 1; }
checksum_of() {  # the checksum (first 12 hex digits) of a fresh snapshot of listener $1
  "$ALBRULES" backup --listener-arn "$1" --out "$OUT/$2.json" --force | awk '{print $NF}'
}

say "12. The workflows: deploy the SAM application (template.yaml) into the local AWS"
# ChangeSettleSeconds=5: change-triggered backups wait 5 s of quiet here (30 s by default).
run local deploy --port "$PORT" --parameter-overrides MemberExternalId=demo \
  --parameter-overrides ChangeSettleSeconds=5

say "13. A scheduled backup (the scheduler's input) of every listener of shop-web and shop-api"
if [ -f events/backup.json ]; then
  BACKUP_INPUT=events/backup.json
else
  BACKUP_INPUT="$OUT/backup-input.json"
  cat >"$BACKUP_INPUT" <<'JSON'
{"targets": [{"account_id": "123456789012", "region": "us-east-1",
              "load_balancers": ["shop-web", "shop-api"]}]}
JSON
fi
echo "input ($BACKUP_INPUT):"; cat "$BACKUP_INPUT"
run run backup --input "$BACKUP_INPUT" | tee "$OUT/run-backup.out"
LOCATION=$(sed -n 's/^ *"location": "\(s3:[^"]*\)".*/\1/p' "$OUT/run-backup.out")
grep -q '"listeners": 4,' "$OUT/run-backup.out" || fail "the backup did not cover the 4 listeners"
grep -q '"failed": 0,' "$OUT/run-backup.out" || fail "a listener was not backed up"
[ -n "$LOCATION" ] || fail "the backup summary has no location"
run list "$LOCATION"
read -r WF_SNAPSHOT WF_CHECKSUM < <("$ALBRULES" list "$LOCATION" --json | python3 -c '
import json, sys
found = [s for s in json.load(sys.stdin) if s["listener_id"] == sys.argv[1]]
print(found[0]["location"], found[0]["short_checksum"])' "${WEB##*/}")
echo "snapshot of shop-web:80: $WF_SNAPSHOT (catalog id $WF_CHECKSUM)"

say "14. Break shop-web:80 again; a restore that waits for approval"
run local break --port "$PORT" --listener-arn "$WEB"
cat >"$OUT/restore-approval.json" <<JSON
{"snapshot": "$WF_SNAPSHOT", "listener_arn": "$WEB",
 "require_approval": true, "reason": "undo the bad deploy of shop-web:80"}
JSON
echo "input ($OUT/restore-approval.json):"; cat "$OUT/restore-approval.json"
run run restore --input "$OUT/restore-approval.json" --no-wait | tee "$OUT/run-restore.out"
EXECUTION=$(awk '/^execution /{print $2; exit}' "$OUT/run-restore.out")
[ -n "$EXECUTION" ] || fail "no execution ARN in the output of run restore"

say "15. Four eyes: who started it cannot approve it; bob, another IAM user, approves it"
# Identities come from AWS authentication: the local AWS maps each access key to its IAM user.
# You started the restore with the default key (user/moto); bob gets a user and a key of his
# own, allowed to call the stack's decision URL (lambda:InvokeFunctionUrl, InvokeFunction).
read -r BOB_KEY BOB_SECRET < <("$PY" - <<'PY'
import json, boto3
iam = boto3.client("iam", region_name="us-east-1")
iam.create_user(UserName="bob")
iam.put_user_policy(UserName="bob", PolicyName="decide-restores", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow",
                   "Action": ["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"],
                   "Resource": "arn:aws:lambda:us-east-1:123456789012:function:*"}]}))
key = iam.create_access_key(UserName="bob")["AccessKey"]
print(key["AccessKeyId"], key["SecretAccessKey"])
PY
)
as_bob() { AWS_ACCESS_KEY_ID="$BOB_KEY" AWS_SECRET_ACCESS_KEY="$BOB_SECRET" "$@"; }
# approve_when_asked OUT ERR COMMAND...: run the approve COMMAND, again every 0.5 s (at most
# ~60 s) while no approval request is out yet; sets CODE to its exit code.
approve_when_asked() {
  local out=$1 err=$2 attempt
  shift 2
  for attempt in $(seq 1 120); do
    set +e
    "$@" >"$out" 2>"$err"
    CODE=$?
    set -e
    if [ "$CODE" -eq 2 ] && grep -q "no approval is pending" "$err"; then
      sleep 0.5
      continue
    fi
    break
  done
  echo "(approval request found after $attempt attempt(s))"
}
printf '\033[2m$ albrules approve %s    # as you, who started it\033[0m\n' "$EXECUTION"
approve_when_asked "$OUT/self-approve.out" "$OUT/self-approve.err" "$ALBRULES" approve "$EXECUTION"
cat "$OUT/self-approve.err" >&2
echo "exit code: $CODE"
[ "$CODE" -eq 2 ] || fail "approving your own restore should exit 2, got $CODE"
grep -q "someone else must approve it" "$OUT/self-approve.err" || fail "self-approval not refused"
printf '\033[2m$ albrules approve %s --wait    # as bob\033[0m\n' "$EXECUTION"
set +e
as_bob "$ALBRULES" approve "$EXECUTION" --wait --timeout 120 >"$OUT/approve.out" 2>"$OUT/approve.err"
CODE=$?
set -e
cat "$OUT/approve.out"; cat "$OUT/approve.err" >&2
echo "exit code: $CODE"
[ "$CODE" -eq 0 ] || fail "the approved restore did not succeed (exit code $CODE)"
run audit --execution-arn "$EXECUTION" --port "$PORT"
grep -q "^status: SUCCEEDED" "$OUT/approve.out" || fail "the restore did not succeed"
echo "What the notification topic sent (on AWS: to NotificationEmail), the approval request first:"
run local notifications --port "$PORT" --last 2 | tee "$OUT/notifications.out"
grep -q "^Subject: albrules: approve restore of shop-web" "$OUT/notifications.out" \
  || fail "no approval request on the topic"
grep -q "^Review the plan and decide: http://127.0.0.1:$PORT/" "$OUT/notifications.out" \
  || fail "the approval request has no link to the local approval page"

say "16. The listener matches the backup: nothing left to plan, same checksum"
run plan "$WF_SNAPSHOT"
CHANGES=$("$ALBRULES" plan "$WF_SNAPSHOT" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["changes"])')
[ "$CHANGES" -eq 0 ] || fail "the plan still has $CHANGES change(s) after the restore"
NOW=$(checksum_of "$WEB" after-workflow-restore)
echo "listener checksum now: $NOW, in the backup: $WF_CHECKSUM"
[ "$NOW" = "$WF_CHECKSUM" ] || fail "the listener does not match the backup"

say "17. Break it again, make AWS fail the 2nd CreateRule; the restore rolls back (exit code 3)"
run local break --port "$PORT" --listener-arn "$WEB"
BEFORE=$(checksum_of "$WEB" before-workflow-rollback)
run local fault CreateRule --nth 2 --port "$PORT"
cat >"$OUT/restore.json" <<JSON
{"snapshot": "$WF_SNAPSHOT", "listener_arn": "$WEB", "reason": "undo the bad deploy again"}
JSON
# ApprovalPolicy=required (the default): it waits for approval even though its input does not
# ask for one; bob approves it and waits for its end.
run run restore --input "$OUT/restore.json" --no-wait | tee "$OUT/run-rollback.out"
ROLLED_BACK=$(awk '/^execution /{print $2; exit}' "$OUT/run-rollback.out")
[ -n "$ROLLED_BACK" ] || fail "no execution ARN in the output of run restore"
printf '\033[2m$ albrules approve %s --wait    # as bob\033[0m\n' "$ROLLED_BACK"
approve_when_asked "$OUT/rollback-approve.out" "$OUT/run-rollback.err" \
  as_bob "$ALBRULES" approve "$ROLLED_BACK" --wait --timeout 120
cat "$OUT/rollback-approve.out"; cat "$OUT/run-rollback.err" >&2
echo "exit code: $CODE"
[ "$CODE" -eq 3 ] || fail "expected exit code 3 (rolled back), got $CODE"
grep -q "^error: RestoreRolledBack" "$OUT/run-rollback.err" || fail "the error is not RestoreRolledBack"
AFTER=$(checksum_of "$WEB" after-workflow-rollback)
echo "listener checksum before the failed restore: $BEFORE, after the rollback: $AFTER"
[ "$BEFORE" = "$AFTER" ] || fail "the rollback did not bring the listener back"

say "18. Watch an execution: its states, the plan and the outcome, from its history (exit code 3)"
set +e
run watch "$ROLLED_BACK"
CODE=$?
set -e
echo "exit code: $CODE"
[ "$CODE" -eq 3 ] || fail "watch should end with the restore's exit code 3, got $CODE"

say "19. Continuous protection: erin, another IAM user, edits a rule; seconds later the history says who"
# Wait for the change backups of the restores above to settle: the moment before erin's
# change then has its snapshot.
changes_idle() {
  "$PY" - <<'PY'
import time, boto3
sfn = boto3.client("stepfunctions")
machine = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
               if m["name"].endswith("-changes"))
deadline = time.time() + 60
while sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]:
    if time.time() > deadline:
        raise SystemExit("the change backups did not settle within 60 s")
    time.sleep(0.5)
PY
}
changes_idle
BEFORE_ERIN=$(checksum_of "$WEB" before-erin)
AT=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
sleep 1
read -r ERIN_ARN EVENT_ID < <("$PY" - "$WEB" <<'PY'
import json, sys, time, boto3
iam = boto3.client("iam")
iam.create_user(UserName="erin")
iam.put_user_policy(UserName="erin", PolicyName="edit-rules", PolicyDocument=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["elasticloadbalancing:ModifyRule",
                   "elasticloadbalancing:DescribeRules"], "Resource": "*"}]}))
key = iam.create_access_key(UserName="erin")["AccessKey"]
erin = boto3.Session(aws_access_key_id=key["AccessKeyId"],
                     aws_secret_access_key=key["SecretAccessKey"]).client("elbv2")
rule = next(r for r in erin.describe_rules(ListenerArn=sys.argv[1])["Rules"]
            if not r["IsDefault"])
erin.modify_rule(RuleArn=rule["RuleArn"], Actions=[{
    "Type": "fixed-response",
    "FixedResponseConfig": {"StatusCode": "503", "ContentType": "text/plain",
                            "MessageBody": "down for maintenance"}}])
time.sleep(0.5)
found = boto3.client("cloudtrail").lookup_events(LookupAttributes=[
    {"AttributeKey": "EventName", "AttributeValue": "ModifyRule"}], MaxResults=1)["Events"]
print(iam.get_user(UserName="erin")["User"]["Arn"], found[0]["EventId"])
PY
)
echo "erin ($ERIN_ARN) changed rule 1 of shop-web:80 at $(date -u +%H:%M:%SZ) (CloudTrail event $EVENT_ID)"
STARTED=$(date +%s)
until "$ALBRULES" history --listener-arn "$WEB" --json 2>/dev/null | grep -q "$EVENT_ID"; do
  [ $(( $(date +%s) - STARTED )) -lt 60 ] || fail "erin's change is not in the history after 60 s"
  sleep 1
done
echo "in the history $(( $(date +%s) - STARTED )) s after the change:"
run history --listener-arn "$WEB" --since 2m | tee "$OUT/history.out"
grep -q "$ERIN_ARN" "$OUT/history.out" || fail "the history does not name erin"

say "20. Restore the moment before erin's change (restore --at), through the stack's catalog"
run restore --listener-arn "$WEB" --at "$AT" --yes | tee "$OUT/restore-at.out"
grep -q "^chose " "$OUT/restore-at.out" || fail "restore --at did not say which snapshot it chose"
AFTER_AT=$(checksum_of "$WEB" after-restore-at)
echo "listener checksum before erin's change: $BEFORE_ERIN, after restore --at: $AFTER_AT"
[ "$BEFORE_ERIN" = "$AFTER_AT" ] || fail "restore --at did not bring back the moment before"

say "21. Disaster: shop-web:80 is deleted, rules and all; recreate it from its snapshot"
run backup --listener-arn "$WEB" --out "$OUT/dr.json" --force
"$PY" - "$WEB" <<'PY'
import sys, boto3
boto3.client("elbv2").delete_listener(ListenerArn=sys.argv[1])
print("deleted", sys.argv[1])
PY
set +e
run restore "$OUT/dr.json" --yes
CODE=$?
set -e
[ "$CODE" -eq 2 ] || fail "a restore of a deleted listener without --recreate-listener should be refused (2), got $CODE"
run restore "$OUT/dr.json" --recreate-listener --yes | tee "$OUT/recreate.out"
NEW_WEB=$(grep -o 'as arn:aws:elasticloadbalancing:[^ ]*' "$OUT/recreate.out" | head -1 | cut -c4-)
[ -n "$NEW_WEB" ] || fail "the recreation did not print the new listener's ARN"
run backup --listener-arn "$NEW_WEB" --out "$OUT/recreated.json" --force
run diff "$OUT/dr.json" "$OUT/recreated.json" || fail "the recreated listener does not route as the deleted one did"
run history --listener-arn "$WEB" --since 5m | tee "$OUT/history-recreated.out"
grep -q "recreated as" "$OUT/history-recreated.out" || fail "the history does not link the deleted listener to its recreation"

say "Done. Snapshots, pre-restore snapshots and journals are under $OUT/ and in the local bucket"
