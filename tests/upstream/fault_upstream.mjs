// A fault-injecting fake InfluxDB for the tests of the relay's upstream forwarder.
//
//   node tests/upstream/fault_upstream.mjs [--port N]     (default 0: a free port)
//
// Listens on 127.0.0.1, prints `listening http://127.0.0.1:PORT` when ready, exits 0 on SIGTERM,
// and exits on its own when its parent process is gone, so a killed test leaves nothing behind.
//
// Write endpoints (/write, /api/v2/write) answer from a script queue, 204 by default; /ping is 204.
// A script entry is { status, body, headers, delay_ms, action, match, repeat }, all optional:
//   status 200..599 (204); body a string or a JSON object (""); headers {name: value};
//   delay_ms  wait before the action (0)
//   action  "answer" (default) | "hang" (never answers) | "reset" (drops the connection, RST) |
//           "close_after_headers" (status line and headers, then closes before the body)
//   match   substring of the decoded body; matching entries are tried first, in queue order,
//           and are consumed only by a body that contains it
//   repeat  how often the entry applies (default 1; -1: until cleared)
// Every write request is recorded as { seq, connection (per TCP connection), time_ms (arrival,
// monotonic), method, path, query, headers (authorization, content-encoding, content-type, expect,
// user-agent), raw_length, decoded_length, body (decoded), decode_error (bad gzip: answered 400),
// action, status (null: nothing sent), stored (answered 2xx), ended_ms (answer sent or connection
// gone) }. The lines of stored requests are what a real InfluxDB would hold. Control API (JSON):
//   POST /_control/script    array of entries, appended      GET /_control/script   what is left
//   POST /_control/default   the answer when the queue is empty (an entry without match/repeat)
//   POST /_control/clear     drops the script and the records (the default stays)
//   GET  /_control/requests  the records          GET /_control/lines   the stored lines
import { createServer, STATUS_CODES } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';

const INFLUXDB_VERSION = '1.8.10';
const WRITE_PATHS = new Set(['/write', '/api/v2/write']);
const ACTIONS = new Set(['answer', 'hang', 'reset', 'close_after_headers']);
const ENTRY_KEYS = new Set(['status', 'body', 'headers', 'delay_ms', 'action', 'match', 'repeat']);
const RECORDED_HEADERS = ['authorization', 'content-encoding', 'content-type', 'expect', 'user-agent'];

let script = [];
let records = [];
let nextSeq = 1;
let nextConnection = 1;
let defaultEntry = entryParse({}, { scripted: false });

/** Milliseconds on a monotonic clock (since this process started). */
function now() {
  return Math.round(performance.now() * 1000) / 1000;
}

/** Validates a script entry and fills in defaults; throws an Error naming the bad field. */
function entryParse(input, { scripted }) {
  if (input === null || typeof input !== 'object' || Array.isArray(input))
    throw new Error(`an entry must be a JSON object, got ${JSON.stringify(input)}`);
  for (const key of Object.keys(input)) {
    if (!ENTRY_KEYS.has(key)) throw new Error(`unknown entry field "${key}"`);
    if (!scripted && (key === 'match' || key === 'repeat'))
      throw new Error(`"${key}" makes no sense for the default answer`);
  }
  const entry = {
    status: input.status ?? 204,
    body: typeof input.body === 'object' && input.body !== null ? JSON.stringify(input.body) : (input.body ?? ''),
    headers: input.headers ?? {},
    delay_ms: input.delay_ms ?? 0,
    action: input.action ?? 'answer',
    match: input.match ?? null,
    repeat: input.repeat ?? 1,
  };
  if (!Number.isInteger(entry.status) || entry.status < 200 || entry.status > 599)
    throw new Error(`"status" must be an integer from 200 to 599, got ${JSON.stringify(input.status)}`);
  if (typeof entry.body !== 'string') throw new Error('"body" must be a string or a JSON object');
  if (typeof entry.headers !== 'object' || Array.isArray(entry.headers) || entry.headers === null)
    throw new Error('"headers" must be an object of strings');
  for (const [name, value] of Object.entries(entry.headers))
    if (typeof value !== 'string') throw new Error(`header "${name}" must be a string`);
  if (typeof entry.delay_ms !== 'number' || !(entry.delay_ms >= 0))
    throw new Error('"delay_ms" must be a number >= 0');
  if (!ACTIONS.has(entry.action)) throw new Error(`"action" must be one of ${[...ACTIONS].join(', ')}`);
  if (entry.match !== null && (typeof entry.match !== 'string' || entry.match === ''))
    throw new Error('"match" must be a non-empty string');
  if (!Number.isInteger(entry.repeat) || (entry.repeat < 1 && entry.repeat !== -1))
    throw new Error('"repeat" must be an integer >= 1, or -1 for "until cleared"');
  return entry;
}

