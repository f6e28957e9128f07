// Data for tests/integration/test_influx_client.sh: meter readings in Home Assistant's schema and
// two more reading rules, mixed with points that must not count, and what the history reader must
// make of them.
//
//   node influx_client_data.mjs generate DIR
//       DIR/lines.lp              line protocol in write order (ns timestamps)
//       DIR/expected.tsv          METER<TAB>T_NS<TAB>VALUE: every reading, by meter then time,
//                                 of several readings at one instant the one InfluxDB keeps
//                                 and, between rules, the first rule's
//       DIR/expected_since.tsv    the same from DIR/since.txt on
//       DIR/counts_v1.txt         the counts line the driver prints for InfluxDB 1.x
//       DIR/counts_v2.txt         the same for the Flux path (stand-in server, see below)
//       DIR/flux_rule{0,1,2}.csv  the annotated CSV an InfluxDB 2.x answers each rule's Flux
//                                 query with (after keep(columns: [_time, _value, ID_TAG]))
//   node influx_client_data.mjs compare EXPECTED ACTUAL
//       same meters and timestamps line by line, values equal as numbers; prints the first
//       difference and exits 1
//
// The rules (config in the test): A = Home Assistant (any measurement, domain=input_number,
// entity_id, value); B = measurement "zähler_[ab]*", source=it's "ok", id tag "meter id", field
// reading; C = measurement status, id tag entity_id, field text (strings only).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const NS_PER_S = 1000000000n;
const T0 = 1704067200n * NS_PER_S; // 2024-01-01T00:00:00Z

// A small deterministic generator (mulberry32), so every run writes the same data.
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

