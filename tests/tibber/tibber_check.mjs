// Compares what meter-batch tibber wrote to a real InfluxDB 1.x with what the fake Tibber served
// (tests/tibber/fake_tibber.mjs), exactly: every value must read back as the same double.
//
//   node tests/tibber/tibber_check.mjs COMMAND --influx URL --db DB --meter ID --fake URL [...]
//
//   energy [--from ISO] [--to ISO]   the energy points are exactly the fake's settled hours
//                                    within [from, to] (default: all it serves), each with its
//                                    fields (null ones absent), tags entity_id and domain=sensor
//   register --anchor-time ISO --anchor-value V [--booked ISO=kWh ...] [--give-up-before ISO]
//                                    the kWh points after the anchor are the running sum from
//                                    the anchor over the fake's hours after it, up to the first
//                                    pending one (hours ending before --give-up-before are
//                                    skipped); --booked gives the consumption the register
//                                    counted for an hour the fake has revised since
//   prices                           electricity_price holds exactly the fake's prices
//   count                            prints energy=N kWh=N electricity_price=N
// Prints one line starting "<command> ok" (and the figures), or what differs; exits 0 either way
// (the test compares the line).
import { parseArgs } from 'node:util';

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    influx: { type: 'string' }, db: { type: 'string' }, meter: { type: 'string' }, fake: { type: 'string' },
    from: { type: 'string' }, to: { type: 'string' },
    'anchor-time': { type: 'string' }, 'anchor-value': { type: 'string' },
    booked: { type: 'string', multiple: true }, 'give-up-before': { type: 'string' },
  },
});
const HOUR = 3600000;

async function influxSeries(query) {
  const url = new URL('/query', options.influx);
  url.searchParams.set('db', options.db);
  url.searchParams.set('epoch', 'ms');
  url.searchParams.set('q', query);
  const answer = await (await fetch(url)).json();
  const result = answer.results[0];
  if (result.error) throw new Error(result.error);
  const series = result.series ?? [];
  const rows = [];
  for (const s of series)
    for (const values of s.values) rows.push(Object.fromEntries(s.columns.map((c, i) => [c, values[i]])));
  return rows.sort((a, b) => a.time - b.time);
}

const meterCondition = () => `"entity_id" = '${options.meter.replace(/'/g, "\\'")}'`;
const fakeGet = async (path) => (await fetch(new URL(path, options.fake))).json();
const iso = (ms) => new Date(ms).toISOString();

function differences(expected, stored, fields, tags) {
  const problems = [];
  const byTime = new Map(stored.map((row) => [row.time, row]));
  for (const want of expected) {
    const row = byTime.get(want.time);
    if (!row) {
      problems.push(`missing ${iso(want.time)}`);
      continue;
    }
    byTime.delete(want.time);
    for (const [field, value] of Object.entries(fields(want)))
      if ((value ?? null) !== (row[field] ?? null)) problems.push(`${iso(want.time)} ${field}: want ${value} got ${row[field]}`);
    for (const [tag, value] of Object.entries(tags))
      if (row[tag] !== value) problems.push(`${iso(want.time)} tag ${tag}: want ${value} got ${row[tag]}`);
  }
  for (const time of byTime.keys()) problems.push(`unexpected ${iso(time)}`);
  return problems;
}

function report(command, problems, figures) {
  if (problems.length === 0) console.log(`${command} ok ${figures}`);
  else console.log(`${command} differs: ${problems.slice(0, 8).join('; ')}${problems.length > 8 ? ` (+${problems.length - 8})` : ''}`);
}

