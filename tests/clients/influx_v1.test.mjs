// node-influx (the `influx` package, InfluxDB 1.x API) against the real meter-relay: ping,
// writePoints/writeMeasurement in s and ms precision, db/rp routing, a partial write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Influx from 'influx';
import { relayStart } from './relay.mjs';

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

// Each record's lines with its routing, in spool order.
function spoolLines(records) {
  return records.flatMap((record) => record.lines.map((line) => `${record.db}|${record.rp}|${line}`));
}

test('node-influx: ping, writes in s and ms precision, db and rp routing', async (t) => {
  const relay = await relayStart();
  t.after(() => relay.remove());
  const influx = new Influx.InfluxDB({ host: '127.0.0.1', port: relay.port, database: 'home', schema });

  const hosts = await influx.ping(2000);
  assert.equal(hosts.length, 1);
  assert.equal(hosts[0].online, true);
  assert.equal(hosts[0].version, '1.8.10');

  await influx.writePoints(
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
  await influx.writePoints(
    [{ measurement: 'power', tags: { phase: 'L1' }, fields: { watts: 230.25 }, timestamp: 1700000002345 }],
    { precision: 'ms', database: 'lampfi', retentionPolicy: 'short' },
  );
  await influx.writeMeasurement('gas', [{ tags: { meter: 'g=1' }, fields: { m3: 0.125 }, timestamp: '1700000003' }], {
    precision: 's',
  });

  assert.equal(await relay.stop(), 0, `meter-relay exit status; log:\n${relay.log()}`);
  // Byte for byte as node-influx wrote them: tags in the caller's order, booleans as T/F.
  assert.deepEqual(spoolLines(await relay.dump()), [
    'home||water,meter=main\\ line,floor=1\\,a hot=F,label="cold \\"main\\" \\\\ valve",liters=1234i,temperature=11.5 1700000000000000000',
    'home||water,meter=boiler hot=T,liters=56i 1700000001000000000',
    'lampfi|short|power,phase=L1 watts=230.25 1700000002345000000',
    'home||gas,meter=g\\=1 m3=0.125 1700000003000000000',
  ]);
});

test('node-influx: a partial write keeps the good point and rejects with 400', async (t) => {
  const relay = await relayStart();
  t.after(() => relay.remove());
  const influx = new Influx.InfluxDB({ host: '127.0.0.1', port: relay.port, database: 'home' });

  // node-influx writes measurement names unescaped, so a space makes the second line invalid.
  const error = await influx
    .writePoints(
      [
        { measurement: 'elec', fields: { value: 100 }, timestamp: 1700000004 },
        { measurement: 'elec broken', fields: { value: 5 }, timestamp: 1700000005 },
      ],
      { precision: 's' },
    )
    .then(
      () => assert.fail('a write with an invalid line resolved'),
      (rejection) => rejection,
    );
  assert.equal(error.res.statusCode, 400);
  assert.match(error.message, /^A 400 Bad Request error occurred: \{"error":"partial write: unable to parse 'elec broken value=5 1700000005': .+ dropped=1"\}$/);
  assert.match(String(error.res.headers['x-influxdb-error']), /^partial write: unable to parse 'elec broken value=5 1700000005'/);

  assert.equal(await relay.stop(), 0);
  assert.deepEqual(spoolLines(await relay.dump()), ['home||elec value=100 1700000004000000000']);
});