// Line protocol escapes: measurement (comma, space), tag keys and values (comma, equals, space).
const escapeMeasurement = (text) => text.replace(/[, ]/g, (c) => `\\${c}`);
const escapeTag = (text) => text.replace(/[,= ]/g, (c) => `\\${c}`);
const escapeString = (text) => text.replace(/["\\]/g, (c) => `\\${c}`);

function fieldText(value) {
  if (typeof value === 'string') return `"${escapeString(value)}"`;
  if (typeof value === 'boolean') return String(value);
  if (value.integer) return `${value.integer}i`;
  return String(value);
}

// A point: measurement, tags {k: v}, fields {k: number | {integer} | string | boolean}, t (BigInt).
function line(point) {
  const tags = Object.entries(point.tags)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `,${escapeTag(k)}=${escapeTag(v)}`)
    .join('');
  const fields = Object.entries(point.fields)
    .map(([k, v]) => `${escapeTag(k)}=${fieldText(v)}`)
    .join(',');
  return `${escapeMeasurement(point.measurement)}${tags} ${fields} ${point.t}`;
}

function generate() {
  const next = random(20240101);
  const points = [];
  // Timestamps with sub-microsecond digits: the reader must keep every nanosecond.
  const jitter = () => BigInt(Math.floor(next() * 1e9)) * 1000n + BigInt(Math.floor(next() * 1000));
  // Register readings: increasing, rounded to 3 decimals (values any client could write).
  function meterSeries(count, start, step, spacingHours) {
    const series = [];
    let value = start;
    let t = T0 + jitter();
    for (let i = 0; i < count; i++) {
      series.push({ t, value: Math.round(value * 1000) / 1000 });
      value += next() * step;
      t += BigInt(Math.round(spacingHours * 3600)) * NS_PER_S + jitter() / 4n;
    }
    return series;
  }
  const ha = (measurement, entity, fields, t, extraTags = {}) =>
    points.push({ measurement, tags: { domain: 'input_number', entity_id: entity, ...extraTags }, fields, t });

  const strom = meterSeries(1500, 1000, 2.5, 1);
  for (const r of strom) ha('kWh', 'strom', { value: r.value, friendly_name_str: 'Strom Haupt' }, r.t);
  for (const r of meterSeries(1000, 100, 0.3, 1.5)) ha('m³', 'wasser', { value: r.value }, r.t);
  for (const r of meterSeries(600, 5000, 20, 2)) ha('gas_m³', 'gas', { value: { integer: Math.round(r.value) } }, r.t);
  const heizung = meterSeries(700, 10000, 40, 1);
  heizung.slice(0, 400).forEach((r) => ha('kWh', 'heizung', { value: r.value }, r.t));
  heizung.slice(400).forEach((r) => ha('MWh', 'heizung', { value: r.value / 1000 }, r.t));
  for (const r of meterSeries(200, 3, 0.01, 12)) ha('W', "o'brien küche", { value: r.value }, r.t);
  // Not readings: another domain, no entity_id, no value field, string and boolean values.
  for (const r of meterSeries(300, 7, 1, 3))
    points.push({ measurement: 'kWh', tags: { domain: 'sensor', entity_id: 'strom' }, fields: { value: r.value }, t: r.t });
  for (const r of meterSeries(50, 1, 1, 5))
    points.push({ measurement: 'kWh', tags: { domain: 'input_number' }, fields: { value: r.value }, t: r.t });
  for (const r of meterSeries(50, 1, 1, 5)) ha('kWh', 'strom', { state: r.value }, r.t + 1n);
  for (const r of meterSeries(20, 1, 1, 5)) ha('state', 'strom', { value: `on ${r.value}` }, r.t);
  for (const r of meterSeries(10, 1, 1, 5)) ha('flag', 'wasser', { value: r.value > 5 }, r.t);
  // Rule B's meters, with a comma and a quote in tag values and a space in the id tag's key.
  const b = (measurement, meter, fields, t, source = 'it\'s "ok"') =>
    points.push({ measurement, tags: { source, 'meter id': meter }, fields, t });
  for (const r of meterSeries(300, 50, 1, 4)) b('zähler_a', 'zähler, 1', { reading: r.value }, r.t);
  for (const r of meterSeries(200, 70, 1, 4)) b('zähler_b', 'zähler 2', { reading: r.value }, r.t);
  for (const r of meterSeries(100, 70, 1, 4)) b('zähler_c', 'zähler 2', { reading: r.value }, r.t);
  for (const r of meterSeries(100, 70, 1, 4)) b('zähler_a', 'zähler 2', { reading: r.value }, r.t, 'other');
  // Points both rule A and rule B match, under the same meter id: the first rule's value counts.
  for (let i = 0; i < 5; i++) {
    const t = strom[strom.length - 1].t + BigInt(i + 1) * 3600n * NS_PER_S;
    points.push({
      measurement: 'zähler_a',
      tags: { domain: 'input_number', entity_id: 'strom', source: 'it\'s "ok"', 'meter id': 'strom' },
      fields: { value: 5000 + i, reading: 999 },
      t,
    });
  }
  // Rule C: strings only.
  for (const r of meterSeries(30, 1, 1, 5))
    points.push({ measurement: 'status', tags: { entity_id: 'door' }, fields: { text: `open ${r.value}` }, t: r.t });

  // Shuffle, then rewrite 100 of strom's readings later with other values: InfluxDB keeps the
  // last write of a series and timestamp.
  for (let i = points.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [points[i], points[j]] = [points[j], points[i]];
  }
  const rewrites = [];
  for (let i = 0; i < 100; i++) {
    const r = strom[Math.floor(next() * strom.length)];
    rewrites.push({ measurement: 'kWh', tags: { domain: 'input_number', entity_id: 'strom' }, fields: { value: r.value + 0.5 + i }, t: r.t });
  }
  return points.concat(rewrites);
}

// What InfluxDB holds: the last write per series (measurement + tags) and timestamp and field.
function stored(points) {
  const byKey = new Map();
  for (const point of points) {
    const series = line({ ...point, fields: {}, t: '' });
    for (const [field, value] of Object.entries(point.fields)) {
      byKey.set(`${series}\u0000${field}\u0000${point.t}`, { ...point, field, value });
    }
  }
  return [...byKey.values()];
}

const RULES = [
  { match: (p) => p.tags.domain === 'input_number', idTag: 'entity_id', field: 'value' },
  { match: (p) => /^zähler_[ab]/.test(p.measurement) && p.tags.source === 'it\'s "ok"', idTag: 'meter id', field: 'reading' },
  { match: (p) => p.measurement === 'status', idTag: 'entity_id', field: 'text' },
];

const isNumber = (value) => typeof value === 'number' || (typeof value === 'object' && 'integer' in value);
const numberOf = (value) => (typeof value === 'number' ? value : value.integer);
const compareText = (a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b)));

// The readings and the counts as the history reader reports them. v1: InfluxDB 1.x merges the
// types of a field over the measurements a query reads (float > integer > string > boolean) and
// leaves out values of the types that lost, and gives rows without the GROUP BY tag an empty tag;
// v2: Flux returns every value typed, and `exists` filters the rows without the id tag.
function readingsOf(values, api) {
  const readings = new Map(); // meter -> Map(t -> value)
  const counts = { points: 0, duplicates: 0, not_numeric: 0, without_id: 0 };
  for (let r = RULES.length - 1; r >= 0; r--) {
    const rule = RULES[r];
    const rows = values.filter((v) => v.field === rule.field && rule.match(v));
    const numeric = rows.some((v) => isNumber(v.value));
    for (const row of rows) {
      const id = row.tags[rule.idTag] ?? '';
      if (api === 'v1' && numeric && !isNumber(row.value)) continue;
      if (id === '') {
        if (api === 'v1') counts.without_id++;
        continue;
      }
      if (!isNumber(row.value)) {
        counts.not_numeric++;
        continue;
      }
      counts.points++;
      if (!readings.has(id)) readings.set(id, new Map());
      if (readings.get(id).has(row.t)) counts.duplicates++;
      readings.get(id).set(row.t, numberOf(row.value));
    }
  }
  return { readings, counts };
}

