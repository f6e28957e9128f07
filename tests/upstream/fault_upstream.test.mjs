// Self-test of the fake upstream: every action, the script order, the records and the stored
// lines, driven by node's HTTP clients the way libcurl drives it (gzip bodies, keep-alive).
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFaultUpstream } from './fault_upstream_client.mjs';

let upstream;
let agent;

before(async () => {
  upstream = await startFaultUpstream();
});

after(async () => {
  agent?.destroy();
  assert.equal(await upstream.stop(), 0, 'SIGTERM: clean exit');
});

beforeEach(async () => {
  agent?.destroy();
  agent = new Agent({ keepAlive: true, maxSockets: 1 });
  await upstream.clear();
  await upstream.setDefault({ status: 204 });
});

/**
 * POSTs body (gzipped unless options.gzip is false) the way the relay does. Resolves to
 * { status, headers, body } or rejects with the socket error.
 */
function write(path, body, options = {}) {
  const payload = options.gzip === false ? Buffer.from(body) : gzipSync(body);
  const headers = { 'Content-Type': 'text/plain; charset=utf-8', ...options.headers };
  if (options.gzip !== false) headers['Content-Encoding'] = 'gzip';
  return new Promise((resolve, reject) => {
    const outgoing = request(`${upstream.url}${path}`, { method: 'POST', headers, agent }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode, headers: response.headers, body: text }));
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(payload);
  });
}

// A fake that wrongly hangs must fail a test, not stall the run.
const TIMEOUT = { timeout: 5000 };

const v1 = '/write?db=meters&rp=autogen&precision=ns';
const v2 = '/api/v2/write?org=home&bucket=meters&precision=ns';

test('ping answers 204 with X-Influxdb-Version', TIMEOUT, async () => {
  const response = await fetch(`${upstream.url}/ping`);
  assert.equal(response.status, 204);
  assert.equal(response.headers.get('x-influxdb-version'), '1.8.10');
  assert.deepEqual(await upstream.requests(), [], 'ping is not a write request');
});

test('default 204: gzip body decoded and the request recorded', TIMEOUT, async () => {
  const body = 'power,meter=m1 watts=230i 1700000000000000000\npower,meter=m2 watts=12i 1700000000000000001\n';
  const response = await write(v1, body, {
    headers: { Authorization: 'Token secret', 'User-Agent': 'meter-relay/test', Expect: '' },
  });
  assert.equal(response.status, 204);
  assert.equal(response.body, '');

  const [record, ...rest] = await upstream.requests();
  assert.equal(rest.length, 0);
  assert.equal(record.seq, 1);
  assert.equal(record.connection > 0, true);
  assert.equal(typeof record.time_ms, 'number');
  assert.equal(record.ended_ms >= record.time_ms, true);
  assert.equal(record.method, 'POST');
  assert.equal(record.path, '/write');
  assert.deepEqual(record.query, { db: 'meters', rp: 'autogen', precision: 'ns' });
  assert.deepEqual(record.headers, {
    authorization: 'Token secret',
    'content-encoding': 'gzip',
    'content-type': 'text/plain; charset=utf-8',
    expect: '',
    'user-agent': 'meter-relay/test',
  });
  assert.equal(record.raw_length, gzipSync(body).length);
  assert.equal(record.decoded_length, Buffer.byteLength(body));
  assert.equal(record.body, body);
  assert.equal(record.action, 'answer');
  assert.equal(record.status, 204);
  assert.equal(record.stored, true);
  assert.deepEqual(await upstream.lines(), [
    'power,meter=m1 watts=230i 1700000000000000000',
    'power,meter=m2 watts=12i 1700000000000000001',
  ]);
});

