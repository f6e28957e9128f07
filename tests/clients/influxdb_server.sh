#!/usr/bin/env bash
# A real InfluxDB 1.x for the node tests, started by tests/integration/servers.sh:
#   influxdb_server.sh DIR
# prints "listening URL" once it answers, then keeps it running until stdin closes or SIGTERM
# arrives, and stops it. Reading stdin ties its life to the node test that spawned it: if the
# test dies, the pipe closes and InfluxDB stops too.
set -u
source "$(dirname "$0")/../integration/servers.sh"

trap 'influxdb_stop; exit 0' TERM INT
influxdb_start "$1" || exit 1
echo "listening $influxdb_url"
while read -r _; do :; done
influxdb_stop
