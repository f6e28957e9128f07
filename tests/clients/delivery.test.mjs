// The official clients write through the relay into a real InfluxDB 1.x, the relay's v1
// upstream: @influxdata/influxdb-client (v2 API, gzip) and node-influx (v1 API). InfluxDB,
// queried directly, must hold exactly what they wrote: values, types, tags, escapes, ns times,
// db/rp routing, and the relay's receive time for a point written without a timestamp.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { InfluxDB, Point } from '@influxdata/influxdb-client';
import Influx from 'influx';
import { relayStart, nowNanoseconds } from './relay.mjs';
import { influxdbStart } from './influxdb.mjs';

// How long the relay gets to deliver what it acknowledged.
const DELIVERY_WAIT_MS = 20000;
const TIMEOUT = { timeout: 90000 };

let influxdb;
let relay;

before(async () => {
  influxdb = await influxdbStart();
  // InfluxDB 1.x refuses writes to a missing database (404) or retention policy (500).
  for (const statement of [
    'CREATE DATABASE energy',
    'CREATE DATABASE home',
    'CREATE RETENTION POLICY forever ON home DURATION INF REPLICATION 1',
  ])
    await influxdb.execute(statement);
  relay = await relayStart({
    relayYaml: [
      '  upstreams:',
      '    - name: influxdb',
      `      url: ${influxdb.url}`,
      '      api: v1',
      '      backoff_initial: 100ms',
      '      backoff_max: 1s',
      '      pause_retry: 1s',
    ],
  });
});

after(async () => {
  await relay?.remove();
  await influxdb?.stop();
});

/** Polls read() until it deep-equals expected or the deadline (ms since epoch) passes. */
async function eventually(description, expected, read, deadline) {
  let actual;
  for (;;) {
    actual = await read();
    if (isDeepStrictEqual(actual, expected) || Date.now() >= deadline) break;
    await sleep(250);
  }
  assert.deepEqual(actual, expected, `${description}: not so in InfluxDB when the wait for delivery ended`);
}

/** The timestamp the relay gave the spooled line that starts with head + ' '. */
async function spoolTimestamp(head) {
  const line = (await relay.dump()).flatMap((record) => record.lines).find((candidate) => candidate.startsWith(`${head} `));
  assert.ok(line, `no spooled line starts with "${head} "`);
  return BigInt(line.slice(head.length + 1));
}

test('@influxdata/influxdb-client: v2 writes, gzipped, arrive in InfluxDB exactly', TIMEOUT, async () => {
  const client = new InfluxDB({ url: relay.url, token: 'any-token-auth-is-off' });
  // gzipThreshold 0: every body gzipped; no retries, so a refused write fails close().
  const writeOptions = { gzipThreshold: 0, maxRetries: 0, flushInterval: 0, batchSize: 1000 };

  const windowStart = nowNanoseconds();
  const energy = client.getWriteApi('home-org', 'energy', 'ns', writeOptions);
  energy.writePoint(
    new Point('electricity meter')
      .tag('room', 'living room')
      .tag('meter,id', 'a=b')
      .floatField('power', 12.5)
      .intField('count', 42)
      .stringField('note', 'say "hi" \\ back')
      .booleanField('on', true)
      .timestamp('1700000000123456789'),
  );
  energy.writePoint(new Point('gas').tag('meter', 'basement').floatField('value', -0.25).intField('raw', -3).timestamp('1700000000000000001'));
  energy.writePoint(new Point('water').tag('meter', 'kitchen').floatField('liters', 3.5).timestamp(''));
  await energy.close();
  const windowEnd = nowNanoseconds() + 1000000n;

  // bucket db/rp: InfluxDB's db home, retention policy forever.
  const home = client.getWriteApi('home-org', 'home/forever', 's', writeOptions);
  home.writePoint(new Point('heat').tag('circuit', 'floor 1').floatField('kwh', 1234.5).booleanField('ok', false).timestamp(1700000001));
  await home.close();

  const waterTime = await spoolTimestamp('water,meter=kitchen liters=3.5');
  assert.ok(waterTime >= windowStart && waterTime <= windowEnd, `relay's receive time ${waterTime} within [${windowStart}, ${windowEnd}]`);

  const deadline = Date.now() + DELIVERY_WAIT_MS;
  await eventually(
    'electricity meter: every field type, escaped names and values',
    [
      {
        name: 'electricity meter',
        columns: ['time', 'count', 'meter,id', 'note', 'on', 'power', 'room'],
        values: [['1700000000123456789', 42, 'a=b', 'say "hi" \\ back', true, 12.5, 'living room']],
      },
    ],
    () => influxdb.series('energy', 'SELECT * FROM "electricity meter"'),
    deadline,
  );
  await eventually(
    'gas: negative float and integer, ns time',
    [{ name: 'gas', columns: ['time', 'meter', 'raw', 'value'], values: [['1700000000000000001', 'basement', -3, -0.25]] }],
    () => influxdb.series('energy', 'SELECT * FROM gas'),
    deadline,
  );
  await eventually(
    'water: no timestamp written, the relay receive time stored',
    [{ name: 'water', columns: ['time', 'liters', 'meter'], values: [[waterTime.toString(), 3.5, 'kitchen']] }],
    () => influxdb.series('energy', 'SELECT * FROM water'),
    deadline,
  );
  await eventually(
    'heat: bucket home/forever -> db home, rp forever, precision s',
    [{ name: 'heat', columns: ['time', 'circuit', 'kwh', 'ok'], values: [['1700000001000000000', 'floor 1', 1234.5, false]] }],
    () => influxdb.series('home', 'SELECT * FROM "home"."forever"."heat"'),
    deadline,
  );
});

