// Compares the processed points of one fixture scenario replayed through meter-relay (a spool
// dump) with the reference pipeline's output, as issue 5 states it:
// - meter_interpolated_daily and meter_consumption equal output/daily.csv and consumption.csv
//   within 1e-9 (relative, absolute near 0) on every reference day strictly between a meter's
//   first and last reading, for meters with at most 100 readings (the reference thins denser
//   ones). After a reset the stream's register carries an offset the reference does not: it is
//   taken from the reset/replacement event ("offset now X") and subtracted.
// - Days touched by a reading that goes backwards (between the reading before it and the reading
//   after it) are not compared; there the stream must have emitted negative_delta, glitch, reset
//   or replacement for that reading instead.
// - Everything the stream wrote: records addressed to PROCESSED_DB, daily/consumption/monthly/
//   anomaly points at UTC midnights, no negative consumption, no point twice.
// Prints one summary line; with problems, exits 1 and prints them (at most 20) after it.
//
//   node stream_reference.mjs SCENARIO_DIR DUMP_FILE PROCESSED_DB
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { dumpRecords, pointParse } from "./stream_points.mjs";

const MAX_READINGS = 100;
const NS_PER_DAY = 86400n * 1000000000n;
const DECREASE_EVENTS = new Set(["negative_delta", "glitch", "reset", "replacement"]);

const [scenarioDir, dumpFile, processedDb] = process.argv.slice(2);
if (!processedDb) {
  console.error("usage: node stream_reference.mjs SCENARIO_DIR DUMP_FILE PROCESSED_DB");
  process.exit(2);
}

const problems = [];
const problem = (text) => problems.push(text);

// meter_id,timestamp,value rows by meter, each in time order (ties in file order).
function csvByMeter(file) {
  const byMeter = new Map();
  for (const line of readFileSync(join(scenarioDir, file), "utf8").trim().split("\n").slice(1)) {
    const [meter, timestamp, value] = line.split(",");
    if (!byMeter.has(meter)) byMeter.set(meter, []);
    byMeter.get(meter).push({ ns: BigInt(Date.parse(timestamp)) * 1000000n, value: Number(value), timestamp });
  }
  for (const rows of byMeter.values()) rows.sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0));
  return byMeter;
}

const byTime = (rows) => new Map((rows ?? []).map((row) => [row.ns, row]));
const closeEnough = (ours, reference) =>
  Math.abs(ours - reference) <= 1e-9 * Math.max(Math.abs(reference), 1);
const when = (ns) => new Date(Number(ns / 1000000n)).toISOString().replace(".000Z", "Z");

// The processed points, checked for what holds for every meter.
const points = [];
for (const record of dumpRecords(dumpFile)) {
  const processed = record.routing.db === processedDb;
  if (record.derived !== processed) problem(`record routed wrongly: ${record.header}`);
  if (record.derived) for (const line of record.lines) points.push(pointParse(line));
}
const series = new Map(); // "measurement meter" -> Map(ns -> point)
const events = new Map(); // meter -> [point]
for (const point of points) {
  const meter = point.tags.meter_id;
  if (point.measurement === "meter_event") {
    if (!events.has(meter)) events.set(meter, []);
    events.get(meter).push(point);
    continue;
  }
  if (point.ns % NS_PER_DAY !== 0n) problem(`not at a UTC midnight: ${point.line}`);
  if (point.measurement === "meter_consumption" && !(point.fields.value >= 0))
    problem(`negative consumption: ${point.line}`);
  const key = `${point.measurement} ${meter}`;
  if (!series.has(key)) series.set(key, new Map());
  if (series.get(key).has(point.ns)) problem(`emitted twice: ${point.line}`);
  series.get(key).set(point.ns, point);
}
const stream = (measurement, meter, ns) => series.get(`${measurement} ${meter}`)?.get(ns);

// The register offset in force at ns: the last reset/replacement before it says it.
function offsetAt(meter, ns) {
  let offset = 0;
  for (const event of events.get(meter) ?? [])
    if ((event.tags.kind === "reset" || event.tags.kind === "replacement") && event.ns < ns) {
      const said = /offset now (\S+)$/.exec(event.fields.detail);
      if (!said) problem(`${meter}: ${event.tags.kind} event without its offset: ${event.line}`);
      else offset = Number(said[1]);
    }
  return offset;
}

const readings = csvByMeter("input/readings.csv");
const daily = csvByMeter("output/daily.csv");
const consumption = csvByMeter("output/consumption.csv");
const counts = { meters: 0, days: 0, consumption: 0, decreases: 0, eligible: 0 };
for (const [meter, rows] of readings) {
  if (rows.length > MAX_READINGS) continue;
  counts.meters++;
  const first = rows[0].ns;
  const last = rows[rows.length - 1].ns;
  const touched = (ns) =>
    rows.some(
      (row, k) =>
        k > 0 && row.value < rows[k - 1].value && rows[k - 1].ns < ns && (k + 1 === rows.length || ns < rows[k + 1].ns),
    );
  const inside = (ns) => first < ns && ns < last && !touched(ns);
  const referenceDaily = byTime(daily.get(meter));
  for (const row of daily.get(meter) ?? []) {
    if (!inside(row.ns)) continue;
    const point = stream("meter_interpolated_daily", meter, row.ns);
    const ours = point ? point.fields.value - offsetAt(meter, row.ns) : undefined;
    if (!point) problem(`${meter} daily ${row.timestamp}: not emitted (reference ${row.value})`);
    else if (!closeEnough(ours, row.value))
      problem(`${meter} daily ${row.timestamp}: ${ours} (${point.line}), reference ${row.value}`);
    counts.days++;
  }
  for (const row of consumption.get(meter) ?? []) {
    const before = row.ns - NS_PER_DAY;
    if (!inside(row.ns) || before <= first || touched(before) || !referenceDaily.has(before)) continue;
    const point = stream("meter_consumption", meter, row.ns);
    if (!point) problem(`${meter} consumption ${row.timestamp}: not emitted (reference ${row.value})`);
    else if (!closeEnough(point.fields.value, row.value))
      problem(`${meter} consumption ${row.timestamp}: ${point.line}, reference ${row.value}`);
    counts.consumption++;
  }
  // A decrease is decided by the reading after it; the last reading's stays pending.
  for (let k = 1; k + 1 < rows.length; k++) {
    if (rows[k].value >= rows[k - 1].value) continue;
    counts.decreases++;
    const found = (events.get(meter) ?? []).some(
      (event) => event.ns === rows[k].ns && DECREASE_EVENTS.has(event.tags.kind),
    );
    if (!found)
      problem(`${meter}: no negative_delta, glitch, reset or replacement for the reading at ${when(rows[k].ns)}`);
  }
  if ((daily.get(meter) ?? []).some((row) => first < row.ns && row.ns < last)) counts.eligible++;
}
// A scenario with reference days between a meter's readings must have compared some of them.
if (counts.eligible > 0 && counts.days === 0) problem("reference days between readings, none compared");

console.log(
  `${points.length} processed points; ${counts.meters} meters with <= ${MAX_READINGS} readings: ` +
    `days=${counts.days} consumption_days=${counts.consumption} decreases=${counts.decreases}`,
);
for (const text of problems.slice(0, 20)) console.log(text);
if (problems.length > 20) console.log(`... and ${problems.length - 20} more problems`);
process.exit(problems.length ? 1 : 0);
