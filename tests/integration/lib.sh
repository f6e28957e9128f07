# Helpers for integration tests (sourced). Each check prints one line; a failed check makes the
# test script exit non-zero at its end (so every check of a script runs and reports).
set -u
checks_failed=0
work_dir=$(mktemp -d "${TMPDIR:-/tmp}/nebenkosten-test.XXXXXX")
trap 'rm -rf "$work_dir"' EXIT

check_pass() { echo "  ok   $1"; }
check_fail() {
    echo "  FAIL $1"
    shift
    [ $# -gt 0 ] && printf '       %s\n' "$@"
    checks_failed=$((checks_failed + 1))
}

# expect_equal DESCRIPTION EXPECTED ACTUAL
expect_equal() {
    if [ "$2" == "$3" ]; then check_pass "$1"; else check_fail "$1" "expected: $2" "actual:   $3"; fi
}

# expect_contains DESCRIPTION NEEDLE HAYSTACK
expect_contains() {
    if [[ "$3" == *"$2"* ]]; then check_pass "$1"; else check_fail "$1" "expected to contain: $2" "actual: $3"; fi
}

# expect_status DESCRIPTION EXPECTED_STATUS COMMAND...: runs the command, compares its exit status.
expect_status() {
    local description=$1 expected=$2
    shift 2
    "$@" >"$work_dir/last.out" 2>"$work_dir/last.err"
    local status=$?
    if [ "$status" -eq "$expected" ]; then check_pass "$description"; else
        check_fail "$description" "expected exit status $expected, got $status" \
            "stdout: $(head -c 400 "$work_dir/last.out")" "stderr: $(head -c 400 "$work_dir/last.err")"
    fi
}

finish() { [ "$checks_failed" -eq 0 ]; }
