/**
 * The read API's cost to event handling (issue 24): the fan-out rate of custom events to 10 watcher
 * modules (each event commits two keys in every module) with no readers, and with 2 readers looping over
 * `/keys` pages of one module, in interleaved rounds (so both sides share the machine's load); and the
 * readers' own requests/s and p99. Readers run in a worker thread (their own event loop: an HTTP
 * client on the engine's thread would measure itself, not the API). Twice: readers paced as a
 * dashboard polls (each 20 requests/s), and readers as fast as they can go, which on a 2-core machine
 * take a core's worth of CPU from the engine whatever the API does: that row shows their ceiling.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { startConfigured } from '../src/app/startConfigured.ts';
import { EngineConfigSchema } from '../src/config/EngineConfig.ts';
import { summarize } from './stats.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;

const MODULES = 10;
const EVENTS_PER_ROUND = 400;
const ROUNDS = 7;
const TOKEN = 'bench-token';

/**
 * Readers in one worker thread, started once per comparison and warmed by one request (a worker's
 * start and its first `fetch`, which loads undici, cost tens of ms of CPU: inside a round they were
 * most of what the readers seemed to cost). Each 'start' runs `readers` loops over pages until 'stop',
 * then posts each request's ms.
 */
const READERS = `
const { parentPort, workerData } = require('node:worker_threads');
let stop = true;
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let url = workerData.url;
const page = (cursor) => fetch(url + '/v1/modules/m0/keys?limit=100' + (cursor ? '&cursor=' + cursor : ''), { headers: { authorization: 'Bearer ' + workerData.token } });
async function reader() {
  const samples = [];
  let cursor = null;
  while (!stop) {
    const t = performance.now();
    const r = await page(cursor);
    const body = await r.json();
    if (r.status !== 200 && r.status !== 503) throw new Error(JSON.stringify(body));
    samples.push(performance.now() - t);
    cursor = r.status === 200 ? body.next : cursor;
    if (workerData.intervalMs > 0) await pause(workerData.intervalMs - (performance.now() - t));
  }
  return samples;
}
parentPort.on('message', (cmd) => {
  if (cmd === 'stop') return void (stop = true);
  stop = false;
  Promise.all(Array.from({ length: workerData.readers }, reader)).then((all) => parentPort.postMessage(all.flat()));
});
// The control: a canned page served from this thread, so every cost of the readers is theirs, none the engine's.
const canned = workerData.canned === undefined ? Promise.resolve() : new Promise((resolve) => {
  const server = require('node:http').createServer((req, res) => { res.setHeader('content-type', 'application/json'); res.end(workerData.canned); });
  server.listen(0, '127.0.0.1', () => { url = 'http://127.0.0.1:' + server.address().port; server.unref(); resolve(); });
});
canned.then(() => page(null)).then((r) => r.json()).then(() => parentPort.postMessage('ready'));
`;

export async function benchReadApi(fixture: (name: string) => string, row: Row): Promise<Record<string, unknown>> {
  const configured = await startConfigured(
    EngineConfigSchema.parse({
      engine: { stateDir: mkdtempSync(join(tmpdir(), 'corral-bench-api-')), logLevel: 'silent', metrics: '127.0.0.1:0', api: { enabled: true } },
      modules: Array.from({ length: MODULES }, (_, i) => ({ name: `m${i}`, component: fixture('watcher'), grants: { store: true, logging: true }, topics: ['t'], limits: { fuel: 1e10, timeoutMs: 5_000 } })),
    }),
    { env: { CORRAL_API_TOKEN: TOKEN } },
  );
  const { engine } = configured;
  const names = Array.from({ length: MODULES }, (_, i) => `m${i}`);
  /** Events to every module per second over one round. */
  const round = async () => {
    const t = performance.now();
    for (let i = 0; i < EVENTS_PER_ROUND; i++) await engine.publish('t', 'x');
    await Promise.all(names.map((n) => engine.settled(n)));
    return (EVENTS_PER_ROUND * MODULES * 1000) / (performance.now() - t);
  };
  /** Interleaved rounds without and with readers (each pausing `intervalMs` between requests, 0: none). */
  const compare = async (intervalMs: number, canned?: string) => {
    const bare: number[] = [];
    const read: number[] = [];
    const requests: number[] = [];
    let readingMs = 0;
    const worker = new Worker(READERS, { eval: true, workerData: { url: configured.metrics!.url, token: TOKEN, readers: 2, intervalMs, canned } });
    const next = () =>
      new Promise<unknown>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
    await next(); // 'ready': started and warmed, outside every round
    try {
      for (let r = 0; r < ROUNDS; r++) {
        bare.push(await round());
        const done = next() as Promise<number[]>;
        worker.postMessage('start');
        const t = performance.now();
        read.push(await round());
        worker.postMessage('stop');
        requests.push(...(await done));
        readingMs += performance.now() - t;
      }
    } finally {
      await worker.terminate();
    }
    const median = (xs: number[]) => summarize(xs).p50;
    return { bare, withReaders: read, ratio: median(read) / median(bare), median: [median(bare), median(read)], latencyMs: summarize(requests), requestsPerSecond: (requests.length * 1000) / readingMs };
  };
  try {
    await round(); // warm: instances, and keys for the readers to page over
    const paced = await compare(50);
    // The same readers against a canned copy of a page served off the engine's thread: what readers cost
    // a 2-core machine whatever serves them (their fetches, their JSON), beside what the API adds.
    const sample = await (await fetch(`${configured.metrics!.url}/v1/modules/m0/keys?limit=100`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    const control = await compare(50, sample);
    const flat = await compare(0);
    const slower = (r: { ratio: number }) => `${((1 - r.ratio) * 100).toFixed(1)} % slower`;
    const rate = (r: { median: number[] }) => `${Math.round(r.median[0]!).toLocaleString('en')} / ${Math.round(r.median[1]!).toLocaleString('en')} events/s`;
    row('read API: fan-out (10 modules) without / with 2 readers at 20 requests/s each, median of 7 interleaved rounds', `${rate(paced)} (${slower(paced)})`, '≤ 5 % slower', paced.ratio >= 0.95);
    row('read API: control, the same readers against a canned page served off the engine\'s thread', `${rate(control)} (${slower(control)}): the readers' own share on this machine`);
    row('read API: the same with 2 readers as fast as they go', `${rate(flat)} (${slower(flat)})`);
    for (const [name, r] of [['paced', paced], ['as fast as they go', flat]] as const) {
      row(`read API: 2 readers (${name}) over /keys pages of 100, requests/s and p50 / p99`, `${Math.round(r.requestsPerSecond).toLocaleString('en')}/s, ${r.latencyMs.p50.toFixed(2)} / ${r.latencyMs.p99.toFixed(2)} ms`);
    }
    return { paced, control, asFastAsTheyGo: flat };
  } finally {
    await configured.stop();
  }
}
