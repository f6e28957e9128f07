// Meter readings as Home Assistant writes them to InfluxDB, cut into request bodies for the stream
// tests: OUT_DIR/000001.lp, 000002.lp, ... (LINES lines each, in time order) and prints
// "<requests> <lines>".
//
//   node stream_readings.mjs reference SCENARIO_DIR OUT_DIR LINES
//       a fixture scenario's input/readings.csv: measurement = the meter's unit from
//       scenario.json (Home Assistant falls back to the entity id when there is none), tags
//       domain=input_number and entity_id, field value (the CSV text as it is), sorted by time;
//       readings at the same time keep their order in the file.
//   node stream_readings.mjs history OUT_DIR LINES
//       a deterministic year (2024, UTC) of 15-minute readings of three meters, with a transient
//       0, a garbage value, a small dip, a register reset, a spike day and a 10-day gap, so that
//       every rule with state (pending drops, offsets, detectors, cadence) is exercised.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

function usage() {
  console.error(
    "usage: node stream_readings.mjs reference SCENARIO_DIR OUT_DIR LINES\n" +
      "       node stream_readings.mjs history OUT_DIR LINES",
  );
  process.exit(2);
}

function requestsWrite(outDir, lines, perRequest) {
  mkdirSync(outDir, { recursive: true });
  let requests = 0;
  for (let start = 0; start < lines.length; start += perRequest) {
    requests++;
    const body = lines.slice(start, start + perRequest).join("\n") + "\n";
    writeFileSync(join(outDir, `${String(requests).padStart(6, "0")}.lp`), body);
  }
  console.log(`${requests} ${lines.length}`);
}

// Line protocol escaping of a measurement and of a tag value (commas, spaces, and = in tags).
const measurementEscape = (text) => text.replace(/[, ]/g, (c) => `\\${c}`);
const tagEscape = (text) => text.replace(/[,= ]/g, (c) => `\\${c}`);

function readingLine(unit, meterId, value, ns) {
  return `${measurementEscape(unit)},domain=input_number,entity_id=${tagEscape(meterId)} value=${value} ${ns}`;
}

function referenceLines(scenarioDir) {
  const { units } = JSON.parse(readFileSync(join(scenarioDir, "scenario.json"), "utf8"));
  const rows = readFileSync(join(scenarioDir, "input/readings.csv"), "utf8")
    .trim()
    .split("\n")
    .slice(1)
    .map((line, order) => {
      const [meterId, timestamp, value] = line.split(",");
      const ms = Date.parse(timestamp);
      if (Number.isNaN(ms) || value === undefined) throw new Error(`cannot read: ${line}`);
      return { meterId, ns: BigInt(ms) * 1000000n, value, order };
    });
  // Array.prototype.sort is stable, so ties keep the file's order.
  rows.sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0));
  return rows.map((r) => readingLine(units[r.meterId] ?? r.meterId, r.meterId, r.value, r.ns));
}

// mulberry32: a small seeded generator, so every run writes the same history.
function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function historyLines() {
  const next = random(20240101);
  const start = Date.UTC(2024, 0, 1) / 1000;
  const step = 900;
  const slots = 366 * 96;
  const day = (slot) => Math.floor(slot / 96);
  // Daily consumption per meter, the register advancing evenly over the day's slots.
  const meters = [
    { id: "strom", unit: "kWh", register: 12000, perDay: (d) => 8 + 4 * next() + (d === 200 ? 80 : 0) },
    {
      id: "gas",
      unit: "m³",
      register: 4500,
      perDay: (d) => 0.5 + 6 * Math.max(0, Math.cos((2 * Math.PI * d) / 366)) * (0.8 + 0.4 * next()),
    },
    { id: "wasser", unit: "m³", register: 830, perDay: () => 0.3 + 0.2 * next() },
  ];
  const lines = [];
  for (const meter of meters) meter.today = meter.perDay(0);
  for (let slot = 0; slot < slots; slot++) {
    if (slot % 96 === 0 && slot > 0) for (const meter of meters) meter.today = meter.perDay(day(slot));
    const ns = BigInt(start + slot * step) * 1000000000n;
    for (const meter of meters) {
      meter.register += meter.today / 96;
      if (meter.id === "wasser" && slot === 250 * 96) meter.register = 0.01; // reset
      let value = meter.register;
      if (meter.id === "strom" && slot === 150 * 96 + 37) value = 0; // transient 0 (glitch)
      if (meter.id === "gas" && slot === 90 * 96 + 50) value = meter.register / 3; // garbage
      if (meter.id === "gas" && day(slot) >= 300 && day(slot) < 310) continue; // stale gap
      if (meter.id === "wasser" && slot === 100 * 96 + 10) value = meter.register - 0.5; // dip
      lines.push(readingLine(meter.unit, meter.id, value.toFixed(3), ns));
    }
  }
  return lines;
}

const [command, ...args] = process.argv.slice(2);
if (command === "reference" && args.length === 3) {
  requestsWrite(args[1], referenceLines(args[0]), Number(args[2]));
} else if (command === "history" && args.length === 2) {
  requestsWrite(args[0], historyLines(), Number(args[1]));
} else {
  usage();
}