/** Takes the entry for a request body from the script (matching entries first), else the default. */
function scriptTake(body) {
  let index = script.findIndex((entry) => entry.match !== null && body.includes(entry.match));
  if (index < 0) index = script.findIndex((entry) => entry.match === null);
  if (index < 0) return defaultEntry;
  const entry = script[index];
  if (entry.repeat > 0 && --entry.repeat === 0) script.splice(index, 1);
  return entry;
}

function responseHeaders(entry) {
  const headers = { 'X-Influxdb-Version': INFLUXDB_VERSION };
  if (entry.body !== '') headers['Content-Type'] = 'application/json';
  return { ...headers, ...entry.headers };
}

/** Answers, or misbehaves, as the entry says. Sockets the client already closed are left alone. */
function entryApply(entry, request, response) {
  const socket = request.socket;
  if (socket.destroyed || entry.action === 'hang') return;
  if (entry.action === 'reset') {
    if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
    else socket.destroy();
  } else if (entry.action === 'close_after_headers') {
    // Written to the socket directly: the announced Content-Length (at least 1 byte, so even an
    // empty body is missing) tells the client that the response was cut short.
    const headers = {
      ...responseHeaders(entry),
      'Content-Length': String(Math.max(Buffer.byteLength(entry.body), 1)),
      Connection: 'close',
    };
    let head = `HTTP/1.1 ${entry.status} ${STATUS_CODES[entry.status] ?? 'Unknown'}\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    socket.end(`${head}\r\n`);
  } else {
    response.writeHead(entry.status, responseHeaders(entry));
    response.end(entry.body);
  }
}

/** Decodes a write body; InfluxDB answers an undecodable gzip body with 400. */
function bodyDecode(raw, contentEncoding) {
  if (contentEncoding === undefined || contentEncoding === 'identity') return raw.toString('utf8');
  if (contentEncoding !== 'gzip') throw new Error(`unsupported Content-Encoding "${contentEncoding}"`);
  return gunzipSync(raw).toString('utf8');
}

function writeHandle(request, response, url) {
  // Recorded on arrival, so the order of records is the order of arrival; a record whose action
  // stays null is a request whose body never arrived completely.
  const record = {
    seq: nextSeq++,
    connection: request.socket.faultUpstreamConnection,
    time_ms: now(),
    method: request.method,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: {},
    raw_length: 0,
    decoded_length: 0,
    body: null,
    action: null,
    status: null,
    stored: false,
    ended_ms: null,
  };
  for (const name of RECORDED_HEADERS)
    if (request.headers[name] !== undefined) record.headers[name] = request.headers[name];
  records.push(record);
  response.on('close', () => {
    record.ended_ms = now();
  });

  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    const raw = Buffer.concat(chunks);
    record.raw_length = raw.length;
    let entry;
    try {
      record.body = bodyDecode(raw, request.headers['content-encoding']);
      record.decoded_length = Buffer.byteLength(record.body);
      entry = scriptTake(record.body);
    } catch (error) {
      record.decode_error = error.message;
      entry = entryParse({ status: 400, body: { code: 'invalid', message: error.message } }, { scripted: true });
    }
    record.action = entry.action;
    if (entry.action === 'answer' || entry.action === 'close_after_headers') record.status = entry.status;
    // Stored when the answer is decided, like a real server that writes before the client may
    // have given up waiting (a delayed 204 after a client timeout means a duplicate on retry).
    record.stored = entry.action === 'answer' && entry.status >= 200 && entry.status < 300;
    if (entry.delay_ms > 0) setTimeout(() => entryApply(entry, request, response), entry.delay_ms);
    else entryApply(entry, request, response);
  });
}

function jsonSend(response, status, value) {
  response.writeHead(status, { 'Content-Type': 'application/json' });
  response.end(`${JSON.stringify(value)}\n`);
}

function jsonRead(request) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(JSON.parse(text));
      } catch (error) {
        reject(new Error(`the request body is not JSON: ${error.message}`));
      }
    });
  });
}

async function controlHandle(request, response, url) {
  const route = `${request.method} ${url.pathname}`;
  if (route === 'POST /_control/script') {
    const input = await jsonRead(request);
    if (!Array.isArray(input)) throw new Error('the script must be a JSON array of entries');
    const entries = input.map((entry, index) => {
      try {
        return entryParse(entry, { scripted: true });
      } catch (error) {
        throw new Error(`entry ${index}: ${error.message}`);
      }
    });
    script.push(...entries);
    jsonSend(response, 200, { queued: script.length });
  } else if (route === 'GET /_control/script') {
    jsonSend(response, 200, script);
  } else if (route === 'POST /_control/default') {
    defaultEntry = entryParse(await jsonRead(request), { scripted: false });
    jsonSend(response, 200, defaultEntry);
  } else if (route === 'POST /_control/clear') {
    script = [];
    records = [];
    nextSeq = 1;
    jsonSend(response, 200, { cleared: true });
  } else if (route === 'GET /_control/requests') {
    jsonSend(response, 200, records);
  } else if (route === 'GET /_control/lines') {
    const lines = records.filter((record) => record.stored).flatMap((record) => record.body.split('\n'));
    jsonSend(response, 200, lines.filter((line) => line !== ''));
  } else {
    jsonSend(response, 404, { error: `no control route ${route}` });
  }
}

function requestHandle(request, response) {
  // A client that goes away mid-request must not crash the server.
  request.on('error', () => {});
  response.on('error', () => {});
  const url = new URL(request.url, 'http://127.0.0.1');
  if (url.pathname === '/ping') {
    response.writeHead(204, { 'X-Influxdb-Version': INFLUXDB_VERSION });
    response.end();
  } else if (WRITE_PATHS.has(url.pathname)) {
    writeHandle(request, response, url);
  } else if (url.pathname.startsWith('/_control/')) {
    controlHandle(request, response, url).catch((error) => jsonSend(response, 400, { error: error.message }));
  } else {
    jsonSend(response, 404, { code: 'not found', message: `fault upstream: no route ${url.pathname}` });
  }
}

const server = createServer(requestHandle);
// Node answers 417 to any Expect other than 100-continue, even an empty one; InfluxDB (Go)
// ignores an empty Expect, so this fake does too.
server.on('checkExpectation', (request, response) => {
  if (request.headers.expect === '') {
    requestHandle(request, response);
  } else {
    response.writeHead(417);
    response.end();
  }
});
// libcurl keeps connections open between batches; an idle timeout shorter than the relay's
// retry pauses would only add reconnects that no test asked for.
server.keepAliveTimeout = 120000;
server.on('connection', (socket) => {
  socket.faultUpstreamConnection = nextConnection++;
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

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`fault_upstream: --port must be 0..65535, got "${values.port}"`);
  process.exit(2);
}
server.on('error', (error) => {
  console.error(`fault_upstream: cannot listen on 127.0.0.1:${port}: ${error.message}`);
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => {
  console.log(`listening http://127.0.0.1:${server.address().port}`);
});
