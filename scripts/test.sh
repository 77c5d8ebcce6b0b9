#!/usr/bin/env bash
# Runs every lazysqs test, including the AWS backend tests against a real
# SQS-compatible server: installs LocalStack (PyPI, in a venv) if needed, starts it
# on 127.0.0.1 unless one already runs, runs `cargo test`, and stops what it started.
# Extra arguments go to `cargo test` (e.g. scripts/test.sh --test update).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export LOCAL_SQS_PORT="${LOCAL_SQS_PORT:-4566}"
scripts/local-sqs.sh install

started=0
if ! scripts/local-sqs.sh status >/dev/null 2>&1; then
    scripts/local-sqs.sh start
    started=1
fi
stop_server() {
    local rc=$?
    if [[ $started == 1 ]]; then
        scripts/local-sqs.sh stop || true
    fi
    exit "$rc"
}
trap stop_server EXIT

export LAZYSQS_TEST_ENDPOINT="http://127.0.0.1:$LOCAL_SQS_PORT"
# Never ask the EC2 instance metadata service for credentials or a region.
export AWS_EC2_METADATA_DISABLED=true
cargo test "$@"
