// Compares a `meter-batch reconcile --out DIR` run with a reference fixture scenario's output
// (issue 6, parity): daily, monthly, master_daily, master_monthly, consumption and virtual must
// have the same rows in the same order, values within 1e-9 (relative, absolute near 0); the
// anomaly flags must agree on every well-conditioned day. A day is ill-conditioned when the
// reference's own anomaly_frames.csv shows a rolling standard deviation that is zero in exact
// arithmetic (below 1e-9 of the rolling mean, or 1e-12): there its flag is decided by rounding
// noise (fixtures README, "Comparing").
// Prints one summary line per file; with problems, exits 1 and prints them (at most 10 a file).
//
//   node batch_compare.mjs REFERENCE_OUTPUT_DIR OUR_DIR
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const [referenceDir, oursDir] = process.argv.slice(2);
if (!oursDir) {
  console.error("usage: node batch_compare.mjs REFERENCE_OUTPUT_DIR OUR_DIR");
  process.exit(2);
}

function csvRows(path) {
  if (!existsSync(path)) return null;
  const lines = readFileSync(path, "utf8").split("\n").filter((line) => line.length > 0);
  const header = lines[0].split(",");
  return lines.slice(1).map((line) => {
    const fields = line.split(",");
    return Object.fromEntries(header.map((name, i) => [name, fields[i]]));
  });
}

const close = (a, b) =>
  (Number.isNaN(a) && Number.isNaN(b)) || a === b || Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a));

let failed = false;
for (const file of ["daily", "monthly", "master_daily", "master_monthly", "consumption", "virtual"]) {
  const reference = csvRows(join(referenceDir, `${file}.csv`));
  const ours = csvRows(join(oursDir, `${file}.csv`));
  const problems = [];
  if (!ours) problems.push(`${file}.csv missing`);
  else {
    if (ours.length !== reference.length) problems.push(`${ours.length} rows, reference ${reference.length}`);
    const n = Math.min(ours.length, reference.length);
    for (let i = 0; i < n; i++) {
      const a = reference[i], b = ours[i];
      if (a.meter_id !== b.meter_id || a.timestamp !== b.timestamp)
        problems.push(`row ${i + 2}: ${b.meter_id} ${b.timestamp}, reference ${a.meter_id} ${a.timestamp}`);
      else if (!close(Number(a.value), Number(b.value)))
        problems.push(`${a.meter_id} ${a.timestamp}: ${b.value}, reference ${a.value}`);
    }
  }
  console.log(`  ${file}: ${reference.length} rows, ${problems.length} problems`);
  for (const text of problems.slice(0, 10)) console.log(`    ${text}`);
  failed ||= problems.length > 0;
}

// Anomaly flags: the reference's flagged days against ours, on well-conditioned days.
const frames = csvRows(join(referenceDir, "anomaly_frames.csv")) ?? [];
const illConditioned = new Set();
for (const row of frames) {
  const std = Number(row.rolling_std), mean = Math.abs(Number(row.rolling_mean));
  if (Number.isFinite(std) && std <= Math.max(1e-12, 1e-9 * mean)) illConditioned.add(`${row.meter_id} ${row.timestamp}`);
}
const flagged = (rows) => new Set((rows ?? []).filter((row) => row.is_anomaly === "1" || row.is_anomaly === "True").map((row) => `${row.meter_id} ${row.timestamp}`));
const referenceFlags = flagged(csvRows(join(referenceDir, "anomalies.csv")));
const oursRows = csvRows(join(oursDir, "anomalies.csv"));
const ourFlags = flagged(oursRows);
const problems = [];
if (!oursRows) problems.push("anomalies.csv missing");
let skipped = 0;
for (const day of new Set([...referenceFlags, ...ourFlags])) {
  if (referenceFlags.has(day) === ourFlags.has(day)) continue;
  if (illConditioned.has(day)) skipped++;
  else problems.push(`${day}: ${ourFlags.has(day) ? "flagged by us only" : "flagged by the reference only"}`);
}
console.log(`  anomalies: ${referenceFlags.size} flagged by the reference, ${ourFlags.size} by us, ${skipped} ill-conditioned differences, ${problems.length} problems`);
for (const text of problems.slice(0, 10)) console.log(`    ${text}`);
failed ||= problems.length > 0;
process.exit(failed ? 1 : 0);
