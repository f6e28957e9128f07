#!/usr/bin/env bash
# `make install`: copies the built programs, an example configuration for an installed system,
# the secrets templates, the systemd units and the logrotate file into place. Safe to run again:
# programs, units and templates are replaced, while a configuration or secrets file that is
# already there is never overwritten (the new example goes beside it as *.new, like dpkg's
# *.dpkg-dist).
#
# Variables (make passes them through):
#   DESTDIR        staging root for packaging (default: none, install for real)
#   PREFIX         /usr/local; programs go to PREFIX/bin
#   SYSCONFDIR     /etc; the configuration goes to SYSCONFDIR/nebenkosten
#   LOCALSTATEDIR  /var; state in LOCALSTATEDIR/lib/nebenkosten, logs in LOCALSTATEDIR/log/nebenkosten
#   UNITDIR        PREFIX/lib/systemd/system (systemd reads /usr/local/lib/systemd/system and
#                  /usr/lib/systemd/system; with another PREFIX use /etc/systemd/system)
#   BIN_DIR        where the built meter-relay and meter-batch are (build/release/bin)
#   RELAY_LISTEN   relay.listen of the installed configuration (":8087": every interface, as
#                  InfluxDB's :8086; "127.0.0.1:8087" keeps it local)
#   RELAY_USER     the service user (nebenkosten); when it exists and this runs as root without
#                  DESTDIR, the state, log and secrets directories are given to it
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr/local}
SYSCONFDIR=${SYSCONFDIR:-/etc}
LOCALSTATEDIR=${LOCALSTATEDIR:-/var}
UNITDIR=${UNITDIR:-$PREFIX/lib/systemd/system}
BIN_DIR=${BIN_DIR:-$repo/build/release/bin}
RELAY_LISTEN=${RELAY_LISTEN:-:8087}
RELAY_USER=${RELAY_USER:-nebenkosten}

config_dir=$SYSCONFDIR/nebenkosten
state_dir=$LOCALSTATEDIR/lib/nebenkosten
log_dir=$LOCALSTATEDIR/log/nebenkosten
programs=(meter-relay meter-batch)

for program in "${programs[@]}"; do
    [ -x "$BIN_DIR/$program" ] || {
        echo "install: $BIN_DIR/$program is missing; build first (make)" >&2
        exit 1
    }
done

# install_keep MODE SOURCE TARGET: installs SOURCE as TARGET unless TARGET exists; then, when
# they differ, as TARGET.new, and says so.
install_keep() {
    local mode=$1 source=$2 target=$3
    if [ ! -e "$DESTDIR$target" ]; then
        install -m "$mode" "$source" "$DESTDIR$target"
        echo "install: $target"
    elif ! cmp -s "$source" "$DESTDIR$target"; then
        install -m "$mode" "$source" "$DESTDIR$target.new"
        echo "install: $target exists and is kept; the new example is $target.new"
    fi
}

# The example configuration, with the paths and listen address of an installed system.
installed_config() {
    sed -e "s#^  listen: 127.0.0.1:8087 .*#  listen: \"$RELAY_LISTEN\"             \# :8087 = every interface; 127.0.0.1:8087 = this host only#" \
        -e "s#^    dir: \.\./var/spool#    dir: $state_dir/spool#" \
        -e "s#^  \# file: \.\./var/log/nebenkosten\.log .*#  \# file: $log_dir/relay.log   \# default: stderr (the journal under systemd)#" \
        -e "s#^\# secrets_dir: \.\./secrets#secrets_dir: secrets            \# $config_dir/secrets#" \
        -e "s#^\# Check it with:   meter-relay check-config -c config/config.yaml#\# Check it with:   meter-relay check-config -c $config_dir/config.yaml#" \
        -e "s#^\# - Relative paths resolve against the directory of this file (config/), so \"\.\./var/spool\" is#\# - Relative paths resolve against the directory of this file ($config_dir).#" \
        -e "/^\#   var\/spool at the top of the repository\.$/d" \
        -e "/^\# Where the \*\.env files are\. Installed under/d" \
        -e "/^\# relay\.spool\.dir to \/var\/lib\/nebenkosten\/spool\.$/d" \
        "$repo/config/config.yaml"
}