function tsv(readings, since = null) {
  const lines = [];
  for (const meter of [...readings.keys()].sort(compareText)) {
    const byTime = [...readings.get(meter).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [t, value] of byTime) if (since === null || t >= since) lines.push(`${meter}\t${t}\t${value}`);
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

// RFC3339Nano as Go formats it: the fraction without trailing zeros, none when zero.
function rfc3339(t) {
  const seconds = t / NS_PER_S;
  const fraction = t % NS_PER_S;
  const text = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return fraction === 0n ? `${text}Z` : `${text}.${String(fraction).padStart(9, '0').replace(/0+$/, '')}Z`;
}

// A CSV field, quoted when it holds a comma, quote or line break (as Go's encoding/csv does).
const csvField = (text) => (/[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);

const DATATYPES = { number: 'double', integer: 'long', string: 'string', boolean: 'boolean' };
const typeOf = (value) => (typeof value === 'object' ? 'integer' : typeof value);

// One rule's answer as InfluxDB 2.x writes it: a table per series (group key: the id tag, the
// only group column keep() leaves), tables of one schema in one block, a new block with its own
// annotations and header after an empty line when the _value type changes; CRLF line ends.
function fluxAnswer(values, rule) {
  const series = new Map();
  for (const row of values.filter((v) => v.field === rule.field && rule.match(v) && (v.tags[rule.idTag] ?? '') !== '')) {
    const key = line({ ...row, fields: {}, t: '' });
    if (!series.has(key)) series.set(key, []);
    series.get(key).push(row);
  }
  const keys = [...series.keys()].sort(compareText);
  let text = '';
  let blockType = null;
  keys.forEach((key, table) => {
    const rows = series.get(key).sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
    const type = DATATYPES[typeOf(rows[0].value)];
    if (type !== blockType) {
      if (blockType !== null) text += '\r\n';
      text += `#datatype,string,long,dateTime:RFC3339,${type},string\r\n`;
      text += '#group,false,false,false,false,true\r\n';
      text += '#default,_result,,,,\r\n';
      text += `,result,table,_time,_value,${csvField(rule.idTag)}\r\n`;
      blockType = type;
    }
    for (const row of rows) {
      const value = typeOf(row.value) === 'integer' ? String(row.value.integer) : String(row.value);
      text += `,,${table},${rfc3339(row.t)},${csvField(value)},${csvField(row.tags[rule.idTag])}\r\n`;
    }
  });
  return `${text}\r\n`;
}

function countsLine(counts, meters) {
  return `points=${counts.points} duplicates=${counts.duplicates} not_numeric=${counts.not_numeric} ` +
    `without_id=${counts.without_id} meters=${meters} queries=${RULES.length} requests=${RULES.length}\n`;
}

function commandGenerate(dir) {
  const points = generate();
  writeFileSync(join(dir, 'lines.lp'), `${points.map(line).join('\n')}\n`);
  const values = stored(points);
  const v1 = readingsOf(values, 'v1');
  const v2 = readingsOf(values, 'v2');
  writeFileSync(join(dir, 'expected.tsv'), tsv(v1.readings));
  const since = T0 + 40n * 86400n * NS_PER_S + 123n;
  writeFileSync(join(dir, 'since.txt'), `${since}\n`);
  writeFileSync(join(dir, 'expected_since.tsv'), tsv(v1.readings, since));
  writeFileSync(join(dir, 'counts_v1.txt'), countsLine(v1.counts, v1.readings.size));
  writeFileSync(join(dir, 'counts_v2.txt'), countsLine(v2.counts, v2.readings.size));
  RULES.forEach((rule, index) => writeFileSync(join(dir, `flux_rule${index}.csv`), fluxAnswer(values, rule)));
  if (tsv(v2.readings) !== tsv(v1.readings)) throw new Error('v1 and v2 readings differ');
}

function commandCompare(expectedPath, actualPath) {
  const expected = readFileSync(expectedPath, 'utf8').split('\n').filter(Boolean);
  const actual = readFileSync(actualPath, 'utf8').split('\n').filter(Boolean);
  for (let i = 0; i < Math.max(expected.length, actual.length); i++) {
    const [em, et, ev] = (expected[i] ?? '').split('\t');
    const [am, at, av] = (actual[i] ?? '').split('\t');
    if (em !== am || et !== at || Number(ev) !== Number(av)) {
      console.log(`line ${i + 1}: expected "${expected[i] ?? '(none)'}", got "${actual[i] ?? '(none)'}"`);
      process.exit(1);
    }
  }
  console.log(`${actual.length} readings equal`);
}

const [command, ...args] = process.argv.slice(2);
if (command === 'generate' && args.length === 1) commandGenerate(args[0]);
else if (command === 'compare' && args.length === 2) commandCompare(args[0], args[1]);
else {
  console.error('usage: influx_client_data.mjs generate DIR | compare EXPECTED ACTUAL');
  process.exit(2);
}
