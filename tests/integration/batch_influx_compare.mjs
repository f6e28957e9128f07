// The processed series meter-batch wrote to InfluxDB 1.x against the CSV files a `--out` run of the
// same data wrote: every point of meter_interpolated_daily (daily.csv + master_daily.csv),
// meter_interpolated_monthly (monthly.csv + master_monthly.csv), meter_consumption
// (consumption.csv + virtual.csv) and meter_anomaly (anomalies.csv) must be in the database with
// the same value, bit for bit (the line protocol carries the shortest round-trip decimal), and
// nothing else. Prints "points N", or the problems (at most 20) and exits 1.
//
//   node batch_influx_compare.mjs INFLUXDB_URL DATABASE CSV_DIR
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const [url, database, csvDir] = process.argv.slice(2);
if (!csvDir) {
  console.error("usage: node batch_influx_compare.mjs INFLUXDB_URL DATABASE CSV_DIR");
  process.exit(2);
}

function csvRows(file) {
  const path = join(csvDir, file);
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, "utf8").split("\n").filter((line) => line.length > 0);
  const header = lines[0].split(",");
  return lines.slice(1).map((line) => Object.fromEntries(line.split(",").map((v, i) => [header[i], v])));
}

// Every point of a measurement as "meter_id timestamp_ns" -> fields, through chunked InfluxQL.
async function measurementRead(measurement) {
  const query = `SELECT * FROM "${measurement}" GROUP BY "meter_id"`;
  const address = `${url}/query?db=${encodeURIComponent(database)}&epoch=ns&chunked=true&q=${encodeURIComponent(query)}`;
  const answer = await fetch(address);
  if (!answer.ok) throw new Error(`${measurement}: HTTP ${answer.status} ${await answer.text()}`);
  const points = new Map();
  for (const line of (await answer.text()).split("\n")) {
    if (!line.trim()) continue;
    for (const result of JSON.parse(line).results ?? []) {
      if (result.error) throw new Error(`${measurement}: ${result.error}`);
      for (const series of result.series ?? []) {
        for (const row of series.values) {
          const fields = Object.fromEntries(series.columns.map((name, i) => [name, row[i]]));
          points.set(`${series.tags.meter_id} ${fields.time}`, fields);
        }
      }
    }
  }
  return points;
}

// JSON.parse loses ns timestamps; compare at whole seconds, which is what the CSV files have.
const second = (ns) => Math.round(ns / 1e9);
const csvSecond = (timestamp) => Date.parse(timestamp) / 1000;

const problems = [];
let total = 0;
const checks = [
  ["meter_interpolated_daily", ["daily.csv", "master_daily.csv"], ["value"]],
  ["meter_interpolated_monthly", ["monthly.csv", "master_monthly.csv"], ["value"]],
  ["meter_consumption", ["consumption.csv", "virtual.csv"], ["value"]],
  ["meter_anomaly", ["anomalies.csv"], ["value", "z_score", "iqr_lower", "iqr_upper", "anomaly_count"]],
];
for (const [measurement, files, fields] of checks) {
  const stored = new Map();
  for (const [key, point] of await measurementRead(measurement)) {
    const [meter, ns] = key.split(" ");
    stored.set(`${meter} ${second(Number(ns))}`, point);
  }
  const expected = files.flatMap(csvRows);
  for (const row of expected) {
    const key = `${row.meter_id} ${csvSecond(row.timestamp)}`;
    const point = stored.get(key);
    if (!point) {
      problems.push(`${measurement}: ${row.meter_id} ${row.timestamp} missing`);
      continue;
    }
    for (const field of fields) {
      if (Number(point[field]) !== Number(row[field]))
        problems.push(`${measurement}: ${row.meter_id} ${row.timestamp} ${field} ${point[field]}, expected ${row[field]}`);
    }
    stored.delete(key);
  }
  for (const key of stored.keys()) problems.push(`${measurement}: ${key} is not in the CSV files`);
  total += expected.length;
}
if (problems.length > 0) {
  console.log(`${problems.length} problems`);
  for (const text of problems.slice(0, 20)) console.log(`  ${text}`);
  process.exit(1);
}
console.log(`points ${total}`);
