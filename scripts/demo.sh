#!/usr/bin/env bash
# The whole story on the embedded local AWS, no AWS account needed:
# set up, start the local AWS, seed, back up, break the rules, plan, restore, check;
# then a restore whose apply fails part-way, and the automatic rollback.
set -euo pipefail
cd "$(dirname "$0")/.."

ALBRULES=${ALBRULES:-albrules}
PORT=${DEMO_PORT:-4566}
OUT=demo-out
export ALBRULES_HOME="$PWD/$OUT/home"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
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

say "Done. Snapshots, pre-restore snapshots and journals are under $OUT/"