test('node-influx: v1 writes arrive in InfluxDB exactly, with db and rp routing', TIMEOUT, async () => {
  const schema = [
    {
      measurement: 'water',
      tags: ['meter', 'floor'],
      fields: {
        liters: Influx.FieldType.INTEGER,
        temperature: Influx.FieldType.FLOAT,
        label: Influx.FieldType.STRING,
        hot: Influx.FieldType.BOOLEAN,
      },
    },
  ];
  const client = new Influx.InfluxDB({ host: '127.0.0.1', port: relay.port, database: 'home', schema });
  await client.writePoints(
    [
      {
        measurement: 'water',
        tags: { meter: 'main line', floor: '1,a' },
        fields: { liters: 1234, temperature: 11.5, label: 'cold "main" \\ valve', hot: false },
        timestamp: new Date(1700000000000),
      },
      { measurement: 'water', tags: { meter: 'boiler' }, fields: { liters: 56, hot: true }, timestamp: 1700000001 },
    ],
    { precision: 's' },
  );
  await client.writePoints(
    [{ measurement: 'power', tags: { phase: 'L1' }, fields: { watts: 230.25 }, timestamp: 1700000002345 }],
    { precision: 'ms', retentionPolicy: 'forever' },
  );
  await client.writeMeasurement('biogas', [{ tags: { meter: 'g=1' }, fields: { m3: 0.125 }, timestamp: '1700000003' }], {
    precision: 's',
    database: 'energy',
  });

  const deadline = Date.now() + DELIVERY_WAIT_MS;
  await eventually(
    'water in home.autogen: both points, escaped tags, every field type',
    [
      {
        name: 'water',
        columns: ['time', 'floor', 'hot', 'label', 'liters', 'meter', 'temperature'],
        values: [
          ['1700000000000000000', '1,a', false, 'cold "main" \\ valve', 1234, 'main line', 11.5],
          ['1700000001000000000', null, true, null, 56, 'boiler', null],
        ],
      },
    ],
    () => influxdb.series('home', 'SELECT * FROM "home"."autogen"."water"'),
    deadline,
  );
  await eventually(
    'power in home.forever, precision ms',
    [{ name: 'power', columns: ['time', 'phase', 'watts'], values: [['1700000002345000000', 'L1', 230.25]] }],
    () => influxdb.series('home', 'SELECT * FROM "home"."forever"."power"'),
    deadline,
  );
  await eventually(
    'biogas in energy',
    [{ name: 'biogas', columns: ['time', 'm3', 'meter'], values: [['1700000003000000000', 0.125, 'g=1']] }],
    () => influxdb.series('energy', 'SELECT * FROM biogas'),
    deadline,
  );
});
