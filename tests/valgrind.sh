#!/usr/bin/env bash
# Runs unit test binaries under valgrind memcheck and fails on any error or definite/indirect leak
# in any process (Criterion runs each test in a child process, and a child's leak report does not
# change the runner's exit status, so the per-process logs are read instead).
set -u
logs=$(mktemp -d "${TMPDIR:-/tmp}/nebenkosten-valgrind.XXXXXX")
status=0
for test in "$@"; do
    echo "== valgrind $test"
    valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --trace-children=yes \
        --log-file="$logs/$(basename "$test").%p.log" "$test" --jobs 1 || status=1
done
bad=$(grep -L 'ERROR SUMMARY: 0 errors' "$logs"/*.log 2>/dev/null)
if [ -n "$bad" ]; then
    for log in $bad; do
        echo "valgrind found problems ($log):"
        grep -A 12 -E 'definitely lost|indirectly lost|Invalid|uninitialised|ERROR SUMMARY' "$log" | head -60
    done
    status=1
else
    echo "valgrind: $(ls "$logs" | wc -l) processes, no errors, no leaks"
fi
rm -rf "$logs"
exit $status
