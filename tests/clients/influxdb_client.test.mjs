// @influxdata/influxdb-client (the v2 API client) against the real meter-relay: gzip bodies,
// org/bucket routing, ns and s precision, escaping, points without a timestamp, token auth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InfluxDB, Point, HttpError, setLogger } from '@influxdata/influxdb-client';
import { relayStart, recordingProxyStart, nowNanoseconds } from './relay.mjs';

// The client logs failed writes to the console; the tests assert on the errors instead.
const clientLog = [];
setLogger({
  error: (message, error) => clientLog.push(`error: ${message} ${error ?? ''}`),
  warn: (message, error) => clientLog.push(`warn: ${message} ${error ?? ''}`),
});

// gzipThreshold 0: every non-empty body is gzipped; no retries so a failure surfaces at close().
const writeOptions = { gzipThreshold: 0, maxRetries: 0, flushInterval: 0, batchSize: 1000 };

// Each record's lines with its routing, in spool order.
function spoolLines(records) {
  return records.flatMap((record) =>
    record.lines.map((line) => ({ line, db: record.db, rp: record.rp, bucket: record.bucket, org: record.org })),
  );
}

// Splits "measurement... fields timestamp" into the line before the timestamp and the timestamp.
function splitTimestamp(line) {
  const space = line.lastIndexOf(' ');
  return { head: line.slice(0, space), timestamp: BigInt(line.slice(space + 1)) };
}

test('v2 writes, gzipped, land in the spool exactly as the client wrote them', async (t) => {
  const relay = await relayStart();
  t.after(() => relay.remove());
  const proxy = await recordingProxyStart(relay.url);
  t.after(() => proxy.close());
  const client = new InfluxDB({ url: proxy.url, token: 'any-token-auth-is-off' });

  const nsWindowStart = nowNanoseconds();
  const nsApi = client.getWriteApi('home', 'energy', 'ns', writeOptions);
  const electricity = new Point('electricity meter')
    .tag('room', 'living room')
    .tag('meter,id', 'a=b')
    .floatField('power', 12.5)
    .intField('count', 42)
    .uintField('pulses', 18446744073709551615n.toString())
    .stringField('note', 'say "hi" \\ back')
    .booleanField('on', true)
    .timestamp('1700000000123456789');
  nsApi.writePoint(electricity);
  nsApi.writePoint(new Point('gas').tag('meter', 'basement').floatField('value', -0.25).intField('raw', -3).timestamp('1700000000000000001'));
  nsApi.writePoint(new Point('water').tag('meter', 'kitchen').floatField('liters', 3.5).timestamp(''));
  await nsApi.close();
  const nsWindowEnd = nowNanoseconds() + 1000000n;

  const sWindowStart = nowNanoseconds();
  const sApi = client.getWriteApi('home', 'lampfi/autogen', 's', writeOptions);
  sApi.writePoint(new Point('heat').tag('circuit', 'floor 1').floatField('kwh', 1234.5).booleanField('ok', false).timestamp(new Date(1700000001000)));
  sApi.writePoint(new Point('heat').tag('circuit', 'floor 2').uintField('pulses', 9).timestamp(1700000002));
  sApi.writePoint(new Point('heat').tag('circuit', 'floor 3').stringField('state', 'idle').timestamp(''));
  await sApi.close();
  const sWindowEnd = nowNanoseconds() + 1000000n;

  // One gzipped request per WriteApi, with the query the client builds.
  assert.deepEqual(
    proxy.requests.map((entry) => [entry.method, entry.path, entry.headers['content-encoding'], entry.headers.authorization]),
    [
      ['POST', '/api/v2/write?org=home&bucket=energy&precision=ns', 'gzip', 'Token any-token-auth-is-off'],
      ['POST', '/api/v2/write?org=home&bucket=lampfi%2Fautogen&precision=s', 'gzip', 'Token any-token-auth-is-off'],
    ],
  );
  assert.equal(await relay.stop(), 0, `meter-relay exit status; log:\n${relay.log()}`);
  const lines = spoolLines(await relay.dump());
  assert.equal(lines.length, 6, JSON.stringify(lines));

  // Escaped by the client, forwarded byte for byte: fields and tags sorted by the client.
  assert.deepEqual(lines[0], {
    line: 'electricity\\ meter,meter\\,id=a\\=b,room=living\\ room count=42i,note="say \\"hi\\" \\\\ back",on=T,power=12.5,pulses=18446744073709551615u 1700000000123456789',
    db: 'energy',
    rp: '',
    bucket: 'energy',
    org: 'home',
  });
  assert.equal(lines[1].line, 'gas,meter=basement raw=-3i,value=-0.25 1700000000000000001');
  assert.equal(lines[1].bucket, 'energy');

  // No timestamp on the wire: the relay stamps its receive time in ns.
  const water = splitTimestamp(lines[2].line);
  assert.equal(water.head, 'water,meter=kitchen liters=3.5');
  assert.ok(water.timestamp >= nsWindowStart && water.timestamp <= nsWindowEnd, `${water.timestamp} within [${nsWindowStart}, ${nsWindowEnd}]`);

  // Precision s: rewritten to ns; bucket=db/rp maps to db and rp.
  assert.deepEqual(lines[3], {
    line: 'heat,circuit=floor\\ 1 kwh=1234.5,ok=F 1700000001000000000',
    db: 'lampfi',
    rp: 'autogen',
    bucket: 'lampfi/autogen',
    org: 'home',
  });
  assert.equal(lines[4].line, 'heat,circuit=floor\\ 2 pulses=9u 1700000002000000000');
  const state = splitTimestamp(lines[5].line);
  assert.equal(state.head, 'heat,circuit=floor\\ 3 state="idle"');
  assert.equal(state.timestamp % 1000000000n, 0n, 'receive time truncated to the request precision (s)');
  const sWindowFloor = (sWindowStart / 1000000000n) * 1000000000n;
  assert.ok(state.timestamp >= sWindowFloor && state.timestamp <= sWindowEnd, `${state.timestamp} within [${sWindowFloor}, ${sWindowEnd}]`);
  assert.deepEqual(clientLog, []);
});

test('v2 token auth: the right token writes, a wrong one gets HttpError 401', async (t) => {
  const relay = await relayStart({ relayYaml: ['  auth: token'], relayEnv: 'RELAY_TOKENS=s3cret-token,other\n' });
  t.after(() => relay.remove());

  const good = new InfluxDB({ url: relay.url, token: 's3cret-token' }).getWriteApi('home', 'energy', 'ns', writeOptions);
  good.writeRecord('power,room=hall watts=3i 1700000000000000000');
  await good.close();

  const wrong = new InfluxDB({ url: relay.url, token: 'wrong-token' }).getWriteApi('home', 'energy', 'ns', writeOptions);
  wrong.writeRecord('power,room=hall watts=4i 1700000001000000000');
  const error = await wrong.close().then(
    () => assert.fail('close() with a wrong token resolved'),
    (rejection) => rejection,
  );
  assert.ok(error instanceof HttpError, `expected HttpError, got ${error}`);
  assert.equal(error.statusCode, 401);
  assert.equal(error.code, 'unauthorized');
  assert.equal(error.message, 'unauthorized access');
  assert.equal(error.canRetry(), false);

  assert.equal(await relay.stop(), 0);
  const records = await relay.dump();
  assert.deepEqual(spoolLines(records).map((entry) => entry.line), ['power,room=hall watts=3i 1700000000000000000']);
  clientLog.length = 0; // the 401 was logged by the client; asserted above
});
