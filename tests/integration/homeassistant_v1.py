"""Home Assistant's influxdb integration (api_version 1), the part that talks to InfluxDB, on the
real client it uses: the influxdb Python package 5.3 (Debian's python3-influxdb). Run with
Debian's /usr/bin/python3, where that package is installed.

What Home Assistant does, from homeassistant/components/influxdb (__init__.py and sensor.py):
- get_influx_connection builds InfluxDBClient(host, port, username, password, database, ssl,
  verify_ssl, path, timeout=10) from the configuration; keys left out keep the client's defaults
  (user root, password root). At setup it writes an empty list of points (write_points([])) and
  retries the whole setup later on a ConnectionError.
- event_to_json makes one point of a state change: measurement the unit_of_measurement (else
  default_measurement), tags domain and entity_id (the object id) and the attributes named in
  tags_attributes, field value (the state as a float) or state (a state that is not a number),
  and every other attribute not ignored as a float field, or as a <name>_str string when it is
  not a number; time is the event's time_fired.
- write_v1 sends a batch with write_points(points, time_precision=precision). A client error
  with code 400 becomes ValueError: Home Assistant logs it and drops the batch. Any other client
  error (401, ...), a server error (5xx) or a connection error becomes ConnectionError: the batch
  is retried max_retries times, RETRY_DELAY (20 s) apart, then dropped.
- The sensor platform checks reading with query_v1("SHOW DATABASES;") and then runs, per
  sensor, "select <group_function>(<field>) as value from <measurement> where <where>" on the
  sensor's database; the sensor's value is the first point's "value".

Usage: homeassistant_v1.py CONFIG_JSON COMMAND [ARGUMENT]
  CONFIG_JSON  the influxdb: block of configuration.yaml as JSON, host and port pointing at the
               server under test; username and password as plain strings when given
  setup                  Home Assistant's setup (the write test)
  states FILE            FILE: JSON list of {entity_id, state, attributes, time_fired}; the
                         ones the configuration includes go out as one batch
  read_test              the sensor platform's setup (SHOW DATABASES;)
  sensor QUERY_JSON      one sensor update: {measurement, field, group_function, where, database}
  query QUERY_JSON       client.query(**QUERY_JSON) as is (epoch, chunked, chunk_size, ...);
                         with "accept", that Accept header instead of the client's
Prints one JSON object: outcome ("ok", "ValueError" or "ConnectionError" as Home Assistant sees
it), the client's exception (class, code, message), the result, and every HTTP request the
client made with its answer.
"""
import datetime
import json
import math
import re
import sys
import urllib.parse

import requests
from influxdb import InfluxDBClient, exceptions

# homeassistant/components/influxdb/const.py
TIMEOUT = 10
CODE_INVALID_INPUTS = 400
TEST_QUERY_V1 = "SHOW DATABASES;"
RE_DIGIT_TAIL = re.compile(r"^[^\.]*\d+\.?\d+[^\.]*$")
RE_DECIMAL = re.compile(r"[^\d.]+")

# homeassistant/helpers/state.py state_as_number: the states it maps, the rest are no number.
STATES_AS_NUMBER = {"on": 1, "open": 1, "home": 1, "locked": 1, "above_horizon": 1,
                    "problem": 1, "off": 0, "closed": 0, "not_home": 0, "unlocked": 0,
                    "below_horizon": 0, "ok": 0}


def connection(conf):
    """get_influx_connection's InfluxDBClient for api_version 1."""
    kwargs = {"timeout": TIMEOUT, "verify_ssl": conf.get("verify_ssl", True)}
    for key in ("database", "username", "password", "host", "path", "port", "ssl"):
        if key in conf:
            kwargs[key] = conf[key]
    return InfluxDBClient(**kwargs)


