#!/usr/bin/env bash
# Runs every tests/integration/test_*.sh against the binaries in $BIN_DIR and prints one summary
# line that CI reads: "integration: N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${BIN_DIR:?BIN_DIR must point at the directory holding meter-relay and meter-batch}"
export BIN_DIR
export REPO_DIR=$(cd "$here/../.." && pwd)
export SHARED_DIR=${NEBENKOSTEN_SHARED:-$REPO_DIR/../shared}

passed=0
failed=0
failed_names=()
for test in "$here"/test_*.sh; do
    [ -e "$test" ] || continue
    name=$(basename "$test" .sh)
    echo "== $name"
    if bash "$test"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failed_names+=("$name")
    fi
done
[ "$failed" -eq 0 ] || echo "failed: ${failed_names[*]}"
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
