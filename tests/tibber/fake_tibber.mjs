// A fake of Tibber's GraphQL API (api.tibber.com/v1-beta/gql) for the tests of meter-batch tibber:
// the response shapes Tibber documents, served from a scenario the test sets, with faults on
// demand. No internet is involved: tibber.api_url points here.
//
//   node tests/tibber/fake_tibber.mjs [--port N]      (default 0: a free port)
//
// Listens on 127.0.0.1, prints `listening http://127.0.0.1:PORT` when ready, exits 0 on SIGTERM
// and on its own when its parent process is gone.
//
// The API (POST, any path outside /_control): {"query", "variables"} as meter-batch sends them.
// - `viewer { homes { id currentSubscription { priceInfo(resolution: ...) { today tomorrow } }
//   consumption(resolution: HOURLY, last: $last) {...} } }`: the first page;
//   `viewer { home(id: $home) { consumption(..., last: $last, before: $before) } }`: a later one.
// - Hours run from scenario.history_start to the hour holding scenario.now (UTC hour starts), each
//   node's from/to written in the home's zone with its offset ("2024-10-27T02:00:00.000+01:00"),
//   so the October DST day has 25 nodes and the March day 23. Values are deterministic per hour.
//   The last scenario.pending_hours hours (default 1: the current hour) have null consumption and
//   cost; so do the hours in scenario.nulls; scenario.missing hours are left out; overrides
//   replace fields of single hours (revisions).
// - Cursors are base64 of a node's `from`, as Tibber's; `last` above 744 is a GraphQL error.
// - priceInfo: today's and tomorrow's prices (local days of the zone; tomorrow only when
//   scenario.tomorrow), quarter-hourly when scenario.quarter_hourly and the query asks
//   QUARTER_HOURLY, else hourly; 23/25-hour days have 92/100 (23/25) intervals.
// - A wrong token is 401 with errors[].extensions.code UNAUTHENTICATED (scenario.auth_status 200
//   sends the same body with 200). More than 100 requests in 5 minutes are answered 429.
//
// scenario (POST /_control/scenario, JSON; every key optional):
//   now (ISO, "2025-01-15T10:20:00Z"), zone ("Europe/Berlin"), token ("test-token"),
//   history_start (ISO; default now - 2000 h), pending_hours (1), nulls [ISO hour starts],
//   missing [ISO], overrides {ISO: {consumption, cost, unitPrice, unitPriceVAT}},
//   homes ("one" | "none" | "no_subscription" | "two" | "two_subscribed" | "no_consumption" |
//   "no_prices"; two: another home without subscription listed first; two_subscribed: another
//   home with a subscription listed first, whose hours have 1 kWh more each),
//   tomorrow (true), quarter_hourly (false), auth_status (401), page_limit (744)
// Faults (POST /_control/script, a JSON array that replaces the queue; each request takes the
// head entry): { action: "real" (the real answer, after delay_ms) | "answer" (status, headers, body:
// string or JSON) | "truncate" (the real answer's headers and Content-Length, half its body, then
// the connection is closed) | "hang" (no answer; closed after 60 s), delay_ms, repeat (1; -1:
// forever) }.
// Also: GET /_control/requests (one record per API request: seq, time_ms, kind first|page, last,
// before, home, authorized, status, action), GET /_control/nodes (every hour: from_ms, from, to,
// consumption, cost, unitPrice, unitPriceVAT; null where pending), GET /_control/prices,
// POST /_control/clear (drops the records). A new scenario drops the records and the script.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const HOUR = 3600000;
const HOME_ID = '96a14971-525a-4420-aae9-e5aedaa129ff';
const OTHER_HOME_ID = '68e6938b-91a6-4199-a0d4-f24c22be87bb';

let scenario = scenarioParse({});
let script = [];
let records = [];
let nextSeq = 1;
const started = performance.now();

function scenarioParse(input) {
  const now = Date.parse(input.now ?? '2025-01-15T10:20:00Z');
  if (Number.isNaN(now)) throw new Error(`now: ${input.now} is not a time`);
  const hours = (list) => new Set((list ?? []).map((t) => Date.parse(t)));
  const overrides = new Map();
  for (const [time, fields] of Object.entries(input.overrides ?? {})) overrides.set(Date.parse(time), fields);
  return {
    now,
    zone: input.zone ?? 'Europe/Berlin',
    token: input.token ?? 'test-token',
    historyStart: Math.floor(Date.parse(input.history_start ?? new Date(now - 2000 * HOUR).toISOString()) / HOUR) * HOUR,
    pendingHours: input.pending_hours ?? 1,
    nulls: hours(input.nulls),
    missing: hours(input.missing),
    overrides,
    homes: input.homes ?? 'one',
    tomorrow: input.tomorrow ?? true,
    quarterHourly: input.quarter_hourly ?? false,
    authStatus: input.auth_status ?? 401,
    pageLimit: input.page_limit ?? 744,
  };
}

