#!/usr/bin/env bash
# check-config of meter-relay and meter-batch: exit statuses, the effective configuration on
# stdout, secrets only masked, errors as file:line:column on stderr.
source "$(dirname "$0")/lib.sh"

unset INFLUX_TOKEN INFLUX_ORG INFLUX_USERNAME INFLUX_PASSWORD RELAY_TOKENS RELAY_USERS \
    TIBBER_API_TOKEN

for program in meter-relay meter-batch; do
    binary=$BIN_DIR/$program

    # The example configuration passes without any secrets file.
    expect_status "$program: the example config passes" 0 \
        "$binary" check-config -c "$REPO_DIR/config/config.yaml"
    output=$(cat "$work_dir/last.out")
    expect_contains "$program: prints the relay section" "listen: '127.0.0.1:8087'" "$output"
    expect_contains "$program: prints the example meters" "- meter_id: gas_heizung" "$output"
    expect_contains "$program: prints the patterns" "patterns:" "$output"

    # -c before the subcommand is accepted too.
    expect_status "$program: -c before the command" 0 \
        "$binary" -c "$REPO_DIR/config/config.yaml" check-config

    expect_status "$program: --help" 0 "$binary" check-config --help
    expect_contains "$program: --help shows the usage" "check-config [-c FILE]" \
        "$(cat "$work_dir/last.out")"
    expect_status "$program: unknown option is a usage error" 2 \
        "$binary" check-config --bogus
    expect_status "$program: a missing file is an error" 1 \
        "$binary" check-config -c "$work_dir/missing.yaml"
    expect_contains "$program: names the missing file" \
        "$work_dir/missing.yaml: cannot read the configuration: No such file or directory" \
        "$(cat "$work_dir/last.err")"
done