install -d "$DESTDIR$PREFIX/bin"
for program in "${programs[@]}"; do
    install -m 755 "$BIN_DIR/$program" "$DESTDIR$PREFIX/bin/$program"
done
echo "install: ${programs[*]} -> $PREFIX/bin"

install -d -m 755 "$DESTDIR$config_dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
installed_config >"$work/config.yaml"
# Each substitution above must have matched: an example edited out of shape fails here, not on a
# user's machine.
for expected in "listen: \"$RELAY_LISTEN\"" "dir: $state_dir/spool" "secrets_dir: secrets"; do
    grep -qF "$expected" "$work/config.yaml" || {
        echo "install: config/config.yaml no longer has the line that becomes '$expected'" >&2
        exit 1
    }
done
install_keep 644 "$work/config.yaml" "$config_dir/config.yaml"
install_keep 644 "$repo/config/meters.yaml" "$config_dir/meters.yaml"
install_keep 644 "$repo/config/seasonal_patterns.yaml" "$config_dir/seasonal_patterns.yaml"

install -d -m 700 "$DESTDIR$config_dir/secrets"
chmod 700 "$DESTDIR$config_dir/secrets"
for template in "$repo"/secrets/*.env.example; do
    install -m 600 "$template" "$DESTDIR$config_dir/secrets/$(basename "$template")"
done
install -m 644 "$repo/secrets/README.md" "$DESTDIR$config_dir/secrets/README.md"

install -d -m 750 "$DESTDIR$state_dir" "$DESTDIR$state_dir/spool"
install -d -m 750 "$DESTDIR$log_dir"

# systemd units with this PREFIX and these directories.
install -d "$DESTDIR$UNITDIR"
for unit in "$repo"/deploy/systemd/*.service "$repo"/deploy/systemd/*.timer; do
    sed -e "s#/usr/local/bin/#$PREFIX/bin/#g" -e "s#/etc/nebenkosten#$config_dir#g" \
        -e "s#/var/lib/nebenkosten#$state_dir#g" -e "s#/var/log/nebenkosten#$log_dir#g" \
        -e "s#^User=nebenkosten#User=$RELAY_USER#" -e "s#^Group=nebenkosten#Group=$RELAY_USER#" \
        "$unit" >"$work/unit"
    install -m 644 "$work/unit" "$DESTDIR$UNITDIR/$(basename "$unit")"
done
echo "install: systemd units -> $UNITDIR"

install -d "$DESTDIR$SYSCONFDIR/logrotate.d"
sed -e "s#/var/log/nebenkosten#$log_dir#g" "$repo/deploy/logrotate/nebenkosten" >"$work/logrotate"
install -m 644 "$work/logrotate" "$DESTDIR$SYSCONFDIR/logrotate.d/nebenkosten"

# The integration examples, for copying from (Telegraf, Home Assistant, Grafana, Docker).
examples=$PREFIX/share/nebenkosten/examples
install -d "$DESTDIR$examples"
cp -R "$repo/deploy/telegraf" "$repo/deploy/homeassistant" "$repo/deploy/grafana" "$DESTDIR$examples/"
chmod -R u=rwX,go=rX "$DESTDIR$examples"

if [ -z "$DESTDIR" ] && [ "$(id -u)" -eq 0 ] && id -u "$RELAY_USER" >/dev/null 2>&1; then
    chown -R "$RELAY_USER:$RELAY_USER" "$state_dir" "$log_dir" "$config_dir/secrets"
    echo "install: $state_dir, $log_dir and $config_dir/secrets belong to $RELAY_USER"
fi
echo "install: configuration in $config_dir (check: $PREFIX/bin/meter-relay check-config -c $config_dir/config.yaml)"