// ---- time in the home's zone ----

const formatters = new Map();
function localParts(ms, zone) {
  if (!formatters.has(zone))
    formatters.set(zone, new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit',
    }));
  const parts = {};
  for (const { type, value } of formatters.get(zone).formatToParts(new Date(ms))) parts[type] = Number(value);
  const local = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  return { ...parts, offsetMinutes: Math.round((local - ms) / 60000) };
}

const pad = (n, width = 2) => String(n).padStart(width, '0');

// "2024-10-27T02:00:00.000+01:00", as Tibber writes times.
function localFormat(ms, zone) {
  const p = localParts(ms, zone);
  const sign = p.offsetMinutes < 0 ? '-' : '+';
  const offset = Math.abs(p.offsetMinutes);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}.000` +
    `${sign}${pad(Math.floor(offset / 60))}:${pad(offset % 60)}`;
}

// The UTC instant of local midnight starting the day (year, month, day) in zone.
function localMidnight(year, month, day, zone) {
  let guess = Date.UTC(year, month - 1, day);
  for (let i = 0; i < 3; i++) guess = Date.UTC(year, month - 1, day) - localParts(guess, zone).offsetMinutes * 60000;
  return guess;
}

// ---- data ----

const round = (value, digits) => Number(value.toFixed(digits));

function hourValues(ms) {
  const h = ms / HOUR;
  const consumption = round(0.2 + ((h * 7919) % 997) / 1000, 3);
  const unitPrice = round(0.25 + ((h * 104729) % 1000) / 10000, 4);
  return { consumption, cost: consumption * unitPrice, unitPrice, unitPriceVAT: round(unitPrice * 0.19 / 1.19, 4) };
}

function nodeAt(ms) {
  const current = Math.floor(scenario.now / HOUR) * HOUR;
  const values = hourValues(ms);
  const node = {
    from: localFormat(ms, scenario.zone),
    to: localFormat(ms + HOUR, scenario.zone),
    ...values,
  };
  if (ms > current - scenario.pendingHours * HOUR || scenario.nulls.has(ms)) {
    node.consumption = null;
    node.cost = null;
  }
  if (scenario.overrides.has(ms)) Object.assign(node, scenario.overrides.get(ms));
  return node;
}

// Every hour served, oldest first: [{ms, node}]; built once per scenario (catch-up tests page
// through years of hours).
let nodesCache = { scenario: null, nodes: [] };
function allNodes() {
  if (nodesCache.scenario === scenario) return nodesCache.nodes;
  const current = Math.floor(scenario.now / HOUR) * HOUR;
  const nodes = [];
  for (let ms = scenario.historyStart; ms <= current; ms += HOUR)
    if (!scenario.missing.has(ms)) nodes.push({ ms, node: nodeAt(ms) });
  nodesCache = { scenario, nodes };
  return nodes;
}

const cursorOf = (node) => Buffer.from(node.from).toString('base64');

// The other home's node of an hour (homes "two_subscribed"): other values, so that the data of
// the wrong home shows.
function otherNode(node) {
  if (node.consumption === null) return node;
  return { ...node, consumption: round(node.consumption + 1, 3), cost: (node.consumption + 1) * node.unitPrice };
}

function consumptionPage(last, before, home = HOME_ID) {
  const nodes = home === HOME_ID ? allNodes() : allNodes().map(({ ms, node }) => ({ ms, node: otherNode(node) }));
  let end = nodes.length;
  if (before !== undefined && before !== null) {
    const limit = Date.parse(Buffer.from(before, 'base64').toString());
    if (Number.isNaN(limit)) throw new GraphqlError(`invalid cursor ${before}`, 'BAD_USER_INPUT');
    end = nodes.findIndex((n) => n.ms >= limit);
    if (end < 0) end = nodes.length;
  }
  const start = Math.max(0, end - last);
  const page = nodes.slice(start, end).map((n) => n.node);
  return {
    pageInfo: {
      startCursor: page.length ? cursorOf(page[0]) : null,
      endCursor: page.length ? cursorOf(page[page.length - 1]) : null,
      hasPreviousPage: start > 0,
      hasNextPage: end < nodes.length,
      count: page.length,
    },
    nodes: page,
  };
}

function priceLevel(total) {
  return total < 0.22 ? 'VERY_CHEAP' : total < 0.26 ? 'CHEAP' : total < 0.32 ? 'NORMAL' : total < 0.36 ? 'EXPENSIVE' : 'VERY_EXPENSIVE';
}

function pricesOfDay(dayStart, dayEnd, stepMinutes) {
  const prices = [];
  for (let ms = dayStart; ms < dayEnd; ms += stepMinutes * 60000) {
    const slot = ms / 900000;
    const total = round(0.18 + ((slot * 31) % 200) / 1000, 4);
    const energy = round(total * 0.6, 4);
    prices.push({ startsAt: localFormat(ms, scenario.zone), total, energy, tax: round(total - energy, 4), currency: 'EUR', level: priceLevel(total) });
  }
  return prices;
}

function priceInfo(quarterHourlyAsked) {
  const step = quarterHourlyAsked && scenario.quarterHourly ? 15 : 60;
  const p = localParts(scenario.now, scenario.zone);
  const today = localMidnight(p.year, p.month, p.day, scenario.zone);
  const next = new Date(Date.UTC(p.year, p.month - 1, p.day + 1));
  const tomorrow = localMidnight(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), scenario.zone);
  const after = new Date(Date.UTC(p.year, p.month - 1, p.day + 2));
  const dayAfter = localMidnight(after.getUTCFullYear(), after.getUTCMonth() + 1, after.getUTCDate(), scenario.zone);
  return {
    today: pricesOfDay(today, tomorrow, step),
    tomorrow: scenario.tomorrow ? pricesOfDay(tomorrow, dayAfter, step) : [],
  };
}

class GraphqlError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

function homeObject(id, subscribed, last, before, quarterHourlyAsked, pricesAsked) {
  const home = { id };
  if (pricesAsked)
    home.currentSubscription = subscribed
      ? { priceInfo: scenario.homes === 'no_prices' ? null : priceInfo(quarterHourlyAsked) }
      : null;
  home.consumption = scenario.homes === 'no_consumption' || !subscribed ? null : consumptionPage(last, before, id);
  return home;
}

function answerQuery(body) {
  const query = String(body.query ?? '');
  const variables = body.variables ?? {};
  const last = Number(variables.last);
  if (!Number.isInteger(last) || last < 1) throw new GraphqlError('last: an Int of at least 1 is required', 'BAD_USER_INPUT');
  if (last > scenario.pageLimit) throw new GraphqlError(`last: at most ${scenario.pageLimit} nodes per page`, 'BAD_USER_INPUT');
  if (!/consumption\(resolution: HOURLY/.test(query)) throw new GraphqlError('consumption without resolution: HOURLY', 'BAD_USER_INPUT');
  const quarterHourlyAsked = /priceInfo\(resolution: QUARTER_HOURLY\)/.test(query);
  if (/\bhomes\s*\{/.test(query)) {
    const homes = [];
    if (scenario.homes === 'two' || scenario.homes === 'two_subscribed')
      homes.push(homeObject(OTHER_HOME_ID, scenario.homes === 'two_subscribed', last, null, quarterHourlyAsked, true));
    if (scenario.homes !== 'none')
      homes.push(homeObject(HOME_ID, scenario.homes !== 'no_subscription', last, null, quarterHourlyAsked, true));
    return { data: { viewer: { homes } } };
  }
  if (/\bhome\(id: \$home\)/.test(query)) {
    const other = scenario.homes === 'two_subscribed' && variables.home === OTHER_HOME_ID;
    if (variables.home !== HOME_ID && !other) return { data: { viewer: { home: null } } };
    if (typeof variables.before !== 'string') throw new GraphqlError('before: a String is required', 'BAD_USER_INPUT');
    return { data: { viewer: { home: homeObject(variables.home, true, last, variables.before, false, false) } } };
  }
  throw new GraphqlError('the fake does not know this query', 'GRAPHQL_VALIDATION_FAILED');
}

// ---- HTTP ----

function now() {
  return Math.round((performance.now() - started) * 1000) / 1000;
}

function bodyRead(request) {
  return new Promise((resolve) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString()));
  });
}

function jsonSend(response, status, value, headers = {}) {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  response.end(text);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function scriptNext() {
  if (script.length === 0) return { action: 'real' };
  const entry = script[0];
  if (entry.repeat !== -1 && --entry.repeat <= 0) script.shift();
  return entry;
}

function realAnswer(request, text, record) {
  const authorization = request.headers.authorization ?? '';
  record.authorized = authorization === `Bearer ${scenario.token}`;
  if (!record.authorized) {
    return {
      status: scenario.authStatus,
      body: { errors: [{ message: 'Context creation failed: invalid token', extensions: { code: 'UNAUTHENTICATED' } }], data: null },
    };
  }
  const windowStart = now() - 300000;
  if (records.filter((r) => r.time_ms >= windowStart).length > 100)
    return { status: 429, headers: { 'Retry-After': '60' }, body: { errors: [{ message: 'Too many requests' }] } };
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    return { status: 400, body: { errors: [{ message: 'the body is not JSON', extensions: { code: 'BAD_REQUEST' } }] } };
  }
  const variables = body.variables ?? {};
  record.kind = /\bhomes\s*\{/.test(String(body.query)) ? 'first' : 'page';
  record.last = variables.last ?? null;
  record.before = variables.before ?? null;
  record.home = variables.home ?? null;
  try {
    return { status: 200, body: answerQuery(body) };
  } catch (error) {
    if (!(error instanceof GraphqlError)) throw error;
    return { status: 200, body: { errors: [{ message: error.message, extensions: { code: error.code } }], data: null } };
  }
}

async function apiHandle(request, response) {
  const text = await bodyRead(request);
  const record = { seq: nextSeq++, time_ms: now(), kind: null, last: null, before: null, home: null, authorized: null, status: null, action: null };
  records.push(record);
  const entry = scriptNext();
  record.action = entry.action ?? 'answer';
  if (entry.delay_ms) await sleep(entry.delay_ms);
  if (record.action === 'hang') {
    setTimeout(() => response.destroy(), 60000).unref();
    return;
  }
  if (record.action === 'answer') {
    record.status = entry.status ?? 200;
    jsonSend(response, record.status, entry.body ?? '', entry.headers ?? {});
    return;
  }
  const answer = realAnswer(request, text, record);
  record.status = answer.status;
  if (record.action === 'truncate') {
    const full = JSON.stringify(answer.body);
    response.writeHead(answer.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(full) });
    response.write(full.slice(0, Math.floor(full.length / 2)));
    setTimeout(() => response.socket?.destroy(), 20);
    return;
  }
  jsonSend(response, answer.status, answer.body, answer.headers ?? {});
}

async function controlHandle(request, response, path) {
  if (request.method === 'POST' && path === '/_control/scenario') {
    try {
      scenario = scenarioParse(JSON.parse(await bodyRead(request)));
    } catch (error) {
      jsonSend(response, 400, { error: error.message });
      return;
    }
    records = [];
    script = [];
    jsonSend(response, 200, { ok: true });
  } else if (request.method === 'POST' && path === '/_control/script') {
    script = JSON.parse(await bodyRead(request)).map((entry) => ({ action: 'answer', repeat: 1, ...entry }));
    jsonSend(response, 200, { queued: script.length });
  } else if (request.method === 'POST' && path === '/_control/clear') {
    await bodyRead(request);
    records = [];
    jsonSend(response, 200, { ok: true });
  } else if (path === '/_control/requests') {
    jsonSend(response, 200, records);
  } else if (path === '/_control/nodes') {
    jsonSend(response, 200, allNodes().map(({ ms, node }) => ({ from_ms: ms, ...node })));
  } else if (path === '/_control/prices') {
    const info = priceInfo(true);
    jsonSend(response, 200, [...info.today, ...info.tomorrow].map((p) => ({ starts_ms: Date.parse(p.startsAt), ...p })));
  } else {
    jsonSend(response, 404, { error: `no ${request.method} ${path}` });
  }
}

const { values: options } = parseArgs({ options: { port: { type: 'string', default: '0' } } });
const server = createServer((request, response) => {
  const path = new URL(request.url, 'http://x').pathname;
  const handler = path.startsWith('/_control/') ? controlHandle(request, response, path) : apiHandle(request, response);
  handler.catch((error) => {
    console.error(error);
    if (!response.headersSent) jsonSend(response, 500, { error: String(error) });
  });
});
server.listen(Number(options.port), '127.0.0.1', () => {
  console.log(`listening http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
const parent = process.ppid;
setInterval(() => {
  try {
    process.kill(parent, 0);
  } catch {
    process.exit(0);
  }
}, 1000).unref();
