#!/usr/bin/env bash
# A real SQS-compatible server on 127.0.0.1 for trying lazysqs and for its AWS backend
# tests: LocalStack community (localstack-core from PyPI) in a venv, no Docker needed.
#
#   scripts/local-sqs.sh install   create .venv-localstack (python >= 3.12) and install LocalStack
#   scripts/local-sqs.sh start     start it on 127.0.0.1:${LOCAL_SQS_PORT:-4566}, wait until ready
#   scripts/local-sqs.sh stop      stop it (SIGTERM, then SIGKILL after a few seconds)
#   scripts/local-sqs.sh status    say whether it runs (exit 0) or not (exit 3)
#   scripts/local-sqs.sh seed      (re)create a demo set of queues with a DLQ and failed messages
#
# Then: lazysqs --endpoint-url http://127.0.0.1:4566
#
# Environment: LOCAL_SQS_PORT (default 4566; each port has its own pid file, log and data
# folder under target/, so servers on two ports can run at once), LOCAL_SQS_START_TIMEOUT
# (seconds, default 90), LOCAL_SQS_PYTHON (a python >= 3.12 to build the venv with).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-localstack"
PORT="${LOCAL_SQS_PORT:-4566}"
HOST="127.0.0.1"
ENDPOINT="http://$HOST:$PORT"
STATE_DIR="$ROOT/target"
# Per-port state, so servers on two ports can run at once (tests stop and restart a
# second one); the default port keeps the plain names.
if [[ "$PORT" == 4566 ]]; then SUFFIX=""; else SUFFIX="-$PORT"; fi
LOG="$STATE_DIR/localstack$SUFFIX.log"
PID_FILE="$STATE_DIR/localstack$SUFFIX.pid"
DATA_DIR="$STATE_DIR/localstack$SUFFIX"
START_TIMEOUT="${LOCAL_SQS_START_TIMEOUT:-90}"
LOCALSTACK_VERSION="2026.3.0"
# Without these pins, start-up fails on cbor2, pyopenssl, service_identity and
# cryptography in turn (see shared/LOCAL_SQS.md).
PIP_PACKAGES=(
    "localstack-core[runtime]==$LOCALSTACK_VERSION"
    "cbor2<6"
    "pyopenssl<25"
    "cryptography>=41.0.5,<45"
    "service_identity"
    "joserfc<1.2"
)

say() { printf '[local-sqs] %s\n' "$*"; }
die() {
    printf '[local-sqs] error: %s\n' "$*" >&2
    exit 1
}

