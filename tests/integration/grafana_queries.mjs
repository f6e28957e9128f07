// Runs every InfluxQL query of deploy/grafana (dashboard panels, the meter variable, the event
// annotation) the way Grafana's InfluxDB datasource does: macros replaced, GET <url>/query with
// db=<the datasource's dbName>&q=...&epoch=ms. Prints one line per query:
//   "<panel title> [<refId>]: <series> series, <rows> rows"  or  "... ERROR <message>"
// and exits 1 when a query fails or returns no row.
//
//   node grafana_queries.mjs DASHBOARD.json DATASOURCES.json RELAY_URL METER_FROM_MS METER_TO_MS HEALTH_FROM_MS HEALTH_TO_MS
//
// DATASOURCES.json is the provisioning YAML converted to JSON. Panels on the datasource
// "nebenkosten" use the meter range and $__interval 1d; the others (Telegraf) the health range
// and $__interval 30s. $meter is what Grafana sends for "All": every value of the variable's
// query, regex-escaped, as (a|b|c).
import { readFileSync } from "node:fs";

const [dashboardPath, datasourcesPath, relayUrl, meterFrom, meterTo, healthFrom, healthTo] = process.argv.slice(2);
if (!healthTo) {
  console.error("usage: node grafana_queries.mjs DASHBOARD.json DATASOURCES.json RELAY_URL METER_FROM_MS METER_TO_MS HEALTH_FROM_MS HEALTH_TO_MS");
  process.exit(2);
}
const dashboard = JSON.parse(readFileSync(dashboardPath, "utf8"));
const datasources = new Map(JSON.parse(readFileSync(datasourcesPath, "utf8")).datasources.map((d) => [d.uid, d]));

async function influxql(datasourceUid, query) {
  const datasource = datasources.get(datasourceUid);
  if (!datasource) throw new Error(`datasource ${datasourceUid} is not provisioned`);
  const url = new URL("/query", relayUrl);
  url.searchParams.set("db", datasource.jsonData.dbName);
  url.searchParams.set("q", query);
  url.searchParams.set("epoch", "ms");
  const response = await fetch(url);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${text.slice(0, 300)}`);
  const body = JSON.parse(text);
  const result = body.results?.[0];
  if (!result) throw new Error(`no result: ${text.slice(0, 300)}`);
  if (result.error) throw new Error(result.error);
  return result.series ?? [];
}

const regexEscape = (text) => text.replace(/[\\^$*+?.()|[\]{}\/]/g, (c) => `\\${c}`);

// The variable first: its values make $meter.
const variable = dashboard.templating.list.find((v) => v.name === "meter");
let failed = 0;
const lines = [];
let meterValues = [];
try {
  const series = await influxql(variable.datasource.uid, variable.query);
  meterValues = series.flatMap((s) => s.values.map((row) => row[1]));
  lines.push(`variable $meter: ${meterValues.length} values`);
  if (meterValues.length === 0) failed++;
} catch (error) {
  lines.push(`variable $meter: ERROR ${error.message}`);
  failed++;
}
const meterRegex = `(${meterValues.map(regexEscape).join("|")})`;

function render(query, datasourceUid) {
  const meterPanel = datasourceUid === "nebenkosten";
  const [from, to, interval] = meterPanel ? [meterFrom, meterTo, "1d"] : [healthFrom, healthTo, "30s"];
  return query
    .replaceAll("$timeFilter", `time >= ${from}ms and time <= ${to}ms`)
    .replaceAll("$__interval", interval)
    .replaceAll("$meter", meterRegex);
}

const queries = [];
for (const panel of dashboard.panels) {
  if (panel.type === "row") continue;
  for (const target of panel.targets) {
    const uid = (target.datasource ?? panel.datasource).uid;
    queries.push({ name: `${panel.title} [${target.refId}]`, uid, query: target.query });
  }
}
// Grafana maps an annotation's text and tags from the result's columns by name (textColumn,
// tagsColumn): a name that is no column of the result is an annotation without it.
for (const annotation of dashboard.annotations.list) {
  const mapped = [annotation.textColumn, ...(annotation.tagsColumn ?? "").split(",")].map((c) => c?.trim()).filter(Boolean);
  queries.push({ name: `annotation ${annotation.name}`, uid: annotation.datasource.uid, query: annotation.query, mapped });
}

for (const { name, uid, query, mapped = [] } of queries) {
  const rendered = render(query, uid);
  try {
    const series = await influxql(uid, rendered);
    // A row counts when it has a value beside the time column.
    const rows = series.reduce((n, s) => n + s.values.filter((row) => row.slice(1).some((v) => v !== null)).length, 0);
    lines.push(`${name}: ${series.length} series, ${rows} rows`);
    if (rows === 0) {
      failed++;
      lines.push(`    query: ${rendered}`);
    }
    const missing = mapped.filter((column) => !series.every((s) => s.columns.includes(column)));
    if (missing.length > 0) {
      failed++;
      lines.push(`    ERROR columns the annotation maps are not in the result: ${missing.join(", ")}`);
    }
  } catch (error) {
    lines.push(`${name}: ERROR ${error.message}`);
    lines.push(`    query: ${rendered}`);
    failed++;
  }
}
console.log(lines.join("\n"));
process.exit(failed === 0 ? 0 : 1);
