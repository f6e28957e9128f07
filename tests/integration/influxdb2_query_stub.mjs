// A STAND-IN for InfluxDB 2.x's query endpoint, because no InfluxDB 2 can run on the test
// machines (no internet; Debian only packages InfluxDB 1.x). It does not run Flux: it records
// each query and answers with the next queued response, whose bodies the test builds in the
// shapes InfluxDB 2.x documents and sends (annotated CSV with CRLF line ends, a block per schema,
// the error table; JSON error bodies {"code", "message"}), cut into small pieces sent apart so
// that the client's parser sees records, fields and line ends split across reads.
//
//   node tests/integration/influxdb2_query_stub.mjs     prints `listening http://127.0.0.1:PORT`
//
// POST /api/v2/query answers the next queued response (500 when none is queued); POST
// /api/v2/delete is recorded and answered 204. A response is
// { status (200), headers ({}), body (string), body_file (path, instead of body), piece (bytes
// per piece, default random 1..61), delay_ms (between pieces, default 0: next tick) }.
// Every query is recorded as { method, path, query, headers (authorization, accept,
// content-type, accept-encoding, expect), body (parsed JSON, or the text when not JSON) }.
// Control API:
//   POST /_control/queue     JSON array of responses, appended
//   GET  /_control/requests  the records
// Exits 0 on SIGTERM, and on its own when its parent process is gone.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const RECORDED_HEADERS = ['authorization', 'accept', 'content-type', 'accept-encoding', 'expect'];
let queue = [];
const records = [];
let seed = 12345;

// Deterministic piece sizes, so a failing split can be reproduced.
function pieceSize() {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return 1 + (seed % 61);
}

function jsonSend(response, status, value) {
  response.writeHead(status, { 'Content-Type': 'application/json' });
  response.end(`${JSON.stringify(value)}\n`);
}

function bodyRead(request) {
  return new Promise((resolve) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

const pause = (ms) => new Promise((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve)));

async function answer(response, entry) {
  const body = Buffer.from(entry.body_file ? readFileSync(entry.body_file) : (entry.body ?? ''));
  const status = entry.status ?? 200;
  const headers = {
    'Content-Type': status === 200 ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8',
    ...(entry.headers ?? {}),
  };
  response.writeHead(status, headers);
  for (let at = 0; at < body.length;) {
    const size = entry.piece ?? pieceSize();
    response.write(body.subarray(at, at + size));
    at += size;
    await pause(entry.delay_ms ?? 0);
  }
  response.end();
}

async function handle(request, response) {
  request.on('error', () => {});
  response.on('error', () => {});
  const url = new URL(request.url, 'http://127.0.0.1');
  const route = `${request.method} ${url.pathname}`;
  const raw = await bodyRead(request);
  if (route === 'POST /api/v2/query') {
    let body = raw.toString('utf8');
    try {
      body = JSON.parse(body);
    } catch {
      // recorded as text
    }
    const headers = {};
    for (const name of RECORDED_HEADERS) headers[name] = request.headers[name] ?? null;
    records.push({ method: request.method, path: url.pathname, query: Object.fromEntries(url.searchParams), headers, body });
    const entry = queue.shift();
    if (!entry) return jsonSend(response, 500, { code: 'internal error', message: 'stub: no response queued' });
    return answer(response, entry);
  }
  if (route === 'POST /api/v2/delete') {
    // Recorded like queries; answered 204 as InfluxDB 2.x does.
    const headers = {};
    for (const name of RECORDED_HEADERS) headers[name] = request.headers[name] ?? null;
    records.push({
      method: request.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      body: JSON.parse(raw.toString('utf8')),
    });
    response.writeHead(204);
    return response.end();
  }
  if (route === 'POST /_control/queue') {
    const entries = JSON.parse(raw.toString('utf8'));
    if (!Array.isArray(entries)) return jsonSend(response, 400, { error: 'the queue takes a JSON array' });
    queue.push(...entries);
    return jsonSend(response, 200, { queued: queue.length });
  }
  if (route === 'GET /_control/requests') return jsonSend(response, 200, records);
  return jsonSend(response, 404, { code: 'not found', message: `stub: no route ${route}` });
}

const server = createServer((request, response) =>
  handle(request, response).catch((error) => jsonSend(response, 500, { code: 'internal error', message: error.message })),
);
// Go ignores an empty Expect header; node would answer 417.
server.on('checkExpectation', (request, response) => {
  if (request.headers.expect === '') handle(request, response);
  else {
    response.writeHead(417);
    response.end();
  }
});
server.on('clientError', (error, socket) => socket.destroy());

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
const parent = process.ppid;
setInterval(() => {
  try {
    process.kill(parent, 0);
  } catch {
    shutdown();
  }
}, 1000).unref();

server.listen(0, '127.0.0.1', () => console.log(`listening http://127.0.0.1:${server.address().port}`));
