#!/usr/bin/env bash
# make install (issue 8): `make install-files DESTDIR=... PREFIX=/usr` puts the programs, the
# configuration of an installed system, the secrets directory (700, templates 600), the state and
# log directories, the systemd units (with PREFIX's paths), logrotate and the examples in place;
# the installed configuration passes check-config and names /var/lib/nebenkosten; a second
# install keeps an edited configuration (and leaves the new example as config.yaml.new); every
# command and subcommand of both programs answers --help with its usage, an unknown option
# with exit status 2.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

root=$work_dir/root
make_install() {
    make -s -C "$REPO_DIR" install-files DESTDIR="$root" PREFIX=/usr INSTALL_BIN_DIR="$BIN_DIR" \
        >"$work_dir/install.out" 2>&1
}
if ! make_install; then
    check_fail "make install-files DESTDIR=... PREFIX=/usr" "$(cat "$work_dir/install.out")"
    finish
    exit
fi
check_pass "make install-files DESTDIR=... PREFIX=/usr"

# mode owner-readable path, for everything installed outside the examples.
listing=$(cd "$root" && find . -path ./usr/share/nebenkosten/examples -prune -o -printf '%m %p\n' | sort -k2)
expected='755 .
755 ./etc
755 ./etc/logrotate.d
644 ./etc/logrotate.d/nebenkosten
755 ./etc/nebenkosten
644 ./etc/nebenkosten/config.yaml
644 ./etc/nebenkosten/meters.yaml
644 ./etc/nebenkosten/seasonal_patterns.yaml
700 ./etc/nebenkosten/secrets
644 ./etc/nebenkosten/secrets/README.md
600 ./etc/nebenkosten/secrets/influxdb.env.example
600 ./etc/nebenkosten/secrets/relay.env.example
600 ./etc/nebenkosten/secrets/tibber.env.example
755 ./usr
755 ./usr/bin
755 ./usr/bin/meter-batch
755 ./usr/bin/meter-relay
755 ./usr/lib
755 ./usr/lib/systemd
755 ./usr/lib/systemd/system
644 ./usr/lib/systemd/system/meter-batch-reconcile.service
644 ./usr/lib/systemd/system/meter-batch-reconcile.timer
644 ./usr/lib/systemd/system/meter-batch-tibber.service
644 ./usr/lib/systemd/system/meter-batch-tibber.timer
644 ./usr/lib/systemd/system/meter-relay.service
755 ./usr/share
755 ./usr/share/nebenkosten
755 ./var
755 ./var/lib
750 ./var/lib/nebenkosten
750 ./var/lib/nebenkosten/spool
755 ./var/log
750 ./var/log/nebenkosten'
if [ "$listing" = "$expected" ]; then
    check_pass "installed files and modes (secrets 700, templates 600, state 750)"
else
    check_fail "installed files and modes (secrets 700, templates 600, state 750)" \
        "$(diff <(echo "$expected") <(echo "$listing"))"
fi
examples=$(cd "$root/usr/share/nebenkosten/examples" && find . -type f | sort | tr '\n' ' ')
for example in ./grafana/dashboards/nebenkosten.json ./homeassistant/configuration.yaml ./telegraf/telegraf.conf; do
    expect_contains "example installed: $example" "$example" "$examples"
done
cmp -s "$BIN_DIR/meter-relay" "$root/usr/bin/meter-relay" && check_pass "meter-relay is the built program" ||
    check_fail "meter-relay is the built program"
expect_contains "the unit runs PREFIX's meter-relay" \
    "ExecStart=/usr/bin/meter-relay run -c /etc/nebenkosten/config.yaml" \
    "$(cat "$root/usr/lib/systemd/system/meter-relay.service")"

# The installed configuration: valid, with the installed paths.
config=$root/etc/nebenkosten/config.yaml
if "$root/usr/bin/meter-relay" check-config -c "$config" >"$work_dir/check.out" 2>&1; then
    check_pass "the installed config.yaml passes check-config"
else
    check_fail "the installed config.yaml passes check-config" "$(head -n 5 "$work_dir/check.out")"
fi
effective=$(cat "$work_dir/check.out")
expect_contains "spool under /var/lib/nebenkosten" "dir: /var/lib/nebenkosten/spool" "$effective"
expect_contains "secrets in /etc/nebenkosten/secrets" "secrets_dir: $root/etc/nebenkosten/secrets" "$effective"
expect_contains "listening on every interface, as InfluxDB does" "listen: :8087" "$effective"
expect_status "meter-batch check-config accepts it too" 0 "$root/usr/bin/meter-batch" check-config -c "$config"

# Again, after the operator edited the configuration: kept, the new example beside it.
sed -i 's/^  level: info /  level: debug /' "$config"
edited=$(cat "$config")
if make_install; then check_pass "a second install succeeds"; else check_fail "a second install succeeds" "$(cat "$work_dir/install.out")"; fi
expect_equal "... and keeps the edited config.yaml" "$edited" "$(cat "$config")"
[ -f "$config.new" ] && check_pass "... and puts the new example beside it (config.yaml.new)" ||
    check_fail "... and puts the new example beside it (config.yaml.new)"
expect_contains "... and says so" "config.yaml exists and is kept" "$(cat "$work_dir/install.out")"

# --help for every command and subcommand.
for program in meter-relay meter-batch; do
    "$BIN_DIR/$program" --help >"$work_dir/help.out" 2>&1
    expect_equal "$program --help: exit 0" 0 "$?"
    commands=$(awk '/^commands:/ { listing = 1; next } listing && /^  [a-z]/ { print $1 }' "$work_dir/help.out")
    [ -n "$commands" ] || check_fail "$program --help lists its commands" "$(cat "$work_dir/help.out")"
    for command in $commands; do
        output=$("$BIN_DIR/$program" "$command" --help 2>&1)
        status=$?
        if [ "$status" -eq 0 ] && [[ "$output" == usage:* ]]; then
            check_pass "$program $command --help prints its usage"
        else
            check_fail "$program $command --help prints its usage" "exit $status" "${output:0:300}"
        fi
        expect_status "$program $command --no-such-option: exit 2" 2 "$BIN_DIR/$program" "$command" --no-such-option
    done
done
# Every option the README's table of commands shows for a command is in that command's --help
# (what a user reads on the machine must not lack what the README promises).
readme_rows=$(sed -n 's/^| `\(meter-[a-z]*\) \([a-z][a-z-]*\) \([^`]*\)`.*/\1 \2 \3/p' "$REPO_DIR/README.md")
[ -n "$readme_rows" ] || check_fail "the README's table of commands is found"
while read -r program command usage; do
    help=$("$BIN_DIR/$program" "$command" --help 2>&1)
    for option in $(grep -o -- '--[a-z][a-z-]*' <<<"$usage"); do
        [[ "$help" == *"$option"* ]] && check_pass "README: $program $command $option is in its --help" ||
            check_fail "README: $program $command $option is in its --help" "${help:0:300}"
    done
done <<<"$readme_rows"
for subcommand in list show drop replay; do
    output=$("$BIN_DIR/meter-relay" dlq "$subcommand" --help 2>&1)
    [[ $? -eq 0 && "$output" == usage:* ]] && check_pass "meter-relay dlq $subcommand --help" ||
        check_fail "meter-relay dlq $subcommand --help" "${output:0:300}"
done
finish
