// A real InfluxDB 1.x for the client tests, started by influxdb_server.sh (which uses
// tests/integration/servers.sh) in a temp directory on a free 127.0.0.1 port.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SERVER = fileURLToPath(new URL('./influxdb_server.sh', import.meta.url));

/**
 * Starts influxd and waits until it answers (servers.sh gives it 30 s).
 * Returns { url, execute(statement), series(db, statement), stop() }: execute runs a statement
 * that changes InfluxDB and throws on an error; series runs a query with epoch=ns and returns
 * the first result's series ([] when empty), integers of 16 digits or more (the ns times) as
 * strings so that no digit is lost; stop() stops influxd and removes its directory.
 */
export async function influxdbStart() {
  const dir = await mkdtemp(join(tmpdir(), 'nebenkosten-influxdb-'));
  // stdin stays open: influxdb_server.sh stops InfluxDB when it closes, also if this process dies.
  const child = spawn('bash', [SERVER, join(dir, 'influxdb')], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let output = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`InfluxDB did not start within 40 s:\n${output}`)), 40000);
    const collect = (chunk) => {
      output += chunk;
      const match = /^listening (http:\/\/127\.0\.0\.1:\d+)$/m.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.setEncoding('utf8').on('data', collect);
    child.stderr.setEncoding('utf8').on('data', collect);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`influxdb_server.sh exited (code ${code}, signal ${signal}) before InfluxDB answered:\n${output}`));
    });
  });

  let stopped;
  return {
    url,
    async execute(statement) {
      const response = await fetch(`${url}/query`, { method: 'POST', body: new URLSearchParams({ q: statement }) });
      const answer = await response.text();
      if (!response.ok || answer.includes('"error"')) throw new Error(`InfluxDB: ${statement}: ${response.status} ${answer}`);
    },
    async series(db, statement) {
      const response = await fetch(`${url}/query?${new URLSearchParams({ db, epoch: 'ns', q: statement })}`);
      // A JSON number keeps 15-16 digits; ns times have 19, so they become strings first.
      const answer = JSON.parse((await response.text()).replace(/([[,])(-?\d{16,})(?=[,\]])/g, '$1"$2"'));
      if (!response.ok || answer.results?.[0]?.error)
        throw new Error(`InfluxDB: ${statement}: ${response.status} ${JSON.stringify(answer)}`);
      return answer.results[0].series ?? [];
    },
    stop() {
      if (!stopped) {
        child.stdin.end();
        stopped = exited.then(() => rm(dir, { recursive: true, force: true }));
      }
      return stopped;
    },
  };
}