async function energyCheck() {
  const from = options.from ? Date.parse(options.from) : -Infinity;
  const to = options.to ? Date.parse(options.to) : Infinity;
  const nodes = (await fakeGet('/_control/nodes')).filter((n) => n.consumption !== null && n.from_ms >= from && n.from_ms <= to);
  const stored = await influxSeries(`SELECT * FROM "energy" WHERE ${meterCondition()}`);
  const expected = nodes.map((n) => ({ time: n.from_ms, node: n }));
  const problems = differences(expected, stored, ({ node }) => ({
    consumption: node.consumption, cost: node.cost, unit_price: node.unitPrice, unit_price_vat: node.unitPriceVAT,
  }), { domain: 'sensor', entity_id: options.meter });
  report('energy', problems, `${stored.length}`);
}

async function registerCheck() {
  const anchor = Date.parse(options['anchor-time']);
  let value = Number(options['anchor-value']);
  const giveUp = options['give-up-before'] ? Date.parse(options['give-up-before']) : -Infinity;
  const booked = new Map((options.booked ?? []).map((b) => {
    const [time, kwh] = b.split('=');
    return [Date.parse(time), Number(kwh)];
  }));
  const nodes = (await fakeGet('/_control/nodes')).filter((n) => n.from_ms > anchor);
  const expected = [];
  let previousEnd = null;
  for (const node of nodes) {
    if (previousEnd !== null && node.from_ms > previousEnd && node.from_ms > giveUp) break; // a hole
    previousEnd = node.from_ms + HOUR;
    if (node.consumption === null) {
      if (node.from_ms + HOUR <= giveUp) continue;
      break;
    }
    const consumption = booked.has(node.from_ms) ? booked.get(node.from_ms) : node.consumption;
    value += consumption;
    expected.push({ time: node.from_ms, value, node, consumption });
  }
  const stored = (await influxSeries(`SELECT * FROM "kWh" WHERE ${meterCondition()} AND time > ${anchor}ms`));
  // A booked hour keeps the cost and price it was counted with; the fake serves the revised ones.
  const problems = differences(expected, stored, (want) => (booked.has(want.time)
    ? { value: want.value, hourly_consumption: want.consumption }
    : { value: want.value, hourly_consumption: want.consumption, cost: want.node.cost, unit_price: want.node.unitPrice }), { domain: 'input_number', entity_id: options.meter, unit_of_measurement: 'kWh', device_class: 'energy', state_class: 'total_increasing' });
  for (let i = 1; i < stored.length; i++)
    if (stored[i].value < stored[i - 1].value) problems.push(`goes backwards at ${iso(stored[i].time)}`);
  const last = stored.length ? stored[stored.length - 1] : null;
  report('register', problems, `${stored.length} last=${last ? `${iso(last.time)}=${last.value}` : 'none'}`);
}

async function pricesCheck() {
  const prices = await fakeGet('/_control/prices');
  const stored = await influxSeries(`SELECT * FROM "electricity_price" WHERE ${meterCondition()}`);
  const expected = prices.map((p) => ({ time: p.starts_ms, price: p }));
  const problems = differences(expected, stored, ({ price }) => ({
    total: price.total, energy: price.energy, tax: price.tax, currency: price.currency, level: price.level,
  }), { domain: 'sensor', entity_id: options.meter });
  report('prices', problems, `${stored.length}`);
}

async function countPrint() {
  const count = async (measurement, field) => {
    const rows = await influxSeries(`SELECT count("${field}") FROM "${measurement}" WHERE ${meterCondition()}`);
    return rows.length ? rows[0].count : 0;
  };
  console.log(`energy=${await count('energy', 'consumption')} kWh=${await count('kWh', 'value')} ` +
    `electricity_price=${await count('electricity_price', 'total')}`);
}

const commands = { energy: energyCheck, register: registerCheck, prices: pricesCheck, count: countPrint };
const command = commands[positionals[0]];
if (!command) {
  console.error(`usage: tibber_check.mjs ${Object.keys(commands).join('|')} --influx URL --db DB --meter ID --fake URL`);
  process.exit(2);
}
command().catch((error) => {
  console.log(`${positionals[0]} error: ${error.message}`);
});
