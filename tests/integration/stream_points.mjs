// The processed points in a `meter-relay spool-dump`: the records the stream processor appended
// (routing line ending in origin=stream), parsed from their line protocol.
import { readFileSync } from "node:fs";

// Splits text at the first unescaped separator outside double quotes.
function cut(text, separator, from = 0) {
  let quoted = false;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === "\\") i++;
    else if (c === '"') quoted = !quoted;
    else if (c === separator && !quoted) return i;
  }
  return -1;
}

function splitAll(text, separator) {
  const parts = [];
  let start = 0;
  for (let end; (end = cut(text, separator, start)) >= 0; start = end + 1) parts.push(text.slice(start, end));
  parts.push(text.slice(start));
  return parts;
}

const unescape = (text) => text.replace(/\\(.)/g, "$1");

// One line: { measurement, tags, fields, ns (BigInt), line }. Field values: numbers, or strings
// for quoted fields (unescaped), or BigInt for integers (suffix i).
export function pointParse(line) {
  const keyEnd = cut(line, " ");
  const timeStart = line.lastIndexOf(" ");
  if (keyEnd < 0 || timeStart <= keyEnd) throw new Error(`not a point with a timestamp: ${line}`);
  const [measurement, ...tagPairs] = splitAll(line.slice(0, keyEnd), ",");
  const tags = {};
  for (const pair of tagPairs) {
    const equals = cut(pair, "=");
    tags[unescape(pair.slice(0, equals))] = unescape(pair.slice(equals + 1));
  }
  const fields = {};
  for (const pair of splitAll(line.slice(keyEnd + 1, timeStart), ",")) {
    const equals = cut(pair, "=");
    const name = unescape(pair.slice(0, equals));
    const value = pair.slice(equals + 1);
    if (value.startsWith('"')) fields[name] = value.slice(1, -1).replace(/\\(["\\])/g, "$1");
    else if (value.endsWith("i")) fields[name] = BigInt(value.slice(0, -1));
    else fields[name] = Number(value);
  }
  return { measurement: unescape(measurement), tags, fields, ns: BigInt(line.slice(timeStart + 1)), line };
}

// The records of a spool dump: [{ header, routing: {seq, db, ...}, derived, lines: [...] }].
export function dumpRecords(dumpFile) {
  const records = [];
  for (const line of readFileSync(dumpFile, "utf8").split("\n")) {
    if (line.startsWith("# seq=")) {
      const routing = Object.fromEntries(
        line
          .slice(2)
          .split(" ")
          .map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]),
      );
      records.push({ header: line, routing, derived: routing.origin === "stream", lines: [] });
    } else if (line !== "") {
      if (records.length === 0) throw new Error(`${dumpFile}: a line before the first record`);
      records[records.length - 1].lines.push(line);
    }
  }
  return records;
}