usage() {
    sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# A python >= 3.12: LOCAL_SQS_PYTHON, pyenv's 3.13.0, any pyenv 3.12+/3.13+, then PATH.
find_python() {
    local candidates=()
    [[ -n "${LOCAL_SQS_PYTHON:-}" ]] && candidates+=("$LOCAL_SQS_PYTHON")
    if command -v pyenv >/dev/null 2>&1; then
        local root
        root="$(pyenv root)"
        candidates+=("$root/versions/3.13.0/bin/python3.13")
        local v
        for v in $(ls -1 "$root/versions" 2>/dev/null | sort -rV); do
            candidates+=("$root/versions/$v/bin/python3")
        done
    fi
    candidates+=(python3.14 python3.13 python3.12 python3)
    local c
    for c in "${candidates[@]}"; do
        if command -v "$c" >/dev/null 2>&1 &&
            "$c" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
            command -v "$c"
            return 0
        fi
    done
    return 1
}

installed_version() {
    [[ -x "$VENV/bin/python" ]] || return 1
    "$VENV/bin/python" -c \
        'import importlib.metadata as m; print(m.version("localstack-core"))' 2>/dev/null
}

cmd_install() {
    local have
    have="$(installed_version || true)"
    if [[ "$have" == "$LOCALSTACK_VERSION" ]]; then
        say "LocalStack $LOCALSTACK_VERSION already installed in $VENV"
        return 0
    fi
    local py
    py="$(find_python)" || die "no python >= 3.12 found (tried pyenv and PATH); set LOCAL_SQS_PYTHON"
    if [[ ! -x "$VENV/bin/python" ]]; then
        say "creating $VENV with $py ($("$py" --version 2>&1))"
        "$py" -m venv "$VENV"
    fi
    say "installing LocalStack $LOCALSTACK_VERSION into $VENV (about a minute; ~500 MB)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PIP_PACKAGES[@]}"
    have="$(installed_version || true)"
    [[ "$have" == "$LOCALSTACK_VERSION" ]] || die "install finished but localstack-core is '$have'"
    say "installed LocalStack $have"
}

# The pid from the pid file, if that process is alive.
running_pid() {
    [[ -f "$PID_FILE" ]] || return 1
    local pid
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

port_in_use() {
    (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null
}

healthy() {
    curl -fsS --max-time 2 "$ENDPOINT/_localstack/health" >/dev/null 2>&1
}

cmd_start() {
    local pid
    if pid="$(running_pid)"; then
        if healthy; then
            say "already running (pid $pid) on $ENDPOINT"
            return 0
        fi
        die "a LocalStack process (pid $pid) exists but $ENDPOINT does not answer; run '$0 stop' first"
    fi
    [[ -x "$VENV/bin/python" ]] || die "LocalStack is not installed; run '$0 install' first"
    if port_in_use; then
        die "port $PORT on $HOST is already in use by another process; set LOCAL_SQS_PORT to a free port"
    fi
    mkdir -p "$DATA_DIR"
    : >"$LOG"
    say "starting LocalStack on $ENDPOINT (log: $LOG)"
    # setsid: its own process group, so stop can end it and anything it spawned.
    # SQS_CLOUDWATCH_METRICS_REPORT_INTERVAL=60 (once a minute, as AWS does): the
    # reporter writes three depth metrics per queue per interval into one SQLite table,
    # and every GetMetricData query scans that whole table, so a short interval with
    # many queues makes GetMetricData slower and slower. lazysqs reads depths from
    # GetQueueAttributes anyway; NumberOfMessagesSent/Received/Deleted are per call.
    (
        cd "$ROOT"
        env \
            GATEWAY_LISTEN="$HOST:$PORT" \
            GATEWAY_SERVER=hypercorn \
            LOCALSTACK_HOST="$HOST:$PORT" \
            SERVICES=sqs,cloudwatch \
            EAGER_SERVICE_LOADING=1 \
            DNS_ADDRESS=0 \
            DISABLE_EVENTS=1 \
            SKIP_SSL_CERT_DOWNLOAD=1 \
            SQS_ENDPOINT_STRATEGY=path \
            SQS_CLOUDWATCH_METRICS_REPORT_INTERVAL=60 \
            OVERRIDE_IN_DOCKER=0 \
            FILESYSTEM_ROOT="$DATA_DIR" \
            setsid "$VENV/bin/python" -m localstack.runtime.main </dev/null >>"$LOG" 2>&1 &
        echo $! >"$PID_FILE"
    )
    pid="$(cat "$PID_FILE")"
    local waited=0
    while ! grep -q '^Ready' "$LOG" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PID_FILE"
            echo "----- last lines of $LOG -----" >&2
            tail -n 30 "$LOG" >&2 || true
            die "LocalStack exited during start-up (see $LOG)"
        fi
        if ((waited >= START_TIMEOUT * 10)); then
            echo "----- last lines of $LOG -----" >&2
            tail -n 30 "$LOG" >&2 || true
            stop_pid "$pid"
            die "LocalStack was not ready after ${START_TIMEOUT}s (no 'Ready' line in $LOG); stopped it"
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    say "ready after $((waited / 10)).$((waited % 10))s (pid $pid); endpoint $ENDPOINT"
}

# SIGTERM the process group, then SIGKILL if it has not exited within 5 seconds.
stop_pid() {
    local pid="$1" i
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "pid $pid did not exit after SIGTERM; sending SIGKILL"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 30; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    # The group may outlive its leader for a moment; make sure nothing is left in it.
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$PID_FILE"
}

cmd_stop() {
    local pid
    if pid="$(running_pid)"; then
        say "stopping LocalStack (pid $pid)"
        stop_pid "$pid"
        say "stopped"
    else
        rm -f "$PID_FILE"
        say "not running"
    fi
}

cmd_status() {
    local pid
    if pid="$(running_pid)"; then
        if healthy; then
            say "running (pid $pid) on $ENDPOINT"
        else
            say "process running (pid $pid) but $ENDPOINT does not answer yet (log: $LOG)"
        fi
        return 0
    fi
    if port_in_use; then
        say "not started by this script, but something listens on $HOST:$PORT"
    else
        say "not running"
    fi
    return 3
}

cmd_seed() {
    running_pid >/dev/null || healthy || die "LocalStack is not running on $ENDPOINT; run '$0 start' first"
    say "seeding demo queues on $ENDPOINT"
    LOCAL_SQS_ENDPOINT="$ENDPOINT" \
        AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 \
        "$VENV/bin/python" - <<'PY'
import json
import os
import time

import boto3

endpoint = os.environ["LOCAL_SQS_ENDPOINT"]
sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")


def say(msg):
    print(f"[local-sqs] {msg}", flush=True)


def fresh_queue(name, attributes=None):
    """Delete the queue if it exists, then create it: a re-seed gives a known state."""
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        sqs.delete_queue(QueueUrl=url)
    except sqs.exceptions.QueueDoesNotExist:
        pass
    url = sqs.create_queue(QueueName=name, Attributes=attributes or {})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def redrive(dlq_arn, max_receive_count):
    return json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)})


def count(url):
    a = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return (
        int(a["ApproximateNumberOfMessages"]),
        int(a["ApproximateNumberOfMessagesNotVisible"]),
        int(a["ApproximateNumberOfMessagesDelayed"]),
    )


def fail_until_dead(url, dlq_url, expected, max_rounds=50):
    """Receive with VisibilityTimeout=0 and never delete, as a crashing consumer would,
    until `expected` messages have passed maxReceiveCount and moved to the DLQ."""
    for _ in range(max_rounds):
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0)
        if count(dlq_url)[0] >= expected:
            return
    raise SystemExit(f"only {count(dlq_url)[0]} of {expected} messages reached the DLQ")