# Every reference fixture configuration loads unchanged.
for config in "$SHARED_DIR"/fixtures/reference/*/config/config.yaml; do
    scenario=$(basename "$(dirname "$(dirname "$config")")")
    expect_status "fixture $scenario loads" 0 "$BIN_DIR/meter-batch" check-config -c "$config"
done

# Errors: one per line, each with file:line:column, every problem reported, exit status 1.
mkdir -p "$work_dir/bad"
cat >"$work_dir/bad/config.yaml" <<'EOF'
influxdb:
  bucket_rwa: lampfi
relay:
  spool:
    sync: sometimes
  max_body_bytes: 32 megabytes
EOF
expect_status "errors exit 1" 1 "$BIN_DIR/meter-relay" check-config -c "$work_dir/bad/config.yaml"
errors=$(cat "$work_dir/last.err")
expect_contains "unknown key with a suggestion" \
    "$work_dir/bad/config.yaml:2:3: influxdb.bucket_rwa: unknown key; did you mean \"bucket_raw\"?" \
    "$errors"
expect_contains "bad sync mode" \
    "$work_dir/bad/config.yaml:5:11: relay.spool.sync: \"sometimes\" is not one of always, interval:<ms>, none" \
    "$errors"
expect_contains "bad size" "$work_dir/bad/config.yaml:6:19: relay.max_body_bytes: \"32 megabytes\" is not a size" \
    "$errors"
expect_equal "one line per error" 3 "$(grep -c "^$work_dir/bad/config.yaml:" "$work_dir/last.err")"
expect_equal "nothing on stdout" "" "$(cat "$work_dir/last.out")"

# Secrets: read from a 0600 relay.env, shown only masked.
mkdir -p "$work_dir/site/config" "$work_dir/site/secrets"
cat >"$work_dir/site/config/config.yaml" <<'EOF'
relay:
  auth: token
EOF
cat >"$work_dir/site/secrets/relay.env" <<'EOF'
# tokens clients present
RELAY_TOKENS=telegraf-token-0123456789abcdef,homeassistant-token-fedcba9876543210
EOF
chmod 600 "$work_dir/site/secrets/relay.env"
expect_status "token auth with relay.env passes" 0 \
    "$BIN_DIR/meter-relay" check-config -c "$work_dir/site/config/config.yaml"
output=$(cat "$work_dir/last.out")
expect_contains "first token masked" "- tel…def" "$output"
expect_contains "second token masked" "- hom…210" "$output"
if [[ "$output" == *telegraf-token-0123456789abcdef* || "$output" == *fedcba9876543210* ]]; then
    check_fail "secrets never appear unmasked" "$output"
else
    check_pass "secrets never appear unmasked"
fi

# A password with umlauts (or a Latin-1 file): the mask cuts no character in half, so the YAML
# printer takes it (a cut one failed check-config, and with it `systemctl reload meter-relay`).
printf 'relay:\n  auth: basic\n' >"$work_dir/site/config/config.yaml"
printf 'RELAY_USERS=alice:Grüße-an-alle-2024,bob:pä-12345678901,carol:ab\xfc\xdf-latin1-9\xfc\n' \
    >"$work_dir/site/secrets/relay.env"
expect_status "basic auth with non-ASCII passwords passes" 0 \
    "$BIN_DIR/meter-relay" check-config -c "$work_dir/site/config/config.yaml"
output=$(cat "$work_dir/last.out")
expect_contains "a UTF-8 password masked by characters" "- alice:Grü…024" "$output"
expect_contains "no character cut at the start" "- bob:pä-…901" "$output"
expect_contains "bytes that are no UTF-8 shown as ?" "- carol:ab?…-9?" "$output"
printf 'relay:\n  auth: token\n' >"$work_dir/site/config/config.yaml"
printf 'RELAY_TOKENS=telegraf-token-0123456789abcdef,homeassistant-token-fedcba9876543210\n' \
    >"$work_dir/site/secrets/relay.env"

# A secrets file others can read is refused with the chmod that fixes it.
chmod 644 "$work_dir/site/secrets/relay.env"
expect_status "a readable relay.env is refused" 1 \
    "$BIN_DIR/meter-relay" check-config -c "$work_dir/site/config/config.yaml"
expect_contains "says how to fix it" "chmod 600 $work_dir/site/secrets/relay.env" \
    "$(cat "$work_dir/last.err")"

# A missing variable for an enabled feature names it and where it was looked for.
rm "$work_dir/site/secrets/relay.env"
expect_status "token auth without relay.env fails" 1 \
    "$BIN_DIR/meter-batch" check-config -c "$work_dir/site/config/config.yaml"
errors=$(cat "$work_dir/last.err")
expect_contains "names the variable" \
    "$work_dir/site/config/config.yaml:2:9: relay.auth: token authentication needs RELAY_TOKENS" \
    "$errors"
expect_contains "names where it looked" "$work_dir/site/secrets/relay.env" "$errors"

# README: "Every key, its default and what it accepts is described ... in the comments of the
# example". Every key the loader knows (all of them are in the effective configuration) appears in
# config/config.yaml, set or in a comment ("# key: value" at the key's place), so a user reading the
# example finds each one.
expect_status "the example's effective configuration" 0 \
    "$BIN_DIR/meter-relay" check-config -c "$REPO_DIR/config/config.yaml"
sed '/^---$/,$d' "$work_dir/last.out" >"$work_dir/effective.yaml"
undocumented=$(python3 - "$work_dir/effective.yaml" "$REPO_DIR/config/config.yaml" <<'PYTHON'
import re, sys, yaml

# Maps whose keys are the user's names (databases, tags, meter ids), not configuration keys.
NAMED = {"routing", "tags", "limits"}

def paths(node, prefix, out):
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out.add(path)
            if key not in NAMED:
                paths(value, path, out)
    elif isinstance(node, list):
        for item in node:
            paths(item, prefix + "[]", out)
    return out

effective = paths(yaml.safe_load(open(sys.argv[1])), "", set())
# The example with its commented-out keys ("  # key: value", "  # - name: x") made live.
text = "".join(re.sub(r"^(\s*)# ?(\s*(?:- )?[a-z_]+:(?: .*)?)$", r"\1\2", line)
               for line in open(sys.argv[2]))
documented = paths(yaml.safe_load(text), "", set())
print(" ".join(sorted(effective - documented)))
PYTHON
)
status=$?
# A comment that reads as a key ("# default: ...") can make the uncommented example invalid YAML:
# the script fails and prints nothing, which must not pass as "nothing undocumented".
expect_equal "the example with its commented keys made live parses" 0 "$status"
expect_equal "every key is in config/config.yaml" "" "$undocumented"

finish
