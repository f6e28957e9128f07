// What Telegraf's inputs.prometheus (metric_version = 2) writes for one scrape of a Prometheus
// text page: per sample one line in measurement "prometheus", the labels and url (and host) as
// tags, the metric name as the float field, the scrape time as timestamp. Reads the page from
// stdin, prints line protocol.
//
//   curl -s RELAY/metrics | node telegraf_prometheus.mjs URL HOST TIMESTAMP_NS
const [url, host, timestamp] = process.argv.slice(2);
if (!timestamp) {
  console.error("usage: node telegraf_prometheus.mjs URL HOST TIMESTAMP_NS < page");
  process.exit(2);
}
const tagEscape = (text) => text.replace(/[,= \\]/g, (c) => `\\${c}`);
let page = "";
process.stdin.on("data", (chunk) => (page += chunk));
process.stdin.on("end", () => {
  const out = [];
  for (const line of page.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample: ${line}`);
    const [, name, labelText, valueText] = match;
    const value = Number(valueText);
    if (!Number.isFinite(value)) continue; // Telegraf drops NaN and infinities
    const tags = { host, url };
    for (const [, key, raw] of (labelText ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      tags[key] = raw.replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    const tagText = Object.keys(tags)
      .sort()
      .map((key) => `${key}=${tagEscape(tags[key])}`)
      .join(",");
    out.push(`prometheus,${tagText} ${name}=${value} ${timestamp}`);
  }
  process.stdout.write(out.join("\n") + "\n");
});
