// The two Flux answers meter-batch tibber reads from an InfluxDB 2.x, as annotated CSV (CRLF, one
// block per schema, as InfluxDB sends them), for the stand-in tests/integration/
// influxdb2_query_stub.mjs: what the raw bucket would hold after an earlier run.
//
//   node tests/tibber/flux_answers.mjs FAKE_URL OUT_DIR
//
// OUT_DIR/newest.csv: the newest energy point (2025-01-15T08:00:00Z) and the newest kWh reading
// (2025-01-14T00:00:00Z = 1000.5), in two tables. OUT_DIR/window.csv: the first two hours the fake
// serves before 2025-01-15T10:20:00Z (2025-01-13T11:00Z, 12:00Z) with all four fields as the fake
// has them, one table per field, and the first price of the fake with its five fields: so two
// hours and that price are unchanged, everything else is new.
import { writeFileSync } from 'node:fs';

const [fakeUrl, outDir] = process.argv.slice(2);
const get = async (path) => (await fetch(new URL(path, fakeUrl))).json();
const CRLF = '\r\n';

function block(datatypes, columns, rows) {
  return [`#datatype,string,long,${datatypes.join(',')}`, `#group,false,false,${datatypes.map(() => 'false').join(',')}`,
    `#default,_result,${','.repeat(datatypes.length)}`,
    `,result,table,${columns.join(',')}`, ...rows.map((row, i) => `,,${row.table ?? i},${row.values.join(',')}`)].join(CRLF) + CRLF + CRLF;
}

writeFileSync(`${outDir}/newest.csv`,
  block(['dateTime:RFC3339', 'double', 'string'], ['_time', '_value', '_measurement'], [
    { table: 0, values: ['2025-01-15T08:00:00Z', '0.5', 'energy'] },
  ]) +
  block(['dateTime:RFC3339', 'double', 'string'], ['_time', '_value', '_measurement'], [
    { table: 1, values: ['2025-01-14T00:00:00Z', '1000.5', 'kWh'] },
  ]));

const nodes = (await get('/_control/nodes')).filter((n) => n.from_ms >= Date.parse('2025-01-13T11:00:00Z')).slice(0, 2);
const prices = await get('/_control/prices');
let text = '';
let table = 0;
for (const [field, key] of [['consumption', 'consumption'], ['cost', 'cost'], ['unit_price', 'unitPrice'], ['unit_price_vat', 'unitPriceVAT']]) {
  text += block(['dateTime:RFC3339', 'double', 'string', 'string'], ['_time', '_value', '_field', '_measurement'],
    nodes.map((n) => ({ table, values: [new Date(n.from_ms).toISOString(), String(n[key]), field, 'energy'] })));
  table++;
}
const priceTime = new Date(prices[0].starts_ms).toISOString();
for (const field of ['total', 'energy', 'tax'])
  text += block(['dateTime:RFC3339', 'double', 'string', 'string'], ['_time', '_value', '_field', '_measurement'],
    [{ table: table++, values: [priceTime, String(prices[0][field]), field, 'electricity_price'] }]);
for (const field of ['currency', 'level'])
  text += block(['dateTime:RFC3339', 'string', 'string', 'string'], ['_time', '_value', '_field', '_measurement'],
    [{ table: table++, values: [priceTime, prices[0][field], field, 'electricity_price'] }]);
writeFileSync(`${outDir}/window.csv`, text);
