// Runs the real meter-relay for the client-library tests: a temp directory with the same minimal
// configuration tests/integration/relay_helpers.sh writes (listen 127.0.0.1:0, spool in DIR/spool,
// upstream that is never reached, stream off), the port read from the "listening" JSON log line,
// and `meter-relay spool-dump` parsed into records.
import { spawn, execFile } from 'node:child_process';
import { createServer, request } from 'node:http';
import { mkdtemp, mkdir, chmod, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Absolute path of the meter-relay under test: $BIN_DIR/meter-relay. */
export function relayBinary() {
  const binDir = process.env.BIN_DIR;
  if (!binDir) throw new Error('BIN_DIR is not set: run through tests/clients/run.sh or make check-clients');
  return join(binDir, 'meter-relay');
}

/**
 * Starts a relay in a fresh temp directory.
 * options.relayYaml: extra YAML lines, indented by two spaces, placed under `relay:`.
 * options.relayEnv: content of secrets/relay.env (written with mode 600) or undefined.
 * Returns { dir, spoolDir, url, port, stop(), dump(), remove() }.
 */
export async function relayStart(options = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'nebenkosten-clients-'));
  const secrets = join(dir, 'secrets');
  await mkdir(secrets, { mode: 0o700 });
  await chmod(secrets, 0o700);
  const config = [
    'influxdb:',
    '  url: http://127.0.0.1:9',
    'secrets_dir: secrets',
    'meters_config: meters.yaml',
    'seasonal_patterns_config: seasonal_patterns.yaml',
    'logging:',
    '  level: info',
    '  format: json',
    'relay:',
    '  listen: 127.0.0.1:0',
    '  spool:',
    '    dir: spool',
    ...(options.relayYaml ?? []),
    'stream:',
    '  enabled: false',
    '',
  ].join('\n');
  await writeFile(join(dir, 'config.yaml'), config);
  await writeFile(join(dir, 'meters.yaml'), '');
  await writeFile(join(dir, 'seasonal_patterns.yaml'), '');
  if (options.relayEnv !== undefined) {
    const envFile = join(secrets, 'relay.env');
    await writeFile(envFile, options.relayEnv, { mode: 0o600 });
    await chmod(envFile, 0o600);
  }

  // Credentials from the caller's environment must not leak into the relay under test.
  const env = { ...process.env };
  for (const name of ['RELAY_TOKENS', 'RELAY_USERS', 'INFLUX_TOKEN', 'INFLUX_ORG', 'INFLUX_USERNAME', 'INFLUX_PASSWORD'])
    delete env[name];
  const child = spawn(relayBinary(), ['run', '-c', join(dir, 'config.yaml')], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`meter-relay did not log "listening" within 10 s:\n${log}`)), 10000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      log += chunk;
      for (const line of log.split('\n')) {
        if (!line.includes('"listening"')) continue;
        try {
          const entry = JSON.parse(line);
          if (entry.msg === 'listening' && Number.isInteger(entry.port)) {
            clearTimeout(timer);
            resolve(entry.port);
            return;
          }
        } catch {
          // an incomplete line: the rest arrives with the next chunk
        }
      }
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`meter-relay exited (code ${code}, signal ${signal}) before listening:\n${log}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const response = await fetch(`${url}/ping`);
  if (response.status !== 204) throw new Error(`meter-relay /ping answered ${response.status}, expected 204`);

  let stopped;
  const relay = {
    dir,
    spoolDir: join(dir, 'spool'),
    url,
    port,
    log: () => log,
    /** SIGTERM, then waits; resolves to the exit code (0 for a clean shutdown). */
    stop() {
      if (!stopped) {
        child.kill('SIGTERM');
        stopped = exited.then(({ code, signal }) => (signal ? `signal ${signal}` : code));
      }
      return stopped;
    },
    /** Runs spool-dump on the spool and returns its records (see spoolDumpParse). */
    async dump() {
      const { stdout } = await execFileAsync(relayBinary(), ['spool-dump', relay.spoolDir]);
      return spoolDumpParse(stdout);
    },
    async remove() {
      await relay.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return relay;
}

/**
 * Parses `meter-relay spool-dump` output: "# seq=N db=.. rp=.. bucket=.. org=.. consumers=.."
 * routing lines, each followed by the record's line protocol. Returns
 * [{ seq, db, rp, bucket, org, consumers, lines: [string] }].
 */
export function spoolDumpParse(text) {
  const records = [];
  for (const line of text.split('\n')) {
    const routing = /^# seq=(\d+) db=(\S*) rp=(\S*) bucket=(\S*) org=(\S*) consumers=(\S*)$/.exec(line);
    if (routing) {
      const [, seq, db, rp, bucket, org, consumers] = routing;
      records.push({ seq: Number(seq), db, rp, bucket, org, consumers, lines: [] });
    } else if (line !== '') {
      if (records.length === 0) throw new Error(`spool-dump: line protocol before any routing line: ${line}`);
      records[records.length - 1].lines.push(line);
    }
  }
  return records;
}

/** Current time as a BigInt of nanoseconds since the epoch (for time windows). */
export function nowNanoseconds() {
  return BigInt(Date.now()) * 1000000n;
}

/**
 * A reverse proxy in front of targetUrl that records what clients send, so tests can assert on
 * headers the client library sets (Content-Encoding). Returns { url, requests, close() }, where
 * requests holds { method, path, headers, bodyBytes } per forwarded request.
 */
export async function recordingProxyStart(targetUrl) {
  const target = new URL(targetUrl);
  const requests = [];
  const server = createServer((incoming, outgoing) => {
    const record = { method: incoming.method, path: incoming.url, headers: { ...incoming.headers }, bodyBytes: 0 };
    requests.push(record);
    incoming.on('data', (chunk) => {
      record.bodyBytes += chunk.length;
    });
    const forwarded = request(
      { host: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: incoming.headers },
      (response) => {
        outgoing.writeHead(response.statusCode, response.headers);
        response.pipe(outgoing);
      },
    );
    forwarded.on('error', (error) => {
      outgoing.writeHead(502, { 'content-type': 'text/plain' });
      outgoing.end(`proxy: ${error.message}`);
    });
    incoming.pipe(forwarded);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}