test('scripted answer: status, body, Retry-After reach the client; non-2xx lines are not stored', TIMEOUT, async () => {
  await upstream.script([
    { status: 400, body: '{"error":"partial write: field type conflict"}' },
    { status: 429, headers: { 'Retry-After': '2' } },
  ]);
  const rejected = await write(v1, 'a v=1i 1\n');
  assert.equal(rejected.status, 400);
  assert.equal(rejected.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(rejected.body), { error: 'partial write: field type conflict' });
  const limited = await write(v1, 'b v=2i 2\n');
  assert.equal(limited.status, 429);
  assert.equal(limited.headers['retry-after'], '2');
  const accepted = await write(v1, 'c v=3i 3\n');
  assert.equal(accepted.status, 204, 'the script is used up: default answer');

  const records = await upstream.requests();
  assert.deepEqual(
    records.map((record) => [record.seq, record.status, record.stored]),
    [
      [1, 400, false],
      [2, 429, false],
      [3, 204, true],
    ],
  );
  assert.deepEqual(await upstream.lines(), ['c v=3i 3']);
  assert.deepEqual(await upstream.pending(), []);
});

test('match: matching entries are tried first and consumed only by a matching body', TIMEOUT, async () => {
  await upstream.script([
    { status: 500 },
    { status: 413, match: 'big' },
  ]);
  assert.equal((await write(v1, 'big v=1i 1\n')).status, 413, 'the match entry wins although queued second');
  assert.equal((await write(v1, 'small v=1i 1\n')).status, 500);
  assert.deepEqual(await upstream.pending(), []);
  assert.equal((await write(v1, 'big v=2i 2\n')).status, 204);

  await upstream.script([{ status: 422, match: 'never' }]);
  assert.equal((await write(v1, 'other v=1i 1\n')).status, 204, 'an unmatched entry does not apply');
  assert.equal((await upstream.pending()).length, 1, 'and stays queued');
});

test('repeat: N times, then the next entry; -1 until cleared', TIMEOUT, async () => {
  await upstream.script([{ status: 503, repeat: 2 }, { status: 502 }]);
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await write(v2, `m v=${i}i ${i}\n`)).status);
  assert.deepEqual(statuses, [503, 503, 502, 204]);

  await upstream.script([{ status: 500, repeat: -1 }]);
  for (let i = 0; i < 5; i++) assert.equal((await write(v2, 'm v=1i 1\n')).status, 500);
  const [forever] = await upstream.pending();
  assert.equal(forever.repeat, -1);
  await upstream.clear();
  assert.equal((await write(v2, 'm v=1i 1\n')).status, 204);
});

test('hang: no answer; the client gives up and the server notices', TIMEOUT, async () => {
  await upstream.script([{ action: 'hang' }]);
  const started = Date.now();
  await assert.rejects(
    fetch(`${upstream.url}${v1}`, { method: 'POST', body: 'h v=1i 1\n', signal: AbortSignal.timeout(300) }),
    { name: 'TimeoutError' },
  );
  assert.equal(Date.now() - started >= 290, true);

  let record;
  for (let i = 0; i < 50 && !record?.ended_ms; i++) {
    [record] = await upstream.requests();
    await sleep(20);
  }
  assert.equal(record.action, 'hang');
  assert.equal(record.status, null);
  assert.equal(record.stored, false);
  assert.equal(record.ended_ms - record.time_ms >= 250, true, 'closed when the client aborted');
  assert.equal((await write(v1, 'after v=1i 1\n')).status, 204, 'the server still works');
  assert.deepEqual(await upstream.lines(), ['after v=1i 1']);
});

test('reset: the client sees ECONNRESET; the next request uses a new connection', TIMEOUT, async () => {
  assert.equal((await write(v1, 'first v=1i 1\n')).status, 204);
  await upstream.script([{ action: 'reset' }]);
  // 'read ECONNRESET' is a TCP RST; a plain close would be 'socket hang up'.
  await assert.rejects(write(v1, 'second v=1i 1\n'), { code: 'ECONNRESET', message: 'read ECONNRESET' });
  assert.equal((await write(v1, 'third v=1i 1\n')).status, 204);

  const records = await upstream.requests();
  assert.deepEqual(
    records.map((record) => [record.action, record.status, record.stored]),
    [
      ['answer', 204, true],
      ['reset', null, false],
      ['answer', 204, true],
    ],
  );
  assert.equal(records[1].connection, records[0].connection, 'keep-alive reused the connection');
  assert.notEqual(records[2].connection, records[1].connection);
  assert.deepEqual(await upstream.lines(), ['first v=1i 1', 'third v=1i 1']);
});

