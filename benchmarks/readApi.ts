/**
 * The read API's cost to event handling (issue 24): the fan-out rate of custom events to 10 watcher
 * modules (each event commits two keys in every module) with no readers, with 2 readers looping over
 * `/keys` pages of one module, and with the same readers against a canned page (the control), in
 * rotated rounds (so every side shares the machine's load); and the
 * readers' own requests/s and p99. Readers run in a worker thread (their own event loop: an HTTP
 * client on the engine's thread would measure itself, not the API). Twice: readers paced as a
 * dashboard polls (each 20 requests/s), and readers as fast as they can go, which on a 2-core machine
 * take a core's worth of CPU from the engine whatever the API does: that row shows their ceiling.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { startConfigured } from '../src/app/startConfigured.ts';
import { EngineConfigSchema } from '../src/config/EngineConfig.ts';
import { DEFAULT_API } from '../src/limits/defaults.ts';
import { readApiHandler } from '../src/metrics/api/routes.ts';
import { inlineReader } from '../src/metrics/api/StateReader.ts';
import { EngineMetrics, serveMetrics } from '../src/metrics/EngineMetrics.ts';
import { summarize } from './stats.ts';

type Row = (name: string, value: string, target?: string, ok?: boolean | null) => void;

const MODULES = 10;
const EVENTS_PER_ROUND = 400;
const ROUNDS = 9;
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
  if (typeof cmd === 'number') return void (async () => { let cursor = null; for (let i = 0; i < cmd; i++) cursor = (await (await page(cursor)).json()).next; parentPort.postMessage('done'); })();
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
  /** Readers in their own thread, started and warmed (each pausing `intervalMs` between requests, 0: none). */
  const readers = async (intervalMs: number, options: { canned?: string; url?: string } = {}) => {
    const worker = new Worker(READERS, { eval: true, workerData: { url: options.url ?? configured.metrics!.url, token: TOKEN, readers: 2, intervalMs, canned: options.canned } });
    const next = () =>
      new Promise<unknown>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
    await next(); // 'ready': started and warmed, outside every round
    const requests: number[] = [];
    let readingMs = 0;
    const rates: number[] = [];
    return {
      requests,
      rates,
      readingMs: () => readingMs,
      /** One round of events while these readers read. */
      round: async () => {
        const done = next() as Promise<number[]>;
        worker.postMessage('start');
        const t = performance.now();
        rates.push(await round());
        worker.postMessage('stop');
        requests.push(...(await done));
        readingMs += performance.now() - t;
      },
      /**
       * The main thread's busy time (event-loop utilisation, wall clock) and the process's CPU per request
       * over `n` requests one after another, with no events: what each request itself costs.
       */
      cost: async (n: number) => {
        const done = next();
        const elu = performance.eventLoopUtilization();
        const cpu = process.cpuUsage();
        worker.postMessage(n);
        await done;
        const used = process.cpuUsage(cpu);
        return { mainMs: performance.eventLoopUtilization(elu).active / n, cpuMs: (used.user + used.system) / 1000 / n };
      },
      stop: () => worker.terminate(),
    };
  };
  const median = (xs: number[]) => summarize(xs).p50;
  /**
   * Rounds without readers and with each set of readers, rotated within every repetition so each side
   * meets the machine's load in every position: a separate run per side measured the load, not the API.
   */
  const compare = async (sides: Awaited<ReturnType<typeof readers>>[]) => {
    const bare: number[] = [];
    const order: (() => Promise<void>)[] = [async () => void bare.push(await round()), ...sides.map((side) => side.round)];
    for (let r = 0; r < ROUNDS; r++) for (let i = 0; i < order.length; i++) await order[(i + r) % order.length]!();
    return {
      bare,
      sides: sides.map((side) => ({
        rates: side.rates,
        ratio: median(side.rates) / median(bare),
        median: [median(bare), median(side.rates)],
        latencyMs: summarize(side.requests),
        requestsPerSecond: (side.requests.length * 1000) / side.readingMs(),
      })),
    };
  };
  try {
    await round(); // warm: instances, and keys for the readers to page over
    // The control: the same readers against a canned copy of a page served off the engine's thread: what
    // readers cost a 2-core machine whatever serves them (their fetches, their JSON), beside what the API adds.
    const sample = await (await fetch(`${configured.metrics!.url}/v1/modules/m0/keys?limit=100`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    // The same API reading on the main thread (as it did before the read thread), on a second listener.
    const collector = new EngineMetrics(engine);
    const inline = await serveMetrics(collector, '127.0.0.1:0', readApiHandler(engine, { ...DEFAULT_API, token: TOKEN, allowRemote: false }, inlineReader(() => engine.readView())));
    const sides = [await readers(50), await readers(50, { canned: sample }), await readers(50, { url: inline.url })];
    let measured: Awaited<ReturnType<typeof compare>>;
    const costs: { mainMs: number; cpuMs: number }[][] = [[], [], []];
    try {
      // Per-request costs without events, in rotated rounds too.
      for (let r = 0; r < 5; r++) for (let i = 0; i < sides.length; i++) costs[(i + r) % sides.length]!.push(await sides[(i + r) % sides.length]!.cost(100));
      measured = await compare(sides);
    } finally {
      await Promise.all(sides.map((side) => side.stop()));
      await inline.close();
      collector.close();
    }
    const fast = await readers(0);
    let flat: Awaited<ReturnType<typeof compare>>;
    try {
      flat = await compare([fast]);
    } finally {
      await fast.stop();
    }
    const [paced, control, onMain] = measured.sides as [(typeof measured.sides)[0], (typeof measured.sides)[0], (typeof measured.sides)[0]];
    const asFast = flat.sides[0]!;
    const slower = (r: { ratio: number }) => `${((1 - r.ratio) * 100).toFixed(1)} % slower`;
    const rate = (r: { median: number[] }) => `${Math.round(r.median[0]!).toLocaleString('en')} / ${Math.round(r.median[1]!).toLocaleString('en')} events/s`;
    // What the API itself costs events: the paced readers' slowdown beyond the control's.
    const api = control.ratio - paced.ratio;
    row(`read API: fan-out (10 modules) without / with 2 readers at 20 requests/s each, median of ${ROUNDS} rotated rounds`, `${rate(paced)} (${slower(paced)})`);
    row("read API: control, the same readers against a canned page served off the engine's thread, same rounds", `${rate(control)} (${slower(control)}): the readers' own share on this machine`);
    row('read API: the same readers with the API reading on the main thread (no read thread), same rounds', `${rate(onMain)} (${slower(onMain)}); requests p50 / p99 ${onMain.latencyMs.p50.toFixed(2)} / ${onMain.latencyMs.p99.toFixed(2)} ms`);
    const cost = (side: number) => ({ mainMs: median(costs[side]!.map((c) => c.mainMs)), cpuMs: median(costs[side]!.map((c) => c.cpuMs)) });
    const [threadCost, cannedCost, mainCost] = [cost(0), cost(1), cost(2)];
    row(
      'read API: per /keys page of 100 (no events, 5 rotated runs of 100, medians): main-thread busy ms with the read thread / reading on the main thread; process CPU ms beyond the control\'s',
      `${threadCost.mainMs.toFixed(2)} / ${mainCost.mainMs.toFixed(2)} ms (control ${cannedCost.mainMs.toFixed(2)}); CPU ${(threadCost.cpuMs - cannedCost.cpuMs).toFixed(2)} / ${(mainCost.cpuMs - cannedCost.cpuMs).toFixed(2)} ms`,
    );
    row('read API: what the API adds to the readers\' own cost (paced − control)', `${(api * 100).toFixed(1)} % of the fan-out`, '≤ 5 %', api <= 0.05);
    row('read API: the same with 2 readers as fast as they go', `${rate(asFast)} (${slower(asFast)})`);
    for (const [name, r] of [['paced', paced], ['as fast as they go', asFast]] as const) {
      row(`read API: 2 readers (${name}) over /keys pages of 100, requests/s and p50 / p99`, `${Math.round(r.requestsPerSecond).toLocaleString('en')}/s, ${r.latencyMs.p50.toFixed(2)} / ${r.latencyMs.p99.toFixed(2)} ms`);
    }
    return { costs: { readThread: threadCost, control: cannedCost, onMainThread: mainCost }, bare: measured.bare, paced, control, onMainThread: onMain, asFastAsTheyGo: { bare: flat.bare, ...asFast } };
  } finally {
    await configured.stop();
  }
}