def attrs(**kv):
    return {k: {"DataType": "String", "StringValue": v} for k, v in kv.items()}


COFFEES = ["flat white", "cortado", "espresso", "latte", "cappuccino", "mocha"]
STORES = ["berlin-01", "lisbon-02", "oslo-03", "porto-04"]

# --- orders -> orders-dlq (maxReceiveCount 3) -------------------------------------------
orders_dlq_url, orders_dlq_arn = fresh_queue("orders-dlq", {"MessageRetentionPeriod": "1209600"})
orders_url, orders_arn = fresh_queue(
    "orders", {"VisibilityTimeout": "30", "RedrivePolicy": redrive(orders_dlq_arn, 3)}
)

# Failed orders first, alone in the queue, so that only they go to the DLQ.
bad_orders = [
    {"order_id": "ord-9001", "coffee": "flat white", "size": "large"},  # no store_id
    {"order_id": "ord-9002", "store_id": "berlin-01", "coffee": "frappuccino-xl", "size": "large"},
    {"order_id": "ord-9003", "coffee": "cortado", "size": "small"},  # no store_id
    {"order_id": "ord-9004", "store_id": "oslo-03", "coffee": "latte", "size": "venti-plus"},
]
for o in bad_orders:
    sqs.send_message(
        QueueUrl=orders_url,
        MessageBody=json.dumps(o),
        MessageAttributes=attrs(source="web", schema="order.v2"),
    )
fail_until_dead(orders_url, orders_dlq_url, len(bad_orders))

for i in range(24):
    order = {
        "order_id": f"ord-{1000 + i}",
        "store_id": STORES[i % len(STORES)],
        "coffee": COFFEES[i % len(COFFEES)],
        "size": ["small", "medium", "large"][i % 3],
    }
    sqs.send_message(
        QueueUrl=orders_url,
        MessageBody=json.dumps(order),
        MessageAttributes=attrs(source="app" if i % 2 else "web", schema="order.v2"),
    )
# A few in flight (a consumer holds them) and a few delayed.
sqs.receive_message(QueueUrl=orders_url, MaxNumberOfMessages=3, VisibilityTimeout=600)
for i in range(2):
    sqs.send_message(
        QueueUrl=orders_url,
        MessageBody=json.dumps({"order_id": f"ord-{2000 + i}", "store_id": "porto-04", "coffee": "espresso"}),
        DelaySeconds=900,
    )

# --- invoices.fifo -> invoices-dlq.fifo (maxReceiveCount 2) -----------------------------
inv_dlq_url, inv_dlq_arn = fresh_queue(
    "invoices-dlq.fifo", {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
)
inv_url, inv_arn = fresh_queue(
    "invoices.fifo",
    {"FifoQueue": "true", "ContentBasedDeduplication": "true", "RedrivePolicy": redrive(inv_dlq_arn, 2)},
)
sqs.send_message(
    QueueUrl=inv_url,
    MessageBody=json.dumps({"invoice_id": "inv-501", "order_id": "ord-9001", "amount": "4.20"}),
    MessageGroupId="customer-17",
    MessageDeduplicationId="inv-501",
    MessageAttributes=attrs(currency="EUR"),
)
fail_until_dead(inv_url, inv_dlq_url, 1)
for i in range(6):
    sqs.send_message(
        QueueUrl=inv_url,
        MessageBody=json.dumps({"invoice_id": f"inv-{600 + i}", "amount": f"{3 + i}.50"}),
        MessageGroupId=f"customer-{i % 3}",
        MessageDeduplicationId=f"inv-{600 + i}",
        MessageAttributes=attrs(currency="EUR"),
    )

# --- notifications: idle -----------------------------------------------------------------
fresh_queue("notifications")

for name, url in [
    ("orders", orders_url),
    ("orders-dlq", orders_dlq_url),
    ("invoices.fifo", inv_url),
    ("invoices-dlq.fifo", inv_dlq_url),
]:
    v, f, d = count(url)
    say(f"  {name:<18} visible {v:>3}  in flight {f:>3}  delayed {d:>3}")
say("  notifications      idle")
PY
    say "done; try: cargo run -- --endpoint-url $ENDPOINT"
}

main() {
    local cmd="${1:-}"
    case "$cmd" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    seed) cmd_seed ;;
    -h | --help | help) usage ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
}

main "$@"
