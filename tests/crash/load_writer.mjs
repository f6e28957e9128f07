// Load generator for the kill -9 test (tests/crash/kill_loop.sh). Several concurrent writers send
// uniquely numbered points `crash,writer=<w> n=<k>i <ns>` to meter-relay's /write and append the
// id "w k" of every point whose request got a 204 to the ack log, synchronously and only after
// the 204 arrived, so the log never claims more than the relay acknowledged.
// A request that failed with a connection error, a timeout or a 503 is retried with the same ids
// (the relay may have stored it before dying, so the spool may hold it twice: that is allowed).
// Any other status is a test failure (counted, reported, exit status 1).
//
// usage: node load_writer.mjs URL ACK_LOG [WRITERS] [MAX_POINTS_PER_REQUEST]
// SIGTERM: every writer finishes the attempt it has in flight, then the summary is printed as
// one JSON line on stdout and the process exits.
import fs from 'node:fs';
import http from 'node:http';

const [url, ackLog, writersArg = '8', maxPointsArg = '4'] = process.argv.slice(2);
if (!url || !ackLog) {
    process.stderr.write('usage: node load_writer.mjs URL ACK_LOG [WRITERS] [MAX_POINTS_PER_REQUEST]\n');
    process.exit(2);
}
const writerCount = Number(writersArg);
const maxPoints = Number(maxPointsArg);
const target = new URL('/write?db=crash&precision=ns', url);
const agent = new http.Agent({ keepAlive: true, maxSockets: writerCount });
const baseNs = 1700000000000000000n;

const stats = {
    requests_acknowledged: 0,
    points_acknowledged: 0,
    retries: 0,
    connection_errors: 0,
    status_503: 0,
    unexpected: 0,
};
let stopping = false;
process.on('SIGTERM', () => {
    stopping = true;
});

// postOnce sends one body; resolves { status } or { error } (never rejects).
function postOnce(body) {
    return new Promise((resolve) => {
        const request = http.request(
            target,
            {
                method: 'POST',
                agent,
                headers: { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) },
                timeout: 5000,
            },
            (response) => {
                const chunks = [];
                response.on('data', (chunk) => chunks.push(chunk));
                response.on('end', () =>
                    resolve({ status: response.statusCode, body: Buffer.concat(chunks).toString() }));
                response.on('error', (error) => resolve({ error }));
            },
        );
        request.on('timeout', () => request.destroy(new Error('timeout')));
        request.on('error', (error) => resolve({ error }));
        request.end(body);
    });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function runWriter(writer) {
    let next = 1;
    while (!stopping) {
        const count = 1 + Math.floor(Math.random() * maxPoints);
        const ids = [];
        let body = '';
        for (let i = 0; i < count; i++, next++) {
            ids.push(next);
            const ns = baseNs + BigInt(writer) * 1000000000000n + BigInt(next);
            body += `crash,writer=${writer} n=${next}i ${ns}\n`;
        }
        // Retry the same ids until acknowledged; on stop, give up (they were never acknowledged).
        for (;;) {
            const result = await postOnce(body);
            if (result.status === 204) {
                fs.appendFileSync(ackLog, ids.map((k) => `${writer} ${k}\n`).join(''));
                stats.requests_acknowledged++;
                stats.points_acknowledged += ids.length;
                break;
            }
            if (result.error) {
                stats.connection_errors++;
            } else if (result.status === 503) {
                stats.status_503++;
            } else {
                stats.unexpected++;
                process.stderr.write(`writer ${writer}: unexpected status ${result.status}: ${result.body}\n`);
            }
            if (stopping) {
                return;
            }
            stats.retries++;
            await sleep(20 + Math.floor(Math.random() * 30));
        }
    }
}

const writers = [];
for (let w = 1; w <= writerCount; w++) {
    writers.push(runWriter(w));
}
await Promise.all(writers);
agent.destroy();
process.stdout.write(JSON.stringify(stats) + '\n');
process.exit(stats.unexpected === 0 ? 0 : 1);
