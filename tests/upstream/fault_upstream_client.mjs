// Starts tests/upstream/fault_upstream.mjs as a child process for node tests and wraps its
// control API (the entry and record formats are described at the top of fault_upstream.mjs).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SERVER = fileURLToPath(new URL('./fault_upstream.mjs', import.meta.url));

/**
 * Spawns the fake upstream on a free 127.0.0.1 port and waits until it listens.
 * Returns { url, script(entries), pending(), clear(), requests(), lines(), setDefault(entry), stop() };
 * stop() sends SIGTERM and resolves to the exit code (0 for a clean shutdown).
 */
export async function startFaultUpstream() {
  const child = spawn(process.execPath, [SERVER], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fault upstream did not listen within 10 s:\n${output}`)), 10000);
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
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`fault upstream exited (code ${code}, signal ${signal}) before listening:\n${output}`));
    });
  });

  async function control(method, path, value) {
    const response = await fetch(`${url}/_control/${path}`, {
      method,
      headers: value === undefined ? {} : { 'Content-Type': 'application/json' },
      body: value === undefined ? undefined : JSON.stringify(value),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(`fault upstream ${method} /_control/${path}: ${response.status} ${answer.error}`);
    return answer;
  }

  let stopped;
  return {
    url,
    script: (entries) => control('POST', 'script', entries),
    pending: () => control('GET', 'script'),
    clear: () => control('POST', 'clear'),
    requests: () => control('GET', 'requests'),
    lines: () => control('GET', 'lines'),
    setDefault: (entry) => control('POST', 'default', entry),
    stop() {
      if (!stopped) {
        child.kill('SIGTERM');
        stopped = exited.then(({ code, signal }) => (signal ? `signal ${signal}` : code));
      }
      return stopped;
    },
  };
}