def event_to_json(conf, change):
    """One state change as Home Assistant's point dict, or None when it is not written."""
    entity_id, state = change["entity_id"], change["state"]
    domain, object_id = entity_id.split(".", 1)
    include = conf.get("include", {})
    if domain not in include.get("domains", []) and entity_id not in include.get("entities", []):
        return None
    if state in ("unknown", "", "unavailable"):
        return None
    include_state = include_value = False
    try:
        state_as_value = float(state)
        include_value = True
    except ValueError:
        if state in STATES_AS_NUMBER:
            state_as_value = float(STATES_AS_NUMBER[state])
            include_state = include_value = True
        else:
            include_state = True
    attributes = change.get("attributes", {})
    include_uom = True
    measurement = attributes.get("unit_of_measurement")
    if measurement in (None, ""):
        measurement = conf.get("default_measurement") or entity_id
    else:
        include_uom = False
    point = {
        "measurement": measurement,
        "tags": {"domain": domain, "entity_id": object_id},
        "time": datetime.datetime.fromisoformat(change["time_fired"]),
        "fields": {},
    }
    if include_state:
        point["fields"]["state"] = state
    if include_value:
        point["fields"]["value"] = state_as_value
    ignore = set(conf.get("ignore_attributes", []))
    for key, value in attributes.items():
        if key in conf.get("tags_attributes", []):
            point["tags"][key] = value
            continue
        if (key == "unit_of_measurement" and not include_uom) or key in ignore:
            continue
        if key in point["fields"]:
            key = f"{key}_"
        try:
            point["fields"][key] = float(value)
        except (ValueError, TypeError):
            new_key = f"{key}_str"
            new_value = str(value)
            point["fields"][new_key] = new_value
            if RE_DIGIT_TAIL.match(new_value):
                point["fields"][key] = float(RE_DECIMAL.sub("", new_value))
        try:
            if not math.isfinite(point["fields"][key]):
                del point["fields"][key]
        except (KeyError, TypeError):
            pass
    return point


def outcome_of(call):
    """Runs call as write_v1/query_v1 do; returns (outcome, exception description, result)."""
    try:
        return "ok", None, call()
    except (requests.exceptions.RequestException, exceptions.InfluxDBServerError,
            OSError) as error:
        return "ConnectionError", describe(error), None
    except exceptions.InfluxDBClientError as error:
        outcome = "ValueError" if error.code == CODE_INVALID_INPUTS else "ConnectionError"
        return outcome, describe(error), None


def describe(error):
    return {"class": type(error).__name__, "code": getattr(error, "code", None),
            "message": str(error)}


def main():
    conf = json.loads(sys.argv[1])
    command = sys.argv[2]
    argument = sys.argv[3] if len(sys.argv) > 3 else None
    client = connection(conf)
    seen = []

    def record(response, *args, **kwargs):
        request = response.request
        url = urllib.parse.urlsplit(request.url)
        body = request.body
        seen.append({
            "method": request.method,
            "path": url.path,
            "params": dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True)),
            "headers": dict(request.headers),
            "body": body.decode() if isinstance(body, bytes) else body,
            "status": response.status_code,
            "response_headers": dict(response.headers),
            "response_body": response.content.decode(errors="replace"),
        })

    client._session.hooks["response"].append(record)
    precision = conf.get("precision")
    if command == "setup":
        result = outcome_of(lambda: client.write_points([], time_precision=precision))
    elif command == "states":
        with open(argument) as file:
            points = [p for p in (event_to_json(conf, c) for c in json.load(file)) if p]
        result = outcome_of(lambda: client.write_points(points, time_precision=precision))
    elif command == "read_test":
        result = outcome_of(
            lambda: [row["name"] for row in client.query(TEST_QUERY_V1).get_points()])
    elif command == "sensor":
        sensor = json.loads(argument)
        query = (f"select {sensor.get('group_function', 'mean')}({sensor.get('field', 'value')})"
                 f" as value from {sensor['measurement']} where {sensor['where']}")
        result = outcome_of(
            lambda: list(client.query(query, database=sensor.get("database")).get_points()))
        if result[0] == "ok":
            points = result[2]
            result = ("ok", None, points[0].get("value") if points else None)
    elif command == "query":
        arguments = json.loads(argument)
        # Not Home Assistant's: "accept" replaces the client's Accept: application/x-msgpack, for
        # the answers the client reads only as JSON (chunked ones).
        if "accept" in arguments:
            client._headers["Accept"] = arguments.pop("accept")

        def run():
            answer = client.query(**arguments)
            if arguments.get("chunked"):
                return [list(chunk.get_points()) for chunk in answer]
            return list(answer.get_points())
        result = outcome_of(run)
    else:
        sys.exit(f"homeassistant_v1.py: unknown command {command!r}; expected setup, states, "
                 "read_test, sensor or query")
    outcome, error, value = result
    print(json.dumps({"outcome": outcome, "error": error, "result": value, "requests": seen},
                     ensure_ascii=False))


if __name__ == "__main__":
    main()