test('close_after_headers: status and headers arrive, the body is cut short', TIMEOUT, async () => {
  await upstream.script([
    { action: 'close_after_headers', status: 503, body: '{"error":"overloaded"}', headers: { 'Retry-After': '7' } },
  ]);
  const response = await fetch(`${upstream.url}${v1}`, { method: 'POST', body: 'c v=1i 1\n' });
  assert.equal(response.status, 503);
  assert.equal(response.headers.get('retry-after'), '7');
  assert.equal(response.headers.get('content-length'), String('{"error":"overloaded"}'.length));
  await assert.rejects(response.text(), { name: 'TypeError', message: 'terminated' });

  const [record] = await upstream.requests();
  assert.equal(record.action, 'close_after_headers');
  assert.equal(record.status, 503);
  assert.equal(record.stored, false);
  assert.deepEqual(await upstream.lines(), []);
});

test('delay_ms: the answer comes late', TIMEOUT, async () => {
  await upstream.script([{ status: 204, delay_ms: 300 }]);
  const started = Date.now();
  assert.equal((await write(v1, 'slow v=1i 1\n')).status, 204);
  assert.equal(Date.now() - started >= 290, true);
  const [record] = await upstream.requests();
  assert.equal(record.ended_ms - record.time_ms >= 290, true);
});

test('default: changed answer applies while the script is empty', TIMEOUT, async () => {
  await upstream.setDefault({ status: 503, headers: { 'Retry-After': '1' }, body: { error: 'starting' } });
  await upstream.script([{ status: 204 }]);
  assert.equal((await write(v1, 'a v=1i 1\n')).status, 204, 'the script comes first');
  const fallback = await write(v1, 'b v=1i 1\n');
  assert.equal(fallback.status, 503);
  assert.equal(fallback.headers['retry-after'], '1');
  assert.deepEqual(JSON.parse(fallback.body), { error: 'starting' });
  await upstream.setDefault({ action: 'reset' });
  await assert.rejects(write(v1, 'c v=1i 1\n'), { code: 'ECONNRESET' });
  assert.deepEqual(await upstream.lines(), ['a v=1i 1']);
});

test('lines: v1 and v2, gzip or not, in arrival order; bad gzip is a 400', TIMEOUT, async () => {
  assert.equal((await write(v1, 'one v=1i 1\ntwo v=2i 2\n')).status, 204);
  assert.equal((await write(v2, 'three v=3i 3\n', { gzip: false })).status, 204);
  const broken = await new Promise((resolve, reject) => {
    const headers = { 'Content-Encoding': 'gzip' };
    const outgoing = request(`${upstream.url}${v2}`, { method: 'POST', headers, agent });
    outgoing.on('response', (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    outgoing.on('error', reject);
    outgoing.end('not gzip');
  });
  assert.equal(broken, 400);

  const records = await upstream.requests();
  assert.deepEqual(records[1].query, { org: 'home', bucket: 'meters', precision: 'ns' });
  assert.equal(records[1].path, '/api/v2/write');
  assert.equal(records[1].raw_length, records[1].decoded_length);
  assert.equal(records[2].status, 400);
  assert.match(records[2].decode_error, /incorrect header check/);
  assert.deepEqual(await upstream.lines(), ['one v=1i 1', 'two v=2i 2', 'three v=3i 3']);
});

test('control: invalid entries are refused with the reason', TIMEOUT, async () => {
  await assert.rejects(upstream.script([{ action: 'explode' }]), /400 entry 0: "action" must be one of/);
  await assert.rejects(upstream.script([{ status: 204 }, { statuss: 500 }]), /entry 1: unknown entry field "statuss"/);
  await assert.rejects(upstream.script({ status: 500 }), /must be a JSON array/);
  await assert.rejects(upstream.setDefault({ status: 500, repeat: 2 }), /"repeat" makes no sense/);
  assert.deepEqual(await upstream.pending(), [], 'a refused script adds nothing');
});
